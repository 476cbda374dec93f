package main

import (
	"sync"
	"sync/atomic"
	"time"
)

// key names one delivery: an event (a notification, a comment's
// notification, a broadcast; what id means is up to the scenario) on one
// connection.
type key struct {
	conn int
	id   int64
}

// arrival is when an event first arrived, and how many times (or, from
// lastArrivals, on how many connections).
type arrival struct {
	first time.Time
	n     int
}

// delivery is what is known of one key: whether it is expected, and when
// and how often it arrived. A value, not a pointer: a run tracks millions
// of them, which the collector then need not scan.
type delivery struct {
	expected bool
	n        int32
	first    int64 // UnixNano of the first arrival
}

// deliveries tracks what each connection should receive and what it did,
// to count losses and duplicates and to measure latency. A frame may arrive
// before the request that caused it has returned (the server publishes
// before it answers), so expect and receive may come in either order.
//
// The deliveries are split by connection under deliveryShards locks, one
// for each of a thousand consecutive connections: a thread-live comment
// reaches its thousand subscribers at once, whose readers all record it.
// Under one lock they queued for it, and that queue, not the server, was
// a large part of what thread-live measured. In turns, four runs each,
// with 64 locks: POST to the last subscriber p99 216-337 -> 149-200 ms,
// the other users' pushes in the same process 109-155 -> 55-75 ms, at the
// same CPU a frame. A mutex profile of a run still had the readers waiting
// 8.6 s on each other in receive, and none with 1,024.
type deliveries struct {
	shards      [deliveryShards]deliveryShard
	outstanding atomic.Int64 // expected keys not received yet

	startMu sync.Mutex
	start   map[int64]time.Time // when event id began, for latency
}

const deliveryShards = 1024

// deliveryShard is one lock's deliveries, padded to a cache line of its
// own, so that the readers of neighbouring shards on different cores do
// not take the line from each other.
type deliveryShard struct {
	mu   sync.Mutex
	keys map[key]delivery
	_    [64 - 16]byte
}

func newDeliveries() *deliveries {
	d := &deliveries{start: map[int64]time.Time{}}
	for i := range d.shards {
		d.shards[i].keys = map[key]delivery{}
	}
	return d
}

func (d *deliveries) shard(conn int) *deliveryShard {
	return &d.shards[conn%deliveryShards]
}

// each calls do for every key, a shard at a time under its lock.
func (d *deliveries) each(do func(key, delivery)) {
	for i := range d.shards {
		sh := &d.shards[i]
		sh.mu.Lock()
		for k, v := range sh.keys {
			do(k, v)
		}
		sh.mu.Unlock()
	}
}

// expect records that connection conn must receive event id exactly once.
func (d *deliveries) expect(conn int, id int64) {
	sh := d.shard(conn)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	d.expectLocked(sh, conn, id)
}

// expectAll is expect for each of the connections conns.
func (d *deliveries) expectAll(conns []*client, id int64) {
	for _, c := range conns {
		d.expect(c.idx, id)
	}
}

// expectLocked is expect with conn's shard, sh, locked.
func (d *deliveries) expectLocked(sh *deliveryShard, conn int, id int64) {
	k := key{conn, id}
	v := sh.keys[k]
	if v.expected {
		return
	}
	v.expected = true
	if v.n == 0 {
		d.outstanding.Add(1)
	}
	sh.keys[k] = v
}

// started records when event id began; latency is measured from it.
func (d *deliveries) started(id int64, at time.Time) {
	d.startMu.Lock()
	d.start[id] = at
	d.startMu.Unlock()
}

// receive records that connection conn received event id at at.
func (d *deliveries) receive(conn int, id int64, at time.Time) {
	sh := d.shard(conn)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	k := key{conn, id}
	v := sh.keys[k]
	if v.n == 0 {
		v.first = at.UnixNano()
		if v.expected {
			d.outstanding.Add(-1)
		}
	}
	v.n++
	sh.keys[k] = v
}

// pending is the number of expected deliveries not received yet.
func (d *deliveries) pending() int {
	return int(d.outstanding.Load())
}

// tally counts the outcome: lost (expected, never received), duplicated
// (received more than once, counting each extra copy) and unexpected
// (received, never expected: left over from an earlier run, or caused by a
// request that failed on the client's side after the server committed).
type tally struct {
	expected, delivered, lost, duplicated, unexpected int
}

func (d *deliveries) tally() tally {
	var t tally
	d.each(func(_ key, v delivery) {
		if v.expected {
			t.expected++
			if v.n == 0 {
				t.lost++
			}
		}
		if v.n > 0 {
			t.duplicated += int(v.n) - 1
			if !v.expected {
				t.unexpected++
			}
		}
	})
	t.delivered = t.expected - t.lost
	return t
}

// latencies returns, for each expected delivery received whose event has a
// start time, the time from that start to its first arrival.
func (d *deliveries) latencies() []time.Duration {
	d.startMu.Lock()
	defer d.startMu.Unlock()
	var out []time.Duration
	d.each(func(k key, v delivery) {
		s := d.start[k.id]
		if v.expected && v.n > 0 && !s.IsZero() {
			out = append(out, time.Unix(0, v.first).Sub(s))
		}
	})
	return out
}

// completions returns, for each connection that was expecting something
// and received all of it, the time from since to its last first arrival:
// how long that connection took to be complete.
func (d *deliveries) completions(since time.Time) (done []time.Duration, incomplete int) {
	last := map[int]int64{}
	missing := map[int]bool{}
	d.each(func(k key, v delivery) {
		switch {
		case !v.expected:
		case v.n == 0:
			missing[k.conn] = true
		case v.first > last[k.conn]:
			last[k.conn] = v.first
		}
	})
	for conn, at := range last {
		if !missing[conn] {
			done = append(done, time.Unix(0, at).Sub(since))
		}
	}
	return done, len(missing)
}

// lastArrival returns the latest first arrival of event id on any
// connection, and on how many connections it arrived.
func (d *deliveries) lastArrival(id int64) (time.Time, int) {
	e, ok := d.lastArrivals()[id]
	if !ok {
		return time.Time{}, 0
	}
	return e.first, e.n
}

// lastArrivals returns, for every event, the latest first arrival on any
// connection and on how many connections it arrived, in one pass over the
// arrivals: a run with a thousand receivers of each of thousands of events
// would take a pass per event otherwise.
func (d *deliveries) lastArrivals() map[int64]arrival {
	out := map[int64]arrival{}
	d.each(func(k key, v delivery) {
		if v.n == 0 {
			return
		}
		e := out[k.id]
		e.n++
		if at := time.Unix(0, v.first); at.After(e.first) {
			e.first = at
		}
		out[k.id] = e
	})
	return out
}

// lostSample returns up to n expected deliveries never received, for the
// report to name.
func (d *deliveries) lostSample(n int) []key {
	var out []key
	d.each(func(k key, v delivery) {
		if len(out) < n && v.expected && v.n == 0 {
			out = append(out, k)
		}
	})
	return out
}
