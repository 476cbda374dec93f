package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quizsite/discuss/model"
)

// notificationPage is a list of notifications as the API answers it.
type notificationPage struct {
	Items       []model.Notification `json:"items"`
	NextCursor  *string              `json:"next_cursor"`
	UnreadCount int64                `json:"unread_count"`
	UnseenCount *int64               `json:"unseen_count"`
}

type unreadCount struct {
	UnreadCount *int64 `json:"unread_count"`
	UnseenCount *int64 `json:"unseen_count"`
}

// notifications lists the caller's notifications with query q.
func (ts *testServer) notifications(t *testing.T, token, q string) notificationPage {
	t.Helper()
	res := ts.doChecked(t, "GET", "/api/v1/notifications"+q, token, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("list notifications: %d %s", res.Status, res.Body)
	}
	var p notificationPage
	res.JSON(t, &p)
	return p
}

// unread answers a call that returns {unread_count}, failing the test on
// another status or shape.
func (ts *testServer) unread(t *testing.T, method, target, token string, body any) int64 {
	t.Helper()
	res := ts.doChecked(t, method, target, token, body)
	if res.Status != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, target, res.Status, res.Body)
	}
	var u unreadCount
	res.JSON(t, &u)
	if u.UnreadCount == nil {
		t.Fatalf("%s %s: no unread_count in %s", method, target, res.Body)
	}
	return *u.UnreadCount
}

