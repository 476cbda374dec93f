package notify

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quizsite/discuss/model"
)

// cursor is how far one connection has delivered its user's notifications.
//
// Every notification of the user with seq <= cursor.seq or id <= cursor.id
// is settled: sent on this connection, or not owed to it (the client had
// it before since, it was read before an unread-only replay, or the client
// reloads it over REST after a resync). The two bounds describe one point:
// one user's notifications commit in id order and in seq order, with no
// seq skipped, so the notifications above it are exactly those with a
// larger seq, and those with a larger id.
//
// That order is what lets a connection send its user's notifications in
// increasing id order without waiting on anything: a live frame numbered
// cursor.seq+1 is the next one, and goes out at once. A frame with a larger
// number shows a gap: the ones between committed before it (it was
// published after its own commit) but their messages are late or lost, so
// the writer reads them from the Store, by id above cursor.id up to a head
// read just before (see upToHead), and sends them in order before anything
// newer. A late message then finds its
// notification settled and is skipped.
type cursor struct {
	seq int64
	id  int64
	// retry is the wait before the next attempt of a catch-up that failed
	// on the Store; 0 when the last one succeeded.
	retry time.Duration
	// retrying is set while a retry is scheduled, so that a failing Store
	// gets one retry per connection, not one per frame that arrives.
	retrying bool
	// shownSeq and shownID copy seq and id for the hub, which reads them
	// from its own goroutines to find the connections behind after a
	// resubscription (see Hub.catchUpAll). Both only grow, so a copy read
	// late is lower than the truth: the hub then reads more, never less.
	shownSeq, shownID atomic.Int64
}

// maxRetry bounds the wait between catch-up attempts of a connection.
const maxRetry = 30 * time.Second

// settled reports whether the notification with id and seq needs no
// sending. A seq of 0 (not known to the publisher) leaves it to the id.
func (cu *cursor) settled(id, seq int64) bool {
	return id <= cu.id || (seq > 0 && seq <= cu.seq)
}

// next reports whether seq is the one right after the cursor.
func (cu *cursor) next(seq int64) bool { return seq > 0 && seq == cu.seq+1 }

// settle moves the cursor up to id and seq; it never moves back.
func (cu *cursor) settle(id, seq int64) {
	cu.id = max(cu.id, id)
	cu.seq = max(cu.seq, seq)
	cu.shownID.Store(cu.id)
	cu.shownSeq.Store(cu.seq)
}

// shown is the cursor as other goroutines may read it: a point at or
// below the cursor. seq is read first, so that id is no older than it.
func (cu *cursor) shown() (seq, id int64) {
	seq = cu.shownSeq.Load()
	return seq, cu.shownID.Load()
}

// withStore runs read with one of the hub's StoreConcurrency turns at the
// Store, waiting for a turn until wait ends. read's context ends
// StoreTimeout after the turn came, or at shutdown. A turn covers Store
// calls only: frames are written after it is given back, so that a client
// slow to read holds up nobody else's reads.
func (h *Hub) withStore(wait context.Context, read func(ctx context.Context) error) error {
	select {
	case h.storeTurns <- struct{}{}:
	case <-wait.Done():
		return wait.Err()
	case <-h.life.Done():
		return h.life.Err()
	}
	defer func() { <-h.storeTurns }()
	ctx, cancel := context.WithTimeout(h.life, h.opts.StoreTimeout)
	defer cancel()
	return read(ctx)
}

// readStore is withStore for one read that returns a value, waiting for
// its turn until shutdown.
func readStore[T any](h *Hub, read func(ctx context.Context) (T, error)) (T, error) {
	var v T
	err := h.withStore(h.life, func(ctx context.Context) error {
		var err error
		v, err = read(ctx)
		return err
	})
	return v, err
}

// readReplay reads what a connection is sent on connect, before it is
// served (see Hub.Admit): the head, then the unread notifications (at
// most UnreadReplayLimit) or, with since, every notification after it (at
// most ReplayLimit+1, the extra one telling resync). The connection is
// registered already, so whatever commits from now on also arrives live,
// and the cursor skips it there if the replay has sent it.
//
// The head is read before the replay: everything it counts committed
// before the replay's read, so once the replay is sent the cursor may move
// up to it. Connecting waits at most StoreTimeout for its turn and reads
// together; past that the client is closed with 1011 and tries again.
func (c *client) readReplay() (head model.NotificationHead, list []*model.Notification, err error) {
	h := c.hub
	wait, cancel := context.WithTimeout(h.life, h.opts.StoreTimeout)
	defer cancel()
	err = h.withStore(wait, func(ctx context.Context) error {
		var err error
		if head, err = h.store.NotificationHead(ctx, c.userID); err != nil {
			return err
		}
		// The head tells when there is nothing to list (a client resuming
		// from the newest id it has, one with nothing unread): one round
		// trip instead of two. What commits after the head arrives live.
		switch {
		case c.resume && head.LastID > c.cur.id:
			list, err = h.store.NotificationsAfter(ctx, c.userID, c.cur.id, h.opts.ReplayLimit+1)
		case !c.resume && head.Unread > 0:
			list, err = h.store.UnreadNotifications(ctx, c.userID, h.opts.UnreadReplayLimit)
		}
		return err
	})
	// A user the Store does not know is not the Store failing: the
	// caller refuses the connection (see Admission.UnknownUser).
	if err != nil && !unknownUser(err) {
		h.log.Warn("notify: replay on connect", "user_id", c.userID, "err", err)
	}
	return head, list, err
}

