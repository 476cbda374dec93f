package notify

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/quizsite/discuss/model"
)

// newCutEnv returns an env over a flaky broker, a connection of user 1
// resumed from since 0, and the broker, cut: what is published now is
// lost until the test restores it.
func newCutEnv(t *testing.T, sse bool, opts Options) (*env, *flakyBroker, *wsClient) {
	t.Helper()
	fb := newFlakyBroker()
	e := newEnv(t, envConfig{broker: fb, opts: opts, sse: sse})
	c := e.connect(1, dialOpts{since: ptr[int64](0)})
	fb.cut()
	return e, fb, c
}

func TestCatchUpAfterBrokerGap(t *testing.T) {
	overTransports(t, func(t *testing.T, sse bool) {
		fb := newFlakyBroker()
		e := newEnv(t, envConfig{sse: sse, broker: fb})
		resumed := e.connect(1, dialOpts{since: ptr[int64](0)})
		unread := e.connect(1, dialOpts{})
		clients := []*wsClient{resumed, unread}

		n1 := e.store.addAndPublish(t, e.hub, 1)
		for _, c := range clients {
			c.expectNotification(n1.ID, false)
		}

		fb.cut()
		n2 := e.store.addAndPublish(t, e.hub, 1)
		e.store.addAndPublish(t, e.hub, 2) // not theirs
		n3 := e.store.addAndPublish(t, e.hub, 1)
		for _, c := range clients {
			c.expectQuiet() // lost on the way
		}
		fb.restore()
		for _, c := range clients {
			c.expectNotification(n2.ID, true)
			f := c.expectNotification(n3.ID, true)
			if f.UnreadCount != 3 {
				t.Fatalf("caught-up unread_count = %d, want 3", f.UnreadCount)
			}
			c.expectQuiet()
		}
		n4 := e.store.addAndPublish(t, e.hub, 1)
		for _, c := range clients {
			c.expectNotification(n4.ID, false)
		}
		if got := testutil.ToFloat64(e.hub.m.resubscribes); got != 1 {
			t.Fatalf("resubscribes = %v, want 1", got)
		}
	})
}

func TestCatchUpSkipsHistoryOfUnreadConnection(t *testing.T) {
	overTransports(t, func(t *testing.T, sse bool) {
		// A connection without since is owed what commits after it connects,
		// not the user's read history, even when a catch-up reads the Store.
		fb := newFlakyBroker()
		store := newFakeStore()
		e := newEnv(t, envConfig{sse: sse, broker: fb, store: store, opts: Options{ReplayLimit: 3}})
		store.addN(1, 10)
		if _, err := store.MarkRead(context.Background(), 1, nil, 10); err != nil {
			t.Fatal(err)
		}
		c := e.connect(1, dialOpts{})
		fb.cut()
		n := e.store.addAndPublish(t, e.hub, 1)
		fb.restore()
		c.expectNotification(n.ID, true)
		c.expectQuiet()
	})
}

func TestResubscribeReadsOnlyForConnectionsBehind(t *testing.T) {
	overTransports(t, func(t *testing.T, sse bool) {
		// After a broker outage only the connections whose user got something
		// meanwhile read the Store; the others compare sequence numbers.
		fb := newFlakyBroker()
		e := newEnv(t, envConfig{sse: sse, broker: fb})
		var quiet []*wsClient
		for user := int64(1); user <= 20; user++ {
			quiet = append(quiet, e.connect(user, dialOpts{since: ptr[int64](0)}))
		}
		missed := e.connect(21, dialOpts{since: ptr[int64](0)})
		before := e.store.afterCalls.Load()
		fb.cut()
		n := e.store.addAndPublish(t, e.hub, 21)
		fb.restore()
		missed.expectNotification(n.ID, true)
		for _, c := range quiet {
			c.expectQuiet()
		}
		if calls := e.store.afterCalls.Load() - before; calls != 0 {
			t.Fatalf("%d connections read the Store for themselves after the resubscribe, want 0", calls)
		}
		if calls, ranges := e.store.missedCalls.Load(), e.store.missedRanges.Load(); calls != 1 || ranges != 1 {
			t.Fatalf("%d batch reads for %d users after the resubscribe, want 1 for 1 (the user who missed one)", calls, ranges)
		}
	})
}

