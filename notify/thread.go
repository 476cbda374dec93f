package notify

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/quizsite/discuss/model"
)

// The live thread: a connection may follow up to maxPostsPerConnection
// posts (subscribe_post), and is sent each change to their discussions as
// it happens, comment_created frames of one post in comment-id order.
//
// # Order
//
// A post's comments commit in id order (each takes the post's row lock),
// and each comment_created event names its predecessor in the post
// (model.ThreadEvent.PrevCommentID). Their publishes do not arrive in that
// order: each follows its own commit, on any instance, through a broker
// that may also lose some. So each instance orders a post's events once,
// for all its subscribers of the post, in a feed: the feed remembers the
// last comment it has passed on (last), passes a comment whose predecessor
// is at or below it, and holds back one whose predecessor is not there yet,
// together with the updates, deletions and like counts of comments above
// last (the comment they change has not been passed on yet). A held event
// starts one read of the post's comments above last from the Store, by
// the feed and not by each subscriber: a hot post with a thousand
// subscribers costs one read per gap, not a thousand. A predecessor that
// turns up meanwhile, or the read, releases the held events in turn. As
// for notifications, the read goes up to a head read before it
// (ThreadStore.ThreadHead), never further: MariaDB may show a read a
// comment that committed after another that it misses.
//
// A connection's side, its subscriptions and the frames it writes of them,
// is in thread_subscribe.go.

const (
	// threadReplayLimit is the most comments replayed after
	// after_comment_id (and read by a feed at once); past it the client is
	// sent post_resync.
	threadReplayLimit = 200
	// maxHeld bounds the events a feed holds back while it waits for a
	// comment; past it, its subscribers are sent post_resync and the feed
	// starts again from what it holds (see feed.overflow).
	maxHeld = 1000
)

// feed orders the live-thread events of one post for this instance's
// subscribers of it; see the comment at the top of this file.
type feed struct {
	postID int64

	mu   sync.Mutex
	subs map[*client]struct{}
	// inbox holds the events from the broker not taken yet, in arrival
	// order; draining is set while a goroutine takes them (see drain).
	// Both are guarded by inboxMu, which the broker's reader takes, never
	// mu, which a fan-out holds.
	inboxMu  sync.Mutex
	inbox    frameQueue
	draining bool
	// anchored is set once a subscriber has read the post's head (anchor);
	// until then every event is held.
	anchored bool
	anchor   int64
	// last is the id of the last comment passed on, or a head up to which
	// everything was passed on (or is not visible).
	last int64
	// held are the events waiting for a comment, by comment id, a
	// comment_created before the other events of the same comment.
	held []*frame
	// reading is set while a read of the post's comments is under way or
	// scheduled; retry is the wait before the next attempt after a failed
	// one.
	reading bool
	retry   time.Duration
	// gone is set when the feed has left the hub (its post was deleted, or
	// its last subscriber left); a gone feed passes nothing on.
	gone bool
}

// PublishThread tells the subscribers of e.PostID on every instance about
// e. The frame is encoded once here and shared by every subscriber. While
// the broker is unreachable this instance's subscribers are still told; the
// others learn of a missed comment with the next one (see feed).
func (h *Hub) PublishThread(ctx context.Context, e *model.ThreadEvent) error {
	if e == nil || e.PostID <= 0 {
		return errors.New("notify: PublishThread needs an event with a post")
	}
	f, err := newThreadFrame(e)
	if err != nil {
		return err
	}
	return h.publish(ctx, envelope{Kind: envThread, PostID: e.PostID, Event: e.Type, ID: f.id, Prev: f.prev, Frame: f.data}, true)
}

// deliverThread hands a live-thread event from the broker to the post's
// feed, if this instance has subscribers of the post, and returns: the
// feed's own goroutine passes it on (see drain), so that the broker's
// reader, which also carries every notification, never waits for the
// thousand enqueues of a hot post.
func (h *Hub) deliverThread(env envelope) {
	kind, ok := threadKind(env.Event)
	if !ok || env.PostID <= 0 {
		return // A newer instance's event, during a rolling upgrade.
	}
	h.feedsMu.RLock()
	fd := h.feeds[env.PostID]
	h.feedsMu.RUnlock()
	if fd == nil {
		return
	}
	fd.inboxMu.Lock()
	defer fd.inboxMu.Unlock()
	fd.inbox = append(fd.inbox, &frame{kind: kind, postID: env.PostID, id: env.ID, prev: env.Prev, data: env.Frame})
	if !fd.draining {
		fd.draining = true
		go h.drain(fd)
	}
}

// drain takes the feed's inbox in arrival order until it is empty. One
// drain runs at a time per feed. The events that came while it passed on
// the last are taken together (at most maxBatch), each subscriber corked
// meanwhile: when comments come faster than they are written, they reach
// a subscriber several to a write system call, which is what lets a
// loaded feed catch up rather than fall further behind.
func (h *Hub) drain(fd *feed) {
	for {
		fd.inboxMu.Lock()
		n := min(len(fd.inbox), maxBatch)
		if n == 0 {
			fd.inbox = nil
			fd.draining = false
			fd.inboxMu.Unlock()
			return
		}
		batch := slices.Clone(fd.inbox[:n])
		clear(fd.inbox[:n])
		fd.inbox = fd.inbox[n:]
		fd.inboxMu.Unlock()
		fd.mu.Lock()
		corked := fd.cork(len(batch))
		for _, f := range batch {
			h.take(fd, f)
		}
		uncork(corked)
		fd.mu.Unlock()
	}
}

