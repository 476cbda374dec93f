package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/quizsite/discuss/model"
)

// excerptOf returns the excerpt of a notification frame.
func excerptOf(t *testing.T, f frame) string {
	t.Helper()
	var n model.Notification
	if err := json.Unmarshal(f.Notification, &n); err != nil {
		t.Fatal(err)
	}
	return n.Excerpt
}

// hideByReports has as many new users as moderation.hide_after_reports
// report the post or comment at target ("posts" or "comments", and its
// id) for reason, which hides it.
func (ts *testServer) hideByReports(t *testing.T, target string, id int64, reason string) {
	t.Helper()
	for i := range ts.Config.Moderation.HideAfterReports {
		s := ts.register(t, fmt.Sprintf("%s%d_reporter%d", target, id, i))
		res := ts.doChecked(t, "POST", fmt.Sprintf("/api/v1/%s/%d/report", target, id), s.Token, map[string]any{"reason": reason})
		if res.Status != http.StatusCreated {
			t.Fatalf("report of %s %d: %d %s", target, id, res.Status, res.Body)
		}
	}
}

// TestThirdReportOverTheWire: a spoiler reply reaches its reader live with
// the excerpt "[spoiler]"; three users' reports hide it, and the reader
// hears at once that it is gone (an unread_count frame), after which it
// is 404 to her and absent from her notifications, while a moderator
// still reads it.
func TestThirdReportOverTheWire(t *testing.T) {
	t.Parallel()
	ts, alice, bob, p := newServerWithPost(t)
	mod := ts.withRole(t, "mod", model.RoleModerator)
	conn := ts.dialWS(t, "?token="+alice.Token, nil)
	res := ts.doChecked(t, "POST", fmt.Sprintf("/api/v1/posts/%d/comments", p.ID), bob.Token, map[string]any{"body": "it is 42", "spoiler": true})
	c := decodeAs[model.Comment](t, res, http.StatusCreated, "comment")
	if !c.Spoiler || c.Hidden || c.AuthorBlocked {
		t.Fatalf("comment %s", res.Body)
	}
	if got := excerptOf(t, nextOfType(t, conn, "notification")); got != "[spoiler]" {
		t.Fatalf("live excerpt %q", got)
	}
	ts.hideByReports(t, "comments", c.ID, "spoiler")
	if f := nextOfType(t, conn, "unread_count"); f.UnreadCount != 0 {
		t.Errorf("unread_count frame %+v, want 0", f)
	}
	path := fmt.Sprintf("/api/v1/comments/%d", c.ID)
	wantError(t, ts.doChecked(t, "GET", path, alice.Token, nil), 404, model.ENOTFOUND, "comment")
	got := decodeAs[model.Comment](t, ts.doChecked(t, "GET", path, mod.Token, nil), http.StatusOK, "as moderator")
	if !got.Hidden || got.Body != "it is 42" {
		t.Errorf("the moderator reads %+v", got)
	}
	if page := ts.notifications(t, alice.Token, ""); len(page.Items) != 0 || page.UnreadCount != 0 {
		t.Errorf("alice's notifications %+v", page)
	}
	queue := decodeAs[struct {
		Items []struct {
			ID          int64    `json:"id"`
			ReportCount int64    `json:"report_count"`
			Reasons     []string `json:"reasons"`
			Hidden      bool     `json:"hidden"`
		} `json:"items"`
	}](t, ts.doChecked(t, "GET", "/api/v1/mod/reports", mod.Token, nil), http.StatusOK, "queue")
	if len(queue.Items) != 1 || queue.Items[0].ReportCount != 3 || !queue.Items[0].Hidden || queue.Items[0].Reasons[0] != "spoiler" {
		t.Fatalf("queue %+v", queue)
	}
	res = ts.doChecked(t, "POST", fmt.Sprintf("/api/v1/mod/reports/%d/resolve", queue.Items[0].ID), mod.Token, map[string]any{"action": "dismiss"})
	if res.Status != http.StatusOK {
		t.Fatalf("dismiss: %d %s", res.Status, res.Body)
	}
	if got := decodeAs[model.Comment](t, ts.doChecked(t, "GET", path, alice.Token, nil), http.StatusOK, "after dismiss"); got.Hidden {
		t.Errorf("after dismiss alice reads %+v", got)
	}
	if page := ts.notifications(t, alice.Token, ""); len(page.Items) != 0 {
		t.Errorf("dismiss sent the notification again: %+v", page)
	}
}

// TestReplayAfterBlock: a notification written before a block is not
// replayed after it, on connect with or without since, whether the block
// withdrew it or (as when a writer raced the block) it is still stored;
// what comes later is replayed as usual.
func TestReplayAfterBlock(t *testing.T) {
	t.Parallel()
	ts, alice, bob, p := newServerWithPost(t)
	carol := ts.register(t, "carol")
	ts.commentWith(t, bob.Token, p.ID, 0, "from bob, withdrawn by the block")
	if res := ts.doChecked(t, "PUT", fmt.Sprintf("/api/v1/users/%d/block", bob.User.ID), alice.Token, nil); res.Status != http.StatusNoContent {
		t.Fatalf("block: %d %s", res.Status, res.Body)
	}
	// Carol's comment, and then a block of her that commits as a racing
	// writer leaves it: her notification still stored.
	ts.commentWith(t, carol.Token, p.ID, 0, "from carol, written before her block")
	if err := ts.DB.Create(&model.UserBlock{UserID: alice.User.ID, BlockedID: carol.User.ID}).Error; err != nil {
		t.Fatal(err)
	}
	ts.commentWith(t, bob.Token, p.ID, 0, "from bob, after the block")
	dave := ts.register(t, "dave")
	ts.commentWith(t, dave.Token, p.ID, 0, "from dave")
	for _, query := range []string{"?since=0&token=", "?token="} {
		conn := ts.dialWS(t, query+alice.Token, nil)
		id, f := nextNotification(t, conn)
		if got := excerptOf(t, f); got != "from dave" || !f.Replayed {
			t.Errorf("%s: first replayed %d %q, want dave's", query, id, got)
		}
		if err := conn.WriteJSON(map[string]string{"type": "ping"}); err != nil {
			t.Fatal(err)
		}
		if f := readFrame(t, conn); f.Type != "pong" {
			t.Errorf("%s: after the replay %+v, want pong", query, f)
		}
	}
	if page := ts.notifications(t, alice.Token, ""); len(page.Items) != 1 {
		t.Errorf("alice's list %+v, want dave's alone", page.Items)
	}
	blocks := decodeAs[struct {
		Items []model.BlockedUser `json:"items"`
	}](t, ts.doChecked(t, "GET", "/api/v1/me/blocks", alice.Token, nil), http.StatusOK, "blocks")
	if len(blocks.Items) != 2 || blocks.Items[0].User.Username != "carol" {
		t.Errorf("blocks %+v", blocks)
	}
	// Bob's content carries author_blocked in alice's views.
	thread := decodeAs[struct {
		Items []model.Comment `json:"items"`
	}](t, ts.doChecked(t, "GET", fmt.Sprintf("/api/v1/posts/%d/comments", p.ID), alice.Token, nil), http.StatusOK, "thread")
	if len(thread.Items) != 4 || !thread.Items[0].AuthorBlocked || thread.Items[3].AuthorBlocked {
		t.Errorf("thread %+v", thread.Items)
	}
}
