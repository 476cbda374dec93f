package main

import (
	"fmt"
	"maps"
	"net/http"
	"testing"
	"time"
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

// awaitStatus calls GET path on s as token until it answers want, failing
// the test after within: far less than the cache's minute.
func awaitStatus(t *testing.T, s *server, token, path string, want int, within time.Duration) {
	t.Helper()
	eventually(t, within, func() error {
		if code := s.call(t, "GET", path, token, nil, nil); code != want {
			return fmt.Errorf("GET %s answered %d after the role change, want %d", path, code, want)
		}
		return nil
	})
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
	env, _ := onRedis(t, roleEnv(databaseEnv(t)))
	envB := maps.Clone(env) // before a records its address in env
	a := startServe(t, env)
	b := startServe(t, envB)
	checkRoleChanges(t, a, b, createAdmin(t, a, env))
}
