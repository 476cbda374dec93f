package main

// What the tests of the binary share beside the server itself (in
// run_test.go): its environment, the command line run in-process, and the
// calls a client makes of a running server.

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/quizsite/discuss/service/dbtest"
)

// testSecret signs the tokens of every server the tests start: 32 bytes,
// the least auth.secret takes.
const testSecret = "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"

// poll calls cond every 20 ms until it holds or within passes, and
// reports whether it held.
func poll(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
	return true
}

// eventually polls check until it returns nil, and fails the test with its
// last error when within passes first.
func eventually(t *testing.T, within time.Duration, check func() error) {
	t.Helper()
	var err error
	if !poll(within, func() bool { err = check(); return err == nil }) {
		t.Fatalf("after %v: %v", within, err)
	}
}

// needMySQL skips the test unless a MySQL server is configured.
func needMySQL(t *testing.T) {
	t.Helper()
	if dbtest.MySQLRootDSN(t) == "" {
		t.Skip("needs MySQL: set DISCUSS_TEST_MYSQL_DSN")
	}
}

// onRedis returns env with its broker on Redis, on a channel of the test's
// own, and Redis's address, for instances that share a database: it skips
// the test unless MySQL and Redis are both configured.
func onRedis(t *testing.T, env map[string]string) (map[string]string, string) {
	t.Helper()
	needMySQL(t)
	addr, channel := dbtest.Redis(t)
	env["DISCUSS_BROKER_KIND"] = "redis"
	env["DISCUSS_BROKER_REDIS_ADDR"] = addr
	env["DISCUSS_BROKER_CHANNEL"] = channel
	return env, addr
}

// serveEnv is the environment of a server on db, which it migrates at
// start, with extra on top.
func serveEnv(db *dbtest.DB, extra map[string]string) map[string]string {
	env := map[string]string{
		"DISCUSS_DATABASE_DRIVER":       db.Driver,
		"DISCUSS_DATABASE_DSN":          db.DSN,
		"DISCUSS_DATABASE_AUTO_MIGRATE": "true",
		"DISCUSS_AUTH_SECRET":           testSecret,
		"DISCUSS_AUTH_BCRYPT_COST":      "4",
		"DISCUSS_LOG_LEVEL":             "warn",
	}
	maps.Copy(env, extra)
	return env
}

// discuss runs the command line args with env as main does, in the
// test's process, and returns what it printed on standard output and
// standard error.
func discuss(env map[string]string, args ...string) (stdout, stderr string, err error) {
	var out, errOut dbtest.SyncBuffer
	err = run(context.Background(), args, envOf(env), &out, &errOut)
	return out.String(), errOut.String(), err
}

