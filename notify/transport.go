package notify

import (
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
}

// wsTransport writes a connection's frames as WebSocket text messages.
type wsTransport struct{ conn *websocket.Conn }

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