func TestResubscribeReadsMissedInBatches(t *testing.T) {
	// Every user missed one while the broker was away: the hub reads them
	// a batch of users at a time, not a read per connection, and each of
	// a user's connections, however far it had sent, gets what it lacks
	// once, in order.
	const users = catchUpBatchUsers + 10
	fb := newFlakyBroker()
	e := newEnv(t, envConfig{broker: fb})
	first := make([]*model.Notification, users+1)
	var clients []*wsClient
	for user := int64(1); user <= users; user++ {
		first[user] = e.store.addAndPublish(t, e.hub, user)
		c := e.dial(user, dialOpts{since: ptr[int64](0)})
		if _, replayed := c.hello(); len(replayed) != 1 {
			t.Fatalf("user %d: %d frames replayed on connect, want 1", user, len(replayed))
		}
		clients = append(clients, c)
	}
	// User 1 has a second connection, which resumed from 0 too.
	behind := e.connect(1, dialOpts{since: ptr[int64](0)})

	before := e.store.afterCalls.Load()
	fb.cut()
	missed := make([]*model.Notification, users+1)
	for user := int64(1); user <= users; user++ {
		missed[user] = e.store.addAndPublish(t, e.hub, user)
	}
	fb.restore()
	for i, c := range clients {
		c.expectNotification(missed[i+1].ID, true)
	}
	behind.expectNotification(missed[1].ID, true)
	for _, c := range append(clients, behind) {
		c.expectQuiet()
	}
	if calls := e.store.afterCalls.Load() - before; calls != 0 {
		t.Fatalf("%d connections read the Store for themselves, want 0", calls)
	}
	if calls, ranges := e.store.missedCalls.Load(), e.store.missedRanges.Load(); calls != 2 || ranges != users {
		t.Fatalf("%d batch reads for %d users, want 2 for %d", calls, ranges, users)
	}
}

func TestResubscribeFarBehindResyncs(t *testing.T) {
	overTransports(t, func(t *testing.T, sse bool) {
		// A user who missed more than the replay limit is not read in a batch:
		// the connection reads for itself, sends the limit and resync.
		e, fb, c := newCutEnv(t, sse, Options{ReplayLimit: 3})
		var ids []int64
		for range 5 {
			ids = append(ids, e.store.addAndPublish(t, e.hub, 1).ID)
		}
		fb.restore()
		for _, id := range ids[:3] {
			c.expectNotification(id, true)
		}
		c.expect("resync")
		if calls := e.store.missedCalls.Load(); calls != 0 {
			t.Fatalf("%d batch reads, want 0", calls)
		}
	})
}

// TestCatchUpWhenStoreFails: the catch-up after a resubscribe delivers what
// was missed, once, though the Store fails. When the batch read fails,
// each connection behind reads for itself; when every read fails, the
// connection retries with backoff until the Store answers.
func TestCatchUpWhenStoreFails(t *testing.T) {
	overTransports(t, func(t *testing.T, sse bool) {
		for _, tt := range []struct {
			name string
			// failing is the switch that makes the Store fail.
			failing func(*fakeStore) *atomic.Bool
			// failed reports that a read has failed.
			failed func(*fakeStore) bool
			// batchReads is how many batch reads are tried: none when the
			// sequence numbers cannot be read either.
			batchReads int64
		}{
			{"BatchReadFails",
				func(s *fakeStore) *atomic.Bool { return &s.failMissed },
				func(s *fakeStore) bool { return s.missedCalls.Load() > 0 }, 1},
			{"StoreDown",
				func(s *fakeStore) *atomic.Bool { return &s.fail },
				func(s *fakeStore) bool { return s.failed.Load() > 0 }, 0},
		} {
			t.Run(tt.name, func(t *testing.T) {
				e, fb, c := newCutEnv(t, sse, Options{})
				n := e.store.addAndPublish(t, e.hub, 1)
				tt.failing(e.store).Store(true)
				fb.restore()
				waitFor(t, "a failed read", func() bool { return tt.failed(e.store) })
				tt.failing(e.store).Store(false)
				c.expectNotification(n.ID, true)
				c.expectQuiet()
				if calls := e.store.missedCalls.Load(); calls != tt.batchReads {
					t.Fatalf("%d batch reads, want %d", calls, tt.batchReads)
				}
			})
		}
	})
}

func TestOutOfOrderPublishArrivesInOrder(t *testing.T) {
	overTransports(t, func(t *testing.T, sse bool) {
		// Two publishes of one user reach the hub the other way round: the
		// second shows a gap, which the connection fills from the Store before
		// it sends anything newer, and the first then finds itself settled.
		e := newEnv(t, envConfig{sse: sse})
		c := e.connect(1, dialOpts{since: ptr[int64](0)})
		n1, u1 := e.store.add(1)
		n2, u2 := e.store.add(1)
		if err := e.hub.PublishNotification(context.Background(), n2, u2); err != nil {
			t.Fatal(err)
		}
		c.expectNotification(n1.ID, true)
		c.expectNotification(n2.ID, true)
		if err := e.hub.PublishNotification(context.Background(), n1, u1); err != nil {
			t.Fatal(err)
		}
		n3 := e.store.addAndPublish(t, e.hub, 1)
		c.expectNotification(n3.ID, false)
		c.expectQuiet()
		if got := testutil.ToFloat64(e.hub.m.gaps); got != 1 {
			t.Fatalf("gaps = %v, want 1", got)
		}
	})
}

