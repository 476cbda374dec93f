package main

// Headless Chromium driving the demo page, for the browser tests.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// findChromium returns the path of a Chromium or Chrome binary. Without
// one it skips the test, or fails it under CI, as deliverytest does
// without mailpit.
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
	const missing = "no Chromium found (looked for chromium, chromium-browser, google-chrome in PATH and /usr/bin/chromium); " +
		"install it with `apt-get install chromium` to run the browser tests"
	if os.Getenv("CI") != "" {
		t.Fatal(missing)
	}
	t.Skip(missing)
	return ""
}

// startServeForBrowser is startServe for a browser test, which it skips
// first when there is no Chromium, with the page's own origin allowed to
// open /ws: that needs the address before the server starts.
func startServeForBrowser(t *testing.T, env map[string]string) *server {
	t.Helper()
	findChromium(t)
	if env["DISCUSS_SERVER_ADDR"] == "" {
		env["DISCUSS_SERVER_ADDR"] = freeAddr(t)
	}
	env["DISCUSS_WEBSOCKET_ALLOWED_ORIGINS"] = "http://" + env["DISCUSS_SERVER_ADDR"]
	return startServe(t, env)
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
// fresh profile, for the page that s serves. When the test fails, it saves
// a screenshot and logs its path with the page's console and the server's
// log.
func newBrowser(t *testing.T, s *server) *browser {
	t.Helper()
	chrome := findChromium(t)
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

// signIn opens url and signs in as username, whose password is the one
// registerUser gives, then waits for the signed-in page.
func signIn(url, username string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.ID("auth-username")),
		chromedp.SendKeys(chromedp.ID("auth-username"), username),
		chromedp.SendKeys(chromedp.ID("auth-password"), "password123"),
		chromedp.Click(chromedp.ID("login-btn")),
		chromedp.WaitVisible(chromedp.ID("app")),
	)
}

// untilData waits until the element with id has value in its data-key
// attribute: the page's live state ("live-status", "state") and its counts
// ("unread-count", "count").
func (b *browser) untilData(id, key, value string) chromedp.Action[chromedp.Void] {
	return b.until(`document.getElementById(%q).dataset.%s === %q`, id, key, value)
}

// disconnect closes the page's live connection, waits until the server
// sees it go, and returns how many frames the page had logged before.
func (b *browser) disconnect(adminToken string) int64 {
	b.t.Helper()
	before := b.evalInt(`window.discuss.frames.length`)
	b.step("A disconnects", 10*time.Second,
		chromedp.Evaluate[chromedp.Void](`window.discuss.disconnect()`),
		b.untilData("live-status", "state", "offline"),
	)
	waitSockets(b.t, b.server, adminToken, 0)
	return before
}

// notificationsAfter returns the notification frames the page logged
// after its first n frames.
func (b *browser) notificationsAfter(n int64) []notificationFrame {
	b.t.Helper()
	return evalIn[[]notificationFrame](b, fmt.Sprintf(`window.discuss.frames.slice(%d).filter((f) => f.type === "notification")`, n))
}

// replyInPage clicks the reply button that the CSS selector button names,
// then sends text from the reply box of the thread of comment root. Live
// updates may re-render the thread at any moment, so each interaction
// finds its element and acts in one evaluation, retried until the element
// is there, instead of holding a node that can be replaced.
func (b *browser) replyInPage(button string, root int64, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		b.until(`(() => {
			const btn = document.querySelector(%q);
			if (!btn) return false;
			btn.click();
			return true;
		})()`, button),
		b.until(`(() => {
			const box = document.getElementById("reply-body-%d");
			const send = document.querySelector('li[data-comment-id="%d"] .reply-submit');
			if (!box || !send) return false;
			box.value = %q;
			box.dispatchEvent(new Event("input", {bubbles: true}));
			send.click();
			return true;
		})()`, root, root, text),
	)
}

// wantNoError fails the test when the page shows an error.
func (b *browser) wantNoError() {
	b.t.Helper()
	if msg := b.evalString(`document.getElementById("error").hidden ? "" : document.getElementById("error-text").textContent`); msg != "" {
		b.t.Fatalf("the page shows an error: %s", msg)
	}
}
