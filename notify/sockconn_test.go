package notify

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
)

// socketPair returns the two ends of a loopback TCP connection, the first
// as the hub holds it after a handshake (see sockConn), with a small send
// buffer. (A small receive buffer too would fill sooner, but then Linux
// probes the closed window with a back-off of seconds once the peer reads.)
func socketPair(t *testing.T) (*sockConn, net.Conn) {
	t.Helper()
	c, peer := loopback(t)
	_ = c.(*net.TCPConn).SetWriteBuffer(4096)
	s := newSockConn(c)
	s.buffer(&sync.Pool{})
	t.Cleanup(func() { _ = s.Close() })
	return s, peer
}

// loopback returns the two ends of a loopback TCP connection.
func loopback(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := <-accepted
	if c == nil {
		t.FailNow()
	}
	t.Cleanup(func() { _ = c.Close(); _ = peer.Close() })
	return c, peer
}

// chunks is n chunks of 1 KiB, each filled with its own byte, so that a
// reader can tell order and loss.
func chunks(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = bytes.Repeat([]byte{byte(i)}, 1024)
	}
	return out
}

func TestSockConnWritesWithoutWaiting(t *testing.T) {
	if !canWriteNow {
		t.Skip("this system's sockets are written by flush only")
	}
	s, peer := socketPair(t)
	// Far more than the socket buffers hold (the peer's receive buffer
	// grows only while it reads), to a peer that does not read: every
	// Write still returns at once (a waiting one would hang the test, as
	// no deadline is set), the first straight onto the wire.
	data := chunks(1 << 10)
	wrote := make(chan error, 1)
	go func() {
		for _, p := range data {
			if n, err := s.Write(p); err != nil || n != len(p) {
				wrote <- errors.Join(err, io.ErrShortWrite)
				return
			}
		}
		wrote <- nil
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Write waited for a peer that does not read")
	}
	if !s.flushing() {
		t.Fatal("1 MiB written to a peer that does not read, and nothing waits for flush")
	}
	// The peer reads now: flush delivers the rest, everything in order.
	if want := bytes.Join(data, nil); !bytes.Equal(flushToPeer(t, s, peer), want) {
		t.Fatal("the peer read other bytes than were written, or in another order")
	}
}

// flushToPeer flushes s while its peer reads, half-closes s, and returns
// everything the peer read.
func flushToPeer(t *testing.T, s *sockConn, peer net.Conn) []byte {
	t.Helper()
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(peer)
		got <- b
	}()
	_ = s.SetWriteDeadline(time.Now().Add(waitTimeout))
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
	if s.flushing() {
		t.Fatal("flushing after flush")
	}
	_ = s.Conn.(*net.TCPConn).CloseWrite()
	return <-got
}

func TestSockConnFlushDeadline(t *testing.T) {
	s, _ := socketPair(t)
	for _, p := range chunks(1 << 10) {
		if _, err := s.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	// The peer never reads: flush gives up at the deadline gorilla set.
	_ = s.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	if err := s.flush(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("flush to a peer that does not read: %v, want the deadline", err)
	}
}

func TestSockConnWaitsUntilBuffering(t *testing.T) {
	// Before the handshake is done, writes and deadlines are the socket's
	// own: a write deadline applies at once.
	s, _ := socketPair(t)
	s.mu.Lock()
	s.buffering = false
	s.mu.Unlock()
	_ = s.SetWriteDeadline(time.Now().Add(-time.Second))
	if _, err := s.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write past the deadline during the handshake: %v", err)
	}
	if s.flushing() {
		t.Fatal("a handshake write was kept")
	}
}

