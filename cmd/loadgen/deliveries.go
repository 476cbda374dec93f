package main

import (
	"sync"
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
type deliveries struct {
	mu          sync.Mutex
	keys        map[key]delivery
	start       map[int64]time.Time // when event id began, for latency
	outstanding int                 // expected keys not received yet
}

func newDeliveries() *deliveries {
	return &deliveries{keys: map[key]delivery{}, start: map[int64]time.Time{}}
}

// expect records that connection conn must receive event id exactly once.
func (d *deliveries) expect(conn int, id int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expectLocked(conn, id)
}

// expectAll is expect for each of the connections conns, under one lock:
// a thread-live comment is expected on a thousand connections at once,
// while their readers take the lock for each frame they receive.
func (d *deliveries) expectAll(conns []*client, id int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range conns {
		d.expectLocked(c.idx, id)
	}
}

func (d *deliveries) expectLocked(conn int, id int64) {
	k := key{conn, id}
	v := d.keys[k]
	if v.expected {
		return
	}
	v.expected = true
	if v.n == 0 {
		d.outstanding++
	}
	d.keys[k] = v
}

// started records when event id began; latency is measured from it.
func (d *deliveries) started(id int64, at time.Time) {
	d.mu.Lock()
	d.start[id] = at
	d.mu.Unlock()
}

// receive records that connection conn received event id at at.
func (d *deliveries) receive(conn int, id int64, at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := key{conn, id}
	v := d.keys[k]
	if v.n == 0 {
		v.first = at.UnixNano()
		if v.expected {
			d.outstanding--
		}
	}
	v.n++
	d.keys[k] = v
}

// pending is the number of expected deliveries not received yet.
func (d *deliveries) pending() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.outstanding
}

// tally counts the outcome: lost (expected, never received), duplicated
// (received more than once, counting each extra copy) and unexpected
// (received, never expected: left over from an earlier run, or caused by a
// request that failed on the client's side after the server committed).
type tally struct {
	expected, delivered, lost, duplicated, unexpected int
}

func (d *deliveries) tally() tally {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := tally{lost: d.outstanding}
	for _, v := range d.keys {
		if v.expected {
			t.expected++
		}
		if v.n > 0 {
			t.duplicated += int(v.n) - 1
			if !v.expected {
				t.unexpected++
			}
		}
	}
	t.delivered = t.expected - t.lost
	return t
}

// latencies returns, for each expected delivery received whose event has a
// start time, the time from that start to its first arrival.
func (d *deliveries) latencies() []time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]time.Duration, 0, len(d.keys))
	for k, v := range d.keys {
		s := d.start[k.id]
		if v.expected && v.n > 0 && !s.IsZero() {
			out = append(out, time.Unix(0, v.first).Sub(s))
		}
	}
	return out
}

// completions returns, for each connection that was expecting something
// and received all of it, the time from since to its last first arrival:
// how long that connection took to be complete.
func (d *deliveries) completions(since time.Time) (done []time.Duration, incomplete int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	last := map[int]int64{}
	missing := map[int]bool{}
	for k, v := range d.keys {
		switch {
		case !v.expected:
		case v.n == 0:
			missing[k.conn] = true
		case v.first > last[k.conn]:
			last[k.conn] = v.first
		}
	}
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
	d.mu.Lock()
	defer d.mu.Unlock()
	var last int64
	n := 0
	for k, v := range d.keys {
		if k.id == id && v.n > 0 {
			n++
			last = max(last, v.first)
		}
	}
	if n == 0 {
		return time.Time{}, 0
	}
	return time.Unix(0, last), n
}

// lastArrivals is lastArrival for every event at once, in one pass over
// the arrivals: a run with a thousand receivers of each of thousands of
// events would take a pass per event otherwise.
func (d *deliveries) lastArrivals() map[int64]arrival {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[int64]arrival{}
	for k, v := range d.keys {
		if v.n == 0 {
			continue
		}
		e := out[k.id]
		e.n++
		if at := time.Unix(0, v.first); at.After(e.first) {
			e.first = at
		}
		out[k.id] = e
	}
	return out
}

// lostSample returns up to n expected deliveries never received, for the
// report to name.
func (d *deliveries) lostSample(n int) []key {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []key
	for k, v := range d.keys {
		if len(out) == n {
			break
		}
		if v.expected && v.n == 0 {
			out = append(out, k)
		}
	}
	return out
}
