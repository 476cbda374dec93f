package main

import (
	"context"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
)

// reconnect is the storm after an outage: every client disconnects,
// --count replies per user are made while they are away, and all come
// back at once with since = the largest notification id each had seen.
// Every missed notification must arrive exactly once; the figure is when
// the last client had all of its own.
func (r *runner) reconnect(ctx context.Context) error {
	others, err := r.online(ctx)
	if err != nil {
		return err
	}
	hw, err := r.connect(ctx, r.byComment)
	if err != nil {
		return err
	}
	targets, err := r.targets()
	if err != nil {
		return err
	}
	since := make([]int64, len(r.sw.clients))
	for i, c := range r.sw.clients {
		since[i] = max(c.lastID.Load(), hw)
	}
	fmt.Fprintf(r.log, "disconnecting %d clients\n", len(r.sw.clients))
	r.sw.closeAll()
	if err := r.awaitOffline(ctx, others); err != nil {
		return err
	}

	rate, n := r.eventsPerUser(len(targets), 500)
	_, away := r.paced(ctx, "away", rate, n, false, func(ctx context.Context, seq int, due time.Time) {
		r.comment(ctx, targets[seq%len(targets)], seq, due, nil)
	})
	fmt.Fprintf(r.log, "made %d replies while away in %s; reconnecting everyone, %d handshakes at a time\n",
		n, away.Round(time.Millisecond), r.cfg.stormConcurrency)
	if ctx.Err() != nil {
		return errContext(ctx.Err())
	}

	var dial latencies
	p := startProgress(r.log, r.cfg.progress, "storm", func() string {
		return fmt.Sprintf("%d/%d connected, %d deliveries outstanding", r.sw.connected.Load(), len(r.sw.clients), r.d.pending())
	})
	storm := time.Now()
	resume := func(c *client) int64 { return max(c.lastID.Load(), since[c.idx]) }
	failed, first := r.sw.connectAll(ctx, r.cfg.stormConcurrency, resume, &dial)
	connected := time.Since(storm)
	retries := r.comeBack(ctx, storm.Add(r.cfg.timeout), resume)
	p.end()
	if failed > 0 {
		r.rep.notes = append(r.rep.notes, fmt.Sprintf("%d storm connects failed at first (first: %v); %d reconnects in all", failed, first, retries))
	}
	if down := len(r.sw.clients) - int(r.sw.connected.Load()); down > 0 {
		r.rep.errors += down
		r.rep.fail("%d clients were not connected at the end", down)
	}
	done, incomplete := r.d.completions(storm)
	r.rep.rows = append(r.rep.rows,
		row{name: "storm: dial to hello", sum: dial.summary(), elapsed: connected},
		row{name: "storm: start to all missed received", sum: summarize(done), note: "per client"})
	if incomplete > 0 {
		r.rep.notes = append(r.rep.notes, fmt.Sprintf("%d clients were still missing notifications after %s", incomplete, r.cfg.timeout))
	}
	return errContext(ctx.Err())
}

// comeBack waits until every expected delivery has arrived or deadline
// passes, meanwhile reconnecting, as a real client would, every client
// that is down: its connect failed, or the server closed it with 1011 or
// 1013, which ask the client to come back with since. It returns how many
// reconnects it made; the drops it answered are not counted as failures.
func (r *runner) comeBack(ctx context.Context, deadline time.Time, since func(*client) int64) int {
	retries := 0
	var lat latencies
	for r.d.pending() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		var again []*client
		for _, c := range r.sw.clients {
			switch c.dropCode.Load() {
			case 0, websocket.CloseInternalServerErr, websocket.CloseTryAgainLater:
				if !c.up.Load() {
					again = append(again, c)
				}
			}
		}
		for _, c := range again {
			if c.takeDrop() {
				r.recovered++
			}
		}
		retries += len(again)
		if len(again) > 0 {
			r.sw.connectSome(ctx, again, r.cfg.stormConcurrency, since, &lat)
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
	return retries
}

// online returns the connections the server holds, or 0 without an admin
// token.
func (r *runner) online(ctx context.Context) (int, error) {
	if r.cfg.adminToken == "" {
		return 0, nil
	}
	n, err := r.api.onlineConnections(ctx, r.cfg.adminToken)
	if err != nil {
		return 0, fmt.Errorf("admin/online: %w", err)
	}
	return n, nil
}

// awaitOffline waits until the server has let go of every connection of
// ours (it held others before we connected), so that nothing made while
// the clients are away can reach them live. It asks /admin/online when it
// has an admin token, else waits two seconds.
func (r *runner) awaitOffline(ctx context.Context, others int) error {
	if r.cfg.adminToken == "" {
		return sleep(ctx, 2*time.Second)
	}
	deadline := time.Now().Add(r.cfg.timeout)
	for {
		n, err := r.online(ctx)
		if err != nil {
			return err
		}
		if n <= others {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server still counts %d connections %s after they closed", n, r.cfg.timeout)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}
