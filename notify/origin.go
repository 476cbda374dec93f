package notify

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/websocket"
)

// Buffer sizes of the upgrader. Server frames are a few hundred bytes and
// client frames smaller; a larger message is simply written or read in
// several pieces. Small buffers are what keeps an idle connection cheap.
const (
	readBufferSize  = 1024
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
// is absent (a non-browser client) or in Options.AllowedOrigins, compared
// as scheme://host[:port] without case and without default ports.
func (h *Hub) CheckOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	key := normalizeOrigin(origin)
	if key == "" {
		return false
	}
	_, ok := h.origins[key]
	return ok
}

func originSet(allowed []string) map[string]struct{} {
	set := make(map[string]struct{}, len(allowed))
	for _, o := range allowed {
		if key := normalizeOrigin(o); key != "" {
			set[key] = struct{}{}
		}
	}
	return set
}

// normalizeOrigin returns origin as lower-case scheme://host[:port], the
// port dropped when it is the scheme's default, or "" when origin is not an
// http(s) origin (such as the "null" origin of sandboxed pages).
func normalizeOrigin(origin string) string {
	u, err := url.Parse(strings.TrimSpace(origin))
	if err != nil || u.Host == "" || u.User != nil {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6 literal
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}
