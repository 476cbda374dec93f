package notify

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/quizsite/discuss/model"
)

func TestHelloThenReplay(t *testing.T) {
	overTransports(t, func(t *testing.T, sse bool) {
		t.Run("Unread", func(t *testing.T) {
			e := newEnv(t, envConfig{sse: sse})
			e.store.addN(1, 5)
			e.store.add(2) // someone else's
			if _, err := e.store.MarkRead(context.Background(), 1, []int64{2}, 0); err != nil {
				t.Fatal(err)
			}
			c := e.dial(1, dialOpts{})
			hello := c.expect("hello")
			if hello.UserID != 1 || hello.UnreadCount != 4 || time.Since(hello.ServerTime) > time.Minute {
				t.Fatalf("hello = %+v", hello)
			}
			for _, id := range []int64{1, 3, 4, 5} {
				f := c.expectNotification(id, true)
				if f.UnreadCount != 4 || f.Notification.Actor == nil || f.Notification.Actor.Username != "bob" {
					t.Fatalf("replayed frame = %+v", f)
				}
			}
			c.expectQuiet()
			n := e.store.addAndPublish(t, e.hub, 1)
			f := c.expectNotification(n.ID, false)
			if f.UnreadCount != 5 {
				t.Fatalf("live unread_count = %d, want 5", f.UnreadCount)
			}
		})
		for _, tt := range []struct {
			name     string
			opts     Options
			add      int    // notifications of user 1
			readUpTo int64  // of which those up to this id are read
			since    *int64 // the connection's since
			unread   int64  // in hello
			from, to int64  // replayed
			resync   bool
		}{
			{"UnreadLimit", Options{UnreadReplayLimit: 3}, 7, 0, nil, 7, 1, 3, false},
			// Read ones too: since replays everything after it.
			{"Since", Options{}, 5, 4, ptr[int64](2), 1, 3, 5, false},
			{"ResyncPastLimit", Options{}, 510, 0, ptr[int64](0), 510, 1, 500, true},
			{"ExactlyAtLimit", Options{ReplayLimit: 5}, 5, 0, ptr[int64](0), 5, 1, 5, false},
		} {
			t.Run(tt.name, func(t *testing.T) {
				e := newEnv(t, envConfig{sse: sse, opts: tt.opts})
				e.store.addN(1, tt.add)
				if tt.readUpTo > 0 {
					if _, err := e.store.MarkRead(context.Background(), 1, nil, tt.readUpTo); err != nil {
						t.Fatal(err)
					}
				}
				c := e.dial(1, dialOpts{since: tt.since})
				if got := c.expect("hello").UnreadCount; got != tt.unread {
					t.Fatalf("hello unread_count = %d, want %d", got, tt.unread)
				}
				c.expectReplayed(tt.from, tt.to)
				if tt.resync {
					c.expect("resync")
				}
				c.expectQuiet()
				// Live frames follow, after a resync too.
				n := e.store.addAndPublish(t, e.hub, 1)
				c.expectNotification(n.ID, false)
			})
		}
	})
}

// TestFramesCarryUnseenCount: hello, replayed and live notification frames
// and unread_count frames all carry the unseen count beside the unread one,
// as the store counts them: unseen is what lies above the seen mark, read
// or not.
func TestFramesCarryUnseenCount(t *testing.T) {
	overTransports(t, func(t *testing.T, sse bool) {
		e := newEnv(t, envConfig{sse: sse})
		e.store.addN(1, 5)
		e.store.see(1, 3)
		if _, err := e.store.MarkRead(context.Background(), 1, []int64{2, 5}, 0); err != nil {
			t.Fatal(err)
		}
		unseen := func(f serverFrame) int64 {
			t.Helper()
			if f.UnseenCount == nil {
				t.Fatalf("%s frame without unseen_count: %+v", f.Type, f)
			}
			return *f.UnseenCount
		}
		c := e.dial(1, dialOpts{since: ptr[int64](0)})
		hello, replay := c.hello()
		if hello.UnreadCount != 3 || unseen(hello) != 2 {
			t.Fatalf("hello counts %d, %d; want 3 unread, 2 unseen", hello.UnreadCount, unseen(hello))
		}
		if len(replay) != 5 {
			t.Fatalf("replayed %d, want 5", len(replay))
		}
		for _, f := range replay {
			if f.UnreadCount != 3 || unseen(f) != 2 {
				t.Fatalf("replayed frame counts %d, %d; want 3, 2", f.UnreadCount, unseen(f))
			}
		}
		n := e.store.addAndPublish(t, e.hub, 1)
		if f := c.expectNotification(n.ID, false); f.UnreadCount != 4 || unseen(f) != 3 {
			t.Fatalf("live frame counts %d, %d; want 4, 3", f.UnreadCount, unseen(f))
		}
		// A catch-up after a gap reads the counts with the list.
		e.store.add(1)
		n8 := e.store.addAndPublish(t, e.hub, 1)
		c.expectNotification(n8.ID-1, true)
		if f := c.expectNotification(n8.ID, true); f.UnreadCount != 6 || unseen(f) != 5 {
			t.Fatalf("caught-up frame counts %d, %d; want 6, 5", f.UnreadCount, unseen(f))
		}
		e.store.see(1, n8.ID)
		if _, err := e.store.MarkRead(context.Background(), 1, []int64{1}, 0); err != nil {
			t.Fatal(err)
		}
		if f := c.expect("unread_count"); f.UnreadCount != 5 || unseen(f) != 0 {
			t.Fatalf("unread_count frame counts %d, %d; want 5, 0", f.UnreadCount, unseen(f))
		}
	})
}

