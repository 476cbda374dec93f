package api

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/quizsite/discuss/configs"
	"github.com/quizsite/discuss/model"
)

// TestClientAddressFromProxies: the per-address limits count the TCP peer,
// whatever X-Forwarded-For or X-Real-IP say, unless the peer is a trusted
// proxy; then X-Forwarded-For names the client, and X-Real-IP never does.
func TestClientAddressFromProxies(t *testing.T) {
	const perMinute = 20
	// exhaust registers perMinute users from the test's own address, the
	// most it may register in a minute.
	exhaust := func(t *testing.T, ts *testServer) {
		t.Helper()
		for i := range perMinute {
			ts.register(t, fmt.Sprintf("user_%02d", i))
		}
	}
	register := func(t *testing.T, ts *testServer, username string, header http.Header) response {
		t.Helper()
		return ts.doWithHeader(t, "POST", "/api/v1/auth/register", header,
			map[string]string{"username": username, "password": "password123"})
	}

	t.Run("ErrSpoofedHeadersUntrusted", func(t *testing.T) {
		ts := newTestServer(t, func(c *configs.Config) { c.Limits.RegisterPerMinute = perMinute })
		exhaust(t, ts)
		for i, h := range []http.Header{
			{"X-Forwarded-For": {"203.0.113.1"}},
			{"X-Forwarded-For": {"203.0.113.2"}},
			{"X-Real-Ip": {"203.0.113.3"}},
			{"X-Forwarded-For": {"203.0.113.77, 127.0.0.2"}},
			{"X-Forwarded-For": {"203.0.113.4"}, "X-Real-Ip": {"203.0.113.5"}},
		} {
			res := register(t, ts, fmt.Sprintf("spoof_%d", i), h)
			if res.Status != http.StatusTooManyRequests || res.ErrorCode(t) != model.ERATELIMITED {
				t.Errorf("registration with %v: %d %s, want 429", h, res.Status, res.Body)
			}
		}
		logs := ts.Logs.String()
		if strings.Contains(logs, "203.0.113.") || !strings.Contains(logs, `"remote":"127.0.0.1"`) {
			t.Errorf("the access log does not record the real address:\n%s", logs)
		}
	})
	t.Run("ErrLoginSprayUntrusted", func(t *testing.T) {
		ts := newTestServer(t, func(c *configs.Config) { c.Limits.LoginPerMinute = 3 })
		for i := range 6 {
			res := ts.doWithHeader(t, "POST", "/api/v1/auth/login",
				http.Header{"X-Forwarded-For": {fmt.Sprintf("203.0.113.%d", i)}},
				map[string]string{"username": fmt.Sprintf("nobody_%d", i), "password": "password123"})
			want := http.StatusUnauthorized
			if i >= 3 {
				want = http.StatusTooManyRequests
			}
			if res.Status != want {
				t.Errorf("login %d: %d %s, want %d", i, res.Status, res.Body, want)
			}
		}
	})
	t.Run("OKTrustedProxy", func(t *testing.T) {
		ts := newTestServer(t, func(c *configs.Config) {
			c.Limits.RegisterPerMinute = perMinute
			c.Server.TrustedProxies = []string{"127.0.0.1"}
		})
		exhaust(t, ts)
		for i, h := range []http.Header{
			{"X-Forwarded-For": {"203.0.113.1"}},
			// Two hops: a client's own claim, then what our proxy saw;
			// the rightmost untrusted address is the client.
			{"X-Forwarded-For": {"198.51.100.9, 203.0.113.2"}},
			{"X-Forwarded-For": {"203.0.113.3, 127.0.0.1"}},
		} {
			if res := register(t, ts, fmt.Sprintf("proxied_%d", i), h); res.Status != http.StatusCreated {
				t.Errorf("registration through the proxy with %v: %d %s, want 201", h, res.Status, res.Body)
			}
		}
		// X-Real-IP is not read even from a trusted proxy.
		if res := register(t, ts, "real_ip", http.Header{"X-Real-Ip": {"203.0.113.9"}}); res.Status != http.StatusTooManyRequests {
			t.Errorf("registration with X-Real-IP from a trusted proxy: %d %s, want 429", res.Status, res.Body)
		}
		logs := ts.Logs.String()
		for _, addr := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"} {
			if !strings.Contains(logs, `"remote":"`+addr+`"`) {
				t.Errorf("the access log does not record the client %s:\n%s", addr, logs)
			}
		}
	})
	t.Run("ErrIPv6SameSlash64", func(t *testing.T) {
		// One IPv6 subscriber holds a /64: a fresh address in it is the
		// same client, one in another /64 is not.
		ts := newTestServer(t, func(c *configs.Config) {
			c.Limits.RegisterPerMinute = 3
			c.Server.TrustedProxies = []string{"127.0.0.1"}
		})
		for i, tt := range []struct {
			addr string
			want int
		}{
			{"2001:db8:1:2::1", http.StatusCreated},
			{"2001:db8:1:2::2", http.StatusCreated},
			{"2001:db8:1:2:ffff:ffff:ffff:ffff", http.StatusCreated},
			{"2001:db8:1:2::4", http.StatusTooManyRequests},
			{"2001:db8:1:2:abcd::9", http.StatusTooManyRequests},
			{"2001:db8:1:3::1", http.StatusCreated},
		} {
			res := register(t, ts, fmt.Sprintf("v6_%d", i), http.Header{"X-Forwarded-For": {tt.addr}})
			if res.Status != tt.want {
				t.Errorf("registration from %s: %d %s, want %d", tt.addr, res.Status, res.Body, tt.want)
			}
		}
	})
}

