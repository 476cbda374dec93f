package notify

import (
	"context"
	"errors"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/quizsite/discuss/model"
)

// TestOriginCheck checks the handshake against the allow-list; the
// matcher's cases are model's (TestOriginsAllows).
func TestOriginCheck(t *testing.T) {
	e := newEnv(t, envConfig{opts: Options{AllowedOrigins: []string{"https://quiz.example.com"}}})
	tests := []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{"https://quiz.example.com", true},
		{"https://QUIZ.example.com:443", true},
		{"https://evil.example.com", false},
		{"null", false},
	}
	for _, tt := range tests {
		t.Run(tt.origin, func(t *testing.T) {
			conn, resp, err := e.dialErr(1, dialOpts{origin: tt.origin})
			if tt.ok {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				_ = conn.Close()
				return
			}
			if err == nil {
				_ = conn.Close()
				t.Fatal("foreign origin accepted")
			}
			if resp == nil || resp.StatusCode != 403 {
				t.Fatalf("dial: %v, want 403", err)
			}
		})
	}
}

func TestConnectionLimitClosesOldest4000(t *testing.T) {
	overTransports(t, func(t *testing.T, sse bool) {
		e := newEnv(t, envConfig{sse: sse, opts: Options{MaxConnectionsPerUser: 2}})
		c1 := e.connect(1, dialOpts{})
		c2 := e.connect(1, dialOpts{})
		other := e.connect(2, dialOpts{})
		c3 := e.connect(1, dialOpts{})
		if code := c1.closeCode(); code != CloseReplaced {
			t.Fatalf("oldest closed with %d (%v), want 4000", code, c1.q.Err())
		}
		n := e.store.addAndPublish(t, e.hub, 1)
		c2.expectNotification(n.ID, false)
		c3.expectNotification(n.ID, false)
		other.expectQuiet()
		if users, conns := e.hub.LocalCounts(); users != 2 || conns != 3 {
			t.Fatalf("LocalCounts = %d, %d; want 2, 3", users, conns)
		}
	})
}

// holdAdmission returns an admitted hook (envConfig) that holds the
// n-th connection between Admit and its upgrade: held is sent to once it
// is held, and closing release lets it go on.
func holdAdmission(n int64) (hook func(), held chan struct{}, release chan struct{}) {
	held, release = make(chan struct{}), make(chan struct{})
	var calls atomic.Int64
	return func() {
		if calls.Add(1) == n {
			held <- struct{}{}
			<-release
		}
	}, held, release
}

// openAsync opens a WebSocket for userID on another goroutine; the client,
// reading, or the error arrive on the channel.
func openAsync(e *env, userID int64) chan any {
	out := make(chan any, 1)
	go func() {
		c, _, err := e.open(userID, dialOpts{})
		if err != nil {
			out <- err
			return
		}
		go c.readLoop()
		out <- c
	}()
	return out
}

func opened(t *testing.T, ch chan any) *wsClient {
	t.Helper()
	select {
	case v := <-ch:
		c, ok := v.(*wsClient)
		if !ok {
			t.Fatalf("dial: %v", v)
		}
		t.Cleanup(c.drop)
		return c
	case <-time.After(waitTimeout):
		t.Fatal("dial did not return")
	}
	return nil
}

// TestAdmission: a WebSocket admitted (Admit) but not yet upgraded counts
// among the hub's connections at once, but against its user's limit only
// once served; what is published meanwhile reaches it after its replay,
// with no gap and no duplicate.
func TestAdmission(t *testing.T) {
	hook, held, release := holdAdmission(2)
	e := newEnv(t, envConfig{opts: Options{MaxConnectionsPerUser: 1}, admitted: hook})
	unread := e.store.addAndPublish(t, e.hub, 1)
	c1 := e.connect(1, dialOpts{})
	pending := openAsync(e, 1)
	<-held
	if users, conns := e.hub.LocalCounts(); users != 1 || conns != 2 {
		t.Fatalf("LocalCounts = %d, %d; want 1, 2 (the handshake counts)", users, conns)
	}
	live := e.store.addAndPublish(t, e.hub, 1)
	c1.expectNotification(live.ID, false) // not replaced yet
	close(release)
	c2 := opened(t, pending)
	if code := c1.closeCode(); code != CloseReplaced {
		t.Fatalf("oldest closed with %d (%v), want 4000", code, c1.q.Err())
	}
	c2.expect("hello")
	c2.expectNotification(unread.ID, true)
	c2.expectNotification(live.ID, false)
	c2.expectQuiet()
	if _, conns := e.hub.LocalCounts(); conns != 1 {
		t.Fatalf("connections = %d, want 1", conns)
	}
}

