package notify

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/quizsite/discuss/model"
)

// publisher mirrors service.Publisher, which notify may not import; cmd
// asserts the real fit.
type publisher interface {
	PublishNotification(ctx context.Context, n *model.Notification, unread int64) error
	PublishUnreadCount(ctx context.Context, userID, unread int64) error
	PublishBroadcast(ctx context.Context, a *model.Announcement) error
}

var _ publisher = (*Hub)(nil)

func TestHelloThenReplay(t *testing.T) {
	t.Run("Unread", func(t *testing.T) {
		e := newEnv(t, envConfig{})
		e.store.addN(1, 5)
		e.store.add(2) // someone else's
		if _, err := e.store.MarkRead(context.Background(), 1, []int64{2}, 0); err != nil {
			t.Fatal(err)
		}
		c := e.dial(1, dialOpts{})
		hello := c.expect("hello")
		if hello.UserID != 1 || hello.UnreadCount != 4 || time.Since(hello.ServerTime) > time.Minute {
			t.Fatalf("hello = %+v", hello)
		}
		for _, id := range []int64{1, 3, 4, 5} {
			f := c.expectNotification(id, true)
			if f.UnreadCount != 4 || f.Notification.Actor == nil || f.Notification.Actor.Username != "bob" {
				t.Fatalf("replayed frame = %+v", f)
			}
		}
		c.expectQuiet()
		n := e.store.addAndPublish(t, e.hub, 1)
		f := c.expectNotification(n.ID, false)
		if f.UnreadCount != 5 {
			t.Fatalf("live unread_count = %d, want 5", f.UnreadCount)
		}
	})
	t.Run("UnreadLimit", func(t *testing.T) {
		e := newEnv(t, envConfig{opts: Options{UnreadReplayLimit: 3}})
		e.store.addN(1, 7)
		c := e.dial(1, dialOpts{})
		if got := c.expect("hello").UnreadCount; got != 7 {
			t.Fatalf("hello unread_count = %d, want 7", got)
		}
		c.expectReplayed(1, 3)
		c.expectQuiet()
	})
	t.Run("Since", func(t *testing.T) {
		e := newEnv(t, envConfig{})
		e.store.addN(1, 5)
		if _, err := e.store.MarkRead(context.Background(), 1, nil, 4); err != nil {
			t.Fatal(err)
		}
		c := e.dial(1, dialOpts{since: ptr[int64](2)})
		if got := c.expect("hello").UnreadCount; got != 1 {
			t.Fatalf("hello unread_count = %d, want 1", got)
		}
		// Read ones too: since replays everything after it.
		c.expectReplayed(3, 5)
		c.expectQuiet()
	})
	t.Run("ResyncPastLimit", func(t *testing.T) {
		e := newEnv(t, envConfig{})
		e.store.addN(1, 510)
		c := e.dial(1, dialOpts{since: ptr[int64](0)})
		c.expect("hello")
		c.expectReplayed(1, 500)
		c.expect("resync")
		c.expectQuiet()
		// Live frames keep coming after a resync.
		n := e.store.addAndPublish(t, e.hub, 1)
		c.expectNotification(n.ID, false)
	})
	t.Run("ExactlyAtLimit", func(t *testing.T) {
		e := newEnv(t, envConfig{opts: Options{ReplayLimit: 5}})
		e.store.addN(1, 5)
		c := e.dial(1, dialOpts{since: ptr[int64](0)})
		c.expect("hello")
		c.expectReplayed(1, 5)
		c.expectQuiet()
	})
}

func TestLiveSkipsWhatReplaySent(t *testing.T) {
	// A notification committed before the connection registers but
	// published after it comes both in the replay and live: sent once.
	e := newEnv(t, envConfig{})
	n1, unread := e.store.add(1)
	c := e.dial(1, dialOpts{since: ptr[int64](0)})
	c.expect("hello")
	c.expectNotification(n1.ID, true)
	if err := e.hub.PublishNotification(context.Background(), n1, unread); err != nil {
		t.Fatal(err)
	}
	c.expectQuiet()
	// An old one published late (id <= since) is skipped too.
	c2 := e.dial(1, dialOpts{since: ptr[int64](n1.ID)})
	c2.expect("hello")
	if err := e.hub.PublishNotification(context.Background(), n1, unread); err != nil {
		t.Fatal(err)
	}
	c2.expectQuiet()
}

