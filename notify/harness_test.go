package notify

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quizsite/discuss/model"
)

// waitTimeout bounds every wait in these tests; they wait on conditions,
// never on the clock.
const waitTimeout = 10 * time.Second

// env is a hub behind an httptest server whose /ws handler does what the
// api package does: origin check, Admit, upgrade, ServeAdmitted; and whose /sse handler
// does the same with ServeEvents. Its clients connect over /sse when sse
// is set, else over /ws.
type env struct {
	t      *testing.T
	hub    *Hub
	store  *fakeStore
	reg    *prometheus.Registry
	srv    *httptest.Server
	wsURL  string
	sse    bool
	cancel context.CancelFunc
	done   chan error
	// streams counts the event streams opened, to tag each (see taggedWriter).
	streams atomic.Int64
}

type envConfig struct {
	opts   Options
	broker Broker
	store  *fakeStore
	// listener, when set, wraps the server's listener.
	listener func(net.Listener) net.Listener
	// noWait skips waiting for the hub to be subscribed.
	noWait bool
	// sse has the env's clients connect over /sse instead of /ws.
	sse bool
	// admitted, when set, is called by the /ws handler between Admit and
	// the upgrade.
	admitted func()
}

// overTransports runs test twice: its clients over WebSocket, then over
// event streams. Everything the hub promises about what a connection
// receives holds on both.
func overTransports(t *testing.T, test func(t *testing.T, sse bool)) {
	t.Run("WebSocket", func(t *testing.T) { test(t, false) })
	t.Run("EventStream", func(t *testing.T) { test(t, true) })
}

// taggedWriter is the response of a test's event stream, tagged so that
// the test client can find its connection in the hub (see wsClient.sync).
type taggedWriter struct {
	http.ResponseWriter
	tag string
}

func (w taggedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("DISCUSS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newEnv(t *testing.T, cfg envConfig) *env {
	t.Helper()
	if cfg.broker == nil {
		cfg.broker = NewMemoryBroker()
	}
	if cfg.store == nil {
		cfg.store = newFakeStore()
	}
	if cfg.opts.CloseGrace == 0 {
		cfg.opts.CloseGrace = 500 * time.Millisecond
	}
	reg := prometheus.NewRegistry()
	h := New(cfg.opts, cfg.store, cfg.broker, testLogger(t), reg)
	cfg.store.pub.CompareAndSwap(nil, h)
	e := &env{t: t, hub: h, store: cfg.store, reg: reg, sse: cfg.sse, done: make(chan error, 1)}
	upgrader := h.Upgrader()
	e.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		userID, err := strconv.ParseInt(q.Get("user"), 10, 64)
		if err != nil {
			http.Error(w, "user", http.StatusUnauthorized)
			return
		}
		var since *int64
		if s := q.Get("since"); s != "" {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				http.Error(w, "since", http.StatusBadRequest)
				return
			}
			since = &v
		}
		var expires time.Time
		if s := q.Get("expires"); s != "" {
			ms, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				http.Error(w, "expires", http.StatusBadRequest)
				return
			}
			expires = time.UnixMilli(ms)
		}
		if !h.CheckOrigin(r) {
			http.Error(w, "origin", http.StatusForbidden)
			return
		}
		if r.URL.Path == "/sse" {
			err := h.ServeEvents(taggedWriter{w, q.Get("tag")}, r, userID, since, expires, nil)
			if err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
			}
			return
		}
		a := h.Admit(userID, since, expires, nil)
		if a.UnknownUser() {
			h.Abandon(a)
			http.Error(w, "unknown user", http.StatusUnauthorized)
			return
		}
		if cfg.admitted != nil {
			cfg.admitted()
		}
		conn, err := upgrader.Upgrade(NonBlocking(w), r, nil)
		if err != nil {
			h.Abandon(a)
			return
		}
		_ = h.ServeAdmitted(conn, a)
	}))
	if cfg.listener != nil {
		e.srv.Listener = cfg.listener(e.srv.Listener)
	}
	e.srv.Start()
	e.wsURL = "ws" + e.srv.URL[len("http"):] + "/ws"
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	go func() { e.done <- h.Run(ctx) }()
	if !cfg.noWait {
		select {
		case <-h.Ready():
		case <-time.After(waitTimeout):
			t.Fatal("hub never subscribed")
		}
	}
	t.Cleanup(func() {
		e.stop()
		e.srv.Close()
	})
	return e
}

// stop cancels Run and waits for it; it may be called more than once.
func (e *env) stop() {
	e.cancel()
	select {
	case err, ok := <-e.done:
		if ok && err != nil {
			e.t.Errorf("Run: %v", err)
		}
		if ok {
			close(e.done)
		}
	case <-time.After(waitTimeout):
		e.t.Error("Run did not return")
	}
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond) // Polling interval, not synchronisation.
	}
}

// observations returns how many samples the histogram family name holds
// in e's registry, over all its series. (testutil.ToFloat64, which the
// tests use for counters and gauges, reads no histogram.)
func (e *env) observations(name string) uint64 {
	e.t.Helper()
	families, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	var n uint64
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				n += m.GetHistogram().GetSampleCount()
			}
		}
	}
	return n
}

// flakyBroker is a MemoryBroker whose subscription can be cut: while cut,
// messages are lost, as with a Redis outage seen from one instance, and
// restore reports a re-subscription as the Redis broker would.
type flakyBroker struct {
	*MemoryBroker
	cutOff atomic.Bool
	mu     sync.Mutex
	subs   []func()
}

func newFlakyBroker() *flakyBroker { return &flakyBroker{MemoryBroker: NewMemoryBroker()} }

func (b *flakyBroker) Subscribe(ctx context.Context, deliver func([]byte), subscribed func()) error {
	b.mu.Lock()
	b.subs = append(b.subs, subscribed)
	b.mu.Unlock()
	return b.MemoryBroker.Subscribe(ctx, func(msg []byte) {
		if !b.cutOff.Load() {
			deliver(msg)
		}
	}, subscribed)
}

func (b *flakyBroker) cut() { b.cutOff.Store(true) }

func (b *flakyBroker) restore() {
	b.cutOff.Store(false)
	b.mu.Lock()
	subs := slices.Clone(b.subs)
	b.mu.Unlock()
	for _, s := range subs {
		s()
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func announcementNow(msg string) *model.Announcement {
	return &model.Announcement{ID: 1, Message: msg, CreatedAt: time.Now()}
}
