package service

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// TestPollLoopStepLimit: a step that waits on a database that no longer
// answers (here, on its context alone) is ended at the loop's limit, logged,
// and the worker goes on polling.
func TestPollLoopStepLimit(t *testing.T) {
	const limit = 50 * time.Millisecond
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var steps atomic.Int32
	ended := make(chan time.Duration, 2)
	done := make(chan struct{})
	go func() {
		defer close(done)
		pollLoop(ctx, 10*time.Millisecond, limit, nil, slog.New(slog.DiscardHandler), "test", func(work context.Context) (bool, error) {
			if steps.Add(1) > 2 {
				return false, nil
			}
			deadline, ok := work.Deadline()
			if !ok {
				t.Error("a step runs without a deadline")
				return false, nil
			}
			<-work.Done() // the database never answers
			ended <- time.Until(deadline)
			return false, work.Err()
		})
	}()
	for range 2 {
		select {
		case left := <-ended:
			if left > 0 {
				t.Errorf("a step ended %v before its limit", left)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a step waiting on an unanswering database was not ended")
		}
	}
	stop()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the worker did not end with its context")
	}
	if n := steps.Load(); n < 2 {
		t.Fatalf("%d steps, want the worker to try again after the first failed", n)
	}
}
