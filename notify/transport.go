package notify

import (
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// transport carries one connection's frames to its client: a WebSocket
// (GET /ws), or an event stream (GET /sse) for clients that cannot open
// one. Everything above it, the replay, the order, the catch-ups, the
// queue, is the connection's and the same for both. Only the connection's
// writer calls send, keepAlive and sayClose, one at a time; drop may be
// called from anywhere.
type transport interface {
	// send writes one frame by deadline.
	send(f *frame, deadline time.Time) error
	// keepAlive writes what shows the client, and the proxies on the way,
	// that the connection is alive: a WebSocket ping, a comment line.
	keepAlive(deadline time.Time) error
	// sayClose tells the client that the server ends the connection, and
	// why (code is one of the close codes, see closeText).
	sayClose(code int, deadline time.Time) error
	// drop ends the underlying connection at once.
	drop() error
	// writesNow reports whether send, keepAlive and sayClose return
	// without waiting for the client, keeping what it does not take at
	// once for flush; only then may a frame be written on the goroutine
	// that queues it (see client.enqueue).
	writesNow() bool
	// flushing reports whether written frames wait for flush.
	flushing() bool
	// flush writes them, waiting for the client up to the deadline of the
	// last write.
	flush() error
	// cork keeps what is written until uncork, which writes it at once,
	// without waiting, and reports whether some of it waits for flush.
	cork()
	uncork() bool
}

// wsTransport writes a connection's frames as WebSocket text messages.
// sock, when the connection was upgraded through NonBlocking, is the
// socket under it; see sockConn.
type wsTransport struct {
	conn *websocket.Conn
	sock *sockConn
}

// newWSTransport writes to conn; when it was upgraded through
// NonBlocking, its socket's cork borrows its buffers from spare.
func newWSTransport(conn *websocket.Conn, spare *sync.Pool) wsTransport {
	sock, _ := conn.NetConn().(*sockConn)
	if sock != nil {
		sock.buffer(spare)
	}
	return wsTransport{conn: conn, sock: sock}
}

func (w wsTransport) send(f *frame, deadline time.Time) error {
	_ = w.conn.SetWriteDeadline(deadline)
	return w.conn.WriteMessage(websocket.TextMessage, f.data)
}

// keepAlive writes a ping with WriteMessage, which, unlike WriteControl,
// allocates no frame buffer or timer per ping; the writer is the only data
// writer, so it may use it.
func (w wsTransport) keepAlive(deadline time.Time) error {
	_ = w.conn.SetWriteDeadline(deadline)
	return w.conn.WriteMessage(websocket.PingMessage, nil)
}

func (w wsTransport) sayClose(code int, deadline time.Time) error {
	return w.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, closeText(code)), deadline)
}

func (w wsTransport) drop() error { return w.conn.Close() }

// writesNow is false for a socket that cannot be written without waiting
// (TLS, or not a Unix system): there a frame written in place would only be
// kept for a writer goroutine anyway.
func (w wsTransport) writesNow() bool { return w.sock != nil && w.sock.now != nil }

func (w wsTransport) flushing() bool { return w.sock != nil && w.sock.flushing() }

func (w wsTransport) cork() {
	if w.sock != nil {
		w.sock.cork()
	}
}

func (w wsTransport) uncork() bool { return w.sock != nil && w.sock.uncork() }

func (w wsTransport) flush() error {
	if w.sock == nil {
		return nil
	}
	return w.sock.flush()
}