// TestAdmittedAtShutdown: a connection admitted before the hub shut down
// and upgraded after is closed with 1001, and the hub's Run waits for it.
func TestAdmittedAtShutdown(t *testing.T) {
	hook, held, release := holdAdmission(1)
	e := newEnv(t, envConfig{admitted: hook})
	pending := openAsync(e, 1)
	<-held
	e.cancel()
	waitFor(t, "the hub to shut down", func() bool {
		e.hub.mu.RLock()
		defer e.hub.mu.RUnlock()
		return e.hub.closed
	})
	close(release)
	c := opened(t, pending)
	if code := c.closeCode(); code != websocket.CloseGoingAway {
		t.Fatalf("close code = %d (%v), want 1001", code, c.q.Err())
	}
	e.stop()
}

// TestAdmissionAbandoned: a connection admitted whose upgrade then fails
// (no Sec-WebSocket-Key) leaves the hub at once.
func TestAdmissionAbandoned(t *testing.T) {
	e := newEnv(t, envConfig{})
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/ws?user=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	refusedLeavingNothing(t, e, req, http.StatusBadRequest)
}

// refusedLeavingNothing sends req, which the /ws handler must refuse with
// status, and checks that the hub then holds no connection.
func refusedLeavingNothing(t *testing.T, e *env, req *http.Request, status int) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d", resp.StatusCode, status)
	}
	if users, conns := e.hub.LocalCounts(); users != 0 || conns != 0 {
		t.Fatalf("LocalCounts = %d, %d; want 0, 0", users, conns)
	}
}

// TestAdmissionUnknownUser: a user the store's head read does not find is
// told by the admission (UnknownUser), which the caller abandons before
// upgrading; the hub keeps nothing of it, and the user's id stays usable
// once the store knows it.
func TestAdmissionUnknownUser(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.store.unknownUser.Store(5)
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/ws?user=5", nil)
	if err != nil {
		t.Fatal(err)
	}
	refusedLeavingNothing(t, e, req, http.StatusUnauthorized)
	e.store.unknownUser.Store(0)
	e.connect(5, dialOpts{})
}

func TestTokenExpiryCloses4001(t *testing.T) {
	overTransports(t, func(t *testing.T, sse bool) {
		// The connection lives while its token does: it is closed with 4001
		// when the expiry passes, and one without expiry stays.
		e := newEnv(t, envConfig{sse: sse})
		expiring := e.connect(1, dialOpts{expires: time.Now().Add(300 * time.Millisecond)})
		lasting := e.connect(1, dialOpts{})
		if code := expiring.closeCode(); code != CloseTokenExpired {
			t.Fatalf("close code = %d (%v), want 4001", code, expiring.q.Err())
		}
		n := e.store.addAndPublish(t, e.hub, 1)
		lasting.expectNotification(n.ID, false)
		waitFor(t, "the expired connection to be removed", func() bool {
			_, conns := e.hub.LocalCounts()
			return conns == 1
		})
	})
}

