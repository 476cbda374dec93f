package main

import (
	"context"
	"sync"
	"time"
)

// pace starts fn n times at rate per second, open loop: event i is due at
// start + i/rate whether or not earlier ones have finished, and fn gets
// that due time, so that a slow server shows up as latency rather than as
// a lower request rate (no coordinated omission). At most inflight run at
// once; when all are busy the next start waits, and its latency counts the
// wait. pace returns when every started fn has returned, with the number
// started (fewer than n only when ctx ends).
func pace(ctx context.Context, rate float64, n, inflight int, fn func(ctx context.Context, seq int, due time.Time)) int {
	sem := make(chan struct{}, inflight)
	var wg sync.WaitGroup
	defer wg.Wait()
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for seq := range n {
		due := start.Add(time.Duration(float64(seq) / rate * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return seq
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return seq
		}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(ctx, seq, due)
		})
	}
	return n
}
