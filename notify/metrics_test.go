package notify

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetrics(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.store.add(1)
	c1 := e.dial(1, dialOpts{})
	c2 := e.dial(2, dialOpts{})
	c1.expect("hello")
	c1.expectNotification(1, true)
	c2.hello()
	n := e.store.addAndPublish(t, e.hub, 2)
	c2.expectNotification(n.ID, false)

	// Counters move just after the write the client saw.
	waitFor(t, "the counters", func() bool {
		return testutil.ToFloat64(e.hub.m.framesSent[kindNotification]) == 2 &&
			e.observations("discuss_notify_delivery_seconds") == 1
	})
	if got := testutil.ToFloat64(e.hub.m.connections); got != 2 {
		t.Fatalf("connections = %v, want 2", got)
	}
	if got := testutil.ToFloat64(e.hub.m.users); got != 2 {
		t.Fatalf("users = %v, want 2", got)
	}
	if got := testutil.ToFloat64(e.hub.m.framesSent[kindHello]); got != 2 {
		t.Fatalf("hello frames = %v, want 2", got)
	}
	if got := testutil.ToFloat64(e.hub.m.framesSent[kindNotification]); got != 2 {
		t.Fatalf("notification frames = %v, want 2", got)
	}
	if got := e.observations("discuss_ws_replay_notifications"); got != 2 {
		t.Fatalf("replay samples = %d, want 2", got)
	}
	// The registry exposes every family.
	for _, name := range []string{"discuss_ws_connections", "discuss_ws_users", "discuss_ws_frames_sent_total", "discuss_ws_replay_notifications", "discuss_notify_delivery_seconds"} {
		if n, err := testutil.GatherAndCount(e.reg, name); err != nil || n == 0 {
			t.Errorf("metric %s not registered (%d series, %v)", name, n, err)
		}
	}
	c1.conn.Close()
	waitFor(t, "the gauge to drop", func() bool { return testutil.ToFloat64(e.hub.m.connections) == 1 })
}
