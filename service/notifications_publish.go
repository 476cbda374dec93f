package service

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/quizsite/discuss/model"
)

// Publishing: after commit, what a transaction wrote reaches the hub
// through Publisher, each user's unread and unseen counts with it, in
// per-user order.

const (
	// publishTimeout bounds the publishing of one transaction's outbox,
	// which runs after the request's own work is done.
	publishTimeout = 5 * time.Second
	// publishStripes is how many locks serialise publishing per user; see
	// notificationCore.stripes.
	publishStripes = 64
)

// publish tells clients about what a committed transaction wrote. Publish
// errors are logged, never returned: the rows are the truth, and clients
// that miss a message recover it from the database by id.
//
// publish runs on after the request's context ends (the client that caused
// the change is not the one being told), bounded by its own timeout. The
// Publisher must not call back into the notifications services
// synchronously.
func (s *notificationCore) publish(ctx context.Context, out Outbox) {
	for _, e := range out.threads {
		s.publishThread(ctx, e)
	}
	if len(out.notifications) == 0 && len(out.recounts) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()

	byUser := map[int64][]*model.Notification{}
	var users []int64
	for _, n := range out.notifications {
		if byUser[n.UserID] == nil {
			users = append(users, n.UserID)
		}
		byUser[n.UserID] = append(byUser[n.UserID], n)
	}
	for _, u := range users {
		var known *knownCounts
		if k, ok := out.known[u]; ok && len(byUser[u]) == 1 {
			known = &k
		}
		// Without a count the notifications still go out, marked as such,
		// and the hub has the user's connections read them from the
		// database (see Publisher): a live push is never just dropped.
		s.publishCount(ctx, u, known, true, func(counts model.NotificationCounts) error {
			var errs []error
			for _, n := range byUser[u] {
				errs = append(errs, s.pub.PublishNotification(ctx, n, counts))
			}
			return errors.Join(errs...)
		})
	}
	for _, u := range out.recounts {
		if byUser[u] != nil {
			continue // the notification carried the new count
		}
		byUser[u] = []*model.Notification{} // and each user hears it once
		s.publishCount(ctx, u, nil, false, func(counts model.NotificationCounts) error {
			return s.pub.PublishUnreadCount(ctx, u, counts)
		})
	}
}

// unknownCounts stands for counts that could not be taken: published with
// a notification, it has the hub read the notification from the database
// instead (see Publisher).
func unknownCounts() model.NotificationCounts {
	return model.NotificationCounts{Unread: -1, Unseen: -1}
}

// publishMany publishes notifications of distinct users, one each, as
// publish would, but counts the unread and unseen notifications of
// lookupChunk users in one statement: a fan-out batch publishes to
// hundreds of users, and one count each would take longer than writing
// their rows. Each chunk's
// users' stripes are held, taken in ascending order, from before their
// counts are taken until their notifications are published.
func (s *notificationCore) publishMany(ctx context.Context, notes []*model.Notification) {
	if len(notes) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	for chunk := range slices.Chunk(notes, lookupChunk) {
		users := make([]int64, len(chunk))
		var stripes []uint64
		for i, n := range chunk {
			users[i] = n.UserID
			stripes = append(stripes, uint64(n.UserID)%publishStripes)
		}
		slices.Sort(stripes)
		stripes = slices.Compact(stripes)
		for _, i := range stripes {
			s.stripes[i].mu.Lock()
		}
		counts, err := s.countsOf(ctx, users)
		if err != nil {
			s.log.WarnContext(ctx, "notifications: counts for publishing", "users", len(users), "error", err.Error())
		}
		var errs []error
		for _, n := range chunk {
			c := unknownCounts() // the connections read n from the database
			if err == nil {
				c = counts[n.UserID]
			}
			errs = append(errs, s.pub.PublishNotification(ctx, n, c))
		}
		for _, i := range slices.Backward(stripes) {
			s.stripes[i].published.Add(1)
			s.stripes[i].mu.Unlock()
		}
		if err := errors.Join(errs...); err != nil {
			s.log.WarnContext(ctx, "notifications: publish", "users", len(users), "error", err.Error())
		}
	}
}

// countsChanged publishes userID's new counts, after some of their
// notifications were marked read or their seen mark moved, and returns
// them.
func (s *notificationCore) countsChanged(ctx context.Context, userID int64) (model.NotificationCounts, error) {
	pubCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	counts := s.publishCount(pubCtx, userID, nil, false, func(counts model.NotificationCounts) error {
		return s.pub.PublishUnreadCount(pubCtx, userID, counts)
	})
	if counts.Unread < 0 {
		// The change committed; only the count failed. Ask once more so
		// the caller gets a real error if the database is gone.
		return s.counts(ctx, userID)
	}
	return counts, nil
}

// publishCount passes userID's unread and unseen counts to send, holding
// the user's stripe throughout (see notificationCore.stripes).
//
// The counts are known, when given, or else read. Known counts are those a
// transaction of the user's read under their row's lock, plus its own
// notification; they stand only while nothing of the stripe was published
// since the transaction read the stripe's generation, before its commit.
// Every later change to the counts commits after it (it held the lock) and
// is published with counts taken after it: until one of those is
// published, the known counts are the newest; once one may have been,
// they are read again. It returns the counts, whose Unread is -1 when they
// could not be taken; then it calls send only when sendUnknown is set.
func (s *notificationCore) publishCount(ctx context.Context, userID int64, known *knownCounts, sendUnknown bool, send func(counts model.NotificationCounts) error) model.NotificationCounts {
	stripe := &s.stripes[uint64(userID)%publishStripes]
	stripe.mu.Lock()
	defer stripe.mu.Unlock()
	var counts model.NotificationCounts
	var err error
	if known != nil && stripe.published.Load() == known.generation {
		counts = known.counts
	} else {
		counts, err = s.counts(ctx, userID)
	}
	if err != nil {
		s.log.WarnContext(ctx, "notifications: counts for publishing", "user_id", userID, "error", err.Error())
		counts = unknownCounts()
		if !sendUnknown {
			return counts
		}
	}
	stripe.published.Add(1)
	if err := send(counts); err != nil {
		s.log.WarnContext(ctx, "notifications: publish", "user_id", userID, "error", err.Error())
	}
	return counts
}

// knownCounts are a recipient's counts with a transaction's notification,
// read under their row's lock, and the generation of their stripe then,
// both before the commit (see publishCount).
type knownCounts struct {
	counts     model.NotificationCounts
	generation uint64
}

// knownAfter returns the counts of each recipient of plan once its
// notification is written: one more unread and one more unseen than were
// read with its lock (bumpSeqs adds them), with its stripe's generation
// now. Called inside the transaction, before its commit.
func (s *notificationCore) knownAfter(plan notifyPlan) map[int64]knownCounts {
	known := make(map[int64]knownCounts, len(plan))
	for _, r := range plan {
		known[r.userID] = knownCounts{
			counts:     model.NotificationCounts{Unread: r.counts.Unread + 1, Unseen: r.counts.Unseen + 1},
			generation: s.stripes[uint64(r.userID)%publishStripes].published.Load(),
		}
	}
	return known
}
