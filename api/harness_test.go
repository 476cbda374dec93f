package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quizsite/discuss/configs"
	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/notify"
	"github.com/quizsite/discuss/service"
	"github.com/quizsite/discuss/service/dbtest"
)

// testSecret signs the tokens of the test servers.
const testSecret = "test-secret-test-secret-test-secret-0123"

// testServer is the API over a fresh migrated database, served by httptest.
type testServer struct {
	*httptest.Server
	DB     *dbtest.DB
	Config *configs.Config
	Auth   *service.Auth
	Logs   *lockedWriter
	Srv    *Server
}

// newTestServer starts the API on a fresh database. edit, when given, may
// change the configuration first.
func newTestServer(t testing.TB, edit ...func(*configs.Config)) *testServer {
	t.Helper()
	cfg := configs.Default()
	cfg.Auth.Secret = testSecret
	cfg.Auth.BcryptCost = 4
	// Generous limits: tests of the limits lower them.
	cfg.Limits.LoginPerMinute = 10000
	cfg.Limits.RegisterPerMinute = 10000
	cfg.Limits.PostsPerMinute = 10000
	cfg.Limits.CommentsPerMinute = 10000
	for _, e := range edit {
		e(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	db := dbtest.Open(t)
	logs := &lockedWriter{w: &bytes.Buffer{}}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	d, err := buildDeps(cfg, db, logger)
	if err != nil {
		t.Fatal(err)
	}
	hubCtx, stopHub := context.WithCancel(context.Background())
	hubDone := make(chan struct{})
	go func() {
		defer close(hubDone)
		_ = d.Hub.Run(hubCtx)
	}()
	t.Cleanup(func() {
		stopHub()
		<-hubDone
	})
	<-d.Hub.Ready()
	srv, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &testServer{Server: ts, DB: db, Config: cfg, Auth: d.Auth, Logs: logs, Srv: srv}
}

// buildDeps wires the services the way cmd does, with an in-memory broker.
func buildDeps(cfg *configs.Config, db *dbtest.DB, logger *slog.Logger) (Deps, error) {
	auth, err := service.NewAuth(db.DB, service.AuthConfig{
		Secret:          []byte(cfg.Auth.Secret),
		Issuer:          cfg.Auth.Issuer,
		TokenTTL:        cfg.Auth.TokenTTL,
		BcryptCost:      cfg.Auth.BcryptCost,
		LoginLimiter:    service.NewRateLimiter(cfg.Limits.LoginPerMinute, time.Minute),
		RegisterLimiter: service.NewRateLimiter(cfg.Limits.RegisterPerMinute, time.Minute),
	})
	if err != nil {
		return Deps{}, err
	}
	registry := prometheus.NewRegistry()
	pub := &deferredPublisher{}
	notes := service.NewNotifications(db.DB, pub).WithLogger(logger)
	hub := notify.New(notify.Options{
		AllowedOrigins:        cfg.WebSocket.AllowedOrigins,
		MaxConnectionsPerUser: cfg.WebSocket.MaxConnectionsPerUser,
		SendQueueSize:         cfg.WebSocket.SendQueueSize,
		MaxMessageBytes:       cfg.WebSocket.MaxMessageBytes,
		ReplayLimit:           cfg.WebSocket.ReplayLimit,
		UnreadReplayLimit:     cfg.WebSocket.UnreadReplayLimit,
	}, notes, notify.NewMemoryBroker(), logger, registry)
	pub.Publisher = hub
	return Deps{
		Config:        cfg,
		Logger:        logger,
		Registry:      registry,
		Auth:          auth,
		Users:         service.NewUsers(db.DB),
		Posts:         service.NewPosts(db.DB, notes, service.NewRateLimiter(cfg.Limits.PostsPerMinute, time.Minute)),
		Comments:      service.NewComments(db.DB, notes, service.NewRateLimiter(cfg.Limits.CommentsPerMinute, time.Minute)),
		Notifications: notes,
		Announcements: service.NewAnnouncements(db.DB, hub, logger),
		Hub:           hub,
		Ready: func(ctx context.Context) error {
			sqlDB, err := db.DB.DB()
			if err != nil {
				return err
			}
			return sqlDB.PingContext(ctx)
		},
	}, nil
}

// deferredPublisher breaks the construction cycle of the notifications
// service and the hub, as cmd does.
type deferredPublisher struct{ service.Publisher }

// response is an answer read whole.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test when it is not JSON.
func (r response) JSON(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
}

// ErrorCode returns the code of a contract-shaped error body, failing the
// test when the body has another shape.
func (r response) ErrorCode(t *testing.T) string {
	t.Helper()
	var e ErrorBody
	r.JSON(t, &e)
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("body %s is not the contract's error shape", r.Body)
	}
	return e.Error.Code
}

// do sends a request; body may be nil, a string (sent as is) or a value
// (sent as JSON). token, when not empty, goes in the Authorization header.
func (ts *testServer) do(t *testing.T, method, path, token string, body any) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: data}
}

// session is a signed-in test user.
type session struct {
	User  model.User `json:"user"`
	Token string     `json:"token"`
}

// register signs up a user through the API and returns its session.
func (ts *testServer) register(t *testing.T, username string) session {
	t.Helper()
	res := ts.do(t, "POST", "/api/v1/auth/register", "", map[string]string{"username": username, "password": "password123"})
	if res.Status != http.StatusCreated {
		t.Fatalf("register %s: %d %s", username, res.Status, res.Body)
	}
	var s session
	res.JSON(t, &s)
	return s
}

// withRole signs up a user and gives it role directly in the database.
func (ts *testServer) withRole(t *testing.T, username, role string) session {
	t.Helper()
	s := ts.register(t, username)
	if err := ts.DB.Model(&model.User{}).Where("id = ?", s.User.ID).Update("role", role).Error; err != nil {
		t.Fatal(err)
	}
	s.User.Role = role
	return s
}

// lockedWriter serialises writes of concurrent handlers to one buffer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// String returns what was logged so far.
func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.(*bytes.Buffer).String()
}