func TestTwoConnectionsBothReceive(t *testing.T) {
	e := newEnv(t, envConfig{})
	a1 := e.dial(1, dialOpts{})
	a2 := e.dial(1, dialOpts{})
	b := e.dial(2, dialOpts{})
	for _, c := range []*wsClient{a1, a2, b} {
		c.hello()
	}
	n := e.store.addAndPublish(t, e.hub, 1)
	a1.expectNotification(n.ID, false)
	a2.expectNotification(n.ID, false)
	b.expectQuiet()
}

func TestUnreadCountFansOut(t *testing.T) {
	e := newEnv(t, envConfig{})
	a1 := e.dial(1, dialOpts{})
	a2 := e.dial(1, dialOpts{})
	b := e.dial(2, dialOpts{})
	for _, c := range []*wsClient{a1, a2, b} {
		c.hello()
	}
	if err := e.hub.PublishUnreadCount(context.Background(), 1, 42); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*wsClient{a1, a2} {
		if f := c.expect("unread_count"); f.UnreadCount != 42 {
			t.Fatalf("unread_count = %d, want 42", f.UnreadCount)
		}
	}
	b.expectQuiet()
}

func TestReadFrameMarksRead(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.store.addN(1, 4)
	a1 := e.dial(1, dialOpts{since: ptr[int64](4)})
	a2 := e.dial(1, dialOpts{since: ptr[int64](4)})
	a1.hello()
	a2.hello()

	a1.send(`{"type":"read","ids":[1,2]}`)
	for _, c := range []*wsClient{a1, a2} {
		if f := c.expect("unread_count"); f.UnreadCount != 2 {
			t.Fatalf("unread_count = %d, want 2", f.UnreadCount)
		}
	}
	a2.send(`{"type":"read","up_to_id":4}`)
	for _, c := range []*wsClient{a1, a2} {
		if f := c.expect("unread_count"); f.UnreadCount != 0 {
			t.Fatalf("unread_count = %d, want 0", f.UnreadCount)
		}
	}
	calls := e.store.markCalls()
	if len(calls) != 2 || calls[0].userID != 1 || len(calls[0].ids) != 2 || calls[1].upToID != 4 {
		t.Fatalf("MarkRead calls = %+v", calls)
	}
}

// TestReadFramesPaced: past a burst, the read frames of one user's
// connections are acted on one per interval, whichever connection sends
// them; each waits its turn and none is dropped. Other users have their
// own turns.
func TestReadFramesPaced(t *testing.T) {
	const interval = 300 * time.Millisecond
	e := newEnv(t, envConfig{opts: Options{ReadFrameBurst: 2, ReadFrameInterval: interval}})
	e.store.addN(1, 5)
	e.store.addN(2, 1)
	a1, a2, b := e.dial(1, dialOpts{}), e.dial(1, dialOpts{}), e.dial(2, dialOpts{})
	for _, c := range []*wsClient{a1, a2, b} {
		c.hello()
	}

	start := time.Now()
	for id := range 3 {
		a1.send(`{"type":"read","ids":[` + itoa(int64(id+1)) + `]}`)
	}
	a2.send(`{"type":"read","ids":[4]}`)
	b.send(`{"type":"read","up_to_id":6}`)
	if f := b.expect("unread_count"); f.UnreadCount != 0 {
		t.Fatalf("user 2's unread_count = %d, want 0", f.UnreadCount)
	}
	e.hub.mu.RLock()
	shared, own := e.hub.users[1][0].reads == e.hub.users[1][1].reads, e.hub.users[1][0].reads != e.hub.users[2][0].reads
	e.hub.mu.RUnlock()
	if !shared || !own {
		t.Fatal("read frames are not paced per user")
	}
	// Two frames go at once, the third after one interval, the fourth
	// after two. Each unread_count follows a MarkRead.
	for i := range 4 {
		a2.expect("unread_count")
		if turn := time.Duration(max(i-1, 0)) * interval; time.Since(start) < turn {
			t.Fatalf("read %d acted on after %v, before its turn at %v", i+1, time.Since(start), turn)
		}
	}
	if calls := e.store.markCalls(); len(calls) != 5 {
		t.Fatalf("MarkRead calls = %+v, want 5", calls)
	}
	if n, _ := e.store.UnreadCount(context.Background(), 1); n != 1 {
		t.Fatalf("user 1 has %d unread, want 1", n)
	}
}

func TestPingPongFrame(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.dial(1, dialOpts{})
	c.hello()
	c.send(`{"type":"ping"}`)
	c.expect("pong")
	c.send(`  {"type":"ping","extra":true}  `)
	c.expect("pong")
}

