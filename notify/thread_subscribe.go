package notify

import (
	"context"
	"errors"

	"github.com/quizsite/discuss/model"
)

// A connection's side of the live thread (see thread.go for the feeds that
// order each post's events on this instance).
//
// # Subscribing
//
// A subscribing connection joins the post's feed first, so that whatever
// the feed passes on from then on is queued to it, then reads the head and
// the comments after after_comment_id up to it, sends post_subscribed and
// those comments, and goes on with its queue; a comment_created it has
// sent already (at or below its cursor) is skipped there. Everything the
// feed passed on before the join was at most its last, which committed
// before the head was read: the replay holds it. A feed starts unanchored,
// holding every event, until the first of its subscribers has read its
// head: last starts there. A subscriber whose own head is below that
// anchor (its read began before the anchoring one finished) reads once
// more, from its head up to a fresh one, since the feed will not pass on
// what lies between.
//
// The subscriber's queue holds the live events while its replay is read,
// as it does for notifications; a client too slow for a hot post fills it
// and is closed with 1013 like any other, though with more room (see
// threadQueueSlack).

const (
	// maxPostsPerConnection is how many posts one connection may follow.
	maxPostsPerConnection = 10
	// threadQueueSlack is how many frames more than SendQueueSize a
	// connection that follows posts may have queued. A hot post's comments
	// come in bursts: when the database stalls for a second or two, the
	// comments waiting on the post's lock commit one after another in
	// milliseconds, and a hundred frames reach every subscriber at once,
	// faster than any writer sends them. That is not a slow client; one
	// that stays behind for a few seconds of a busy post still is. The
	// frames are shared, so the slack costs a pointer each.
	threadQueueSlack = 256
)

// following is a post one connection follows: its feed, and the id of the
// last comment sent of it (cur), which only grows. It belongs to the
// connection's writer.
type following struct {
	fd  *feed
	cur int64
}

// subscribePost follows post f.postID on this connection, on its writer:
// join the feed, read the head and the replay, send post_subscribed and
// the replay, then anchor the feed (see the comment at the top of this
// file). A refusal is sent as an error frame; only write errors are
// returned.
func (c *client) subscribePost(f *frame) error {
	h, postID := c.hub, f.postID
	if c.posts == nil {
		c.posts = make(map[int64]*following)
	}
	if old, again := c.posts[postID]; again {
		// Subscribing again starts afresh, with the new after_comment_id;
		// the new following takes the old one's place below.
		h.leaveFeed(old.fd, c)
	} else if len(c.posts) >= maxPostsPerConnection {
		return c.write(newErrorFrame(model.Errorf(model.ERATELIMITED,
			"a connection follows at most %d posts; unsubscribe_post one first", maxPostsPerConnection), &postID))
	}
	fl := &following{fd: h.joinFeed(postID, c)}
	c.setFollowing(postID, fl)
	wait, cancel := context.WithTimeout(h.life, h.opts.StoreTimeout)
	defer cancel()
	head, list, err := h.readThread(wait, postID, f.prev)
	if err != nil {
		h.leaveFeed(fl.fd, c)
		c.setFollowing(postID, nil)
		return c.write(newErrorFrame(threadError(h, postID, err), &postID))
	}
	if err := c.write(newPostFrame(kindPostSubscribed, postID)); err != nil {
		return err
	}
	fl.cur = max(f.prev, head)
	if err := c.sendThread(postID, list); err != nil {
		return err
	}
	if anchor := h.anchorFeed(fl.fd, head); anchor > head {
		// The feed passes on nothing up to its anchor, which another
		// subscriber read after this one's head: read what lies between.
		head, list, err = h.readThread(wait, postID, fl.cur)
		if err != nil {
			// The client reloads the thread over REST instead.
			h.log.Info("notify: reading a live thread failed; resync", "post_id", postID, "err", err)
			fl.cur = max(fl.cur, anchor)
			return c.write(newPostFrame(kindPostResync, postID))
		}
		fl.cur = max(fl.cur, head)
		return c.sendThread(postID, list)
	}
	return nil
}

// setFollowing records that this connection follows post postID as fl,
// or no longer when fl is nil, and keeps following, which enqueue reads
// on other goroutines, equal to the number of posts followed.
func (c *client) setFollowing(postID int64, fl *following) {
	if fl == nil {
		delete(c.posts, postID)
	} else {
		c.posts[postID] = fl
	}
	c.following.Store(int32(len(c.posts)))
}

// sendThread writes comments read from the Store as comment_created,
// then post_resync when there were more than threadReplayLimit.
func (c *client) sendThread(postID int64, list []*model.Comment) error {
	for _, f := range c.hub.threadFrames(list) {
		if err := c.write(f); err != nil {
			return err
		}
	}
	if len(list) > threadReplayLimit {
		return c.write(newPostFrame(kindPostResync, postID))
	}
	return nil
}

// threadError is what a client is told when its subscription could not be
// read: the Store's own refusal (not_found), or unavailable.
func threadError(h *Hub, postID int64, err error) error {
	if _, ok := errors.AsType[*model.Error](err); ok && model.ErrorCode(err) != model.EINTERNAL {
		return err
	}
	h.log.Warn("notify: reading a live thread for a subscriber", "post_id", postID, "err", err)
	return model.Errorf(model.EUNAVAILABLE, "post %d cannot be read now; subscribe again later", postID)
}

// unsubscribePost stops following post postID, if this connection does.
func (c *client) unsubscribePost(postID int64) {
	if fl, ok := c.posts[postID]; ok {
		c.hub.leaveFeed(fl.fd, c)
		c.setFollowing(postID, nil)
	}
}

// handleThread writes a live-thread frame of a post this connection
// follows: a comment_created only above its cursor, which it moves; a
// post_deleted ends the subscription (the feed has let go of it already).
// Frames of posts it does not follow (any more) are dropped.
func (c *client) handleThread(f *frame) error {
	fl, ok := c.posts[f.postID]
	switch {
	case !ok:
		return nil
	case f.kind == kindCommentCreated:
		if f.id <= fl.cur {
			return nil
		}
		fl.cur = f.id
	case f.kind == kindPostDeleted:
		c.setFollowing(f.postID, nil)
	}
	return c.write(f)
}

// leaveFeeds takes a connection that has ended out of the feeds it
// follows; its writer has finished.
func (c *client) leaveFeeds() {
	for _, fl := range c.posts {
		c.hub.leaveFeed(fl.fd, c)
	}
	c.posts = nil
}
