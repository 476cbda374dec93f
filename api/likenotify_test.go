package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/quizsite/discuss/model"
)

// TestLikeNotifiesAuthorOnce: a like reaches the author live and in the
// list, as the contract's `like` notification; unliking and liking again,
// and liking one's own post, notify nobody.
func TestLikeNotifiesAuthorOnce(t *testing.T) {
	t.Parallel()
	ts, alice, bob, post := newServerWithPost(t)
	c := ts.commentWith(t, alice.Token, post.ID, 0, "like this")
	socket := ts.dialWS(t, "?token="+alice.Token, nil)
	like := fmt.Sprintf("/api/v1/posts/%d/like", post.ID)

	ts.wantLikeSteps(t, like, []likeStep{
		{"PUT", bob, `{"like_count":1,"liked":true}`},
		{"DELETE", bob, `{"like_count":0,"liked":false}`},
		{"PUT", bob, `{"like_count":1,"liked":true}`},
		{"PUT", alice, `{"like_count":2,"liked":true}`},
	})
	ts.wantLikeSteps(t, fmt.Sprintf("/api/v1/comments/%d/like", c.ID), []likeStep{
		{"PUT", alice, `{"like_count":1,"liked":true}`},
	})

	f := readFrame(t, socket)
	var n model.Notification
	if f.Type != "notification" || json.Unmarshal(f.Notification, &n) != nil || n.Type != model.NotifyLike ||
		f.UnreadCount != 1 || f.UnseenCount == nil || *f.UnseenCount != 1 {
		t.Fatalf("frame %+v, want the like with counts 1 and 1", f)
	}
	page := ts.notifications(t, alice.Token, "")
	if len(page.Items) != 1 {
		t.Fatalf("alice has %d notifications, want the one like: %+v", len(page.Items), page.Items)
	}
	got := page.Items[0]
	if got.ID != n.ID || got.Type != model.NotifyLike || got.Actor == nil || got.Actor.ID != bob.User.ID ||
		*got.PostID != post.ID || got.CommentID != nil || got.Excerpt != "body of p" {
		t.Errorf("like notification %+v", got)
	}
	res := ts.doChecked(t, "GET", "/api/v1/notifications/unread_count", alice.Token, nil)
	if res.Status != http.StatusOK || string(res.Body) != `{"unread_count":1,"unseen_count":1}` {
		t.Errorf("unread_count %d %s", res.Status, res.Body)
	}
}
