package notify

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/quizsite/discuss/service/dbtest"
)

func newTestRedisBroker(t *testing.T, addr, channel string) *RedisBroker {
	t.Helper()
	b, err := NewRedisBroker(RedisConfig{Addr: addr, Channel: channel, HealthInterval: 500 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	// Registered before the env using it, so closed after that env stops.
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestRedisTwoInstances(t *testing.T) {
	addr, ch := dbtest.Redis(t)
	store := newFakeStore()
	opts := Options{PresenceInterval: 100 * time.Millisecond}
	a := newEnv(t, envConfig{broker: newTestRedisBroker(t, addr, ch), store: store, opts: opts})
	b := newEnv(t, envConfig{broker: newTestRedisBroker(t, addr, ch), store: store, opts: opts})

	onB1, onA2, onB2 := b.connect(1, dialOpts{}), a.connect(2, dialOpts{}), b.connect(2, dialOpts{})
	all := []*wsClient{onB1, onA2, onB2}

	// A reply committed through instance A reaches the client on B.
	n := store.addAndPublish(t, a.hub, 1)
	onB1.expectNotification(n.ID, false)
	// And one through B reaches both instances.
	n = store.addAndPublish(t, b.hub, 2)
	onA2.expectNotification(n.ID, false)
	onB2.expectNotification(n.ID, false)

	// A read frame on A reaches the user's connection on B.
	onA2.send(`{"type":"read","up_to_id":` + itoa(n.ID) + `}`)
	for _, c := range []*wsClient{onA2, onB2} {
		if f := c.expect("unread_count"); f.UnreadCount != 0 {
			t.Fatalf("unread_count = %d, want 0", f.UnreadCount)
		}
	}

	announcement := announcementNow("to everyone")
	if err := b.hub.PublishBroadcast(context.Background(), announcement); err != nil {
		t.Fatal(err)
	}
	for _, c := range all {
		if f := c.expect("broadcast"); f.Message != "to everyone" {
			t.Fatalf("broadcast = %+v", f)
		}
	}
	onB1.expectQuiet()

	// Online counts over both instances, user 2 once.
	for _, e := range []*env{a, b} {
		waitFor(t, "online counts over both instances", func() bool {
			users, conns, err := e.hub.Online(context.Background())
			return err == nil && users == 2 && conns == 3
		})
	}
	onB1.closeNormally()
	onB2.closeNormally()
	waitFor(t, "B's connections to leave the count", func() bool {
		users, conns, err := a.hub.Online(context.Background())
		return err == nil && users == 1 && conns == 1
	})
	// An instance that shuts down withdraws its presence at once.
	a.stop()
	users, conns, err := b.hub.Online(context.Background())
	if err != nil || users != 0 || conns != 0 {
		t.Fatalf("Online after A stopped = %d, %d, %v; want 0, 0", users, conns, err)
	}
}

func TestRedisOutageReplaysWithoutReconnect(t *testing.T) {
	overTransports(t, func(t *testing.T, sse bool) {
		addr, ch := dbtest.Redis(t)
		proxy := dbtest.NewProxy(t, addr)
		store := newFakeStore()
		a := newEnv(t, envConfig{sse: sse, broker: newTestRedisBroker(t, addr, ch), store: store})
		b := newEnv(t, envConfig{sse: sse, broker: newTestRedisBroker(t, proxy.Addr(), ch), store: store})

		c := b.connect(1, dialOpts{since: ptr[int64](0)})
		n := store.addAndPublish(t, a.hub, 1)
		c.expectNotification(n.ID, false)

		proxy.Cut()
		// Replies keep being committed and published through A; B hears nothing.
		var missed []int64
		for range 3 {
			missed = append(missed, store.addAndPublish(t, a.hub, 1).ID)
		}
		store.addAndPublish(t, a.hub, 2)
		// Publishing through B fails, fast, and still reaches B's own clients.
		local, unread := store.add(1)
		start := time.Now()
		if err := b.hub.PublishNotification(context.Background(), local, unread); err == nil {
			t.Fatal("publish through a cut Redis succeeded")
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("publish through a cut Redis took %v", took)
		}
		// The one delivered locally shows the client that it missed three:
		// they are read from the Store and sent first, in order.
		for _, id := range missed {
			c.expectNotification(id, true)
		}
		c.expectNotification(local.ID, true)
		c.expectQuiet()
		for range 2 {
			missed = append(missed, store.addAndPublish(t, a.hub, 1).ID)
		}

		proxy.Restore()
		// B re-subscribes by itself and replays what its client missed since,
		// on the same connection, each once.
		for _, id := range missed[3:] {
			c.expectNotification(id, true)
		}
		c.expectQuiet()
		n = store.addAndPublish(t, a.hub, 1)
		c.expectNotification(n.ID, false)
		select {
		case <-c.q.Done():
			t.Fatalf("the client was disconnected: %v", c.q.Err())
		default:
		}
		if got := testutil.ToFloat64(b.hub.m.resubscribes); got < 1 {
			t.Fatalf("resubscribes = %v, want at least 1", got)
		}
	})
}

func TestRedisPresence(t *testing.T) {
	addr, ch := dbtest.Redis(t)
	b := newTestRedisBroker(t, addr, ch)
	ctx := context.Background()
	for _, p := range []Presence{
		{Instance: "a", Connections: 3, Users: []int64{1, 2}},
		{Instance: "b", Connections: 2, Users: []int64{2, 3}},
	} {
		if err := b.ReportPresence(ctx, p, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	// An instance that died an instant ago: expired, not counted.
	if err := b.ReportPresence(ctx, Presence{Instance: "dead", Connections: 9, Users: []int64{9}}, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the dead instance to expire", func() bool {
		users, conns, err := b.Online(ctx)
		return err == nil && users == 3 && conns == 5
	})
	if err := b.ReportPresence(ctx, Presence{Instance: "b"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	users, conns, err := b.Online(ctx)
	if err != nil || users != 2 || conns != 3 {
		t.Fatalf("Online = %d, %d, %v; want 2, 3", users, conns, err)
	}
	_ = b.ReportPresence(ctx, Presence{Instance: "a"}, time.Minute)
}

func TestRedisPublishFailsFastWhenDown(t *testing.T) {
	// A port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	b, err := NewRedisBroker(RedisConfig{Addr: addr}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	if err := b.Publish(ctx, []byte("x")); err == nil {
		t.Fatal("publish to nowhere succeeded")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("publish took %v", took)
	}
}

// TestRedisRefusalIsFinal: a setting Redis refuses (here a database
// number past its last) ends Subscribe with the reason, rather than
// retrying for ever while the instance looks healthy.
func TestRedisRefusalIsFinal(t *testing.T) {
	addr, _ := dbtest.Redis(t)
	b, err := NewRedisBroker(RedisConfig{Addr: addr, DB: 1 << 20, MaxBackoff: 100 * time.Millisecond}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	err = b.Subscribe(ctx, func([]byte) {}, func() { t.Error("subscribed to a database Redis does not have") })
	if ctx.Err() != nil || err == nil || !strings.Contains(err.Error(), "DB index") {
		t.Fatalf("Subscribe returned %v (context: %v), want Redis's refusal", err, ctx.Err())
	}
}
