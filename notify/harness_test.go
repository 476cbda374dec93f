package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/quizsite/discuss/model"
)

// waitTimeout bounds every wait in these tests; they wait on conditions,
// never on the clock.
const waitTimeout = 10 * time.Second

// fakeStore is an in-memory Store. add is the "commit": it assigns ids and
// per-user sequence numbers in order under the lock, so one user's
// notifications commit in id and seq order as the real store promises.
type fakeStore struct {
	mu     sync.Mutex
	lastID int64
	seqs   map[int64]int64
	byUser map[int64][]*model.Notification
	marks  []markCall
	// pub receives the unread count after MarkRead, as the service would.
	pub atomic.Pointer[Hub]
	// fail makes every call fail, as a database that is down.
	fail atomic.Bool

	afterCalls atomic.Int64
	// missedCalls counts MissedNotifications calls, and missedRanges the
	// ranges they asked for; failMissed makes those calls alone fail.
	missedCalls, missedRanges atomic.Int64
	failMissed                atomic.Bool
	// failed counts the calls that failed because of fail.
	failed atomic.Int64
}

type markCall struct {
	userID int64
	ids    []int64
	upToID int64
}

var errStoreDown = errors.New("store down")

// down reports whether the store fails now, counting the failed call.
func (s *fakeStore) down() bool {
	if !s.fail.Load() {
		return false
	}
	s.failed.Add(1)
	return true
}

func newFakeStore() *fakeStore {
	return &fakeStore{seqs: make(map[int64]int64), byUser: make(map[int64][]*model.Notification)}
}

// add commits a new unread notification for userID and returns a copy of
// it and the user's unread count.
func (s *fakeStore) add(userID int64) (*model.Notification, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastID++
	s.seqs[userID]++
	post := int64(7)
	n := &model.Notification{
		ID:        s.lastID,
		UserID:    userID,
		Seq:       s.seqs[userID],
		Type:      model.NotifyCommentReply,
		PostID:    &post,
		Excerpt:   fmt.Sprintf("reply %d", s.lastID),
		CreatedAt: time.Now().UTC(),
		Actor:     &model.Author{ID: 99, Username: "bob", DisplayName: "Bob"},
	}
	s.byUser[userID] = append(s.byUser[userID], n)
	return clone(n), s.unreadLocked(userID)
}

// addN commits count new unread notifications for userID.
func (s *fakeStore) addN(userID int64, count int) {
	for range count {
		s.add(userID)
	}
}

// addAndPublish commits a notification and publishes it through h, as the
// service does after commit.
func (s *fakeStore) addAndPublish(t testing.TB, h *Hub, userID int64) *model.Notification {
	n, unread := s.add(userID)
	if err := h.PublishNotification(context.Background(), n, unread); err != nil {
		t.Errorf("publish %d: %v", n.ID, err)
	}
	return n
}

// remove deletes a notification, as deleting its comment does.
func (s *fakeStore) remove(n *model.Notification) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byUser[n.UserID] = slices.DeleteFunc(s.byUser[n.UserID], func(m *model.Notification) bool { return m.ID == n.ID })
}

func clone(n *model.Notification) *model.Notification {
	c := *n
	return &c
}

func (s *fakeStore) maxID() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastID
}

// idsBetween returns the user's ids in (lo, hi].
func (s *fakeStore) idsBetween(userID, lo, hi int64) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []int64
	for _, n := range s.byUser[userID] {
		if n.ID > lo && n.ID <= hi {
			ids = append(ids, n.ID)
		}
	}
	return ids
}

func (s *fakeStore) unreadLocked(userID int64) int64 {
	var c int64
	for _, n := range s.byUser[userID] {
		if !n.Read {
			c++
		}
	}
	return c
}

func (s *fakeStore) NotificationHead(_ context.Context, userID int64) (model.NotificationHead, error) {
	if s.down() {
		return model.NotificationHead{}, errStoreDown
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	head := model.NotificationHead{Seq: s.seqs[userID], Unread: s.unreadLocked(userID)}
	if list := s.byUser[userID]; len(list) > 0 {
		head.LastID = list[len(list)-1].ID
	}
	return head, nil
}

func (s *fakeStore) NotificationSeqs(_ context.Context, userIDs []int64) (map[int64]int64, error) {
	if s.down() {
		return nil, errStoreDown
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int64]int64, len(userIDs))
	for _, id := range userIDs {
		out[id] = s.seqs[id]
	}
	return out, nil
}

func (s *fakeStore) NotificationsAfter(_ context.Context, userID, afterID int64, limit int) ([]*model.Notification, error) {
	s.afterCalls.Add(1)
	return s.list(userID, limit, func(n *model.Notification) bool { return n.ID > afterID })
}