// serveFails runs serve with env, which must give up by itself within
// 20 s with an error naming want, having closed what it opened: nothing is
// left listening on its address. It returns the error.
func serveFails(t *testing.T, env map[string]string, want string) error {
	t.Helper()
	if env["DISCUSS_SERVER_ADDR"] == "" {
		env["DISCUSS_SERVER_ADDR"] = freeAddr(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var stderr dbtest.SyncBuffer
	err := run(ctx, []string{"serve"}, envOf(env), &dbtest.SyncBuffer{}, &stderr)
	if ctx.Err() != nil || err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("serve returned %v (context: %v), want an error naming %q\n%s", err, ctx.Err(), want, &stderr)
	}
	ln, lnErr := net.Listen("tcp", env["DISCUSS_SERVER_ADDR"])
	if lnErr != nil {
		t.Fatalf("serve left its address taken: %v", lnErr)
	}
	_ = ln.Close()
	return err
}

// create POSTs body to path as token, which must answer 201, and returns
// the id of what it created.
func (s *server) create(t *testing.T, token, path string, body any) int64 {
	t.Helper()
	var created struct {
		ID int64 `json:"id"`
	}
	if code := s.call(t, "POST", path, token, body, &created); code != http.StatusCreated {
		t.Fatalf("POST %s: %d", path, code)
	}
	return created.ID
}

// createPost writes a post as token and returns its id.
func (s *server) createPost(t *testing.T, token, title, body string) int64 {
	t.Helper()
	return s.create(t, token, "/api/v1/posts", map[string]string{"title": title, "body": body})
}

// comment comments body on post postID as token and returns its id.
func (s *server) comment(t *testing.T, token string, postID int64, body string) int64 {
	t.Helper()
	return s.create(t, token, fmt.Sprintf("/api/v1/posts/%d/comments", postID), map[string]string{"body": body})
}

// replyTo replies body to comment parent of post postID as token and
// returns the reply's id.
func (s *server) replyTo(t *testing.T, token string, postID, parent int64, body string) int64 {
	t.Helper()
	return s.create(t, token, fmt.Sprintf("/api/v1/posts/%d/comments", postID), map[string]any{"body": body, "parent_id": parent})
}

// registerUser signs up a user on s and returns its token and id.
func registerUser(t *testing.T, s *server, name string) (string, int64) {
	t.Helper()
	var reg struct {
		Token string `json:"token"`
		User  struct {
			ID int64 `json:"id"`
		} `json:"user"`
	}
	if code := s.call(t, "POST", "/api/v1/auth/register", "", map[string]string{"username": name, "password": "password123"}, &reg); code != 201 {
		t.Fatalf("register %s: %d", name, code)
	}
	return reg.Token, reg.User.ID
}

// withUserPassword returns env with the password `user create` reads
// from DISCUSS_USER_PASSWORD.
func withUserPassword(env map[string]string, password string) map[string]string {
	env = maps.Clone(env)
	env[userPasswordEnv] = password
	return env
}

// createAdmin makes the admin root with `discuss user create` and returns
// its token from a login through s.
func createAdmin(t *testing.T, s *server, env map[string]string) string {
	t.Helper()
	if stdout, stderr, err := discuss(withUserPassword(env, "password123"), "user", "create", "--username", "root", "--role", "admin"); err != nil {
		t.Fatalf("user create: %v\n%s%s", err, stdout, stderr)
	}
	var login struct {
		Token string `json:"token"`
	}
	if code := s.call(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "root", "password": "password123"}, &login); code != http.StatusOK {
		t.Fatalf("admin login: %d", code)
	}
	return login.Token
}

// waitSockets polls the admin API until the server holds want sockets.
func waitSockets(t *testing.T, s *server, adminToken string, want int) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		var online struct {
			Connections int `json:"connections"`
		}
		if code := s.call(t, "GET", "/api/v1/admin/online", adminToken, nil, &online); code != http.StatusOK {
			t.Fatalf("admin/online: %d", code)
		}
		if online.Connections != want {
			return fmt.Errorf("the server holds %d sockets, want %d", online.Connections, want)
		}
		return nil
	})
}

// wsURL is the address of the socket endpoint of the server at base.
func wsURL(base, token string) string {
	return "ws" + strings.TrimPrefix(base, "http") + "/ws?token=" + token
}

// dialHello opens a socket on s and reads its hello frame.
func dialHello(t *testing.T, s *server, token string) *websocket.Conn {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(wsURL(s.base, token), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var hello struct {
		Type string `json:"type"`
	}
	if err := conn.ReadJSON(&hello); err != nil || hello.Type != "hello" {
		t.Fatalf("hello: %+v %v", hello, err)
	}
	return conn
}

// pingPong sends an app-level ping and waits for its pong.
func pingPong(t *testing.T, conn *websocket.Conn) {
	t.Helper()
	if err := conn.WriteJSON(map[string]string{"type": "ping"}); err != nil {
		t.Fatalf("socket closed: %v", err)
	}
	var f struct {
		Type string `json:"type"`
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := conn.ReadJSON(&f); err != nil || f.Type != "pong" {
		t.Fatalf("pong: %+v %v", f, err)
	}
}
