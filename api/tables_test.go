package api

import (
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
	c := ts.commentWith(t, alice.Token, p.ID, 0, body)
	if len(c.BodyHTML) > 4*len(body) {
		t.Fatalf("a body of %d bytes was stored with %d bytes of body_html", len(body), len(c.BodyHTML))
	}
}
