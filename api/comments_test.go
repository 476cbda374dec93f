package api

import (
	"fmt"
	"strings"
	"testing"

	"github.com/quizsite/discuss/configs"
	"github.com/quizsite/discuss/model"
)

func TestCreateComment(t *testing.T) {
	t.Parallel()
	ts, alice, bob, p := newServerWithPost(t, func(c *configs.Config) { c.Limits.CommentsPerMinute = 5 })
	other := ts.createPost(t, alice.Token, "other")
	path := fmt.Sprintf("/api/v1/posts/%d/comments", p.ID)

	top := ts.createComment(t, bob.Token, p.ID, nil)
	t.Run("OK", func(t *testing.T) {
		res := ts.doChecked(t, "POST", path, alice.Token, map[string]any{"body": "reply", "parent_id": top.ID})
		var m map[string]any
		res.JSON(t, &m)
		replyTo, _ := m["reply_to"].(map[string]any)
		if res.Status != 201 || m["parent_id"] != float64(top.ID) || m["root_id"] != float64(top.ID) ||
			replyTo["username"] != "bob" || m["edited_at"] != nil || m["deleted"] != false {
			t.Errorf("reply: %d %s", res.Status, res.Body)
		}
		if _, ok := m["replies"]; ok {
			t.Errorf("a created comment carries replies: %s", res.Body)
		}
		// Top-level comments have null parent, root and reply_to.
		var tm map[string]any
		ts.doChecked(t, "GET", fmt.Sprintf("/api/v1/comments/%d", top.ID), alice.Token, nil).JSON(t, &tm)
		if tm["parent_id"] != nil || tm["root_id"] != nil || tm["reply_to"] != nil || tm["reply_count"] != 1.0 {
			t.Errorf("top-level: %v", tm)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		elsewhere := ts.createComment(t, alice.Token, other.ID, nil)
		for _, tc := range []struct {
			body any
			text string
		}{
			{map[string]any{}, "body is required"},
			{map[string]any{"body": strings.Repeat("ß", 5001)}, "body must be at most 5000 characters"},
			{map[string]any{"body": "b", "parent_id": elsewhere.ID}, "parent_id"},
			{map[string]any{"body": "b", "parent_id": 0}, "parent_id"},
			{map[string]any{"body": "b", "parent_id": "x"}, "parent_id"},
			{"not json", "invalid JSON"},
		} {
			wantError(t, ts.doChecked(t, "POST", path, bob.Token, tc.body), 400, model.EINVALID, tc.text)
		}
		wantError(t, ts.doChecked(t, "POST", "/api/v1/posts/zero/comments", bob.Token, map[string]any{"body": "b"}), 400, model.EINVALID, "id")
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		wantError(t, ts.doChecked(t, "POST", "/api/v1/posts/9999/comments", bob.Token, map[string]any{"body": "b"}), 404, model.ENOTFOUND, "post")
		gone := ts.createComment(t, bob.Token, p.ID, nil)
		ts.doChecked(t, "DELETE", fmt.Sprintf("/api/v1/comments/%d", gone.ID), bob.Token, nil)
		wantError(t, ts.doChecked(t, "POST", path, alice.Token, map[string]any{"body": "b", "parent_id": gone.ID}), 404, model.ENOTFOUND, "comment")
	})
	t.Run("ErrUnauthenticated", func(t *testing.T) {
		wantError(t, ts.doChecked(t, "POST", path, "", map[string]any{"body": "b"}), 401, model.EUNAUTHENTICATED, "")
	})
	t.Run("ErrTooLarge", func(t *testing.T) {
		big := fmt.Sprintf(`{"body": %q}`, strings.Repeat("x", int(ts.Config.Limits.BodyBytes)))
		wantError(t, ts.doChecked(t, "POST", path, bob.Token, big), 413, model.ETOOLARGE, "")
	})
	t.Run("ErrRateLimited", func(t *testing.T) {
		carol := ts.register(t, "carol")
		for range 5 {
			ts.createComment(t, carol.Token, p.ID, nil)
		}
		wantRateLimited(t, ts.doChecked(t, "POST", path, carol.Token, map[string]any{"body": "b"}))
	})
}

func TestListComments(t *testing.T) {
	t.Parallel()
	ts, alice, bob, p := newServerWithPost(t)
	c1 := ts.createComment(t, bob.Token, p.ID, nil)
	c2 := ts.createComment(t, bob.Token, p.ID, nil)
	c3 := ts.createComment(t, alice.Token, p.ID, nil)
	var replies []model.Comment
	for range 4 {
		replies = append(replies, ts.createComment(t, alice.Token, p.ID, &c2))
	}
	ts.doChecked(t, "PUT", fmt.Sprintf("/api/v1/comments/%d/like", c3.ID), bob.Token, nil)
	// c1 becomes a placeholder: deleted, with a reply.
	placeholderReply := ts.createComment(t, alice.Token, p.ID, &c1)
	ts.doChecked(t, "DELETE", fmt.Sprintf("/api/v1/comments/%d", c1.ID), bob.Token, nil)
	path := fmt.Sprintf("/api/v1/posts/%d/comments", p.ID)

	t.Run("OK", func(t *testing.T) {
		res := ts.doChecked(t, "GET", path, bob.Token, nil)
		var page commentPage
		res.JSON(t, &page)
		if res.Status != 200 || len(page.Items) != 3 || page.NextCursor != nil {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		ph, thread, liked := page.Items[0], page.Items[1], page.Items[2]
		if ph.ID != c1.ID || !ph.Deleted || ph.Body != "" || ph.Author != nil || len(ph.Replies) != 1 || ph.Replies[0].ID != placeholderReply.ID {
			t.Errorf("placeholder: %+v", ph)
		}
		if thread.ID != c2.ID || thread.ReplyCount != 4 || len(thread.Replies) != 3 {
			t.Fatalf("thread: %+v", thread)
		}
		for i, r := range thread.Replies {
			if r.ID != replies[i].ID || r.ReplyTo == nil || r.ReplyTo.Username != "bob" {
				t.Errorf("reply %d: %+v", i, r)
			}
		}
		if liked.ID != c3.ID || !liked.Liked || liked.LikeCount != 1 || liked.Replies == nil {
			t.Errorf("liked: %+v", liked)
		}
		// Every top-level comment of a list carries replies, [] when empty.
		if !strings.Contains(string(res.Body), `"replies":[]`) {
			t.Errorf("no empty replies list in %s", res.Body)
		}
	})
	t.Run("OK/Sorts", func(t *testing.T) {
		for sort, want := range map[string][]int64{
			"old": {c1.ID, c2.ID, c3.ID},
			"new": {c3.ID, c2.ID, c1.ID},
			"top": {c3.ID, c2.ID, c1.ID},
		} {
			got := ts.pageIDs(t, bob.Token, path+"?limit=1&sort="+sort)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("sort %s: %v, want %v", sort, got, want)
			}
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for query, field := range map[string]string{"sort=best": "sort", "limit=200": "limit", "cursor=!": "cursor"} {
			wantError(t, ts.doChecked(t, "GET", path+"?"+query, bob.Token, nil), 400, model.EINVALID, field)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		wantError(t, ts.doChecked(t, "GET", "/api/v1/posts/9999/comments", bob.Token, nil), 404, model.ENOTFOUND, "post")
	})
}

func TestGetCommentAndReplies(t *testing.T) {
	t.Parallel()
	ts, alice, bob, p := newServerWithPost(t)
	top := ts.createComment(t, bob.Token, p.ID, nil)
	var replies []model.Comment
	parent := top
	for range 5 {
		r := ts.createComment(t, alice.Token, p.ID, &parent)
		replies = append(replies, r)
		parent = r
	}
	lonely := ts.createComment(t, bob.Token, p.ID, nil)
	ts.doChecked(t, "DELETE", fmt.Sprintf("/api/v1/comments/%d", lonely.ID), bob.Token, nil)
	ts.doChecked(t, "DELETE", fmt.Sprintf("/api/v1/comments/%d", replies[1].ID), alice.Token, nil)

	t.Run("OK", func(t *testing.T) {
		res := ts.doChecked(t, "GET", fmt.Sprintf("/api/v1/comments/%d", replies[2].ID), bob.Token, nil)
		var c model.Comment
		res.JSON(t, &c)
		// replies[2] answered replies[1], which is gone; it still says whom.
		if res.Status != 200 || *c.ParentID != replies[1].ID || *c.RootID != top.ID || c.ReplyTo.Username != "alice" {
			t.Errorf("%d %s", res.Status, res.Body)
		}
		got := ts.pageIDs(t, bob.Token, fmt.Sprintf("/api/v1/comments/%d/replies?limit=2", top.ID))
		want := []int64{replies[0].ID, replies[2].ID, replies[3].ID, replies[4].ID}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("replies %v, want %v", got, want)
		}
	})
	t.Run("Placeholder", func(t *testing.T) {
		ts.doChecked(t, "DELETE", fmt.Sprintf("/api/v1/comments/%d", top.ID), bob.Token, nil)
		res := ts.doChecked(t, "GET", fmt.Sprintf("/api/v1/comments/%d", top.ID), alice.Token, nil)
		var m map[string]any
		res.JSON(t, &m)
		if res.Status != 200 || m["deleted"] != true || m["body"] != "" || m["author"] != nil {
			t.Errorf("placeholder: %d %s", res.Status, res.Body)
		}
		res = ts.doChecked(t, "GET", fmt.Sprintf("/api/v1/comments/%d/replies", top.ID), alice.Token, nil)
		if res.Status != 200 || !strings.Contains(string(res.Body), fmt.Sprintf(`"id":%d`, replies[4].ID)) {
			t.Errorf("a placeholder's replies: %d %s", res.Status, res.Body)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		wantError(t, ts.doChecked(t, "GET", fmt.Sprintf("/api/v1/comments/%d/replies", replies[0].ID), bob.Token, nil), 400, model.EINVALID, "reply")
		wantError(t, ts.doChecked(t, "GET", fmt.Sprintf("/api/v1/comments/%d/replies?limit=-1", top.ID), bob.Token, nil), 400, model.EINVALID, "limit")
		wantError(t, ts.doChecked(t, "GET", fmt.Sprintf("/api/v1/comments/%d/replies?cursor=x", top.ID), bob.Token, nil), 400, model.EINVALID, "cursor")
		wantError(t, ts.doChecked(t, "GET", "/api/v1/comments/x", bob.Token, nil), 400, model.EINVALID, "id")
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		for _, path := range []string{
			fmt.Sprintf("/api/v1/comments/%d", lonely.ID),
			fmt.Sprintf("/api/v1/comments/%d/replies", lonely.ID),
			fmt.Sprintf("/api/v1/comments/%d", replies[1].ID),
			"/api/v1/comments/99999",
		} {
			wantError(t, ts.doChecked(t, "GET", path, bob.Token, nil), 404, model.ENOTFOUND, "comment")
		}
	})
}

func TestUpdateComment(t *testing.T) {
	t.Parallel()
	ts, alice, bob, p := newServerWithPost(t)
	c := ts.createComment(t, bob.Token, p.ID, nil)
	path := fmt.Sprintf("/api/v1/comments/%d", c.ID)

	t.Run("OK", func(t *testing.T) {
		res := ts.doChecked(t, "PATCH", path, bob.Token, map[string]any{"body": "edited"})
		var got model.Comment
		res.JSON(t, &got)
		if res.Status != 200 || got.Body != "edited" || got.EditedAt == nil {
			t.Errorf("%d %s", res.Status, res.Body)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		wantError(t, ts.doChecked(t, "PATCH", path, bob.Token, map[string]any{"body": ""}), 400, model.EINVALID, "body is required")
		wantError(t, ts.doChecked(t, "PATCH", path, bob.Token, map[string]any{"body": strings.Repeat("x", 5001)}), 400, model.EINVALID, "body must be at most 5000")
	})
	t.Run("ErrPermission", func(t *testing.T) {
		wantError(t, ts.doChecked(t, "PATCH", path, alice.Token, map[string]any{"body": "mine"}), 403, model.EPERMISSION, "author")
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		wantError(t, ts.doChecked(t, "PATCH", "/api/v1/comments/9999", bob.Token, map[string]any{"body": "x"}), 404, model.ENOTFOUND, "comment")
	})
}

func TestLikeComment(t *testing.T) {
	t.Parallel()
	ts, alice, bob, p := newServerWithPost(t)
	c := ts.createComment(t, bob.Token, p.ID, nil)
	ts.wantLikesCountOnce(t, fmt.Sprintf("/api/v1/comments/%d/like", c.ID), alice, bob, bob)
	wantError(t, ts.doChecked(t, "PUT", "/api/v1/comments/9999/like", bob.Token, nil), 404, model.ENOTFOUND, "comment")
	wantError(t, ts.doChecked(t, "DELETE", "/api/v1/comments/0/like", bob.Token, nil), 400, model.EINVALID, "id")
}
