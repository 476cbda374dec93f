package notify

import (
	"net/http"

	"github.com/gorilla/websocket"
)

// Buffer sizes of the upgrader. Server frames are a few hundred bytes; the
// read buffer, which every connection holds for its whole life, is sized
// for the frames clients send ({"type":"ping"}, a read frame naming a few
// ids), and a larger message is simply read in several pieces. Small
// buffers are what keeps an idle connection cheap.
const (
	readBufferSize  = 256
	writeBufferSize = 1024
)

// Upgrader returns a WebSocket upgrader for the /ws handler: buffers sized
// for our frames, writes buffered through the hub's shared pool (an idle
// connection then holds no write buffer), no compression, and CheckOrigin
// as the origin check. Make it once; the caller may set its Error field to
// answer failed handshakes in the API's JSON shape.
func (h *Hub) Upgrader() *websocket.Upgrader {
	return &websocket.Upgrader{
		HandshakeTimeout: h.opts.WriteTimeout,
		ReadBufferSize:   readBufferSize,
		WriteBufferSize:  writeBufferSize,
		WriteBufferPool:  h.writeBuffers,
		CheckOrigin:      h.CheckOrigin,
	}
}

// CheckOrigin reports whether r may open a connection: its Origin header
// is absent (a non-browser client) or in Options.AllowedOrigins, matched as
// the API's CORS matches it (model.Origins).
func (h *Hub) CheckOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	return origin == "" || h.origins.Allows(origin)
}
