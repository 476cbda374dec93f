package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserRichTextAndControls drives the demo page in headless Chromium:
// a post's body_html is shown (highlighted code in the colours of
// highlight.css, a table, a mention linking to the user's posts), counts
// say "1 comment", and the like, mute, edit and delete controls of posts
// and comments act through the API, which the test checks over REST.
// Then, at a phone's width (390 px), the top bar keeps to one line.
func TestBrowserRichTextAndControls(t *testing.T) {
	s := startServeForBrowser(t, databaseEnv(t))
	aliceToken, aliceID := registerUser(t, s, "alice")
	bobToken, bobID := registerUser(t, s, "bob")
	body := "Ask @bob:\n\n```go\nfunc main() {}\n```\n\n| n | f(n) |\n|---|---|\n| 1 | 1 |"
	post := s.createPost(t, aliceToken, "Rich", body)
	bobPost := s.createPost(t, bobToken, "Bob's own", "x")
	bobComment := s.comment(t, bobToken, post, "see `x`")
	path := fmt.Sprintf("/api/v1/posts/%d", post)

	b := newBrowser(t, s)
	b.step("sign in as alice and open her post", 15*time.Second,
		signIn(s.base+"/", "alice"),
		b.until(`document.getElementById("whoami").dataset.userId === "%d"`, aliceID),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = "#/posts/%d"`, post)),
		b.until(`document.getElementById("post-title-view").textContent === "Rich"`),
	)
	b.step("the body is body_html, highlighted", 10*time.Second,
		b.until(`document.querySelector('#post-body-view pre.chroma .kd')?.textContent === "func"`),
		// highlight.css is loaded: a keyword is not in the code's own colour.
		b.until(`(() => { const k = document.querySelector('#post-body-view .kd'); const pre = k.closest("pre");
			return getComputedStyle(k).color !== getComputedStyle(pre).color; })()`),
		b.until(`document.querySelectorAll('#post-body-view table td').length === 2`),
		b.until(`document.querySelector('#post-body-view a.mention')?.getAttribute("href") === "/#/users/%d"`, bobID),
		b.until(`document.getElementById("post-meta").textContent.endsWith("· 1 comment · 0 likes")`),
	)

	b.step("the mention opens bob's posts", 10*time.Second,
		chromedp.Click(chromedp.CSS("#post-body-view a.mention")),
		b.until(`location.hash === "#/users/%d"`, bobID),
		b.until(`!document.getElementById("posts-filter").hidden`),
		b.until(`document.getElementById("posts-filter-name").textContent === "@bob"`),
		b.until(`[...document.querySelectorAll('#posts [data-testid="post-item"]')].map((li) => li.dataset.postId).join() === "%d"`, bobPost),
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/"`),
		b.until(`document.getElementById("posts-filter").hidden`),
		b.until(`document.querySelectorAll('#posts [data-testid="post-item"]').length === 2`),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = "#/posts/%d"`, post)),
		b.until(`document.getElementById("post-title-view").textContent === "Rich" && !document.getElementById("post").hidden`),
	)

	b.step("alice likes her post, then unlikes it", 10*time.Second,
		chromedp.Click(chromedp.ID("post-like")),
		b.until(`document.getElementById("post-like").dataset.liked === "true" && document.getElementById("post-like").dataset.count === "1"`),
		b.until(`document.getElementById("post-meta").textContent.endsWith("· 1 comment · 1 like")`),
	)
	var got struct {
		Body      string `json:"body"`
		BodyHTML  string `json:"body_html"`
		Liked     bool   `json:"liked"`
		LikeCount int64  `json:"like_count"`
		Muted     bool   `json:"muted"`
	}
	if s.call(t, "GET", path, aliceToken, nil, &got); !got.Liked || got.LikeCount != 1 {
		t.Fatalf("after the like the post is %+v", got)
	}
	b.step("unlike", 10*time.Second,
		chromedp.Click(chromedp.ID("post-like")),
		b.until(`document.getElementById("post-like").dataset.liked === "false" && document.getElementById("post-like").dataset.count === "0"`),
	)
	if s.call(t, "GET", path, aliceToken, nil, &got); got.Liked || got.LikeCount != 0 {
		t.Fatalf("after the unlike the post is %+v", got)
	}

	b.step("alice mutes her post", 10*time.Second,
		chromedp.Click(chromedp.ID("post-mute")),
		b.until(`document.getElementById("post-mute").textContent === "Unmute"`),
		b.until(`document.getElementById("post-level").value === "muted"`),
	)
	if s.call(t, "GET", path, aliceToken, nil, &got); !got.Muted {
		t.Fatalf("after mute the post is %+v", got)
	}
	b.step("and unmutes it", 10*time.Second,
		chromedp.Click(chromedp.ID("post-mute")),
		b.until(`document.getElementById("post-mute").textContent === "Mute"`),
		b.until(`document.getElementById("post-level").value === "watching"`),
	)

	b.step("alice edits her post", 10*time.Second,
		chromedp.Click(chromedp.ID("post-edit")),
		chromedp.WaitVisible(chromedp.ID("post-edit-form")),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("post-edit-body").value = "now **bold**"`),
		chromedp.Click(chromedp.ID("post-edit-save")),
		b.until(`document.querySelector('#post-body-view strong')?.textContent === "bold"`),
		b.until(`document.getElementById("post-edit-form").hidden`),
	)
	if s.call(t, "GET", path, aliceToken, nil, &got); got.Body != "now **bold**" || got.BodyHTML != "<p>now <strong>bold</strong></p>\n" {
		t.Fatalf("after the edit the post is %+v", got)
	}

	// bob's comment: alice may like it, not edit or delete it.
	bobLi := fmt.Sprintf(`document.querySelector('li[data-comment-id="%d"]')`, bobComment)
	b.step("alice's controls on bob's comment", 10*time.Second,
		b.until(`%s?.querySelector(".body code")?.textContent === "x"`, bobLi),
		b.until(`!%s.querySelector('[data-testid="comment-edit"]') && !%s.querySelector('[data-testid="comment-delete"]')`, bobLi, bobLi),
		chromedp.Evaluate[chromedp.Void](bobLi+`.querySelector('[data-testid="comment-like"]').click()`),
		b.until(`%s.querySelector('[data-testid="comment-like"]').dataset.count === "1"`, bobLi),
	)
	var c struct {
		Body      string `json:"body"`
		BodyHTML  string `json:"body_html"`
		Liked     bool   `json:"liked"`
		LikeCount int64  `json:"like_count"`
	}
	if s.call(t, "GET", fmt.Sprintf("/api/v1/comments/%d", bobComment), aliceToken, nil, &c); !c.Liked || c.LikeCount != 1 {
		t.Fatalf("after the like bob's comment is %+v", c)
	}

	b.step("alice comments, and edits her comment", 15*time.Second,
		chromedp.SendKeys(chromedp.ID("comment-body"), "first *try*"),
		chromedp.Click(chromedp.ID("comment-submit")),
		b.until(`document.querySelectorAll('#comments > li').length === 2`),
		b.until(`document.getElementById("post-meta").textContent.endsWith("· 2 comments · 0 likes")`),
		b.until(`(() => { const btn = document.querySelector('#comments > li:last-child [data-testid="comment-edit"]');
			if (!btn) return false; btn.click(); return true; })()`),
		b.until(`(() => { const f = document.querySelector('[data-testid="comment-edit-form"]'); if (!f) return false;
			f.querySelector("textarea").value = "second ~~try~~"; f.querySelector('[data-testid="comment-edit-save"]').click(); return true; })()`),
		b.until(`document.querySelector('#comments > li:last-child .body del')?.textContent === "try"`),
	)
	mine := b.evalInt(`Number(document.querySelector('#comments > li:last-child').dataset.commentId)`)
	if s.call(t, "GET", fmt.Sprintf("/api/v1/comments/%d", mine), aliceToken, nil, &c); c.Body != "second ~~try~~" {
		t.Fatalf("after the edit alice's comment is %+v", c)
	}
	// Saving the edit reloads the thread, which may land after the edit's
	// live echo has shown it, so after the step above, and a reloaded
	// thread has new delete buttons, which have forgotten a first click.
	// So each click goes to the button of the moment, in one evaluation,
	// retried: one click must only ask, and one more must delete.
	del := fmt.Sprintf(`document.querySelector('li[data-comment-id="%d"] [data-testid="comment-delete"]')`, mine)
	b.step("alice deletes her comment (two clicks)", 10*time.Second,
		b.until(`(() => { const btn = %s; if (!btn) return false;
			if (btn.textContent !== "Really delete?") btn.click(); return btn.textContent === "Really delete?"; })()`, del),
		b.until(`(() => { const btn = %s; if (!btn) return true; btn.click(); return false; })()`, del),
	)
	if code := s.call(t, "GET", fmt.Sprintf("/api/v1/comments/%d", mine), aliceToken, nil, nil); code != http.StatusNotFound {
		t.Fatalf("GET of the deleted comment: %d, want 404", code)
	}

	b.step("alice deletes her post", 10*time.Second,
		chromedp.Click(chromedp.ID("post-delete")),
		b.until(`document.getElementById("post-delete").textContent === "Really delete?"`),
		chromedp.Click(chromedp.ID("post-delete")),
		b.until(`location.hash === "#/" && document.getElementById("post").hidden`),
		b.until(`[...document.querySelectorAll('#posts [data-testid="post-item"]')].map((li) => li.dataset.postId).join() === "%d"`, bobPost),
	)
	if code := s.call(t, "GET", path, aliceToken, nil, nil); code != http.StatusNotFound {
		t.Fatalf("GET of the deleted post: %d, want 404", code)
	}

	// At 390 px, with a post open, the brand, the live status, the bell,
	// the user and the sign-out button share one line, and nothing
	// overflows sideways.
	b.step("the top bar keeps to one line at 390 px", 10*time.Second,
		chromedp.EmulateViewport(390, 800),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = "#/posts/%d"`, bobPost)),
		b.until(`document.getElementById("post-title-view").textContent === "Bob's own" && !document.getElementById("post").hidden`),
		b.until(`document.documentElement.clientWidth === 390`),
		b.until(`(() => {
			const rects = [...document.querySelectorAll(".topbar h1, .session > :not([hidden])")].map((e) => e.getBoundingClientRect());
			const mids = rects.map((r) => (r.top + r.bottom) / 2);
			return rects.length >= 4 && Math.max(...mids) - Math.min(...mids) < 8 &&
				Math.max(...rects.map((r) => r.right)) <= 390 && document.documentElement.scrollWidth <= 390;
		})()`),
	)
	b.wantNoError()
}

// TestBrowserSpoiler: on the demo page a spoiler post and a spoiler
// comment are blurred until the reader clicks each, and a new comment
// marked as a spoiler in the page comes back blurred.
func TestBrowserSpoiler(t *testing.T) {
	s := startServeForBrowser(t, databaseEnv(t))
	bobToken, _ := registerUser(t, s, "bob")
	registerUser(t, s, "alice")
	post := s.create(t, bobToken, "/api/v1/posts", map[string]any{"title": "Problem 9", "body": "the answer is 42", "spoiler": true})
	comment := s.create(t, bobToken, fmt.Sprintf("/api/v1/posts/%d/comments", post), map[string]any{"body": "or 41", "spoiler": true})
	// Conditions on the element a selector names.
	const (
		blurred = `(() => { const n = document.querySelector(%q); return n !== null && n.classList.contains("spoiler") && getComputedStyle(n).filter.includes("blur"); })()`
		clear   = `(() => { const n = document.querySelector(%q); return n !== null && !n.classList.contains("spoiler") && getComputedStyle(n).filter === "none"; })()`
	)
	commentBody := fmt.Sprintf(`li[data-comment-id="%d"] > .body`, comment)
	b := newBrowser(t, s)
	b.step("sign in and open the post", 15*time.Second,
		signIn(s.base+fmt.Sprintf("/#/posts/%d", post), "alice"),
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
