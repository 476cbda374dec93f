package notify

import "time"

// A connection's writing: a frame is written by the goroutine that queues
// it when nothing is queued before it and it needs no Store read
// (writeHere), else by a writer goroutine that runs while frames are
// queued (writeQueued); a feed corks its subscribers for a batch (cork,
// uncork), and a broadcast is written by a few goroutines for every
// connection (Hub.toAll). One goroutine at a time has the writer's turn
// (client.writing).

// writesNow reports whether f can be written on the goroutine that queues
// it: the transport does not wait for the client, and f's turn needs no
// Store read (a notification in its turn, not one past a gap; not a
// subscription). The caller has the writer's turn, or holds queueMu while
// no writer runs.
func (c *client) writesNow(f *frame) bool {
	if !c.out.writesNow() {
		return false
	}
	switch f.kind {
	case kindNotification:
		return c.cur.settled(f.id, f.seq) || c.cur.next(f.seq)
	case kindPing, kindPong, kindUnreadCount, kindBroadcast, kindError,
		kindCommentCreated, kindCommentUpdated, kindCommentDeleted, kindPostUpdated, kindPostDeleted, kindLikeCount, kindPostResync:
		return true
	}
	return false
}

// writeHere writes f on the caller's goroutine, which has taken the
// writer's turn (writing) with an empty queue, then hands the turn back,
// or to a writer goroutine when the socket did not take all of f, frames
// were queued meanwhile, or the client is being stopped.
func (c *client) writeHere(f *frame) {
	if err := c.handle(f); err != nil {
		c.writeFailed()
		return
	}
	c.handBack(c.out.flushing())
}

// handBack ends a turn at writing taken without a writer goroutine: it
// lets the turn go, or starts a writer when the socket did not take
// everything (flushing), frames were queued meanwhile, or the client is
// being stopped.
func (c *client) handBack(flushing bool) {
	c.queueMu.Lock()
	if len(c.queue) == 0 && !c.stopping.Load() && !flushing {
		c.writing = false
		c.queueMu.Unlock()
		return
	}
	c.queueMu.Unlock()
	go c.writeQueued()
}

// cork has the connection keep the frames queued to it until uncork, which
// writes them together: a feed passing on several events at once (see
// Hub.drain) sends each subscriber one write system call, not one a frame.
// Nothing is written meanwhile, so keep it short.
func (c *client) cork() {
	c.queueMu.Lock()
	c.corked = true
	c.queueMu.Unlock()
}

// uncork ends cork. Unless a writer runs (it writes the queue as ever),
// the frames queued meanwhile are written here, in one write of the
// transport as far as the socket takes them without waiting, and a writer
// is started for the rest; from the first frame that needs a Store read
// on, the writer writes them.
func (c *client) uncork() {
	c.queueMu.Lock()
	c.corked = false
	if c.writing || len(c.queue) == 0 {
		c.queueMu.Unlock()
		return
	}
	c.writing = true
	batch := c.queue
	c.queue = nil
	c.queueMu.Unlock()
	c.out.cork()
	for i, f := range batch {
		if !c.writesNow(f) {
			c.queueMu.Lock()
			c.queue = append(batch[i:len(batch):len(batch)], c.queue...)
			c.queueMu.Unlock()
			break
		}
		if err := c.handle(f); err != nil {
			c.out.uncork()
			c.writeFailed()
			return
		}
	}
	c.handBack(c.out.uncork())
}

// kick starts a writer, if none runs: to flush what another goroutine
// wrote (the reader's pong), or to send the close frame (stop).
func (c *client) kick() {
	c.queueMu.Lock()
	start := !c.writing
	c.writing = true
	c.queueMu.Unlock()
	if start {
		go c.writeQueued()
	}
}

// writeQueued writes queued frames until the queue is empty and the
// transport has flushed them, then ends. A stopped client gets its close
// frame next, not the rest of its queue, and after it, or after a failed
// write, no writer runs again: writing stays set, and writerDone is
// closed.
func (c *client) writeQueued() {
	for {
		// What the socket did not take at once, of the last frame or of
		// one written elsewhere, goes before the next.
		if err := c.out.flush(); err != nil {
			c.writeFailed()
			return
		}
		c.queueMu.Lock()
		if c.stopping.Load() {
			c.queue = nil
			c.queueMu.Unlock()
			c.writeClose()
			close(c.writerDone)
			return
		}
		f, ok := c.queue.shift()
		if !ok {
			if c.out.flushing() {
				// The reader's pong, written since the flush above.
				c.queueMu.Unlock()
				continue
			}
			c.writing = false
			c.queueMu.Unlock()
			return
		}
		c.queueMu.Unlock()
		if err := c.handle(f); err != nil {
			c.writeFailed()
			return
		}
	}
}

// writeFailed ends a connection whose client is gone, or did not take a
// frame within WriteTimeout: drop it, which ends readLoop too.
func (c *client) writeFailed() {
	_ = c.out.drop()
	close(c.writerDone)
}

// handle writes one queued frame. A notification goes out only in its
// turn (see cursor): one already settled is skipped, the next one is
// written, and one past a gap has the gap read from the Store first, which
// sends it too. While a failed catch-up waits for its retry, frames past a
// gap are left to that retry, so a Store that is down is not asked again
// for every frame.
func (c *client) handle(f *frame) error {
	switch f.kind {
	case kindPing:
		return c.out.keepAlive(time.Now().Add(c.hub.opts.WriteTimeout))
	case kindCatchUp:
		if f == c.hub.retryCatchUp {
			c.cur.retrying = false
		}
		if f.missed != nil {
			return c.sendMissed(f.missed)
		}
		return c.catchUp(f.seq)
	case kindNotification:
		switch {
		case c.cur.settled(f.id, f.seq):
			return nil
		case c.cur.next(f.seq):
			if err := c.write(f); err != nil {
				return err
			}
			c.cur.settle(f.id, f.seq)
			return nil
		case c.cur.retrying:
			return nil
		default:
			c.hub.m.gaps.Inc()
			return c.catchUp(-1)
		}
	case kindSubscribe:
		return c.subscribePost(f)
	case kindUnsubscribe:
		c.unsubscribePost(f.postID)
		return nil
	case kindCommentCreated, kindCommentUpdated, kindCommentDeleted, kindPostUpdated, kindPostDeleted, kindLikeCount, kindPostResync:
		return c.handleThread(f)
	}
	return c.write(f)
}

// write writes one frame within WriteTimeout.
func (c *client) write(f *frame) error {
	if err := c.out.send(f, time.Now().Add(c.hub.opts.WriteTimeout)); err != nil {
		return err
	}
	if f.kind < kindCatchUp {
		c.hub.m.framesSent[f.kind].Inc()
	}
	if f.publishedAt > 0 {
		c.hub.m.latency.Observe(time.Since(time.Unix(0, f.publishedAt)).Seconds())
	}
	return nil
}

func (c *client) writeClose() {
	code := int(c.closeCode.Load())
	if code == 0 {
		return
	}
	if c.out.sayClose(code, time.Now().Add(min(c.hub.opts.WriteTimeout, c.hub.opts.CloseGrace))) == nil {
		_ = c.out.flush()
	}
}
