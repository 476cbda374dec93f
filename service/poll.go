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
// nothing is left half done. A step's error is logged with msg and retried
// at the next tick.
func pollLoop(ctx context.Context, poll time.Duration, wake <-chan struct{}, log *slog.Logger, msg string, step func(context.Context) (bool, error)) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			found, err := step(context.WithoutCancel(ctx))
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
