package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/quizsite/discuss/service/dbtest"
)

// TestDatabaseOutage cuts MySQL off through a proxy while the server runs:
// REST answers 503 unavailable and /readyz 503, open sockets stay open, and
// everything works again once the database is back, without a restart.
func TestDatabaseOutage(t *testing.T) {
	needMySQL(t)
	db := dbtest.Open(t)
	cfg, err := mysql.ParseDSN(db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	proxy := dbtest.NewProxy(t, cfg.Addr)
	cfg.Addr = proxy.Addr()
	s := startServe(t, serveEnv(&dbtest.DB{Driver: db.Driver, DSN: cfg.FormatDSN()}, map[string]string{
		"DISCUSS_LOG_LEVEL":               "error",
		"DISCUSS_WEBSOCKET_PING_INTERVAL": "1s",
		"DISCUSS_WEBSOCKET_PONG_TIMEOUT":  "3s",
	}))
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
	eventually(t, 15*time.Second, func() error {
		if code := s.call(t, "GET", "/readyz", "", nil, nil); code != 200 {
			return fmt.Errorf("/readyz answers %d since the database came back", code)
		}
		return nil
	})
	if code := s.call(t, "GET", "/api/v1/me", token, nil, nil); code != 200 {
		t.Fatalf("me after the database came back: %d", code)
	}
	registerUser(t, s, "bob")
}

// TestServeStopsWhenBrokerRefuses: a Redis that refuses the broker's
// settings (here a database number it does not have) would leave sockets
// that nothing feeds; serve shuts down in order and exits with the reason.
func TestServeStopsWhenBrokerRefuses(t *testing.T) {
	redis, _ := dbtest.Redis(t)
	env := databaseEnv(t)
	env["DISCUSS_BROKER_KIND"] = "redis"
	env["DISCUSS_BROKER_REDIS_ADDR"] = redis
	env["DISCUSS_BROKER_REDIS_DB"] = "1048576"
	serveFails(t, env, "DB index") // Redis's refusal, after shutting down in order
}
