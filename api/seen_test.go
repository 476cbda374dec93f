package api

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/quizsite/discuss/model"
)

// counts answers GET /notifications/unread_count as both counts, failing
// the test unless both are there.
func (ts *testServer) counts(t *testing.T, token string) model.NotificationCounts {
	t.Helper()
	res := ts.doChecked(t, "GET", "/api/v1/notifications/unread_count", token, nil)
	u := decodeAs[unreadCount](t, res, http.StatusOK, "unread_count")
	if u.UnreadCount == nil || u.UnseenCount == nil {
		t.Fatalf("unread_count answered %s, want both counts", res.Body)
	}
	return model.NotificationCounts{Unread: *u.UnreadCount, Unseen: *u.UnseenCount}
}

// seen posts up_to_id to /notifications/seen and returns the unseen count,
// failing the test unless the answer is exactly {unseen_count}.
func (ts *testServer) seen(t *testing.T, token string, upToID int64) int64 {
	t.Helper()
	res := ts.doChecked(t, "POST", "/api/v1/notifications/seen", token, map[string]any{"up_to_id": upToID})
	got := decodeAs[struct {
		UnseenCount int64 `json:"unseen_count"`
	}](t, res, http.StatusOK, "seen")
	if want := fmt.Sprintf(`{"unseen_count":%d}`, got.UnseenCount); string(res.Body) != want {
		t.Fatalf("seen answered %s, want %s", res.Body, want)
	}
	return got.UnseenCount
}

func TestMarkNotificationsSeen(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	alice, carol := ts.register(t, "alice"), ts.register(t, "carol")
	n := ts.threeNotifications(t, alice, "bob")
	if got := ts.counts(t, alice.Token); got != (model.NotificationCounts{Unread: 3, Unseen: 3}) {
		t.Fatalf("counts %+v, want 3 and 3", got)
	}
	// Another tab of alice's hears the counts when the bell is opened.
	tab := ts.dialWS(t, fmt.Sprintf("?token=%s&since=%d", alice.Token, n[2].ID), nil)

	t.Run("OK", func(t *testing.T) {
		if got := ts.seen(t, alice.Token, n[1].ID); got != 1 {
			t.Fatalf("unseen_count %d, want 1", got)
		}
		f := readFrame(t, tab)
		if f.Type != "unread_count" || f.UnreadCount != 3 || f.UnseenCount == nil || *f.UnseenCount != 1 {
			t.Fatalf("frame %+v, want unread_count 3 and unseen_count 1", f)
		}
		// The list and every unread_count answer carry both.
		page := ts.notifications(t, alice.Token, "")
		if page.UnreadCount != 3 || page.UnseenCount == nil || *page.UnseenCount != 1 {
			t.Errorf("list counts %d, %v; want 3 and 1", page.UnreadCount, page.UnseenCount)
		}
		res := ts.doChecked(t, "POST", fmt.Sprintf("/api/v1/notifications/%d/read", n[2].ID), alice.Token, nil)
		if string(res.Body) != `{"unread_count":2,"unseen_count":1}` {
			t.Errorf("mark one read answered %s", res.Body)
		}
		if f := readFrame(t, tab); f.Type != "unread_count" || f.UnreadCount != 2 || *f.UnseenCount != 1 {
			t.Fatalf("frame %+v, want unread_count 2 and unseen_count 1", f)
		}
		res = ts.doChecked(t, "POST", "/api/v1/notifications/read", alice.Token, map[string]any{"up_to_id": n[0].ID})
		if string(res.Body) != `{"unread_count":1,"unseen_count":1}` {
			t.Errorf("mark read answered %s", res.Body)
		}
	})
	t.Run("OK/NeverBackwards", func(t *testing.T) {
		if got := ts.seen(t, alice.Token, n[0].ID); got != 1 {
			t.Fatalf("unseen_count %d after a mark back, want 1", got)
		}
	})
	t.Run("OK/NotPastTheNewest", func(t *testing.T) {
		if got := ts.seen(t, alice.Token, 1<<50); got != 0 {
			t.Fatalf("unseen_count %d, want 0", got)
		}
		ts.commentWith(t, carol.Token, ts.createPost(t, alice.Token, "more").ID, 0, "hi")
		if got := ts.counts(t, alice.Token); got.Unseen != 1 {
			t.Errorf("counts %+v after a new notification, want 1 unseen", got)
		}
	})
	t.Run("OK/AnotherUsersIDs", func(t *testing.T) {
		if got := ts.seen(t, carol.Token, n[2].ID); got != 0 {
			t.Errorf("carol's unseen_count %d", got)
		}
		if got := ts.counts(t, alice.Token); got.Unseen != 1 {
			t.Errorf("alice's counts %+v after carol's mark, want 1 unseen", got)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			body any
			text string
		}{
			{"Missing", map[string]any{}, "up_to_id"},
			{"Null", `{"up_to_id": null}`, "up_to_id"},
			{"Zero", map[string]any{"up_to_id": 0}, "up_to_id"},
			{"Negative", map[string]any{"up_to_id": -5}, "up_to_id"},
			{"NotNumber", `{"up_to_id": "7"}`, "up_to_id"},
			{"Fraction", `{"up_to_id": 1.5}`, "up_to_id"},
			{"TooLarge", `{"up_to_id": 1e30}`, "up_to_id"},
			{"NotObject", `[1]`, "object"},
			{"BadJSON", `{"up_to_id": 1`, "JSON"},
			{"NoBody", "", "body"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				res := ts.doChecked(t, "POST", "/api/v1/notifications/seen", alice.Token, tt.body)
				wantError(t, res, http.StatusBadRequest, model.EINVALID, tt.text)
			})
		}
	})
	t.Run("ErrUnauthenticated", func(t *testing.T) {
		res := ts.doChecked(t, "POST", "/api/v1/notifications/seen", "", map[string]any{"up_to_id": 1})
		wantError(t, res, http.StatusUnauthorized, model.EUNAUTHENTICATED, "")
	})
}
