package service_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

// drainFanout runs fan-out batches of size until the outbox is empty and
// returns how many batches wrote or finished something.
func (f *fixture) drainFanout(t testing.TB, size int) int {
	t.Helper()
	for n := 0; ; n++ {
		found, err := f.notes.FanoutBatch(t.Context(), size)
		if err != nil {
			t.Fatal(err)
		}
		if !found {
			return n
		}
	}
}

// outboxRows counts the fan-out's outbox rows.
func (f *fixture) outboxRows(t testing.TB) int64 {
	t.Helper()
	return f.countRows(t, &model.FanoutOutbox{}, "")
}

func (f *fixture) setLevel(t testing.TB, ctx context.Context, postID int64, level string) {
	t.Helper()
	if _, err := f.posts.SetSubscription(ctx, postID, level); err != nil {
		t.Fatal(err)
	}
}

// TestPriorityWithAllFourTypes: two comments on one post whose readers
// qualify for every type at once. Each user gets one notification per
// comment, by priority comment_reply > mention > post_comment >
// thread_comment; the actor none; muted users only their mentions.
func TestPriorityWithAllFourTypes(t *testing.T) {
	f := newFixture(t)
	alice, bob, carol, dave := f.as(t, "alice"), f.as(t, "bob"), f.as(t, "carol"), f.as(t, "dave")
	erin, frank, gina := f.as(t, "erin"), f.as(t, "frank"), f.as(t, "gina")
	p := f.post(t, alice, "a question") // alice watches her post
	f.setLevel(t, carol, p.ID, model.LevelWatching)
	f.setLevel(t, dave, p.ID, model.LevelWatching)
	f.setLevel(t, erin, p.ID, model.LevelMuted)
	f.setLevel(t, frank, p.ID, model.LevelMuted)
	_ = gina // normal by default: hears only what is addressed to her

	var written []*model.Comment
	for i, step := range []struct {
		by     context.Context
		parent int // the step whose comment this one answers, or -1
		body   string
		batch  int
		want   map[string]string
	}{
		// A top-level comment: alice qualifies for post_comment and
		// thread_comment, carol for mention and thread_comment, erin (muted)
		// for mention, dave for thread_comment, bob (the actor, now
		// watching) for nothing.
		{bob, -1, "@carol @erin what do you think?", 2, map[string]string{
			"alice": model.NotifyPostComment, "carol": model.NotifyMention,
			"erin": model.NotifyMention, "dave": model.NotifyThreadComment,
		}},
		// A reply by carol to bob, mentioning alice, bob, frank (muted) and
		// gina: bob qualifies for all of comment_reply, mention and
		// thread_comment (he watches since his comment), alice for mention
		// and thread_comment, gina for mention only.
		{carol, 0, "@alice @bob @frank @gina yes", 2, map[string]string{
			"bob": model.NotifyCommentReply, "alice": model.NotifyMention, "frank": model.NotifyMention,
			"gina": model.NotifyMention, "dave": model.NotifyThreadComment,
		}},
		// A plain reply by dave: the watchers alice, bob and carol (now a
		// participant) get thread_comment, except carol, whose comment it
		// answers.
		{dave, 1, "indeed", 1, map[string]string{
			"carol": model.NotifyCommentReply, "alice": model.NotifyThreadComment, "bob": model.NotifyThreadComment,
		}},
	} {
		var parent *model.Comment
		if step.parent >= 0 {
			parent = written[step.parent]
		}
		c := f.comment(t, step.by, p.ID, parent, step.body)
		written = append(written, c)
		if n := f.drainFanout(t, step.batch); n == 0 {
			t.Fatalf("comment %d: no fan-out for a watched post", i+1)
		}
		f.wantTypes(t, c, step.want)
	}
	if n := f.outboxRows(t); n != 0 {
		t.Errorf("%d outbox rows left", n)
	}
}

