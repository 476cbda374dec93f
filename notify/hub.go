package notify

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/quizsite/discuss/model"
)

// ErrClosed is returned by ServeAdmitted and ServeEvents once the hub has
// shut down, and by ServeEvents once CloseStreams was called.
var ErrClosed = errors.New("notify: hub is shut down")

// Hub holds this instance's live connections, WebSockets and event streams,
// and delivers to them what any instance publishes. It implements
// service.Publisher.
type Hub struct {
	opts   Options
	store  Store
	broker Broker
	log    *slog.Logger
	m      *metrics

	// writeBuffers is gorilla's write buffer pool, shared by every
	// connection so that an idle one holds no write buffer.
	writeBuffers *sync.Pool
	// corkBuffers keep the frames written to a corked connection until
	// uncork (see sockConn.cork).
	corkBuffers *sync.Pool
	origins     model.Origins
	addresses   *addressSlots

	// life bounds Store calls made for connections; it ends at shutdown.
	life    context.Context
	endLife context.CancelFunc

	ready     chan struct{}
	readyOnce sync.Once
	running   atomic.Bool

	mu     sync.RWMutex
	users  map[int64][]*client // each user's connections, oldest first
	conns  int
	closed bool
	// streamsClosed refuses new event streams; see CloseStreams.
	streamsClosed bool
	// active counts connections whose goroutines have not ended yet,
	// including ones already removed from users.
	active sync.WaitGroup

	// feeds order the live-thread events of each post that connections
	// here follow (see thread.go); a feed's own mutex is taken before
	// feedsMu.
	feedsMu sync.RWMutex
	feeds   map[int64]*feed

	// storeTurns holds a token for each Store call under way for a
	// connection; see withStore.
	storeTurns chan struct{}

	// Frames without a body are encoded once. retryCatchUp is the
	// catch-up a connection schedules after a Store failure; catchUp
	// asks for one unconditionally; ping is the pingLoop's.
	pong, resync, catchUp, retryCatchUp, ping *frame

	// pingSlots deals connections into ping rounds; rounds holds each
	// round's connections (guarded by mu), so that a round visits only
	// its own; pingOnce starts the pingLoop with the first connection.
	pingSlots atomic.Int64
	rounds    [pingRounds]map[*client]struct{}
	pingOnce  sync.Once

	// arrived and departed are the users whose first connection opened,
	// or last closed, since Options.Presence was last told (guarded by
	// mu); recordWake tells recordPresenceLoop there are some.
	arrived, departed map[int64]struct{}
	recordWake        chan struct{}
}

// New returns a hub reading missed notifications from store and exchanging
// changes with the other instances through broker. Its metrics are
// registered on reg when reg is not nil. Call Run to start delivery.
func New(opts Options, store Store, broker Broker, logger *slog.Logger, reg prometheus.Registerer) *Hub {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts = opts.withDefaults()
	life, endLife := context.WithCancel(context.Background())
	h := &Hub{
		opts:         opts,
		store:        store,
		broker:       broker,
		log:          logger,
		m:            newMetrics(reg),
		writeBuffers: &sync.Pool{},
		corkBuffers:  &sync.Pool{},
		origins:      model.NewOrigins(opts.AllowedOrigins),
		addresses:    newAddressSlots(opts.MaxConnectionsPerAddress, opts.ExemptAddresses),
		life:         life,
		endLife:      endLife,
		ready:        make(chan struct{}),
		users:        make(map[int64][]*client),
		feeds:        make(map[int64]*feed),
		pong:         newTypeOnlyFrame(kindPong),
		resync:       newTypeOnlyFrame(kindResync),
		storeTurns:   make(chan struct{}, opts.StoreConcurrency),
		catchUp:      &frame{kind: kindCatchUp, seq: -1},
		retryCatchUp: &frame{kind: kindCatchUp, seq: -1},
		ping:         &frame{kind: kindPing},
		arrived:      make(map[int64]struct{}),
		departed:     make(map[int64]struct{}),
		recordWake:   make(chan struct{}, 1),
	}
	for i := range h.rounds {
		h.rounds[i] = make(map[*client]struct{})
	}
	return h
}

// Ready is closed once the hub is subscribed to the broker, from when
// everything published reaches its connections.
func (h *Hub) Ready() <-chan struct{} { return h.ready }

