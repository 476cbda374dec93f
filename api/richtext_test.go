package api

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/quizsite/discuss/service/markdown/markdowntest"
)

// TestBodyHTML: every REST view of a post or comment carries body_html,
// rendered on create and again on edit, with mentions of existing users
// linked and nothing active left of a hostile body.
func TestBodyHTML(t *testing.T) {
	t.Parallel()
	ts, alice, bob, _ := newServerWithPost(t)
	bobLink := fmt.Sprintf(`<a href="/#/users/%d" class="mention" rel="nofollow ugc noopener">@bob</a>`, bob.User.ID)
	aliceLink := fmt.Sprintf(`<a href="/#/users/%d" class="mention" rel="nofollow ugc noopener">@alice</a>`, alice.User.ID)
	check := func(t *testing.T, what string, v map[string]any, body string, want []string, not ...string) {
		t.Helper()
		html, ok := v["body_html"].(string)
		if !ok {
			t.Fatalf("%s has no body_html: %v", what, v)
		}
		if v["body"] != body {
			t.Errorf("%s body %q, want %q as written", what, v["body"], body)
		}
		markdowntest.Contains(t, what+" body_html", html, want, not...)
	}

	postBody := "# Q\n\n@bob, @ghost: why?\n\n```python\ndef f(): pass\n```\n\n| x | y |\n|---|---|\n| 1 | 2 |\n\n[x](javascript:alert(1)) <img src=x onerror=alert(1)>"
	p := decodeAs[map[string]any](t, ts.doChecked(t, "POST", "/api/v1/posts", alice.Token, map[string]any{"title": "md", "body": postBody}), http.StatusCreated, "create post")
	created := []string{bobLink, "@ghost", `<span class="k">def</span>`, "<td>2</td>", "<h1>Q</h1>", "&lt;img src=x onerror=alert(1)&gt;"}
	check(t, "created post", p, postBody, created, "javascript:", "<img", "ghost</a>")
	id := int64(p["id"].(float64))
	path := fmt.Sprintf("/api/v1/posts/%d", id)
	got := decodeAs[map[string]any](t, ts.doChecked(t, "GET", path, bob.Token, nil), http.StatusOK, "get post")
	check(t, "read post", got, postBody, created)
	list := decodeAs[struct{ Items []map[string]any }](t, ts.doChecked(t, "GET", "/api/v1/posts", bob.Token, nil), http.StatusOK, "list posts")
	if len(list.Items) == 0 || list.Items[0]["body_html"] != p["body_html"] {
		t.Errorf("listed post body_html differs: %v", list.Items)
	}
	p = decodeAs[map[string]any](t, ts.doChecked(t, "PATCH", path, alice.Token, map[string]any{"body": "~~old~~ new"}), http.StatusOK, "edit post")
	check(t, "edited post", p, "~~old~~ new", []string{"<del>old</del> new"}, "mention")

	c := decodeAs[map[string]any](t, ts.doChecked(t, "POST", path+"/comments", bob.Token, map[string]any{"body": "thanks @alice `x<y`"}), http.StatusCreated, "create comment")
	check(t, "created comment", c, "thanks @alice `x<y`", []string{aliceLink, "<code>x&lt;y</code>"})
	cpath := fmt.Sprintf("/api/v1/comments/%d", int64(c["id"].(float64)))
	r := decodeAs[map[string]any](t, ts.doChecked(t, "POST", path+"/comments", alice.Token, map[string]any{"body": "*ok*", "parent_id": c["id"]}), http.StatusCreated, "create reply")
	check(t, "created reply", r, "*ok*", []string{"<em>ok</em>"})
	c = decodeAs[map[string]any](t, ts.doChecked(t, "PATCH", cpath, bob.Token, map[string]any{"body": "**edited**"}), http.StatusOK, "edit comment")
	check(t, "edited comment", c, "**edited**", []string{"<strong>edited</strong>"}, "mention")
	got = decodeAs[map[string]any](t, ts.doChecked(t, "GET", cpath, alice.Token, nil), http.StatusOK, "get comment")
	check(t, "read comment", got, "**edited**", []string{"<strong>edited</strong>"})
	thread := decodeAs[struct{ Items []map[string]any }](t, ts.doChecked(t, "GET", path+"/comments", alice.Token, nil), http.StatusOK, "list comments")
	if len(thread.Items) != 1 {
		t.Fatalf("thread %v", thread.Items)
	}
	check(t, "listed comment", thread.Items[0], "**edited**", []string{"<strong>edited</strong>"})
	replies, _ := thread.Items[0]["replies"].([]any)
	if len(replies) != 1 {
		t.Fatalf("replies %v", thread.Items[0]["replies"])
	}
	check(t, "listed reply", replies[0].(map[string]any), "*ok*", []string{"<em>ok</em>"})
}
