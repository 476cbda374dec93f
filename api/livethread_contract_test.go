package api

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/quizsite/discuss/model"
)

// The clauses of the contract's "Live thread" that liveThreadScenario does
// not reach, each through the REST calls and frames a page meets.

// TestLiveThreadReplayOverTheWire: with after_comment_id, every visible
// comment and reply after it comes first as comment_created, oldest first,
// each as REST shows it to the reader; a deleted comment without replies
// is not among them, a deleted one with replies is, as its placeholder.
func TestLiveThreadReplayOverTheWire(t *testing.T) {
	t.Parallel()
	ts, alice, bob, p := newServerWithPost(t)
	c1 := ts.commentWith(t, bob.Token, p.ID, 0, "first")
	r1 := ts.commentWith(t, alice.Token, p.ID, c1.ID, "a reply")
	// A comment id of another post in between.
	ts.commentWith(t, bob.Token, ts.createPost(t, bob.Token, "elsewhere").ID, 0, "on another post")
	gone := ts.commentWith(t, bob.Token, p.ID, 0, "deleted, no replies")
	c2 := ts.commentWith(t, bob.Token, p.ID, 0, "kept as a placeholder")
	r2 := ts.commentWith(t, alice.Token, p.ID, c2.ID, "keeps it")
	for _, id := range []int64{gone.ID, c2.ID} {
		if res := ts.do(t, "DELETE", fmt.Sprintf("/api/v1/comments/%d", id), bob.Token, nil); res.Status != http.StatusNoContent {
			t.Fatalf("delete %d: %d %s", id, res.Status, res.Body)
		}
	}
	carol := ts.register(t, "carol")
	f := ts.follower(t, carol)
	replay := func(after int64, want ...int64) {
		t.Helper()
		f.subscribe(p.ID, &after)
		for _, id := range want {
			lf := f.expect(model.ThreadCommentCreated, p.ID)
			if lf.Comment.ID != id {
				t.Fatalf("after %d: comment_created %d, want %d", after, lf.Comment.ID, id)
			}
			rest := ts.do(t, "GET", fmt.Sprintf("/api/v1/comments/%d", id), carol.Token, nil)
			sameJSON(t, fmt.Sprintf("replayed comment %d", id), lf.Raw.Comment, rest.Body)
		}
		f.quiet()
	}
	replay(0, c1.ID, r1.ID, c2.ID, r2.ID)
	replay(r1.ID, c2.ID, r2.ID) // subscribing again starts afresh
	replay(r2.ID)
	// Live from there on.
	c3 := ts.commentWith(t, bob.Token, p.ID, 0, "live")
	if lf := f.expect(model.ThreadCommentCreated, p.ID); lf.Comment.ID != c3.ID {
		t.Fatalf("live comment_created %d, want %d", lf.Comment.ID, c3.ID)
	}
}

// TestLiveThreadUnsubscribeOverTheWire: unsubscribe_post stops the post's
// frames and frees its place among the 10.
func TestLiveThreadUnsubscribeOverTheWire(t *testing.T) {
	t.Parallel()
	ts, alice, bob, _ := newServerWithPost(t)
	f := ts.follower(t, bob)
	var posts []int64
	for i := range 11 {
		posts = append(posts, ts.createPost(t, alice.Token, fmt.Sprint("post ", i)).ID)
	}
	for _, p := range posts[:10] {
		f.subscribe(p, nil)
	}
	f.send(fmt.Sprintf(`{"type":"unsubscribe_post","post_id":%d}`, posts[0]))
	f.subscribe(posts[10], nil)
	ts.commentWith(t, alice.Token, posts[0], 0, "not followed any more")
	c := ts.commentWith(t, alice.Token, posts[10], 0, "followed")
	if lf := f.expect(model.ThreadCommentCreated, posts[10]); lf.Comment.ID != c.ID {
		t.Fatalf("comment_created %d, want %d", lf.Comment.ID, c.ID)
	}
	f.quiet()
	f.send(fmt.Sprintf(`{"type":"subscribe_post","post_id":%d}`, posts[0]))
	if lf := f.expect("error", posts[0]); lf.Code != model.ERATELIMITED {
		t.Fatalf("an 11th post: %+v", lf)
	}
}

// TestLiveThreadHiddenContent: a post or comment hidden by reports leaves
// the live thread as a deletion does: comment_deleted, post_deleted (the
// subscription ends), and a hidden post answers subscribe_post with
// not_found, to its author too.
func TestLiveThreadHiddenContent(t *testing.T) {
	t.Parallel()
	ts, alice, bob, p := newServerWithPost(t)
	c := ts.commentWith(t, bob.Token, p.ID, 0, "spam")
	f := ts.follower(t, alice)
	f.subscribe(p.ID, nil)
	ts.hideByReports(t, "comments", c.ID, "spam")
	if lf := f.expect(model.ThreadCommentDeleted, p.ID); lf.CommentID == nil || *lf.CommentID != c.ID {
		t.Fatalf("comment_deleted %+v", lf)
	}
	ts.hideByReports(t, "posts", p.ID, "spam")
	f.expect(model.ThreadPostDeleted, p.ID)
	f.send(fmt.Sprintf(`{"type":"subscribe_post","post_id":%d}`, p.ID))
	if lf := f.expect("error", p.ID); lf.Code != model.ENOTFOUND {
		t.Fatalf("subscribing to a hidden post as its author: %+v", lf)
	}
	f.quiet()
}

// TestLiveThreadModeratorDelete: a post deleted by a moderator's resolve
// ends its subscriptions with post_deleted.
func TestLiveThreadModeratorDelete(t *testing.T) {
	t.Parallel()
	ts, alice, bob, p := newServerWithPost(t)
	mod := ts.withRole(t, "mod", model.RoleModerator)
	f := ts.follower(t, alice)
	f.subscribe(p.ID, nil)
	if res := ts.do(t, "POST", fmt.Sprintf("/api/v1/posts/%d/report", p.ID), bob.Token, map[string]string{"reason": "off_topic"}); res.Status != http.StatusCreated {
		t.Fatalf("report: %d %s", res.Status, res.Body)
	}
	queue := decodeAs[struct {
		Items []idBody `json:"items"`
	}](t, ts.do(t, "GET", "/api/v1/mod/reports", mod.Token, nil), http.StatusOK, "queue")
	if len(queue.Items) != 1 {
		t.Fatalf("queue %+v", queue)
	}
	res := ts.do(t, "POST", fmt.Sprintf("/api/v1/mod/reports/%d/resolve", queue.Items[0].ID), mod.Token, map[string]string{"action": "delete"})
	if res.Status != http.StatusOK {
		t.Fatalf("resolve: %d %s", res.Status, res.Body)
	}
	f.expect(model.ThreadPostDeleted, p.ID)
	f.quiet()
}
