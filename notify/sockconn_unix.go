//go:build unix

package notify

import (
	"errors"
	"os"
	"syscall"
)

// canWriteNow reports whether nowWriter writes: on Unix systems it does.
const canWriteNow = true

// nowWriter writes to a socket without waiting (its descriptor is
// non-blocking, as every net.Conn's is). Its state lives in the sockConn,
// and the function handed to RawConn.Write is made once, in newNowWriter:
// a closure made for each write escapes to the heap, and a hot post's
// fan-out writes fifty thousand frames a second, which then cost the
// collector a cycle every few seconds. The sockConn's mu guards it.
type nowWriter struct {
	raw syscall.RawConn
	// p, n and err are one write's: what to write, how much went, and the
	// error that stopped it.
	p   []byte
	n   int
	err error
	// write is w.writeFD.
	write func(fd uintptr) bool
}

func newNowWriter(raw syscall.RawConn) *nowWriter {
	w := &nowWriter{raw: raw}
	w.write = w.writeFD
	return w
}

// writeNow writes as much of p as the socket takes without waiting and
// returns how much that was; a full send buffer is not an error.
func (w *nowWriter) writeNow(p []byte) (int, error) {
	w.p, w.n, w.err = p, 0, nil
	err := w.raw.Write(w.write)
	n, werr := w.n, w.err
	w.p, w.err = nil, nil
	if err != nil {
		return n, err
	}
	return n, werr
}

func (w *nowWriter) writeFD(fd uintptr) bool {
	for w.n < len(w.p) {
		m, err := syscall.Write(int(fd), w.p[w.n:])
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			return true
		case err != nil:
			w.err = os.NewSyscallError("write", err)
			return true
		}
		w.n += m
	}
	// Done, without waiting for the socket to be writable: returning
	// false would wait.
	return true
}
