package service_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

// thread signs in alice, bob and carol and makes, on a new post by alice:
// top-level comments t0..t4 by bob;
// t1 has replies r0..r4 (by carol, then alternating); t3 is a placeholder
// (deleted, one live reply); t4 is deleted without replies.
type thread struct {
	alice, bob, carol context.Context
	post              *model.Post
	tops              []*model.Comment
	replies           []*model.Comment
}

func (f *fixture) thread(t *testing.T) thread {
	t.Helper()
	alice, bob, carol := f.as(t, "alice"), f.as(t, "bob"), f.as(t, "carol")
	th := thread{alice: alice, bob: bob, carol: carol, post: f.post(t, alice, "thread")}
	for i := range 5 {
		th.tops = append(th.tops, f.comment(t, bob, th.post.ID, nil, fmt.Sprintf("t%d", i)))
	}
	parent := th.tops[1]
	for i := range 5 {
		ctx := carol
		if i%2 == 1 {
			ctx = alice
		}
		r := f.comment(t, ctx, th.post.ID, parent, fmt.Sprintf("r%d", i))
		th.replies = append(th.replies, r)
		parent = r
	}
	f.comment(t, carol, th.post.ID, th.tops[3], "under t3")
	for _, c := range th.tops[3:] {
		if err := f.comments.Delete(bob, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	return th
}

func TestCommentsCreate(t *testing.T) {
	f := newFixture(t)
	alice, bob, p := f.alicePost(t, "p")
	carol := f.as(t, "carol")
	other := f.post(t, alice, "other")

	t.Run("OK", func(t *testing.T) {
		top, err := f.comments.Create(bob, p.ID, service.CommentInput{Body: "  first  "})
		if err != nil {
			t.Fatal(err)
		}
		if top.Body != "first" || top.PostID != p.ID || top.ParentID != nil || top.RootID != nil || top.ReplyTo != nil ||
			top.Author == nil || top.Author.Username != "bob" || top.EditedAt != nil || top.Deleted || top.Replies != nil {
			t.Errorf("top-level: %+v", top)
		}
		reply := f.comment(t, carol, p.ID, top, "reply")
		if *reply.ParentID != top.ID || *reply.RootID != top.ID || reply.ReplyTo == nil || reply.ReplyTo.Username != "bob" {
			t.Errorf("reply: %+v", reply)
		}
		// A reply to a reply joins the same flat thread, replying to its author.
		again := f.comment(t, alice, p.ID, reply, "reply to reply")
		if *again.ParentID != reply.ID || *again.RootID != top.ID || again.ReplyTo.Username != "carol" {
			t.Errorf("reply to reply: %+v", again)
		}

		got, err := f.posts.Get(alice, p.ID)
		if err != nil || got.CommentCount != 3 || !got.LastActivityAt.Equal(again.CreatedAt) || !got.UpdatedAt.Equal(p.UpdatedAt) {
			t.Errorf("post after 3 comments: %+v, %v", got, err)
		}
		if got, err := f.comments.Get(alice, top.ID); err != nil || got.ReplyCount != 2 {
			t.Errorf("top-level after 2 replies: %+v, %v", got, err)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		top := f.comment(t, bob, p.ID, nil, "top")
		elsewhere := f.comment(t, bob, other.ID, nil, "elsewhere")
		for _, tc := range []struct {
			in    service.CommentInput
			field string
		}{
			{service.CommentInput{Body: " \n "}, "body is required"},
			{service.CommentInput{Body: strings.Repeat("ü", model.CommentBodyMax+1)}, "body must be at most 5000 characters"},
			{service.CommentInput{Body: "\xc3"}, "body is not valid UTF-8"},
			{service.CommentInput{Body: "b", ParentID: ptr(int64(-1))}, "parent_id"},
			{service.CommentInput{Body: "b", ParentID: &elsewhere.ID}, "parent_id"},
			{service.CommentInput{Body: "b", ParentID: ptr(top.ID + 1000)}, "parent_id"},
		} {
			_, err := f.comments.Create(bob, p.ID, tc.in)
			wantCode(t, err, model.EINVALID, tc.field)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := f.comments.Create(bob, p.ID+1000, service.CommentInput{Body: "b"})
		wantCode(t, err, model.ENOTFOUND, "post")
		// Nobody replies to a deleted comment, even one kept as a placeholder.
		top := f.comment(t, bob, p.ID, nil, "top")
		f.comment(t, carol, p.ID, top, "reply")
		if err := f.comments.Delete(bob, top.ID); err != nil {
			t.Fatal(err)
		}
		_, err = f.comments.Create(carol, p.ID, service.CommentInput{Body: "b", ParentID: &top.ID})
		wantCode(t, err, model.ENOTFOUND, "comment")
	})
	t.Run("ErrRateLimited", func(t *testing.T) {
		comments := service.NewComments(f.db.DB, f.notes,
			service.NewRateLimiter(1, time.Hour))
		if _, err := comments.Create(carol, p.ID, service.CommentInput{Body: "b"}); err != nil {
			t.Fatal(err)
		}
		_, err := comments.Create(carol, p.ID, service.CommentInput{Body: "b"})
		wantCode(t, err, model.ERATELIMITED, "")
	})
}

func TestCommentsList(t *testing.T) {
	f := newFixture(t)
	th := f.thread(t)
	// Likes: t2 has 2, t1 has 1.
	for _, l := range []struct {
		ctx context.Context
		c   *model.Comment
	}{{th.alice, th.tops[2]}, {th.carol, th.tops[2]}, {th.carol, th.tops[1]}} {
		if _, err := f.comments.Like(l.ctx, l.c.ID); err != nil {
			t.Fatal(err)
		}
	}
	id := func(i int) int64 { return th.tops[i].ID }

	for _, tc := range []struct {
		sort string
		want []int64
	}{
		{"", []int64{id(0), id(1), id(2), id(3)}},
		{"old", []int64{id(0), id(1), id(2), id(3)}},
		{"new", []int64{id(3), id(2), id(1), id(0)}},
		{"top", []int64{id(2), id(1), id(3), id(0)}},
	} {
		t.Run("OK/"+tc.sort, func(t *testing.T) {
			got := walk(t, func(cursor string) (*service.Page[*model.Comment], error) {
				return f.comments.List(th.carol, th.post.ID, service.CommentQuery{Sort: tc.sort, Limit: 3, Cursor: cursor})
			})
			if ids := pluck(got, commentID); !slices.Equal(ids, tc.want) {
				t.Fatalf("got %v, want %v", ids, tc.want)
			}
			for _, c := range got {
				checkListed(t, th, c)
			}
		})
	}
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, tc := range []struct {
			q     service.CommentQuery
			field string
		}{
			{service.CommentQuery{Sort: "best"}, "sort"},
			{service.CommentQuery{Limit: 1000}, "limit"},
			{service.CommentQuery{Cursor: "%%%"}, "cursor"},
		} {
			_, err := f.comments.List(th.carol, th.post.ID, tc.q)
			wantCode(t, err, model.EINVALID, tc.field)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := f.comments.List(th.carol, th.post.ID+1000, service.CommentQuery{})
		wantCode(t, err, model.ENOTFOUND, "post")
	})
}

// checkListed checks one top-level comment of a thread listing as carol sees
// it.
func checkListed(t *testing.T, th thread, c *model.Comment) {
	t.Helper()
	if c.Replies == nil {
		t.Errorf("comment %d: replies is nil, want a list", c.ID)
	}
	switch c.ID {
	case th.tops[1].ID:
		if c.ReplyCount != 5 || len(c.Replies) != 3 || !c.Liked || c.LikeCount != 1 {
			t.Errorf("t1: %+v", c)
		}
		for i, r := range c.Replies {
			if r.ID != th.replies[i].ID || r.Body != th.replies[i].Body || r.Author == nil || r.ReplyTo == nil || r.Replies != nil {
				t.Errorf("t1 reply %d: %+v, want %+v", i, r, th.replies[i])
			}
		}
	case th.tops[3].ID:
		if !c.Deleted || c.Body != "" || c.Author != nil || c.ReplyCount != 1 || len(c.Replies) != 1 || c.Replies[0].Body != "under t3" {
			t.Errorf("placeholder t3: %+v", c)
		}
	default:
		if c.Deleted || c.Author == nil || c.Author.Username != "bob" || len(c.Replies) != 0 || c.Liked != (c.ID == th.tops[2].ID) {
			t.Errorf("comment %d: %+v", c.ID, c)
		}
	}
}

func TestCommentsGet(t *testing.T) {
	f := newFixture(t)
	th := f.thread(t)

	t.Run("OK", func(t *testing.T) {
		got, err := f.comments.Get(th.alice, th.replies[1].ID)
		if err != nil || got.Body != "r1" || got.ReplyTo.Username != "carol" || got.Author.Username != "alice" || got.Replies != nil {
			t.Errorf("reply: %+v, %v", got, err)
		}
	})
	t.Run("Placeholder", func(t *testing.T) {
		got, err := f.comments.Get(th.alice, th.tops[3].ID)
		if err != nil || !got.Deleted || got.Body != "" || got.Author != nil {
			t.Errorf("placeholder: %+v, %v", got, err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		for _, id := range []int64{th.tops[4].ID, th.tops[4].ID + 1000} {
			_, err := f.comments.Get(th.alice, id)
			wantCode(t, err, model.ENOTFOUND, "comment")
		}
	})
}

func TestCommentsReplies(t *testing.T) {
	f := newFixture(t)
	th := f.thread(t)
	if err := f.comments.Delete(th.alice, th.replies[3].ID); err != nil {
		t.Fatal(err)
	}

	t.Run("OK", func(t *testing.T) {
		replies := walk(t, func(cursor string) (*service.Page[*model.Comment], error) {
			return f.comments.Replies(th.carol, th.tops[1].ID, 2, cursor)
		})
		for _, r := range replies {
			if r.Author == nil || r.ReplyTo == nil || r.Deleted {
				t.Errorf("reply %+v", r)
			}
		}
		want := []int64{th.replies[0].ID, th.replies[1].ID, th.replies[2].ID, th.replies[4].ID}
		if got := pluck(replies, commentID); !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("Placeholder", func(t *testing.T) {
		page, err := f.comments.Replies(th.carol, th.tops[3].ID, 0, "")
		if err != nil || len(page.Items) != 1 || page.NextCursor != nil {
			t.Errorf("replies of a placeholder: %+v, %v", page, err)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		_, err := f.comments.Replies(th.carol, th.replies[0].ID, 0, "")
		wantCode(t, err, model.EINVALID, "reply")
		_, err = f.comments.Replies(th.carol, th.tops[1].ID, 101, "")
		wantCode(t, err, model.EINVALID, "limit")
		_, err = f.comments.Replies(th.carol, th.tops[1].ID, 0, "e30")
		wantCode(t, err, model.EINVALID, "cursor")
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := f.comments.Replies(th.carol, th.tops[4].ID, 0, "")
		wantCode(t, err, model.ENOTFOUND, "comment")
	})
}

func TestCommentsUpdate(t *testing.T) {
	f := newFixture(t)
	alice, bob, p := f.alicePost(t, "p")
	mod := f.asRole(t, "mod", model.RoleModerator)
	c := f.comment(t, bob, p.ID, nil, "before")

	t.Run("OK", func(t *testing.T) {
		got, err := f.comments.Update(bob, c.ID, service.CommentPatch{Body: ptr(" after ")})
		if err != nil || got.Body != "after" || got.EditedAt == nil || got.EditedAt.Before(c.CreatedAt) || got.Author.Username != "bob" {
			t.Errorf("edit: %+v, %v", got, err)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		_, err := f.comments.Update(bob, c.ID, service.CommentPatch{Body: ptr("")})
		wantCode(t, err, model.EINVALID, "body is required")
	})
	t.Run("ErrPermission", func(t *testing.T) {
		// Not even the post's author or a moderator edits someone's comment.
		for _, ctx := range []context.Context{alice, mod} {
			_, err := f.comments.Update(ctx, c.ID, service.CommentPatch{Body: ptr("x")})
			wantCode(t, err, model.EPERMISSION, "")
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if err := f.comments.Delete(bob, c.ID); err != nil {
			t.Fatal(err)
		}
		_, err := f.comments.Update(bob, c.ID, service.CommentPatch{Body: ptr("x")})
		wantCode(t, err, model.ENOTFOUND, "comment")
	})
}

func TestCommentsDelete(t *testing.T) {
	f := newFixture(t)
	alice, bob, p := f.alicePost(t, "p")
	top := f.comment(t, bob, p.ID, nil, "top")
	r1 := f.comment(t, alice, p.ID, top, "r1")
	r2 := f.comment(t, alice, p.ID, r1, "r2")

	counts := func(wantComments, wantReplies int64) {
		t.Helper()
		var post model.Post
		var c model.Comment
		if err := f.db.Take(&post, p.ID).Error; err != nil {
			t.Fatal(err)
		}
		if err := f.db.Take(&c, top.ID).Error; err != nil {
			t.Fatal(err)
		}
		if post.CommentCount != wantComments || c.ReplyCount != wantReplies {
			t.Fatalf("comment_count %d, reply_count %d; want %d, %d", post.CommentCount, c.ReplyCount, wantComments, wantReplies)
		}
	}
	listed := func() []*model.Comment {
		t.Helper()
		page, err := f.comments.List(alice, p.ID, service.CommentQuery{})
		if err != nil {
			t.Fatal(err)
		}
		return page.Items
	}

	t.Run("ErrPermission", func(t *testing.T) {
		// The post's author is not the comment's.
		wantCode(t, f.comments.Delete(alice, top.ID), model.EPERMISSION, "")
	})
	t.Run("OK", func(t *testing.T) {
		counts(3, 2)
		if notes := f.countRows(t, &model.Notification{}, "comment_id = ?", top.ID); notes != 1 {
			t.Fatalf("%d notifications of bob's comment on alice's post, want 1", notes)
		}
		if err := f.comments.Delete(bob, top.ID); err != nil {
			t.Fatal(err)
		}
		counts(2, 2)
		// Its notification went with it.
		if notes := f.countRows(t, &model.Notification{}, "comment_id = ?", top.ID); notes != 0 {
			t.Errorf("%d notifications of a deleted comment left", notes)
		}
		if l := listed(); len(l) != 1 || !l[0].Deleted || len(l[0].Replies) != 2 {
			t.Fatalf("after deleting the top-level comment: %+v", l)
		}
		if err := f.comments.Delete(alice, r1.ID); err != nil {
			t.Fatal(err)
		}
		counts(1, 1)
		// r2 replied to r1, which is gone; r2 stays, still naming whom it answered.
		if got, err := f.comments.Get(bob, r2.ID); err != nil || got.ReplyTo.Username != "alice" {
			t.Fatalf("r2 after r1's deletion: %+v, %v", got, err)
		}
		if err := f.comments.Delete(alice, r2.ID); err != nil {
			t.Fatal(err)
		}
		counts(0, 0)
		// With its last reply gone, the placeholder goes too.
		if l := listed(); len(l) != 0 {
			t.Fatalf("after deleting every reply: %+v", l)
		}
		_, err := f.comments.Get(bob, top.ID)
		wantCode(t, err, model.ENOTFOUND, "")
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		// Deleting twice never takes a counter twice.
		wantCode(t, f.comments.Delete(alice, r2.ID), model.ENOTFOUND, "comment")
		wantCode(t, f.comments.Delete(bob, top.ID), model.ENOTFOUND, "comment")
		counts(0, 0)
	})
}

func TestCommentsLike(t *testing.T) {
	f := newFixture(t)
	alice, bob, p := f.alicePost(t, "p")
	c := f.comment(t, bob, p.ID, nil, "c")
	likeSteps(t, alice, bob, c.ID, f.comments.Like, f.comments.Unlike)
	t.Run("ErrNotFound", func(t *testing.T) {
		f.comment(t, alice, p.ID, c, "keeps c as a placeholder")
		if err := f.comments.Delete(bob, c.ID); err != nil {
			t.Fatal(err)
		}
		_, err := f.comments.Like(alice, c.ID)
		wantCode(t, err, model.ENOTFOUND, "comment")
	})
}
