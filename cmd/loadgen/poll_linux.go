//go:build linux

package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// pollers read some of a swarm's connections (thread-live's subscribers)
// from one goroutine per P, each waiting on an epoll instance of its own,
// instead of from a goroutine per connection.
//
// loadgen shares the cores with the server it measures. Through gorilla, each
// comment of a thread-live run wakes a thousand reader goroutines, and
// each reads twice: its frame, then EAGAIN before it parks again. The
// comment POST after it waits in loadgen's run queue behind them. Here one
// epoll_wait per loop finds a comment's thousand sockets, and one
// recvfrom(2) each takes its frame. A socket the pollers read is taken from Go's
// network poller (dial), which would otherwise be woken for each frame too.
type pollers struct {
	s     *swarm
	loops []*pollLoop
	next  atomic.Uint32
}

// pollLoop is one goroutine's epoll instance and the connections in it.
type pollLoop struct {
	epfd int
	// stop is a pipe whose write end, closed, ends run.
	stop [2]int
	done chan struct{}

	mu    sync.Mutex
	conns map[int32]*pollConn // by descriptor
}

// pollConn is a WebSocket connection that a pollLoop reads. Only the loop
// touches in and msg; writes take wmu, which also guards fd against its
// close.
type pollConn struct {
	s    *swarm
	c    *client
	loop *pollLoop
	fd   int

	// in is what was read and not yet taken as frames; msg, the frames so
	// far of a message that came in several (fragmented says so).
	in         []byte
	msg        []byte
	fragmented bool

	wmu      sync.Mutex
	deadline time.Time
	closed   bool // the descriptor is closed (by the loop), or shut down (Close)
}

// maxMessage bounds a message from the server, as a guard against a
// corrupt length: the largest the server sends is a replay of comments.
const maxMessage = 16 << 20

func newPollers(s *swarm) (*pollers, error) {
	p := &pollers{s: s}
	for range runtime.GOMAXPROCS(0) {
		l, err := newPollLoop()
		if err != nil {
			p.stop()
			return nil, err
		}
		p.loops = append(p.loops, l)
		go l.run()
	}
	return p, nil
}

func newPollLoop() (*pollLoop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	l := &pollLoop{epfd: epfd, done: make(chan struct{}), conns: map[int32]*pollConn{}}
	if err := syscall.Pipe2(l.stop[:], syscall.O_CLOEXEC); err != nil {
		_ = syscall.Close(epfd)
		return nil, fmt.Errorf("pipe2: %w", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(l.stop[0])}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, l.stop[0], &ev); err != nil {
		l.closeFDs()
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	return l, nil
}

func (l *pollLoop) closeFDs() {
	_ = syscall.Close(l.epfd)
	_ = syscall.Close(l.stop[0])
	_ = syscall.Close(l.stop[1])
}

// stop ends every loop, and with it every connection still in one (as
// net.ErrClosed), and waits for them.
func (p *pollers) stop() {
	for _, l := range p.loops {
		_ = syscall.Close(l.stop[1])
	}
	for _, l := range p.loops {
		<-l.done
		_ = syscall.Close(l.epfd)
		_ = syscall.Close(l.stop[0])
	}
	p.loops = nil
}

// dial opens c's connection to rawURL (a ws: URL) with header h, does the
// WebSocket handshake through Go's network poller, then moves the socket
// to one of the loops. What came after the handshake response (hello,
// usually, which the server sends with it) is read first.
func (p *pollers) dial(ctx context.Context, c *client, rawURL string, h http.Header, d *websocket.Dialer) (wsConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	conn, err := d.NetDialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	var deadline time.Time
	if d.HandshakeTimeout > 0 {
		deadline = time.Now().Add(d.HandshakeTimeout)
	}
	if err := conn.SetDeadline(deadline); err != nil {
		_ = conn.Close()
		return nil, err
	}
	// As gorilla's DialContext, the handshake ends with ctx.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	rest, err := handshake(conn, u, h)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	fd, err := detach(conn)
	if err != nil {
		return nil, err
	}
	l := p.loops[int(p.next.Add(1))%len(p.loops)]
	pc := &pollConn{s: p.s, c: c, loop: l, fd: fd, in: make([]byte, len(rest), max(4096, len(rest)))}
	copy(pc.in, rest)
	// The frames that came with the response, before the socket is
	// watched: were they all, nothing would make it readable again.
	p.s.readers.Add(1)
	if err := pc.consume(time.Now()); err != nil {
		pc.closeFD()
		p.s.end(c, err)
		return pc, nil
	}
	l.mu.Lock()
	l.conns[int32(fd)] = pc
	l.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)}
	if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		pc.end(fmt.Errorf("epoll_ctl: %w", err))
	}
	return pc, nil
}

