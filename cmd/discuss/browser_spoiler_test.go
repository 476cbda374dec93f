package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserSpoiler: on the demo page a spoiler post and a spoiler
// comment are blurred until the reader clicks each, and a new comment
// marked as a spoiler in the page comes back blurred.
func TestBrowserSpoiler(t *testing.T) {
	chrome := findChromium(t)
	s := startServeForBrowser(t, databaseEnv(t))
	bobToken, _ := registerUser(t, s, "bob")
	registerUser(t, s, "alice")
	var post, comment struct {
		ID int64 `json:"id"`
	}
	if code := s.call(t, "POST", "/api/v1/posts", bobToken, map[string]any{"title": "Problem 9", "body": "the answer is 42", "spoiler": true}, &post); code != http.StatusCreated {
		t.Fatalf("post: %d", code)
	}
	if code := s.call(t, "POST", fmt.Sprintf("/api/v1/posts/%d/comments", post.ID), bobToken, map[string]any{"body": "or 41", "spoiler": true}, &comment); code != http.StatusCreated {
		t.Fatalf("comment: %d", code)
	}
	// Conditions on the element a selector names.
	const (
		blurred = `(() => { const n = document.querySelector(%q); return n !== null && n.classList.contains("spoiler") && getComputedStyle(n).filter.includes("blur"); })()`
		clear   = `(() => { const n = document.querySelector(%q); return n !== null && !n.classList.contains("spoiler") && getComputedStyle(n).filter === "none"; })()`
	)
	commentBody := fmt.Sprintf(`li[data-comment-id="%d"] > .body`, comment.ID)
	b := newBrowser(t, chrome, s)
	b.step("sign in and open the post", 15*time.Second,
		chromedp.Navigate(s.base+fmt.Sprintf("/#/posts/%d", post.ID)),
		chromedp.WaitVisible(chromedp.ID("auth-username")),
		chromedp.SendKeys(chromedp.ID("auth-username"), "alice"),
		chromedp.SendKeys(chromedp.ID("auth-password"), "password123"),
		chromedp.Click(chromedp.ID("login-btn")),
		chromedp.WaitVisible(chromedp.ID("app")),
		b.until(`document.getElementById("post-title-view").textContent === "Problem 9"`),
	)
	b.step("both are blurred", 10*time.Second,
		b.until(blurred, "#post-body-view"),
		b.until(blurred, commentBody),
	)
	b.step("a click reveals the post, and only the post", 10*time.Second,
		chromedp.Click(chromedp.ID("post-body-view")),
		b.until(clear, "#post-body-view"),
		b.until(blurred, commentBody),
	)
	b.step("a click reveals the comment", 10*time.Second,
		chromedp.Click(chromedp.CSS(commentBody)),
		b.until(clear, commentBody),
	)
	b.step("a comment marked as a spoiler in the page is blurred", 10*time.Second,
		chromedp.SendKeys(chromedp.ID("comment-body"), "it is 43"),
		chromedp.Click(chromedp.ID("comment-spoiler")),
		chromedp.Click(chromedp.ID("comment-submit")),
		b.until(`[...document.querySelectorAll("#comments > li > .body")].some((n) => n.textContent.trim() === "it is 43" && n.classList.contains("spoiler"))`),
	)
}
