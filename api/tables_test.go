package api

import (
	"fmt"
	"strings"
	"testing"
)

// TestCommentTableAmplification: a comment within the contract's 5,000
// characters whose table rows GitHub's rules pad to a 700-column header
// was stored with 7 MB of body_html, after seconds of rendering; its
// table now stays text, and body_html stays of the body's order.
func TestCommentTableAmplification(t *testing.T) {
	ts, alice, _, p := newServerWithPost(t)
	body := "|" + strings.Repeat("a|", 700) + "\n|" + strings.Repeat("-|", 700) + "\n" + strings.Repeat("|\n", 1000)
	res := ts.do(t, "POST", fmt.Sprintf("/api/v1/posts/%d/comments", p.ID), alice.Token, map[string]string{"body": body})
	if res.Status != 201 {
		t.Fatalf("comment: %d %.200s", res.Status, res.Body)
	}
	var c struct {
		ID       int64  `json:"id"`
		BodyHTML string `json:"body_html"`
	}
	res.JSON(t, &c)
	if len(c.BodyHTML) > 4*len(body) {
		t.Fatalf("a body of %d bytes was stored with %d bytes of body_html", len(body), len(c.BodyHTML))
	}
}
