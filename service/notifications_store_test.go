package service_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

// The hub's store: replay queries, each user's sequence, catching up after
// a broker outage.

func TestReplayQueries(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t)
	_, alice, n := f.threeFor(t, "alice")
	if _, err := f.store.MarkRead(ctx, alice, []int64{n[1].ID}, 0); err != nil {
		t.Fatal(err)
	}
	ids := func(list []*model.Notification) []int64 {
		var out []int64
		for _, n := range list {
			if n.Actor == nil || *n.Actor != (model.Author{ID: f.users["bob"].ID, Username: "bob", DisplayName: "The bob"}) {
				t.Errorf("notification %d: actor %+v, want bob", n.ID, n.Actor)
			}
			out = append(out, n.ID)
		}
		return out
	}

	t.Run("OK/After", func(t *testing.T) {
		list, err := f.store.NotificationsAfter(ctx, alice, n[0].ID, 500)
		if err != nil || !slices.Equal(ids(list), []int64{n[1].ID, n[2].ID}) {
			t.Errorf("NotificationsAfter = %v, %v", ids(list), err)
		}
		list, err = f.store.NotificationsAfter(ctx, alice, 0, 2)
		if err != nil || !slices.Equal(ids(list), []int64{n[0].ID, n[1].ID}) {
			t.Errorf("NotificationsAfter limit 2 = %v, %v", ids(list), err)
		}
	})
	t.Run("OK/Unread", func(t *testing.T) {
		list, err := f.store.UnreadNotifications(ctx, alice, 100)
		if err != nil || !slices.Equal(ids(list), []int64{n[0].ID, n[2].ID}) {
			t.Errorf("UnreadNotifications = %v, %v", ids(list), err)
		}
		if c, err := f.store.UnreadCount(ctx, alice); err != nil || c != 2 {
			t.Errorf("UnreadCount = %d, %v", c, err)
		}
	})
	t.Run("OK/OtherUser", func(t *testing.T) {
		list, err := f.store.NotificationsAfter(ctx, f.users["bob"].ID, 0, 500)
		if err != nil || len(list) != 0 || list == nil {
			t.Errorf("bob replays %v, %v", list, err)
		}
	})
	t.Run("OK/EveryField", func(t *testing.T) {
		// The hand-scanned rows are GORM's, field for field.
		var want []*model.Notification
		if err := f.db.Where("user_id = ?", alice).Order("id").Find(&want).Error; err != nil {
			t.Fatal(err)
		}
		got, err := f.store.NotificationsAfter(ctx, alice, 0, 500)
		if err != nil || len(got) != len(want) {
			t.Fatalf("NotificationsAfter = %d, %v; want %d", len(got), err, len(want))
		}
		for i := range got {
			g := *got[i]
			g.Actor = nil
			if !reflect.DeepEqual(&g, want[i]) {
				t.Errorf("row %d: %+v, want %+v", i, g, *want[i])
			}
		}
		head, err := f.store.NotificationHead(ctx, alice)
		if err != nil || head != (model.NotificationHead{Seq: 3, LastID: n[2].ID, Unread: 2, Unseen: 3}) {
			t.Errorf("NotificationHead = %+v, %v", head, err)
		}
		head, err = f.store.NotificationHead(ctx, 1<<40)
		wantCode(t, err, model.ENOTFOUND, "does not exist")
		if head != (model.NotificationHead{}) {
			t.Errorf("unknown user's head = %+v", head)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		_, err := f.store.NotificationsAfter(ctx, alice, 0, 0)
		wantCode(t, err, model.EINVALID, "limit")
		_, err = f.store.UnreadNotifications(ctx, alice, -1)
		wantCode(t, err, model.EINVALID, "limit")
	})
	t.Run("ErrDatabaseDown", func(t *testing.T) {
		// Prepared already (above), the statements fail on the closed pool.
		sqlDB, _ := f.db.DB.DB()
		_ = sqlDB.Close()
		if _, err := f.store.NotificationHead(ctx, alice); err == nil {
			t.Error("NotificationHead: no error")
		}
		if _, err := f.store.NotificationsAfter(ctx, alice, 0, 10); err == nil {
			t.Error("NotificationsAfter: no error")
		}
		if _, err := f.store.UnreadNotifications(ctx, alice, 10); err == nil {
			t.Error("UnreadNotifications: no error")
		}
		// A store that has prepared nothing yet fails to prepare.
		if _, err := service.NewNotifications(f.db.DB, nil).Store().NotificationHead(ctx, alice); err == nil {
			t.Error("NotificationHead unprepared: no error")
		}
	})
}

// TestSequenceSurvivesDeletion: deleting a comment deletes its
// notification, leaving a hole in the user's sequence that is never
// filled; the next notification takes the next number.
func TestSequenceSurvivesDeletion(t *testing.T) {
	f := newFixture(t)
	alice, bob, post := f.alicePost(t, "my post")
	aliceID := model.UserFrom(alice).ID
	c1 := f.comment(t, bob, post.ID, nil, "one")
	f.comment(t, bob, post.ID, nil, "two")
	if err := f.comments.Delete(bob, c1.ID); err != nil {
		t.Fatal(err)
	}
	f.comment(t, bob, post.ID, nil, "three")
	var seqs []int64
	if err := f.db.Raw("SELECT seq FROM notifications WHERE user_id = ? ORDER BY id", aliceID).Scan(&seqs).Error; err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seqs, []int64{2, 3}) {
		t.Fatalf("seqs after deleting the first comment = %v, want [2 3]", seqs)
	}
	head, err := f.store.NotificationHead(t.Context(), aliceID)
	if err != nil || head.Seq != 3 || head.Unread != 2 {
		t.Fatalf("head = %+v, %v; want seq 3, unread 2", head, err)
	}
}

