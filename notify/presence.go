package notify

import (
	"context"
	"time"
)

// LocalCounts returns the users and connections of this instance alone.
func (h *Hub) LocalCounts() (users, connections int) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.users), h.conns
}

// Online counts distinct users and connections over every instance: this
// one exactly, the others as of their last report (at most
// PresenceInterval old). When the broker cannot answer it returns this
// instance's counts with the error.
func (h *Hub) Online(ctx context.Context) (users, connections int, err error) {
	if err := h.reportPresence(ctx); err != nil {
		users, connections = h.LocalCounts()
		return users, connections, err
	}
	users, connections, err = h.broker.Online(ctx)
	if err != nil {
		users, connections = h.LocalCounts()
	}
	return users, connections, err
}

func (h *Hub) presence() Presence {
	h.mu.RLock()
	defer h.mu.RUnlock()
	p := Presence{Instance: h.opts.InstanceID, Connections: h.conns, Users: make([]int64, 0, len(h.users))}
	for id := range h.users {
		p.Users = append(p.Users, id)
	}
	return p
}

func (h *Hub) reportPresence(ctx context.Context) error {
	return h.broker.ReportPresence(ctx, h.presence(), 3*h.opts.PresenceInterval)
}

// reportPresenceLoop reports this instance's counts every PresenceInterval
// until ctx ends, then withdraws them.
func (h *Hub) reportPresenceLoop(ctx context.Context) {
	t := time.NewTicker(h.opts.PresenceInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			ctx, cancel := context.WithTimeout(context.Background(), h.opts.PublishTimeout)
			defer cancel()
			_ = h.broker.ReportPresence(ctx, Presence{Instance: h.opts.InstanceID}, time.Second)
			return
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, h.opts.PublishTimeout)
			if err := h.reportPresence(rctx); err != nil && ctx.Err() == nil {
				h.log.Warn("notify: reporting presence", "err", err)
			}
			cancel()
		}
	}
}
