package service_test

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
	"github.com/quizsite/discuss/service/dbtest"
)

// commentStatements are the statements of a new comment's transaction
// (service/comments_sql.go), each as a test finds it: the callbacks it goes
// through on SQLite and a text that tells it apart. replies says that only
// a reply makes it. On MySQL all but the locks are one query (see in).
var commentStatements = []commentStatement{
	{"locks", "row", "FROM posts WHERE id = ? AND deleted_at IS NULL", false},
	{"comment", "create", "INSERT INTO comments", false},
	{"watch", "create", "INSERT INTO post_subscriptions", false},
	{"post counters", "raw", "UPDATE posts SET comment_count", false},
	{"reply count", "raw", "UPDATE comments SET reply_count", true},
	{"notification", "create", "INSERT INTO notifications", false},
	{"sequence", "raw", "notification_seq = notification_seq + 1", false},
	{"outbox", "create", "INSERT INTO fanout_outbox", false},
}

type commentStatement struct {
	name, kind, text string
	replies          bool
}

// in returns the callbacks st goes through on f's database, and what finds
// it there: on MySQL the writes after the locks are one multi-statement
// query (Comments.writeBatch), which runs through the row callbacks.
func (st commentStatement) in(f *fixture) (kind string, is func(tx *gorm.DB) bool) {
	if f.db.Driver != "mysql" || st.kind == "row" {
		return st.kind, sqlHas(st.text)
	}
	return "row", func(tx *gorm.DB) bool { return sqlHas(st.text)(tx) && sqlHas("@discuss_comment")(tx) }
}

// eachCommentStatement runs test as a subtest for every statement of a
// top-level comment's transaction and of a reply's.
func eachCommentStatement(t *testing.T, test func(t *testing.T, st commentStatement, reply bool)) {
	for _, reply := range []bool{false, true} {
		for _, st := range commentStatements {
			if !st.replies || reply {
				t.Run(fmt.Sprintf("%s/reply=%v", st.name, reply), func(t *testing.T) { test(t, st, reply) })
			}
		}
	}
}

func sqlHas(text string) func(tx *gorm.DB) bool {
	return func(tx *gorm.DB) bool { return strings.Contains(tx.Statement.SQL.String(), text) }
}

// failWhen makes the statements of kind that is picks fail with err, only
// the first when once is set; it returns how many it failed.
func (f *fixture) failWhen(t *testing.T, kind string, is func(tx *gorm.DB) bool, err error, once bool) *atomic.Int64 {
	t.Helper()
	failed := new(atomic.Int64)
	f.hook(t, kind, func(tx *gorm.DB) {
		if is(tx) && (!once || failed.Load() == 0) {
			failed.Add(1)
			_ = tx.AddError(err)
		}
	})
	return failed
}

// commentScene is a post of alice's with a comment of hers, which carol
// watches, on which bob is to comment for the first time, replying to
// alice's comment when reply is set: his comment runs every statement of
// the transaction (his watch row, alice's notification, the outbox row for
// carol). It returns bob's input.
func commentScene(t *testing.T, reply bool) (*fixture, *model.Post, service.CommentInput) {
	f := newFixture(t)
	alice, _, p := f.alicePost(t, "post")
	top := f.comment(t, alice, p.ID, nil, "top")
	f.setLevel(t, f.as(t, "carol"), p.ID, model.LevelWatching)
	f.pub.take()
	f.pub.takeThreads()
	in := service.CommentInput{Body: "hi"}
	if reply {
		in.ParentID = &top.ID
	}
	return f, p, in
}

// counters are a post's counters and thread version, and the reply_count
// of its comments.
func (f *fixture) counters(t *testing.T, postID int64) string {
	t.Helper()
	var post struct{ CommentCount, ThreadVersion, LastCommentID int64 }
	f.db.Raw("SELECT comment_count, thread_version, last_comment_id FROM posts WHERE id = ?", postID).Scan(&post)
	var replies []int64
	f.db.Raw("SELECT reply_count FROM comments WHERE post_id = ? ORDER BY id", postID).Scan(&replies)
	return fmt.Sprintf("post %+v, reply counts %v", post, replies)
}