func TestResumeAtHeadReadsOnce(t *testing.T) {
	overTransports(t, func(t *testing.T, sse bool) {
		// A client resuming from the newest id it has gets hello from the head
		// alone: nothing is listed, and what commits next arrives live.
		e := newEnv(t, envConfig{sse: sse})
		e.store.addN(1, 3)
		c := e.dial(1, dialOpts{since: ptr(e.store.maxID())})
		if got := c.expect("hello").UnreadCount; got != 3 {
			t.Fatalf("hello unread_count = %d, want 3", got)
		}
		c.expectQuiet()
		if calls := e.store.afterCalls.Load(); calls != 0 {
			t.Fatalf("%d list reads for a resume with nothing after since, want 0", calls)
		}
		n := e.store.addAndPublish(t, e.hub, 1)
		c.expectNotification(n.ID, false)
	})
}

func TestLiveSkipsWhatReplaySent(t *testing.T) {
	overTransports(t, func(t *testing.T, sse bool) {
		// A notification committed before the connection registers but
		// published after it comes both in the replay and live: sent once.
		e := newEnv(t, envConfig{sse: sse})
		n1, unread := e.store.add(1)
		c := e.dial(1, dialOpts{since: ptr[int64](0)})
		c.expect("hello")
		c.expectNotification(n1.ID, true)
		if err := e.hub.PublishNotification(context.Background(), n1, unread); err != nil {
			t.Fatal(err)
		}
		c.expectQuiet()
		// An old one published late (id <= since) is skipped too.
		c2 := e.dial(1, dialOpts{since: ptr[int64](n1.ID)})
		c2.expect("hello")
		if err := e.hub.PublishNotification(context.Background(), n1, unread); err != nil {
			t.Fatal(err)
		}
		c2.expectQuiet()
	})
}

// TestFanOut: what is published for a user reaches every one of the user's
// connections, and nobody else's.
func TestFanOut(t *testing.T) {
	overTransports(t, func(t *testing.T, sse bool) {
		for _, tc := range []struct {
			name string
			// publish publishes for user 1 and checks what each of the user's
			// connections, mine, receives.
			publish func(t *testing.T, e *env, mine []*wsClient)
		}{
			{"Notification", func(t *testing.T, e *env, mine []*wsClient) {
				n := e.store.addAndPublish(t, e.hub, 1)
				for _, c := range mine {
					c.expectNotification(n.ID, false)
				}
			}},
			{"UnreadCount", func(t *testing.T, e *env, mine []*wsClient) {
				if err := e.hub.PublishUnreadCount(context.Background(), 1, model.NotificationCounts{Unread: 42, Unseen: 7}); err != nil {
					t.Fatal(err)
				}
				for _, c := range mine {
					if f := c.expect("unread_count"); f.UnreadCount != 42 || f.UnseenCount == nil || *f.UnseenCount != 7 {
						t.Fatalf("unread_count = %d, unseen_count = %v, want 42 and 7", f.UnreadCount, f.UnseenCount)
					}
				}
			}},
			// A publisher that could not take the counts publishes an unread
			// count of -1, and the user's connections read the notification
			// from the Store instead, once, with its true counts.
			{"UnknownCountCatchesUpFromStore", func(t *testing.T, e *env, mine []*wsClient) {
				first := e.store.addAndPublish(t, e.hub, 1)
				for _, c := range mine {
					c.expectNotification(first.ID, false)
				}
				n, counts := e.store.add(1)
				if err := e.hub.PublishNotification(context.Background(), n, model.NotificationCounts{Unread: -1}); err != nil {
					t.Fatal(err)
				}
				for _, c := range mine {
					f := c.expectNotification(n.ID, true)
					if f.UnreadCount != counts.Unread || f.UnseenCount == nil || *f.UnseenCount != counts.Unseen {
						t.Fatalf("counts %d, %v; want %+v", f.UnreadCount, f.UnseenCount, counts)
					}
					c.expectQuiet()
				}
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := newEnv(t, envConfig{sse: sse})
				a1, a2, b := e.connect(1, dialOpts{}), e.connect(1, dialOpts{}), e.connect(2, dialOpts{})
				tc.publish(t, e, []*wsClient{a1, a2})
				b.expectQuiet()
			})
		}
	})
}

