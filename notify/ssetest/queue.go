package ssetest

import (
	"errors"
	"testing"
	"time"
)

// Queue hands a test what a reading goroutine reads, the events of a
// stream or the frames of a socket, so that the test waits for each with a
// bound of its own instead of blocking on the connection.
type Queue[T any] struct {
	items chan T
	done  chan struct{}
	err   error // set before done closes
}

// NewQueue returns a queue that holds up to size items not yet taken.
func NewQueue[T any](size int) *Queue[T] {
	return &Queue[T]{items: make(chan T, size), done: make(chan struct{})}
}

// Put queues v, or returns an error when the queue is full: the reader
// should then stop and End with it. Waiting for room instead would stall
// the connection, and the server would see a slow client.
func (q *Queue[T]) Put(v T) error {
	select {
	case q.items <- v:
		return nil
	default:
		return errors.New("ssetest: the test fell behind its queue")
	}
}

// End records err, the reason reading ended, and marks the end after the
// items queued so far. The reader calls it once, as its last act.
func (q *Queue[T]) End(err error) {
	q.err = err
	close(q.done)
}

// Done is closed once the reader has ended.
func (q *Queue[T]) Done() <-chan struct{} { return q.done }

// Err is the reason reading ended; it may be read once Done is closed.
func (q *Queue[T]) Err() error { return q.err }

// Want returns the next item, failing the test when none comes within d.
// Unlike Next, it may be called on the test's goroutine only.
func (q *Queue[T]) Want(t testing.TB, d time.Duration) T {
	t.Helper()
	v, ok, err := q.Next(d)
	switch {
	case err != nil:
		t.Fatalf("reading ended before the next item: %v", err)
	case !ok:
		t.Fatalf("nothing read within %v", d)
	}
	return v
}

// Next returns the next item, waiting for it up to d. ok is false when
// none came: then err is the reason reading ended, or nil when it goes on
// and d passed.
func (q *Queue[T]) Next(d time.Duration) (v T, ok bool, err error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case v := <-q.items:
		return v, true, nil
	case <-q.done:
		// Items queued before the end come first.
		select {
		case v := <-q.items:
			return v, true, nil
		default:
		}
		return v, false, q.err
	case <-timer.C:
		return v, false, nil
	}
}