// TestCommentStatementFails: whichever statement of the transaction fails,
// Create fails and leaves nothing: no comment, no counter or version moved,
// no watch, notification, sequence or outbox row, nothing published.
func TestCommentStatementFails(t *testing.T) {
	eachCommentStatement(t, func(t *testing.T, st commentStatement, reply bool) {
		f, p, in := commentScene(t, reply)
		bob := f.as(t, "bob")
		before := f.counters(t, p.ID)
		kind, is := st.in(f)
		failed := f.failWhen(t, kind, is, errors.New("injected failure"), false)

		_, err := f.comments.Create(bob, p.ID, in)
		if err == nil || failed.Load() == 0 {
			t.Fatalf("Create = %v with the %s statement failed %d times", err, st.name, failed.Load())
		}
		f.nothingOfBobs(t, p.ID, before, model.UserFrom(bob).ID)
	})
}

// nothingOfBobs checks that bob's comment on post postID, which failed,
// left nothing: the counters as they were before, no comment but alice's,
// no notification, outbox row, level of bob's or sequence moved, nothing
// published.
func (f *fixture) nothingOfBobs(t *testing.T, postID int64, before string, bobID int64) {
	t.Helper()
	if after := f.counters(t, postID); after != before {
		t.Errorf("counters moved from %s to %s", before, after)
	}
	for what, n := range map[string]int64{
		"comments but alice's": f.countRows(t, &model.Comment{}, "") - 1,
		"notifications":        f.countRows(t, &model.Notification{}, ""),
		"outbox rows":          f.outboxRows(t),
		"bob's levels":         f.countRows(t, &model.PostSubscription{}, "user_id = ?", bobID),
		"sequences":            f.countRows(t, &model.User{}, "notification_seq <> 0"),
	} {
		if n != 0 {
			t.Errorf("%d %s remain", n, what)
		}
	}
	if got := f.pub.take(); len(got) != 0 {
		t.Errorf("published %+v", got)
	}
	if got := f.pub.takeThreads(); len(got) != 0 {
		t.Errorf("published thread events %+v", got)
	}
}

// TestCommentFailsInTheDatabase: a write that the database itself refuses
// after the others ran (the outbox row, the last of them; on MySQL inside
// the one query that carries them all) fails the comment and leaves
// nothing of it.
func TestCommentFailsInTheDatabase(t *testing.T) {
	for _, reply := range []bool{false, true} {
		t.Run(fmt.Sprintf("reply=%v", reply), func(t *testing.T) {
			f, p, in := commentScene(t, reply)
			bob := f.as(t, "bob")
			before := f.counters(t, p.ID)
			f.db.FailInserts(t, "fanout_outbox")
			_, err := f.comments.Create(bob, p.ID, in)
			wantCode(t, err, model.EINTERNAL, "")
			f.nothingOfBobs(t, p.ID, before, model.UserFrom(bob).ID)
		})
	}
}

// TestCommentStatementDeadlockRetried: a deadlock on any statement of the
// transaction runs it again, and the comment is written once, whole.
func TestCommentStatementDeadlockRetried(t *testing.T) {
	eachCommentStatement(t, func(t *testing.T, st commentStatement, reply bool) {
		f, p, in := commentScene(t, reply)
		kind, is := st.in(f)
		failed := f.failWhen(t, kind, is, deadlock, true)
		c, err := f.comments.Create(f.as(t, "bob"), p.ID, in)
		if err != nil || failed.Load() != 1 {
			t.Fatalf("Create = %v after the %s statement failed %d times, want it retried", err, st.name, failed.Load())
		}
		want, typ := "post {CommentCount:2 ThreadVersion:2 LastCommentID:%d}, reply counts [0 0]", model.NotifyPostComment
		if reply {
			want, typ = "post {CommentCount:2 ThreadVersion:2 LastCommentID:%d}, reply counts [1 0]", model.NotifyCommentReply
		}
		if got := f.counters(t, p.ID); got != fmt.Sprintf(want, c.ID) {
			t.Errorf("%s, want %s", got, fmt.Sprintf(want, c.ID))
		}
		alice := f.rowsOf(t, f.users["alice"].ID)
		if len(alice) != 1 || alice[0].Seq != 1 || *alice[0].CommentID != c.ID || alice[0].Type != typ {
			t.Errorf("alice's notifications %+v", alice)
		}
		if n := f.outboxRows(t); n != 1 {
			t.Errorf("%d outbox rows, want 1", n)
		}
		if n := f.countRows(t, &model.PostSubscription{}, "user_id = ? AND level = ?", f.users["bob"].ID, model.LevelWatching); n != 1 {
			t.Errorf("bob watches %d times", n)
		}
	})
}

