package notify

import (
	"context"
	"sync"
	"time"
)

// Broker carries published changes to the hub of every instance, this one
// included. Messages are opaque to it; the hub encodes and decodes them.
//
// A broker may lose messages (Redis restarting, a network cut): that is
// why Subscribe reports each (re)subscription, after which the hub reads
// what its connections missed from the Store.
type Broker interface {
	// Publish hands msg to every subscriber. It must give up when ctx ends
	// and should fail fast while the broker is unreachable: it runs on the
	// request path, after the commit.
	Publish(ctx context.Context, msg []byte) error
	// Subscribe delivers every message published while the subscription
	// stands, until ctx ends; then it returns nil. It calls subscribed each
	// time the subscription is established, the first time and after every
	// loss, once messages published from then on will be delivered. deliver
	// may run on several goroutines at once and must not keep msg.
	Subscribe(ctx context.Context, deliver func(msg []byte), subscribed func()) error
	// ReportPresence records the connections of one instance for ttl, so
	// that Online counts across instances. A report with no connections
	// removes the instance.
	ReportPresence(ctx context.Context, p Presence, ttl time.Duration) error
	// Online counts distinct users and connections over every instance
	// whose last report has not expired.
	Online(ctx context.Context) (users, connections int, err error)
}

// Presence is one instance's connections, as reported to the broker.
type Presence struct {
	Instance    string
	Connections int
	// Users holds each connected user's id once.
	Users []int64
}

// MemoryBroker is the in-process broker for a single instance (several
// hubs in one process may share it, as the tests do). Publish calls every
// subscriber synchronously, which keeps publish-to-write latency at the
// cost of one channel send per connection of the recipient.
type MemoryBroker struct {
	mu       sync.RWMutex
	subs     map[*memorySub]struct{}
	presence map[string]memoryPresence
}

type memorySub struct{ deliver func([]byte) }

type memoryPresence struct {
	p       Presence
	expires time.Time
}

var _ Broker = (*MemoryBroker)(nil)

// NewMemoryBroker returns an in-process broker.
func NewMemoryBroker() *MemoryBroker {
	return &MemoryBroker{subs: make(map[*memorySub]struct{}), presence: make(map[string]memoryPresence)}
}

// Publish delivers msg to every current subscriber before it returns.
func (b *MemoryBroker) Publish(ctx context.Context, msg []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.subs {
		s.deliver(msg)
	}
	return nil
}

// Subscribe registers deliver until ctx ends. The in-process broker never
// loses a subscription, so subscribed is called once.
func (b *MemoryBroker) Subscribe(ctx context.Context, deliver func([]byte), subscribed func()) error {
	s := &memorySub{deliver: deliver}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	subscribed()
	<-ctx.Done()
	b.mu.Lock()
	delete(b.subs, s)
	b.mu.Unlock()
	return nil
}

// ReportPresence records p until ttl passes.
func (b *MemoryBroker) ReportPresence(_ context.Context, p Presence, ttl time.Duration) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p.Connections == 0 {
		delete(b.presence, p.Instance)
		return nil
	}
	p.Users = append([]int64(nil), p.Users...) // The caller may reuse its slice.
	b.presence[p.Instance] = memoryPresence{p: p, expires: time.Now().Add(ttl)}
	return nil
}

// Online sums the unexpired reports.
func (b *MemoryBroker) Online(context.Context) (users, connections int, err error) {
	now := time.Now()
	seen := make(map[int64]struct{})
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, e := range b.presence {
		if now.After(e.expires) {
			continue
		}
		connections += e.p.Connections
		for _, id := range e.p.Users {
			seen[id] = struct{}{}
		}
	}
	return len(seen), connections, nil
}
