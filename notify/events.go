package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// eventStream writes a connection's frames as server-sent events
// (text/event-stream), for clients that cannot open a WebSocket: a proxy
// on the way strips Upgrade, or a network allows plain HTTP only. Each
// frame is one event named after its type, with its JSON as data; a
// notification's event carries the notification id as its id, so that a
// browser's EventSource reconnects with it as Last-Event-ID. Keep-alives
// are comment lines, and the close codes of the WebSocket come as a close
// event, since a stream has no close frame. The client sends nothing: read
// state changes go over REST.
type eventStream struct {
	w  http.ResponseWriter
	rc *http.ResponseController
	// ctx is the request's. net/http cancels it when a write to the
	// connection fails, which a Flusher such as Gin's does not report.
	ctx context.Context
	// buf is reused for each event; only the writer uses it.
	buf []byte
}

// closeEventType names the close event, the stream's close frame; its
// data is a closeEvent.
const closeEventType = "close"

type closeEvent struct {
	Type   string `json:"type"`
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

// keepAliveComment is the comment line written once a PingInterval, as a
// WebSocket is pinged: proxies close a response that is silent too long.
var keepAliveComment = []byte(": keep-alive\n\n")

// newEventStream prepares w for r's stream. The connection's write deadline
// must be settable: the HTTP server's WriteTimeout, if any, would otherwise
// cut the stream, and a client that stops reading would hold its writer for
// good.
func newEventStream(w http.ResponseWriter, r *http.Request) (*eventStream, error) {
	rc := http.NewResponseController(w)
	// No deadline until the first write sets its own.
	if err := rc.SetWriteDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("notify: an event stream needs write deadlines: %w", err)
	}
	return &eventStream{w: w, rc: rc, ctx: r.Context()}, nil
}

// header sets the stream's response headers. X-Accel-Buffering tells nginx
// not to buffer the response, which it otherwise does until it has a few
// KiB; no-cache keeps any cache from replaying a stream.
func (s *eventStream) header() {
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
}

func (s *eventStream) send(f *frame, deadline time.Time) error {
	// Only a notification's id resumes a stream (a live-thread frame's id
	// is a comment's, and a stream follows no post anyway).
	var id int64
	if f.kind == kindNotification {
		id = f.id
	}
	return s.event(f.kind.String(), id, f.data, deadline)
}

func (s *eventStream) keepAlive(deadline time.Time) error {
	return s.write(keepAliveComment, deadline)
}

func (s *eventStream) sayClose(code int, deadline time.Time) error {
	data, err := json.Marshal(closeEvent{Type: closeEventType, Code: code, Reason: closeText(code)})
	if err != nil {
		return err
	}
	return s.event(closeEventType, 0, data, deadline)
}

// drop does nothing: the stream ends when its handler returns, which it
// does once the writer is done (see ServeEvents), and a writer stuck on a
// client that does not read gives up at its write deadline.
func (s *eventStream) drop() error { return nil }

// An event stream's writes go through net/http's response, which waits.
func (s *eventStream) writesNow() bool { return false }
func (s *eventStream) flushing() bool  { return false }
func (s *eventStream) flush() error    { return nil }
func (s *eventStream) cork()           {}
func (s *eventStream) uncork() bool    { return false }

// event writes one event. Frame JSON holds no newline (encoding/json
// escapes them in strings), so data is one line.
func (s *eventStream) event(typ string, id int64, data []byte, deadline time.Time) error {
	b := append(s.buf[:0], "event: "...)
	b = append(b, typ...)
	if id > 0 {
		b = append(b, "\nid: "...)
		b = strconv.AppendInt(b, id, 10)
	}
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	b = append(b, "\n\n"...)
	s.buf = b
	return s.write(b, deadline)
}

func (s *eventStream) write(b []byte, deadline time.Time) error {
	if err := s.rc.SetWriteDeadline(deadline); err != nil {
		return err
	}
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	if err := s.rc.Flush(); err != nil {
		return err
	}
	return s.ctx.Err()
}

// ServeEvents serves user's live notifications on r's response as an
// event stream (see eventStream): the connection ServeAdmitted gives a WebSocket,
// with the same hello, replay (unread notifications, or those after *since
// when since is not nil), order, catch-ups and live frames, the same limit
// of connections per user, and the same close codes, sent as a close event
// before the stream ends. When expires is not zero the stream is closed
// with 4001 then. release, when not nil, is called once the stream has
// ended (see ReserveAddress).
//
// Unlike ServeAdmitted it returns only when the stream ends: the client went away,
// or the hub closed the stream. It returns ErrClosed, having written
// nothing, once the hub has shut down or closed its streams (see
// CloseStreams), for the caller to answer as it sees fit.
func (h *Hub) ServeEvents(w http.ResponseWriter, r *http.Request, userID int64, since *int64, expires time.Time, release func()) error {
	if release == nil {
		release = func() {}
	}
	stream, err := newEventStream(w, r)
	if err != nil {
		release()
		return err
	}
	c := newClient(h, userID, since, release)
	c.stream = true
	if !h.register(c) {
		release()
		return ErrClosed
	}
	c.serve(stream, nil)
	if kicked := h.countServed(c); kicked != nil {
		kicked.stop(CloseReplaced)
	}
	stream.header()
	c.expireAt(expires)
	// open writes on a goroutine of its own, as for a WebSocket, so that
	// the stack it grows in Store calls is not kept for the stream's life
	// by the request's goroutine, which waits: the response is only ours
	// until the handler returns, so it returns once no writer can run
	// again.
	go func() {
		head, list, err := c.readReplay()
		c.open(head, list, err)
	}()
	select {
	case <-r.Context().Done():
	case <-c.writerDone:
	}
	c.finish(nil)
	return nil
}

// CloseStreams closes every event stream with 1001 and refuses new ones
// from then on; WebSocket connections are left alone. net/http's Shutdown
// waits for the handlers under way, and a stream's handler runs as long as
// the stream: call CloseStreams when the HTTP server starts shutting down
// (http.Server.RegisterOnShutdown), so that the drain does not wait for
// them. Their clients resume with since, elsewhere or after the restart.
func (h *Hub) CloseStreams() {
	h.mu.Lock()
	h.streamsClosed = true
	var streams []*client
	for _, list := range h.users {
		for _, c := range list {
			if c.stream {
				streams = append(streams, c)
			}
		}
	}
	h.mu.Unlock()
	for _, c := range streams {
		c.stop(websocket.CloseGoingAway)
	}
}
