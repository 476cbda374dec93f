package notify

import (
	"context"

	"github.com/quizsite/discuss/model"
)

// subscribed runs each time the broker subscription is (re)established.
// Messages may have been lost before it, so every connection must check
// the Store for what it missed; see catchUpAll.
func (h *Hub) subscribed() {
	select {
	case <-h.ready:
		h.m.resubscribes.Inc()
		// Changes of users announced meanwhile were lost too, and so were
		// live-thread events.
		if h.opts.OnResubscribed != nil {
			h.opts.OnResubscribed()
		}
		h.resyncFeeds()
	default:
	}
	h.mu.RLock()
	users := make([]int64, 0, len(h.users))
	for id := range h.users {
		users = append(users, id)
	}
	h.mu.RUnlock()
	if len(users) > 0 {
		go h.catchUpAll(users)
	}
	h.readyOnce.Do(func() { close(h.ready) })
}

// Limits of one batch of a resubscription's catch-up (see catchUpAll).
const (
	// catchUpBatchUsers bounds the users whose missed notifications one
	// Store call reads.
	catchUpBatchUsers = 200
	// catchUpBatchRows bounds the notifications one Store call reads, as
	// far as the sequence numbers tell beforehand.
	catchUpBatchRows = 2000
)

// catchUpAll has the connections of users that missed a message receive
// it from the Store. One read per connection would send thousands of reads
// to the database at the same moment after a broker blip, so it reads the
// users' sequence numbers first, a few hundred users a query, and compares
// each with how far the user's connections have sent (cursor.shown): most
// users missed nothing and cost nothing more. The others' missed
// notifications are read in batches of many users (Store.MissedNotifications)
// and handed to their connections, which send what they have not sent.
// Whatever commits after the sequence numbers were read is delivered live.
//
// A user behind by more than ReplayLimit, or whose batch cannot be read,
// is left to each connection's own catch-up, which resyncs past the limit
// and retries with backoff; so are all users when the numbers cannot be
// read at all.
func (h *Hub) catchUpAll(users []int64) {
	seqs, err := readStore(h, func(ctx context.Context) (map[int64]int64, error) {
		return h.store.NotificationSeqs(ctx, users)
	})
	if err != nil {
		if h.life.Err() == nil {
			h.log.Warn("notify: sequence numbers after resubscribing; every connection catches up", "err", err)
		}
		h.toAll(h.catchUp)
		return
	}
	var batch []model.NotificationRange
	rows := int64(0)
	for _, id := range users {
		seq, ok := seqs[id]
		if !ok {
			h.toUser(id, h.catchUp)
			continue
		}
		shownSeq, shownID, connected := h.shownBy(id)
		switch {
		case !connected || shownSeq >= seq:
			continue
		case seq-shownSeq > int64(h.opts.ReplayLimit):
			h.toUser(id, &frame{kind: kindCatchUp, seq: seq})
			continue
		}
		batch = append(batch, model.NotificationRange{UserID: id, AfterID: shownID, UpToSeq: seq})
		rows += seq - shownSeq
		if len(batch) == catchUpBatchUsers || rows >= catchUpBatchRows {
			h.catchUpBatch(batch)
			batch, rows = nil, 0
		}
	}
	if len(batch) > 0 {
		h.catchUpBatch(batch)
	}
}

// shownBy returns the lowest cursor among the user's connections: below
// it, every connection has sent everything.
func (h *Hub) shownBy(userID int64) (seq, id int64, connected bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for i, c := range h.users[userID] {
		s, n := c.cur.shown()
		if i == 0 || s < seq {
			seq = s
		}
		if i == 0 || n < id {
			id = n
		}
		connected = true
	}
	return seq, id, connected
}

// catchUpBatch reads one batch of ranges and queues each user's part to
// the user's connections.
func (h *Hub) catchUpBatch(ranges []model.NotificationRange) {
	missed, err := readStore(h, func(ctx context.Context) ([]model.MissedNotifications, error) {
		return h.store.MissedNotifications(ctx, ranges)
	})
	if err != nil {
		if h.life.Err() == nil {
			h.log.Warn("notify: reading missed notifications after resubscribing; those connections catch up one by one", "users", len(ranges), "err", err)
		}
		for _, r := range ranges {
			h.toUser(r.UserID, &frame{kind: kindCatchUp, seq: r.UpToSeq})
		}
		return
	}
	for i := range missed {
		h.toUser(missed[i].UserID, &frame{kind: kindCatchUp, seq: missed[i].Head.Seq, missed: &missed[i]})
	}
}
