package notify

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestCatchUpAfterBrokerGap(t *testing.T) {
	fb := newFlakyBroker()
	e := newEnv(t, envConfig{broker: fb})
	resumed := e.dial(1, dialOpts{since: ptr[int64](0)})
	resumed.hello()
	unread := e.dial(1, dialOpts{})
	unread.hello()
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
	if got := e.metricValue("discuss_broker_resubscribes_total"); got != 1 {
		t.Fatalf("resubscribes = %v, want 1", got)
	}
}

func TestCatchUpSkipsOldHistoryOfUnreadConnection(t *testing.T) {
	// A connection without since is owed what commits after it connects,
	// not the user's read history, even when a catch-up reads the Store.
	fb := newFlakyBroker()
	store := newFakeStore()
	e := newEnv(t, envConfig{broker: fb, store: store, opts: Options{ReplayLimit: 3}})
	store.addN(1, 10)
	if _, err := store.MarkRead(context.Background(), 1, nil, 10); err != nil {
		t.Fatal(err)
	}
	// Make the history old.
	store.mu.Lock()
	for _, n := range store.byUser[1] {
		n.CreatedAt = n.CreatedAt.Add(-time.Hour)
	}
	store.mu.Unlock()
	c := e.dial(1, dialOpts{})
	c.hello()
	fb.cut()
	n := e.store.addAndPublish(t, e.hub, 1)
	fb.restore()
	c.expectNotification(n.ID, true)
	c.expectQuiet()
}

func TestCatchUpRetriesWhenStoreFails(t *testing.T) {
	fb := newFlakyBroker()
	e := newEnv(t, envConfig{broker: fb})
	c := e.dial(1, dialOpts{since: ptr[int64](0)})
	c.hello()
	fb.cut()
	n := e.store.addAndPublish(t, e.hub, 1)
	e.store.fail.Store(true)
	before := e.store.afterCalls.Load()
	fb.restore()
	waitFor(t, "a failed catch-up", func() bool { return e.store.afterCalls.Load() > before })
	e.store.fail.Store(false)
	c.expectNotification(n.ID, true) // retried after a second
	c.expectQuiet()
}

func TestLongConnectionRaisesFloorFromStore(t *testing.T) {
	// Live ids above the floor are remembered only up to maxSent; past
	// that the connection reads the Store to raise its floor. Every id
	// still arrives once, however the publishes interleave.
	e := newEnv(t, envConfig{opts: Options{SendQueueSize: 1024}})
	c := e.dial(1, dialOpts{since: ptr[int64](0)})
	c.hello()

	{
		// One by one: each arrives before the next commits (live, or
		// replayed when it committed while the floor was being raised).
		before := e.store.afterCalls.Load()
		for range 3 * maxSent {
			n := e.store.addAndPublish(t, e.hub, 1)
			if f := c.expect("notification"); f.Notification.ID != n.ID {
				t.Fatalf("got notification %d, want %d", f.Notification.ID, n.ID)
			}
		}
		c.expectQuiet()
		if calls := e.store.afterCalls.Load() - before; calls < 2 {
			t.Fatalf("%d Store reads for %d live notifications; the floor did not rise every maxSent", calls, 3*maxSent)
		}
	}
	{
		// Interleaved publishes, out of id order at times.
		const total = 5 * maxSent
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range total / 4 {
					e.store.addAndPublish(t, e.hub, 1)
				}
			})
		}
		seen := map[int64]bool{}
		for len(seen) < total {
			f := c.expect("notification")
			if seen[f.Notification.ID] {
				t.Fatalf("notification %d twice", f.Notification.ID)
			}
			seen[f.Notification.ID] = true
		}
		wg.Wait()
		c.expectQuiet()
	}
}
