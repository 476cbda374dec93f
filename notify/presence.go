package notify

import (
	"context"
	"maps"
	"slices"
	"time"
)

// LocalCounts returns the users and connections of this instance alone,
// counting the WebSockets admitted whose upgrade is under way (Admit).
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

// PresenceRecorder keeps, where every instance can read it, which users
// have a connection open on which instance; the service implements it over
// the database for the offline delivery of mail and Web Push.
type PresenceRecorder interface {
	// RecordPresence records that the users connected have a connection
	// open on instance now, and that the users departed closed their last
	// one there.
	RecordPresence(ctx context.Context, instance string, connected, departed []int64) error
}

// markPresenceLocked notes that user's first connection opened (on) or
// their last closed, for recordPresenceLoop. The caller holds h.mu.
func (h *Hub) markPresenceLocked(user int64, on bool) {
	if h.opts.Presence == nil {
		return
	}
	if on {
		h.arrived[user] = struct{}{}
		delete(h.departed, user)
	} else {
		h.departed[user] = struct{}{}
		delete(h.arrived, user)
	}
	select {
	case h.recordWake <- struct{}{}:
	default: // already woken
	}
}

// recordPresenceLoop tells Options.Presence of users arriving and
// departing as they do, one batch at a time (a reconnect storm becomes a
// few statements, not one per connection), and of every connected user
// each PresenceRecordInterval, until ctx ends.
func (h *Hub) recordPresenceLoop(ctx context.Context) {
	t := time.NewTicker(h.opts.PresenceRecordInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.recordWake:
			h.recordPresence(ctx, false)
		case <-t.C:
			h.recordPresence(ctx, true)
		}
	}
}

// recordPresence tells Options.Presence of the users that arrived and
// departed since it was last told, and of every connected user when all is
// set. What could not be recorded is kept for the next call.
func (h *Hub) recordPresence(ctx context.Context, all bool) {
	if h.opts.Presence == nil {
		return
	}
	h.mu.Lock()
	var arrived []int64
	if all {
		// Every connected user, which includes those that arrived.
		arrived = slices.Collect(maps.Keys(h.users))
	} else {
		arrived = slices.Collect(maps.Keys(h.arrived))
	}
	departed := slices.Collect(maps.Keys(h.departed))
	clear(h.arrived)
	clear(h.departed)
	h.mu.Unlock()
	if len(arrived) == 0 && len(departed) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.opts.StoreTimeout)
	defer cancel()
	err := h.opts.Presence.RecordPresence(rctx, h.opts.InstanceID, arrived, departed)
	if err == nil {
		return
	}
	h.log.Warn("notify: recording presence", "err", err)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range arrived {
		if _, still := h.users[id]; still {
			if _, gone := h.departed[id]; !gone {
				h.arrived[id] = struct{}{}
			}
		}
	}
	for _, id := range departed {
		if _, back := h.users[id]; !back {
			if _, again := h.arrived[id]; !again {
				h.departed[id] = struct{}{}
			}
		}
	}
}
