package service_test

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
	"github.com/quizsite/discuss/service/dbtest"
)

// commentStatements are the statements of a new top-level comment's
// transaction (service/comments_sql.go), each as a test finds it: the
// callbacks it goes through and what tells it apart.
var commentStatements = []struct {
	name, kind string
	is         func(tx *gorm.DB) bool
}{
	{"locks", "row", sqlHas("FROM posts WHERE id = ? AND deleted_at IS NULL")},
	{"comment", "create", tableIs("comments")},
	{"watch", "create", tableIs("post_subscriptions")},
	{"post counters", "raw", sqlHas("UPDATE posts SET comment_count")},
	{"notification", "create", tableIs("notifications")},
	{"sequence", "raw", sqlHas("notification_seq = notification_seq + 1")},
	{"outbox", "create", tableIs("fanout_outbox")},
}

func tableIs(table string) func(tx *gorm.DB) bool {
	return func(tx *gorm.DB) bool { return tx.Statement.Table == table }
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

// commentScene is a post of alice's that carol watches, on which bob is to
// comment for the first time: his comment runs every statement of the
// transaction (his watch row, alice's notification, the outbox row for
// carol).
func commentScene(t *testing.T) (*fixture, *model.Post) {
	f := newFixture(t)
	_, _, p := f.alicePost(t, "post")
	f.setLevel(t, f.as(t, "carol"), p.ID, model.LevelWatching)
	f.pub.take()
	return f, p
}

// TestCommentStatementFails: whichever statement of the transaction fails,
// Create fails and leaves nothing: no comment, no counter or version moved,
// no watch, notification, sequence or outbox row, nothing published.
func TestCommentStatementFails(t *testing.T) {
	for _, st := range commentStatements {
		t.Run(st.name, func(t *testing.T) {
			f, p := commentScene(t)
			bob := model.UserFrom(f.as(t, "bob"))
			var before struct{ CommentCount, ThreadVersion int64 }
			f.db.Raw("SELECT comment_count, thread_version FROM posts WHERE id = ?", p.ID).Scan(&before)
			failed := f.failWhen(t, st.kind, st.is, errors.New("injected failure"), false)

			_, err := f.comments.Create(f.as(t, "bob"), p.ID, service.CommentInput{Body: "hi"})
			if err == nil || failed.Load() == 0 {
				t.Fatalf("Create = %v with the %s statement failed %d times", err, st.name, failed.Load())
			}
			var after struct{ CommentCount, ThreadVersion int64 }
			f.db.Raw("SELECT comment_count, thread_version FROM posts WHERE id = ?", p.ID).Scan(&after)
			if after != before {
				t.Errorf("the post moved from %+v to %+v", before, after)
			}
			for what, n := range map[string]int64{
				"comments":      f.countRows(t, &model.Comment{}, ""),
				"notifications": f.countRows(t, &model.Notification{}, ""),
				"outbox rows":   f.outboxRows(t),
				"bob's levels":  f.countRows(t, &model.PostSubscription{}, "user_id = ?", bob.ID),
				"sequences":     f.countRows(t, &model.User{}, "notification_seq <> 0"),
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
		})
	}
}

// TestCommentStatementDeadlockRetried: a deadlock on any statement of the
// transaction runs it again, and the comment is written once, whole.
func TestCommentStatementDeadlockRetried(t *testing.T) {
	for _, st := range commentStatements {
		t.Run(st.name, func(t *testing.T) {
			f, p := commentScene(t)
			failed := f.failWhen(t, st.kind, st.is, deadlock, true)
			c, err := f.comments.Create(f.as(t, "bob"), p.ID, service.CommentInput{Body: "hi"})
			if err != nil || failed.Load() != 1 {
				t.Fatalf("Create = %v after the %s statement failed %d times, want it retried", err, st.name, failed.Load())
			}
			var post struct{ CommentCount, LastCommentID int64 }
			f.db.Raw("SELECT comment_count, last_comment_id FROM posts WHERE id = ?", p.ID).Scan(&post)
			if post.CommentCount != 1 || post.LastCommentID != c.ID {
				t.Errorf("post %+v, want one comment, the last %d", post, c.ID)
			}
			alice := f.rowsOf(t, f.users["alice"].ID)
			if len(alice) != 1 || alice[0].Seq != 1 || *alice[0].CommentID != c.ID || alice[0].Type != model.NotifyPostComment {
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
