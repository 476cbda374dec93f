package api

import (
	"fmt"
	"testing"

	"github.com/quizsite/discuss/model"
)

// TestSubscriptions walks the levels of one post through the routes: the
// defaults (the author and a commenter watch, anyone else is normal), an
// explicit level overriding them, the mute routes as the muted level, and
// DELETE going back to the default; the post's subscription follows.
func TestSubscriptions(t *testing.T) {
	t.Parallel()
	ts, alice, bob, p := newServerWithPost(t)
	carol := ts.register(t, "carol")
	sub := fmt.Sprintf("/api/v1/posts/%d/subscription", p.ID)
	mute := fmt.Sprintf("/api/v1/posts/%d/mute", p.ID)
	want := func(t *testing.T, res response, level string, explicit bool) {
		t.Helper()
		got := decodeAs[model.Subscription](t, res, 200, "subscription")
		if got.Level != level || got.Explicit != explicit {
			t.Errorf("subscription %+v, want %s explicit %v", got, level, explicit)
		}
	}
	postLevel := func(t *testing.T, s session) string {
		t.Helper()
		got := decodeAs[model.Post](t, ts.doChecked(t, "GET", fmt.Sprintf("/api/v1/posts/%d", p.ID), s.Token, nil), 200, "post")
		if got.Muted != (got.Subscription == model.LevelMuted) {
			t.Errorf("muted %v with subscription %s", got.Muted, got.Subscription)
		}
		return got.Subscription
	}

	t.Run("Defaults", func(t *testing.T) {
		want(t, ts.doChecked(t, "GET", sub, alice.Token, nil), "watching", false)
		want(t, ts.doChecked(t, "GET", sub, carol.Token, nil), "normal", false)
		if got := postLevel(t, carol); got != "normal" {
			t.Errorf("carol's post shows %s", got)
		}
		ts.createComment(t, carol.Token, p.ID, nil)
		want(t, ts.doChecked(t, "GET", sub, carol.Token, nil), "watching", false)
		if got := postLevel(t, carol); got != "watching" {
			t.Errorf("carol's post shows %s after commenting", got)
		}
	})
	t.Run("Explicit", func(t *testing.T) {
		want(t, ts.doChecked(t, "PUT", sub, alice.Token, map[string]string{"level": "normal"}), "normal", true)
		want(t, ts.doChecked(t, "GET", sub, alice.Token, nil), "normal", true)
		// A new comment of hers does not bring back the default.
		ts.createComment(t, alice.Token, p.ID, nil)
		want(t, ts.doChecked(t, "GET", sub, alice.Token, nil), "normal", true)
		want(t, ts.doChecked(t, "DELETE", sub, alice.Token, nil), "watching", false)
		want(t, ts.doChecked(t, "PUT", sub, bob.Token, map[string]string{"level": "watching"}), "watching", true)
		want(t, ts.doChecked(t, "DELETE", sub, bob.Token, nil), "normal", false)
		want(t, ts.doChecked(t, "DELETE", sub, bob.Token, nil), "normal", false)
	})
	t.Run("Mute", func(t *testing.T) {
		if res := ts.doChecked(t, "PUT", mute, bob.Token, nil); res.Status != 204 {
			t.Fatalf("mute: %d %s", res.Status, res.Body)
		}
		want(t, ts.doChecked(t, "GET", sub, bob.Token, nil), "muted", true)
		if got := postLevel(t, bob); got != "muted" {
			t.Errorf("bob's post shows %s", got)
		}
		if res := ts.doChecked(t, "DELETE", mute, bob.Token, nil); res.Status != 204 {
			t.Fatalf("unmute: %d %s", res.Status, res.Body)
		}
		want(t, ts.doChecked(t, "GET", sub, bob.Token, nil), "normal", false)
		want(t, ts.doChecked(t, "PUT", sub, carol.Token, map[string]string{"level": "muted"}), "muted", true)
		if res := ts.doChecked(t, "DELETE", mute, carol.Token, nil); res.Status != 204 {
			t.Fatalf("unmute: %d %s", res.Status, res.Body)
		}
		want(t, ts.doChecked(t, "GET", sub, carol.Token, nil), "watching", false)
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, body := range []any{map[string]string{"level": "loud"}, map[string]string{}, map[string]any{"level": 1}} {
			wantError(t, ts.doChecked(t, "PUT", sub, bob.Token, body), 400, model.EINVALID, "level")
		}
		wantError(t, ts.doChecked(t, "PUT", sub, bob.Token, "["), 400, model.EINVALID, "")
		for _, method := range []string{"GET", "PUT", "DELETE"} {
			wantError(t, ts.doChecked(t, method, "/api/v1/posts/x/subscription", bob.Token, map[string]string{"level": "muted"}), 400, model.EINVALID, "id")
			wantError(t, ts.doChecked(t, method, "/api/v1/posts/0/subscription", bob.Token, map[string]string{"level": "muted"}), 400, model.EINVALID, "id")
		}
		for _, q := range []string{"limit=0", "limit=101", "limit=x", "cursor=nonsense"} {
			wantError(t, ts.doChecked(t, "GET", "/api/v1/me/subscriptions?"+q, bob.Token, nil), 400, model.EINVALID, "")
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		gone := ts.createPost(t, bob.Token, "gone")
		ts.doChecked(t, "DELETE", fmt.Sprintf("/api/v1/posts/%d", gone.ID), bob.Token, nil)
		for _, id := range []int64{999, gone.ID} {
			for _, method := range []string{"GET", "PUT", "DELETE"} {
				res := ts.doChecked(t, method, fmt.Sprintf("/api/v1/posts/%d/subscription", id), bob.Token, map[string]string{"level": "muted"})
				wantError(t, res, 404, model.ENOTFOUND, "post")
			}
		}
	})
	t.Run("ErrUnauthenticated", func(t *testing.T) {
		for _, call := range []struct{ method, target string }{
			{"GET", sub}, {"PUT", sub}, {"DELETE", sub}, {"GET", "/api/v1/me/subscriptions"},
		} {
			for _, token := range []string{"", "forged.token.here"} {
				wantError(t, ts.doChecked(t, call.method, call.target, token, map[string]string{"level": "muted"}), 401, model.EUNAUTHENTICATED, "")
			}
		}
	})
}

// TestListSubscriptions: the posts a user watches or set a level on, newest
// first, walked by cursor; posts where they are normal by default, and
// deleted posts, are not listed.
func TestListSubscriptions(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	alice, bob := ts.register(t, "alice"), ts.register(t, "bob")
	var want []int64
	for i := range 5 {
		p := ts.createPost(t, alice.Token, fmt.Sprint("p", i))
		switch i {
		case 0:
			ts.createComment(t, bob.Token, p.ID, nil) // watching by default
		case 1:
			ts.doChecked(t, "PUT", fmt.Sprintf("/api/v1/posts/%d/subscription", p.ID), bob.Token, map[string]string{"level": "normal"})
		case 2:
			ts.doChecked(t, "PUT", fmt.Sprintf("/api/v1/posts/%d/mute", p.ID), bob.Token, nil)
		case 3:
			continue // normal by default: not listed
		case 4:
			ts.createComment(t, bob.Token, p.ID, nil)
			ts.doChecked(t, "DELETE", fmt.Sprintf("/api/v1/posts/%d", p.ID), alice.Token, nil)
			continue // deleted
		}
		want = append([]int64{p.ID}, want...)
	}
	got := ts.pageIDs(t, bob.Token, "/api/v1/me/subscriptions?limit=2")
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("bob's subscriptions %v, want %v", got, want)
	}
	res := ts.doChecked(t, "GET", "/api/v1/me/subscriptions", bob.Token, nil)
	var page struct {
		Items []model.SubscriptionItem `json:"items"`
	}
	res.JSON(t, &page)
	levels := ""
	for _, it := range page.Items {
		levels += fmt.Sprintf("%s:%s/%v ", it.Post.Title, it.Level, it.Explicit)
	}
	if levels != "p2:muted/true p1:normal/true p0:watching/false " {
		t.Errorf("bob's subscriptions: %s", levels)
	}
	if got := ts.pageIDs(t, alice.Token, "/api/v1/me/subscriptions?limit=100"); len(got) != 4 {
		t.Errorf("alice's subscriptions %v, want her 4 live posts", got)
	}
}

// TestListSubscriptionsHidesHidden: a post hidden by reports is gone from
// the lists of those who may not see it, their subscriptions too; its
// author and moderators still find it there.
func TestListSubscriptionsHidesHidden(t *testing.T) {
	t.Parallel()
	ts, alice, bob, p := newServerWithPost(t)
	mod := ts.withRole(t, "mod", model.RoleModerator)
	shown := ts.createPost(t, alice.Token, "shown")
	for _, id := range []int64{p.ID, shown.ID} {
		ts.createComment(t, bob.Token, id, nil) // watching
		ts.doChecked(t, "PUT", fmt.Sprintf("/api/v1/posts/%d/mute", id), mod.Token, nil)
	}
	ts.hideByReports(t, "posts", p.ID, "spam")
	for _, tc := range []struct {
		who  string
		s    session
		want []int64
	}{
		{"Reader", bob, []int64{shown.ID}},
		{"Author", alice, []int64{shown.ID, p.ID}},
		{"Moderator", mod, []int64{shown.ID, p.ID}},
	} {
		if got := ts.pageIDs(t, tc.s.Token, "/api/v1/me/subscriptions?limit=1"); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s's subscriptions %v, want %v", tc.who, got, tc.want)
		}
	}
}
