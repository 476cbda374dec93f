package notify

import (
	"net/netip"
	"slices"
	"sync"

	"github.com/quizsite/discuss/model"
)

// addressSlots counts the connections of each client address, so that one
// address cannot hold every file descriptor of the instance whatever the
// number of users it signs in as.
type addressSlots struct {
	max    int // 0: no cap
	exempt []netip.Prefix

	mu   sync.Mutex
	held map[netip.Addr]int
}

func newAddressSlots(max int, exempt []netip.Prefix) *addressSlots {
	return &addressSlots{max: max, exempt: exempt, held: make(map[netip.Addr]int)}
}

// reserve takes a slot for addr, or reports false when addr holds all of
// its slots already. release gives the slot back; calls after the first
// do nothing.
func (a *addressSlots) reserve(addr netip.Addr) (release func(), ok bool) {
	addr = addr.Unmap()
	if a.max == 0 || slices.ContainsFunc(a.exempt, func(p netip.Prefix) bool { return p.Contains(addr) }) {
		return func() {}, true
	}
	key := model.AddressKey(addr)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.held[key] >= a.max {
		return nil, false
	}
	a.held[key]++
	return sync.OnceFunc(func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.held[key]--; a.held[key] == 0 {
			delete(a.held, key)
		}
	}), true
}
