package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/quizsite/discuss/configs"
	"github.com/quizsite/discuss/model"
)

func TestCreatePost(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *configs.Config) { c.Limits.PostsPerMinute = 3 })
	alice := ts.register(t, "alice")

	t.Run("OK", func(t *testing.T) {
		res := ts.doChecked(t, "POST", "/api/v1/posts", alice.Token, map[string]any{"title": " Hi ", "body": "there", "problem_id": 12})
		p := decodeAs[map[string]any](t, res, http.StatusCreated, "create post")
		author, _ := p["author"].(map[string]any)
		if p["title"] != "Hi" || p["problem_id"] != 12.0 || p["liked"] != false || p["muted"] != false ||
			p["comment_count"] != 0.0 || author["username"] != "alice" {
			t.Errorf("created %s", res.Body)
		}
		// Without a problem, problem_id is null.
		p2 := ts.createPost(t, alice.Token, "no problem")
		if p2.ProblemID != nil {
			t.Errorf("problem_id %v", *p2.ProblemID)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, tc := range []struct {
			body any
			text string
		}{
			{`{"title": "t", "body": `, "invalid JSON"},
			{`[1]`, "JSON object"},
			{map[string]any{"body": "b"}, "title is required"},
			{map[string]any{"title": "t"}, "body is required"},
			{map[string]any{"title": strings.Repeat("x", 201), "body": "b"}, "title must be at most 200 characters"},
			{map[string]any{"title": "t", "body": strings.Repeat("x", 20001)}, "body must be at most 20000 characters"},
			{map[string]any{"title": 5, "body": "b"}, "title must be a string"},
			{map[string]any{"title": "t", "body": "b", "problem_id": 0}, "problem_id"},
			{map[string]any{"title": "t", "body": "b", "problem_id": "12"}, "problem_id"},
			{"{\"title\": \"\xff\", \"body\": \"b\"}", "UTF-8"},
		} {
			wantError(t, ts.doChecked(t, "POST", "/api/v1/posts", alice.Token, tc.body), 400, model.EINVALID, tc.text)
		}
	})
	t.Run("ErrUnauthenticated", func(t *testing.T) {
		wantError(t, ts.doChecked(t, "POST", "/api/v1/posts", "", map[string]any{"title": "t", "body": "b"}), 401, model.EUNAUTHENTICATED, "")
	})
	t.Run("ErrTooLarge", func(t *testing.T) {
		big := fmt.Sprintf(`{"title": "t", "body": %q}`, strings.Repeat("x", int(ts.Config.Limits.BodyBytes)))
		wantError(t, ts.doChecked(t, "POST", "/api/v1/posts", alice.Token, big), 413, model.ETOOLARGE, "")
	})
	t.Run("ErrRateLimited", func(t *testing.T) {
		bob := ts.register(t, "bob")
		for range 3 {
			ts.createPost(t, bob.Token, "p")
		}
		wantRateLimited(t, ts.doChecked(t, "POST", "/api/v1/posts", bob.Token, map[string]any{"title": "t", "body": "b"}))
	})
}

