package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/notify/ssetest"
)

// serverFrame is any server frame, decoded as a client would.
type serverFrame struct {
	Type         string              `json:"type"`
	UserID       int64               `json:"user_id"`
	UnreadCount  int64               `json:"unread_count"`
	UnseenCount  *int64              `json:"unseen_count"`
	ServerTime   time.Time           `json:"server_time"`
	Notification *model.Notification `json:"notification"`
	Replayed     bool                `json:"replayed"`
	Message      string              `json:"message"`
	CreatedAt    time.Time           `json:"created_at"`
	// The live thread's fields; an error frame's code and post_id too.
	PostID    int64          `json:"post_id"`
	Comment   *model.Comment `json:"comment"`
	Post      *model.Post    `json:"post"`
	CommentID *int64         `json:"comment_id"`
	LikeCount int64          `json:"like_count"`
	Code      string         `json:"code"`
}

// wsClient is a test client whose reader goroutine queues every frame. It
// holds a WebSocket, or an event stream when its env's clients use /sse:
// then events are checked against the frames they carry and queued as the
// frames, and the close event ends it as a close frame would.
type wsClient struct {
	t    testing.TB
	conn *websocket.Conn // nil for an event stream
	// q holds the frames read, then the read error.
	q *ssetest.Queue[serverFrame]

	// For an event stream: the env, the tag of the stream's response
	// (see taggedWriter), the response body, and the comment lines read.
	e        *env
	tag      string
	body     io.ReadCloser
	comments atomic.Int64
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

// open connects userID over the env's transport. It returns the HTTP
// status of a refusal with the error.
func (e *env) open(userID int64, o dialOpts) (*wsClient, int, error) {
	if !e.sse {
		conn, resp, err := e.dialErr(userID, o)
		if err != nil {
			status := 0
			if resp != nil {
				status = resp.StatusCode
			}
			return nil, status, err
		}
		return newWSClient(e.t, conn), 0, nil
	}
	u, _ := url.Parse(e.dialURL(userID, o))
	u.Scheme, u.Path = "http", "/sse"
	tag := strconv.FormatInt(e.streams.Add(1), 10)
	q := u.Query()
	q.Set("tag", tag)
	u.RawQuery = q.Encode()
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, err
	}
	if o.origin != "" {
		req.Header.Set("Origin", o.origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	h := resp.Header
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return nil, resp.StatusCode, fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	if h.Get("Content-Type") != "text/event-stream" || h.Get("Cache-Control") != "no-cache" || h.Get("X-Accel-Buffering") != "no" {
		_ = resp.Body.Close()
		return nil, 0, fmt.Errorf("event stream headers %v", h)
	}
	c := newWSClient(e.t, nil)
	c.e, c.tag, c.body = e, tag, resp.Body
	return c, 0, nil
}

func (e *env) dial(userID int64, o dialOpts) *wsClient {
	e.t.Helper()
	return dialWith(e.t, e, userID, o)
}

// connect dials a connection and waits for its hello and replay.
func (e *env) connect(userID int64, o dialOpts) *wsClient {
	e.t.Helper()
	c := e.dial(userID, o)
	c.hello()
	return c
}

func dialWith(t testing.TB, e *env, userID int64, o dialOpts) *wsClient {
	t.Helper()
	c, status, err := e.open(userID, o)
	if err != nil {
		t.Fatalf("dial user %d: %v (status %d)", userID, err, status)
	}
	t.Cleanup(c.drop)
	if !o.noRead {
		go c.readLoop()
	}
	return c
}

// readLoop queues the connection's frames until it ends.
func (c *wsClient) readLoop() {
	if c.conn == nil {
		c.q.End(c.readEvents())
		return
	}
	for {
		typ, data, err := c.conn.ReadMessage()
		if err != nil {
			c.q.End(err)
			return
		}
		if typ != websocket.TextMessage {
			c.q.End(fmt.Errorf("unexpected message type %d", typ))
			return
		}
		var f serverFrame
		if err := json.Unmarshal(data, &f); err != nil {
			c.q.End(fmt.Errorf("bad frame %q: %v", data, err))
			return
		}
		if err := c.q.Put(f); err != nil {
			c.q.End(err)
			return
		}
	}
}

// readEvents reads an event stream as readLoop reads a WebSocket, each
// event checked against the frame it carries, and returns why it ended;
// comment lines are counted, and the close event ends it as a close frame
// would.
func (c *wsClient) readEvents() error {
	r := ssetest.NewReader(c.body)
	for {
		ev, err := r.Next()
		if err != nil {
			return err
		}
		if ev.Comment != "" {
			c.comments.Add(1)
			continue
		}
		if ev.Type == closeEventType {
			var ce closeEvent
			if err := ev.Decode(&ce); err != nil {
				return fmt.Errorf("bad close event: %v", err)
			}
			if ev, err := r.Next(); err != io.EOF {
				return fmt.Errorf("the stream went on after its close event: %+v, %v", ev, err)
			}
			return &websocket.CloseError{Code: ce.Code, Text: ce.Reason}
		}
		var f serverFrame
		if err := ev.Decode(&f); err != nil {
			return err
		}
		if err := c.q.Put(f); err != nil {
			return err
		}
	}
}

// next returns the next frame, failing the test if none comes.
func (c *wsClient) next() serverFrame {
	c.t.Helper()
	return c.q.Want(c.t, waitTimeout)
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
// the pong comes proof that nothing else was queued before it. An event
// stream's client cannot send one, so the test queues the pong on the
// stream's connection itself.
func (c *wsClient) sync() []serverFrame {
	c.t.Helper()
	if c.conn == nil {
		c.e.queuePong(c.tag)
	} else {
		c.send(`{"type":"ping"}`)
	}
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

// queuePong queues a pong on the event stream tagged tag, as the hub does
// for a WebSocket's ping frame.
func (e *env) queuePong(tag string) {
	e.t.Helper()
	e.hub.mu.RLock()
	defer e.hub.mu.RUnlock()
	for _, list := range e.hub.users {
		for _, c := range list {
			if s, ok := c.out.(*eventStream); ok && s.w.(taggedWriter).tag == tag {
				c.enqueue(e.hub.pong)
				return
			}
		}
	}
	e.t.Fatalf("no event stream %s in the hub", tag)
}

func (c *wsClient) send(text string) {
	c.t.Helper()
	if c.conn == nil {
		c.t.Fatal("an event stream takes no client frames")
	}
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// expectTooSlow makes c, dialed with noRead, read at last: the frames the
// server wrote before it gave up on c, then its close with 1013.
func (c *wsClient) expectTooSlow() {
	c.t.Helper()
	go c.readLoop()
	for {
		_, ok, err := c.q.Next(waitTimeout)
		if err != nil {
			break // it ended: its close code tells how
		}
		if !ok {
			c.t.Fatal("slow client never closed")
		}
	}
	if code := c.closeCode(); code != websocket.CloseTryAgainLater {
		c.t.Fatalf("close code = %d (%v), want 1013", code, c.q.Err())
	}
}

// closeCode waits for the connection to end and returns the close code the
// server sent, or -1 when it ended without a close frame.
func (c *wsClient) closeCode() int {
	c.t.Helper()
	select {
	case <-c.q.Done():
	case <-time.After(waitTimeout):
		c.t.Fatal("connection did not end")
	}
	var ce *websocket.CloseError
	if errors.As(c.q.Err(), &ce) {
		return ce.Code
	}
	return -1
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

// newWSClient wraps a dialed connection; go c.readLoop() starts reading.
func newWSClient(t testing.TB, conn *websocket.Conn) *wsClient {
	return &wsClient{t: t, conn: conn, q: ssetest.NewQueue[serverFrame](4096)}
}

// tryNext returns the next frame if one comes within d. Unlike next it
// does not fail the test, so goroutines other than the test's may use it;
// err is set when the connection ended.
func (c *wsClient) tryNext(d time.Duration) (f serverFrame, ok bool, err error) {
	f, ok, err = c.q.Next(d)
	if err != nil {
		err = fmt.Errorf("connection ended: %v", err)
	}
	return f, ok, err
}

// drop ends the connection without a word.
func (c *wsClient) drop() {
	if c.conn == nil {
		_ = c.body.Close()
		return
	}
	_ = c.conn.Close()
}

// closeNormally sends a close frame and drops the connection; an event
// stream's client just goes.
func (c *wsClient) closeNormally() {
	if c.conn == nil {
		c.drop()
		return
	}
	_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	_ = c.conn.Close()
}
