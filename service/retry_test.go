package service_test

import (
	"database/sql/driver"
	"sync/atomic"
	"testing"

	"github.com/go-sql-driver/mysql"
	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
)

// failOnce makes the next statement of kind (query or create) on table
// that locks rows (for a query) fail with err, once; it returns how many
// times it failed one.
func (f *fixture) failOnce(t *testing.T, kind, table string, err error) *atomic.Int64 {
	t.Helper()
	var armed atomic.Bool
	armed.Store(true)
	failed := new(atomic.Int64)
	f.hook(t, kind, func(tx *gorm.DB) {
		if tx.Statement.Table != table {
			return
		}
		if _, locks := tx.Statement.Clauses["FOR"]; kind == "query" && !locks {
			return
		}
		if armed.CompareAndSwap(true, false) {
			failed.Add(1)
			_ = tx.AddError(err)
		}
	})
	return failed
}

// deadlock is the error MySQL returns to the victim of a deadlock.
var deadlock = &mysql.MySQLError{Number: 1213, Message: "Deadlock found when trying to get lock"}

func TestCommentDeleteLockErrors(t *testing.T) {
	t.Run("DeadlockRetried", func(t *testing.T) {
		f := newFixture(t)
		alice := f.as(t, "alice")
		c := f.comment(t, alice, f.post(t, alice, "p").ID, nil, "bye")
		failed := f.failOnce(t, "query", "posts", deadlock)
		if err := f.comments.Delete(alice, c.ID); err != nil {
			t.Fatalf("delete after one deadlock: %v, want it retried", err)
		}
		if failed.Load() != 1 {
			t.Fatalf("the post lock failed %d times, want 1", failed.Load())
		}
		_, err := f.comments.Get(alice, c.ID)
		wantCode(t, err, model.ENOTFOUND, "")
	})
	t.Run("ErrUnavailable", func(t *testing.T) {
		f := newFixture(t)
		alice := f.as(t, "alice")
		c := f.comment(t, alice, f.post(t, alice, "p").ID, nil, "stays")
		f.failOnce(t, "query", "posts", driver.ErrBadConn)
		err := f.comments.Delete(alice, c.ID)
		wantCode(t, err, model.EUNAVAILABLE, "")
		if _, err := f.comments.Get(alice, c.ID); err != nil {
			t.Fatalf("the comment is gone after a failed delete: %v", err)
		}
	})
}

func TestSendSystemRetriesDeadlock(t *testing.T) {
	f := newFixture(t)
	admin := f.asRole(t, "root", model.RoleAdmin)
	f.as(t, "bob")
	bobID := f.users["bob"].ID
	failed := f.failOnce(t, "create", "notifications", deadlock)
	n, err := f.notes.SendSystem(admin, bobID, "hello")
	if err != nil {
		t.Fatalf("send after one deadlock: %v, want it retried", err)
	}
	if failed.Load() != 1 || n.UserID != bobID {
		t.Fatalf("failed %d times, sent %+v", failed.Load(), n)
	}
	if rows := f.rowsOf(t, bobID); len(rows) != 1 || rows[0].Seq != 1 {
		t.Fatalf("bob's notifications %+v, want one with seq 1", rows)
	}
}

// TestSendSystemInsertFails: a notification whose insert the database
// refuses leaves nothing behind, its user's sequence and counts included,
// which on MySQL move in the same query, just before the insert.
func TestSendSystemInsertFails(t *testing.T) {
	f := newFixture(t)
	admin := f.asRole(t, "root", model.RoleAdmin)
	f.as(t, "bob")
	bobID := f.users["bob"].ID
	heal := f.db.FailInserts(t, "notifications")
	if n, err := f.notes.SendSystem(admin, bobID, "hello"); err == nil {
		t.Fatalf("sent %+v although its insert failed", n)
	}
	heal()
	checkSequence(t, f, bobID)
	if got := f.pub.take(); len(got) != 0 {
		t.Errorf("published %+v for a rolled-back send", got)
	}
	var counts struct{ Seq, Unread, Unseen int64 }
	err := f.db.Raw("SELECT notification_seq AS seq, unread_notifications AS unread, unseen_notifications AS unseen FROM users WHERE id = ?", bobID).Scan(&counts).Error
	if err != nil || counts.Seq != 0 || counts.Unread != 0 || counts.Unseen != 0 {
		t.Fatalf("bob's row %+v, %v; want nothing moved", counts, err)
	}
	if _, err := f.notes.SendSystem(admin, bobID, "hello again"); err != nil {
		t.Fatal(err)
	}
	checkSequence(t, f, bobID)
}
