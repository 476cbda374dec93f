package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// deliveryHistogram is the server's own histogram of the time from
// publishing a notification (just after its commit) to writing it to a
// connection.
const deliveryHistogram = "discuss_notify_delivery_seconds"

// push sends system notifications (POST /admin/notify) to random connected
// users at --rate. Its latency runs from the notification's created_at,
// stamped by the server in the transaction that writes it, to the frame's
// receipt here, on the same clock; so it includes the INSERT and COMMIT as
// well as the push. The server's publish-to-write histogram, read from
// /metrics before and after, isolates the push.
func (r *runner) push(ctx context.Context) error {
	if _, err := r.connect(ctx, r.byNotification); err != nil {
		return err
	}
	if err := r.awaitStart(ctx); err != nil {
		return errContext(err)
	}
	before, herr := r.api.scrapeHistogram(ctx, deliveryHistogram)
	rate, n := r.events(200)
	var post latencies
	_, sent := r.paced(ctx, "push", rate, n, true, func(ctx context.Context, seq int, due time.Time) {
		c := r.sw.clients[rand.IntN(len(r.sw.clients))]
		r.notify(ctx, r.api, c, fmt.Sprintf("loadgen push %d", seq))
		post.add(time.Since(due))
	})
	r.deliveryRows(ctx, "push", "push: created_at to frame", "POST /admin/notify", &post, sent, before, herr)
	return errContext(ctx.Err())
}

// notify sends c's user a system notification through the instance at a
// and expects it on c. It reports whether the instance took it; a refusal
// is counted as a failed request.
func (r *runner) notify(ctx context.Context, a *apiClient, c *client, message string) bool {
	note, err := a.adminNotify(ctx, r.cfg.adminToken, c.user.id, message)
	if err != nil {
		r.failed(err)
		return false
	}
	r.d.started(note.ID, note.CreatedAt)
	r.d.expect(c.idx, note.ID)
	return true
}

// serverHistogramRow adds a row of the server's delivery histogram since
// before. Its percentiles are bucket bounds: "at most".
func (r *runner) serverHistogramRow(ctx context.Context, before histogram, name string) error {
	after, err := r.api.scrapeHistogram(ctx, deliveryHistogram)
	if err != nil {
		return err
	}
	h := after.minus(before)
	r.rep.rows = append(r.rep.rows, row{
		name:  name,
		count: int(h.total()),
		sum:   summary{n: int(h.total()), p50: seconds(h.quantile(.5)), p95: seconds(h.quantile(.95)), p99: seconds(h.quantile(.99))},
		note:  "bucket bounds",
	})
	if f, ok := h.atMost(0.002); ok {
		r.rep.notes = append(r.rep.notes, fmt.Sprintf("server: %.3f%% of frames written within 2ms of publish", 100*f))
	}
	return nil
}