func TestReplayStopsAtHead(t *testing.T) {
	overTransports(t, func(t *testing.T, sse bool) {
		// Two notifications commit between the head and the list read of a
		// connection's replay, and the list shows the second without the
		// first, as a MariaDB read may while the first commits. Sending the
		// second would settle the first, and lose it; both must arrive live,
		// in order.
		for _, since := range []int64{0, 1} {
			e := newEnv(t, envConfig{sse: sse})
			e.store.addN(1, 3)
			type committed struct {
				n      *model.Notification
				unread model.NotificationCounts
			}
			late := make(chan committed, 2)
			e.store.afterHead.Store(ptr(func() {
				for range 2 {
					n, unread := e.store.add(1)
					late <- committed{n, unread}
				}
				e.store.hide(4, true)
			}))
			c := e.dial(1, dialOpts{since: ptr(since)})
			_, replay := c.hello()
			var got []int64
			for _, f := range replay {
				got = append(got, f.Notification.ID)
			}
			if want := []int64{1, 2, 3}[since:]; !slices.Equal(got, want) {
				t.Fatalf("since %d: replayed %v, want %v", since, got, want)
			}
			e.store.hide(4, false)
			for range 2 {
				l := <-late
				if err := e.hub.PublishNotification(context.Background(), l.n, l.unread); err != nil {
					t.Fatal(err)
				}
			}
			c.expectNotification(4, false)
			c.expectNotification(5, false)
			c.expectQuiet()

			// The same in the catch-up that a gap starts: 7 is published
			// before 6, the catch-up's list shows 9 but not 8.
			n6, u6 := e.store.add(1)
			n7, u7 := e.store.add(1)
			e.store.afterHead.Store(ptr(func() {
				for range 2 {
					n, unread := e.store.add(1)
					late <- committed{n, unread}
				}
				e.store.hide(8, true)
			}))
			if err := e.hub.PublishNotification(context.Background(), n7, u7); err != nil {
				t.Fatal(err)
			}
			c.expectNotification(6, true)
			c.expectNotification(7, true)
			c.expectQuiet()
			e.store.hide(8, false)
			for range 2 {
				l := <-late
				if err := e.hub.PublishNotification(context.Background(), l.n, l.unread); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.hub.PublishNotification(context.Background(), n6, u6); err != nil {
				t.Fatal(err)
			}
			c.expectNotification(8, false)
			c.expectNotification(9, false)
			c.expectQuiet()
		}
	})
}

func TestGapOfDeletedNotificationIsSettled(t *testing.T) {
	overTransports(t, func(t *testing.T, sse bool) {
		// The notification in a gap was deleted (its comment was) before the
		// connection read the gap: the read settles it, and what follows
		// comes live without another read.
		e := newEnv(t, envConfig{sse: sse})
		c := e.connect(1, dialOpts{since: ptr[int64](0)})
		n1, _ := e.store.add(1)
		e.store.remove(n1)
		n2 := e.store.addAndPublish(t, e.hub, 1)
		c.expectNotification(n2.ID, true)
		before := e.store.afterCalls.Load()
		n3 := e.store.addAndPublish(t, e.hub, 1)
		c.expectNotification(n3.ID, false)
		c.expectQuiet()
		if calls := e.store.afterCalls.Load() - before; calls != 0 {
			t.Fatalf("%d Store reads for a notification in sequence", calls)
		}
	})
}

func TestConcurrentPublishesArriveInIDOrder(t *testing.T) {
	overTransports(t, func(t *testing.T, sse bool) {
		// Publishes from several writers interleave and overtake each other;
		// every connection still sees each id once, in increasing order.
		// Publishes in sequence cost no Store read.
		e := newEnv(t, envConfig{sse: sse, opts: Options{SendQueueSize: 1024}})
		clients := []*wsClient{e.connect(1, dialOpts{since: ptr[int64](0)}), e.connect(1, dialOpts{})}
		before := e.store.afterCalls.Load()
		for range 50 {
			n := e.store.addAndPublish(t, e.hub, 1)
			for _, c := range clients {
				c.expectNotification(n.ID, false)
			}
		}
		if calls := e.store.afterCalls.Load() - before; calls != 0 {
			t.Fatalf("%d Store reads for 50 notifications in sequence", calls)
		}
		const total = 400
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range total / 4 {
					e.store.addAndPublish(t, e.hub, 1)
				}
			})
		}
		wg.Wait()
		for _, c := range clients {
			last := int64(0)
			for range total {
				f := c.expect("notification")
				if f.Notification.ID <= last {
					t.Fatalf("notification %d after %d", f.Notification.ID, last)
				}
				last = f.Notification.ID
			}
			c.expectQuiet()
		}
	})
}
