package notify

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/quizsite/discuss/model"
)

// client is one connection: a WebSocket, or an event stream (see
// ServeEvents). After open a WebSocket runs readLoop, which reads client
// frames, for its whole life, and a writer (writeQueued) only while there
// is something to write: an idle connection costs one goroutine, not two.
// Others reach it through enqueue (or offer) and stop, which never block;
// the hub's ping loop enqueues its pings.
type client struct {
	hub *Hub
	// out writes the frames; conn is the WebSocket readLoop reads, nil for
	// an event stream, whose client sends nothing. A WebSocket admitted
	// before its upgrade (Hub.Admit) has neither until served (serve), and
	// nothing reads them before: its queue keeps what arrives, as open
	// holds the writer's turn from the start.
	out    transport
	conn   *websocket.Conn
	stream bool // an event stream, not a WebSocket
	// attached is set once out is (serve), for the timer of stop.
	attached atomic.Bool
	userID   int64
	// expires is when the token the connection was opened with expires
	// (see expireAt), kept from admission to serving.
	expires time.Time
	// resume is set when the client gave since, which is then cur.id.
	resume bool
	// expiry closes the connection with 4001 when its token expires; nil
	// for a token without expiry.
	expiry *time.Timer
	// release gives back the connection's address slot when it ends.
	release func()

	// queue holds the frames waiting for the writer, at most
	// Options.SendQueueSize, and is nil while empty. writing is set while a
	// writer runs (open, then one started by enqueue or stop), so that one
	// goroutine writes at a time. Both are guarded by queueMu.
	queueMu sync.Mutex
	queue   frameQueue
	writing bool
	// corked is set between cork and uncork, guarded by queueMu.
	corked bool
	// pingSlot is which of the hub's ping rounds pings this connection.
	pingSlot int
	// quit is closed by the first stop; the writer then sends closeCode
	// (if any) instead of the rest of the queue, and no writer runs again.
	quit       chan struct{}
	writerDone chan struct{}
	stopping   atomic.Bool
	closeCode  atomic.Int32

	registered bool // guarded by hub.mu
	// served is set once the connection is served, from when it counts
	// against the user's limit (see Hub.countServed); guarded by hub.mu.
	served bool
	// reads paces the read frames of all the user's connections; set at
	// registration.
	reads *readPacer

	// cur and posts (the posts it follows, see thread_subscribe.go)
	// belong to whichever goroutine writes: open, then each writer in turn
	// (queueMu orders them), then finish once the last has ended.
	cur   cursor
	posts map[int64]*following
	// following is len(posts), for enqueue: a connection that follows
	// posts may queue threadQueueSlack more frames.
	following atomic.Int32
}