// maxBatch is the most events a feed passes on in one batch: each
// subscriber keeps a batch's frames in memory until the batch is done.
const maxBatch = 32

// cork corks the feed's subscribers (see client.cork) for a batch of n
// events, when there are several, and returns them, for uncork; they are
// returned rather than found again, as the batch may end the feed and
// let go of its subscribers. fd.mu is held.
func (fd *feed) cork(n int) []*client {
	if n < 2 {
		return nil
	}
	subs := make([]*client, 0, len(fd.subs))
	for c := range fd.subs {
		c.cork()
		subs = append(subs, c)
	}
	return subs
}

func uncork(subs []*client) {
	inShards(len(subs), func(lo, hi int) {
		for _, c := range subs[lo:hi] {
			c.uncork()
		}
	})
}

// take passes f on in its turn, or holds it. fd.mu is held.
func (h *Hub) take(fd *feed, f *frame) {
	switch {
	case fd.gone:
	case f.kind == kindPostDeleted:
		h.endFeed(fd, f)
	case fd.anchored && f.kind == kindCommentCreated && f.id <= fd.last:
		// Passed on already, or read.
	case !fd.anchored || fd.waits(f):
		fd.hold(f)
		if len(fd.held) > maxHeld {
			fd.overflow(h)
		}
		if fd.anchored {
			h.readFeed(fd)
		}
	default:
		fd.pass(f)
		h.release(fd)
	}
}

// waits reports whether f must wait for a comment not passed on yet: a
// comment_created whose predecessor, or an event about a comment, above
// last.
func (fd *feed) waits(f *frame) bool {
	if f.kind == kindCommentCreated {
		return f.prev > fd.last
	}
	return f.id > fd.last
}

// hold adds f to the held events, in their order; a comment_created held
// already is not held twice.
func (fd *feed) hold(f *frame) {
	created := f.kind == kindCommentCreated
	i := slices.IndexFunc(fd.held, func(g *frame) bool {
		return g.id > f.id || (g.id == f.id && created && g.kind != kindCommentCreated)
	})
	if i < 0 {
		i = len(fd.held)
	}
	if created && i > 0 && fd.held[i-1].id == f.id && fd.held[i-1].kind == kindCommentCreated {
		return
	}
	fd.held = slices.Insert(fd.held, i, f)
}

// pass gives f to every subscriber, written in place where nothing waits
// before it (writeInPlace), else queued; a comment_created moves last.
// The writes are done when it returns, so that the feed's next events
// find its subscribers free (or corked) rather than each with a writer
// goroutine of its own.
func (fd *feed) pass(f *frame) {
	here := make([]*client, 0, len(fd.subs))
	for c := range fd.subs {
		if c.offer(f) {
			here = append(here, c)
		}
	}
	writeInPlace(here, f)
	if f.kind == kindCommentCreated {
		fd.last = max(fd.last, f.id)
	}
}

// release passes on the held events whose turn has come, in order, and
// starts a read when some still wait. fd.mu is held.
func (h *Hub) release(fd *feed) {
	for len(fd.held) > 0 {
		f := fd.held[0]
		if f.kind != kindCommentCreated || f.id > fd.last {
			if fd.waits(f) {
				break
			}
			fd.pass(f)
		}
		fd.held[0] = nil
		fd.held = fd.held[1:]
	}
	if len(fd.held) == 0 {
		fd.held = nil
		return
	}
	h.readFeed(fd)
}

// overflow gives up on the comments a feed has waited for too long (the
// Store has been failing meanwhile): its subscribers reload the thread
// over REST (post_resync), and the feed goes on from the newest event it
// holds. fd.mu is held.
func (fd *feed) overflow(h *Hub) {
	fd.pass(newPostFrame(kindPostResync, fd.postID))
	for _, f := range fd.held {
		fd.last = max(fd.last, f.id)
	}
	fd.held = nil
	h.log.Warn("notify: live thread held too many events; its subscribers resync", "post_id", fd.postID)
}

// endFeed passes the post's end (post_deleted) to every subscriber and
// takes the feed out of the hub: the subscriptions end. fd.mu is held.
func (h *Hub) endFeed(fd *feed, f *frame) {
	fd.pass(f)
	fd.gone, fd.held = true, nil
	clear(fd.subs)
	h.dropFeed(fd)
}

// dropFeed removes fd from the hub's feeds. fd.mu is held, and taken
// before feedsMu, as everywhere.
func (h *Hub) dropFeed(fd *feed) {
	h.feedsMu.Lock()
	defer h.feedsMu.Unlock()
	if h.feeds[fd.postID] == fd {
		delete(h.feeds, fd.postID)
	}
}

