package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/gorilla/websocket"

	"github.com/quizsite/discuss/service/dbtest"
)

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

// wsURL is the address of the socket endpoint of the server at base.
func wsURL(base, token string) string {
	return "ws" + strings.TrimPrefix(base, "http") + "/ws?token=" + token
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

// TestDatabaseOutage cuts MySQL off through a proxy while the server runs:
// REST answers 503 unavailable and /readyz 503, open sockets stay open, and
// everything works again once the database is back, without a restart.
func TestDatabaseOutage(t *testing.T) {
	root := dbtest.MySQLRootDSN(t)
	if root == "" {
		t.Skip("needs MySQL: set DISCUSS_TEST_MYSQL_DSN")
	}
	db := dbtest.Open(t)
	cfg, err := mysql.ParseDSN(db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	proxy := dbtest.NewProxy(t, cfg.Addr)
	cfg.Addr = proxy.Addr()
	env := map[string]string{
		"DISCUSS_DATABASE_DRIVER":         "mysql",
		"DISCUSS_DATABASE_DSN":            cfg.FormatDSN(),
		"DISCUSS_AUTH_SECRET":             strings.Repeat("k", 32),
		"DISCUSS_AUTH_BCRYPT_COST":        "4",
		"DISCUSS_LOG_LEVEL":               "error",
		"DISCUSS_WEBSOCKET_PING_INTERVAL": "1s",
		"DISCUSS_WEBSOCKET_PONG_TIMEOUT":  "3s",
	}
	s := startServe(t, env)
	token, _ := registerUser(t, s, "alice")
	conn := dialHello(t, s, token)
	// The hub reads frames only once the connect-time replay is done, so a
	// pong says the socket no longer needs the database.
	pingPong(t, conn)

	proxy.Cut()
	var body struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if code := s.call(t, "GET", "/api/v1/me", token, nil, &body); code != 503 || body.Error.Code != "unavailable" {
		t.Fatalf("me with the database cut: %d %+v", code, body)
	}
	if code := s.call(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "alice", "password": "password123"}, &body); code != 503 || body.Error.Code != "unavailable" {
		t.Fatalf("login with the database cut: %d %+v", code, body)
	}
	if code := s.call(t, "GET", "/readyz", "", nil, nil); code != 503 {
		t.Fatalf("readyz with the database cut: %d", code)
	}
	if code := s.call(t, "GET", "/healthz", "", nil, nil); code != 200 {
		t.Fatalf("healthz with the database cut: %d", code)
	}
	// The socket stays open: app-level pings are answered throughout.
	for range 3 {
		pingPong(t, conn)
	}

	proxy.Restore()
	deadline := time.Now().Add(15 * time.Second)
	for s.call(t, "GET", "/readyz", "", nil, nil) != 200 {
		if time.Now().After(deadline) {
			t.Fatal("/readyz not 200 within 15s of the database coming back")
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
	if code := s.call(t, "GET", "/api/v1/me", token, nil, nil); code != 200 {
		t.Fatalf("me after the database came back: %d", code)
	}
	registerUser(t, s, "bob")
}

// TestGracefulShutdown stops the server while requests are under way and
// sockets are open: every request gets a whole answer, and every socket is
// closed with 1001 (going away).
func TestGracefulShutdown(t *testing.T) {
	env := databaseEnv(t)
	env["DISCUSS_AUTH_BCRYPT_COST"] = "10"
	env["DISCUSS_LIMITS_LOGIN_PER_MINUTE"] = "1000000"
	s := startServe(t, env)
	token, _ := registerUser(t, s, "alice")
	// Each socket is read until it ends, which also answers the server's
	// close frame as a browser would.
	closed := make(chan error, 5)
	for range cap(closed) {
		conn := dialHello(t, s, token)
		go func() {
			// A bound for a server that never closes the socket, not a
			// measure: on a busy machine the logins before the stop take
			// up to 20 s, and the stop itself drains them first.
			_ = conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
			var err error
			for err == nil {
				_, _, err = conn.ReadMessage()
			}
			closed <- err
		}()
	}

	// Keep logins flowing (each spends tens of milliseconds in bcrypt, so
	// some are always under way) until the server stops taking connections.
	// A request either gets its whole answer or is never served: the
	// listener closes first, and a connection still in its backlog is
	// reset before any byte is read. What must never happen is an answer
	// that starts and is cut off.
	var answered, refused, broken atomic.Int64
	stopLoad := make(chan struct{})
	var load sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for range 8 {
		load.Go(func() {
			for {
				select {
				case <-stopLoad:
					return
				default:
				}
				res, err := client.Post(s.base+"/api/v1/auth/login", "application/json",
					strings.NewReader(`{"username":"alice","password":"password123"}`))
				if err != nil {
					refused.Add(1)
					return
				}
				data, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil || res.StatusCode != 200 || !json.Valid(data) {
					broken.Add(1)
					t.Errorf("answer %d %q %v", res.StatusCode, data, err)
					return
				}
				answered.Add(1)
			}
		})
	}
	// Let some requests through before stopping.
	deadline := time.Now().Add(20 * time.Second)
	for answered.Load() < 5 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // polling interval
	}
	s.stop(t)
	close(stopLoad)
	load.Wait()
	if broken.Load() > 0 || answered.Load() < 5 {
		t.Fatalf("answered %d, cut %d", answered.Load(), broken.Load())
	}
	t.Logf("answered %d whole; %d not served after the listener closed", answered.Load(), refused.Load())

	for range cap(closed) {
		if err := <-closed; !websocket.IsCloseError(err, websocket.CloseGoingAway) {
			t.Errorf("a socket ended with %v, want close 1001", err)
		}
	}
}

// TestServeStopsWhenBrokerRefuses: a Redis that refuses the broker's
// settings (here a database number it does not have) would leave sockets
// that nothing feeds; serve shuts down in order and exits with the reason.
func TestServeStopsWhenBrokerRefuses(t *testing.T) {
	redisAddr := os.Getenv("DISCUSS_TEST_REDIS_ADDR")
	if redisAddr == "" {
		t.Skip("DISCUSS_TEST_REDIS_ADDR is not set")
	}
	env := databaseEnv(t)
	env["DISCUSS_SERVER_ADDR"] = freeAddr(t)
	env["DISCUSS_BROKER_KIND"] = "redis"
	env["DISCUSS_BROKER_REDIS_ADDR"] = redisAddr
	env["DISCUSS_BROKER_REDIS_DB"] = "1048576"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stderr := &dbtest.SyncBuffer{}
	err := run(ctx, []string{"serve"}, envOf(env), &dbtest.SyncBuffer{}, stderr)
	if ctx.Err() != nil || err == nil || !strings.Contains(err.Error(), "DB index") {
		t.Fatalf("serve returned %v (context: %v), want Redis's refusal\n%s", err, ctx.Err(), stderr)
	}
	// It shut down: nothing is left listening on its address.
	ln, err := net.Listen("tcp", env["DISCUSS_SERVER_ADDR"])
	if err != nil {
		t.Fatalf("the address is still taken: %v", err)
	}
	ln.Close()
}
