package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/quizsite/discuss/model"
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

// connect dials a connection and waits for its hello and replay.
func (e *env) connect(userID int64, o dialOpts) *wsClient {
	e.t.Helper()
	c := e.dial(userID, o)
	c.hello()
	return c
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
	t.Cleanup(func() { _ = conn.Close() })
	c := newWSClient(t, conn)
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
	return &wsClient{t: t, conn: conn, frames: make(chan serverFrame, 4096), done: make(chan struct{})}
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
