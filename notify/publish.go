package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/quizsite/discuss/model"
)

// Broker messages. One message is one change for one user (a notification,
// the counts of the user's bell, a request to catch up from the Store, or a change of the
// user's own row), for the followers of one post (a live-thread event) or for everyone (a broadcast), carrying the frame already encoded so that each instance
// decodes it once and shares it between connections.
type envelope struct {
	Kind   string `json:"k"`
	UserID int64  `json:"u,omitempty"`
	// ID and Seq are the notification's id and its number in the user's
	// sequence, for ordered, exactly-once delivery; a catch-up carries
	// them too when it stands for one notification.
	ID  int64 `json:"id,omitempty"`
	Seq int64 `json:"s,omitempty"`
	// PublishedAt is when a notification was published, in Unix ns.
	PublishedAt int64 `json:"t,omitempty"`
	// A live-thread event names its post, its type and, for a
	// comment_created, the comment before it in the post (Prev); ID is
	// the comment it is about, if any.
	PostID int64           `json:"p,omitempty"`
	Event  string          `json:"e,omitempty"`
	Prev   int64           `json:"v,omitempty"`
	Frame  json.RawMessage `json:"f"`
}

const (
	envNotification = "n"
	envUnreadCount  = "u"
	envBroadcast    = "b"
	envCatchUp      = "c"
	envUserChanged  = "x"
	envThread       = "t"
)

// PublishNotification tells every connection of n.UserID, on every
// instance, about n; counts are the user's unread and unseen counts with n
// included.
// While the broker is unreachable it still delivers to this instance's
// connections, returns the broker's error after at most PublishTimeout, and
// the other instances recover n from the Store when the broker is back.
//
// A negative unread count means the publisher could not take the counts
// (its database was too slow or away just after the commit). The frame
// cannot be built then, so the user's connections read what they are owed
// from the Store instead, retrying with backoff until it answers: the
// notification arrives late, with its true counts, and once.
func (h *Hub) PublishNotification(ctx context.Context, n *model.Notification, counts model.NotificationCounts) error {
	if n == nil || n.ID <= 0 || n.UserID <= 0 {
		return errors.New("notify: PublishNotification needs a stored notification with a recipient")
	}
	if counts.Unread < 0 {
		return h.publish(ctx, envelope{Kind: envCatchUp, UserID: n.UserID, ID: n.ID, Seq: n.Seq}, true)
	}
	f, err := newNotificationFrame(n, counts, false)
	if err != nil {
		return err
	}
	return h.publish(ctx, envelope{Kind: envNotification, UserID: n.UserID, ID: n.ID, Seq: n.Seq, PublishedAt: time.Now().UnixNano(), Frame: f.data}, true)
}

// PublishUnreadCount tells every connection of the user their unread and
// unseen counts, after either changed.
func (h *Hub) PublishUnreadCount(ctx context.Context, userID int64, counts model.NotificationCounts) error {
	f, err := newUnreadCountFrame(counts)
	if err != nil {
		return err
	}
	return h.publish(ctx, envelope{Kind: envUnreadCount, UserID: userID, Frame: f.data}, true)
}

// PublishBroadcast sends a to every connection on every instance. Unlike
// the others it has no local fallback: a broadcast delivered locally and
// then again through a broker that did get it would show twice.
func (h *Hub) PublishBroadcast(ctx context.Context, a *model.Announcement) error {
	if a == nil {
		return errors.New("notify: PublishBroadcast needs an announcement")
	}
	f, err := newBroadcastFrame(a)
	if err != nil {
		return err
	}
	return h.publish(ctx, envelope{Kind: envBroadcast, Frame: f.data}, false)
}