// TestWebSocketAddressCap: one address holds at most
// websocket.max_connections_per_address sockets whatever its users; the
// next is refused before the upgrade, and a closed socket frees its slot.
func TestWebSocketAddressCap(t *testing.T) {
	const limit = 3
	refused := func(t *testing.T, ts *testServer, token string, header http.Header) {
		t.Helper()
		wantRateLimited(t, ts.dialRefused(t, "?token="+token, header))
	}

	t.Run("OK", func(t *testing.T) {
		ts := newTestServer(t, func(c *configs.Config) { c.WebSocket.MaxConnectionsPerAddress = limit })
		alice, bob := ts.register(t, "alice"), ts.register(t, "bob")
		// Across users: alice's two and bob's one fill the address.
		first := ts.dialWS(t, "?token="+alice.Token, nil)
		ts.dialWS(t, "?token="+alice.Token, nil)
		ts.dialWS(t, "?token="+bob.Token, nil)
		refused(t, ts, bob.Token, nil)
		// A spoofed header does not make another address.
		refused(t, ts, bob.Token, http.Header{"X-Forwarded-For": {"203.0.113.7"}})

		// Closing a socket frees its slot once the server has seen it
		// end, which happens on the server's own goroutines.
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			conn, _, err := websocket.DefaultDialer.Dial(ts.wsURL("?token="+bob.Token), nil)
			if err == nil {
				conn.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no slot freed within 5s of closing a socket: %v", err)
			}
			time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
		}
	})
	t.Run("OKExemptAddress", func(t *testing.T) {
		ts := newTestServer(t, func(c *configs.Config) {
			c.WebSocket.MaxConnectionsPerAddress = limit
			c.WebSocket.ExemptAddresses = []string{"127.0.0.0/8"}
		})
		alice := ts.register(t, "alice")
		for range limit + 2 {
			ts.dialWS(t, "?token="+alice.Token, nil)
		}
	})
	t.Run("OKAddressFromTrustedProxy", func(t *testing.T) {
		ts := newTestServer(t, func(c *configs.Config) {
			c.WebSocket.MaxConnectionsPerAddress = limit
			c.Server.TrustedProxies = []string{"127.0.0.1"}
		})
		alice := ts.register(t, "alice")
		behind := http.Header{"X-Forwarded-For": {"203.0.113.7"}}
		for range limit {
			ts.dialWS(t, "?token="+alice.Token, behind)
		}
		refused(t, ts, alice.Token, behind)
		// Another client behind the same proxy has slots of its own.
		ts.dialWS(t, "?token="+alice.Token, http.Header{"X-Forwarded-For": {"203.0.113.8"}})
	})
	// A token naming nobody is refused after the hub's admission read the
	// user's row, which finds none (serveWS): the slot and the hub's
	// registration it held are given back.
	t.Run("ErrUnknownUserHoldsNothing", func(t *testing.T) {
		ts := newTestServer(t, func(c *configs.Config) { c.WebSocket.MaxConnectionsPerAddress = limit })
		alice := ts.register(t, "alice")
		gone := ts.goneToken(t)
		for range limit + 2 {
			wantError(t, ts.dialRefused(t, "?token="+gone, nil), http.StatusUnauthorized, model.EUNAUTHENTICATED, "does not exist")
		}
		for range limit {
			ts.dialWS(t, "?token="+alice.Token, nil)
		}
		if users, conns := ts.Srv.hub.LocalCounts(); users != 1 || conns != limit {
			t.Errorf("hub counts %d users, %d connections; want 1, %d", users, conns, limit)
		}
	})
	// Event streams (GET /sse) hold the same slots as sockets.
	t.Run("SharedWithEventStreams", func(t *testing.T) {
		ts := newTestServer(t, func(c *configs.Config) { c.WebSocket.MaxConnectionsPerAddress = limit })
		alice := ts.register(t, "alice")
		ts.dialWS(t, "?token="+alice.Token, nil)
		ts.dialWS(t, "?token="+alice.Token, nil)
		stream := ts.stream(t, "?token="+alice.Token, nil)
		refused(t, ts, alice.Token, nil)
		res, s := openStream(t, ts.URL, "?token="+alice.Token, nil)
		if s != nil {
			t.Fatal("a stream opened past the cap")
		}
		wantRateLimited(t, readResponse(t, res))
		// A stream that ends gives its slot back.
		_ = stream.res.Body.Close()
		deadline := time.Now().Add(5 * time.Second)
		for {
			res, s := openStream(t, ts.URL, "?token="+alice.Token, nil)
			if s != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no slot freed within 5s of closing a stream: %d", res.StatusCode)
			}
			time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
		}
	})
}

