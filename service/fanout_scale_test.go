package service_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
	"github.com/quizsite/discuss/service/dbtest"
)

// threadCounter is a Publisher that counts the thread_comment
// notifications it is given, per comment and user; the recorder's check
// of each row would be 10,000 queries.
type threadCounter struct {
	service.NopPublisher
	mu   sync.Mutex
	seen map[int64]map[int64]int // comment id -> user id -> publishes
}

func (c *threadCounter) PublishNotification(_ context.Context, n *model.Notification, _ model.NotificationCounts) error {
	if n.Type != model.NotifyThreadComment {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[*n.CommentID] == nil {
		c.seen[*n.CommentID] = map[int64]int{}
	}
	c.seen[*n.CommentID][n.UserID]++
	return nil
}

// of returns how many users were told of comment id, and how many of them
// more than once.
func (c *threadCounter) of(id int64) (users, twice int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.seen[id] {
		users++
		if n > 1 {
			twice++
		}
	}
	return users, twice
}

// TestFanoutTenThousandWatchers: a comment on a post watched by 10,000
// users (seeded with SQL) costs its request no more than twice what a comment on an
// unwatched post does (medians of 20; Comments.Create is all of the POST
// but HTTP), and every watcher's thread_comment is written and published,
// once, within 5 s.
func TestFanoutTenThousandWatchers(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 10,000 users")
	}
	f := fixtureOn(t, dbtest.Open(t))
	// 10,000 watchers, told within 5 s. The race detector slows the
	// worker several times over (and SQLite's pure-Go driver some
	// twentyfold), so under it the test checks the plumbing, not the
	// speed: a minute, and 1,000 watchers on SQLite. `make test` runs
	// this test once more without it, where the 5 s bound holds.
	watchers, bound := 10_000, 5*time.Second
	if raceDetector {
		bound = time.Minute
		if f.db.Driver == "sqlite" {
			watchers = 1_000
		}
	}
	pub := &threadCounter{seen: map[int64]map[int64]int{}}
	f.wire(pub)
	bob := f.as(t, "bob")
	quiet, busy := f.post(t, bob, "nobody watches"), f.post(t, bob, "everyone watches")
	dbtest.SeedWatchers(t, f.db.DB, busy.ID, watchers)

	// Timed without the worker, which would compete for the database: what
	// is measured is the request's own work. The comments on the busy post
	// are deleted afterwards, which drops their fan-out.
	comment := func(postID int64) (time.Duration, *model.Comment) {
		start := time.Now()
		c := f.comment(t, bob, postID, nil, "a comment")
		return time.Since(start), c
	}
	var quietTimes, busyTimes []time.Duration
	var busyComments []*model.Comment
	for i := range 22 {
		dq, _ := comment(quiet.ID)
		db, c := comment(busy.ID)
		busyComments = append(busyComments, c)
		if i >= 2 { // two of each to warm up
			quietTimes, busyTimes = append(quietTimes, dq), append(busyTimes, db)
		}
	}
	slices.Sort(quietTimes)
	slices.Sort(busyTimes)
	mq, mb := quietTimes[len(quietTimes)/2], busyTimes[len(busyTimes)/2]
	t.Logf("median comment: %v unwatched, %v with %d watchers", mq, mb, watchers)
	if mb > 2*mq {
		t.Errorf("median comment with %d watchers %v, more than twice the unwatched post's %v", watchers, mb, mq)
	}
	if outbox := f.outboxRows(t); outbox != int64(len(busyComments)) {
		t.Fatalf("%d outbox rows for %d comments", outbox, len(busyComments))
	}
	for _, c := range busyComments {
		if err := f.comments.Delete(bob, c.ID); err != nil {
			t.Fatal(err)
		}
	}

	startWorker(t, "RunFanout", func(ctx context.Context) {
		f.notes.RunFanout(ctx, service.Fanout{BatchSize: 1000, Poll: time.Second}) // the default batch
	})
	start := time.Now()
	_, c := comment(busy.ID)
	waitFor(t, bound, fmt.Sprintf("all %d watchers told", watchers), func() bool {
		users, _ := pub.of(c.ID)
		return users == watchers
	})
	if _, twice := pub.of(c.ID); twice > 0 {
		t.Errorf("%d watchers told twice", twice)
	}
	t.Logf("%d watchers written and published in %v", watchers, time.Since(start))
	rows := f.countRows(t, &model.Notification{}, "comment_id = ? AND type = ?", c.ID, model.NotifyThreadComment)
	var distinct int64
	f.db.Model(&model.Notification{}).Where("comment_id = ? AND type = ?", c.ID, model.NotifyThreadComment).
		Distinct("user_id").Count(&distinct)
	if rows != int64(watchers) || distinct != int64(watchers) {
		t.Errorf("%d thread_comment rows for %d users, want %d", rows, distinct, watchers)
	}
}