func TestWebSocketPings(t *testing.T) {
	e := newEnv(t, envConfig{opts: Options{PingInterval: 20 * time.Millisecond}})
	c := e.dial(1, dialOpts{noRead: true})
	var mu sync.Mutex
	pings := 0
	c.conn.SetPingHandler(func(data string) error {
		mu.Lock()
		pings++
		mu.Unlock()
		return c.conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	go c.readLoop()
	c.expect("hello")
	waitFor(t, "three pings", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return pings >= 3
	})
}

func TestClientPingsAnswered(t *testing.T) {
	// A client's WebSocket ping is answered with a pong carrying its data,
	// though the server's reader writes it, not the connection's writer.
	e := newEnv(t, envConfig{})
	c := e.dial(1, dialOpts{noRead: true})
	pongs := make(chan string, 8)
	c.conn.SetPongHandler(func(data string) error {
		pongs <- data
		return nil
	})
	go c.readLoop()
	c.expect("hello")
	for _, data := range []string{"one", "two", "three"} {
		if err := c.conn.WriteControl(websocket.PingMessage, []byte(data), time.Now().Add(waitTimeout)); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-pongs:
			if got != data {
				t.Fatalf("pong %q, want %q", got, data)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("no pong for ping %q", data)
		}
	}
}

func TestSilentClientDropped(t *testing.T) {
	// A client that answers no ping is dropped after PongTimeout, without
	// a close frame (nobody would read it).
	e := newEnv(t, envConfig{opts: Options{PingInterval: 20 * time.Millisecond, PongTimeout: 200 * time.Millisecond}})
	c := e.dial(1, dialOpts{noRead: true})
	c.conn.SetPingHandler(func(string) error { return nil })
	go c.readLoop()
	c.expect("hello")
	if code := c.closeCode(); code != -1 && code != websocket.CloseAbnormalClosure {
		t.Fatalf("close code = %d (%v), want none", code, c.q.Err())
	}
	waitFor(t, "the connection to be unregistered", func() bool {
		_, conns := e.hub.LocalCounts()
		return conns == 0
	})
}

func TestSlowReaderCloses1013(t *testing.T) {
	// Small socket buffers on both sides, so that a client that does not
	// read blocks the writer after a few frames and its queue fills.
	small := func(ln net.Listener) net.Listener { return smallBufListener{ln} }
	e := newEnv(t, envConfig{opts: Options{SendQueueSize: 4}, listener: small})
	slow := e.dial(1, dialOpts{noRead: true, smallBuffer: true})
	fast := e.connect(2, dialOpts{})
	big := &model.Announcement{Message: strings.Repeat("m", 8<<10), CreatedAt: time.Now()}
	sent := 0
	for testutil.ToFloat64(e.hub.m.overflows) == 0 {
		if sent++; sent > 10000 {
			t.Fatal("the queue never overflowed")
		}
		if err := e.hub.PublishBroadcast(context.Background(), big); err != nil {
			t.Fatal(err)
		}
		// The fast reader keeps up with every frame.
		fast.expect("broadcast")
	}
	// Now the slow client reads: what was written, then 1013.
	slow.expectTooSlow()
	fast.expectQuiet()
}

type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

func TestStoreDownOnConnectCloses1011(t *testing.T) {
	overTransports(t, func(t *testing.T, sse bool) {
		e := newEnv(t, envConfig{sse: sse})
		e.store.fail.Store(true)
		c := e.dial(1, dialOpts{})
		if code := c.closeCode(); code != websocket.CloseInternalServerErr {
			t.Fatalf("close code = %d (%v), want 1011", code, c.q.Err())
		}
	})
}

func TestShutdownCloses1001(t *testing.T) {
	overTransports(t, func(t *testing.T, sse bool) {
		e := newEnv(t, envConfig{sse: sse})
		var clients []*wsClient
		for _, user := range []int64{1, 1, 2} {
			clients = append(clients, e.connect(user, dialOpts{}))
		}
		e.stop()
		for _, c := range clients {
			if code := c.closeCode(); code != websocket.CloseGoingAway {
				t.Fatalf("close code = %d (%v), want 1001", code, c.q.Err())
			}
		}
		// A connection arriving after shutdown is closed at once; an event
		// stream is refused before it starts (ServeEvents: ErrClosed).
		if sse {
			if _, status, err := e.open(1, dialOpts{}); status != http.StatusServiceUnavailable {
				t.Fatalf("late stream: status %d (%v), want the handler's 503", status, err)
			}
			return
		}
		late := e.dial(1, dialOpts{})
		if code := late.closeCode(); code != websocket.CloseGoingAway {
			t.Fatalf("late connection: close code = %d (%v), want 1001", code, late.q.Err())
		}
	})
}

// TestEventStreamKeepAlive: an event stream gets a comment line once a
// PingInterval, in the rounds a WebSocket is pinged in, so that proxies do
// not close it for silence.
func TestEventStreamKeepAlive(t *testing.T) {
	e := newEnv(t, envConfig{sse: true, opts: Options{PingInterval: 20 * time.Millisecond}})
	c := e.connect(1, dialOpts{})
	waitFor(t, "three keep-alive comments", func() bool { return c.comments.Load() >= 3 })
	n := e.store.addAndPublish(t, e.hub, 1)
	c.expectNotification(n.ID, false)
}

// TestCloseStreams: CloseStreams, which the HTTP server's shutdown calls,
// ends every event stream with a close event 1001 and refuses new ones,
// and leaves the WebSockets alone.
func TestCloseStreams(t *testing.T) {
	e := newEnv(t, envConfig{sse: true})
	streams := []*wsClient{e.connect(1, dialOpts{}), e.connect(2, dialOpts{})}
	e.sse = false
	ws := e.connect(1, dialOpts{})
	e.sse = true
	e.hub.CloseStreams()
	for _, c := range streams {
		if code := c.closeCode(); code != websocket.CloseGoingAway {
			t.Fatalf("close code = %d (%v), want 1001", code, c.q.Err())
		}
	}
	waitFor(t, "the streams to be unregistered", func() bool {
		_, conns := e.hub.LocalCounts()
		return conns == 1
	})
	if _, status, err := e.open(1, dialOpts{}); status != http.StatusServiceUnavailable {
		t.Fatalf("new stream: status %d (%v), want the handler's 503", status, err)
	}
	n := e.store.addAndPublish(t, e.hub, 1)
	ws.expectNotification(n.ID, false)
}

// TestEventStreamClientGone: a client that goes away is unregistered,
// and its address slot given back, as a WebSocket's is.
func TestEventStreamClientGone(t *testing.T) {
	e := newEnv(t, envConfig{sse: true})
	c := e.connect(1, dialOpts{})
	c.drop()
	waitFor(t, "the stream to be unregistered", func() bool {
		_, conns := e.hub.LocalCounts()
		return conns == 0
	})
}

// TestBrokerRefusalEndsRun: when the subscription fails for good, Run
// closes every connection with 1001 and returns the broker's error, so
// that the process stops instead of serving sockets nothing feeds.
func TestBrokerRefusalEndsRun(t *testing.T) {
	b := &refusingBroker{MemoryBroker: NewMemoryBroker(), refused: make(chan struct{})}
	e := newEnv(t, envConfig{broker: b})
	c := e.connect(1, dialOpts{})
	close(b.refused)
	select {
	case err := <-e.done:
		close(e.done)
		if !errors.Is(err, errRefused) {
			t.Fatalf("Run returned %v, want %v", err, errRefused)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return after the broker refused")
	}
	if code := c.closeCode(); code != websocket.CloseGoingAway {
		t.Fatalf("close code = %d (%v), want 1001", code, c.q.Err())
	}
}

var errRefused = errors.New("broker refused the subscription")

// refusingBroker is a MemoryBroker whose subscription fails for good once
// refused is closed, as Redis refusing the instance's password does.
type refusingBroker struct {
	*MemoryBroker
	refused chan struct{}
}

func (b *refusingBroker) Subscribe(ctx context.Context, deliver func([]byte), subscribed func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-b.refused:
			cancel()
		case <-ctx.Done():
		}
	}()
	_ = b.MemoryBroker.Subscribe(ctx, deliver, subscribed)
	select {
	case <-b.refused:
		return errRefused
	default:
		return nil
	}
}

func TestIdleConnectionsHaveNoWriter(t *testing.T) {
	// An idle connection costs the server one goroutine, its reader: a
	// writer runs only while there is something to write, and pings come
	// from the hub's one ping loop. Each connection here also has this
	// test's client reader.
	e := newEnv(t, envConfig{})
	const n = 40
	before := runtime.NumGoroutine()
	for user := range int64(n) {
		e.dial(user+1, dialOpts{}).hello()
	}
	waitFor(t, "idle connections to hold two goroutines each", func() bool {
		return runtime.NumGoroutine()-before <= 2*n+2
	})
}
