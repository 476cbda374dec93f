package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/quizsite/discuss/service/dbtest"
)

// TestFanoutWriterKilled kills the binary with SIGKILL while it is writing
// the thread_comment notifications of a post watched by 10,000 users,
// starts it again, and checks that every watcher ends with exactly one
// row, numbered next in their sequence: the batch under way at the kill is
// rolled back with its progress, and the restarted worker goes on from the
// last committed batch.
func TestFanoutWriterKilled(t *testing.T) {
	const watchers = 10_000
	db := dbtest.Open(t)
	env := serveEnv(db, map[string]string{
		"DISCUSS_NOTIFICATIONS_FANOUT_BATCH_SIZE":    "250",
		"DISCUSS_NOTIFICATIONS_FANOUT_POLL_INTERVAL": "100ms",
		"DISCUSS_LIMITS_COMMENTS_PER_MINUTE":         "100000",
	})
	bin := buildBinary(t)
	addr := freeAddr(t)
	p := startProcess(t, bin, addr, env)
	logOnFailure(t, p)

	aliceToken, _ := registerUser(t, p.server, "alice")
	bobToken, _ := registerUser(t, p.server, "bob")
	post := p.createPost(t, aliceToken, "popular", "watch me")
	dbtest.SeedWatchers(t, db.DB, post, watchers)

	written := func(commentID int64) int64 {
		var n int64
		err := db.Raw("SELECT COUNT(*) FROM notifications WHERE comment_id = ? AND type = 'thread_comment'", commentID).Scan(&n).Error
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Comment until a kill lands in the middle of a fan-out: a run can be
	// over before the first look, or not begun yet.
	killed := false
	var comment int64
	for attempt := 0; attempt < 5 && !killed; attempt++ {
		comment = p.comment(t, bobToken, post, fmt.Sprint("comment ", attempt))
		deadline := time.Now().Add(30 * time.Second)
		for n := written(comment); n < watchers && time.Now().Before(deadline); n = written(comment) {
			if n >= watchers/5 { // several batches in
				p.kill(t)
				killed = true
				break
			}
		}
	}
	if !killed {
		t.Fatal("no kill landed in the middle of a fan-out in 5 attempts")
	}
	atKill := written(comment)
	var progress int64
	if err := db.Raw("SELECT after_user_id FROM fanout_outbox WHERE comment_id = ?", comment).Scan(&progress).Error; err != nil {
		t.Fatal(err)
	}
	var upTo int64
	db.Raw("SELECT COUNT(*) FROM post_subscriptions WHERE post_id = ? AND level = 'watching' AND user_id <= ? AND user_id NOT IN (SELECT id FROM users WHERE username IN ('alice', 'bob'))",
		post, progress).Scan(&upTo)
	t.Logf("killed with %d of %d rows written, progress mark at user %d", atKill, watchers, progress)
	if atKill != upTo {
		t.Errorf("%d rows written at the kill, but %d watchers up to the progress mark", atKill, upTo)
	}

	waitPortFree(t, addr)
	p = startProcess(t, bin, addr, env)
	logOnFailure(t, p)
	eventually(t, time.Minute, func() error {
		if n := written(comment); n < watchers {
			return fmt.Errorf("%d of %d rows after the restart", n, watchers)
		}
		return nil
	})
	var rows, users, outbox, badSeqs int64
	db.Raw("SELECT COUNT(*), COUNT(DISTINCT user_id) FROM notifications WHERE comment_id = ? AND type = 'thread_comment'", comment).Row().Scan(&rows, &users)
	db.Raw("SELECT COUNT(*) FROM fanout_outbox").Scan(&outbox)
	// Each watcher's rows are numbered 1..notification_seq, none skipped
	// or repeated.
	db.Raw(`SELECT COUNT(*) FROM users u WHERE u.username LIKE 'watcher!_%' ESCAPE '!' AND (
		u.notification_seq <> (SELECT COUNT(*) FROM notifications n WHERE n.user_id = u.id) OR
		u.notification_seq <> (SELECT COUNT(DISTINCT n.seq) FROM notifications n WHERE n.user_id = u.id) OR
		u.notification_seq <> (SELECT COALESCE(MAX(n.seq), 0) FROM notifications n WHERE n.user_id = u.id))`).Scan(&badSeqs)
	if rows != watchers || users != watchers || outbox != 0 || badSeqs != 0 {
		t.Errorf("after the restart: %d rows for %d watchers (want %d each), %d outbox rows, %d watchers with a bad sequence",
			rows, users, watchers, outbox, badSeqs)
	}
}