// Run subscribes to the broker and delivers until ctx ends, or until the
// broker subscription fails for good. Then it closes every connection with
// 1001 (going away) and waits for them to end (at most WriteTimeout plus
// CloseGrace). It returns nil when ctx ended, else the broker's error: the
// hub then delivers nothing more, and its caller should stop serving. Run
// may be called once.
func (h *Hub) Run(ctx context.Context) error {
	if !h.running.CompareAndSwap(false, true) {
		return errors.New("notify: Run called twice")
	}
	// The presence reports end with the subscription, whichever ends it.
	running, stop := context.WithCancel(ctx)
	defer stop()
	var presence sync.WaitGroup
	presence.Go(func() { h.reportPresenceLoop(running) })
	if h.opts.Presence != nil {
		presence.Go(func() { h.recordPresenceLoop(running) })
	}
	err := h.broker.Subscribe(running, h.deliver, h.subscribed)
	stop()
	h.shutdown()
	presence.Wait()
	// Every user of this instance has departed.
	h.recordPresence(context.Background(), false)
	if ctx.Err() != nil {
		return nil
	}
	if err == nil {
		err = errors.New("notify: the broker subscription ended")
	}
	return err
}

// shutdown refuses new connections and closes every open one with 1001.
func (h *Hub) shutdown() {
	h.mu.Lock()
	h.closed = true
	var all []*client
	for id, list := range h.users {
		for _, c := range list {
			c.registered = false
			all = append(all, c)
		}
		h.markPresenceLocked(id, false)
	}
	clear(h.users)
	h.conns = 0
	h.setGaugesLocked()
	h.mu.Unlock()

	h.endLife() // Abandon replays in progress.
	for _, c := range all {
		c.stop(websocket.CloseGoingAway)
	}
	done := make(chan struct{})
	go func() {
		h.active.Wait()
		close(done)
	}()
	// Each stopped connection drops its TCP connection by itself after
	// WriteTimeout+CloseGrace; this wait is only a backstop.
	t := time.NewTimer(h.opts.WriteTimeout + h.opts.CloseGrace + time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		h.log.Warn("notify: connections still closing at shutdown")
	}
}

// ReserveAddress takes one of the connections the client address addr may
// hold (Options.MaxConnectionsPerAddress), or reports false when it holds
// them all. Call it before the upgrade, so that a refused client gets an
// HTTP answer, and hand release to Admit, which has it called when the
// connection ends; call release yourself when the connection is not served.
func (h *Hub) ReserveAddress(addr netip.Addr) (release func(), ok bool) {
	return h.addresses.reserve(addr)
}

// Admission is a WebSocket connection admitted before its upgrade (see
// Admit): registered for live delivery, its replay read. Hand it to
// ServeAdmitted once upgraded, or to Abandon when the upgrade failed.
type Admission struct {
	c *client
	// closed is set when the hub had shut down: the connection is only
	// told so (1001).
	closed bool
	// err is the replay's Store failure: the connection is closed with
	// 1011 once upgraded, and the client tries again; or the Store found
	// no such user (UnknownUser).
	err  error
	head model.NotificationHead
	list []*model.Notification
}

// Admit does, before a WebSocket is upgraded, what connecting costs: it
// registers a connection for user for live delivery, from which
// everything published for the user is kept for it, and reads its replay
// (unread notifications, or those after *since when since is not nil)
// from the Store, waiting at most StoreTimeout. The 101, hello and the
// replay then go out in one write (ServeAdmitted). The connection counts
// among the hub's connections from now on (Online), but against the
// user's limit (Options.MaxConnectionsPerUser) only once served. When
// expires is not zero the connection is closed with 4001 then. release,
// when not nil, is called once the connection has ended (see
// ReserveAddress), or by Abandon. The replay's head is read from the
// user's row: when the Store finds no such user, the caller refuses the
// connection instead (UnknownUser).
func (h *Hub) Admit(userID int64, since *int64, expires time.Time, release func()) *Admission {
	if release == nil {
		release = func() {}
	}
	c := newClient(h, userID, since, release)
	c.expires = expires
	a := &Admission{c: c}
	if !h.register(c) {
		a.closed = true
		return a
	}
	a.head, a.list, a.err = c.readReplay()
	return a
}

// UnknownUser reports that the Store found no user of the admission's id
// (an ENOTFOUND head): the caller answers as for a token naming nobody,
// before the upgrade, and abandons the admission.
func (a *Admission) UnknownUser() bool { return unknownUser(a.err) }

// unknownUser reports whether err is a Store's answer for a user it does
// not have (see Store.NotificationHead).
func unknownUser(err error) bool { return model.ErrorCode(err) == model.ENOTFOUND }

// Abandon gives up an admission whose upgrade failed: the connection
// leaves the hub and its address slot is released.
func (h *Hub) Abandon(a *Admission) {
	c := a.c
	if a.closed {
		c.release()
		return
	}
	h.unregister(c)
	c.stopping.Store(true)
	c.release()
	h.active.Done()
}

