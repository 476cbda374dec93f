package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// frame is the part of a server frame the load generator reads.
type frame struct {
	Type         string            `json:"type"`
	Notification *notificationBody `json:"notification"`
	Message      string            `json:"message"`
	// A live-thread frame's post, and its comment (comment_created).
	PostID  int64         `json:"post_id"`
	Comment *frameComment `json:"comment"`
}

type frameComment struct {
	ID        int64     `json:"id"`
	CreatedAt time.Time `json:"created_at"`
}

// client is the WebSocket connection of one seeded user.
type client struct {
	idx  int
	user user

	conn    wsConn        // set by connect before the reader starts
	hello   chan struct{} // closed by the reader when hello arrives
	ended   chan struct{} // closed by the reader when it returns
	closing atomic.Bool   // we are closing it: its end is no drop
	up      atomic.Bool   // hello received and the reader still running; set by the reader
	// gotHello is set when hello arrives on this connection; only its
	// reader reads and sets it.
	gotHello bool
	// dropCode is the close code of the server's last drop of this
	// connection (-1 without a close frame), 0 when it did not drop it.
	dropCode atomic.Int64
	// lastID is the largest notification id received, the since of a
	// reconnect.
	lastID atomic.Int64
	pongs  atomic.Int64
}

// wsConn is what the swarm writes to a connection through: gorilla's
// *websocket.Conn, or a connection the pollers read (pollConn).
type wsConn interface {
	SetWriteDeadline(t time.Time) error
	WriteMessage(messageType int, data []byte) error
	WriteControl(messageType int, data []byte, deadline time.Time) error
	Close() error
}

// swarm holds the WebSocket clients of a run. Its sockets come from
// several loopback source addresses in turn: one address has only about
// 28,000 ephemeral ports, and a reconnect storm leaves each old one in
// TIME_WAIT.
type swarm struct {
	wsURL   string
	dialers []*websocket.Dialer
	clients []*client
	// onFrame handles every frame after hello, on the client's reader
	// goroutine, with the time it was read. Set before connecting.
	onFrame func(c *client, f *frame, at time.Time)

	connected atomic.Int64
	dropped   atomic.Int64 // connections the server ended
	resyncs   atomic.Int64
	badFrames atomic.Int64

	mu         sync.Mutex
	closeCodes map[int]int // close code of each drop, counted
	readers    sync.WaitGroup

	// polls reads the connections of the clients that polled picks, when
	// set (see poll).
	polls  *pollers
	polled func(*client) bool
}

func newSwarm(base *url.URL, users []user, sources int, timeout time.Duration) *swarm {
	ws := *base
	ws.Scheme = "ws"
	if base.Scheme == "https" {
		ws.Scheme = "wss"
	}
	ws.Path = "/ws"
	s := &swarm{wsURL: ws.String(), closeCodes: map[int]int{}}
	for i := range sources {
		nd := &net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i))}}
		s.dialers = append(s.dialers, &websocket.Dialer{
			NetDialContext:   nd.DialContext,
			HandshakeTimeout: timeout,
			// Small buffers: 15,000 idle clients share this process with
			// the server being measured.
			ReadBufferSize:  1024,
			WriteBufferSize: 256,
		})
	}
	for i, u := range users {
		s.clients = append(s.clients, &client{idx: i, user: u})
	}
	return s
}

// connectAll connects every client, at most concurrency handshakes at a
// time, since(c) giving each one's ?since (or -1 for none). It records in
// lat the time from dialling to hello, and returns how many failed, with
// the first error.
func (s *swarm) connectAll(ctx context.Context, concurrency int, since func(*client) int64, lat *latencies) (failed int, first error) {
	return s.connectSome(ctx, s.clients, concurrency, since, lat)
}

// connectSome is connectAll for some of the clients.
func (s *swarm) connectSome(ctx context.Context, clients []*client, concurrency int, since func(*client) int64, lat *latencies) (failed int, first error) {
	var mu sync.Mutex
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i, c := range clients {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return failed + len(clients) - i, ctx.Err()
		}
		wg.Go(func() {
			defer func() { <-sem }()
			start := time.Now()
			if err := s.connect(ctx, c, since(c)); err != nil {
				mu.Lock()
				failed++
				if first == nil {
					first = fmt.Errorf("%s: %w", c.user.name, err)
				}
				mu.Unlock()
				return
			}
			lat.add(time.Since(start))
		})
	}
	wg.Wait()
	return failed, first
}

// connect opens c's connection and waits for its hello frame.
func (s *swarm) connect(ctx context.Context, c *client, since int64) error {
	u := s.wsURL
	if since >= 0 {
		u += "?since=" + strconv.FormatInt(since, 10)
	}
	h := http.Header{"Authorization": {"Bearer " + c.user.token}}
	c.hello, c.ended = make(chan struct{}), make(chan struct{})
	c.closing.Store(false)
	c.dropCode.Store(0)
	c.gotHello = false
	d := s.dialers[c.idx%len(s.dialers)]
	var conn wsConn
	var err error
	if s.polls != nil && s.polled(c) && strings.HasPrefix(u, "ws:") {
		conn, err = s.polls.dial(ctx, c, u, h, d)
	} else {
		conn, err = s.dialGorilla(ctx, c, u, h, d)
	}
	if err != nil {
		return err
	}
	c.conn = conn
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case <-c.hello:
		return nil
	case <-c.ended:
		if code := c.dropCode.Load(); code != 0 {
			return fmt.Errorf("closed with %d before hello", code)
		}
		return errors.New("closed before hello")
	case <-timer.C:
		c.closing.Store(true)
		_ = conn.Close()
		return errors.New("no hello within 30s")
	case <-ctx.Done():
		c.closing.Store(true)
		_ = conn.Close()
		return ctx.Err()
	}
}

