package notify

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// sockConn is the network connection under a WebSocket that the hub
// writes to without waiting. Once the handshake is done (buffer), a write
// puts what the socket's send buffer takes at once on the wire, in one
// non-blocking write system call, and keeps the rest, in order, for flush,
// which the connection's writer goroutine calls and which does wait, up to
// the write deadline.
//
// That is what lets a frame be written on the goroutine that has it: a hot
// post's feed writes each comment to its thousand subscribers itself
// instead of waking a writer goroutine for each (see client.enqueue), and a
// client that does not read costs the feed one system call, not a wait.
// Without it, a thousand goroutines a comment fill the run queues, and the
// database's answers to the next comment's transaction wait behind them:
// Go polls the network only when a processor has nothing else to run.
//
// gorilla/websocket writes every frame with Write, after SetWriteDeadline,
// holding its own write lock; mu orders those writes with flush, which
// runs without gorilla's lock.
type sockConn struct {
	net.Conn
	// now writes without waiting, under mu; nil where the connection
	// cannot (not a socket, or not a Unix system), and then every write is
	// kept for flush.
	now *nowWriter

	mu sync.Mutex
	// spare lends cork the buffer that the corked writes are kept in, and
	// takes it back when uncork has written them all (lent is the one
	// lent): a feed corks its thousand subscribers for each batch, and the
	// buffers grown anew for each were a fifth of what the server
	// allocated during a thread-live run. Nil until buffer.
	spare *sync.Pool
	lent  *[]byte
	// buffering is set once the handshake is written: until then a write
	// waits, as on any net.Conn.
	buffering bool
	// corked is set while a feed writes a batch of frames (see cork):
	// writes are only kept, for uncork.
	corked bool
	// pending is what the socket has not taken yet.
	pending []byte
	// deadline is the last write deadline gorilla set, for flush.
	deadline time.Time
}

func newSockConn(c net.Conn) *sockConn {
	s := &sockConn{Conn: c}
	if sc, ok := c.(syscall.Conn); ok && canWriteNow {
		if raw, err := sc.SyscallConn(); err == nil {
			s.now = newNowWriter(raw)
		}
	}
	return s
}

// buffer ends the handshake: from now on writes do not wait, and cork
// borrows its buffers from spare.
func (s *sockConn) buffer(spare *sync.Pool) {
	s.mu.Lock()
	s.buffering, s.spare = true, spare
	s.mu.Unlock()
}

func (s *sockConn) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.buffering {
		return s.Conn.Write(p)
	}
	n := len(p)
	if len(s.pending) == 0 && s.now != nil && !s.corked {
		written, err := s.now.writeNow(p)
		if err != nil {
			return written, err
		}
		p = p[written:]
	}
	s.pending = append(s.pending, p...)
	return n, nil
}

// SetWriteDeadline keeps the deadline for flush: a write that does not
// wait needs none, and setting one on the socket costs a timer update per
// frame.
func (s *sockConn) SetWriteDeadline(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.buffering {
		return s.Conn.SetWriteDeadline(t)
	}
	s.deadline = t
	return nil
}

// SetDeadline sets the read deadline on the socket and keeps the write
// deadline as SetWriteDeadline does.
func (s *sockConn) SetDeadline(t time.Time) error {
	if err := s.Conn.SetReadDeadline(t); err != nil {
		return err
	}
	return s.SetWriteDeadline(t)
}

// flushing reports whether some written bytes wait for flush; while
// corked, they wait for uncork instead.
func (s *sockConn) flushing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending) > 0 && !s.corked
}

// cork keeps every write until uncork, which sends them together: a
// client sent several frames at once gets them in one write system call
// (and reads them in one), not one each, as with TCP_CORK.
func (s *sockConn) cork() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.corked = true
	if len(s.pending) > 0 || s.spare == nil || s.now == nil {
		return
	}
	s.lent, _ = s.spare.Get().(*[]byte)
	if s.lent == nil {
		s.lent = new([]byte)
	}
	s.pending = (*s.lent)[:0]
}

// uncork writes what was kept since cork, as much as the socket takes
// without waiting, and reports whether some of it waits for flush (or a
// write failed, which flush will find again).
func (s *sockConn) uncork() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.corked = false
	kept, lent := s.pending, s.lent
	s.lent = nil
	if len(kept) > 0 {
		if s.now == nil {
			return true
		}
		n, err := s.now.writeNow(kept)
		if s.pending = kept[n:]; err != nil || len(s.pending) > 0 {
			// Kept for flush, which meets a failed write again; the buffer
			// is not lent back.
			return true
		}
	}
	// An idle connection keeps no buffer: the one lent goes back, also
	// when the batch wrote nothing here.
	s.pending = nil
	if lent != nil && cap(kept) <= maxSpare {
		*lent = kept[:0]
		s.spare.Put(lent)
	}
	return false
}

// maxSpare is the largest buffer uncork lends back: a batch of a
// client's frames that outgrew it (maxBatch long comments) is rare, and
// not worth its memory in the pool.
const maxSpare = 64 << 10

// flush writes what the socket did not take at once, waiting for the
// client up to the last write deadline set.
func (s *sockConn) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) == 0 {
		return nil
	}
	if err := s.Conn.SetWriteDeadline(s.deadline); err != nil {
		return err
	}
	_, err := s.Conn.Write(s.pending)
	// The next write's deadline is set by the next flush; a past one
	// would make writes that do not wait fail.
	_ = s.Conn.SetWriteDeadline(time.Time{})
	s.pending = nil
	return err
}

// CloseWrite half-closes the socket, for client.linger, after what was
// kept for flush (gorilla's close frame among it): a half-closed socket
// sends nothing more. A connection that cannot half-close says so, as one
// without the method would have.
func (s *sockConn) CloseWrite() error {
	hc, ok := s.Conn.(interface{ CloseWrite() error })
	if !ok {
		return errors.ErrUnsupported
	}
	if err := s.flush(); err != nil {
		return err
	}
	return hc.CloseWrite()
}

// NonBlocking returns w with its Hijack giving the connection the hub
// writes to without waiting (sockConn), corked: the Upgrader's 101
// response is kept until ServeAdmitted sends it with hello and the replay,
// in one write. Pass it, not w, to the Upgrader's Upgrade, and the
// connection to ServeAdmitted, which falls back to writing on a goroutine
// per connection for a WebSocket upgraded without it.
func NonBlocking(w http.ResponseWriter) http.ResponseWriter {
	return hijacker{w}
}

type hijacker struct{ http.ResponseWriter }

func (h hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	s := newSockConn(c)
	s.buffering, s.corked = true, true
	return s, rw, nil
}
