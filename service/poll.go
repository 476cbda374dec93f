package service

import (
	"context"
	"log/slog"
	"time"
)

// pollLoop is the loop of a background worker, until ctx ends: it runs
// step while step finds work, then waits for the next tick of poll or for
// wake (nil: no wake) and drains again. step runs with ctx's values but not
// its cancellation, so that the work under way when ctx ends finishes and
// nothing is left half done; it runs within limit instead, so that a
// database that stops answering without closing the connection (a host
// gone, a dropped route) fails the step and the worker tries again on a new
// connection, rather than waiting for TCP to give up, a quarter of an hour
// later. A step's error is logged with msg and retried at the next tick.
func pollLoop(ctx context.Context, poll, limit time.Duration, wake <-chan struct{}, log *slog.Logger, msg string, step func(context.Context) (bool, error)) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			work, cancel := context.WithTimeout(context.WithoutCancel(ctx), limit)
			found, err := step(work)
			cancel()
			if err != nil {
				log.ErrorContext(ctx, msg, "error", err.Error())
				break
			}
			if !found {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
	}
}
