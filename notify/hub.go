package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// ErrClosed is returned by Serve once the hub has shut down.
var ErrClosed = errors.New("notify: hub is shut down")

// Hub holds this instance's WebSocket connections and delivers to them what
// any instance publishes. It implements service.Publisher.
type Hub struct {
	opts   Options
	store  Store
	broker Broker
	log    *slog.Logger
	m      *metrics

	// writeBuffers is gorilla's write buffer pool, shared by every
	// connection so that an idle one holds no write buffer.
	writeBuffers *sync.Pool
	origins      model.Origins
	addresses    *addressSlots

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
	// active counts connections whose goroutines have not ended yet,
	// including ones already removed from users.
	active sync.WaitGroup

	// storeTurns holds a token for each Store call under way for a
	// connection; see withStore.
	storeTurns chan struct{}

	// Frames without a body are encoded once. retryCatchUp is the
	// catch-up a connection schedules after a Store failure; catchUp
	// asks for one unconditionally.
	pong, resync, catchUp, retryCatchUp *frame
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
	return &Hub{
		opts:         opts,
		store:        store,
		broker:       broker,
		log:          logger,
		m:            newMetrics(reg),
		writeBuffers: &sync.Pool{},
		origins:      model.NewOrigins(opts.AllowedOrigins),
		addresses:    newAddressSlots(opts.MaxConnectionsPerAddress, opts.ExemptAddresses),
		life:         life,
		endLife:      endLife,
		ready:        make(chan struct{}),
		users:        make(map[int64][]*client),
		pong:         newTypeOnlyFrame(kindPong),
		resync:       newTypeOnlyFrame(kindResync),
		storeTurns:   make(chan struct{}, opts.StoreConcurrency),
		catchUp:      &frame{kind: kindCatchUp, seq: -1},
		retryCatchUp: &frame{kind: kindCatchUp, seq: -1},
	}
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
	err := h.broker.Subscribe(running, h.deliver, h.subscribed)
	stop()
	h.shutdown()
	presence.Wait()
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
	for _, list := range h.users {
		for _, c := range list {
			c.registered = false
			all = append(all, c)
		}
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
// HTTP answer, and hand release to Serve, which calls it when the
// connection ends; call release yourself when the connection is not served.
func (h *Hub) ReserveAddress(addr netip.Addr) (release func(), ok bool) {
	return h.addresses.reserve(addr)
}

// Serve takes over a connection upgraded for user (see Upgrader): it
// registers the connection for live delivery, then sends hello, the replay
// (unread notifications, or those after *since when since is not nil) and
// live frames. When expires is not zero (the expiry of the token the
// connection was opened with) the connection is closed with 4001 then.
// release, when not nil, is called once the connection has ended (see
// ReserveAddress). Serve returns at once; the connection then lives on its
// own goroutines until it or the hub closes, independent of the HTTP
// request, which the caller should let go of (returning from the handler
// frees the request and the buffers of the hijacked connection).
func (h *Hub) Serve(conn *websocket.Conn, user *model.User, since *int64, expires time.Time, release func()) error {
	if release == nil {
		release = func() {}
	}
	if user == nil {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseInternalServerErr, ""), time.Now().Add(time.Second))
		_ = conn.Close()
		release()
		return errors.New("notify: Serve needs a user")
	}
	c := newClient(h, conn, user.ID, since, release)
	kicked, ok := h.register(c)
	if !ok {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, closeText(websocket.CloseGoingAway)), time.Now().Add(time.Second))
		_ = conn.Close()
		release()
		return ErrClosed
	}
	if kicked != nil {
		kicked.stop(CloseReplaced)
	}
	c.expireAt(expires)
	go c.open()
	return nil
}

// register adds c to its user's connections. When that passes the limit,
// the oldest is removed and returned for the caller to close.
func (h *Hub) register(c *client) (kicked *client, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false
	}
	list := h.users[c.userID]
	if len(list) > 0 {
		c.reads = list[0].reads
	} else {
		c.reads = &readPacer{}
	}
	list = append(list, c)
	if len(list) > h.opts.MaxConnectionsPerUser {
		kicked = list[0]
		kicked.registered = false
		list = slices.Delete(list, 0, 1)
		h.conns--
	}
	h.users[c.userID] = list
	h.conns++
	c.registered = true
	h.active.Add(1)
	h.setGaugesLocked()
	return kicked, true
}