func TestBroadcastReachesAll(t *testing.T) {
	e := newEnv(t, envConfig{})
	var clients []*wsClient
	for _, user := range []int64{1, 1, 2, 3} {
		c := e.dial(user, dialOpts{})
		c.hello()
		clients = append(clients, c)
	}
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	if err := e.hub.PublishBroadcast(context.Background(), &model.Announcement{ID: 1, Message: "maintenance at noon", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		f := c.expect("broadcast")
		if f.Message != "maintenance at noon" || !f.CreatedAt.Equal(at) {
			t.Fatalf("broadcast = %+v", f)
		}
	}
	users, conns, err := e.hub.Online(context.Background())
	if err != nil || users != 3 || conns != 4 {
		t.Fatalf("Online = %d, %d, %v; want 3, 4", users, conns, err)
	}
}

func TestOversizedFrameCloses1009(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.dial(1, dialOpts{})
	c.hello()
	c.send(`{"type":"ping","pad":"` + strings.Repeat("x", 4096) + `"}`)
	if code := c.closeCode(); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code = %d (%v), want 1009", code, c.err)
	}
	waitFor(t, "the connection to be unregistered", func() bool {
		_, conns := e.hub.LocalCounts()
		return conns == 0
	})
}

func TestMaxSizeFrameAccepted(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.dial(1, dialOpts{})
	c.hello()
	frame := `{"type":"ping","pad":"`
	frame += strings.Repeat("x", 4096-len(frame)-2) + `"}`
	c.send(frame)
	c.expect("pong")
}

// TestTextFrameAccepted: what is valid text stays accepted next to the
// frames TestMalformedFrames closes with 1007: an escaped surrogate pair, an
// escaped backslash before what looks like a lone surrogate, U+FFFD itself.
func TestTextFrameAccepted(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.dial(1, dialOpts{})
	c.hello()
	for _, note := range []string{`\ud83d\ude00`, `\\ud800`, "\uFFFD", `\ufffd`} {
		c.send(`{"type":"ping","note":"` + note + `"}`)
		c.expect("pong")
	}
}

func TestMalformedFrames(t *testing.T) {
	tests := []struct {
		name string
		send func(*websocket.Conn) error
		code int // 0: ignored, the connection stays
	}{
		{"NotJSON", text("hello?"), websocket.CloseInvalidFramePayloadData},
		{"NoType", text(`{"ids":[1]}`), websocket.CloseInvalidFramePayloadData},
		{"WrongFieldType", text(`{"type":"read","ids":"1"}`), websocket.CloseInvalidFramePayloadData},
		{"Array", text(`[{"type":"ping"}]`), websocket.CloseInvalidFramePayloadData},
		{"InvalidUTF8", text("{\"type\":\"ping\",\"note\":\"\xff\"}"), websocket.CloseInvalidFramePayloadData},
		{"InvalidUTF8Type", text("{\"type\":\"ping\xc3\"}"), websocket.CloseInvalidFramePayloadData},
		{"LoneSurrogate", text(`{"type":"ping","note":"\ud800"}`), websocket.CloseInvalidFramePayloadData},
		{"Binary", func(c *websocket.Conn) error {
			return c.WriteMessage(websocket.BinaryMessage, []byte(`{"type":"ping"}`))
		}, websocket.CloseUnsupportedData},
		{"UnknownType", text(`{"type":"subscribe","topic":"x"}`), 0},
		{"ReadWithoutIDs", text(`{"type":"read"}`), 0},
		{"ReadNegativeID", text(`{"type":"read","ids":[-1]}`), 0},
		{"ReadBoth", text(`{"type":"read","ids":[1],"up_to_id":3}`), 0},
	}
	e := newEnv(t, envConfig{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialWith(t, e, 1, dialOpts{})
			c.hello()
			if err := tt.send(c.conn); err != nil {
				t.Fatal(err)
			}
			if tt.code == 0 {
				c.expectQuiet()
				return
			}
			if code := c.closeCode(); code != tt.code {
				t.Fatalf("close code = %d (%v), want %d", code, c.err, tt.code)
			}
		})
	}
	if calls := e.store.markCalls(); len(calls) != 0 {
		t.Fatalf("invalid read frames reached the store: %+v", calls)
	}
}

func text(s string) func(*websocket.Conn) error {
	return func(c *websocket.Conn) error { return c.WriteMessage(websocket.TextMessage, []byte(s)) }
}

