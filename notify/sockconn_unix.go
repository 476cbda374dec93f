//go:build unix

package notify

import (
	"errors"
	"os"
	"syscall"
)

// canWriteNow reports whether writeNow writes: on Unix systems it does.
const canWriteNow = true

// writeNow writes as much of p as the socket takes without waiting (its
// descriptor is non-blocking, as every net.Conn's is) and returns how much
// that was; a full send buffer is not an error.
func writeNow(raw syscall.RawConn, p []byte) (int, error) {
	var n int
	var werr error
	err := raw.Write(func(fd uintptr) bool {
		for n < len(p) {
			m, err := syscall.Write(int(fd), p[n:])
			switch {
			case errors.Is(err, syscall.EINTR):
				continue
			case errors.Is(err, syscall.EAGAIN):
				return true
			case err != nil:
				werr = os.NewSyscallError("write", err)
				return true
			}
			n += m
		}
		// Done, without waiting for the socket to be writable: returning
		// false would wait.
		return true
	})
	if err != nil {
		return n, err
	}
	return n, werr
}
