package main

import (
	"context"
	"fmt"
	"time"
)

// byNotification records every notification frame under its id.
func (r *runner) byNotification(c *client, f *frame, at time.Time) {
	if f.Type == "notification" && f.Notification != nil {
		r.d.receive(c.idx, f.Notification.ID, at)
	}
}

// idle opens the connections, holds them for --duration, and checks that
// every one still answers a ping frame. The figure is the server's
// resident memory per connection at the end of the hold.
func (r *runner) idle(ctx context.Context) error {
	if _, err := r.connect(ctx, r.byNotification); err != nil {
		return err
	}
	settled := r.rep.rssAfter
	p := startProgress(r.log, r.cfg.progress, "hold", func() string {
		return fmt.Sprintf("%d connected, %d dropped, server resident %.1f MiB", r.sw.connected.Load(), r.sw.dropped.Load(), mib(r.resident()))
	})
	err := sleep(ctx, r.cfg.duration)
	p.end()
	if err != nil {
		return errContext(err)
	}
	if rss := r.resident(); rss > 0 {
		r.rep.rssAfter = rss
		r.rep.notes = append(r.rep.notes, fmt.Sprintf("resident memory after the %s settle: %.1f MiB; the table uses the figure after holding %s",
			r.cfg.settle, mib(settled), r.cfg.duration))
	}
	start := time.Now()
	if missing := r.sw.pingAll(r.cfg.timeout); missing > 0 {
		r.rep.fail("%d connections did not answer a ping frame within %s", missing, r.cfg.timeout)
	} else {
		r.rep.notes = append(r.rep.notes, fmt.Sprintf("every connection answered a ping frame after %s; all answered within %s",
			r.cfg.duration, time.Since(start).Round(time.Millisecond)))
	}
	return nil
}