func TestConnectionLimitClosesOldest4000(t *testing.T) {
	e := newEnv(t, envConfig{opts: Options{MaxConnectionsPerUser: 2}})
	c1 := e.dial(1, dialOpts{})
	c1.hello()
	c2 := e.dial(1, dialOpts{})
	c2.hello()
	other := e.dial(2, dialOpts{})
	other.hello()
	c3 := e.dial(1, dialOpts{})
	c3.hello()
	if code := c1.closeCode(); code != CloseReplaced {
		t.Fatalf("oldest closed with %d (%v), want 4000", code, c1.err)
	}
	n := e.store.addAndPublish(t, e.hub, 1)
	c2.expectNotification(n.ID, false)
	c3.expectNotification(n.ID, false)
	other.expectQuiet()
	if users, conns := e.hub.LocalCounts(); users != 2 || conns != 3 {
		t.Fatalf("LocalCounts = %d, %d; want 2, 3", users, conns)
	}
}

func TestTokenExpiryCloses4001(t *testing.T) {
	// The connection lives while its token does: it is closed with 4001
	// when the expiry passes, and one without expiry stays.
	e := newEnv(t, envConfig{})
	expiring := e.dial(1, dialOpts{expires: time.Now().Add(300 * time.Millisecond)})
	expiring.hello()
	lasting := e.dial(1, dialOpts{})
	lasting.hello()
	if code := expiring.closeCode(); code != CloseTokenExpired {
		t.Fatalf("close code = %d (%v), want 4001", code, expiring.err)
	}
	n := e.store.addAndPublish(t, e.hub, 1)
	lasting.expectNotification(n.ID, false)
	waitFor(t, "the expired connection to be removed", func() bool {
		_, conns := e.hub.LocalCounts()
		return conns == 1
	})
}

func TestShutdownCloses1001(t *testing.T) {
	e := newEnv(t, envConfig{})
	var clients []*wsClient
	for _, user := range []int64{1, 1, 2} {
		c := e.dial(user, dialOpts{})
		c.hello()
		clients = append(clients, c)
	}
	e.stop()
	for _, c := range clients {
		if code := c.closeCode(); code != websocket.CloseGoingAway {
			t.Fatalf("close code = %d (%v), want 1001", code, c.err)
		}
	}
	// A connection arriving after shutdown is closed at once.
	late := e.dial(1, dialOpts{})
	if code := late.closeCode(); code != websocket.CloseGoingAway {
		t.Fatalf("late connection: close code = %d (%v), want 1001", code, late.err)
	}
}

