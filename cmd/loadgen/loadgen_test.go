package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
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

func TestReadUsers(t *testing.T) {
	in := "# seeded\n12 load_1 tok1 40\n\n13 load_2 tok2 0\n14 load_3 tok3\n"
	users, err := readUsers(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []user{{12, "load_1", "tok1", 40}, {13, "load_2", "tok2", 0}, {14, "load_3", "tok3", 0}}
	if !slices.Equal(users, want) {
		t.Fatalf("got %+v", users)
	}
	for _, bad := range []string{"12 load_1\n", "x load_1 tok\n", "12 load_1 tok -3\n", "1 a b c d\n"} {
		if _, err := readUsers(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestShards(t *testing.T) {
	users := make([]user, 10)
	for i := range users {
		users[i].id = int64(i + 1)
	}
	var all []user
	for i := 1; i <= 3; i++ {
		all = append(all, shardOf(users, i, 3)...)
	}
	if !slices.Equal(all, users) {
		t.Fatalf("shards do not cover the users once: %v", all)
	}
	if i, n, err := parseShard("2/3"); err != nil || i != 2 || n != 3 {
		t.Fatalf("2/3: %d %d %v", i, n, err)
	}
	for _, bad := range []string{"0/3", "4/3", "3", "a/b", "1/0"} {
		if _, _, err := parseShard(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestLoopbackURL(t *testing.T) {
	for raw, want := range map[string]string{
		"http://127.0.0.1:8080":     "http://127.0.0.1:8080",
		"http://localhost:9/x?y=1":  "http://127.0.0.1:9",
		"https://127.0.0.9:443/api": "https://127.0.0.9:443",
	} {
		u, err := loopbackURL(raw)
		if err != nil || u.String() != want {
			t.Errorf("%s: %v %v, want %s", raw, u, err, want)
		}
	}
	for _, bad := range []string{"http://10.0.0.1:80", "http://example.com", "http://[::1]:80", "ftp://127.0.0.1", "127.0.0.1:80"} {
		if _, err := loopbackURL(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
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

func TestBrokerProxy(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); _ = c.Close() }()
		}
	}()
	p, err := newBrokerProxy("127.0.0.1:0=" + echo.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	// roundTrip reports whether a line sent through the proxy comes back.
	roundTrip := func(c net.Conn) bool {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("hi\n")); err != nil {
			return false
		}
		buf := make([]byte, 3)
		_, err := io.ReadFull(c, buf)
		return err == nil && string(buf) == "hi\n"
	}
	dial := func() net.Conn {
		c, err := net.Dial("tcp", p.ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}

	before := dial()
	if !roundTrip(before) {
		t.Fatal("no echo through the proxy")
	}
	p.setCut(true)
	if roundTrip(before) {
		t.Error("a connection made before the cut still works")
	}
	if roundTrip(dial()) {
		t.Error("a connection made during the cut works")
	}
	p.setCut(false)
	if !roundTrip(dial()) {
		t.Error("no echo after the cut ended")
	}

	for _, bad := range []string{"127.0.0.1:1", "10.0.0.1:1=127.0.0.1:6379", "127.0.0.1:0=example.com:6379", "=127.0.0.1:1"} {
		if _, err := newBrokerProxy(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
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

func TestOpenCeilingDB(t *testing.T) {
	for _, bad := range []string{"root@tcp(10.0.0.1:3306)/x", "root@tcp(db.example.com:3306)/x", "root@udp(127.0.0.1:3306)/x", "not a dsn("} {
		if db, err := openCeilingDB(bad, 1); err == nil {
			_ = db.Close()
			t.Errorf("%q: no error", bad)
		}
	}
	db, err := openCeilingDB("root@tcp(127.0.0.1:3306)/test", 1)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Close() // opening does not connect
	if got := placeholders(3); got != "?,?,?" {
		t.Errorf("placeholders(3) = %q", got)
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

// TestFanoutConfig: the fanout scenario takes --watchers and runs in one
// process, where every watcher's frames are counted.
func TestFanoutConfig(t *testing.T) {
	c, err := parseConfig([]string{"-scenario", "fanout", "-users", "u.txt", "-watchers", "500"}, io.Discard)
	if err != nil || c.watchers != 500 {
		t.Fatalf("fanout config %+v, %v", c, err)
	}
	for _, args := range [][]string{{"-watchers", "0"}, {"-shard", "1/2"}} {
		if _, err := parseConfig(append([]string{"-scenario", "fanout", "-users", "u.txt"}, args...), io.Discard); err == nil {
			t.Errorf("fanout accepts %v", args)
		}
	}
}

// TestThreadLiveConfig: thread-live takes --subscribers and --commenters,
// needs the admin's token and runs in one process.
func TestThreadLiveConfig(t *testing.T) {
	c, err := parseConfig([]string{"-scenario", "thread-live", "-users", "u.txt", "-admin-token", "t", "-subscribers", "500", "-commenters", "5"}, io.Discard)
	if err != nil || c.subscribers != 500 || c.commenters != 5 {
		t.Fatalf("thread-live config %+v, %v", c, err)
	}
	for _, args := range [][]string{{"-subscribers", "0"}, {"-commenters", "0"}, {"-shard", "1/2"}} {
		if _, err := parseConfig(append([]string{"-scenario", "thread-live", "-users", "u.txt", "-admin-token", "t"}, args...), io.Discard); err == nil {
			t.Errorf("thread-live accepts %v", args)
		}
	}
	if _, err := parseConfig([]string{"-scenario", "thread-live", "-users", "u.txt"}, io.Discard); err == nil {
		t.Error("thread-live runs without --admin-token")
	}
}
