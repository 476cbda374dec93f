package api

import (
	"github.com/quizsite/discuss/model"
	"net/http"
	"strings"
	"testing"
)

func TestDemoPage(t *testing.T) {
	ts := newTestServer(t)
	res := ts.do(t, "GET", "/", "", nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET /: %d %s", res.Status, res.Body)
	}
	if got := res.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", got)
	}
	if got := res.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("Cache-Control %q", got)
	}
	body := string(res.Body)
	for _, want := range []string{`<script type="module" src="/static/app.js">`, "This is a demo page", `id="unread-count"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}

	// The policy allows only the page's own scripts, styles and
	// connections, the WebSocket included.
	host := strings.TrimPrefix(ts.URL, "http://")
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{
		"default-src 'none'", "script-src 'self';", "style-src 'self';",
		"connect-src 'self' ws://" + host + " wss://" + host + ";", "frame-ancestors 'none'",
	} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "*") {
		t.Errorf("Content-Security-Policy %q is too lax", csp)
	}
	if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", got)
	}
}

func TestStaticFiles(t *testing.T) {
	ts := newTestServer(t)
	tests := []struct {
		name, path, ctype, contains string
	}{
		{"ClientScript", "/static/discuss-client.js", "text/javascript; charset=utf-8", "export class DiscussClient"},
		{"PageScript", "/static/app.js", "text/javascript; charset=utf-8", `from "./discuss-client.js"`},
		{"Stylesheet", "/static/style.css", "text/css; charset=utf-8", ".notification-list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := ts.do(t, "GET", tt.path, "", nil)
			if res.Status != http.StatusOK {
				t.Fatalf("%d %s", res.Status, res.Body)
			}
			if got := res.Header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type %q, want %q", got, tt.ctype)
			}
			if !strings.Contains(string(res.Body), tt.contains) {
				t.Errorf("body lacks %q", tt.contains)
			}
			etag := res.Header.Get("ETag")
			if etag == "" || res.Header.Get("Cache-Control") != "no-cache" {
				t.Fatalf("ETag %q, Cache-Control %q: want a validator and no-cache", etag, res.Header.Get("Cache-Control"))
			}

			// Revalidation with the ETag costs no body.
			req, _ := http.NewRequest("GET", ts.URL+tt.path, nil)
			req.Header.Set("If-None-Match", etag)
			again, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			again.Body.Close()
			if again.StatusCode != http.StatusNotModified {
				t.Errorf("revalidation answered %d, want 304", again.StatusCode)
			}
		})
	}
}

func TestStaticNotFound(t *testing.T) {
	ts := newTestServer(t)
	tests := []struct{ name, path string }{
		{"ErrUnknownFile", "/static/nope.js"},
		{"ErrUnknownType", "/static/notes.txt"},
		{"ErrNoListing", "/static/"},
		{"ErrFolderPath", "/static/web/app.js"},
		{"ErrDotDot", "/static/../static.go"},
		{"ErrEncodedDotDot", "/static/%2e%2e/static.go"},
		{"ErrDoubleSlash", "/static//app.js"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := ts.do(t, "GET", tt.path, "", nil)
			wantError(t, res, http.StatusNotFound, model.ENOTFOUND, "")
			if strings.Contains(string(res.Body), "<a href") {
				t.Errorf("a folder was listed: %s", res.Body)
			}
		})
	}
}

func TestContentSecurityPolicyHost(t *testing.T) {
	tests := []struct {
		name, host string
		named      bool
	}{
		{"OK", "localhost:8080", true},
		{"OKIPv6", "[::1]:8080", true},
		{"ErrInjection", "evil.example; script-src *", false},
		{"ErrEmpty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			csp := contentSecurityPolicy(tt.host)
			if got := strings.Contains(csp, "ws://"); got != tt.named {
				t.Errorf("%q gave %q", tt.host, csp)
			}
			if !strings.Contains(csp, "connect-src 'self'") || strings.Contains(csp, "script-src *") {
				t.Errorf("%q gave %q", tt.host, csp)
			}
		})
	}
}
