package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// resubscribesCounter counts the server's re-established broker
// subscriptions; each one makes the hub catch its connections up.
const resubscribesCounter = "discuss_broker_resubscribes_total"

// resubscribe is a broker blip under load. Every client is connected to
// the server at --url, whose Redis goes through --broker-proxy. The proxy
// cuts it off, --count system notifications per user are sent through
// --writer-url, an instance that keeps Redis, so the server at --url hears
// of none of them; then Redis comes back. The server must re-subscribe and
// catch every connection up from the database: every notification arrives
// exactly once, and no connection is closed with 1011 (a catch-up that
// could not read the database). The figure is when the last client had
// all of its own, from the moment the server re-subscribed.
func (r *runner) resubscribe(ctx context.Context) error {
	if _, err := r.connect(ctx, r.byNotification); err != nil {
		return err
	}
	if err := r.probeLive(ctx); err != nil {
		return err
	}
	before, err := r.api.scrapeCounter(ctx, resubscribesCounter)
	if err != nil {
		return err
	}

	fmt.Fprintln(r.log, "cutting the server off from Redis")
	r.proxy.setCut(true)
	rate, n := r.eventsPerUser(len(r.sw.clients), 1000)
	var post latencies
	var sent atomic.Int64
	_, away := r.paced(ctx, "outage", rate, n, false, func(ctx context.Context, seq int, due time.Time) {
		if r.notify(ctx, r.writer, r.sw.clients[seq%len(r.sw.clients)], fmt.Sprintf("loadgen outage %d", seq)) {
			sent.Add(1)
		}
		post.add(time.Since(due))
	})
	if ctx.Err() != nil {
		return errContext(ctx.Err())
	}
	// The probe arrived before the cut, so what is not pending of what the
	// writer took arrived during it.
	received := int(sent.Load()) - r.d.pending()
	fmt.Fprintf(r.log, "sent %d notifications in %s while cut off, %d arrived anyway; giving Redis back\n",
		sent.Load(), away.Round(time.Millisecond), received)
	if received > 0 {
		r.rep.fail("%d notifications arrived while the server was cut off from Redis: the proxy did not cut it", received)
	}

	r.proxy.setCut(false)
	restored := time.Now()
	p := startProgress(r.log, r.cfg.progress, "catch-up", func() string {
		return fmt.Sprintf("%d deliveries outstanding, %d connected", r.d.pending(), r.sw.connected.Load())
	})
	resubscribed, err := r.awaitResubscribe(ctx, before, restored.Add(r.cfg.timeout))
	if err != nil {
		p.end()
		return err
	}
	// Clients the server closed with 1013 (too slow) come back with since,
	// as real ones do; a 1011 is a failure of the catch-up and is reported.
	r.comeBack(ctx, resubscribed.Add(r.cfg.timeout), func(c *client) int64 { return c.lastID.Load() })
	p.end()

	done, incomplete := r.d.completions(resubscribed)
	r.rep.rows = append(r.rep.rows,
		row{name: "outage: POST /admin/notify (writer)", sum: post.summary(), elapsed: away},
		row{name: "re-subscribed to all missed received", sum: summarize(done), note: "per client"})
	r.rep.notes = append(r.rep.notes, fmt.Sprintf("the server re-subscribed %s after Redis came back (its retry backoff)",
		resubscribed.Sub(restored).Round(time.Millisecond)))
	if incomplete > 0 {
		r.rep.notes = append(r.rep.notes, fmt.Sprintf("%d clients were still missing notifications %s after the resubscription", incomplete, r.cfg.timeout))
	}
	if n := r.sw.closedWith(websocket.CloseInternalServerErr); n > 0 {
		r.rep.fail("%d connections were closed with 1011", n)
	}
	return errContext(ctx.Err())
}

// probeLive sends the first client a notification through the writer and
// waits for it: proof that the server at --url is subscribed to Redis, so
// that what the outage hides from it is all it misses.
func (r *runner) probeLive(ctx context.Context) error {
	if !r.notify(ctx, r.writer, r.sw.clients[0], "loadgen subscription probe") {
		return errors.New("the writer refused the probe notification (the first error is below)")
	}
	r.await(ctx, r.cfg.timeout)
	if r.d.pending() > 0 {
		return errors.New("the probe notification did not arrive: is the server at --url subscribed to the writer's Redis?")
	}
	return nil
}

// awaitResubscribe polls the server's metrics until its broker
// subscription has been re-established since the count before, and
// returns when it saw that.
func (r *runner) awaitResubscribe(ctx context.Context, before float64, deadline time.Time) (time.Time, error) {
	for {
		n, err := r.api.scrapeCounter(ctx, resubscribesCounter)
		if err != nil {
			return time.Time{}, err
		}
		if n > before {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("the server did not re-subscribe to Redis within %s", r.cfg.timeout)
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return time.Time{}, errContext(err)
		}
	}
}
