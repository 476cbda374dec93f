package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
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
	Logs   *dbtest.SyncBuffer
	Srv    *Server
}

// newTestServer starts the API on a fresh database. edit, when given, may
// change the configuration first.
func newTestServer(t testing.TB, edit ...func(*configs.Config)) *testServer {
	t.Helper()
	return newServer(t, setup{}, edit...)
}

// setup is what a test may choose of a server beyond its configuration.
// The zero value is a fresh database, an in-process broker, and offline
// delivery with neither mail nor push.
type setup struct {
	// db and broker, when set, are shared with other instances, as those
	// of several instances behind a load balancer are.
	db     *dbtest.DB
	broker notify.Broker
	// offline, when set, configures offline delivery (a mailer, a pusher).
	offline func(*service.OfflineConfig)
}

// newServer starts the API as su says; edit, when given, may change the
// configuration first.
func newServer(t testing.TB, su setup, edit ...func(*configs.Config)) *testServer {
	t.Helper()
	db, broker, offline := su.db, su.broker, su.offline
	if db == nil {
		db = dbtest.Open(t)
	}
	if broker == nil {
		broker = notify.NewMemoryBroker()
	}
	cfg := configs.Default()
	cfg.Auth.Secret = testSecret
	cfg.Auth.BcryptCost = 4
	// Generous limits: tests of the limits lower them.
	cfg.Limits.LoginPerMinute = 10000
	cfg.Limits.RegisterPerMinute = 10000
	cfg.Limits.PostsPerMinute = 10000
	cfg.Limits.CommentsPerMinute = 10000
	cfg.Moderation.ReportsPerMinute = 10000
	for _, e := range edit {
		e(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &dbtest.SyncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	d, err := buildDeps(cfg, db, broker, logger, offline)
	if err != nil {
		t.Fatal(err)
	}
	hubCtx, stopHub := context.WithCancel(context.Background())
	hubDone := make(chan struct{})
	go func() {
		defer close(hubDone)
		_ = d.Hub.Run(hubCtx)
	}()
	// The fan-out worker publishes through the hub: it stops first, as in cmd.
	fanoutCtx, stopFanout := context.WithCancel(context.Background())
	fanoutDone := make(chan struct{})
	go func() {
		defer close(fanoutDone)
		d.Notifications.RunFanout(fanoutCtx, service.Fanout{
			BatchSize: cfg.Notifications.FanoutBatchSize, Poll: cfg.Notifications.FanoutPollInterval,
		})
	}()
	t.Cleanup(func() {
		stopFanout()
		<-fanoutDone
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

// buildDeps wires the services the way cmd does.
func buildDeps(cfg *configs.Config, db *dbtest.DB, broker notify.Broker, logger *slog.Logger, offline func(*service.OfflineConfig)) (Deps, error) {
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
	exempt, err := configs.Prefixes(cfg.WebSocket.ExemptAddresses)
	if err != nil {
		return Deps{}, err
	}
	registry := prometheus.NewRegistry()
	oc := service.OfflineConfig{
		Secret: []byte(cfg.Auth.Secret), PublicURL: "http://discuss.test", Delay: cfg.Email.Delay,
		SendTimeout: 5 * time.Second, PresenceLease: time.Minute, EncodePush: notify.NotificationFrame, Logger: logger,
	}
	if offline != nil {
		offline(&oc)
	}
	offlineDelivery := service.NewOffline(db.DB, oc)
	pub := &deferredPublisher{}
	notes := service.NewNotifications(db.DB, pub).WithLogger(logger)
	hub := notify.New(notify.Options{
		AllowedOrigins:           cfg.WebSocket.AllowedOrigins,
		PingInterval:             cfg.WebSocket.PingInterval,
		WriteTimeout:             cfg.WebSocket.WriteTimeout,
		MaxConnectionsPerUser:    cfg.WebSocket.MaxConnectionsPerUser,
		SendQueueSize:            cfg.WebSocket.SendQueueSize,
		MaxMessageBytes:          cfg.WebSocket.MaxMessageBytes,
		ReplayLimit:              cfg.WebSocket.ReplayLimit,
		UnreadReplayLimit:        cfg.WebSocket.UnreadReplayLimit,
		MaxConnectionsPerAddress: cfg.WebSocket.MaxConnectionsPerAddress,
		ExemptAddresses:          exempt,
		Presence:                 offlineDelivery,
	}, notes.Store(), broker, logger, registry)
	pub.Publisher = offlineDelivery.Publisher(hub)
	return Deps{
		Config:        cfg,
		Logger:        logger,
		Registry:      registry,
		Auth:          auth,
		Users:         service.NewUsers(db.DB, hub),
		Posts:         service.NewPosts(db.DB, notes, service.NewRateLimiter(cfg.Limits.PostsPerMinute, time.Minute)),
		Comments:      service.NewComments(db.DB, notes, service.NewRateLimiter(cfg.Limits.CommentsPerMinute, time.Minute)),
		Notifications: notes,
		Announcements: service.NewAnnouncements(db.DB, hub, logger),
		Moderation: service.NewModeration(db.DB, notes, service.ModerationConfig{
			HideAfterReports: cfg.Moderation.HideAfterReports, ReportsPerDay: cfg.Moderation.ReportsPerDay,
			Limiter: service.NewRateLimiter(cfg.Moderation.ReportsPerMinute, time.Minute),
		}),
		Blocks:  service.NewBlocks(db.DB, notes),
		Offline: offlineDelivery,
		Hub:     hub,
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
func (r response) JSON(t testing.TB, v any) {
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

// do sends a request; body may be nil, a string or []byte (sent as is) or
// a value (sent as JSON). token, when not empty, goes in the Authorization
// header.
func (ts *testServer) do(t testing.TB, method, path, token string, body any) response {
	t.Helper()
	header := http.Header{}
	if token != "" {
		header.Set("Authorization", "Bearer "+token)
	}
	return ts.doWithHeader(t, method, path, header, body)
}

// doWithHeader sends a request with header and body (as do takes it) and
// reads the answer whole.
func (ts *testServer) doWithHeader(t testing.TB, method, path string, header http.Header, body any) response {
	t.Helper()
	return send(t, ts.Client(), ts.newRequest(t, method, path, header, body))
}

// newRequest builds a request to path with a copy of header and body as
// do takes it, marked as JSON when there is one.
func (ts *testServer) newRequest(t testing.TB, method, path string, header http.Header, body any) *http.Request {
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
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// send sends req with client and reads the answer whole.
func send(t testing.TB, client *http.Client, req *http.Request) response {
	t.Helper()
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return readResponse(t, res)
}

// readResponse reads res whole, for answers that come some other way than
// send: a refused WebSocket upgrade, a refused event stream.
func readResponse(t testing.TB, res *http.Response) response {
	t.Helper()
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: data}
}

// decodeAs fails the test unless res has status, and returns its body
// decoded as T; what names the call in the failure.
func decodeAs[T any](t testing.TB, res response, status int, what string) T {
	t.Helper()
	if res.Status != status {
		t.Fatalf("%s: %d %s, want %d", what, res.Status, res.Body, status)
	}
	var v T
	res.JSON(t, &v)
	return v
}

// wantError fails the test unless res is an error of status and code whose
// message contains text.
func wantError(t *testing.T, res response, status int, code, text string) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d %s, want %d", res.Status, res.Body, status)
	}
	var e ErrorBody
	res.JSON(t, &e)
	if e.Error.Code != code || !strings.Contains(e.Error.Message, text) {
		t.Fatalf("error %+v, want code %s and a message with %q", e.Error, code, text)
	}
}

// wantRateLimited fails the test unless res is a 429 rate_limited error
// whose Retry-After says when to try again (in whole seconds, at least 1).
func wantRateLimited(t *testing.T, res response) {
	t.Helper()
	wantError(t, res, http.StatusTooManyRequests, model.ERATELIMITED, "")
	if ra := res.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("429 with Retry-After %q", ra)
	}
}

// errorCase is a request that must fail with status and a body in the
// contract's error shape.
type errorCase struct {
	name                string
	method, path, token string
	body                any
	status              int
}

// wantErrorCases sends each case as a subtest of its name.
func (ts *testServer) wantErrorCases(t *testing.T, cases []errorCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := ts.do(t, tc.method, tc.path, tc.token, tc.body)
			if res.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", res.Status, tc.status, res.Body)
			}
			res.ErrorCode(t)
		})
	}
}

// likeStep is one like (PUT) or unlike (DELETE) by a user and the exact
// body it must be answered with.
type likeStep struct {
	method string
	s      session
	want   string
}

// wantLikeSteps sends the steps to the like route path in order; each must
// answer 200 with its body.
func (ts *testServer) wantLikeSteps(t *testing.T, path string, steps []likeStep) {
	t.Helper()
	for i, step := range steps {
		res := ts.doChecked(t, step.method, path, step.s.Token, nil)
		if res.Status != 200 || string(res.Body) != step.want {
			t.Errorf("step %d: %d %s, want %s", i, res.Status, res.Body, step.want)
		}
	}
}

// wantLikesCountOnce checks the like route path, of a post or a comment
// nobody has liked: a likes it twice and counts once, b likes it too, then
// unliker, a or b, unlikes it twice and uncounts once.
func (ts *testServer) wantLikesCountOnce(t *testing.T, path string, a, b, unliker session) {
	t.Helper()
	ts.wantLikeSteps(t, path, []likeStep{
		{"PUT", a, `{"like_count":1,"liked":true}`},
		{"PUT", a, `{"like_count":1,"liked":true}`},
		{"PUT", b, `{"like_count":2,"liked":true}`},
		{"DELETE", unliker, `{"like_count":1,"liked":false}`},
		{"DELETE", unliker, `{"like_count":1,"liked":false}`},
	})
}

// pageIDs walks a list from target, whose query already has at least a
// limit, through next_cursor to the last page, and returns the ids of the
// items (a subscription's: its post's) in the order listed. Every page must
// answer 200.
func (ts *testServer) pageIDs(t *testing.T, token, target string) []int64 {
	t.Helper()
	var ids []int64
	cursor := ""
	for range 100 {
		res := ts.doChecked(t, "GET", target+cursor, token, nil)
		if res.Status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", target+cursor, res.Status, res.Body)
		}
		var page struct {
			Items []struct {
				ID   int64 `json:"id"`
				Post *struct {
					ID int64 `json:"id"`
				} `json:"post"`
			} `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		res.JSON(t, &page)
		for _, it := range page.Items {
			if it.Post != nil {
				it.ID = it.Post.ID
			}
			ids = append(ids, it.ID)
		}
		if page.NextCursor == nil {
			return ids
		}
		cursor = "&cursor=" + url.QueryEscape(*page.NextCursor)
	}
	t.Fatalf("GET %s: more than 100 pages", target)
	return nil
}

// session is a signed-in test user.
type session struct {
	User  model.User `json:"user"`
	Token string     `json:"token"`
}

// register signs up a user through the API and returns its session.
func (ts *testServer) register(t testing.TB, username string) session {
	t.Helper()
	res := ts.do(t, "POST", "/api/v1/auth/register", "", map[string]string{"username": username, "password": "password123"})
	return decodeAs[session](t, res, http.StatusCreated, "register "+username)
}

// withRole signs up a user and gives it role directly in the database.
func (ts *testServer) withRole(t testing.TB, username, role string) session {
	t.Helper()
	s := ts.register(t, username)
	if err := ts.DB.Model(&model.User{}).Where("id = ?", s.User.ID).Update("role", role).Error; err != nil {
		t.Fatal(err)
	}
	s.User.Role = role
	return s
}