// readFeed starts a read of the post's comments after last, unless one is
// under way or scheduled: they are passed on in order, last moves up to the
// head read first, and the held events follow. fd.mu is held.
func (h *Hub) readFeed(fd *feed) {
	if fd.reading || fd.gone {
		return
	}
	fd.reading = true
	after := fd.last
	go func() {
		head, list, err := h.readThread(h.life, fd.postID, after)
		fd.mu.Lock()
		defer fd.mu.Unlock()
		fd.reading = false
		switch {
		case fd.gone || h.life.Err() != nil:
			return
		case model.ErrorCode(err) == model.ENOTFOUND:
			// Deleted, or hidden: its post_deleted may have been lost.
			h.endFeed(fd, newPostFrame(kindPostDeleted, fd.postID))
			return
		case err != nil:
			fd.retry = min(max(2*fd.retry, time.Second), maxRetry)
			h.log.Warn("notify: reading a live thread failed; retrying", "post_id", fd.postID, "err", err, "after", fd.retry)
			fd.reading = true
			time.AfterFunc(fd.retry, func() {
				fd.mu.Lock()
				defer fd.mu.Unlock()
				fd.reading = false
				if len(fd.held) > 0 {
					h.readFeed(fd)
				}
			})
			return
		}
		fd.retry = 0
		h.m.threadReads.Inc()
		frames := h.threadFrames(list)
		corked := fd.cork(len(frames) + len(fd.held))
		defer uncork(corked)
		for _, f := range frames {
			if f.id > fd.last {
				fd.pass(f)
			}
		}
		if len(list) > threadReplayLimit {
			// More than a page behind (the read waited long for its
			// turn): read on from the last one passed, rather than send
			// every subscriber to reload the thread over REST at once.
			h.readFeed(fd)
			return
		}
		fd.last = max(fd.last, head)
		h.release(fd)
	}()
}

// readThread reads, with a turn at the Store, the post's head and, when
// after is not -1, its comments after it up to the head (at most
// threadReplayLimit+1, so that the caller sees when there are more).
func (h *Hub) readThread(wait context.Context, postID, after int64) (head int64, list []*model.Comment, err error) {
	err = h.withStore(wait, func(ctx context.Context) error {
		var err error
		if head, err = h.store.ThreadHead(ctx, postID); err != nil || after < 0 || head <= after {
			return err
		}
		list, err = h.store.ThreadComments(ctx, postID, after, head, threadReplayLimit+1)
		return err
	})
	return head, list, err
}

// threadFrames encodes comments read from the Store as comment_created
// frames, at most threadReplayLimit of them; one that cannot be encoded is
// logged and left out.
func (h *Hub) threadFrames(list []*model.Comment) []*frame {
	list = list[:min(len(list), threadReplayLimit)]
	frames := make([]*frame, 0, len(list))
	for _, cm := range list {
		f, err := newThreadFrame(&model.ThreadEvent{Type: model.ThreadCommentCreated, PostID: cm.PostID, Comment: cm})
		if err != nil {
			h.log.Error("notify: skipping comment", "id", cm.ID, "err", err)
			continue
		}
		frames = append(frames, f)
	}
	return frames
}

// joinFeed adds c to the subscribers of post postID on this instance,
// making its feed when it has none.
func (h *Hub) joinFeed(postID int64, c *client) *feed {
	for {
		h.feedsMu.Lock()
		fd := h.feeds[postID]
		if fd == nil {
			fd = &feed{postID: postID, subs: make(map[*client]struct{})}
			h.feeds[postID] = fd
		}
		h.feedsMu.Unlock()
		fd.mu.Lock()
		if !fd.gone {
			fd.subs[c] = struct{}{}
			fd.mu.Unlock()
			return fd
		}
		fd.mu.Unlock() // Leaving the hub: make a new one.
	}
}

// leaveFeed removes c from fd's subscribers; the last to leave takes the
// feed out of the hub.
func (h *Hub) leaveFeed(fd *feed, c *client) {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	delete(fd.subs, c)
	if len(fd.subs) == 0 && !fd.gone {
		fd.gone = true
		h.dropFeed(fd)
	}
}

// anchorFeed anchors fd at head, read by a subscriber after it joined,
// unless a subscriber did so already, and returns the anchor.
func (h *Hub) anchorFeed(fd *feed, head int64) int64 {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if !fd.anchored && !fd.gone {
		fd.anchored, fd.anchor, fd.last = true, head, max(fd.last, head)
		h.release(fd)
	}
	return fd.anchor
}

// resyncFeeds tells every subscriber to reload its threads over REST
// (post_resync): after a loss of the broker subscription, updates,
// deletions and like counts may have been lost, which no read by comment
// id recovers. A missed comment shows as a gap with the next one.
func (h *Hub) resyncFeeds() {
	h.feedsMu.RLock()
	feeds := make([]*feed, 0, len(h.feeds))
	for _, fd := range h.feeds {
		feeds = append(feeds, fd)
	}
	h.feedsMu.RUnlock()
	for _, fd := range feeds {
		fd.mu.Lock()
		if !fd.gone {
			fd.pass(newPostFrame(kindPostResync, fd.postID))
		}
		fd.mu.Unlock()
	}
}