// dialGorilla opens c's connection through gorilla, and starts its
// reader.
func (s *swarm) dialGorilla(ctx context.Context, c *client, u string, h http.Header, d *websocket.Dialer) (wsConn, error) {
	ws, res, err := d.DialContext(ctx, u, h)
	if err != nil {
		if res != nil {
			return nil, fmt.Errorf("%w (HTTP %d)", err, res.StatusCode)
		}
		return nil, err
	}
	s.readers.Add(1)
	go s.read(c, ws)
	return ws, nil
}

// read is c's reader on its own goroutine, through gorilla, which also
// answers the server's pings while reading.
func (s *swarm) read(c *client, conn *websocket.Conn) {
	var buf bytes.Buffer
	for {
		data, err := readMessage(conn, &buf)
		if err != nil {
			_ = conn.Close()
			s.end(c, err)
			return
		}
		s.message(c, data, time.Now())
	}
}

// message handles a message that c's reader read at at: the hello that
// marks c up, the counts the swarm keeps, then onFrame. Only c's reader
// calls it.
func (s *swarm) message(c *client, data []byte, at time.Time) {
	var f frame
	if err := decodeFrame(data, &f); err != nil {
		s.badFrames.Add(1)
		return
	}
	switch f.Type {
	case "hello":
		// Only the reader marks the client up, as only it marks it
		// down: a close right after hello must find it up already.
		if !c.gotHello {
			c.gotHello = true
			s.connected.Add(1)
			c.up.Store(true)
			close(c.hello)
		}
		return
	case "pong":
		c.pongs.Add(1)
	case "resync":
		s.resyncs.Add(1)
	case "notification":
		if n := f.Notification; n != nil && n.ID > c.lastID.Load() {
			c.lastID.Store(n.ID)
		}
	}
	if s.onFrame != nil {
		s.onFrame(c, &f, at)
	}
}

// end records the end of c's connection, which its reader met as err
// (a *websocket.CloseError for the server's close frame) and has closed.
func (s *swarm) end(c *client, err error) {
	defer s.readers.Done()
	defer close(c.ended)
	if c.gotHello {
		s.connected.Add(-1)
	}
	c.up.Store(false)
	if c.closing.Load() {
		return
	}
	s.dropped.Add(1)
	code := -1
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		code = ce.Code
	}
	c.dropCode.Store(int64(code))
	s.mu.Lock()
	s.closeCodes[code]++
	s.mu.Unlock()
}

// readMessage reads the next message into buf and returns it; it is good
// until the next call. gorilla's ReadMessage allocates every message anew,
// and a thread-live run reads a million and a half of them, on the cores
// the server being measured runs on.
func readMessage(conn *websocket.Conn, buf *bytes.Buffer) ([]byte, error) {
	_, r, err := conn.NextReader()
	if err != nil {
		return nil, err
	}
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// closeAll closes every connection from our side and waits for the
// readers to end.
func (s *swarm) closeAll() {
	deadline := time.Now().Add(time.Second)
	for _, c := range s.clients {
		if c.conn == nil {
			continue
		}
		c.closing.Store(true)
		_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), deadline)
		_ = c.conn.Close()
	}
	s.readers.Wait()
}

// poll has the pollers read the connections of the clients that polled
// picks, from their next connect; stop ends them.
func (s *swarm) poll(polled func(*client) bool) error {
	p, err := newPollers(s)
	if err != nil {
		return err
	}
	s.polls, s.polled = p, polled
	return nil
}

// stop closes every connection and ends the pollers.
func (s *swarm) stop() {
	s.closeAll()
	if s.polls != nil {
		s.polls.stop()
	}
}

// pingAll sends every open connection the contract's ping frame and waits
// up to timeout for all pongs: proof that each socket is still served.
// It returns how many did not answer.
func (s *swarm) pingAll(timeout time.Duration) int {
	want := map[*client]int64{}
	for _, c := range s.clients {
		if c.conn == nil {
			continue
		}
		want[c] = c.pongs.Load() + 1
		_ = c.conn.SetWriteDeadline(time.Now().Add(timeout))
		if err := c.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)); err != nil {
			continue // counted as missing below
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		missing := 0
		for c, n := range want {
			if c.pongs.Load() < n {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			return missing
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
}

// takeDrop reports whether the server dropped c since the last call, so
// that a drop is counted as recovered once, however many reconnects it
// takes.
func (c *client) takeDrop() bool { return c.dropCode.Swap(0) != 0 }

// closedWith counts the server's drops with close code.
func (s *swarm) closedWith(code int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeCodes[code]
}

// drops describes the connections the server closed, by close code.
func (s *swarm) drops() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.closeCodes) == 0 {
		return "none"
	}
	out := ""
	for code, n := range s.closeCodes {
		if out != "" {
			out += ", "
		}
		if code < 0 {
			out += fmt.Sprintf("%d without a close frame", n)
		} else {
			out += fmt.Sprintf("%d with code %d", n, code)
		}
	}
	return out
}