func newClient(h *Hub, userID int64, since *int64, release func()) *client {
	c := &client{
		hub:        h,
		userID:     userID,
		release:    release,
		writing:    true, // open writes first
		pingSlot:   int(h.pingSlots.Add(1) % pingRounds),
		quit:       make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	if since != nil {
		c.resume, c.cur.id = true, max(*since, 0)
	}
	return c
}

// serve gives c the transport it writes to, and the WebSocket it reads
// (nil for an event stream). A client stopped before it had a transport
// has its drop timer started here (see stop): one of the two sees the
// other's flag.
func (c *client) serve(out transport, conn *websocket.Conn) {
	c.out, c.conn = out, conn
	c.attached.Store(true)
	if c.stopping.Load() && c.closeCode.Load() != 0 {
		c.dropLater()
	}
}

// expireAt closes the connection with 4001 when at comes: a socket must
// not outlive the token that opened it (the user may have been signed out,
// or lost the role the token named).
func (c *client) expireAt(at time.Time) {
	if at.IsZero() {
		return
	}
	c.expiry = time.AfterFunc(time.Until(at), func() { c.stop(CloseTokenExpired) })
}

// open sends hello and the replay read at admission (or its Store
// failure, err, which closes the connection with 1011), starts the reader
// of a WebSocket, and hands the writer's turn on to what was queued
// meanwhile. A WebSocket's 101 response waits in its socket (see
// NonBlocking) until uncork here, so that the 101, hello and the replay
// go out in one write.
func (c *client) open(head model.NotificationHead, list []*model.Notification, err error) {
	if err == nil && !c.stopping.Load() {
		// Stopped while admitted (the hub shut down): only the close frame.
		err = c.sendConnect(head, list)
	}
	if err != nil && !c.stopping.Load() {
		c.stop(websocket.CloseInternalServerErr)
	}
	if c.conn != nil {
		go c.readLoop()
	}
	c.handBack(c.out.uncork())
}

// enqueue queues f for the writer, starting one if none runs, or writes
// it here when nothing is queued before it (see offer). A client whose
// queue is full is too slow to keep: it is closed with 1013 and recovers
// by reconnecting with since.
func (c *client) enqueue(f *frame) {
	if c.offer(f) {
		c.writeHere(f)
	}
}

// offer is enqueue without the write in place: it queues f, or reports
// that f is the caller's to write (nothing is queued, no writer runs, and
// f needs no wait or Store read), having given the caller the writer's
// turn. The caller then calls writeHere(f), on whichever goroutine it
// likes: until then every frame queued to c waits behind f (see
// Hub.toAll).
func (c *client) offer(f *frame) (writeHere bool) {
	if c.stopping.Load() {
		return false
	}
	c.queueMu.Lock()
	if len(c.queue) >= c.hub.opts.SendQueueSize+threadQueueSlack*min(int(c.following.Load()), 1) {
		c.queueMu.Unlock()
		c.hub.m.overflows.Inc()
		c.hub.log.Info("notify: send queue full; closing connection", "user_id", c.userID)
		c.stop(websocket.CloseTryAgainLater)
		return false
	}
	if c.corked {
		// A feed's batch: uncork writes it.
		c.queue = append(c.queue, f)
		c.queueMu.Unlock()
		return false
	}
	if !c.writing && len(c.queue) == 0 && c.writesNow(f) {
		// Nothing is queued and no writer runs: f is written in place,
		// without waiting, as the writer would.
		c.writing = true
		c.queueMu.Unlock()
		return true
	}
	c.queue = append(c.queue, f)
	start := !c.writing
	c.writing = true
	c.queueMu.Unlock()
	if start {
		go c.writeQueued()
	}
	return false
}

// stop asks the connection to end, with a close frame of code unless code
// is 0 (the reader saw the connection end already). Only the first call
// counts. The TCP connection is dropped after WriteTimeout+CloseGrace even
// if the client never answers the close frame, or the writer is stuck
// writing to a client that does not read.
func (c *client) stop(code int) {
	if !c.stopping.CompareAndSwap(false, true) {
		return
	}
	c.closeCode.Store(int32(code))
	close(c.quit)
	// A writer must send the close frame: the running one sees stopping
	// before its next frame (it checks under queueMu, which kick takes
	// after stopping is set), or a new one starts.
	c.kick()
	if code != 0 && c.attached.Load() {
		c.dropLater()
	}
}

// dropLater drops the TCP connection once the close frame had its time.
func (c *client) dropLater() {
	time.AfterFunc(c.hub.opts.WriteTimeout+c.hub.opts.CloseGrace, func() { _ = c.out.drop() })
}

// closeText is the reason sent with each close code the server uses.
func closeText(code int) string {
	switch code {
	case websocket.CloseGoingAway:
		return "server shutting down"
	case websocket.CloseTryAgainLater:
		return "too slow to read; reconnect with since"
	case CloseReplaced:
		return "too many connections"
	case CloseTokenExpired:
		return "token expired"
	case websocket.CloseInvalidFramePayloadData:
		return "malformed frame"
	case websocket.CloseUnsupportedData:
		return "binary frames are not supported"
	case websocket.CloseInternalServerErr:
		return "internal error; reconnect with since"
	}
	return ""
}

// readLoop reads client frames until the connection ends. Any frame or
// pong from the client proves it alive for another PongTimeout.
func (c *client) readLoop() {
	var err error
	defer func() { c.finish(err) }()
	c.conn.SetReadLimit(c.hub.opts.MaxMessageBytes)
	c.extendRead()
	c.conn.SetPongHandler(func(string) error {
		c.extendRead()
		return nil
	})
	c.conn.SetPingHandler(func(data string) error {
		c.extendRead()
		// As gorilla's default handler: a failed pong is the reader's
		// business, which will see the connection fail too.
		_ = c.conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(c.hub.opts.WriteTimeout))
		if c.out.flushing() {
			c.kick()
		}
		return nil
	})
	for {
		var typ int
		var data []byte
		typ, data, err = c.conn.ReadMessage()
		if err != nil {
			return
		}
		c.extendRead()
		if c.stopping.Load() {
			continue // Closing: wait for the client's close frame.
		}
		if typ != websocket.TextMessage {
			c.stop(websocket.CloseUnsupportedData)
			continue
		}
		c.handleClientFrame(data)
	}
}