func TestNotificationsEndToEnd(t *testing.T) {
	t.Parallel()
	ts, alice, bob, post := newServerWithPost(t)
	carol := ts.register(t, "carol")

	// bob comments on alice's post and mentions carol.
	c := ts.commentWith(t, bob.Token, post.ID, 0, "good one, @Carol")
	page := ts.notifications(t, alice.Token, "")
	if len(page.Items) != 1 || page.UnreadCount != 1 || page.NextCursor != nil {
		t.Fatalf("alice's page %+v", page)
	}
	n := page.Items[0]
	if n.Type != model.NotifyPostComment || *n.PostID != post.ID || *n.CommentID != c.ID || n.Read ||
		n.Excerpt != "good one, @Carol" || n.Actor == nil ||
		*n.Actor != (model.Author{ID: bob.User.ID, Username: "bob", DisplayName: "bob"}) {
		t.Errorf("alice's notification %+v actor %+v", n, n.Actor)
	}
	// The wire shape is the contract's, nothing more, nothing less.
	res := ts.doChecked(t, "GET", "/api/v1/notifications", alice.Token, nil)
	var raw struct {
		Items []map[string]json.RawMessage `json:"items"`
	}
	res.JSON(t, &raw)
	var keys []string
	for k := range raw.Items[0] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"actor", "comment_id", "created_at", "excerpt", "id", "post_id", "read", "type"}; !slices.Equal(keys, want) {
		t.Errorf("notification fields %v, want %v", keys, want)
	}

	if page := ts.notifications(t, carol.Token, ""); len(page.Items) != 1 || page.Items[0].Type != model.NotifyMention {
		t.Errorf("carol's page %+v", page)
	}

	// carol replies to bob's comment: bob is told; alice, who watches her
	// post, hears of it from the fan-out, after the reply's commit.
	reply := ts.commentWith(t, carol.Token, post.ID, c.ID, "agreed")
	bobs := ts.notifications(t, bob.Token, "")
	if len(bobs.Items) != 1 || bobs.Items[0].Type != model.NotifyCommentReply || *bobs.Items[0].CommentID != reply.ID {
		t.Errorf("bob's page %+v", bobs)
	}
	deadline := time.Now().Add(5 * time.Second)
	for page = ts.notifications(t, alice.Token, ""); len(page.Items) < 2; page = ts.notifications(t, alice.Token, "") {
		if time.Now().After(deadline) {
			t.Fatalf("alice's thread_comment not listed within 5 s: %+v", page)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	if th := page.Items[0]; th.Type != model.NotifyThreadComment || *th.CommentID != reply.ID || th.Actor == nil || th.Actor.ID != carol.User.ID {
		t.Errorf("alice's newest notification %+v, want carol's thread_comment", th)
	}
	if got := ts.unread(t, "GET", "/api/v1/notifications/unread_count", alice.Token, nil); got != 2 {
		t.Errorf("alice's unread_count %d, want 2", got)
	}

	// alice reads the first.
	if got := ts.unread(t, "POST", fmt.Sprintf("/api/v1/notifications/%d/read", n.ID), alice.Token, nil); got != 1 {
		t.Errorf("after marking, unread_count %d", got)
	}
	if page := ts.notifications(t, alice.Token, ""); !page.Items[1].Read || page.UnreadCount != 1 {
		t.Errorf("alice's page after marking %+v", page)
	}

	// bob deletes his comment: its notifications leave every list; those
	// of the reply under it stay.
	if res := ts.do(t, "DELETE", fmt.Sprintf("/api/v1/comments/%d", c.ID), bob.Token, nil); res.Status != http.StatusNoContent {
		t.Fatalf("delete comment: %d %s", res.Status, res.Body)
	}
	if page := ts.notifications(t, carol.Token, ""); len(page.Items) != 0 || page.UnreadCount != 0 {
		t.Errorf("carol still lists %+v", page)
	}
	if page := ts.notifications(t, alice.Token, ""); len(page.Items) != 1 || *page.Items[0].CommentID != reply.ID || page.UnreadCount != 1 {
		t.Errorf("alice lists %+v, want only the reply's thread_comment", page)
	}
	if page := ts.notifications(t, bob.Token, ""); len(page.Items) != 1 || page.UnreadCount != 1 {
		t.Errorf("bob's reply notification went too: %+v", page)
	}
}

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

func TestCommentRollsBackWithItsNotification(t *testing.T) {
	t.Parallel()
	ts, alice, bob, post := newServerWithPost(t)
	ts.DB.FailInserts(t, "notifications")
	res := ts.doChecked(t, "POST", fmt.Sprintf("/api/v1/posts/%d/comments", post.ID), bob.Token, map[string]any{"body": "hi"})
	wantError(t, res, http.StatusInternalServerError, model.EINTERNAL, "")

	res = ts.doChecked(t, "GET", fmt.Sprintf("/api/v1/posts/%d/comments", post.ID), alice.Token, nil)
	if res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"items":[]`) {
		t.Errorf("the comment remains: %d %s", res.Status, res.Body)
	}
	res = ts.doChecked(t, "GET", fmt.Sprintf("/api/v1/posts/%d", post.ID), alice.Token, nil)
	var p model.Post
	res.JSON(t, &p)
	if p.CommentCount != 0 {
		t.Errorf("comment_count %d, want 0", p.CommentCount)
	}
	if page := ts.notifications(t, alice.Token, ""); len(page.Items) != 0 || page.UnreadCount != 0 {
		t.Errorf("alice has %+v", page)
	}
}

// notificationsFrom gives owner, who has none yet, n notifications from
// commenter (n comments on a new post of owner's) and returns them as
// listed: newest first.
func (ts *testServer) notificationsFrom(t *testing.T, owner, commenter session, n int) []model.Notification {
	t.Helper()
	post := ts.createPost(t, owner.Token, "post")
	for i := range n {
		ts.commentWith(t, commenter.Token, post.ID, 0, fmt.Sprintf("comment %d", i))
	}
	page := ts.notifications(t, owner.Token, "")
	if len(page.Items) != n {
		t.Fatalf("%d notifications, want %d", len(page.Items), n)
	}
	return page.Items
}

// threeNotifications gives owner three notifications from a new user and
// returns them, oldest first.
func (ts *testServer) threeNotifications(t *testing.T, owner session, commenter string) []model.Notification {
	t.Helper()
	n := ts.notificationsFrom(t, owner, ts.register(t, commenter), 3)
	slices.Reverse(n)
	return n
}

func TestMarkNotificationsRead(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	alice, carol := ts.register(t, "alice"), ts.register(t, "carol")
	n := ts.threeNotifications(t, alice, "bob")
	one := func(id int64) string { return fmt.Sprintf("/api/v1/notifications/%d/read", id) }

	t.Run("OK/UpToID", func(t *testing.T) {
		if got := ts.unread(t, "POST", "/api/v1/notifications/read", alice.Token, map[string]any{"up_to_id": n[1].ID}); got != 1 {
			t.Fatalf("unread_count %d, want 1", got)
		}
		page := ts.notifications(t, alice.Token, "?unread_only=true")
		if len(page.Items) != 1 || page.Items[0].ID != n[2].ID {
			t.Errorf("unread after up_to_id: %+v", page.Items)
		}
	})
	t.Run("OK/IDs", func(t *testing.T) {
		if got := ts.unread(t, "POST", "/api/v1/notifications/read", alice.Token, map[string]any{"ids": []int64{n[2].ID, n[0].ID}}); got != 0 {
			t.Fatalf("unread_count %d, want 0", got)
		}
	})
	t.Run("OK/Again", func(t *testing.T) {
		if got := ts.unread(t, "POST", one(n[0].ID), alice.Token, nil); got != 0 {
			t.Fatalf("unread_count %d, want 0", got)
		}
	})

	dave := ts.register(t, "dave")
	d := ts.threeNotifications(t, dave, "erin")
	t.Run("ErrNotFound/AnotherUsers", func(t *testing.T) {
		res := ts.doChecked(t, "POST", one(d[0].ID), carol.Token, nil)
		wantError(t, res, http.StatusNotFound, model.ENOTFOUND, "not found")
		res = ts.doChecked(t, "POST", one(1<<40), carol.Token, nil)
		wantError(t, res, http.StatusNotFound, model.ENOTFOUND, "not found")
	})
	t.Run("OK/AnotherUsersIgnoredInBatch", func(t *testing.T) {
		if got := ts.unread(t, "POST", "/api/v1/notifications/read", carol.Token, map[string]any{"ids": []int64{d[0].ID, d[1].ID}}); got != 0 {
			t.Errorf("carol's unread_count %d", got)
		}
		if got := ts.unread(t, "POST", "/api/v1/notifications/read", carol.Token, map[string]any{"up_to_id": d[2].ID}); got != 0 {
			t.Errorf("carol's unread_count %d", got)
		}
		if got := ts.unread(t, "GET", "/api/v1/notifications/unread_count", dave.Token, nil); got != 3 {
			t.Errorf("dave's unread_count %d, want 3: carol marked his", got)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		tooMany := make([]int64, 1001)
		for i := range tooMany {
			tooMany[i] = int64(i + 1)
		}
		for _, tt := range []struct {
			name string
			body any
			text string
		}{
			{"Neither", map[string]any{}, "ids or up_to_id"},
			{"NullBoth", `{"ids": null, "up_to_id": null}`, "ids or up_to_id"},
			{"Both", map[string]any{"ids": []int64{1}, "up_to_id": 1}, "not both"},
			{"EmptyIDs", map[string]any{"ids": []int64{}}, "ids"},
			{"ZeroID", map[string]any{"ids": []int64{0}}, "ids"},
			{"TooManyIDs", map[string]any{"ids": tooMany}, "ids"},
			{"ZeroUpTo", map[string]any{"up_to_id": 0}, "up_to_id"},
			{"NegativeUpTo", map[string]any{"up_to_id": -5}, "up_to_id"},
			{"IDsNotArray", `{"ids": "1,2"}`, "ids"},
			{"UpToNotNumber", `{"up_to_id": "7"}`, "up_to_id"},
			{"BadJSON", `{"ids": [1,`, "JSON"},
			{"NoBody", "", "body"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				res := ts.doChecked(t, "POST", "/api/v1/notifications/read", alice.Token, tt.body)
				wantError(t, res, http.StatusBadRequest, model.EINVALID, tt.text)
			})
		}
		res := ts.doChecked(t, "POST", "/api/v1/notifications/abc/read", alice.Token, nil)
		wantError(t, res, http.StatusBadRequest, model.EINVALID, "id")
	})

	t.Run("ErrUnauthenticated", func(t *testing.T) {
		for _, r := range [][2]string{
			{"GET", "/api/v1/notifications"}, {"GET", "/api/v1/notifications/unread_count"},
			{"POST", "/api/v1/notifications/read"}, {"POST", one(n[0].ID)},
		} {
			res := ts.doChecked(t, r[0], r[1], "", map[string]any{"ids": []int64{1}})
			wantError(t, res, http.StatusUnauthorized, model.EUNAUTHENTICATED, "")
		}
	})
}

func TestListNotificationsPages(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	alice, bob := ts.register(t, "alice"), ts.register(t, "bob")
	all := ts.notificationsFrom(t, alice, bob, 5)
	ts.unread(t, "POST", "/api/v1/notifications/read", alice.Token, map[string]any{"ids": []int64{all[1].ID, all[3].ID}})

	walk := func(t *testing.T, q string) []int64 {
		t.Helper()
		var ids []int64
		cursor := ""
		for range 10 {
			page := ts.notifications(t, alice.Token, q+cursor)
			if page.UnreadCount != 3 {
				t.Errorf("unread_count %d, want 3", page.UnreadCount)
			}
			for _, n := range page.Items {
				ids = append(ids, n.ID)
			}
			if page.NextCursor == nil {
				return ids
			}
			cursor = "&cursor=" + *page.NextCursor
		}
		t.Fatal("the walk did not end")
		return nil
	}

	t.Run("OK", func(t *testing.T) {
		var want []int64
		for _, n := range all {
			want = append(want, n.ID)
		}
		if !slices.IsSortedFunc(want, func(a, b int64) int { return int(b - a) }) {
			t.Errorf("not newest first: %v", want)
		}
		if got := walk(t, "?limit=2"); !slices.Equal(got, want) {
			t.Errorf("walked %v, want %v", got, want)
		}
	})
	t.Run("OK/UnreadOnly", func(t *testing.T) {
		want := []int64{all[0].ID, all[2].ID, all[4].ID}
		if got := walk(t, "?unread_only=true&limit=1"); !slices.Equal(got, want) {
			t.Errorf("walked %v, want %v", got, want)
		}
	})
	t.Run("OK/Empty", func(t *testing.T) {
		res := ts.doChecked(t, "GET", "/api/v1/notifications", bob.Token, nil)
		if res.Status != http.StatusOK || string(res.Body) != `{"items":[],"next_cursor":null,"unread_count":0,"unseen_count":0}` {
			t.Errorf("empty list: %d %s", res.Status, res.Body)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, tt := range []struct{ q, text string }{
			{"?limit=0", "limit"},
			{"?limit=101", "limit"},
			{"?limit=x", "limit"},
			{"?unread_only=maybe", "unread_only"},
			{"?cursor=garbage", "cursor"},
		} {
			res := ts.doChecked(t, "GET", "/api/v1/notifications"+tt.q, alice.Token, nil)
			wantError(t, res, http.StatusBadRequest, model.EINVALID, tt.text)
		}
	})
}

func TestAdminNotify(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	admin := ts.withRole(t, "root", model.RoleAdmin)
	mod := ts.withRole(t, "mod", model.RoleModerator)
	alice := ts.register(t, "alice")

	t.Run("OK", func(t *testing.T) {
		msg := strings.Repeat("ж", model.MessageMax)
		res := ts.doChecked(t, "POST", "/api/v1/admin/notify", admin.Token, map[string]any{"user_id": alice.User.ID, "message": "  " + msg + "\n"})
		n := decodeAs[model.Notification](t, res, http.StatusCreated, "notify")
		if n.ID == 0 || n.Type != model.NotifySystem || n.Excerpt != msg || n.Read || n.PostID != nil || n.CommentID != nil ||
			n.Actor == nil || n.Actor.ID != admin.User.ID {
			t.Errorf("created %+v", n)
		}
		page := ts.notifications(t, alice.Token, "")
		if len(page.Items) != 1 || page.Items[0].ID != n.ID || page.UnreadCount != 1 {
			t.Errorf("alice's page %+v", page)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		res := ts.doChecked(t, "POST", "/api/v1/admin/notify", admin.Token, map[string]any{"user_id": 1 << 40, "message": "hi"})
		wantError(t, res, http.StatusNotFound, model.ENOTFOUND, "user")
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, tt := range []struct {
			body any
			text string
		}{
			{map[string]any{"user_id": alice.User.ID, "message": " \t "}, "message"},
			{map[string]any{"user_id": alice.User.ID}, "message"},
			{map[string]any{"user_id": alice.User.ID, "message": strings.Repeat("x", model.MessageMax+1)}, "message"},
			{map[string]any{"message": "hi"}, "user_id"},
			{map[string]any{"user_id": "1", "message": "hi"}, "user_id"},
		} {
			res := ts.doChecked(t, "POST", "/api/v1/admin/notify", admin.Token, tt.body)
			wantError(t, res, http.StatusBadRequest, model.EINVALID, tt.text)
		}
	})
	t.Run("ErrPermission", func(t *testing.T) {
		for _, s := range []session{alice, mod} {
			res := ts.doChecked(t, "POST", "/api/v1/admin/notify", s.Token, map[string]any{"user_id": alice.User.ID, "message": "hi"})
			wantError(t, res, http.StatusForbidden, model.EPERMISSION, "")
		}
	})
}
