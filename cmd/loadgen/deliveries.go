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

type arrival struct {
	first time.Time
	n     int
}

// deliveries tracks what each connection should receive and what it did,
// to count losses and duplicates and to measure latency. A frame may arrive
// before the request that caused it has returned (the server publishes
// before it answers), so expect and receive may come in either order.
type deliveries struct {
	mu          sync.Mutex
	expected    map[key]struct{}
	got         map[key]*arrival
	start       map[int64]time.Time // when event id began, for latency
	outstanding int                 // expected keys not received yet
}

func newDeliveries() *deliveries {
	return &deliveries{expected: map[key]struct{}{}, got: map[key]*arrival{}, start: map[int64]time.Time{}}
}

// expect records that connection conn must receive event id exactly once.
func (d *deliveries) expect(conn int, id int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := key{conn, id}
	if _, ok := d.expected[k]; ok {
		return
	}
	d.expected[k] = struct{}{}
	if d.got[k] == nil {
		d.outstanding++
	}
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
	if a := d.got[k]; a != nil {
		a.n++
		return
	}
	d.got[k] = &arrival{first: at, n: 1}
	if _, ok := d.expected[k]; ok {
		d.outstanding--
	}
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
	t := tally{expected: len(d.expected), lost: d.outstanding}
	t.delivered = t.expected - t.lost
	for k, a := range d.got {
		t.duplicated += a.n - 1
		if _, ok := d.expected[k]; !ok {
			t.unexpected++
		}
	}
	return t
}

// latencies returns, for each expected delivery received whose event has a
// start time, the time from that start to its first arrival.
func (d *deliveries) latencies() []time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]time.Duration, 0, len(d.got))
	for k := range d.expected {
		a, s := d.got[k], d.start[k.id]
		if a != nil && !s.IsZero() {
			out = append(out, a.first.Sub(s))
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
	last := map[int]time.Time{}
	missing := map[int]bool{}
	for k := range d.expected {
		a := d.got[k]
		if a == nil {
			missing[k.conn] = true
			continue
		}
		if a.first.After(last[k.conn]) {
			last[k.conn] = a.first
		}
	}
	for conn, at := range last {
		if !missing[conn] {
			done = append(done, at.Sub(since))
		}
	}
	return done, len(missing)
}

// lastArrival returns the latest first arrival of event id on any
// connection, and on how many connections it arrived.
func (d *deliveries) lastArrival(id int64) (time.Time, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var last time.Time
	n := 0
	for k, a := range d.got {
		if k.id == id {
			n++
			if a.first.After(last) {
				last = a.first
			}
		}
	}
	return last, n
}

// lastArrivals is lastArrival for every event at once, in one pass over
// the arrivals: a run with a thousand receivers of each of thousands of
// events would take a pass per event otherwise.
func (d *deliveries) lastArrivals() map[int64]arrival {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[int64]arrival{}
	for k, a := range d.got {
		e := out[k.id]
		e.n++
		if a.first.After(e.first) {
			e.first = a.first
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
	for k := range d.expected {
		if len(out) == n {
			break
		}
		if d.got[k] == nil {
			out = append(out, k)
		}
	}
	return out
}