// TestHeaderTooLarge: a request head over server.max_header_bytes is
// refused with 431 in the contract's shape, not net/http's plain text.
func TestHeaderTooLarge(t *testing.T) {
	const limit = 8192
	ts := newTestServer(t, func(c *configs.Config) { c.Server.MaxHeaderBytes = limit })
	alice := ts.register(t, "alice")
	big := func(n int) http.Header {
		return http.Header{"Authorization": {"Bearer " + alice.Token}, "X-Padding": {strings.Repeat("p", n)}}
	}
	if res := ts.doWithHeader(t, "GET", "/api/v1/me", big(limit-1024), nil); res.Status != http.StatusOK {
		t.Fatalf("a head under the limit: %d %s", res.Status, res.Body)
	}
	for _, path := range []string{"/api/v1/me", "/healthz", "/ws", "/no/such/route"} {
		res := ts.doWithHeader(t, "GET", path, big(limit), nil)
		if res.Status != http.StatusRequestHeaderFieldsTooLarge || res.ErrorCode(t) != model.EHEADERTOOLARGE ||
			!strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Errorf("GET %s with a head over the limit: %d %s %s", path, res.Status, res.Header.Get("Content-Type"), res.Body)
		}
	}
	// A page of an allowed origin may read the answer.
	h := big(limit)
	h.Set("Origin", "http://localhost:8080")
	if res := ts.doWithHeader(t, "GET", "/api/v1/me", h, nil); res.Status != http.StatusRequestHeaderFieldsTooLarge ||
		res.Header.Get("Access-Control-Allow-Origin") != "http://localhost:8080" {
		t.Errorf("431 to an allowed origin: %d, Access-Control-Allow-Origin %q", res.Status, res.Header.Get("Access-Control-Allow-Origin"))
	}
}

// TestInternalRoutes: with server.internal_addr set, metrics, profiles and
// health are on the internal handler only; without it, the public one
// keeps metrics and health and never serves profiles.
func TestInternalRoutes(t *testing.T) {
	operations := []string{"/metrics", "/healthz", "/readyz"}
	profiles := []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/heap?debug=1", "/debug/pprof/symbol"}
	get := func(t *testing.T, base, path string) (int, string) {
		t.Helper()
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}

	t.Run("OKInternal", func(t *testing.T) {
		ts := newTestServer(t, func(c *configs.Config) { c.Server.InternalAddr = "127.0.0.1:9090" })
		internal := httptest.NewServer(ts.Srv.InternalHandler())
		t.Cleanup(internal.Close)
		for _, path := range append(operations, profiles...) {
			res := ts.do(t, "GET", path, "", nil)
			if res.Status != http.StatusNotFound || res.ErrorCode(t) != model.ENOTFOUND {
				t.Errorf("public GET %s: %d %s, want 404", path, res.Status, res.Body)
			}
			if code, body := get(t, internal.URL, path); code != http.StatusOK {
				t.Errorf("internal GET %s: %d %s, want 200", path, code, body)
			}
		}
		if _, body := get(t, internal.URL, "/metrics"); !strings.Contains(body, `discuss_http_requests_total{method="GET",route="unmatched",status="404"}`) {
			t.Errorf("internal /metrics does not count the public requests:\n%s", body)
		}
		// The API is not on the internal listener, and a stray slash is
		// not found either, not redirected.
		for _, path := range []string{"/api/v1/me", "/healthz/"} {
			if code, body := get(t, internal.URL, path); code != http.StatusNotFound || !strings.Contains(body, model.ENOTFOUND) {
				t.Errorf("internal GET %s: %d %s", path, code, body)
			}
		}
	})
	t.Run("OKPublicWithoutInternal", func(t *testing.T) {
		ts := newTestServer(t)
		for _, path := range operations {
			if res := ts.do(t, "GET", path, "", nil); res.Status != http.StatusOK {
				t.Errorf("public GET %s: %d %s, want 200", path, res.Status, res.Body)
			}
		}
		for _, path := range profiles {
			if res := ts.do(t, "GET", path, "", nil); res.Status != http.StatusNotFound {
				t.Errorf("public GET %s: %d %s, want 404", path, res.Status, res.Body)
			}
		}
	})
}
