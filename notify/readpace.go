package notify

import (
	"sync"
	"time"
)

// readPacer spaces out the frames of one user's connections, which share
// it, that make the server go to the database: read (an UPDATE, a COUNT
// and a publish, run on the connection's reader) and subscribe_post (the
// post's head and up to a replay's worth of comments, on its writer).
// Unpaced, one socket could keep the database busy with either.
// Options.ReadFrameBurst frames pass at once, then one every
// Options.ReadFrameInterval; a frame past that waits its turn, and its
// reader waits with it, so a client that sends too fast is slowed down
// (TCP holds what it sends meanwhile) rather than refused, and no mark is
// lost. It is the generic cell rate algorithm: tat is when the next frame
// would be due if every frame kept to the interval.
type readPacer struct {
	mu  sync.Mutex
	tat time.Time
}

// reserve takes the next turn for a frame arriving at now and returns how
// long it must wait for it.
func (p *readPacer) reserve(now time.Time, interval time.Duration, burst int) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	tat := p.tat
	if tat.Before(now) {
		tat = now
	}
	p.tat = tat.Add(interval)
	return max(tat.Sub(now)-time.Duration(burst-1)*interval, 0)
}

// awaitReadTurn waits for the connection's turn to act on a read or
// subscribe_post frame. It reports false when the connection or the hub
// stops first.
func (c *client) awaitReadTurn() bool {
	o := c.hub.opts
	wait := c.reads.reserve(time.Now(), o.ReadFrameInterval, o.ReadFrameBurst)
	if wait == 0 {
		return true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.quit:
	case <-c.hub.life.Done():
	}
	return false
}
