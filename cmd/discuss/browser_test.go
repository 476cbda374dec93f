package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
)

// TestBrowserLiveNotifications drives the demo page in headless Chromium
// against `discuss serve`: user A signs in, posts and comments in the page;
// user B replies over REST and A's bell changes without a reload; A's
// socket is closed, B replies twice, and when A reconnects with since each
// missed notification is shown exactly once. Along the way it checks the
// error display, mark-all-read, replying in the page and opening a post
// from a notification; then that the client gives way to newer connections
// (close code 4000) instead of fighting them, and that it reconnects by
// itself, with backoff, when the server restarts. On failure it saves a
// screenshot and logs its path, with the page's console and the server log.
func TestBrowserLiveNotifications(t *testing.T) {
	env := databaseEnv(t)
	s := startServeForBrowser(t, env)

	// B, and an administrator who can ask the server how many sockets are
	// open: that proves A's socket was really closed, not just forgotten.
	// B calls himself "alice": display names are free text, so the page
	// shows each beside its @username.
	var bob struct {
		Token string `json:"token"`
	}
	if code := s.call(t, "POST", "/api/v1/auth/register", "", map[string]string{"username": "bob", "password": "password123", "display_name": "alice"}, &bob); code != http.StatusCreated {
		t.Fatalf("register bob: %d", code)
	}
	bobToken := bob.Token
	aliceToken, aliceID := registerUser(t, s, "alice")
	adminToken := createAdmin(t, s, env)

	b := newBrowser(t, s)
	b.step("open the page", 15*time.Second,
		chromedp.Navigate(s.base+"/"),
		chromedp.WaitVisible(chromedp.ID("auth-username")),
		// Set in the page's JavaScript; a reload would drop it.
		chromedp.Evaluate[chromedp.Void](`window.__sameDocument = true`),
	)
	b.step("a wrong password shows the API's error", 10*time.Second,
		chromedp.SendKeys(chromedp.ID("auth-username"), "alice"),
		chromedp.SendKeys(chromedp.ID("auth-password"), "not-her-password"),
		chromedp.Click(chromedp.ID("login-btn")),
		chromedp.WaitVisible(chromedp.ID("error")),
		b.untilData("error", "code", "unauthenticated"),
	)
	b.step("sign in as A", 10*time.Second,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("auth-password").value = ""`),
		chromedp.SendKeys(chromedp.ID("auth-password"), "password123"),
		chromedp.Click(chromedp.ID("login-btn")),
		chromedp.WaitVisible(chromedp.ID("app")),
		b.until(`document.getElementById("whoami").dataset.userId === "%d"`, aliceID),
		b.untilData("live-status", "state", "open"),
		b.untilData("unread-count", "count", "0"),
		b.untilData("unseen-count", "count", "0"),
	)

	b.step("A writes a post", 10*time.Second,
		chromedp.Click(chromedp.CSS("#new-post summary")),
		chromedp.SendKeys(chromedp.ID("post-title"), "Problem 7: off by one?"),
		chromedp.SendKeys(chromedp.ID("post-body"), "My loop stops one short."),
		chromedp.Click(chromedp.ID("post-submit")),
		b.until(`document.getElementById("post-title-view").textContent === "Problem 7: off by one?"`),
	)
	postID := b.evalInt(`Number(document.getElementById("post").dataset.postId)`)
	// The level selector shows her default on her own post and sets another.
	chooseLevel := func(level string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
			`{ const s = document.getElementById("post-level"); s.value = %q; s.dispatchEvent(new Event("change")); }`, level))
	}
	b.step("A's level on her post is watching, and she sets normal", 10*time.Second,
		b.until(`document.getElementById("post-level").value === "watching"`),
		chooseLevel("normal"),
		b.until(`!document.getElementById("post-level").disabled`),
	)
	var sub struct {
		Level    string `json:"level"`
		Explicit bool   `json:"explicit"`
	}
	awaitLevel := func(level string) {
		t.Helper()
		eventually(t, 10*time.Second, func() error {
			s.call(t, "GET", fmt.Sprintf("/api/v1/posts/%d/subscription", postID), aliceToken, nil, &sub)
			if sub.Level != level || !sub.Explicit {
				return fmt.Errorf("A's subscription %+v, want %s set explicitly", sub, level)
			}
			return nil
		})
	}
	awaitLevel("normal")
	b.step("A watches her post again", 10*time.Second, chooseLevel("watching"))
	awaitLevel("watching")
	b.step("A comments", 10*time.Second,
		chromedp.SendKeys(chromedp.ID("comment-body"), "Here is what I tried."),
		chromedp.Click(chromedp.ID("comment-submit")),
		b.until(`document.querySelector('#comments [data-testid="comment"]')`),
	)
	commentID := b.evalInt(`Number(document.querySelector('#comments [data-testid="comment"]').dataset.commentId)`)

	// B replies over REST: the bell changes without a reload, and the reply
	// appears under A's comment on the open post.
	reply1 := s.replyTo(t, bobToken, postID, commentID, "Start the loop at zero.")
	// Opening the bell clears its badge (the unseen count) and reads nothing.
	b.step("the bell shows B's reply live", 10*time.Second,
		b.untilData("unseen-count", "count", "1"),
		b.untilData("unread-count", "count", "1"),
		b.until(`document.querySelector('li[data-comment-id="%d"] .replies li[data-comment-id="%d"]')`, commentID, reply1),
		chromedp.Click(chromedp.ID("bell")),
		chromedp.WaitVisible(chromedp.ID("notification-list")),
		b.until(`document.querySelectorAll('#notification-list [data-testid="notification"]').length === 1`),
		b.untilData("unseen-count", "count", "0"),
		b.untilData("unread-count", "count", "1"),
		b.until(`document.querySelector('li[data-comment-id="%d"] .replies li[data-comment-id="%d"]').textContent.includes("\u2068alice\u2069 @bob")`, commentID, reply1),
		b.until(`document.querySelector('#notification-list [data-testid="notification"]').textContent.includes("\u2068alice\u2069 @bob")`),
		b.until(`document.getElementById("whoami").textContent === "Signed in as @alice"`),
	)

	// A goes offline: the page closes its socket, and the server sees it go.
	framesBefore := b.disconnect(adminToken)
	s.replyTo(t, bobToken, postID, commentID, "Or compare with <=.")
	reply3 := s.replyTo(t, bobToken, postID, commentID, "Either works.")
	if got := b.evalInt(`Number(document.getElementById("unread-count").dataset.count)`); got != 1 {
		t.Fatalf("the bell shows %d while offline, want 1: the socket was still open", got)
	}

	// A comes back: the client resumes with since and the server replays the
	// two it missed, which are new on the badge; the list shows the three
	// replies to A's comment as one group.
	b.step("A reconnects and catches up", 15*time.Second,
		chromedp.Evaluate[chromedp.Void](`window.discuss.connect()`),
		b.untilData("live-status", "state", "open"),
		b.untilData("unread-count", "count", "3"),
		b.untilData("unseen-count", "count", "2"),
		b.until(`document.querySelector('#notification-list [data-testid="notification"][data-count="3"][data-comment-id="%d"]')`, commentID),
		b.until(`document.querySelector('#notification-list [data-testid="notification"]').textContent.includes("\u2068alice\u2069 @bob (3 times) replied to your comment")`),
	)
	// Mark all read: the server's unread_count frame comes after everything
	// queued on the socket before it, so once it is here, any duplicate of
	// the replay would have arrived too.
	b.step("A marks all read", 10*time.Second,
		chromedp.Click(chromedp.ID("mark-all-read")),
		b.until(`window.discuss.frames.slice(%d).some((f) => f.type === "unread_count" && f.unread_count === 0)`, framesBefore),
		b.untilData("unread-count", "count", "0"),
		b.until(`document.querySelectorAll('#notification-list [data-read="false"]').length === 0`),
	)

	list := evalIn[[]shownGroup](b, `[...document.querySelectorAll('#notification-list [data-testid="notification"]')]
		.map((li) => ({ids: li.dataset.notificationIds, comment_id: li.dataset.commentId}))`)
	if len(list) != 1 {
		t.Fatalf("the list shows %+v, want one group", list)
	}
	ids := strings.Split(list[0].IDs, ",")
	slices.Sort(ids)
	if len(slices.Compact(ids)) != 3 || list[0].CommentID != fmt.Sprint(commentID) {
		t.Fatalf("the list shows a group %+v, want 3 distinct notifications about comment %d", list[0], commentID)
	}

	// What the socket delivered after the reconnection: the two missed
	// notifications, replayed, once each.
	replayed := b.notificationsAfter(framesBefore)
	if len(replayed) != 2 || replayed[0].ID == replayed[1].ID || !replayed[0].Replayed || !replayed[1].Replayed {
		t.Fatalf("after reconnecting the socket sent notification frames %+v, want the two missed ones, replayed, once each", replayed)
	}

	// A answers B in the page; the reply joins the same thread.
	b.step("A replies in the page", 10*time.Second,
		b.replyInPage(fmt.Sprintf(`li[data-comment-id="%d"] [data-testid="reply"]`, reply3), commentID, "Thanks, both work."),
		b.until(`document.querySelectorAll('li[data-comment-id="%d"] .replies li').length === 4`, commentID),
	)

	// Clicking a notification opens its post.
	b.step("a notification opens its post", 10*time.Second,
		chromedp.Click(chromedp.ID("home-link")),
		b.until(`document.getElementById("post").hidden`),
		chromedp.WaitVisible(chromedp.ID("notification-list")), // still open from before
		chromedp.Click(chromedp.CSS(`#notification-list [data-testid="open-notification"]`)),
		b.until(`location.hash === "#/posts/%d" && !document.getElementById("post").hidden`, postID),
		b.until(`document.querySelectorAll('li[data-comment-id="%d"] .replies li').length === 4`, commentID),
	)
	if !b.evalBool(`window.__sameDocument === true`) {
		t.Fatal("the page was reloaded")
	}
	b.wantNoError()

	// A second page on the same post: a reply typed in it appears in the
	// first through the post's live thread (A's own reply notifies nobody),
	// without a reload; so does an edit made over REST.
	second := b.newTab()
	second.step("a second page opens the post", 15*time.Second,
		chromedp.Navigate(fmt.Sprintf("%s/#/posts/%d", s.base, postID)),
		second.untilData("live-status", "state", "open"),
		second.until(`document.querySelectorAll('li[data-comment-id="%d"] .replies li').length === 4`, commentID),
		second.replyInPage(fmt.Sprintf(`li[data-comment-id="%d"] > .comment-actions [data-testid="reply"]`, commentID), commentID, "Typed in the second page."),
	)
	b.step("the reply appears in the first page", 10*time.Second,
		b.until(`[...document.querySelectorAll('li[data-comment-id="%d"] .replies li .body')].some((n) => n.textContent.trim() === "Typed in the second page.")`, commentID),
		b.until(`window.discuss.frames.some((f) => f.type === "comment_created" && f.post_id === %d)`, postID),
	)
	var edited struct {
		ID int64 `json:"id"`
	}
	if code := s.call(t, "PATCH", fmt.Sprintf("/api/v1/comments/%d", commentID), aliceToken, map[string]string{"body": "Here is what I tried, edited."}, &edited); code != http.StatusOK {
		t.Fatalf("edit comment: %d", code)
	}
	for _, page := range []*browser{b, second} {
		page.step("the edit shows in both pages", 10*time.Second,
			page.until(`document.querySelector('li[data-comment-id="%d"] > .body').textContent.trim() === "Here is what I tried, edited."`, commentID),
		)
	}
	if !b.evalBool(`window.__sameDocument === true`) {
		t.Fatal("the first page was reloaded")
	}
	second.close()

	// A opens as many sockets elsewhere as a user may hold: the page's, the
	// oldest, is closed with 4000, and the page stays closed rather than
	// closing another one in turn, until the user asks.
	waitSockets(t, s, adminToken, 1)
	others := make([]*websocket.Conn, 0, 8)
	for range 8 {
		others = append(others, dialHello(t, s, aliceToken))
	}
	b.step("the page gives way to newer connections", 10*time.Second,
		b.untilData("live-status", "state", "replaced"),
		chromedp.WaitVisible(chromedp.ID("reconnect")),
	)
	for _, c := range others {
		_ = c.Close()
	}
	waitSockets(t, s, adminToken, 0)
	b.step("the user resumes", 10*time.Second,
		chromedp.Click(chromedp.ID("reconnect")),
		b.untilData("live-status", "state", "open"),
	)

	// The server restarts (same address and database): the socket closes
	// with 1001, and the client reconnects by itself, backing off while the
	// server is down.
	s.stop(t)
	b.step("the page notices the restart", 10*time.Second,
		b.until(`["waiting", "connecting"].includes(document.getElementById("live-status").dataset.state)`),
	)
	s = startServeForBrowser(t, env)
	b.server = s
	b.step("the page reconnects by itself", 20*time.Second,
		b.untilData("live-status", "state", "open"),
	)
	s.replyTo(t, bobToken, postID, commentID, "Welcome back.")
	b.step("live again after the restart", 10*time.Second,
		b.untilData("unread-count", "count", "1"),
		b.until(`document.querySelector('#notification-list [data-count="4"][data-unread="1"][data-comment-id="%d"]')`, commentID),
	)
}