func TestSockConnCork(t *testing.T) {
	if !canWriteNow {
		t.Skip("this system's sockets are written by flush only")
	}
	s, peer := socketPair(t)
	s.cork()
	frames := []string{"one", "two", "three"}
	for _, f := range frames {
		if _, err := s.Write([]byte(f)); err != nil {
			t.Fatal(err)
		}
	}
	if s.flushing() {
		t.Fatal("corked writes wait for flush, not uncork")
	}
	if s.uncork() {
		t.Fatal("a few bytes wait after uncork")
	}
	// One write system call: the peer reads the three in one read.
	_ = peer.SetReadDeadline(time.Now().Add(waitTimeout))
	buf := make([]byte, 64)
	n, err := peer.Read(buf)
	if err != nil || string(buf[:n]) != "onetwothree" {
		t.Fatalf("peer read %q, %v; want the three frames at once", buf[:n], err)
	}
	// Uncorked, a write goes out at once again.
	if _, err := s.Write([]byte("four")); err != nil || s.flushing() {
		t.Fatalf("write after uncork: %v, flushing %v", err, s.flushing())
	}
}

func TestSockConnCorkLendsItsBuffer(t *testing.T) {
	if !canWriteNow {
		t.Skip("this system's sockets are written by flush only")
	}
	s, peer := socketPair(t)
	s.cork()
	for _, f := range []string{"one", "two"} {
		if _, err := s.Write([]byte(f)); err != nil {
			t.Fatal(err)
		}
	}
	if s.uncork() {
		t.Fatal("a few bytes wait after uncork")
	}
	b, _ := s.spare.Get().(*[]byte)
	switch {
	case b == nil && raceDetector:
		b = new([]byte) // The race detector's pool drops some of what it is given.
	case b == nil || len(*b) != 0 || cap(*b) < len("onetwo"):
		t.Fatalf("after a batch the socket took, the pool gave %v; want the batch's buffer, emptied", b)
	}

	// A batch the socket does not take entirely keeps its buffer until
	// flush: lent out again, the next batch, on another connection, would
	// write over the bytes this one still owes its client.
	s.spare.Put(b)
	data := chunks(1 << 10)
	s.cork()
	for _, p := range data {
		if _, err := s.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	if !s.uncork() {
		t.Fatal("1 MiB written corked to a peer that does not read, and nothing waits for flush")
	}
	other, _ := socketPair(t)
	other.spare = s.spare
	other.cork()
	for range 2 << 10 { // More than the first batch's buffer holds.
		if _, err := other.Write(bytes.Repeat([]byte{0xff}, 1024)); err != nil {
			t.Fatal(err)
		}
	}
	other.uncork()
	if want := append([]byte("onetwo"), bytes.Join(data, nil)...); !bytes.Equal(flushToPeer(t, s, peer), want) {
		t.Fatal("the peer read other bytes than were written corked, or in another order")
	}
}

func TestSockConnWriteAllocatesNothing(t *testing.T) {
	if !canWriteNow {
		t.Skip("this system's sockets are written by flush only")
	}
	if raceDetector {
		t.Skip("under the race detector sync.Pool drops a quarter of what it is given")
	}
	c, peer := loopback(t)
	s := newSockConn(c)
	s.buffer(&sync.Pool{})
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, err := peer.Read(buf); err != nil {
				return
			}
		}
	}()
	// A hot post's fan-out writes fifty thousand frames a second: each
	// allocation there is paid for in collector cycles, which scan every
	// connection's goroutines. (testing.AllocsPerRun would run the peer's
	// reader on the writer's only processor, and the socket would fill.)
	frame := []byte("a frame")
	write := func() { _, _ = s.Write(frame) }
	batch := func() {
		s.cork()
		_, _ = s.Write(frame)
		_, _ = s.Write(frame)
		_ = s.uncork()
	}
	batch() // lends the pool its first buffer
	for name, do := range map[string]func(){"a write": write, "a corked batch": batch} {
		const runs = 1000
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range runs {
			do()
		}
		runtime.ReadMemStats(&after)
		if n := after.Mallocs - before.Mallocs; n > runs/10 {
			t.Errorf("%s allocated %d times in %d", name, n, runs)
		}
	}
}