// unregister removes c from live delivery; it may be called more than once.
func (h *Hub) unregister(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !c.registered {
		return
	}
	c.registered = false
	list := h.users[c.userID]
	if i := slices.Index(list, c); i >= 0 {
		list = slices.Delete(list, i, i+1)
	}
	if len(list) == 0 {
		delete(h.users, c.userID)
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

// Broker messages. One message is one change for one user (a notification,
// an unread count, or a request to catch up from the Store) or for everyone
// (a broadcast), carrying the frame already encoded so that each instance
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
	PublishedAt int64           `json:"t,omitempty"`
	Frame       json.RawMessage `json:"f"`
}

const (
	envNotification = "n"
	envUnreadCount  = "u"
	envBroadcast    = "b"
	envCatchUp      = "c"
)

// PublishNotification tells every connection of n.UserID, on every
// instance, about n; unread is the user's unread count with n included.
// While the broker is unreachable it still delivers to this instance's
// connections, returns the broker's error after at most PublishTimeout, and
// the other instances recover n from the Store when the broker is back.
//
// A negative unread means the publisher could not take the count (its
// database was too slow or away just after the commit). The frame cannot be
// built then, so the user's connections read what they are owed from the
// Store instead, retrying with backoff until it answers: the notification
// arrives late, with its true count, and once.
func (h *Hub) PublishNotification(ctx context.Context, n *model.Notification, unread int64) error {
	if n == nil || n.ID <= 0 || n.UserID <= 0 {
		return errors.New("notify: PublishNotification needs a stored notification with a recipient")
	}
	if unread < 0 {
		return h.publish(ctx, envelope{Kind: envCatchUp, UserID: n.UserID, ID: n.ID, Seq: n.Seq}, true)
	}
	f, err := newNotificationFrame(n, unread, false)
	if err != nil {
		return err
	}
	return h.publish(ctx, envelope{Kind: envNotification, UserID: n.UserID, ID: n.ID, Seq: n.Seq, PublishedAt: time.Now().UnixNano(), Frame: f.data}, true)
}

// PublishUnreadCount tells every connection of the user their unread count.
func (h *Hub) PublishUnreadCount(ctx context.Context, userID, unread int64) error {
	f, err := newUnreadCountFrame(unread)
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

// deliver routes one broker message to this instance's connections.
func (h *Hub) deliver(msg []byte) {
	var env envelope
	if err := json.Unmarshal(msg, &env); err != nil || (len(env.Frame) == 0 && env.Kind != envCatchUp) {
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
	default:
		// A newer instance during a rolling upgrade; nothing to do here.
	}
}

// subscribed runs each time the broker subscription is (re)established.
// Messages may have been lost before it, so every connection must check
// the Store for what it missed; see catchUpAll.
func (h *Hub) subscribed() {
	select {
	case <-h.ready:
		h.m.resubscribes.Inc()
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
	var seqs map[int64]int64
	err := h.withStore(h.life, func(ctx context.Context) error {
		var err error
		seqs, err = h.store.NotificationSeqs(ctx, users)
		return err
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
	var missed []model.MissedNotifications
	err := h.withStore(h.life, func(ctx context.Context) error {
		var err error
		missed, err = h.store.MissedNotifications(ctx, ranges)
		return err
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

func (h *Hub) toUser(userID int64, f *frame) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, c := range h.users[userID] {
		c.enqueue(f)
	}
}

func (h *Hub) toAll(f *frame) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, list := range h.users {
		for _, c := range list {
			c.enqueue(f)
		}
	}
}

// LocalCounts returns the users and connections of this instance alone.
func (h *Hub) LocalCounts() (users, connections int) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.users), h.conns
}

// Online counts distinct users and connections over every instance: this
// one exactly, the others as of their last report (at most
// PresenceInterval old). When the broker cannot answer it returns this
// instance's counts with the error.
func (h *Hub) Online(ctx context.Context) (users, connections int, err error) {
	if err := h.reportPresence(ctx); err != nil {
		users, connections = h.LocalCounts()
		return users, connections, err
	}
	users, connections, err = h.broker.Online(ctx)
	if err != nil {
		users, connections = h.LocalCounts()
	}
	return users, connections, err
}

func (h *Hub) presence() Presence {
	h.mu.RLock()
	defer h.mu.RUnlock()
	p := Presence{Instance: h.opts.InstanceID, Connections: h.conns, Users: make([]int64, 0, len(h.users))}
	for id := range h.users {
		p.Users = append(p.Users, id)
	}
	return p
}

func (h *Hub) reportPresence(ctx context.Context) error {
	return h.broker.ReportPresence(ctx, h.presence(), 3*h.opts.PresenceInterval)
}

// reportPresenceLoop reports this instance's counts every PresenceInterval
// until ctx ends, then withdraws them.
func (h *Hub) reportPresenceLoop(ctx context.Context) {
	t := time.NewTicker(h.opts.PresenceInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			ctx, cancel := context.WithTimeout(context.Background(), h.opts.PublishTimeout)
			defer cancel()
			_ = h.broker.ReportPresence(ctx, Presence{Instance: h.opts.InstanceID}, time.Second)
			return
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, h.opts.PublishTimeout)
			if err := h.reportPresence(rctx); err != nil && ctx.Err() == nil {
				h.log.Warn("notify: reporting presence", "err", err)
			}
			cancel()
		}
	}
}