// publish hands env to the broker. The caller's cancellation is ignored:
// publishing follows a commit, and a client hanging up on its request is
// no reason for others not to hear of it.
func (h *Hub) publish(ctx context.Context, env envelope, localFallback bool) error {
	msg, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("notify: encoding broker message: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.opts.PublishTimeout)
	defer cancel()
	if err := h.broker.Publish(ctx, msg); err != nil {
		h.m.publishErrors.Inc()
		if localFallback {
			h.deliver(msg)
		}
		return err
	}
	return nil
}

// PublishUserChanged tells every instance that the user's row changed, so
// that each calls Options.OnUserChanged (and drops its cached copy). This
// instance calls it at once, before the broker's echo, so that the next
// request here sees the change; while the broker is unreachable the others
// forget every user when their subscription returns (OnResubscribed).
func (h *Hub) PublishUserChanged(ctx context.Context, userID int64) error {
	h.userChanged(userID)
	return h.publish(ctx, envelope{Kind: envUserChanged, UserID: userID}, false)
}

func (h *Hub) userChanged(userID int64) {
	if h.opts.OnUserChanged != nil && userID > 0 {
		h.opts.OnUserChanged(userID)
	}
}

// deliver routes one broker message to this instance's connections.
func (h *Hub) deliver(msg []byte) {
	var env envelope
	err := json.Unmarshal(msg, &env)
	frameless := env.Kind == envCatchUp || env.Kind == envUserChanged
	if err != nil || (len(env.Frame) == 0 && !frameless) {
		h.log.Warn("notify: dropping malformed broker message", "err", err)
		return
	}
	f := &frame{data: env.Frame}
	switch env.Kind {
	case envCatchUp:
		if env.Seq <= 0 {
			h.toUser(env.UserID, h.catchUp)
		} else {
			h.toUser(env.UserID, &frame{kind: kindCatchUp, seq: env.Seq})
		}
	case envNotification:
		if env.ID <= 0 || env.Seq < 0 {
			return
		}
		f.kind, f.id, f.seq, f.publishedAt = kindNotification, env.ID, env.Seq, env.PublishedAt
		h.toUser(env.UserID, f)
	case envUnreadCount:
		f.kind = kindUnreadCount
		h.toUser(env.UserID, f)
	case envBroadcast:
		f.kind = kindBroadcast
		h.toAll(f)
	case envUserChanged:
		h.userChanged(env.UserID)
	case envThread:
		h.deliverThread(env)
	default:
		// A newer instance during a rolling upgrade; nothing to do here.
	}
}

func (h *Hub) toUser(userID int64, f *frame) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, c := range h.users[userID] {
		c.enqueue(f)
	}
}

// toAll gives f, a broadcast, to every connection. Under the hub's lock
// each connection either queues f, for its writer, or gives f its
// writer's turn (offer); outside it, the connections that gave it are
// written in place, the same encoded frame to each, by at most GOMAXPROCS
// goroutines (inShards), away from the broker's reader that called toAll.
// A writer goroutine started for each of 15,000 connections (its start,
// its wake-up, its stack grown on the first write) took an eighth of the
// server's CPU for a broadcast, and the lock, with the goroutine
// delivering, for nearly all of the broadcast: the writers ran ahead of
// the loop that started them. Every turn is taken before toAll returns, so
// whatever is delivered after f waits behind it on every connection: on
// each, the order is the broker's.
func (h *Hub) toAll(f *frame) {
	h.mu.RLock()
	here := make([]*client, 0, h.conns)
	for _, list := range h.users {
		for _, c := range list {
			if c.offer(f) {
				here = append(here, c)
			}
		}
	}
	h.mu.RUnlock()
	if len(here) > 0 {
		go writeInPlace(here, f)
	}
}

// writeInPlace writes f to each of here, whose writer's turn offer gave
// the caller, and returns when all are written. Every yieldEvery writes
// it lets the goroutines that became runnable meanwhile run first: a
// thousand writes keep a P for several milliseconds, and Go's scheduler
// does not preempt a goroutine for its time slice's first 10 ms, so a
// request whose answer from MariaDB came in would wait for the whole
// fan-out (the comment after this one among them). In turns against
// 42e7d04, whose feed wrote from one goroutine without yielding, eight
// thread-live runs each, the POST -> last subscriber p50 went from 15.0 to
// 13.7 ms and the p99 from 56 to 50 ms (means).
func writeInPlace(here []*client, f *frame) {
	inShards(len(here), func(lo, hi int) {
		for i, c := range here[lo:hi] {
			if i > 0 && i%yieldEvery == 0 {
				runtime.Gosched()
			}
			c.writeHere(f)
		}
	})
}

// yieldEvery is how many writes writeInPlace makes between yields.
const yieldEvery = 64

// inShards calls do for the ranges of [0, n) that split it into at most
// GOMAXPROCS shards of at least minShard, each but the first on a
// goroutine of its own and the first on the caller's, and returns when
// all have returned. Writing to a socket is a system call whose cost is
// the kernel's, on loopback both ends' TCP: a thousand of them in a row
// keep one core busy for milliseconds while the other waits.
func inShards(n int, do func(lo, hi int)) {
	shards := max(1, min(runtime.GOMAXPROCS(0), (n+minShard-1)/minShard))
	var wg sync.WaitGroup
	for i := 1; i < shards; i++ {
		wg.Go(func() { do(i*n/shards, (i+1)*n/shards) })
	}
	do(0, n/shards)
	wg.Wait()
}

// minShard is the fewest connections inShards has a goroutine write to:
// fewer, and starting it costs more than the writes it would share.
const minShard = 64