// ServeAdmitted takes over the connection of a, upgraded through
// NonBlocking, whose 101 response is still kept: it writes the 101, hello
// and the replay together, as far as the socket takes them without
// waiting, then live frames. A connection the hub refused (it had shut
// down; ErrClosed) is closed with 1001, one whose replay failed with 1011.
// ServeAdmitted returns at once; the connection then lives on its own
// goroutines until it or the hub closes, independent of the HTTP
// request, which the caller should let go of (returning from the handler
// frees the request and the buffers of the hijacked connection).
func (h *Hub) ServeAdmitted(conn *websocket.Conn, a *Admission) error {
	c := a.c
	out := newWSTransport(conn, h.corkBuffers)
	if a.closed {
		if out.sayClose(websocket.CloseGoingAway, time.Now().Add(time.Second)) == nil {
			out.uncork()
			_ = out.flush()
		}
		_ = out.drop()
		c.release()
		return ErrClosed
	}
	c.serve(out, conn)
	if kicked := h.countServed(c); kicked != nil {
		kicked.stop(CloseReplaced)
	}
	c.expireAt(c.expires)
	c.open(a.head, a.list, a.err)
	return nil
}

// register adds c to its user's connections, for live delivery; it
// reports false once the hub has shut down (or, for an event stream, has
// closed its streams). c counts against the user's limit only once served
// (countServed): a handshake under way replaces nobody.
func (h *Hub) register(c *client) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || (c.stream && h.streamsClosed) {
		return false
	}
	list := h.users[c.userID]
	if len(list) > 0 {
		c.reads = list[0].reads
	} else {
		c.reads = &readPacer{}
		h.markPresenceLocked(c.userID, true)
	}
	h.users[c.userID] = append(list, c)
	h.conns++
	c.registered = true
	h.rounds[c.pingSlot][c] = struct{}{}
	h.pingOnce.Do(func() { go h.pingLoop() })
	h.active.Add(1)
	h.setGaugesLocked()
	return true
}

// countServed counts c, now served, against its user's limit. When the
// user's served connections pass it, the oldest is removed and returned
// for the caller to close.
func (h *Hub) countServed(c *client) (kicked *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !c.registered {
		return nil // Shut down meanwhile: stopped already.
	}
	c.served = true
	list := h.users[c.userID]
	served := 0
	for _, o := range list {
		if o.served {
			served++
		}
	}
	if served <= h.opts.MaxConnectionsPerUser {
		return nil
	}
	i := slices.IndexFunc(list, func(o *client) bool { return o.served })
	kicked = list[i]
	kicked.registered = false
	h.users[c.userID] = slices.Delete(list, i, i+1)
	delete(h.rounds[kicked.pingSlot], kicked)
	h.conns--
	h.setGaugesLocked()
	return kicked
}

// unregister removes c from live delivery; it may be called more than once.
func (h *Hub) unregister(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !c.registered {
		return
	}
	c.registered = false
	delete(h.rounds[c.pingSlot], c)
	list := h.users[c.userID]
	if i := slices.Index(list, c); i >= 0 {
		list = slices.Delete(list, i, i+1)
	}
	if len(list) == 0 {
		delete(h.users, c.userID)
		h.markPresenceLocked(c.userID, false)
	} else {
		h.users[c.userID] = list
	}
	h.conns--
	h.setGaugesLocked()
}

func (h *Hub) setGaugesLocked() {
	h.m.connections.Set(float64(h.conns))
	h.m.users.Set(float64(len(h.users)))
}

// pingRounds is how many rounds the connections are pinged in, one round
// every PingInterval/pingRounds, so that each connection is pinged once an
// interval and the pings of thousands are spread over it, not sent at once.
// A round's pings are written one after another on the ping loop, and their
// pongs come back together: at 15,000 connections and 25 rounds a second's
// 600 made a burst of a few milliseconds of both processes' CPU, which
// showed in the push latency's p99. 250 rounds, one every 100 ms by default,
// make it 60.
const pingRounds = 250

// pingLoop has the writer of every connection send a WebSocket ping once a
// PingInterval, each in its round, until the hub shuts down. One timer for
// the hub, rather than a ticker and a waiting goroutine per connection, is
// what lets an idle connection have no writer.
func (h *Hub) pingLoop() {
	// A tick takes as many rounds as keep the ticker at 1 ms or slower,
	// so that a short interval (the tests') still pings each connection
	// once an interval.
	step := max(1, int((pingRounds*time.Millisecond+h.opts.PingInterval-1)/h.opts.PingInterval))
	t := time.NewTicker(max(h.opts.PingInterval*time.Duration(step)/pingRounds, time.Millisecond))
	defer t.Stop()
	var due []*client
	for round := 0; ; {
		select {
		case <-h.life.Done():
			return
		case <-t.C:
		}
		// Enqueue outside the lock: it may start writers, and
		// registrations need not wait for that.
		h.mu.RLock()
		due = due[:0]
		for range step {
			for c := range h.rounds[round] {
				due = append(due, c)
			}
			round = (round + 1) % pingRounds
		}
		h.mu.RUnlock()
		for _, c := range due {
			c.enqueue(h.ping)
		}
		clear(due)
	}
}
