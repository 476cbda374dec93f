package service_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

func TestPostsCreate(t *testing.T) {
	f := newFixture(t)
	alice := f.as(t, "alice")

	t.Run("OK", func(t *testing.T) {
		p, err := f.posts.Create(alice, service.PostInput{Title: "  Hello  ", Body: "\tworld\n", ProblemID: ptr(int64(7))})
		if err != nil {
			t.Fatal(err)
		}
		if p.ID == 0 || p.Title != "Hello" || p.Body != "world" || *p.ProblemID != 7 ||
			p.Author == nil || p.Author.Username != "alice" || p.Author.DisplayName != "The alice" ||
			p.CreatedAt.IsZero() || !p.UpdatedAt.Equal(p.CreatedAt) || !p.LastActivityAt.Equal(p.CreatedAt) {
			t.Errorf("created %+v", p)
		}
		got, err := f.posts.Get(alice, p.ID)
		if err != nil || got.Title != "Hello" || !got.CreatedAt.Equal(p.CreatedAt) || got.Author.ID != p.Author.ID {
			t.Errorf("get: %+v, %v", got, err)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		long := strings.Repeat("é", model.TitleMax+1)
		for _, tc := range []struct {
			in    service.PostInput
			field string
		}{
			{service.PostInput{Title: " ", Body: "b"}, "title is required"},
			{service.PostInput{Title: long, Body: "b"}, "title must be at most 200 characters"},
			{service.PostInput{Title: "t", Body: ""}, "body is required"},
			{service.PostInput{Title: "t", Body: strings.Repeat("x", model.PostBodyMax+1)}, "body must be at most 20000 characters"},
			{service.PostInput{Title: "t\xff", Body: "b"}, "title is not valid UTF-8"},
			{service.PostInput{Title: "t", Body: "b", ProblemID: ptr(int64(0))}, "problem_id"},
		} {
			_, err := f.posts.Create(alice, tc.in)
			wantCode(t, err, model.EINVALID, tc.field)
		}
		// The limits count runes, not bytes.
		if _, err := f.posts.Create(alice, service.PostInput{Title: strings.Repeat("é", model.TitleMax), Body: "b"}); err != nil {
			t.Errorf("200 two-byte runes: %v", err)
		}
	})
	t.Run("ErrRateLimited", func(t *testing.T) {
		posts := service.NewPosts(f.db.DB, f.notes,
			service.NewRateLimiter(2, time.Hour))
		bob := f.as(t, "bob")
		for range 2 {
			if _, err := posts.Create(bob, service.PostInput{Title: "t", Body: "b"}); err != nil {
				t.Fatal(err)
			}
		}
		_, err := posts.Create(bob, service.PostInput{Title: "t", Body: "b"})
		wantCode(t, err, model.ERATELIMITED, "")
		// The limit is per user.
		if _, err := posts.Create(alice, service.PostInput{Title: "t", Body: "b"}); err != nil {
			t.Errorf("another user: %v", err)
		}
	})
}

func TestPostsGet(t *testing.T) {
	f := newFixture(t)
	alice, bob, p := f.alicePost(t, "p")
	if _, err := f.posts.Like(bob, p.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.posts.Mute(bob, p.ID); err != nil {
		t.Fatal(err)
	}

	t.Run("OK", func(t *testing.T) {
		// The viewer fields are the caller's.
		got, err := f.posts.Get(bob, p.ID)
		if err != nil || !got.Liked || !got.Muted || got.LikeCount != 1 {
			t.Errorf("bob sees %+v, %v", got, err)
		}
		got, err = f.posts.Get(alice, p.ID)
		if err != nil || got.Liked || got.Muted || got.LikeCount != 1 {
			t.Errorf("alice sees %+v, %v", got, err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := f.posts.Get(alice, p.ID+1000)
		wantCode(t, err, model.ENOTFOUND, "post")
	})
}

func TestPostsList(t *testing.T) {
	f := newFixture(t)
	alice := f.as(t, "alice")
	bob := f.as(t, "bob")
	var ps []*model.Post
	for i := range 7 {
		ctx := alice
		if i%2 == 1 {
			ctx = bob
		}
		in := service.PostInput{Title: "p", Body: "b"}
		if i < 4 {
			in.ProblemID = ptr(int64(100 + i%2))
		}
		p, err := f.posts.Create(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	// Likes: p2 has 2, p5 has 1. Comments make p1 then p3 the most active.
	for _, l := range []struct {
		ctx context.Context
		p   *model.Post
	}{{alice, ps[2]}, {bob, ps[2]}, {bob, ps[5]}} {
		if _, err := f.posts.Like(l.ctx, l.p.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []*model.Post{ps[1], ps[3]} {
		if _, err := f.comments.Create(alice, p.ID, service.CommentInput{Body: "c"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.posts.Delete(alice, ps[6].ID); err != nil {
		t.Fatal(err)
	}
	id := func(i int) int64 { return ps[i].ID }

	for _, tc := range []struct {
		name string
		q    service.PostQuery
		want []int64
	}{
		{"New", service.PostQuery{}, []int64{id(5), id(4), id(3), id(2), id(1), id(0)}},
		{"Active", service.PostQuery{Sort: "active"}, []int64{id(3), id(1), id(5), id(4), id(2), id(0)}},
		{"Top", service.PostQuery{Sort: "top"}, []int64{id(2), id(5), id(4), id(3), id(1), id(0)}},
		{"Problem", service.PostQuery{ProblemID: ptr(int64(100))}, []int64{id(2), id(0)}},
		{"ProblemActive", service.PostQuery{ProblemID: ptr(int64(101)), Sort: "active"}, []int64{id(3), id(1)}},
		{"ProblemTop", service.PostQuery{ProblemID: ptr(int64(100)), Sort: "top"}, []int64{id(2), id(0)}},
		{"Author", service.PostQuery{AuthorID: ptr(model.UserFrom(bob).ID)}, []int64{id(5), id(3), id(1)}},
		{"AuthorTop", service.PostQuery{AuthorID: ptr(model.UserFrom(bob).ID), Sort: "top"}, []int64{id(5), id(3), id(1)}},
		{"None", service.PostQuery{ProblemID: ptr(int64(999))}, []int64{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Walk two at a time, so that every order crosses pages.
			listed := walk(t, func(cursor string) (*service.Page[*model.Post], error) {
				q := tc.q
				q.Limit, q.Cursor = 2, cursor
				return f.posts.List(bob, q)
			})
			for _, p := range listed {
				if p.Author == nil {
					t.Errorf("post %d has no author", p.ID)
				}
				if p.Liked != (p.ID == id(2) || p.ID == id(5)) {
					t.Errorf("post %d: liked %v for bob", p.ID, p.Liked)
				}
			}
			if got := pluck(listed, func(p *model.Post) int64 { return p.ID }); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("ErrInvalid", func(t *testing.T) {
		page, err := f.posts.List(bob, service.PostQuery{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			q     service.PostQuery
			field string
		}{
			{service.PostQuery{Sort: "best"}, "sort"},
			{service.PostQuery{Limit: 101}, "limit"},
			{service.PostQuery{Limit: -1}, "limit"},
			{service.PostQuery{Cursor: "xyz"}, "cursor"},
			// A cursor of one order is no position in another.
			{service.PostQuery{Sort: "top", Cursor: *page.NextCursor}, "cursor"},
		} {
			_, err := f.posts.List(bob, tc.q)
			wantCode(t, err, model.EINVALID, tc.field)
		}
	})
}

func TestPostsUpdate(t *testing.T) {
	f := newFixture(t)
	alice := f.as(t, "alice")
	p := f.post(t, alice, "p")

	t.Run("OK", func(t *testing.T) {
		got, err := f.posts.Update(alice, p.ID, service.PostPatch{Title: ptr(" New title ")})
		if err != nil || got.Title != "New title" || got.Body != p.Body || !got.UpdatedAt.After(p.UpdatedAt) ||
			!got.CreatedAt.Equal(p.CreatedAt) || got.Author.ID != p.Author.ID {
			t.Errorf("title only: %+v, %v", got, err)
		}
		got, err = f.posts.Update(alice, p.ID, service.PostPatch{Body: ptr("new body")})
		if err != nil || got.Title != "New title" || got.Body != "new body" {
			t.Errorf("body only: %+v, %v", got, err)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		_, err := f.posts.Update(alice, p.ID, service.PostPatch{})
		wantCode(t, err, model.EINVALID, "title, body or spoiler")
		_, err = f.posts.Update(alice, p.ID, service.PostPatch{Title: ptr("")})
		wantCode(t, err, model.EINVALID, "title is required")
		_, err = f.posts.Update(alice, p.ID, service.PostPatch{Body: ptr(strings.Repeat("x", model.PostBodyMax+1))})
		wantCode(t, err, model.EINVALID, "body must be at most")
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := f.posts.Update(alice, p.ID+1000, service.PostPatch{Title: ptr("x")})
		wantCode(t, err, model.ENOTFOUND, "post")
	})
}

func TestPostsDelete(t *testing.T) {
	f := newFixture(t)
	alice := f.as(t, "alice")
	admin := f.asRole(t, "root", model.RoleAdmin)
	p := f.post(t, alice, "p")
	c, err := f.comments.Create(admin, p.ID, service.CommentInput{Body: "c"})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ErrPermission", func(t *testing.T) {
		wantCode(t, f.posts.Delete(f.as(t, "bob"), p.ID), model.EPERMISSION, "")
	})
	if err := f.posts.Delete(alice, p.ID); err != nil {
		t.Fatal(err)
	}
	// Gone for everyone, with everything under it.
	for name, err := range map[string]error{
		"get":           errOf(f.posts.Get(admin, p.ID)),
		"delete again":  f.posts.Delete(alice, p.ID),
		"update":        errOf(f.posts.Update(admin, p.ID, service.PostPatch{Title: ptr("x")})),
		"like":          errOf(f.posts.Like(alice, p.ID)),
		"unlike":        errOf(f.posts.Unlike(alice, p.ID)),
		"mute":          f.posts.Mute(alice, p.ID),
		"unmute":        f.posts.Unmute(alice, p.ID),
		"comment":       errOf(f.comments.Create(alice, p.ID, service.CommentInput{Body: "x"})),
		"list comments": errOf(f.comments.List(alice, p.ID, service.CommentQuery{})),
		"get comment":   errOf(f.comments.Get(admin, c.ID)),
		"replies":       errOf(f.comments.Replies(admin, c.ID, 0, "")),
		"edit comment":  errOf(f.comments.Update(alice, c.ID, service.CommentPatch{Body: ptr("x")})),
		"del comment":   f.comments.Delete(admin, c.ID),
		"like comment":  errOf(f.comments.Like(alice, c.ID)),
	} {
		if model.ErrorCode(err) != model.ENOTFOUND {
			t.Errorf("%s after delete: %v, want not_found", name, err)
		}
	}
	page, err := f.posts.List(alice, service.PostQuery{})
	if err != nil || len(page.Items) != 0 {
		t.Errorf("list after delete: %+v, %v", page, err)
	}
	// The notifications that led into it went with it.
	if left := f.countRows(t, &model.Notification{}, "post_id = ?", p.ID); left != 0 {
		t.Errorf("%d notifications of the deleted post left", left)
	}
}

func TestPostsLike(t *testing.T) {
	f := newFixture(t)
	alice, bob, p := f.alicePost(t, "p")
	likeSteps(t, alice, bob, p.ID, f.posts.Like, f.posts.Unlike)
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := f.posts.Like(alice, p.ID+1000)
		wantCode(t, err, model.ENOTFOUND, "post")
	})
}

// likeSteps has alice and bob like and unlike item id in turn, each way
// twice, through a service's like and unlike, and checks the count and the
// flag of every answer.
func likeSteps(t *testing.T, alice, bob context.Context, id int64, like, unlike func(context.Context, int64) (*model.LikeState, error)) {
	t.Helper()
	steps := []struct {
		ctx   context.Context
		like  bool
		count int64
	}{
		{alice, true, 1}, {alice, true, 1}, {bob, true, 2}, {alice, false, 1}, {alice, false, 1}, {bob, false, 0}, {bob, false, 0},
	}
	for i, s := range steps {
		set := unlike
		if s.like {
			set = like
		}
		st, err := set(s.ctx, id)
		if err != nil || st.LikeCount != s.count || st.Liked != s.like {
			t.Fatalf("step %d: %+v, %v; want count %d liked %v", i, st, err, s.count, s.like)
		}
	}
}

func TestPostsMute(t *testing.T) {
	f := newFixture(t)
	alice := f.as(t, "alice")
	p := f.post(t, alice, "p")
	for i, mute := range []bool{true, true, false, false, true} {
		set := f.posts.Unmute
		if mute {
			set = f.posts.Mute
		}
		if err := set(alice, p.ID); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		got, err := f.posts.Get(alice, p.ID)
		if err != nil || got.Muted != mute {
			t.Fatalf("step %d: muted %v, %v", i, got.Muted, err)
		}
	}
	t.Run("ErrNotFound", func(t *testing.T) {
		wantCode(t, f.posts.Mute(alice, p.ID+1000), model.ENOTFOUND, "post")
	})
}