func (s *fakeStore) MissedNotifications(_ context.Context, ranges []model.NotificationRange) ([]model.MissedNotifications, error) {
	s.missedCalls.Add(1)
	s.missedRanges.Add(int64(len(ranges)))
	if s.down() || s.failMissed.Load() {
		return nil, errStoreDown
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]model.MissedNotifications, 0, len(ranges))
	for _, r := range ranges {
		m := model.MissedNotifications{UserID: r.UserID, Head: model.NotificationHead{Seq: r.UpToSeq, Unread: s.unreadLocked(r.UserID)}}
		for _, n := range s.byUser[r.UserID] {
			if n.ID > r.AfterID && n.Seq <= r.UpToSeq {
				m.List = append(m.List, clone(n))
				m.Head.LastID = n.ID
			}
		}
		out = append(out, m)
	}
	return out, nil
}

func (s *fakeStore) UnreadNotifications(_ context.Context, userID int64, limit int) ([]*model.Notification, error) {
	return s.list(userID, limit, func(n *model.Notification) bool { return !n.Read })
}

// list returns copies of the user's notifications that keep accepts,
// oldest first, at most limit, or errStoreDown while the store fails.
func (s *fakeStore) list(userID int64, limit int, keep func(*model.Notification) bool) ([]*model.Notification, error) {
	if s.down() {
		return nil, errStoreDown
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*model.Notification
	for _, n := range s.byUser[userID] {
		if keep(n) && len(out) < limit {
			out = append(out, clone(n))
		}
	}
	return out, nil
}

func (s *fakeStore) UnreadCount(_ context.Context, userID int64) (int64, error) {
	if s.down() {
		return 0, errStoreDown
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unreadLocked(userID), nil
}

func (s *fakeStore) MarkRead(ctx context.Context, userID int64, ids []int64, upToID int64) (int64, error) {
	if s.down() {
		return 0, errStoreDown
	}
	s.mu.Lock()
	s.marks = append(s.marks, markCall{userID: userID, ids: slices.Clone(ids), upToID: upToID})
	for _, n := range s.byUser[userID] {
		if slices.Contains(ids, n.ID) || (upToID > 0 && n.ID <= upToID) {
			n.Read = true
		}
	}
	unread := s.unreadLocked(userID)
	s.mu.Unlock()
	if h := s.pub.Load(); h != nil {
		_ = h.PublishUnreadCount(ctx, userID, unread)
	}
	return unread, nil
}

func (s *fakeStore) markCalls() []markCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.marks)
}

// env is a hub behind an httptest server whose /ws handler does what the
// api package does: origin check, upgrade, Serve.
type env struct {
	t      *testing.T
	hub    *Hub
	store  *fakeStore
	reg    *prometheus.Registry
	srv    *httptest.Server
	wsURL  string
	cancel context.CancelFunc
	done   chan error
}

type envConfig struct {
	opts   Options
	broker Broker
	store  *fakeStore
	// listener, when set, wraps the server's listener.
	listener func(net.Listener) net.Listener
	// noWait skips waiting for the hub to be subscribed.
	noWait bool
}

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
	e := &env{t: t, hub: h, store: cfg.store, reg: reg, done: make(chan error, 1)}
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
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		_ = h.Serve(conn, &model.User{ID: userID}, since, expires, nil)
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

// serverFrame is any server frame, decoded as a client would.
type serverFrame struct {
	Type         string              `json:"type"`
	UserID       int64               `json:"user_id"`
	UnreadCount  int64               `json:"unread_count"`
	ServerTime   time.Time           `json:"server_time"`
	Notification *model.Notification `json:"notification"`
	Replayed     bool                `json:"replayed"`
	Message      string              `json:"message"`
	CreatedAt    time.Time           `json:"created_at"`
}

// wsClient is a test client whose reader goroutine queues every frame.
type wsClient struct {
	t      testing.TB
	conn   *websocket.Conn
	frames chan serverFrame
	done   chan struct{}
	err    error // the read error, set before done closes
}

type dialOpts struct {
	since  *int64
	origin string
	// expires is when the connection's token expires (zero: never).
	expires time.Time
	// noRead leaves reading to the test (conn only).
	noRead bool
	// smallBuffer shrinks the client's socket receive buffer.
	smallBuffer bool
}

func ptr[T any](v T) *T { return &v }

func (e *env) dialURL(userID int64, o dialOpts) string {
	u, _ := url.Parse(e.wsURL)
	q := u.Query()
	q.Set("user", strconv.FormatInt(userID, 10))
	if o.since != nil {
		q.Set("since", strconv.FormatInt(*o.since, 10))
	}
	if !o.expires.IsZero() {
		q.Set("expires", strconv.FormatInt(o.expires.UnixMilli(), 10))
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// dialErr opens a connection and returns the handshake response.
func (e *env) dialErr(userID int64, o dialOpts) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: waitTimeout}
	if o.smallBuffer {
		d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(4096)
			}
			return c, err
		}
	}
	hdr := http.Header{}
	if o.origin != "" {
		hdr.Set("Origin", o.origin)
	}
	return d.Dial(e.dialURL(userID, o), hdr)
}

func (e *env) dial(userID int64, o dialOpts) *wsClient {
	e.t.Helper()
	return dialWith(e.t, e, userID, o)
}

