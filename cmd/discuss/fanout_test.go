package main

import (
	"fmt"
	"strings"
	"syscall"
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
	env := map[string]string{
		"DISCUSS_DATABASE_DSN":                       db.DSN,
		"DISCUSS_AUTH_SECRET":                        strings.Repeat("k", 32),
		"DISCUSS_AUTH_BCRYPT_COST":                   "4",
		"DISCUSS_LOG_LEVEL":                          "warn",
		"DISCUSS_NOTIFICATIONS_FANOUT_BATCH_SIZE":    "250",
		"DISCUSS_NOTIFICATIONS_FANOUT_POLL_INTERVAL": "100ms",
		"DISCUSS_LIMITS_COMMENTS_PER_MINUTE":         "100000",
	}
	if db.Driver == "mysql" {
		env["DISCUSS_DATABASE_DRIVER"] = "mysql"
	}
	bin := buildBinary(t)
	addr := freeAddr(t)
	p := startProcess(t, bin, addr, env)
	logOnFailure(t, p)

	aliceToken, _ := registerUser(t, p.server, "alice")
	bobToken, _ := registerUser(t, p.server, "bob")
	var post, comment struct {
		ID int64 `json:"id"`
	}
	if code := p.call(t, "POST", "/api/v1/posts", aliceToken, map[string]string{"title": "popular", "body": "watch me"}, &post); code != 201 {
		t.Fatalf("post: %d", code)
	}
	dbtest.SeedWatchers(t, db.DB, post.ID, watchers)

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
	for attempt := 0; attempt < 5 && !killed; attempt++ {
		body := map[string]string{"body": fmt.Sprint("comment ", attempt)}
		if code := p.call(t, "POST", fmt.Sprintf("/api/v1/posts/%d/comments", post.ID), bobToken, body, &comment); code != 201 {
			t.Fatalf("comment: %d", code)
		}
		deadline := time.Now().Add(30 * time.Second)
		for n := written(comment.ID); n < watchers && time.Now().Before(deadline); n = written(comment.ID) {
			if n >= watchers/5 { // several batches in
				if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				_ = p.cmd.Wait()
				killed = true
				break
			}
		}
	}
	if !killed {
		t.Fatal("no kill landed in the middle of a fan-out in 5 attempts")
	}
	atKill := written(comment.ID)
	var progress int64
	if err := db.Raw("SELECT after_user_id FROM fanout_outbox WHERE comment_id = ?", comment.ID).Scan(&progress).Error; err != nil {
		t.Fatal(err)
	}
	var upTo int64
	db.Raw("SELECT COUNT(*) FROM post_subscriptions WHERE post_id = ? AND level = 'watching' AND user_id <= ? AND user_id NOT IN (SELECT id FROM users WHERE username IN ('alice', 'bob'))",
		post.ID, progress).Scan(&upTo)
	t.Logf("killed with %d of %d rows written, progress mark at user %d", atKill, watchers, progress)
	if atKill != upTo {
		t.Errorf("%d rows written at the kill, but %d watchers up to the progress mark", atKill, upTo)
	}

	waitPortFree(t, addr)
	p = startProcess(t, bin, addr, env)
	logOnFailure(t, p)
	deadline := time.Now().Add(60 * time.Second)
	for written(comment.ID) < watchers {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d rows a minute after the restart", written(comment.ID), watchers)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	var rows, users, outbox, badSeqs int64
	db.Raw("SELECT COUNT(*), COUNT(DISTINCT user_id) FROM notifications WHERE comment_id = ? AND type = 'thread_comment'", comment.ID).Row().Scan(&rows, &users)
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