// TestResumeNeverSkips has writers on different posts notify one user at
// once while a reader resumes by id as a reconnecting client does. Every
// notification must be seen: none may commit after a larger id was read.
func TestResumeNeverSkips(t *testing.T) {
	f := newFixture(t)
	f.as(t, "target")
	target := f.users["target"].ID
	writers, each := 12, 10
	if f.db.Driver == "sqlite" {
		// SQLite runs one writer at a time, so the interleaving this test
		// hunts cannot happen there; a short run checks the plumbing.
		writers, each = 4, 5
	}
	ctxs := f.crowd(t, "writer%02d", writers)
	posts := make([]*model.Post, writers)
	for i, ctx := range ctxs {
		posts[i] = f.post(t, ctx, "own post")
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		together(writers, func(i int) {
			for k := range each {
				// Each writer comments on its own post, so only the
				// recipient's lock orders these transactions.
				if _, err := f.comments.Create(ctxs[i], posts[i].ID, service.CommentInput{Body: fmt.Sprintf("@target %d", k)}); err != nil {
					t.Error(err)
				}
			}
		})
	}()

	seen := map[int64]bool{}
	var after int64
	// As the hub reads (see notify's upToHead): the head first, then the
	// list, of which only what the head covers counts. A list read alone
	// may show a notification without the one before it while that one
	// commits (MariaDB's snapshot), and resuming after it would skip it.
	read := func() {
		head, err := f.store.NotificationHead(t.Context(), target)
		if err != nil {
			t.Fatal(err)
		}
		list, err := f.store.NotificationsAfter(t.Context(), target, after, 500)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range list {
			if n.ID > head.LastID {
				break
			}
			seen[n.ID] = true
			after = n.ID
		}
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		read()
	}
	read()
	rows := f.rowsOf(t, target)
	if len(rows) != writers*each {
		t.Fatalf("%d notifications, want %d", len(rows), writers*each)
	}
	for _, n := range rows {
		if !seen[n.ID] {
			t.Errorf("notification %d was skipped by a reader resuming by id", n.ID)
		}
	}
}

// TestMissedNotifications reads several users' ranges at once: each range
// gets its user's notifications above AfterID up to UpToSeq, oldest first,
// with actors and the user's unread count; a range with nothing in it
// still gets its head, and a hole left by a deleted comment is skipped.
func TestMissedNotifications(t *testing.T) {
	f := newFixture(t)
	alice, bob, carol := f.as(t, "alice"), f.as(t, "bob"), f.as(t, "carol")
	aliceID, bobID, carolID := model.UserFrom(alice).ID, model.UserFrom(bob).ID, model.UserFrom(carol).ID
	alicePost, bobPost := f.post(t, alice, "alice's"), f.post(t, bob, "bob's")
	f.comment(t, carol, alicePost.ID, nil, "a1")
	a2 := f.comment(t, carol, alicePost.ID, nil, "a2")
	f.comment(t, carol, alicePost.ID, nil, "a3")
	f.comment(t, carol, alicePost.ID, nil, "a4") // seq 4: beyond the range
	f.comment(t, carol, bobPost.ID, nil, "b1")
	if err := f.comments.Delete(carol, a2.ID); err != nil {
		t.Fatal(err)
	}
	aliceRows := f.rowsOf(t, aliceID) // seqs 1, 3, 4 remain

	got, err := f.store.MissedNotifications(t.Context(), []model.NotificationRange{
		{UserID: aliceID, AfterID: 0, UpToSeq: 3},
		{UserID: bobID, AfterID: 0, UpToSeq: 1},
		{UserID: carolID, AfterID: 0, UpToSeq: 0},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].UserID != aliceID || got[1].UserID != bobID || got[2].UserID != carolID {
		t.Fatalf("got %+v, want one answer per range, in order", got)
	}
	var ids []int64
	for _, n := range got[0].List {
		ids = append(ids, n.ID)
		if n.Actor == nil || n.Actor.ID != carolID {
			t.Errorf("notification %d: actor %+v, want carol", n.ID, n.Actor)
		}
	}
	if want := []int64{aliceRows[0].ID, aliceRows[1].ID}; !slices.Equal(ids, want) {
		t.Fatalf("alice's missed ids = %v, want %v (seq 1 and 3; 2 deleted, 4 past the range)", ids, want)
	}
	if h := got[0].Head; h.Seq != 3 || h.LastID != aliceRows[1].ID || h.Unread != 3 {
		t.Fatalf("alice's head = %+v, want seq 3, last id %d, unread 3", h, aliceRows[1].ID)
	}
	if len(got[1].List) != 1 || got[1].Head.Unread != 1 {
		t.Fatalf("bob's = %+v, want one notification, unread 1", got[1])
	}
	if len(got[2].List) != 0 || got[2].Head != (model.NotificationHead{}) {
		t.Fatalf("carol's = %+v, want nothing", got[2])
	}

	// AfterID cuts the front of a range.
	got, err = f.store.MissedNotifications(t.Context(), []model.NotificationRange{{UserID: aliceID, AfterID: aliceRows[0].ID, UpToSeq: 4}})
	if err != nil || len(got) != 1 || len(got[0].List) != 2 || got[0].List[0].ID != aliceRows[1].ID {
		t.Fatalf("after the first: %+v, %v; want seq 3 and 4", got, err)
	}
	if none, err := f.store.MissedNotifications(t.Context(), nil); err != nil || none != nil {
		t.Fatalf("no ranges: %v, %v", none, err)
	}
}
