package service_test

import (
	"fmt"
	"testing"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

// The seen mark: the badge counts the notifications above it, read or not;
// it moves up only, never past what the user has, and moving it tells the
// user's connections the new counts.

func TestMarkSeen(t *testing.T) {
	f := newFixture(t)
	alice, aliceID, n := f.threeFor(t, "alice")
	carol := f.as(t, "carol")
	counts := func(t *testing.T) model.NotificationCounts {
		t.Helper()
		c, err := f.notes.UnreadCount(alice)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if got := counts(t); got != (model.NotificationCounts{Unread: 3, Unseen: 3}) {
		t.Fatalf("a new user's counts %+v, want 3 unread and 3 unseen", got)
	}

	t.Run("OK", func(t *testing.T) {
		unseen, err := f.notes.MarkSeen(alice, n[1].ID)
		if err != nil || unseen != 1 {
			t.Fatalf("MarkSeen = %d, %v; want 1", unseen, err)
		}
		// Seeing is not reading.
		if got := counts(t); got != (model.NotificationCounts{Unread: 3, Unseen: 1}) {
			t.Errorf("counts %+v, want 3 unread and 1 unseen", got)
		}
		got := f.pub.take()
		if len(got) != 1 || got[0].kind != "unread_count" || got[0].userID != aliceID || got[0].unread != 3 || got[0].unseen != 1 {
			t.Errorf("published %+v, want alice's counts 3 and 1", got)
		}
	})
	t.Run("OK/NeverBackwards", func(t *testing.T) {
		unseen, err := f.notes.MarkSeen(alice, n[0].ID)
		if err != nil || unseen != 1 {
			t.Fatalf("MarkSeen back = %d, %v; want 1", unseen, err)
		}
		if got := f.pub.take(); len(got) != 0 {
			t.Errorf("a mark that did not move published %+v", got)
		}
	})
	t.Run("OK/ReadingLeavesUnseen", func(t *testing.T) {
		if _, err := f.notes.MarkRead(alice, model.ReadSelection{UpToID: n[2].ID}); err != nil {
			t.Fatal(err)
		}
		if got := counts(t); got != (model.NotificationCounts{Unread: 0, Unseen: 1}) {
			t.Errorf("counts %+v, want 0 unread and 1 unseen", got)
		}
		f.pub.take()
	})
	t.Run("OK/NotPastTheNewest", func(t *testing.T) {
		// An id beyond every notification of alice's moves the mark to
		// her newest, not beyond: what comes later is still unseen.
		unseen, err := f.notes.MarkSeen(alice, 1<<40)
		if err != nil || unseen != 0 {
			t.Fatalf("MarkSeen huge = %d, %v; want 0", unseen, err)
		}
		p := f.post(t, alice, "another")
		f.comment(t, f.as(t, "bob"), p.ID, nil, "later")
		if got := counts(t); got != (model.NotificationCounts{Unread: 1, Unseen: 1}) {
			t.Errorf("counts %+v after a new notification, want 1 and 1", got)
		}
		page, err := f.notes.List(alice, service.ListNotifications{})
		if err != nil || page.Unread != 1 || page.Unseen != 1 {
			t.Errorf("List counts = %+v, %v; want 1 and 1", page.NotificationCounts, err)
		}
		f.pub.take()
	})
	t.Run("OK/ForeignIDs", func(t *testing.T) {
		// carol names alice's ids: her mark has nothing of hers to land
		// on, and alice's counts do not move.
		before := counts(t)
		unseen, err := f.notes.MarkSeen(carol, n[2].ID)
		if err != nil || unseen != 0 {
			t.Fatalf("carol's MarkSeen = %d, %v", unseen, err)
		}
		if got := counts(t); got != before {
			t.Errorf("alice's counts %+v after carol's mark, want %+v", got, before)
		}
		if got := f.pub.take(); len(got) != 0 {
			t.Errorf("published %+v", got)
		}
	})
	t.Run("OK/HubReadsUnseen", func(t *testing.T) {
		head, err := f.store.NotificationHead(t.Context(), aliceID)
		if err != nil || head.Unread != 1 || head.Unseen != 1 {
			t.Errorf("NotificationHead = %+v, %v; want 1 unread and 1 unseen", head, err)
		}
		missed, err := f.store.MissedNotifications(t.Context(), []model.NotificationRange{{UserID: aliceID, AfterID: 0, UpToSeq: head.Seq}})
		if err != nil || len(missed) != 1 || missed[0].Head.Unread != 1 || missed[0].Head.Unseen != 1 {
			t.Errorf("MissedNotifications = %+v, %v; want 1 unread and 1 unseen", missed, err)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, id := range []int64{0, -1} {
			_, err := f.notes.MarkSeen(alice, id)
			wantCode(t, err, model.EINVALID, "up_to_id")
		}
	})
}

// TestSeenMarkRacesWriters: marks moving while notifications are written
// end where the last mark put them, and the counts equal a recount.
func TestSeenMarkRacesWriters(t *testing.T) {
	f := newFixture(t)
	alice, bob, p := f.alicePost(t, "post")
	done := make(chan error)
	go func() {
		var err error
		for i := range 20 {
			if _, e := f.comments.Create(bob, p.ID, service.CommentInput{Body: fmt.Sprintf("c%d", i)}); e != nil {
				err = e
			}
		}
		done <- err
	}()
	var last int64
	for range 20 {
		rows := f.rowsOf(t, f.users["alice"].ID)
		if len(rows) == 0 {
			continue
		}
		last = rows[len(rows)-1].ID
		if _, err := f.notes.MarkSeen(alice, last); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var above int64
	f.db.Raw("SELECT COUNT(*) FROM notifications WHERE user_id = ? AND id > ?", f.users["alice"].ID, last).Scan(&above)
	counts, err := f.notes.UnreadCount(alice)
	if err != nil || counts.Unseen != above || counts.Unread != 20 {
		t.Errorf("counts %+v, %v; want 20 unread and %d unseen", counts, err, above)
	}
}
