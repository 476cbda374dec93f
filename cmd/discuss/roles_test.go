package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/quizsite/discuss/service/dbtest"
)

// Users a token names are cached for auth.user_cache_ttl; a role change
// through the API must still apply at once, on the instance that made it
// and on every other. The cache is set to its longest (1m) so that only
// the change's announcement, not expiry, can make the new role apply.

// roleEnv is a server's environment with the user cache at its longest.
func roleEnv(env map[string]string) map[string]string {
	env["DISCUSS_AUTH_USER_CACHE_TTL"] = "1m"
	env["DISCUSS_LIMITS_LOGIN_PER_MINUTE"] = "1000"
	return env
}

// createAdmin makes the admin root with `discuss user create` and returns
// its token from a login through s.
func createAdmin(t *testing.T, s *server, env map[string]string) string {
	t.Helper()
	var out dbtest.SyncBuffer
	if err := run(context.Background(), []string{"user", "create", "--username", "root", "--role", "admin"}, envOf(withUserPassword(env, "password123")), &out, &out); err != nil {
		t.Fatalf("user create: %v\n%s", err, out.String())
	}
	var login struct {
		Token string `json:"token"`
	}
	if code := s.call(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "root", "password": "password123"}, &login); code != http.StatusOK {
		t.Fatalf("admin login: %d", code)
	}
	return login.Token
}

// awaitStatus calls GET path on s as token until it answers want, failing
// the test after within: far less than the cache's minute.
func awaitStatus(t *testing.T, s *server, token, path string, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		code := s.call(t, "GET", path, token, nil, nil)
		if code == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s answered %d %s after the role change, want %d", path, code, within, want)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

// checkRoleChanges has the admin promote and demote carol through a while
// carol calls an admin route through b, which has her cached each time.
func checkRoleChanges(t *testing.T, a, b *server, adminToken string) {
	carolToken, carolID := registerUser(t, a, "carol")
	setRole := func(role string) {
		path := fmt.Sprintf("/api/v1/admin/users/%d", carolID)
		if code := a.call(t, "PATCH", path, adminToken, map[string]string{"role": role}, nil); code != http.StatusOK {
			t.Fatalf("PATCH role %s: %d", role, code)
		}
	}
	if code := b.call(t, "GET", "/api/v1/admin/online", carolToken, nil, nil); code != http.StatusForbidden {
		t.Fatalf("carol as a user: %d, want 403", code)
	}
	setRole("admin")
	awaitStatus(t, b, carolToken, "/api/v1/admin/online", http.StatusOK, 5*time.Second)
	setRole("user")
	awaitStatus(t, b, carolToken, "/api/v1/admin/online", http.StatusForbidden, 5*time.Second)
}

func TestRoleChangeAppliesAtOnce(t *testing.T) {
	env := roleEnv(databaseEnv(t))
	s := startServe(t, env)
	checkRoleChanges(t, s, s, createAdmin(t, s, env))
}

func TestRoleChangeAppliesOnEveryInstance(t *testing.T) {
	redisAddr := os.Getenv("DISCUSS_TEST_REDIS_ADDR")
	if redisAddr == "" || dbtest.MySQLRootDSN(t) == "" {
		t.Skip("needs MySQL and Redis: set DISCUSS_TEST_MYSQL_DSN and DISCUSS_TEST_REDIS_ADDR")
	}
	env := roleEnv(databaseEnv(t))
	env["DISCUSS_BROKER_KIND"] = "redis"
	env["DISCUSS_BROKER_REDIS_ADDR"] = redisAddr
	env["DISCUSS_BROKER_CHANNEL"] = "discuss_test_roles_" + fmt.Sprint(time.Now().UnixNano())
	envB := map[string]string{}
	for k, v := range env {
		if !strings.HasPrefix(k, "DISCUSS_SERVER_") {
			envB[k] = v
		}
	}
	a := startServe(t, env)
	b := startServe(t, envB)
	checkRoleChanges(t, a, b, createAdmin(t, a, env))
}