// TestLevelsOverrideDefaults: an explicit normal silences a default watcher
// (author, participant) for thread_comment but not for what is addressed
// to them; an explicit muted silences post_comment and comment_reply too;
// going back to the default makes them watch again.
func TestLevelsOverrideDefaults(t *testing.T) {
	f := newFixture(t)
	alice, bob, carol := f.as(t, "alice"), f.as(t, "bob"), f.as(t, "carol")
	p := f.post(t, alice, "p")
	c1 := f.comment(t, bob, p.ID, nil, "first")
	f.drainFanout(t, 10)
	// carol's comment, once the fan-out has run, notified want.
	carolTells := func(parent *model.Comment, body string, want map[string]string) {
		t.Helper()
		c := f.comment(t, carol, p.ID, parent, body)
		f.drainFanout(t, 10)
		f.wantTypes(t, c, want)
	}

	f.setLevel(t, bob, p.ID, model.LevelNormal)
	carolTells(nil, "second, bob normal", map[string]string{"alice": model.NotifyPostComment})
	carolTells(c1, "to bob, normal", map[string]string{"bob": model.NotifyCommentReply, "alice": model.NotifyThreadComment})

	f.setLevel(t, alice, p.ID, model.LevelMuted)
	f.setLevel(t, bob, p.ID, model.LevelMuted)
	carolTells(c1, "to bob again, alice and bob muted", map[string]string{})

	for _, ctx := range []context.Context{alice, bob} {
		sub, err := f.posts.ResetSubscription(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if *sub != (model.Subscription{Level: model.LevelWatching}) {
			t.Errorf("back to default: %+v, want watching by default", sub)
		}
	}
	carolTells(nil, "third, back to defaults", map[string]string{"alice": model.NotifyPostComment, "bob": model.NotifyThreadComment})
}

// TestSubscriptionErrors: every error of the level calls.
func TestSubscriptionErrors(t *testing.T) {
	f := newFixture(t)
	alice, _, p := f.alicePost(t, "p")
	gone := f.post(t, alice, "gone")
	if err := f.posts.Delete(alice, gone.ID); err != nil {
		t.Fatal(err)
	}
	for _, level := range []string{"", "Watching", "loud"} {
		_, err := f.posts.SetSubscription(alice, p.ID, level)
		wantCode(t, err, model.EINVALID, "level")
	}
	for _, id := range []int64{gone.ID, 999} {
		_, err := f.posts.Subscription(alice, id)
		wantCode(t, err, model.ENOTFOUND, "post")
		_, err = f.posts.SetSubscription(alice, id, model.LevelMuted)
		wantCode(t, err, model.ENOTFOUND, "post")
		_, err = f.posts.ResetSubscription(alice, id)
		wantCode(t, err, model.ENOTFOUND, "post")
	}
	_, err := f.posts.Subscriptions(alice, service.SubscriptionQuery{Limit: 101})
	wantCode(t, err, model.EINVALID, "limit")
	_, err = f.posts.Subscriptions(alice, service.SubscriptionQuery{Cursor: "eyJpIjoxfQ"})
	wantCode(t, err, model.EINVALID, "cursor")
}

// watchers makes n users, w0 to w(n-1), who watch post postID.
func (f *fixture) watchers(t *testing.T, postID int64, n int) []*model.User {
	t.Helper()
	var users []*model.User
	for _, ctx := range f.crowd(t, "w%d", n) {
		f.setLevel(t, ctx, postID, model.LevelWatching)
		users = append(users, model.UserFrom(ctx))
	}
	return users
}

// TestFanoutBatches: the watchers' rows are written a batch at a time,
// each batch committed with the outbox row's progress, each watcher's row
// taking the next number of their sequence; every row is published once,
// after commit, with the unread count that includes it.
func TestFanoutBatches(t *testing.T) {
	f := newFixture(t)
	_, bob, p := f.alicePost(t, "p")
	watchers := f.watchers(t, p.ID, 7)
	// One of them has a notification already: their seq goes on from it.
	f.comment(t, f.as(t, "w0"), p.ID, nil, "earlier @w3")
	f.drainFanout(t, 100)
	f.pub.take()

	c := f.comment(t, bob, p.ID, nil, "news")
	var ob model.FanoutOutbox
	if err := f.db.Take(&ob).Error; err != nil {
		t.Fatal(err)
	}
	if ob.CommentID != c.ID || ob.AfterUserID != 0 || ob.SkipUserIDs != fmt.Sprint(f.users["alice"].ID) {
		t.Fatalf("outbox row %+v", ob)
	}
	// Watchers: alice (post_comment instead), w0..w6, bob (the actor).
	found, err := f.notes.FanoutBatch(t.Context(), 3)
	if err != nil || !found {
		t.Fatalf("first batch: %v %v", found, err)
	}
	var thread []*model.Notification
	f.db.Where("comment_id = ? AND type = ?", c.ID, model.NotifyThreadComment).Order("user_id").Find(&thread)
	if err := f.db.Take(&ob).Error; err != nil {
		t.Fatal(err)
	}
	// The first three watchers by id are alice (told by post_comment), bob
	// (the actor, a participant now) and w0.
	if len(thread) != 1 || ob.AfterUserID != watchers[0].ID {
		t.Fatalf("after one batch: %d rows, progress %d (want 1 row, progress %d)", len(thread), ob.AfterUserID, watchers[0].ID)
	}
	f.drainFanout(t, 3)
	if n := f.outboxRows(t); n != 0 {
		t.Fatalf("%d outbox rows left", n)
	}
	thread = nil
	f.db.Where("comment_id = ? AND type = ?", c.ID, model.NotifyThreadComment).Order("user_id").Find(&thread)
	if len(thread) != len(watchers) {
		t.Fatalf("%d thread_comment rows, want %d", len(thread), len(watchers))
	}
	published := map[int64]published{}
	for _, call := range f.pub.take() {
		if call.kind != "notification" || call.n.Type != model.NotifyThreadComment {
			continue
		}
		if _, dup := published[call.n.ID]; dup {
			t.Errorf("notification %d published twice", call.n.ID)
		}
		published[call.n.ID] = call
	}
	for i, n := range thread {
		w := watchers[i]
		if n.UserID != w.ID || n.Excerpt != "news" || *n.ActorID != model.UserFrom(bob).ID || *n.PostID != p.ID {
			t.Errorf("row %+v for watcher %d", n, w.ID)
		}
		rows := f.rowsOf(t, w.ID)
		for j, r := range rows {
			if r.Seq != int64(j+1) {
				t.Errorf("watcher %s: seqs %v", w.Username, pluck(rows, func(n *model.Notification) int64 { return n.Seq }))
				break
			}
		}
		call, ok := published[n.ID]
		switch {
		case !ok:
			t.Errorf("watcher %s: notification %d not published", w.Username, n.ID)
		case !call.committed || call.unread != recountOf(f.db.DB, w.ID) || call.n.Actor == nil || call.n.Actor.Username != "bob":
			t.Errorf("watcher %s: published %+v (actor %+v), unread now %d", w.Username, call, call.n.Actor, recountOf(f.db.DB, w.ID))
		}
	}
	var seq int64
	f.db.Model(&model.User{}).Where("id = ?", watchers[3].ID).Pluck("notification_seq", &seq)
	if seq != 2 {
		t.Errorf("w3's notification_seq %d, want 2 (a mention, then a thread_comment)", seq)
	}
}

// TestFanoutFailsInTheDatabase: a batch whose notifications the database
// refuses (on MySQL inside the one query that also moves the watchers'
// sequences and reads the ids back) fails whole: no row, no sequence or
// count moved, the outbox row where it was, nothing published. The next
// batch after the database heals tells every watcher once.
func TestFanoutFailsInTheDatabase(t *testing.T) {
	f := newFixture(t)
	_, bob, p := f.alicePost(t, "p")
	watchers := f.watchers(t, p.ID, 4)
	c := f.comment(t, bob, p.ID, nil, "news")
	f.pub.take()
	before := f.sequences(t, watchers)

	heal := f.db.FailInserts(t, "notifications")
	found, err := f.notes.FanoutBatch(t.Context(), 100)
	wantCode(t, err, model.EINTERNAL, "")
	if found {
		t.Error("a failed batch reports an outbox row found")
	}
	if n := f.countRows(t, &model.Notification{}, "comment_id = ? AND type = ?", c.ID, model.NotifyThreadComment); n != 0 {
		t.Errorf("%d thread_comment rows after the failed batch", n)
	}
	if after := f.sequences(t, watchers); after != before {
		t.Errorf("the watchers' sequence and counts %s after the failed batch, were %s", after, before)
	}
	var ob model.FanoutOutbox
	if err := f.db.Take(&ob).Error; err != nil || ob.CommentID != c.ID || ob.AfterUserID != 0 {
		t.Fatalf("outbox row %+v, %v after the failed batch", ob, err)
	}
	if calls := f.pub.take(); len(calls) != 0 {
		t.Errorf("published %+v for a failed batch", calls)
	}

	heal()
	f.drainFanout(t, 100)
	for _, w := range watchers {
		rows := f.rowsOf(t, w.ID)
		if len(rows) != 1 || rows[0].Type != model.NotifyThreadComment || rows[0].Seq != 1 || *rows[0].CommentID != c.ID {
			t.Errorf("%s's notifications %+v", w.Username, rows)
		}
	}
	if n := f.outboxRows(t); n != 0 {
		t.Errorf("%d outbox rows left", n)
	}
}

// sequences describes the users' notification sequences and unread and
// unseen counts, as stored in their rows.
func (f *fixture) sequences(t *testing.T, users []*model.User) string {
	t.Helper()
	var rows []struct{ ID, NotificationSeq, UnreadNotifications, UnseenNotifications int64 }
	err := f.db.Raw("SELECT id, notification_seq, unread_notifications, unseen_notifications FROM users WHERE id IN ? ORDER BY id",
		pluck(users, func(u *model.User) int64 { return u.ID })).Scan(&rows).Error
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(rows)
}

// TestFanoutOfDeletedComment: a comment deleted while its watchers are
// being told takes with it the rows written so far and the rest of the
// fan-out; so does a deleted post.
func TestFanoutOfDeletedComment(t *testing.T) {
	f := newFixture(t)
	alice, bob, p := f.alicePost(t, "p")
	for _, w := range f.crowd(t, "w%d", 5) {
		f.setLevel(t, w, p.ID, model.LevelWatching)
	}
	c := f.comment(t, bob, p.ID, nil, "oops")
	if found, err := f.notes.FanoutBatch(t.Context(), 2); err != nil || !found {
		t.Fatal(found, err)
	}
	if err := f.comments.Delete(bob, c.ID); err != nil {
		t.Fatal(err)
	}
	f.drainFanout(t, 2)
	if n := f.countRows(t, &model.Notification{}, "comment_id = ?", c.ID); n != 0 || f.outboxRows(t) != 0 {
		t.Errorf("after delete: %d notifications, %d outbox rows", n, f.outboxRows(t))
	}

	f.comment(t, bob, p.ID, nil, "again")
	if f.outboxRows(t) != 1 {
		t.Fatal("no outbox row")
	}
	if err := f.posts.Delete(alice, p.ID); err != nil {
		t.Fatal(err)
	}
	if f.drainFanout(t, 2) != 0 || f.outboxRows(t) != 0 {
		t.Errorf("the outbox of a deleted post is still worked")
	}
}

// TestNoFanoutWithoutWatchers: a comment that leaves no watcher to tell
// (the author is told anyway, the actor is never told) writes no outbox row.
func TestNoFanoutWithoutWatchers(t *testing.T) {
	f := newFixture(t)
	alice, bob, p := f.alicePost(t, "p")
	f.comment(t, bob, p.ID, nil, "first")
	f.comment(t, alice, p.ID, nil, "@bob thanks")
	if n := f.outboxRows(t); n != 0 {
		t.Errorf("%d outbox rows", n)
	}
	f.setLevel(t, f.as(t, "carol"), p.ID, model.LevelWatching)
	f.comment(t, alice, p.ID, nil, "@bob thanks")
	if n := f.outboxRows(t); n != 1 {
		t.Errorf("%d outbox rows with carol watching", n)
	}
}

// TestThreadCommentUnique: the database refuses a second thread_comment
// for one user and comment, and allows any number of other rows.
func TestThreadCommentUnique(t *testing.T) {
	f := newFixture(t)
	u := f.user(t, "alice", model.RoleUser)
	insert := func(typ string, commentID int64) error {
		return f.db.Create(&model.Notification{UserID: u.ID, Type: typ, CommentID: &commentID, CreatedAt: service.Now()}).Error
	}
	for _, typ := range []string{model.NotifyThreadComment, model.NotifyMention, model.NotifyMention, model.NotifySystem} {
		if err := insert(typ, 7); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
	}
	if err := insert(model.NotifyThreadComment, 7); err == nil {
		t.Error("a second thread_comment for one user and comment was written")
	}
	if err := insert(model.NotifyThreadComment, 8); err != nil {
		t.Error(err)
	}
	f.recount(t)
}

// TestFanoutWorker: RunFanout tells watchers of a comment at once, woken by
// the comment's commit rather than its poll, and returns when its context
// ends.
func TestFanoutWorker(t *testing.T) {
	f := newFixture(t)
	_, bob, p := f.alicePost(t, "p")
	carol := f.as(t, "carol")
	f.setLevel(t, carol, p.ID, model.LevelWatching)
	stop := startWorker(t, "RunFanout", func(ctx context.Context) {
		f.notes.RunFanout(ctx, service.Fanout{BatchSize: 10, Poll: time.Hour})
	})
	f.comment(t, bob, p.ID, nil, "hello")
	waitFor(t, 5*time.Second, "carol's thread_comment", func() bool { return len(f.rowsOf(t, model.UserFrom(carol).ID)) > 0 })
	stop()
}

// TestFanoutBesideWriters: twenty users comment on one watched post at once
// while the fan-out worker tells its watchers, and others delete comments:
// every request succeeds (no transaction is left a deadlock victim past
// its retries), and every watcher hears of every live comment once.
func TestFanoutBesideWriters(t *testing.T) {
	f := newFixture(t)
	owner := f.as(t, "owner")
	p := f.post(t, owner, "a hot thread")
	const writers, each = 20, 5
	ctxs := f.crowd(t, "w%02d", writers)
	stop := startWorker(t, "RunFanout", func(ctx context.Context) {
		f.notes.RunFanout(ctx, service.Fanout{BatchSize: 7, Poll: 10 * time.Millisecond})
	})
	together(writers, func(i int) {
		for k := range each {
			c, err := f.comments.Create(ctxs[i], p.ID, service.CommentInput{Body: fmt.Sprintf("answer %d", k)})
			if err != nil {
				t.Errorf("writer %d: %v", i, err)
				return
			}
			if k == each-1 && i%5 == 0 {
				if err := f.comments.Delete(ctxs[i], c.ID); err != nil {
					t.Errorf("writer %d deleting: %v", i, err)
				}
			}
		}
	})
	waitFor(t, 30*time.Second, "an empty outbox", func() bool { return f.outboxRows(t) == 0 })
	stop()
	var dupes int64
	err := f.db.Raw(`SELECT COUNT(*) FROM (SELECT user_id, comment_id FROM notifications
		WHERE type = ? GROUP BY user_id, comment_id HAVING COUNT(*) > 1) d`, model.NotifyThreadComment).Scan(&dupes).Error
	if err != nil || dupes > 0 {
		t.Fatalf("%d watchers told twice of a comment (%v)", dupes, err)
	}
}