func TestGetPost(t *testing.T) {
	t.Parallel()
	ts, alice, bob, p := newServerWithPost(t)
	ts.doChecked(t, "PUT", fmt.Sprintf("/api/v1/posts/%d/like", p.ID), bob.Token, nil)
	ts.doChecked(t, "PUT", fmt.Sprintf("/api/v1/posts/%d/mute", p.ID), bob.Token, nil)

	t.Run("OK", func(t *testing.T) {
		for _, tc := range []struct {
			s            session
			liked, muted bool
		}{{alice, false, false}, {bob, true, true}} {
			res := ts.doChecked(t, "GET", fmt.Sprintf("/api/v1/posts/%d", p.ID), tc.s.Token, nil)
			var got model.Post
			res.JSON(t, &got)
			if res.Status != 200 || got.Liked != tc.liked || got.Muted != tc.muted || got.LikeCount != 1 || got.Author.ID != alice.User.ID {
				t.Errorf("%s sees %d %s", tc.s.User.Username, res.Status, res.Body)
			}
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, id := range []string{"abc", "0", "-1", "99999999999999999999"} {
			wantError(t, ts.doChecked(t, "GET", "/api/v1/posts/"+id, bob.Token, nil), 400, model.EINVALID, "id")
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		wantError(t, ts.doChecked(t, "GET", fmt.Sprintf("/api/v1/posts/%d", p.ID+100), bob.Token, nil), 404, model.ENOTFOUND, "post")
	})
	t.Run("ErrUnauthenticated", func(t *testing.T) {
		wantError(t, ts.doChecked(t, "GET", fmt.Sprintf("/api/v1/posts/%d", p.ID), "", nil), 401, model.EUNAUTHENTICATED, "")
	})
}

func TestListPosts(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	alice := ts.register(t, "alice")
	bob := ts.register(t, "bob")
	p1 := ts.createPost(t, alice.Token, "one", 5)
	p2 := ts.createPost(t, bob.Token, "two", 5)
	p3 := ts.createPost(t, alice.Token, "three")
	ts.doChecked(t, "PUT", fmt.Sprintf("/api/v1/posts/%d/like", p1.ID), bob.Token, nil)
	ts.doChecked(t, "POST", fmt.Sprintf("/api/v1/posts/%d/comments", p2.ID), bob.Token, map[string]any{"body": "bump"})

	for _, tc := range []struct {
		query string
		want  []int64
	}{
		{"", []int64{p3.ID, p2.ID, p1.ID}},
		{"sort=new", []int64{p3.ID, p2.ID, p1.ID}},
		{"sort=active", []int64{p2.ID, p3.ID, p1.ID}},
		{"sort=top", []int64{p1.ID, p3.ID, p2.ID}},
		{"problem_id=5", []int64{p2.ID, p1.ID}},
		{fmt.Sprintf("author_id=%d&sort=top", alice.User.ID), []int64{p1.ID, p3.ID}},
		{"problem_id=6", nil},
		// The contract's template, its filters left empty: absent, as an
		// empty limit or sort is.
		{"problem_id=&author_id=&sort=", []int64{p3.ID, p2.ID, p1.ID}},
	} {
		t.Run("OK/"+tc.query, func(t *testing.T) {
			if got := ts.pageIDs(t, bob.Token, "/api/v1/posts?limit=1&"+tc.query); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("Empty", func(t *testing.T) {
		res := ts.doChecked(t, "GET", "/api/v1/posts?problem_id=6", bob.Token, nil)
		if string(res.Body) != `{"items":[],"next_cursor":null}` {
			t.Errorf("empty list: %s", res.Body)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for query, field := range map[string]string{
			"sort=best":         "sort",
			"limit=0":           "limit",
			"limit=101":         "limit",
			"limit=ten":         "limit",
			"cursor=nonsense":   "cursor",
			"problem_id=x":      "problem_id",
			"problem_id=-3":     "problem_id",
			"author_id=0":       "author_id",
			"sort=top&cursor=e": "cursor",
		} {
			wantError(t, ts.doChecked(t, "GET", "/api/v1/posts?"+query, bob.Token, nil), 400, model.EINVALID, field)
		}
	})
}

func TestUpdatePost(t *testing.T) {
	t.Parallel()
	ts, alice, bob, p := newServerWithPost(t)
	path := fmt.Sprintf("/api/v1/posts/%d", p.ID)

	t.Run("OK", func(t *testing.T) {
		res := ts.doChecked(t, "PATCH", path, alice.Token, map[string]any{"body": "new body"})
		var got model.Post
		res.JSON(t, &got)
		if res.Status != 200 || got.Body != "new body" || got.Title != "p" || !got.UpdatedAt.After(p.UpdatedAt) {
			t.Errorf("%d %s", res.Status, res.Body)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		wantError(t, ts.doChecked(t, "PATCH", path, alice.Token, map[string]any{}), 400, model.EINVALID, "title, body or spoiler")
		wantError(t, ts.doChecked(t, "PATCH", path, alice.Token, map[string]any{"title": "  "}), 400, model.EINVALID, "title is required")
		wantError(t, ts.doChecked(t, "PATCH", path, alice.Token, ""), 400, model.EINVALID, "body is required")
	})
	t.Run("ErrPermission", func(t *testing.T) {
		wantError(t, ts.doChecked(t, "PATCH", path, bob.Token, map[string]any{"title": "mine"}), 403, model.EPERMISSION, "")
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		wantError(t, ts.doChecked(t, "PATCH", path+"0", alice.Token, map[string]any{"title": "x"}), 404, model.ENOTFOUND, "post")
	})
}

func TestDeletePost(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	alice := ts.register(t, "alice")
	admin := ts.withRole(t, "boss", model.RoleAdmin)
	p := ts.createPost(t, alice.Token, "p")
	c := ts.createComment(t, alice.Token, p.ID, nil)
	if res := ts.doChecked(t, "DELETE", fmt.Sprintf("/api/v1/posts/%d", p.ID), alice.Token, nil); res.Status != 204 || len(res.Body) != 0 {
		t.Fatalf("delete: %d %s", res.Status, res.Body)
	}
	// Afterwards everything about it is 404, for everyone.
	for _, s := range []session{alice, admin} {
		for _, r := range []struct{ method, path string }{
			{"GET", fmt.Sprintf("/api/v1/posts/%d", p.ID)},
			{"DELETE", fmt.Sprintf("/api/v1/posts/%d", p.ID)},
			{"PUT", fmt.Sprintf("/api/v1/posts/%d/like", p.ID)},
			{"GET", fmt.Sprintf("/api/v1/posts/%d/comments", p.ID)},
			{"GET", fmt.Sprintf("/api/v1/comments/%d", c.ID)},
			{"GET", fmt.Sprintf("/api/v1/comments/%d/replies", c.ID)},
		} {
			wantError(t, ts.doChecked(t, r.method, r.path, s.Token, nil), 404, model.ENOTFOUND, "")
		}
	}
	res := ts.doChecked(t, "GET", "/api/v1/posts", alice.Token, nil)
	if !strings.Contains(string(res.Body), `"items":[]`) {
		t.Errorf("list after delete: %s", res.Body)
	}
}

func TestLikeAndMutePost(t *testing.T) {
	t.Parallel()
	ts, alice, bob, p := newServerWithPost(t)
	like := fmt.Sprintf("/api/v1/posts/%d/like", p.ID)
	mute := fmt.Sprintf("/api/v1/posts/%d/mute", p.ID)

	t.Run("OK", func(t *testing.T) {
		ts.wantLikesCountOnce(t, like, alice, bob, alice)
		for _, method := range []string{"PUT", "PUT", "DELETE", "DELETE", "PUT"} {
			if res := ts.doChecked(t, method, mute, bob.Token, nil); res.Status != 204 {
				t.Errorf("%s mute: %d %s", method, res.Status, res.Body)
			}
		}
		var got model.Post
		ts.doChecked(t, "GET", fmt.Sprintf("/api/v1/posts/%d", p.ID), bob.Token, nil).JSON(t, &got)
		if !got.Muted || !got.Liked {
			t.Errorf("bob's view after mute: %+v", got)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		for _, path := range []string{"/api/v1/posts/999/like", "/api/v1/posts/999/mute"} {
			for _, method := range []string{"PUT", "DELETE"} {
				wantError(t, ts.doChecked(t, method, path, bob.Token, nil), 404, model.ENOTFOUND, "post")
			}
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		wantError(t, ts.doChecked(t, "PUT", "/api/v1/posts/x/like", bob.Token, nil), 400, model.EINVALID, "id")
		wantError(t, ts.doChecked(t, "PUT", "/api/v1/posts/x/mute", bob.Token, nil), 400, model.EINVALID, "id")
	})
}
