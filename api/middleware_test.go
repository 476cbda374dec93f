package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/quizsite/discuss/configs"
	"github.com/quizsite/discuss/model"
)

func TestErrorResponse(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		status    int
		code, msg string
	}{
		{"NotFound", model.Errorf(model.ENOTFOUND, "post 12 not found"), 404, "not_found", "post 12 not found"},
		{"Wrapped", errors.Join(errors.New("ctx"), model.Errorf(model.ECONFLICT, "taken")), 409, "conflict", "taken"},
		{"Internal", errors.New("dial tcp 10.0.0.5:3306: secret detail"), 500, "internal", "internal error"},
		{"UnknownCode", &model.Error{Code: "weird", Message: "x"}, 500, "internal", "internal error"},
		{"Unavailable", &model.Error{Code: model.EUNAVAILABLE, Message: "db down", Err: errors.New("hidden")}, 503, "unavailable", "db down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := ErrorResponse(tt.err)
			if status != tt.status || body.Error.Code != tt.code || body.Error.Message != tt.msg {
				t.Fatalf("got %d %+v", status, body)
			}
		})
	}
}

func TestAuthRejectionsOverHTTP(t *testing.T) {
	ts := newTestServer(t)
	alice := ts.register(t, "alice")
	tests := []struct {
		name   string
		header string
	}{
		{"ErrNoHeader", ""},
		{"ErrNotBearer", "Basic YWxpY2U6cGFzc3dvcmQ="},
		{"ErrMalformed", "Bearer abc"},
		{"ErrForged", "Bearer " + alice.Token[:len(alice.Token)-4] + "AAAA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := http.Header{}
			if tt.header != "" {
				header.Set("Authorization", tt.header)
			}
			res := ts.doWithHeader(t, "GET", "/api/v1/me", header, nil)
			if res.Status != http.StatusUnauthorized {
				t.Fatalf("status %d", res.Status)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("content type %q", ct)
			}
		})
	}
	res := ts.do(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "alice", "password": "wrong-password"})
	wantError(t, res, 401, model.EUNAUTHENTICATED, "")
	res2 := ts.do(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "nobody", "password": "wrong-password"})
	if string(res2.Body) != string(res.Body) {
		t.Errorf("unknown user %s and wrong password %s answer differently", res2.Body, res.Body)
	}
}

func TestBadRequests(t *testing.T) {
	ts := newTestServer(t, func(c *configs.Config) { c.Limits.BodyBytes = 2048 })
	ts.register(t, "alice")
	big := `{"username":"` + strings.Repeat("a", 4096) + `","password":"password123"}`
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		code   string
		msg    string
	}{
		{"ErrTooLarge", "POST", "/api/v1/auth/register", big, 413, "payload_too_large", "request body is larger than 2048 bytes"},
		{"ErrEmptyBody", "POST", "/api/v1/auth/register", "", 400, "invalid_argument", "request body is required"},
		{"ErrBadJSON", "POST", "/api/v1/auth/register", `{"username":`, 400, "invalid_argument", "invalid JSON: unexpected end of input"},
		{"ErrSyntax", "POST", "/api/v1/auth/register", `{"username" "x"}`, 400, "invalid_argument", "invalid JSON at offset 13"},
		{"ErrNotObject", "POST", "/api/v1/auth/register", `[1,2]`, 400, "invalid_argument", "request body must be a JSON object"},
		{"ErrWrongType", "POST", "/api/v1/auth/register", `{"username": 5, "password": "password123"}`, 400, "invalid_argument", "username must be a string"},
		{"ErrTrailing", "POST", "/api/v1/auth/register", `{"username":"bob","password":"password123"} {}`, 400, "invalid_argument", "request body must hold one JSON value"},
		{"ErrInvalidUTF8", "POST", "/api/v1/auth/register", "{\"username\":\"b\xffb\",\"password\":\"password123\"}", 400, "invalid_argument", "request body is not valid UTF-8"},
		{"ErrMissingField", "POST", "/api/v1/auth/register", `{"password":"password123"}`, 400, "invalid_argument", "username is required"},
		{"ErrConflict", "POST", "/api/v1/auth/register", map[string]string{"username": "alice", "password": "password123"}, 409, "conflict", "username alice is taken"},
		{"ErrNoRoute", "GET", "/api/v1/nothing", nil, 404, "not_found", "no route GET /api/v1/nothing"},
		{"ErrTrailingSlash", "GET", "/api/v1/posts/", nil, 404, "not_found", "no route GET /api/v1/posts/"},
		{"ErrTrailingSlashPost", "POST", "/api/v1/auth/login/", nil, 404, "not_found", "no route POST /api/v1/auth/login/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := ts.do(t, tt.method, tt.path, "", tt.body)
			if res.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", res.Status, tt.status, res.Body)
			}
			var body ErrorBody
			res.JSON(t, &body)
			if body.Error.Code != tt.code || body.Error.Message != tt.msg {
				t.Fatalf("body %s, want %s %q", res.Body, tt.code, tt.msg)
			}
		})
	}
}