func TestBroadcastReachesAll(t *testing.T) {
	overTransports(t, func(t *testing.T, sse bool) {
		e := newEnv(t, envConfig{sse: sse})
		var clients []*wsClient
		for _, user := range []int64{1, 1, 2, 3} {
			clients = append(clients, e.connect(user, dialOpts{}))
		}
		at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		if err := e.hub.PublishBroadcast(context.Background(), &model.Announcement{ID: 1, Message: "maintenance at noon", CreatedAt: at}); err != nil {
			t.Fatal(err)
		}
		for _, c := range clients {
			f := c.expect("broadcast")
			if f.Message != "maintenance at noon" || !f.CreatedAt.Equal(at) {
				t.Fatalf("broadcast = %+v", f)
			}
		}
		users, conns, err := e.hub.Online(context.Background())
		if err != nil || users != 3 || conns != 4 {
			t.Fatalf("Online = %d, %d, %v; want 3, 4", users, conns, err)
		}
	})
}

func TestPublishFallsBackToLocalWhenBrokerFails(t *testing.T) {
	e := newEnv(t, envConfig{broker: &failingPublishBroker{MemoryBroker: NewMemoryBroker()}})
	c := e.connect(1, dialOpts{})
	n, unread := e.store.add(1)
	if err := e.hub.PublishNotification(context.Background(), n, unread); err == nil {
		t.Fatal("PublishNotification hid the broker error")
	}
	c.expectNotification(n.ID, false)
	if err := e.hub.PublishUnreadCount(context.Background(), 1, model.NotificationCounts{}); err == nil {
		t.Fatal("PublishUnreadCount hid the broker error")
	}
	c.expect("unread_count")
	if err := e.hub.PublishBroadcast(context.Background(), &model.Announcement{Message: "x"}); err == nil {
		t.Fatal("PublishBroadcast hid the broker error")
	}
	c.expectQuiet()
	if got := testutil.ToFloat64(e.hub.m.publishErrors); got != 3 {
		t.Fatalf("publish errors = %v, want 3", got)
	}
}

type failingPublishBroker struct{ *MemoryBroker }

func (failingPublishBroker) Publish(context.Context, []byte) error { return errors.New("broker down") }

func TestUserChangedReachesEveryHub(t *testing.T) {
	// A user changed on one instance is announced to every hub, the one
	// that changed it included, and a hub whose subscription came back
	// hears that it may have missed such announcements.
	var changed, resubscribed atomic.Int64
	opts := Options{
		OnUserChanged:  func(id int64) { changed.Store(id) },
		OnResubscribed: func() { resubscribed.Add(1) },
	}
	fb := newFlakyBroker()
	e := newEnv(t, envConfig{broker: fb, opts: opts})
	if err := e.hub.PublishUserChanged(context.Background(), 42); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the change to be announced", func() bool { return changed.Load() == 42 })
	if resubscribed.Load() != 0 {
		t.Fatal("OnResubscribed ran on the first subscription")
	}
	fb.cut()
	fb.restore()
	waitFor(t, "the resubscription to be reported", func() bool { return resubscribed.Load() == 1 })
}
