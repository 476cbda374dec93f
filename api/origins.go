package api

import "sync"

// maxLoggedOrigins bounds the origins refusedOrigins remembers: a client
// sending a new Origin with every attempt fills neither the log nor the
// memory.
const maxLoggedOrigins = 100

// refusedOrigins remembers the origins refused a WebSocket, so that each is
// logged once, at WARN: an operator whose page is served from an origin not
// in websocket.allowed_origins sees why it never goes live, without a line
// per reconnect.
type refusedOrigins struct {
	mu   sync.Mutex
	seen map[string]struct{}
}

// first reports whether origin is refused for the first time (and is to
// be logged); past maxLoggedOrigins it reports false.
func (r *refusedOrigins) first(origin string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.seen[origin]; ok || len(r.seen) >= maxLoggedOrigins {
		return false
	}
	if r.seen == nil {
		r.seen = make(map[string]struct{})
	}
	r.seen[origin] = struct{}{}
	return true
}