// TestTooLargeStreamed sends a body without Content-Length, so the limit
// is met while reading rather than from the header.
func TestTooLargeStreamed(t *testing.T) {
	ts := newTestServer(t, func(c *configs.Config) { c.Limits.BodyBytes = 1024 })
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte(`{"username":"` + strings.Repeat("a", 3000) + `"}`))
		_ = pw.Close()
	}()
	req, err := http.NewRequest("POST", ts.URL+"/api/v1/auth/login", pr)
	if err != nil {
		t.Fatal(err)
	}
	if res := send(t, ts.Client(), req); res.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", res.Status)
	}
}

func TestRateLimitedLogin(t *testing.T) {
	ts := newTestServer(t, func(c *configs.Config) { c.Limits.LoginPerMinute = 2 })
	for range 2 {
		ts.do(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "x_user", "password": "password123"})
	}
	res := ts.do(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "x_user", "password": "password123"})
	wantRateLimited(t, res)
}

func TestCORS(t *testing.T) {
	ts := newTestServer(t, func(c *configs.Config) { c.WebSocket.AllowedOrigins = []string{"https://quiz.example.com"} })
	preflight := func(origin string) response {
		return ts.doWithHeader(t, "OPTIONS", "/api/v1/posts", http.Header{
			"Origin":                         {origin},
			"Access-Control-Request-Method":  {"POST"},
			"Access-Control-Request-Headers": {"authorization, content-type"},
		}, nil)
	}
	t.Run("OK", func(t *testing.T) {
		res := preflight("https://quiz.example.com")
		h := res.Header
		if res.Status != 204 || h.Get("Access-Control-Allow-Origin") != "https://quiz.example.com" ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Content-Type") ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), "PATCH") {
			t.Fatalf("preflight: %d %v", res.Status, h)
		}
	})
	// The matcher is the one /ws uses: an origin spelled with its scheme's
	// default port is the same origin.
	t.Run("OKDefaultPort", func(t *testing.T) {
		res := preflight("https://quiz.example.com:443")
		if res.Status != 204 || res.Header.Get("Access-Control-Allow-Origin") != "https://quiz.example.com:443" {
			t.Fatalf("preflight: %d %v", res.Status, res.Header)
		}
	})
	t.Run("ErrForeignOrigin", func(t *testing.T) {
		res := preflight("https://evil.example.com")
		if v := res.Header.Get("Access-Control-Allow-Origin"); v != "" {
			t.Fatalf("foreign origin got Allow-Origin %q", v)
		}
	})
	t.Run("OKSimpleRequest", func(t *testing.T) {
		res := ts.doWithHeader(t, "GET", "/healthz", http.Header{"Origin": {"https://quiz.example.com"}}, nil)
		if res.Header.Get("Access-Control-Allow-Origin") != "https://quiz.example.com" {
			t.Fatalf("headers %v", res.Header)
		}
	})
}

func TestOperations(t *testing.T) {
	ts := newTestServer(t)
	if res := ts.do(t, "GET", "/healthz", "", nil); res.Status != 200 {
		t.Fatalf("healthz %d", res.Status)
	}
	if res := ts.do(t, "GET", "/readyz", "", nil); res.Status != 200 {
		t.Fatalf("readyz %d %s", res.Status, res.Body)
	}
	ts.do(t, "GET", "/api/v1/me", "", nil)
	res := ts.do(t, "GET", "/metrics", "", nil)
	if res.Status != 200 || !strings.Contains(string(res.Body), `discuss_http_requests_total{method="GET",route="/api/v1/me",status="401"} 1`) ||
		!strings.Contains(string(res.Body), "discuss_http_request_duration_seconds_bucket") {
		t.Fatalf("metrics: %d\n%s", res.Status, res.Body)
	}

	t.Run("ErrDatabaseDown", func(t *testing.T) {
		sqlDB, _ := ts.DB.DB.DB()
		_ = sqlDB.Close()
		res := ts.do(t, "GET", "/readyz", "", nil)
		wantError(t, res, 503, model.EUNAVAILABLE, "")
	})
}

func TestTokenNotLogged(t *testing.T) {
	ts := newTestServer(t)
	alice := ts.register(t, "alice")
	ts.do(t, "GET", "/api/v1/me?token="+alice.Token+"&x=1", alice.Token, nil)
	ts.do(t, "GET", "/ws?token="+alice.Token, "", nil)
	logs := ts.Logs.String()
	if !strings.Contains(logs, "token=REDACTED") {
		t.Fatalf("query not logged redacted:\n%s", logs)
	}
	if strings.Contains(logs, alice.Token) {
		t.Fatalf("token leaked into logs:\n%s", logs)
	}
}

