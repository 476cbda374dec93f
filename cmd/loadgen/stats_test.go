package main

// What a run measures: latencies, deliveries, and the server's histograms,
// counters and CPU time.

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	slices.Reverse(ds)
	s := summarize(ds)
	want := summary{n: 100, p50: 50 * time.Millisecond, p95: 95 * time.Millisecond, p99: 99 * time.Millisecond, max: 100 * time.Millisecond}
	if s != want {
		t.Fatalf("got %+v, want %+v", s, want)
	}
	if got := summarize([]time.Duration{7}); got.p50 != 7 || got.p99 != 7 || got.max != 7 {
		t.Fatalf("one value: %+v", got)
	}
	if got := summarize(nil); got != (summary{}) {
		t.Fatalf("no values: %+v", got)
	}
}

func TestDeliveries(t *testing.T) {
	d := newDeliveries()
	t0 := time.Unix(1000, 0)
	// Event 1 reaches connection 0 before its request returns, as it may.
	d.receive(0, 1, t0.Add(3*time.Millisecond))
	d.started(1, t0)
	d.expect(0, 1)
	// Event 2 arrives twice on connection 1 and never on connection 2.
	d.started(2, t0)
	d.expect(1, 2)
	d.expect(2, 2)
	d.receive(1, 2, t0.Add(5*time.Millisecond))
	d.receive(1, 2, t0.Add(6*time.Millisecond))
	// Event 9 was never expected.
	d.receive(0, 9, t0)
	if p := d.pending(); p != 1 {
		t.Fatalf("pending %d, want 1", p)
	}
	want := tally{expected: 3, delivered: 2, lost: 1, duplicated: 1, unexpected: 1}
	if got := d.tally(); got != want {
		t.Fatalf("tally %+v, want %+v", got, want)
	}
	lat := d.latencies()
	slices.Sort(lat)
	if !slices.Equal(lat, []time.Duration{3 * time.Millisecond, 5 * time.Millisecond}) {
		t.Fatalf("latencies %v", lat)
	}
	done, incomplete := d.completions(t0)
	slices.Sort(done)
	if incomplete != 1 || !slices.Equal(done, []time.Duration{0, 3 * time.Millisecond, 5 * time.Millisecond}[1:]) {
		t.Fatalf("completions %v, %d incomplete", done, incomplete)
	}
	if at, n := d.lastArrival(2); n != 1 || !at.Equal(t0.Add(5*time.Millisecond)) {
		t.Fatalf("last arrival of 2: %v on %d", at, n)
	}
}

func TestDeliveriesConcurrent(t *testing.T) {
	// As in thread-live: each event is expected on every connection, whose
	// readers all record it at once.
	d := newDeliveries()
	conns := make([]*client, 3*deliveryShards+5)
	for i := range conns {
		conns[i] = &client{idx: i}
	}
	const events = 20
	var wg sync.WaitGroup
	for id := int64(1); id <= events; id++ {
		d.expectAll(conns, id)
	}
	for _, c := range conns {
		wg.Go(func() {
			for id := int64(1); id <= events; id++ {
				d.receive(c.idx, id, time.Now())
			}
		})
	}
	wg.Wait()
	n := len(conns) * events
	if got, want := d.tally(), (tally{expected: n, delivered: n}); got != want || d.pending() != 0 {
		t.Fatalf("tally %+v, %d pending; want %+v", got, d.pending(), want)
	}
	if a := d.lastArrivals(); len(a) != events || a[7].n != len(conns) {
		t.Fatalf("last arrivals of %d events, event 7 on %d connections", len(a), a[7].n)
	}
}

func TestHistogram(t *testing.T) {
	text := func(a, b, c, inf int) string {
		return strings.Join([]string{
			"# TYPE discuss_notify_delivery_seconds histogram",
			`discuss_notify_delivery_seconds_bucket{le="0.001"} ` + strconv.Itoa(a),
			`discuss_notify_delivery_seconds_bucket{le="0.002"} ` + strconv.Itoa(b),
			`discuss_notify_delivery_seconds_bucket{le="0.005"} ` + strconv.Itoa(c),
			`discuss_notify_delivery_seconds_bucket{le="+Inf"} ` + strconv.Itoa(inf),
			"discuss_notify_delivery_seconds_sum 1.5",
		}, "\n")
	}
	before, err := parseHistogram(text(10, 10, 10, 10), deliveryHistogram)
	if err != nil {
		t.Fatal(err)
	}
	after, err := parseHistogram(text(60, 108, 110, 110), deliveryHistogram)
	if err != nil {
		t.Fatal(err)
	}
	h := after.minus(before)
	if h.total() != 100 || h.quantile(.5) != 0.001 || h.quantile(.95) != 0.002 || h.quantile(.99) != 0.005 {
		t.Fatalf("total %v, quantiles %v %v %v", h.total(), h.quantile(.5), h.quantile(.95), h.quantile(.99))
	}
	if f, ok := h.atMost(0.002); !ok || f != 0.98 {
		t.Fatalf("at most 2ms: %v %v", f, ok)
	}
	if _, err := parseHistogram("other 1\n", deliveryHistogram); err == nil {
		t.Fatal("a missing histogram parsed")
	}
}

func TestScrapeCounter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "# TYPE discuss_broker_resubscribes_total counter\n"+
			"discuss_broker_resubscribes_total_other 9\ndiscuss_broker_resubscribes_total 3\n")
	}))
	defer srv.Close()
	a := newAPIClient(srv.URL, srv.URL, 1, time.Second)
	if n, err := a.scrapeCounter(t.Context(), resubscribesCounter); err != nil || n != 3 {
		t.Fatalf("got %v, %v; want 3", n, err)
	}
	if _, err := a.scrapeCounter(t.Context(), "discuss_missing_total"); err == nil {
		t.Fatal("a missing counter gave no error")
	}
}

func TestCPUTime(t *testing.T) {
	before, err := cpuTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Spin until the process has used a few clock ticks more.
	deadline := time.Now().Add(5 * time.Second)
	for {
		after, err := cpuTime(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if after-before >= 30*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time stayed at %v, then %v, while spinning", before, after)
		}
	}
	if _, err := cpuTime(1 << 30); err == nil {
		t.Fatal("no error for a process that does not exist")
	}
}