func dialWith(t testing.TB, e *env, userID int64, o dialOpts) *wsClient {
	t.Helper()
	conn, resp, err := e.dialErr(userID, o)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial user %d: %v (status %d)", userID, err, status)
	}
	c := &wsClient{t: t, conn: conn, frames: make(chan serverFrame, 4096), done: make(chan struct{})}
	t.Cleanup(func() { _ = conn.Close() })
	if !o.noRead {
		go c.readLoop()
	}
	return c
}

func (c *wsClient) readLoop() {
	defer close(c.done)
	for {
		typ, data, err := c.conn.ReadMessage()
		if err != nil {
			c.err = err
			return
		}
		if typ != websocket.TextMessage {
			c.err = fmt.Errorf("unexpected message type %d", typ)
			return
		}
		var f serverFrame
		if err := json.Unmarshal(data, &f); err != nil {
			c.err = fmt.Errorf("bad frame %q: %v", data, err)
			return
		}
		select {
		case c.frames <- f:
		default:
			c.err = errors.New("test client queue overflow")
			return
		}
	}
}

// next returns the next frame, failing the test if none comes.
func (c *wsClient) next() serverFrame {
	c.t.Helper()
	select {
	case f := <-c.frames:
		return f
	case <-c.done:
		select {
		case f := <-c.frames:
			return f
		default:
		}
		c.t.Fatalf("connection ended while waiting for a frame: %v", c.err)
	case <-time.After(waitTimeout):
		c.t.Fatal("timed out waiting for a frame")
	}
	return serverFrame{}
}

// expect returns the next frame, which must be of type typ.
func (c *wsClient) expect(typ string) serverFrame {
	c.t.Helper()
	f := c.next()
	if f.Type != typ {
		c.t.Fatalf("got frame %+v, want type %q", f, typ)
	}
	return f
}

// expectNotification returns the next frame, which must be notification id.
func (c *wsClient) expectNotification(id int64, replayed bool) serverFrame {
	c.t.Helper()
	f := c.expect("notification")
	if f.Notification == nil || f.Notification.ID != id || f.Replayed != replayed {
		c.t.Fatalf("got notification %+v replayed=%v, want id %d replayed=%v", f.Notification, f.Replayed, id, replayed)
	}
	return f
}

// expectReplayed checks the next frames are the replayed notifications
// from..to, in order.
func (c *wsClient) expectReplayed(from, to int64) {
	c.t.Helper()
	for id := from; id <= to; id++ {
		c.expectNotification(id, true)
	}
}

// sync sends a ping frame and returns every frame before the pong: with
// the pong comes proof that nothing else was queued before it.
func (c *wsClient) sync() []serverFrame {
	c.t.Helper()
	c.send(`{"type":"ping"}`)
	var before []serverFrame
	for {
		f := c.next()
		if f.Type == "pong" {
			return before
		}
		before = append(before, f)
	}
}

// expectQuiet checks nothing is pending before a ping's pong.
func (c *wsClient) expectQuiet() {
	c.t.Helper()
	if extra := c.sync(); len(extra) > 0 {
		c.t.Fatalf("unexpected frames: %+v", extra)
	}
}

func (c *wsClient) send(text string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// closeCode waits for the connection to end and returns the close code the
// server sent, or -1 when it ended without a close frame.
func (c *wsClient) closeCode() int {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(waitTimeout):
		c.t.Fatal("connection did not end")
	}
	var ce *websocket.CloseError
	if errors.As(c.err, &ce) {
		return ce.Code
	}
	return -1
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

// metricValue returns the value of the gauge or counter name (summed over
// series whose labels include the given name=value pairs) in e's registry.
func (e *env) metricValue(name string, labels ...string) float64 {
	e.t.Helper()
	families, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue series
				}
			}
			switch {
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

// hello expects the hello frame, then waits for the replay to finish and
// returns it. The replay query runs after hello is written, so a
// notification committed just after hello may still come replayed; tests
// that want a live frame wait for this first.
func (c *wsClient) hello() (serverFrame, []serverFrame) {
	c.t.Helper()
	h := c.expect("hello")
	return h, c.sync()
}

// newWSClient wraps a dialed connection and starts its reader.
func newWSClient(t testing.TB, conn *websocket.Conn) *wsClient {
	c := &wsClient{t: t, conn: conn, frames: make(chan serverFrame, 4096), done: make(chan struct{})}
	go c.readLoop()
	return c
}

// tryNext returns the next frame if one comes within d. Unlike next it
// does not fail the test, so goroutines other than the test's may use it;
// err is set when the connection ended.
func (c *wsClient) tryNext(d time.Duration) (f serverFrame, ok bool, err error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case f := <-c.frames:
		return f, true, nil
	case <-c.done:
		select {
		case f := <-c.frames:
			return f, true, nil
		default:
		}
		return serverFrame{}, false, fmt.Errorf("connection ended: %v", c.err)
	case <-t.C:
		return serverFrame{}, false, nil
	}
}

// closeNormally sends a close frame and drops the connection.
func (c *wsClient) closeNormally() {
	_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	_ = c.conn.Close()
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