// TestNoFanoutToTheOneReplied: a reply tells its parent's author directly,
// so when they are the post's only other watcher it writes no outbox row;
// the post's author, who watches again, is told by the fan-out.
func TestNoFanoutToTheOneReplied(t *testing.T) {
	f := newFixture(t)
	alice, bob, p := f.alicePost(t, "p")
	carol := f.as(t, "carol")
	f.setLevel(t, alice, p.ID, model.LevelNormal) // alice stops watching
	top := f.comment(t, bob, p.ID, nil, "first")  // bob watches from now on
	f.comment(t, carol, p.ID, top, "a reply")
	if n := f.outboxRows(t); n != 0 {
		t.Errorf("%d outbox rows with only bob watching", n)
	}
	f.setLevel(t, alice, p.ID, model.LevelWatching)
	c := f.comment(t, carol, p.ID, top, "another")
	if n := f.outboxRows(t); n != 1 {
		t.Fatalf("%d outbox rows with alice watching", n)
	}
	f.drainFanout(t, 10)
	f.wantTypes(t, c, map[string]string{"bob": model.NotifyCommentReply, "alice": model.NotifyThreadComment})
}

// BenchmarkCommentCreate is a top-level comment on another user's post
// that a third user watches, as the reply load test makes them: every
// statement of the transaction, the outbox row's included, and the
// publishing after it. On MySQL with DISCUSS_TEST_MYSQL_DSN set.
func BenchmarkCommentCreate(b *testing.B) {
	f := fixtureOn(b, dbtest.Open(b))
	_, bob, p := f.alicePost(b, "post")
	f.setLevel(b, f.as(b, "carol"), p.ID, model.LevelWatching)
	in := service.CommentInput{Body: "a comment"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.comments.Create(bob, p.ID, in); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCommentTargetChangesBeforeItsLock: what changes between the read
// before the transaction and the transaction's locks is checked again under
// them: a post or parent deleted or hidden meanwhile fails the comment,
// as it would have failed before, and leaves nothing.
func TestCommentTargetChangesBeforeItsLock(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change string // run in the transaction just before its locks; ? is the parent
		by     string // who replies to alice's comment
		code   string
	}{
		{"PostDeleted", "UPDATE posts SET deleted_at = created_at", "bob", model.ENOTFOUND},
		{"ParentDeleted", "UPDATE comments SET deleted_at = created_at WHERE id = ?", "bob", model.ENOTFOUND},
		{"ParentHidden", "UPDATE comments SET hidden = TRUE WHERE id = ?", "bob", model.ENOTFOUND},
		{"OwnParentHidden", "UPDATE comments SET hidden = TRUE WHERE id = ?", "alice", model.EPERMISSION},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, p, in := commentScene(t, true)
			by := f.as(t, tc.by)
			before := f.counters(t, p.ID)
			var args []any
			if strings.Contains(tc.change, "?") {
				args = append(args, *in.ParentID)
			}
			locks := sqlHas("FROM posts WHERE id = ? AND deleted_at IS NULL")
			var changes atomic.Int64
			f.hook(t, "row", func(tx *gorm.DB) {
				if locks(tx) && changes.Add(1) == 1 {
					if err := tx.Session(&gorm.Session{NewDB: true}).Exec(tc.change, args...).Error; err != nil {
						t.Error(err)
					}
				}
			})
			_, err := f.comments.Create(by, p.ID, in)
			wantCode(t, err, tc.code, "")
			if changes.Load() != 1 {
				t.Fatalf("the locks ran %d times, want once", changes.Load())
			}
			if after := f.counters(t, p.ID); after != before {
				t.Errorf("counters moved from %s to %s", before, after)
			}
			if n := f.countRows(t, &model.Comment{}, ""); n != 1 {
				t.Errorf("%d comments, want alice's alone", n)
			}
		})
	}
}
