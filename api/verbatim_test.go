package api

import (
	"fmt"
	"testing"
)

// TestTextStoredVerbatim: SQL metacharacters, markup and unusual Unicode in
// titles and bodies are stored and returned exactly as sent (after the
// contract's trimming); escaping is the renderer's job, and SQL goes through
// bound parameters only.
func TestTextStoredVerbatim(t *testing.T) {
	ts := newTestServer(t)
	alice := ts.register(t, "alice")
	texts := []string{
		`'; DROP TABLE posts; --`,
		`" OR 1=1 -- ` + "`backtick` \\backslash\\ %_wildcards_%",
		// Shaped to end a statement of the multi-statement query a
		// comment's writes are on MySQL, and to start another.
		`x', 0, 0, NOW()); DELETE FROM comments; --`,
		"\\'); UPDATE users SET role = 'admin'; # /*/ */; DELETE FROM posts; /*",
		`<script>alert(document.cookie)</script><img src=x onerror=alert(1)>`,
		"emoji 🧩 combining e\u0301 RTL \u202eevil\u202c zero\u200bwidth",
		"{{template}} ${expr} $(cmd) \x00nul",
	}
	for i, text := range texts {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			res := ts.do(t, "POST", "/api/v1/posts", alice.Token, map[string]string{"title": text, "body": text})
			if res.Status != 201 {
				t.Fatalf("create: %d %s", res.Status, res.Body)
			}
			var post struct {
				ID    int64  `json:"id"`
				Title string `json:"title"`
				Body  string `json:"body"`
			}
			res.JSON(t, &post)
			res = ts.do(t, "POST", fmt.Sprintf("/api/v1/posts/%d/comments", post.ID), alice.Token, map[string]string{"body": text})
			if res.Status != 201 {
				t.Fatalf("comment: %d %s", res.Status, res.Body)
			}
			var comment struct {
				ID   int64  `json:"id"`
				Body string `json:"body"`
			}
			res.JSON(t, &comment)

			// Read back from the database, not from the create answer.
			ts.do(t, "GET", fmt.Sprintf("/api/v1/posts/%d", post.ID), alice.Token, nil).JSON(t, &post)
			ts.do(t, "GET", fmt.Sprintf("/api/v1/comments/%d", comment.ID), alice.Token, nil).JSON(t, &comment)
			if post.Title != text || post.Body != text || comment.Body != text {
				t.Fatalf("stored %q / %q / %q, sent %q", post.Title, post.Body, comment.Body, text)
			}
		})
	}
	var n int64
	for _, table := range []string{"posts", "comments"} {
		if err := ts.DB.Raw("SELECT COUNT(*) FROM " + table).Scan(&n).Error; err != nil || n != int64(len(texts)) {
			t.Fatalf("%s table: %d rows, %v", table, n, err)
		}
	}
	if err := ts.DB.Raw("SELECT COUNT(*) FROM users WHERE role <> 'user'").Scan(&n).Error; err != nil || n != 0 {
		t.Fatalf("%d users whose role is not user, %v", n, err)
	}
}
