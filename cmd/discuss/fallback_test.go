package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserEventStreamFallback serves the demo page through a proxy that
// strips Upgrade, as some corporate proxies do: the page's WebSocket cannot
// open (the server answers the plain GET /ws with 400), so the client falls
// back to the event stream (GET /sse) and goes live on it. A reply over
// REST reaches the page live; after a disconnection the client resumes
// with since and receives what it missed, once each; replaced by newer
// connections (the close event, 4000), it stays closed.
func TestBrowserEventStreamFallback(t *testing.T) {
	chrome := findChromium(t)
	env := databaseEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	proxyBase := "http://" + ln.Addr().String()
	// The page's origin is the proxy's, allowed as a deployment would.
	env["DISCUSS_SERVER_ADDR"] = freeAddr(t)
	env["DISCUSS_WEBSOCKET_ALLOWED_ORIGINS"] = proxyBase
	s := startServe(t, env)
	target, err := url.Parse(s.base)
	if err != nil {
		t.Fatal(err)
	}
	proxy := &http.Server{Handler: &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Header.Del("Upgrade")
			r.Out.Header.Del("Connection")
		},
	}}
	go func() { _ = proxy.Serve(ln) }()
	t.Cleanup(func() { _ = proxy.Close() })

	aliceToken, aliceID := registerUser(t, s, "alice")
	bobToken, _ := registerUser(t, s, "bob")
	adminToken := createAdmin(t, s, env)
	var post struct {
		ID int64 `json:"id"`
	}
	if code := s.call(t, "POST", "/api/v1/posts", aliceToken, map[string]string{"title": "Problem 9", "body": "Why TLE?"}, &post); code != http.StatusCreated {
		t.Fatalf("post: %d", code)
	}
	comment := func(body string) {
		t.Helper()
		if code := s.call(t, "POST", fmt.Sprintf("/api/v1/posts/%d/comments", post.ID), bobToken, map[string]string{"body": body}, nil); code != http.StatusCreated {
			t.Fatalf("comment: %d", code)
		}
	}

	b := newBrowser(t, chrome, s)
	b.step("open the page through the proxy and sign in", 20*time.Second,
		chromedp.Navigate(proxyBase+"/"),
		chromedp.WaitVisible(chromedp.ID("auth-username")),
		chromedp.SendKeys(chromedp.ID("auth-username"), "alice"),
		chromedp.SendKeys(chromedp.ID("auth-password"), "password123"),
		chromedp.Click(chromedp.ID("login-btn")),
		chromedp.WaitVisible(chromedp.ID("app")),
		b.until(`document.getElementById("whoami").dataset.userId === "%d"`, aliceID),
	)
	b.step("the client falls back to the event stream and goes live", 20*time.Second,
		b.until(`document.getElementById("live-status").dataset.state === "open"`),
		b.until(`document.getElementById("live-status").dataset.transport === "eventsource"`),
		b.until(`document.getElementById("unread-count").dataset.count === "0"`),
	)
	waitSockets(t, s, adminToken, 1)

	comment("Use a faster reader.")
	b.step("a reply arrives live on the stream", 10*time.Second,
		b.until(`document.getElementById("unread-count").dataset.count === "1"`),
		b.until(`window.discuss.frames.some((f) => f.type === "notification" && !f.replayed)`),
	)

	framesBefore := b.evalInt(`window.discuss.frames.length`)
	b.step("A disconnects", 10*time.Second,
		chromedp.Evaluate[chromedp.Void](`window.discuss.disconnect()`),
		b.until(`document.getElementById("live-status").dataset.state === "offline"`),
	)
	waitSockets(t, s, adminToken, 0)
	comment("Or read it all at once.")
	comment("And print once.")
	b.step("A reconnects on the stream and catches up", 15*time.Second,
		chromedp.Evaluate[chromedp.Void](`window.discuss.connect()`),
		b.until(`document.getElementById("live-status").dataset.state === "open"`),
		b.until(`document.getElementById("live-status").dataset.transport === "eventsource"`),
		b.until(`document.getElementById("unread-count").dataset.count === "3"`),
	)
	replayed := evalIn[[]notificationFrame](b, fmt.Sprintf(`window.discuss.frames.slice(%d).filter((f) => f.type === "notification")`, framesBefore))
	if len(replayed) != 2 || replayed[0].ID >= replayed[1].ID || !replayed[0].Replayed || !replayed[1].Replayed {
		t.Fatalf("after reconnecting the stream sent notification frames %+v, want the two missed ones, replayed, in order, once each", replayed)
	}
	if msg := b.evalString(`document.getElementById("error").hidden ? "" : document.getElementById("error-text").textContent`); msg != "" {
		t.Fatalf("the page shows an error: %s", msg)
	}

	// A opens as many connections elsewhere as a user may hold: the
	// page's stream, the oldest, gets the close event with 4000, and the
	// client stays closed instead of letting its EventSource reconnect
	// and close another in turn.
	for range 8 {
		dialHello(t, s, aliceToken)
	}
	b.step("the stream gives way to newer connections", 10*time.Second,
		b.until(`document.getElementById("live-status").dataset.state === "replaced"`),
	)
	waitSockets(t, s, adminToken, 8)
}