// TestAccessLogUserID: the access log names the user of a REST request
// and of a WebSocket connect, whose user is not read on its own (serveWS).
func TestAccessLogUserID(t *testing.T) {
	ts := newTestServer(t)
	alice := ts.register(t, "alice")
	ts.do(t, "GET", "/api/v1/me", alice.Token, nil)
	ts.dialWS(t, "?token="+alice.Token, nil)
	logged := func(path string) bool {
		for line := range strings.SplitSeq(ts.Logs.String(), "\n") {
			if strings.Contains(line, `"msg":"request"`) && strings.Contains(line, `"path":"`+path+`"`) &&
				strings.Contains(line, fmt.Sprintf(`"user_id":%d`, alice.User.ID)) {
				return true
			}
		}
		return false
	}
	// The socket's record is written when its handler returns, which the
	// client's hello does not wait for.
	deadline := time.Now().Add(5 * time.Second)
	for !logged("/api/v1/me") || !logged("/ws") {
		if time.Now().After(deadline) {
			t.Fatalf("no request records with user_id %d for /api/v1/me and /ws:\n%s", alice.User.ID, ts.Logs)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

func TestRequestID(t *testing.T) {
	ts := newTestServer(t)
	res := ts.doWithHeader(t, "GET", "/healthz", http.Header{"X-Request-Id": {"abc-123"}}, nil)
	if res.Header.Get("X-Request-ID") != "abc-123" {
		t.Fatalf("request id %q", res.Header.Get("X-Request-ID"))
	}
	if got := ts.do(t, "GET", "/healthz", "", nil).Header.Get("X-Request-ID"); len(got) != 16 {
		t.Fatalf("generated request id %q", got)
	}
}

// TestPanickingHandler adds a route that panics to the real router: the
// client gets the contract's internal error, and the log the panic with
// its stack and the request's id.
func TestPanickingHandler(t *testing.T) {
	ts := newTestServer(t)
	ts.Srv.public.GET("/panics", func(*gin.Context) { panic("boom") })
	// Served on the test's goroutine: a route added while the httptest
	// server runs would race with its handlers.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/panics", nil)
	req.Header.Set("X-Request-ID", "panic-1")
	ts.Srv.Handler().ServeHTTP(rec, req)
	res := response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	wantError(t, res, http.StatusInternalServerError, model.EINTERNAL, "internal error")

	var entry struct {
		RequestID string `json:"request_id"`
		Panic     string `json:"panic"`
		Stack     string `json:"stack"`
	}
	for line := range strings.Lines(ts.Logs.String()) {
		if strings.Contains(line, `"panic"`) {
			if err := json.Unmarshal([]byte(line), &entry); err != nil {
				t.Fatal(err)
			}
		}
	}
	if entry.RequestID != "panic-1" || entry.Panic != "boom" || !strings.Contains(entry.Stack, "TestPanickingHandler") {
		t.Fatalf("panic logged as %+v; logs:\n%s", entry, ts.Logs.String())
	}
}

// TestAccessLogBelowInfo: a logger above info gets no request line, and
// the request is served all the same.
func TestAccessLogBelowInfo(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelWarn} {
		var logs strings.Builder
		s := &Server{log: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: level}))}
		r := gin.New()
		r.Use(s.accessLog())
		r.GET("/x", func(c *gin.Context) { c.String(http.StatusTeapot, "ok") })
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest("GET", "/x?token=secret", nil))
		if w.Code != http.StatusTeapot {
			t.Fatalf("%v: status %d", level, w.Code)
		}
		if logged := strings.Contains(logs.String(), `"msg":"request"`); logged != (level == slog.LevelInfo) {
			t.Fatalf("%v: logged %v:\n%s", level, logged, logs.String())
		}
	}
}

// TestMetricsInventedMethods: net/http takes any token as a method, and
// each one used to become label values of its own in the request metrics,
// kept for the life of the process: a client inventing methods grew the
// server's memory and every scrape without bound. Methods outside HTTP's
// own are counted together as "other".
func TestMetricsInventedMethods(t *testing.T) {
	ts := newTestServer(t)
	const invented = 50
	for i := range invented {
		res := ts.do(t, fmt.Sprintf("INVENTED%d", i), "/api/v1/me", "", nil)
		wantError(t, res, 404, model.ENOTFOUND, "")
	}
	res := ts.do(t, "GET", "/metrics", "", nil)
	body := string(res.Body)
	if res.Status != 200 || strings.Contains(body, `method="INVENTED`) ||
		!strings.Contains(body, fmt.Sprintf(`discuss_http_requests_total{method="other",route="unmatched",status="404"} %d`, invented)) {
		t.Fatalf("metrics: %d\n%s", res.Status, body)
	}
}