// handshake sends the upgrade request for u on conn and reads the
// server's 101 response, within conn's deadline, and returns what the
// server sent after it.
func handshake(conn net.Conn, u *url.URL, h http.Header) ([]byte, error) {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req := &http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Header: h.Clone(), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", key)
	req.Header.Set("Sec-WebSocket-Version", "13")
	if err := req.Write(conn); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 4096)
	res, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("%w (HTTP %d)", websocket.ErrBadHandshake, res.StatusCode)
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if !strings.EqualFold(res.Header.Get("Upgrade"), "websocket") ||
		res.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		return nil, fmt.Errorf("%w: no WebSocket accept in the 101 response", websocket.ErrBadHandshake)
	}
	rest, _ := br.Peek(br.Buffered())
	return slices.Clone(rest), nil
}

// detach returns a descriptor of conn's socket that Go's network poller
// does not watch, and closes conn: the poller forgets its descriptor
// (EPOLL_CTL_DEL) before closing it, and the socket lives on in the
// duplicate. The duplicate blocks, for write's sake (its deadline is
// SO_SNDTIMEO); readable reads it with MSG_DONTWAIT.
func detach(conn net.Conn) (int, error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		_ = conn.Close()
		return -1, errors.New("not a socket")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		_ = conn.Close()
		return -1, err
	}
	fd := -1
	cerr := raw.Control(func(s uintptr) {
		if fd, err = syscall.Dup(int(s)); err == nil {
			syscall.CloseOnExec(fd)
		}
	})
	_ = conn.Close()
	if cerr == nil && err == nil {
		// O_NONBLOCK belongs to the open socket, shared with the closed
		// descriptor, which no longer needs it.
		err = syscall.SetNonblock(fd, false)
	}
	if cerr != nil || err != nil {
		if fd >= 0 {
			_ = syscall.Close(fd)
		}
		return -1, fmt.Errorf("detaching the socket: %w", errors.Join(cerr, err))
	}
	return fd, nil
}

func (l *pollLoop) run() {
	defer close(l.done)
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(l.epfd, events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			l.endAll(fmt.Errorf("epoll_wait: %w", err))
			return
		}
		for _, ev := range events[:n] {
			if ev.Fd == int32(l.stop[0]) {
				l.endAll(net.ErrClosed)
				return
			}
			l.mu.Lock()
			pc := l.conns[ev.Fd]
			l.mu.Unlock()
			if pc != nil {
				pc.readable()
			}
		}
	}
}

func (l *pollLoop) endAll(err error) {
	l.mu.Lock()
	left := slices.Collect(maps.Values(l.conns))
	l.mu.Unlock()
	for _, pc := range left {
		pc.end(err)
	}
}

// readable reads what the socket has, once: epoll is level-triggered, so
// what a full buffer left behind is reported again.
func (pc *pollConn) readable() {
	if len(pc.in) == cap(pc.in) {
		pc.in = slices.Grow(pc.in, cap(pc.in))
	}
	n, _, err := syscall.Recvfrom(pc.fd, pc.in[len(pc.in):cap(pc.in)], syscall.MSG_DONTWAIT)
	switch {
	case err == syscall.EAGAIN || err == syscall.EINTR:
		return
	case err != nil:
		pc.end(err)
		return
	case n == 0:
		pc.end(io.ErrUnexpectedEOF)
		return
	}
	pc.in = pc.in[:len(pc.in)+n]
	if err := pc.consume(time.Now()); err != nil {
		pc.end(err)
	}
}

// The opcodes of RFC 6455, section 5.2.
const (
	opContinuation = 0
	opText         = 1
	opBinary       = 2
	opClose        = 8
	opPing         = 9
	opPong         = 10
)

// consume takes the whole frames at the start of in, read at at: each
// message goes to the swarm, a ping is answered, a close frame ends the
// connection (as the *websocket.CloseError gorilla would return).
func (pc *pollConn) consume(at time.Time) error {
	b := pc.in
	need := 0
	for len(b) >= 2 {
		if b[0]&0x70 != 0 || b[1]&0x80 != 0 {
			return errors.New("websocket: reserved bits, or a masked frame from the server")
		}
		fin, op := b[0]&0x80 != 0, int(b[0]&0x0f)
		size, head := uint64(b[1]&0x7f), 2
		switch size {
		case 126:
			head = 4
		case 127:
			head = 10
		}
		if len(b) < head {
			break
		}
		switch head {
		case 4:
			size = uint64(binary.BigEndian.Uint16(b[2:]))
		case 10:
			size = binary.BigEndian.Uint64(b[2:])
		}
		if size > maxMessage {
			return fmt.Errorf("websocket: a frame of %d bytes", size)
		}
		if uint64(len(b)-head) < size {
			need = head + int(size)
			break
		}
		payload := b[head : head+int(size)]
		b = b[head+int(size):]
		if err := pc.frame(fin, op, payload, at); err != nil {
			return err
		}
	}
	pc.in = pc.in[:copy(pc.in, b)]
	if need > cap(pc.in) {
		pc.in = slices.Grow(pc.in, need-len(pc.in))
	}
	return nil
}

