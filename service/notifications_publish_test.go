package service_test

import (
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

// What is published, when: after commit only, with the unread count, and
// when notifications are removed.

func TestPublishAfterCommitOnly(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		f := newFixture(t)
		_, bob, p := f.alicePost(t, "post")
		f.as(t, "carol")
		f.pub.take()
		f.comment(t, bob, p.ID, nil, "hi @carol")
		got := f.pub.take()
		if len(got) != 2 {
			t.Fatalf("published %+v, want alice's and carol's", got)
		}
		for _, e := range got {
			if e.kind != "notification" || !e.committed || e.unread != 1 {
				t.Errorf("published %+v, want a committed notification with unread 1", e)
			}
		}
	})

	t.Run("ErrPublisherDown", func(t *testing.T) {
		// A failing publisher is logged and fails nothing.
		f := newFixture(t)
		_, bob, p := f.alicePost(t, "post")
		f.pub.setErr(errors.New("broker down"))
		f.comment(t, bob, p.ID, nil, "hi")
		if n := recountOf(f.db.DB, f.users["alice"].ID); n != 1 {
			t.Errorf("alice has %d unread, want 1", n)
		}
		if n, err := f.store.MarkRead(t.Context(), f.users["alice"].ID, nil, 1<<40); err != nil || n != 0 {
			t.Errorf("MarkRead = %d, %v", n, err)
		}
		wantLogged(t, f.logs, "broker down")
	})

	t.Run("ErrRolledBack", func(t *testing.T) {
		// When the transaction fails after the hook ran, nothing is
		// published and neither the comment nor its notification remains.
		f := newFixture(t)
		_, bob, p := f.alicePost(t, "post")
		f.as(t, "carol")
		top := f.comment(t, f.as(t, "carol"), p.ID, nil, "top")
		f.pub.take()
		f.db.FailInserts(t, "notifications")

		for _, parent := range []*model.Comment{nil, top} {
			in := service.CommentInput{Body: "hi @carol"}
			if parent != nil {
				in.ParentID = &parent.ID
			}
			_, err := f.comments.Create(bob, p.ID, in)
			if err == nil {
				t.Fatal("Create succeeded although its notification insert failed")
			}
		}
		if got := f.pub.take(); len(got) != 0 {
			t.Errorf("published %+v for rolled-back transactions", got)
		}
		comments := f.countRows(t, &model.Comment{}, "post_id = ?", p.ID)
		notes := f.countRows(t, &model.Notification{}, "post_id = ?", p.ID)
		if comments != 1 || notes != 1 { // the top comment and its post_comment, from before
			t.Errorf("%d comments and %d notifications remain, want 1 and 1", comments, notes)
		}
		var post model.Post
		f.db.Take(&post, p.ID)
		var root model.Comment
		f.db.Take(&root, top.ID)
		if post.CommentCount != 1 || root.ReplyCount != 0 {
			t.Errorf("counters moved: comment_count %d, reply_count %d", post.CommentCount, root.ReplyCount)
		}
	})
}

// countReads counts, from now on, the statements that read a user's counts
// (countsColumns), and fails them while fail is set. Counts are Raw
// statements, which gorm runs through its Row callbacks.
func countReads(t *testing.T, f *fixture, fail *atomic.Bool) *atomic.Int64 {
	var reads atomic.Int64
	f.hook(t, "row", func(tx *gorm.DB) {
		if strings.Contains(tx.Statement.SQL.String(), "AS unseen") {
			reads.Add(1)
			if fail.Load() {
				_ = tx.AddError(errors.New("injected failure"))
			}
		}
	})
	return &reads
}

// TestPublishWithoutCount: when the counts cannot be read after the
// commit, the notification is still published, with -1 for the unread
// count, so that the hub has the connections read it from the database
// rather than dropping the live push.
func TestPublishWithoutCount(t *testing.T) {
	f := newFixture(t)
	alice, bob, p := f.alicePost(t, "post")
	f.comment(t, bob, p.ID, nil, "first")
	f.pub.take()

	// The counts a comment's transaction knew stand unless another count
	// of the stripe is published before its notification: alice reading
	// everything, just after the commit. The notification's counts are
	// then counted again, and that fails.
	var failCounts atomic.Bool
	countReads(t, f, &failCounts)
	f.pub.setOnThread(func() {
		if _, err := f.store.MarkRead(t.Context(), model.UserFrom(alice).ID, nil, 1<<40); err != nil {
			t.Errorf("MarkRead: %v", err)
		}
		failCounts.Store(true)
	})
	c := f.comment(t, bob, p.ID, nil, "second!")
	f.pub.setOnThread(nil)
	failCounts.Store(false)

	got := f.pub.take()
	if len(got) != 2 || got[0].kind != "unread_count" || got[1].kind != "notification" ||
		got[1].n.CommentID == nil || *got[1].n.CommentID != c.ID || got[1].unread != -1 {
		t.Fatalf("published %+v, want the mark's unread_count, then the notification of comment %d with unread -1", got, c.ID)
	}
	wantLogged(t, f.logs, "counts for publishing")
}

