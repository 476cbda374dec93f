//go:build !unix

package notify

import "syscall"

// canWriteNow reports whether nowWriter writes: elsewhere every write is
// kept for the writer's flush.
const canWriteNow = false

type nowWriter struct{}

func newNowWriter(syscall.RawConn) *nowWriter { return nil }

func (*nowWriter) writeNow([]byte) (int, error) { return 0, nil }