// TestBrokerRefusalEndsRun: when the subscription fails for good, Run
// closes every connection with 1001 and returns the broker's error, so
// that the process stops instead of serving sockets nothing feeds.
func TestBrokerRefusalEndsRun(t *testing.T) {
	b := &refusingBroker{MemoryBroker: NewMemoryBroker(), refused: make(chan struct{})}
	e := newEnv(t, envConfig{broker: b})
	c := e.dial(1, dialOpts{})
	c.hello()
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
		t.Fatalf("close code = %d (%v), want 1001", code, c.err)
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

func TestSlowReaderCloses1013(t *testing.T) {
	// Small socket buffers on both sides, so that a client that does not
	// read blocks the writer after a few frames and its queue fills.
	small := func(ln net.Listener) net.Listener { return smallBufListener{ln} }
	e := newEnv(t, envConfig{opts: Options{SendQueueSize: 4}, listener: small})
	slow := e.dial(1, dialOpts{noRead: true, smallBuffer: true})
	fast := e.dial(2, dialOpts{})
	fast.hello()
	big := &model.Announcement{Message: strings.Repeat("m", 8<<10), CreatedAt: time.Now()}
	sent := 0
	for e.metricValue("discuss_ws_queue_overflows_total") == 0 {
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
	go slow.readLoop()
	for {
		select {
		case <-slow.frames:
			continue
		case <-slow.done:
		case <-time.After(waitTimeout):
			t.Fatal("slow client never closed")
		}
		break
	}
	if code := slow.closeCode(); code != websocket.CloseTryAgainLater {
		t.Fatalf("close code = %d (%v), want 1013", code, slow.err)
	}
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

func TestSilentClientDropped(t *testing.T) {
	// A client that answers no ping is dropped after PongTimeout, without
	// a close frame (nobody would read it).
	e := newEnv(t, envConfig{opts: Options{PingInterval: 20 * time.Millisecond, PongTimeout: 200 * time.Millisecond}})
	c := e.dial(1, dialOpts{noRead: true})
	c.conn.SetPingHandler(func(string) error { return nil })
	go c.readLoop()
	c.expect("hello")
	if code := c.closeCode(); code != -1 && code != websocket.CloseAbnormalClosure {
		t.Fatalf("close code = %d (%v), want none", code, c.err)
	}
	waitFor(t, "the connection to be unregistered", func() bool {
		_, conns := e.hub.LocalCounts()
		return conns == 0
	})
}

func TestStoreDownOnConnectCloses1011(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.store.fail.Store(true)
	c := e.dial(1, dialOpts{})
	if code := c.closeCode(); code != websocket.CloseInternalServerErr {
		t.Fatalf("close code = %d (%v), want 1011", code, c.err)
	}
}

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

func TestPublishFallsBackToLocalWhenBrokerFails(t *testing.T) {
	e := newEnv(t, envConfig{broker: &failingPublishBroker{MemoryBroker: NewMemoryBroker()}})
	c := e.dial(1, dialOpts{})
	c.hello()
	n, unread := e.store.add(1)
	if err := e.hub.PublishNotification(context.Background(), n, unread); err == nil {
		t.Fatal("PublishNotification hid the broker error")
	}
	c.expectNotification(n.ID, false)
	if err := e.hub.PublishUnreadCount(context.Background(), 1, 0); err == nil {
		t.Fatal("PublishUnreadCount hid the broker error")
	}
	c.expect("unread_count")
	if err := e.hub.PublishBroadcast(context.Background(), &model.Announcement{Message: "x"}); err == nil {
		t.Fatal("PublishBroadcast hid the broker error")
	}
	c.expectQuiet()
	if got := e.metricValue("discuss_broker_publish_errors_total"); got != 3 {
		t.Fatalf("publish errors = %v, want 3", got)
	}
}

type failingPublishBroker struct{ *MemoryBroker }

func (failingPublishBroker) Publish(context.Context, []byte) error { return errors.New("broker down") }

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
		return e.metricValue("discuss_ws_frames_sent_total", "type", "notification") == 2 &&
			e.metricValue("discuss_notify_delivery_seconds") == 1
	})
	if got := e.metricValue("discuss_ws_connections"); got != 2 {
		t.Fatalf("connections = %v, want 2", got)
	}
	if got := e.metricValue("discuss_ws_users"); got != 2 {
		t.Fatalf("users = %v, want 2", got)
	}
	if got := e.metricValue("discuss_ws_frames_sent_total", "type", "hello"); got != 2 {
		t.Fatalf("hello frames = %v, want 2", got)
	}
	if got := e.metricValue("discuss_ws_frames_sent_total", "type", "notification"); got != 2 {
		t.Fatalf("notification frames = %v, want 2", got)
	}
	// The registry exposes every family, with the latency of the live one.
	families, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range families {
		got[f.GetName()] = true
		if f.GetName() == "discuss_notify_delivery_seconds" {
			if cnt := f.GetMetric()[0].GetHistogram().GetSampleCount(); cnt != 1 {
				t.Fatalf("latency samples = %d, want 1", cnt)
			}
		}
		if f.GetName() == "discuss_ws_replay_notifications" {
			var cnt uint64
			for _, m := range f.GetMetric() {
				cnt += m.GetHistogram().GetSampleCount()
			}
			if cnt != 2 {
				t.Fatalf("replay samples = %d, want 2", cnt)
			}
		}
	}
	for _, name := range []string{"discuss_ws_connections", "discuss_ws_users", "discuss_ws_frames_sent_total", "discuss_ws_replay_notifications", "discuss_notify_delivery_seconds"} {
		if !got[name] {
			t.Errorf("metric %s not registered", name)
		}
	}
	c1.conn.Close()
	waitFor(t, "the gauge to drop", func() bool { return e.metricValue("discuss_ws_connections") == 1 })
}

// TestUnknownCountCatchesUpFromStore: a publisher that could not take the
// unread count publishes with -1, and the user's connections read the
// notification from the Store instead, once, with its true count; other
// users hear nothing.
func TestUnknownCountCatchesUpFromStore(t *testing.T) {
	e := newEnv(t, envConfig{})
	a1 := e.dial(1, dialOpts{})
	a2 := e.dial(1, dialOpts{})
	b := e.dial(2, dialOpts{})
	for _, c := range []*wsClient{a1, a2, b} {
		c.hello()
	}
	first := e.store.addAndPublish(t, e.hub, 1)
	a1.expectNotification(first.ID, false)
	a2.expectNotification(first.ID, false)

	n, unread := e.store.add(1)
	if err := e.hub.PublishNotification(context.Background(), n, -1); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*wsClient{a1, a2} {
		f := c.expectNotification(n.ID, true)
		if f.UnreadCount != unread {
			t.Fatalf("unread_count %d, want %d", f.UnreadCount, unread)
		}
		c.expectQuiet()
	}
	b.expectQuiet()
}
