package notify

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// presenceLog is a PresenceRecorder that keeps every call, and fails while
// failing is set.
type presenceLog struct {
	mu      sync.Mutex
	calls   []presenceCall
	failing bool
}

type presenceCall struct {
	instance            string
	connected, departed []int64
}

func (p *presenceLog) RecordPresence(_ context.Context, instance string, connected, departed []int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failing {
		return errors.New("database away")
	}
	slices.Sort(connected)
	slices.Sort(departed)
	p.calls = append(p.calls, presenceCall{instance, connected, departed})
	return nil
}

// state returns, for user, whether the last call naming them had them
// connected (1), departed (-1), or no call named them (0), and how many
// calls named them connected.
func (p *presenceLog) state(user int64) (last, connectedCalls int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.calls {
		if slices.Contains(c.connected, user) {
			last = 1
			connectedCalls++
		}
		if slices.Contains(c.departed, user) {
			last = -1
		}
	}
	return last, connectedCalls
}

func (p *presenceLog) setFailing(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failing = on
}

// TestPresenceRecorded: the hub tells its PresenceRecorder of a user's
// first connection and of their last one closing, records every connected
// user again each interval, retries what failed, and departs everyone at
// shutdown.
func TestPresenceRecorded(t *testing.T) {
	rec := &presenceLog{}
	e := newEnv(t, envConfig{opts: Options{Presence: rec, PresenceRecordInterval: 20 * time.Millisecond, InstanceID: "i-1"}})

	a1 := e.connect(1, dialOpts{})
	a2 := e.connect(1, dialOpts{})
	b := e.connect(2, dialOpts{})
	waitFor(t, "users 1 and 2 recorded connected", func() bool {
		l1, _ := rec.state(1)
		l2, _ := rec.state(2)
		return l1 == 1 && l2 == 1
	})
	// Connected users are recorded again and again.
	_, before := rec.state(1)
	waitFor(t, "user 1 recorded again", func() bool {
		_, n := rec.state(1)
		return n >= before+2
	})

	// One of two connections closing is no departure.
	a1.closeNormally()
	b.closeNormally()
	waitFor(t, "user 2 departed", func() bool {
		l2, _ := rec.state(2)
		return l2 == -1
	})
	if l1, _ := rec.state(1); l1 != 1 {
		t.Fatal("user 1, still connected once, was recorded departed")
	}

	// A failed record is retried: the departure is not lost.
	rec.setFailing(true)
	a2.closeNormally()
	waitFor(t, "user 1's last connection gone from the hub", func() bool {
		users, _ := e.hub.LocalCounts()
		return users == 0
	})
	rec.setFailing(false)
	waitFor(t, "user 1 departed after the failure", func() bool {
		l1, _ := rec.state(1)
		return l1 == -1
	})

	// Shutdown departs whoever is still connected.
	e.connect(3, dialOpts{})
	waitFor(t, "user 3 recorded connected", func() bool {
		l3, _ := rec.state(3)
		return l3 == 1
	})
	e.stop()
	if l3, _ := rec.state(3); l3 != -1 {
		t.Fatal("user 3 was not departed at shutdown")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, c := range rec.calls {
		if c.instance != "i-1" {
			t.Fatalf("recorded for instance %q", c.instance)
		}
	}
}