// sendConnect sends hello, then the replay readReplay read.
func (c *client) sendConnect(head model.NotificationHead, list []*model.Notification) error {
	hello, err := newHelloFrame(c.userID, head.Counts(), time.Now())
	if err != nil {
		return err
	}
	if err := c.write(hello); err != nil {
		return err
	}
	return c.sendRead(list, head, c.hub.m.replayConnect)
}

// sendRead sends a list read after head: the part head covers (see
// upToHead), at most ReplayLimit of it, then resync if more was read. The
// count sent goes to sent.
func (c *client) sendRead(list []*model.Notification, head model.NotificationHead, sent prometheus.Observer) error {
	list = upToHead(list, head)
	truncated := len(list) > c.hub.opts.ReplayLimit
	if truncated {
		list = list[:c.hub.opts.ReplayLimit]
	}
	sent.Observe(float64(len(list)))
	return c.sendReplay(list, head, truncated)
}

// upToHead returns the notifications of list, oldest first, that head
// covers. A list read after its head may also return some that committed
// in between, and those may come with a hole: MariaDB takes a read's
// snapshot of running transactions one by one, so a transaction that
// commits while the snapshot is taken can be left out of it while the
// next of the user, which waited for the first's lock, is in. Sending
// the second would settle the first for good. Everything up to the head
// committed before the list read began, so the list holds all of it; what
// came after arrives live (the connection was registered before the
// head was read), in its turn.
func upToHead(list []*model.Notification, head model.NotificationHead) []*model.Notification {
	if i := slices.IndexFunc(list, func(n *model.Notification) bool { return n.ID > head.LastID }); i >= 0 {
		return list[:i]
	}
	return list
}

// sendReplay writes notifications read from the Store that are not settled
// yet, oldest first, settling each, then resync when the read was cut at
// the limit; at the end the cursor moves up to head, which was read before
// list.
func (c *client) sendReplay(list []*model.Notification, head model.NotificationHead, truncated bool) error {
	for _, n := range list {
		if c.stopping.Load() {
			return nil
		}
		if c.cur.settled(n.ID, n.Seq) {
			continue
		}
		f, err := newNotificationFrame(n, head.Counts(), true)
		if err != nil {
			c.hub.log.Error("notify: skipping notification", "id", n.ID, "err", err)
		} else if err := c.write(f); err != nil {
			return err
		}
		c.cur.settle(n.ID, n.Seq)
	}
	if truncated {
		// The client now reloads over REST what it has not been sent.
		if err := c.write(c.hub.resync); err != nil {
			return err
		}
	}
	if !c.stopping.Load() {
		c.cur.settle(head.LastID, head.Seq)
	}
	return nil
}

// catchUp reads from the Store every notification after the cursor and
// sends them in order. It runs when a live frame shows a gap, after the
// broker subscription was re-established (messages may have been lost
// meanwhile), and when a publisher could not build a frame. A catch-up
// for a seq the cursor has reached has nothing to do; one for seq -1 reads
// regardless. A Store failure is retried later with backoff; only write
// errors are returned.
func (c *client) catchUp(seq int64) error {
	if seq >= 0 && seq <= c.cur.seq {
		return nil
	}
	h := c.hub
	var head model.NotificationHead
	var list []*model.Notification
	err := h.withStore(h.life, func(ctx context.Context) error {
		var err error
		if head, err = h.store.NotificationHead(ctx, c.userID); err != nil {
			return err
		}
		list, err = h.store.NotificationsAfter(ctx, c.userID, c.cur.id, h.opts.ReplayLimit+1)
		return err
	})
	if err != nil {
		c.retryCatchUp(err)
		return nil
	}
	c.cur.retry = 0
	return c.sendRead(list, head, h.m.replayCatchUp)
}

// sendMissed sends what the hub read for the user after a resubscription:
// every notification above the lowest cursor of the user's connections up
// to m.Head.Seq, of which this connection sends those it has not.
func (c *client) sendMissed(m *model.MissedNotifications) error {
	if m.Head.Seq <= c.cur.seq {
		return nil
	}
	c.hub.m.replayCatchUp.Observe(float64(len(m.List)))
	return c.sendReplay(m.List, m.Head, false)
}

// retryCatchUp schedules another catch-up after a Store failure, unless
// one is scheduled already. Until it runs, live frames past a gap are left
// to it (see handle).
func (c *client) retryCatchUp(err error) {
	if c.stopping.Load() || c.cur.retrying {
		return
	}
	c.cur.retry = min(max(2*c.cur.retry, time.Second), maxRetry)
	c.cur.retrying = true
	c.hub.log.Warn("notify: catch-up from the store failed; retrying", "user_id", c.userID, "err", err, "after", c.cur.retry)
	time.AfterFunc(c.cur.retry, func() { c.enqueue(c.hub.retryCatchUp) })
}