// TestBrowserEventStreamFallback serves the demo page through a proxy that
// strips Upgrade, as some corporate proxies do: the page's WebSocket cannot
// open (the server answers the plain GET /ws with 400), so the client falls
// back to the event stream (GET /sse) and goes live on it. A reply over
// REST reaches the page live; after a disconnection the client resumes
// with since and receives what it missed, once each; replaced by newer
// connections (the close event, 4000), it stays closed.
func TestBrowserEventStreamFallback(t *testing.T) {
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
	post := s.createPost(t, aliceToken, "Problem 9", "Why TLE?")
	comment := func(body string) { s.comment(t, bobToken, post, body) }

	b := newBrowser(t, s)
	b.step("open the page through the proxy and sign in", 20*time.Second,
		signIn(proxyBase+"/", "alice"),
		b.until(`document.getElementById("whoami").dataset.userId === "%d"`, aliceID),
	)
	b.step("the client falls back to the event stream and goes live", 20*time.Second,
		b.untilData("live-status", "state", "open"),
		b.untilData("live-status", "transport", "eventsource"),
		b.untilData("unread-count", "count", "0"),
	)
	waitSockets(t, s, adminToken, 1)

	comment("Use a faster reader.")
	b.step("a reply arrives live on the stream", 10*time.Second,
		b.untilData("unread-count", "count", "1"),
		b.until(`window.discuss.frames.some((f) => f.type === "notification" && !f.replayed)`),
	)

	framesBefore := b.disconnect(adminToken)
	comment("Or read it all at once.")
	comment("And print once.")
	b.step("A reconnects on the stream and catches up", 15*time.Second,
		chromedp.Evaluate[chromedp.Void](`window.discuss.connect()`),
		b.untilData("live-status", "state", "open"),
		b.untilData("live-status", "transport", "eventsource"),
		b.untilData("unread-count", "count", "3"),
	)
	replayed := b.notificationsAfter(framesBefore)
	if len(replayed) != 2 || replayed[0].ID >= replayed[1].ID || !replayed[0].Replayed || !replayed[1].Replayed {
		t.Fatalf("after reconnecting the stream sent notification frames %+v, want the two missed ones, replayed, in order, once each", replayed)
	}
	b.wantNoError()

	// A opens as many connections elsewhere as a user may hold: the
	// page's stream, the oldest, gets the close event with 4000, and the
	// client stays closed instead of letting its EventSource reconnect
	// and close another in turn.
	for range 8 {
		dialHello(t, s, aliceToken)
	}
	b.step("the stream gives way to newer connections", 10*time.Second,
		b.untilData("live-status", "state", "replaced"),
	)
	waitSockets(t, s, adminToken, 8)
}
