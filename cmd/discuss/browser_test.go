package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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
	chrome := findChromium(t)
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

	b := newBrowser(t, chrome, s)
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
		b.until(`document.getElementById("error").dataset.code === "unauthenticated"`),
	)
	b.step("sign in as A", 10*time.Second,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("auth-password").value = ""`),
		chromedp.SendKeys(chromedp.ID("auth-password"), "password123"),
		chromedp.Click(chromedp.ID("login-btn")),
		chromedp.WaitVisible(chromedp.ID("app")),
		b.until(`document.getElementById("whoami").dataset.userId === "%d"`, aliceID),
		b.until(`document.getElementById("live-status").dataset.state === "open"`),
		b.until(`document.getElementById("unread-count").dataset.count === "0"`),
		b.until(`document.getElementById("unseen-count").dataset.count === "0"`),
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
		deadline := time.Now().Add(10 * time.Second)
		for {
			s.call(t, "GET", fmt.Sprintf("/api/v1/posts/%d/subscription", postID), aliceToken, nil, &sub)
			if sub.Level == level && sub.Explicit {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("A's subscription %+v, want %s set explicitly", sub, level)
			}
			time.Sleep(20 * time.Millisecond) // polling interval
		}
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
	reply1 := replyTo(t, s, bobToken, postID, commentID, "Start the loop at zero.")
	// Opening the bell clears its badge (the unseen count) and reads nothing.
	b.step("the bell shows B's reply live", 10*time.Second,
		b.until(`document.getElementById("unseen-count").dataset.count === "1"`),
		b.until(`document.getElementById("unread-count").dataset.count === "1"`),
		b.until(`document.querySelector('li[data-comment-id="%d"] .replies li[data-comment-id="%d"]')`, commentID, reply1),
		chromedp.Click(chromedp.ID("bell")),
		chromedp.WaitVisible(chromedp.ID("notification-list")),
		b.until(`document.querySelectorAll('#notification-list [data-testid="notification"]').length === 1`),
		b.until(`document.getElementById("unseen-count").dataset.count === "0"`),
		b.until(`document.getElementById("unread-count").dataset.count === "1"`),
		b.until(`document.querySelector('li[data-comment-id="%d"] .replies li[data-comment-id="%d"]').textContent.includes("\u2068alice\u2069 @bob")`, commentID, reply1),
		b.until(`document.querySelector('#notification-list [data-testid="notification"]').textContent.includes("\u2068alice\u2069 @bob")`),
		b.until(`document.getElementById("whoami").textContent === "Signed in as @alice"`),
	)

	// A goes offline: the page closes its socket, and the server sees it go.
	framesBefore := b.evalInt(`window.discuss.frames.length`)
	b.step("A disconnects", 10*time.Second,
		chromedp.Evaluate[chromedp.Void](`window.discuss.disconnect()`),
		b.until(`document.getElementById("live-status").dataset.state === "offline"`),
	)
	waitSockets(t, s, adminToken, 0)

	replyTo(t, s, bobToken, postID, commentID, "Or compare with <=.")
	reply3 := replyTo(t, s, bobToken, postID, commentID, "Either works.")
	if got := b.evalInt(`Number(document.getElementById("unread-count").dataset.count)`); got != 1 {
		t.Fatalf("the bell shows %d while offline, want 1: the socket was still open", got)
	}

	// A comes back: the client resumes with since and the server replays the
	// two it missed, which are new on the badge; the list shows the three
	// replies to A's comment as one group.
	b.step("A reconnects and catches up", 15*time.Second,
		chromedp.Evaluate[chromedp.Void](`window.discuss.connect()`),
		b.until(`document.getElementById("live-status").dataset.state === "open"`),
		b.until(`document.getElementById("unread-count").dataset.count === "3"`),
		b.until(`document.getElementById("unseen-count").dataset.count === "2"`),
		b.until(`document.querySelector('#notification-list [data-testid="notification"][data-count="3"][data-comment-id="%d"]')`, commentID),
		b.until(`document.querySelector('#notification-list [data-testid="notification"]').textContent.includes("\u2068alice\u2069 @bob (3 times) replied to your comment")`),
	)
	// Mark all read: the server's unread_count frame comes after everything
	// queued on the socket before it, so once it is here, any duplicate of
	// the replay would have arrived too.
	b.step("A marks all read", 10*time.Second,
		chromedp.Click(chromedp.ID("mark-all-read")),
		b.until(`window.discuss.frames.slice(%d).some((f) => f.type === "unread_count" && f.unread_count === 0)`, framesBefore),
		b.until(`document.getElementById("unread-count").dataset.count === "0"`),
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
	replayed := evalIn[[]notificationFrame](b, fmt.Sprintf(`window.discuss.frames.slice(%d).filter((f) => f.type === "notification")`, framesBefore))
	if len(replayed) != 2 || replayed[0].ID == replayed[1].ID || !replayed[0].Replayed || !replayed[1].Replayed {
		t.Fatalf("after reconnecting the socket sent notification frames %+v, want the two missed ones, replayed, once each", replayed)
	}

	// A answers B in the page; the reply joins the same thread. Live
	// updates may re-render the thread at any moment, so each interaction
	// finds its element and acts in one evaluation, retried until the
	// element is there, instead of holding a node that can be replaced.
	b.step("A replies in the page", 10*time.Second,
		b.until(`(() => {
			const btn = document.querySelector('li[data-comment-id="%d"] [data-testid="reply"]');
			if (!btn) return false;
			btn.click();
			return true;
		})()`, reply3),
		b.until(`(() => {
			const box = document.getElementById("reply-body-%d");
			const send = document.querySelector('li[data-comment-id="%d"] .reply-submit');
			if (!box || !send) return false;
			box.value = "Thanks, both work.";
			box.dispatchEvent(new Event("input", {bubbles: true}));
			send.click();
			return true;
		})()`, commentID, commentID),
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
	if msg := b.evalString(`document.getElementById("error").hidden ? "" : document.getElementById("error-text").textContent`); msg != "" {
		t.Fatalf("the page shows an error: %s", msg)
	}

	// A second page on the same post: a reply typed in it appears in the
	// first through the post's live thread (A's own reply notifies nobody),
	// without a reload; so does an edit made over REST.
	second := b.newTab()
	second.step("a second page opens the post", 15*time.Second,
		chromedp.Navigate(fmt.Sprintf("%s/#/posts/%d", s.base, postID)),
		second.until(`document.getElementById("live-status").dataset.state === "open"`),
		second.until(`document.querySelectorAll('li[data-comment-id="%d"] .replies li').length === 4`, commentID),
		second.until(`(() => {
			const btn = document.querySelector('li[data-comment-id="%d"] > .comment-actions [data-testid="reply"]');
			if (!btn) return false;
			btn.click();
			return true;
		})()`, commentID),
		second.until(`(() => {
			const box = document.getElementById("reply-body-%d");
			const send = document.querySelector('li[data-comment-id="%d"] .reply-submit');
			if (!box || !send) return false;
			box.value = "Typed in the second page.";
			send.click();
			return true;
		})()`, commentID, commentID),
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
		b.until(`document.getElementById("live-status").dataset.state === "replaced"`),
		chromedp.WaitVisible(chromedp.ID("reconnect")),
	)
	for _, c := range others {
		_ = c.Close()
	}
	waitSockets(t, s, adminToken, 0)
	b.step("the user resumes", 10*time.Second,
		chromedp.Click(chromedp.ID("reconnect")),
		b.until(`document.getElementById("live-status").dataset.state === "open"`),
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
		b.until(`document.getElementById("live-status").dataset.state === "open"`),
	)
	replyTo(t, s, bobToken, postID, commentID, "Welcome back.")
	b.step("live again after the restart", 10*time.Second,
		b.until(`document.getElementById("unread-count").dataset.count === "1"`),
		b.until(`document.querySelector('#notification-list [data-count="4"][data-unread="1"][data-comment-id="%d"]')`, commentID),
	)
}

// findChromium returns the path of a Chromium or Chrome binary, or skips
// the test when there is none.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	t.Skip("no Chromium found (looked for chromium, chromium-browser, google-chrome in PATH and /usr/bin/chromium); " +
		"install it with `apt-get install chromium` to run the browser test")
	return ""
}

// startServeForBrowser is startServe with the page's own origin allowed to
// open /ws, which needs the address before the server starts.
func startServeForBrowser(t *testing.T, env map[string]string) *server {
	t.Helper()
	if env["DISCUSS_SERVER_ADDR"] == "" {
		env["DISCUSS_SERVER_ADDR"] = freeAddr(t)
	}
	env["DISCUSS_WEBSOCKET_ALLOWED_ORIGINS"] = "http://" + env["DISCUSS_SERVER_ADDR"]
	return startServe(t, env)
}

// replyTo posts a reply to comment parent and returns its id.
func replyTo(t *testing.T, s *server, token string, postID, parent int64, body string) int64 {
	t.Helper()
	var c struct {
		ID int64 `json:"id"`
	}
	path := fmt.Sprintf("/api/v1/posts/%d/comments", postID)
	if code := s.call(t, "POST", path, token, map[string]any{"body": body, "parent_id": parent}, &c); code != http.StatusCreated {
		t.Fatalf("reply to comment %d: %d", parent, code)
	}
	return c.ID
}

// waitSockets polls the admin API until the server holds want sockets.
func waitSockets(t *testing.T, s *server, adminToken string, want int) {
	t.Helper()
	const timeout = 10 * time.Second
	deadline := time.Now().Add(timeout)
	for {
		var online struct {
			Connections int `json:"connections"`
		}
		if code := s.call(t, "GET", "/api/v1/admin/online", adminToken, nil, &online); code != http.StatusOK {
			t.Fatalf("admin/online: %d", code)
		}
		if online.Connections == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server holds %d sockets after %v, want %d", online.Connections, timeout, want)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
}

// browser is one headless Chromium tab for a test.
type browser struct {
	t      *testing.T
	ctx    context.Context
	server *server // whose log to show on failure
	cancel context.CancelFunc

	mu      sync.Mutex
	console []string
}

// newBrowser starts Chromium with the flags this machine needs (no
// sandbox as root, no background networking on a closed network) and a
// fresh profile. When the test fails, it saves a screenshot and logs its
// path with the page's console and the server's log.
func newBrowser(t *testing.T, chrome string, s *server) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	b := &browser{t: t, ctx: ctx, server: s}
	// The first action starts the browser; it must not carry a timeout,
	// which would end the browser with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium %s: %v", chrome, err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m.String())
			b.mu.Unlock()
		}
	}()
	// Registered after the browser's cleanup, so it runs before it.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		b.screenshot()
		b.mu.Lock()
		t.Logf("browser console:\n%s", strings.Join(b.console, "\n"))
		b.mu.Unlock()
		t.Logf("server log:\n%s", b.server.stderr)
	})
	return b
}

// newTab opens another tab of the same browser (same profile: the same
// signed-in user), closed by close or with the browser.
func (b *browser) newTab() *browser {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("open a tab: %v", err)
	}
	tab := &browser{t: b.t, ctx: ctx, server: b.server, cancel: cancel}
	b.t.Cleanup(cancel)
	return tab
}

// close closes a tab opened by newTab.
func (b *browser) close() { b.cancel() }

// step runs actions with one timeout for all, and fails the test naming
// the step and the action (counted from 1) that failed.
func (b *browser) step(name string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	for i, a := range actions {
		if _, err := chromedp.Run(ctx, a); err != nil {
			b.t.Fatalf("%s: action %d of %d: %v", name, i+1, len(actions), err)
		}
	}
}

// until waits, within the step's timeout, for a JavaScript condition
// (formatted with args) to be true in the page.
func (b *browser) until(cond string, args ...any) chromedp.Action[chromedp.Void] {
	expr := fmt.Sprintf(cond, args...)
	poll := chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(0))
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		v, err := poll(ctx, t)
		if err != nil {
			return v, fmt.Errorf("waiting for %s: %w", expr, err)
		}
		return v, nil
	}
}

// evalIn evaluates a JavaScript expression in the page and decodes its value.
func evalIn[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (b *browser) evalInt(expr string) int64     { b.t.Helper(); return evalIn[int64](b, expr) }
func (b *browser) evalBool(expr string) bool     { b.t.Helper(); return evalIn[bool](b, expr) }
func (b *browser) evalString(expr string) string { b.t.Helper(); return evalIn[string](b, expr) }

// shownGroup is an item of the page's notification list: a group, with its
// notification ids comma-separated.
type shownGroup struct {
	IDs       string `json:"ids"`
	CommentID string `json:"comment_id"`
}

// notificationFrame is a notification frame as the page logged it.
type notificationFrame struct {
	ID       int64 `json:"id"`
	Replayed bool  `json:"replayed"`
}

// screenshot saves the page as a PNG in a folder that outlives the test
// (t.TempDir would be removed with it) and logs the path.
func (b *browser) screenshot() {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("no screenshot: %v", err)
		return
	}
	dir, err := os.MkdirTemp("", "discuss-browser-test-")
	if err == nil {
		path := filepath.Join(dir, "failure.png")
		if err = os.WriteFile(path, png, 0o644); err == nil {
			b.t.Logf("screenshot of the page at failure: %s", path)
			return
		}
	}
	b.t.Logf("could not save the screenshot: %v", err)
}