func (c *client) extendRead() {
	_ = c.conn.SetReadDeadline(time.Now().Add(c.hub.opts.PongTimeout))
}

func (c *client) handleClientFrame(data []byte) {
	f, err := parseClientFrame(data)
	switch {
	case errors.Is(err, errMalformedFrame):
		c.stop(websocket.CloseInvalidFramePayloadData)
	case err != nil:
		c.hub.log.Debug("notify: ignoring client frame", "user_id", c.userID, "err", err)
	case f.Type == clientPing:
		c.enqueue(c.hub.pong)
	case f.Type == clientSubscribe || f.Type == clientUnsubscribe:
		// The writer acts on it, in turn with the frames queued before it.
		postID, after, err := f.threadRequest()
		switch {
		case err != nil:
			c.enqueue(newErrorFrame(err, postID))
		case f.Type == clientSubscribe:
			// A subscription reads the post's head and up to
			// threadReplayLimit comments: paced like a read frame.
			if !c.awaitReadTurn() {
				return
			}
			c.enqueue(&frame{kind: kindSubscribe, postID: *postID, prev: after})
		default:
			c.enqueue(&frame{kind: kindUnsubscribe, postID: *postID})
		}
	case f.Type == clientRead:
		if !c.awaitReadTurn() {
			return
		}
		wait, cancel := context.WithTimeout(c.hub.life, c.hub.opts.StoreTimeout)
		defer cancel()
		// MarkRead publishes the new unread count to every connection of
		// the user, this one included.
		err := c.hub.withStore(wait, func(ctx context.Context) error {
			_, err := c.hub.store.MarkRead(ctx, c.userID, f.IDs, f.UpToID)
			return err
		})
		if err != nil {
			c.hub.log.Info("notify: read frame failed", "user_id", c.userID, "err", err)
		}
	}
}

// finish tears the connection down once readLoop has ended.
func (c *client) finish(err error) {
	c.hub.unregister(c)
	if c.expiry != nil {
		c.expiry.Stop()
	}
	c.stop(0)
	if errors.Is(err, websocket.ErrReadLimit) {
		c.linger()
	}
	_ = c.out.drop()
	<-c.writerDone
	c.leaveFeeds()
	c.release()
	c.hub.active.Done()
}

// linger lets the client take gorilla's 1009 close frame. The rest of its
// oversized frame is still arriving; closing the socket on unread data
// would send a TCP reset, which can destroy the close frame before the
// client reads it. So: half-close, and discard input until the client
// closes too or CloseGrace passes.
func (c *client) linger() {
	nc := c.conn.NetConn()
	if hc, ok := nc.(interface{ CloseWrite() error }); ok {
		_ = hc.CloseWrite()
	}
	_ = nc.SetReadDeadline(time.Now().Add(c.hub.opts.CloseGrace))
	_, _ = io.Copy(io.Discard, nc)
}