// frame handles one frame; payload is good until it returns.
func (pc *pollConn) frame(fin bool, op int, payload []byte, at time.Time) error {
	switch op {
	case opText, opBinary, opContinuation:
		if (op == opContinuation) != pc.fragmented {
			return errors.New("websocket: a continuation frame out of place")
		}
		if fin && !pc.fragmented {
			pc.s.message(pc.c, payload, at)
			return nil
		}
		pc.msg = append(pc.msg, payload...)
		if len(pc.msg) > maxMessage {
			return fmt.Errorf("websocket: a message of more than %d bytes", maxMessage)
		}
		pc.fragmented = !fin
		if fin {
			pc.s.message(pc.c, pc.msg, at)
			pc.msg = pc.msg[:0]
		}
		return nil
	case opPing:
		return pc.write(opPong, payload, time.Now().Add(time.Second))
	case opPong:
		return nil
	case opClose:
		code := websocket.CloseNoStatusReceived
		if len(payload) >= 2 {
			code = int(binary.BigEndian.Uint16(payload))
		}
		ce := &websocket.CloseError{Code: code, Text: string(payload[min(2, len(payload)):])}
		// The close frame back, as gorilla sends one.
		_ = pc.write(opClose, payload[:min(2, len(payload))], time.Now().Add(time.Second))
		return ce
	}
	return fmt.Errorf("websocket: opcode %d", op)
}

// end takes pc out of its loop, closes its socket and tells the swarm, as
// the gorilla reader does when its read fails with err. Only the loop
// calls it, once pc is in it.
func (pc *pollConn) end(err error) {
	l := pc.loop
	l.mu.Lock()
	_, in := l.conns[int32(pc.fd)]
	delete(l.conns, int32(pc.fd))
	l.mu.Unlock()
	if !in {
		return
	}
	_ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, pc.fd, nil)
	pc.closeFD()
	pc.s.end(pc.c, err)
}

func (pc *pollConn) closeFD() {
	pc.wmu.Lock()
	defer pc.wmu.Unlock()
	if pc.fd >= 0 {
		_ = syscall.Close(pc.fd)
		pc.fd = -1
	}
	pc.closed = true
}

// SetWriteDeadline sets the deadline of the writes of WriteMessage.
func (pc *pollConn) SetWriteDeadline(t time.Time) error {
	pc.wmu.Lock()
	pc.deadline = t
	pc.wmu.Unlock()
	return nil
}

// WriteMessage writes data as one frame of messageType
// (websocket.TextMessage or BinaryMessage).
func (pc *pollConn) WriteMessage(messageType int, data []byte) error {
	pc.wmu.Lock()
	deadline := pc.deadline
	pc.wmu.Unlock()
	return pc.write(messageType, data, deadline)
}

// WriteControl writes a control frame (websocket.CloseMessage and the
// like) within deadline.
func (pc *pollConn) WriteControl(messageType int, data []byte, deadline time.Time) error {
	return pc.write(messageType, data, deadline)
}

// Close shuts the socket down; the loop then reads its end, and closes it.
func (pc *pollConn) Close() error {
	pc.wmu.Lock()
	defer pc.wmu.Unlock()
	if pc.closed {
		return nil
	}
	pc.closed = true
	return syscall.Shutdown(pc.fd, syscall.SHUT_RDWR)
}

// write sends one frame, masked as a client's must be, waiting for room in
// the socket up to deadline (none when zero), which a blocking send's
// SO_SNDTIMEO keeps: EAGAIN is its expiry.
func (pc *pollConn) write(op int, data []byte, deadline time.Time) error {
	b := make([]byte, 0, 14+len(data))
	b = append(b, 0x80|byte(op))
	switch n := len(data); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, 0x80|126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, 0x80|127), uint64(n))
	}
	var key [4]byte
	_, _ = rand.Read(key[:])
	b = append(b, key[:]...)
	start := len(b)
	b = append(b, data...)
	for i := range data {
		b[start+i] ^= key[i&3]
	}
	pc.wmu.Lock()
	defer pc.wmu.Unlock()
	if pc.closed {
		return net.ErrClosed
	}
	var timeout time.Duration // none
	if !deadline.IsZero() {
		if timeout = time.Until(deadline); timeout <= 0 {
			return os.ErrDeadlineExceeded
		}
	}
	tv := syscall.NsecToTimeval(timeout.Nanoseconds())
	if err := syscall.SetsockoptTimeval(pc.fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv); err != nil {
		return err
	}
	for len(b) > 0 {
		n, err := syscall.Write(pc.fd, b)
		switch {
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			return os.ErrDeadlineExceeded
		case err != nil:
			return err
		default:
			b = b[n:]
		}
	}
	return nil
}