// TestPublishKnownCounts: a notification goes out with the counts its
// transaction read under the user's lock, without counting them again,
// unless another publish of the same stripe came between: then they are
// counted, and the newest go out.
func TestPublishKnownCounts(t *testing.T) {
	t.Parallel()

	t.Run("NoRead", func(t *testing.T) {
		f := newFixture(t)
		alice, bob, p := f.alicePost(t, "post")
		aliceID := model.UserFrom(alice).ID
		first := f.comment(t, bob, p.ID, nil, "one")
		f.comment(t, bob, p.ID, nil, "two")
		if _, err := f.notes.MarkOneRead(alice, f.rowsOf(t, aliceID)[0].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.notes.MarkSeen(alice, f.rowsOf(t, aliceID)[0].ID); err != nil {
			t.Fatal(err)
		}
		f.pub.take()
		var never atomic.Bool
		reads := countReads(t, f, &never)

		// One unread and one unseen before; then a reply (which mentions
		// her too) and a system notification.
		f.comment(t, bob, p.ID, first, "reply to @alice")
		admin := f.asRole(t, "boss", model.RoleAdmin)
		if _, err := f.notes.SendSystem(admin, aliceID, "maintenance tonight"); err != nil {
			t.Fatal(err)
		}
		got := f.pub.take()
		if len(got) != 2 || got[0].unread != 2 || got[0].unseen != 2 || got[1].unread != 3 || got[1].unseen != 3 {
			t.Fatalf("published %+v, want notifications with counts 2/2 then 3/3", got)
		}
		for _, e := range got {
			if e.kind != "notification" || !e.committed {
				t.Errorf("published %+v, want a committed notification", e)
			}
		}
		if n := reads.Load(); n != 0 {
			t.Errorf("%d statements read counts, want none", n)
		}
	})

	t.Run("CountedAgainAfterAnotherPublish", func(t *testing.T) {
		f := newFixture(t)
		alice, bob, p := f.alicePost(t, "post")
		f.comment(t, bob, p.ID, nil, "first")
		f.pub.take()
		var never atomic.Bool
		reads := countReads(t, f, &never)

		// Between the second comment's commit and its notification's
		// publish, alice reads both (reading leaves them unseen): the
		// transaction knew 2 unread, and alice's unread count must end at 0.
		f.pub.setOnThread(func() {
			if _, err := f.store.MarkRead(t.Context(), model.UserFrom(alice).ID, nil, 1<<40); err != nil {
				t.Errorf("MarkRead: %v", err)
			}
		})
		f.comment(t, bob, p.ID, nil, "second")
		f.pub.setOnThread(nil)
		got := f.pub.take()
		if len(got) != 2 || got[0].kind != "unread_count" || got[0].unread != 0 || got[1].kind != "notification" || got[1].unread != 0 || got[1].unseen != 2 {
			t.Fatalf("published %+v, want unread_count 0, then the notification with 0 unread and 2 unseen", got)
		}
		if n := reads.Load(); n != 2 {
			t.Errorf("%d statements read counts, want 2: the mark's and the notification's", n)
		}
	})
}

func TestCommentDeletedRemovesNotifications(t *testing.T) {
	f := newFixture(t)
	alice, bob, carol := f.as(t, "alice"), f.as(t, "bob"), f.as(t, "carol")
	p := f.post(t, alice, "post")
	keep := f.comment(t, carol, p.ID, nil, "stays")
	gone := f.comment(t, bob, p.ID, nil, "goes, @carol")
	aliceID, carolID := f.users["alice"].ID, f.users["carol"].ID
	if recountOf(f.db.DB, aliceID) != 2 || recountOf(f.db.DB, carolID) != 1 {
		t.Fatal("setup: wrong unread counts")
	}
	// Carol has read hers: it must leave her list all the same.
	if _, err := f.store.MarkRead(t.Context(), carolID, nil, 1<<40); err != nil {
		t.Fatal(err)
	}
	f.pub.take()

	if err := f.comments.Delete(bob, gone.ID); err != nil {
		t.Fatal(err)
	}
	if left := f.countRows(t, &model.Notification{}, "comment_id = ?", gone.ID); left != 0 {
		t.Errorf("%d notifications of the deleted comment remain", left)
	}
	if rows := f.rowsOf(t, aliceID); len(rows) != 1 || *rows[0].CommentID != keep.ID {
		t.Errorf("alice's notifications after the delete: %+v", rows)
	}
	page, err := f.notes.List(alice, service.ListNotifications{})
	if err != nil || len(page.Items) != 1 || page.Unread != 1 {
		t.Errorf("alice's list %+v, %v", page, err)
	}
	after, err := f.store.NotificationsAfter(t.Context(), carolID, 0, 100)
	if err != nil || len(after) != 0 {
		t.Errorf("carol replays %+v, %v", after, err)
	}
	got := f.pub.take()
	if len(got) != 1 || got[0].kind != "unread_count" || got[0].userID != aliceID || got[0].unread != 1 || !got[0].committed {
		t.Errorf("published %+v, want alice's committed unread count 1 (carol's read one changes no count)", got)
	}
}

func TestPostDeletedHook(t *testing.T) {
	f := newFixture(t)
	alice, bob, p := f.alicePost(t, "hello @bob")
	f.as(t, "carol")
	f.comment(t, bob, p.ID, nil, "hi @carol")
	other := f.post(t, alice, "and @bob again")
	f.pub.take()

	var out service.Outbox
	err := f.db.Transaction(func(tx *gorm.DB) error {
		var err error
		out, err = f.notes.PostDeletedHook(tx, p.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	f.notes.Publish(t.Context(), out)
	var left []*model.Notification
	f.db.Find(&left)
	if len(left) != 1 || *left[0].PostID != other.ID {
		t.Errorf("left %+v, want only the mention of the other post", left)
	}
	got := f.pub.take()
	slices.SortFunc(got, func(a, b published) int { return int(a.userID - b.userID) })
	want := []int64{f.users["alice"].ID, f.users["bob"].ID, f.users["carol"].ID}
	if len(got) != 3 {
		t.Fatalf("published %+v", got)
	}
	for i, e := range got {
		if e.kind != "unread_count" || e.userID != want[i] || e.unread != recountOf(f.db.DB, want[i]) {
			t.Errorf("published %+v", e)
		}
	}
}
