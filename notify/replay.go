package notify

import (
	"context"
	"slices"
	"time"

	"github.com/quizsite/discuss/model"
)

// cursor is what one connection has been sent, for exactly-once delivery.
//
// Every notification of the user with id <= floor is settled: sent on this
// connection, or not owed to it (the client had it before since, or it was
// read before an unread-only replay). The floor only moves after a Store
// read: because one user's notifications commit in id order, once the
// Store has shown ids up to M, nothing at or below M can still commit. Live
// frames do not move it, since two publishes can arrive out of order.
// Ids sent live above the floor are kept in sent; when that fills up the
// connection reads the Store again to raise the floor (see markSent).
type cursor struct {
	floor int64
	sent  []int64
	// anchorAt is zero when the floor is exact. When it is not (after an
	// unread-only replay, or a resync), notifications above the floor that
	// were created before anchorAt (less catchUpSlack) are not owed: the
	// client had the chance to load them when it connected or resynced.
	anchorAt time.Time
	// retry is the wait before the next attempt of a catch-up that failed
	// on the Store; 0 when none is pending.
	retry time.Duration
}

const (
	// maxSent bounds cursor.sent, so that a long-lived busy connection
	// costs one Store read per maxSent live notifications, not memory.
	maxSent = 64
	// catchUpSlack allows for time between a notification's CreatedAt and
	// its commit, and for clock skew between instances.
	catchUpSlack = 2 * time.Minute
	// maxCatchUpPages bounds the Store pages read when skipping old
	// notifications of an unanchored connection.
	maxCatchUpPages = 4
	maxRetry        = 30 * time.Second
)

// fresh reports whether a live notification must still be sent.
func (cu *cursor) fresh(id int64) bool {
	return id > cu.floor && !slices.Contains(cu.sent, id)
}

// markSent records a live notification as sent; it reports whether sent is
// full and the floor should be raised from the Store. While a failed
// catch-up waits for its retry, the Store is left alone and sent grows.
func (cu *cursor) markSent(id int64) bool {
	cu.sent = append(cu.sent, id)
	return len(cu.sent) >= maxSent && cu.retry == 0
}

// owed reports whether a notification read from the Store above the floor
// must be sent.
func (cu *cursor) owed(n *model.Notification) bool {
	if n.ID <= cu.floor || slices.Contains(cu.sent, n.ID) {
		return false
	}
	return cu.anchorAt.IsZero() || !n.CreatedAt.Before(cu.anchorAt.Add(-catchUpSlack))
}

// raise moves the floor to id and forgets the sent ids it covers.
func (cu *cursor) raise(id int64) {
	if id <= cu.floor {
		return
	}
	cu.floor = id
	cu.sent = slices.DeleteFunc(cu.sent, func(s int64) bool { return s <= id })
	if len(cu.sent) == 0 {
		cu.sent = nil // Let an idle connection hold no array.
	}
}

func (h *Hub) storeContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(h.life, h.opts.StoreTimeout)
}

// replayOnConnect sends hello, then the unread notifications (at most
// UnreadReplayLimit) or, with since, every notification after it (at most
// ReplayLimit, then resync). The connection is registered already, so
// whatever commits from now on also arrives live, and the cursor skips it
// there if the replay has sent it.
func (c *client) replayOnConnect() error {
	h := c.hub
	ctx, cancel := h.storeContext()
	defer cancel()
	unread, err := h.store.UnreadCount(ctx, c.userID)
	if err != nil {
		h.log.Warn("notify: unread count for hello", "user_id", c.userID, "err", err)
		return err
	}
	hello, err := newHelloFrame(c.userID, unread, time.Now())
	if err != nil {
		return err
	}
	if err := c.write(hello); err != nil {
		return err
	}
	var list []*model.Notification
	truncated := false
	if c.resume {
		list, err = h.store.NotificationsAfter(ctx, c.userID, c.cur.floor, h.opts.ReplayLimit+1)
		if len(list) > h.opts.ReplayLimit {
			list, truncated = list[:h.opts.ReplayLimit], true
		}
	} else {
		// Unread-only: the floor becomes the newest unread one sent (the
		// cursor was anchored when the client was made).
		list, err = h.store.UnreadNotifications(ctx, c.userID, h.opts.UnreadReplayLimit)
	}
	if err != nil {
		h.log.Warn("notify: replay on connect", "user_id", c.userID, "err", err)
		return err
	}
	h.m.replayConnect.Observe(float64(len(list)))
	return c.sendReplay(list, unread, truncated)
}

// sendReplay writes notifications read from the Store, raising the floor
// past each, and resync when the read was cut at the limit.
func (c *client) sendReplay(list []*model.Notification, unread int64, truncated bool) error {
	for _, n := range list {
		if c.stopping.Load() {
			return nil
		}
		f, err := newNotificationFrame(n, unread, true)
		if err != nil {
			c.hub.log.Error("notify: skipping notification", "id", n.ID, "err", err)
		} else if err := c.write(f); err != nil {
			return err
		}
		c.cur.raise(n.ID)
	}
	if truncated {
		if err := c.write(c.hub.resync); err != nil {
			return err
		}
		// The client now reloads over REST what it has not been sent.
		c.cur.anchorAt = time.Now()
	}
	return nil
}

// catchUp reads from the Store every notification above the floor that the
// connection is owed and has not been sent, sends them, and raises the
// floor. It runs after the broker subscription was re-established (messages
// may have been lost meanwhile) and when cursor.sent is full. A Store
// failure is retried later with backoff; only write errors are returned.
func (c *client) catchUp() error {
	h := c.hub
	ctx, cancel := h.storeContext()
	defer cancel()
	var owed []*model.Notification
	top := c.cur.floor
	truncated := false
	for page := 1; ; page++ {
		list, err := h.store.NotificationsAfter(ctx, c.userID, top, h.opts.ReplayLimit+1)
		if err != nil {
			c.retryCatchUp(err)
			return nil
		}
		full := len(list) > h.opts.ReplayLimit
		if full {
			list = list[:h.opts.ReplayLimit]
		}
		for _, n := range list {
			if c.cur.owed(n) {
				owed = append(owed, n)
			}
		}
		if len(list) > 0 {
			top = list[len(list)-1].ID
		}
		if !full {
			break
		}
		// Anchored, everything above the floor is owed and there is too
		// much; unanchored, pages of old notifications may be skipped, but
		// not without end.
		if c.cur.anchorAt.IsZero() || len(owed) >= h.opts.ReplayLimit || page >= maxCatchUpPages {
			truncated = true
			break
		}
	}
	var unread int64
	if len(owed) > 0 {
		var err error
		if unread, err = h.store.UnreadCount(ctx, c.userID); err != nil {
			c.retryCatchUp(err)
			return nil
		}
	}
	c.cur.retry = 0
	h.m.replayCatchUp.Observe(float64(len(owed)))
	if err := c.sendReplay(owed, unread, truncated); err != nil {
		return err
	}
	if c.stopping.Load() {
		return nil
	}
	c.cur.raise(top)
	if !truncated {
		c.cur.anchorAt = time.Time{}
	}
	return nil
}

// retryCatchUp schedules another catch-up after a Store failure.
func (c *client) retryCatchUp(err error) {
	if c.stopping.Load() {
		return
	}
	c.cur.retry = min(max(2*c.cur.retry, time.Second), maxRetry)
	c.hub.log.Warn("notify: catch-up from the store failed; retrying", "user_id", c.userID, "err", err, "after", c.cur.retry)
	time.AfterFunc(c.cur.retry, func() { c.enqueue(c.hub.catchUp) })
}
