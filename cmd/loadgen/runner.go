package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// runner is what every scenario works with.
type runner struct {
	cfg *config
	log io.Writer
	api *apiClient
	// writer is the instance that sends while the one at api is cut off
	// from Redis, and proxy is that cut (resubscribe only; else nil).
	writer *apiClient
	proxy  *brokerProxy
	all    []user // every user of the file: the actors of requests
	sw     *swarm // this shard's connections
	rep    *report
	d      *deliveries
	// recovered counts the server's drops that a client answered by
	// reconnecting with since, as the close code asked.
	recovered int

	errCount atomic.Int64
	errMu    sync.Mutex
	firstErr error
}

func newRunner(cfg *config, log io.Writer) (*runner, error) {
	f, err := os.Open(cfg.usersFile)
	if err != nil {
		return nil, err
	}
	all, err := readUsers(f)
	_ = f.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.usersFile, err)
	}
	if len(all) < 2 {
		return nil, fmt.Errorf("%s has %d users; seed at least 2", cfg.usersFile, len(all))
	}
	mine := shardOf(all, cfg.shard, cfg.shards)
	if cfg.conns > 0 {
		if cfg.conns > len(mine) {
			return nil, fmt.Errorf("--conns %d: shard %d/%d of %s has only %d users", cfg.conns, cfg.shard, cfg.shards, cfg.usersFile, len(mine))
		}
		mine = mine[:cfg.conns]
	}
	r := &runner{
		cfg: cfg,
		log: log,
		api: newAPIClient(cfg.base.String(), cfg.metricsBase.String(), cfg.inflight+8, cfg.timeout),
		all: all,
		sw:  newSwarm(cfg.base, mine, cfg.sources, cfg.timeout),
		rep: &report{scenario: cfg.scenario, conns: len(mine)},
		d:   newDeliveries(),
	}
	if cfg.writerURL != nil {
		r.writer = newAPIClient(cfg.writerURL.String(), cfg.writerURL.String(), cfg.inflight+8, cfg.timeout)
	}
	if cfg.brokerProxy != "" {
		if r.proxy, err = newBrokerProxy(cfg.brokerProxy); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// close ends every connection still open, and the broker proxy.
func (r *runner) close() {
	r.sw.stop()
	if r.proxy != nil {
		_ = r.proxy.close()
	}
}

// finish adds the counts every scenario reports.
func (r *runner) finish() {
	r.rep.tally = r.d.tally()
	for _, k := range r.d.lostSample(5) {
		r.rep.notes = append(r.rep.notes, fmt.Sprintf("lost: event %d for user %d", k.id, r.sw.clients[k.conn].user.id))
	}
	r.rep.errors += int(r.errCount.Load())
	r.rep.dropped = int(r.sw.dropped.Load()) - r.recovered
	if r.recovered > 0 {
		r.rep.notes = append(r.rep.notes, fmt.Sprintf("%d connections closed by the server with 1011 or 1013 came back with since", r.recovered))
	}
	r.errMu.Lock()
	if r.firstErr != nil {
		r.rep.notes = append(r.rep.notes, "first error: "+r.firstErr.Error())
	}
	r.errMu.Unlock()
	if r.rep.dropped > 0 {
		r.rep.notes = append(r.rep.notes, "dropped by the server: "+r.sw.drops())
	}
	if n := r.sw.resyncs.Load(); n > 0 {
		r.rep.fail("%d resync frames: a replay was cut short", n)
	}
	if n := r.sw.badFrames.Load(); n > 0 {
		r.rep.fail("%d frames were not JSON", n)
	}
}

// failed counts a failed request, keeping the first error for the report.
func (r *runner) failed(err error) {
	if r.errCount.Add(1) == 1 {
		r.errMu.Lock()
		r.firstErr = err
		r.errMu.Unlock()
	}
}

func (r *runner) resident() int64 {
	if r.cfg.pid == 0 {
		return 0
	}
	rss, err := residentBytes(r.cfg.pid)
	if err != nil {
		r.rep.notes = append(r.rep.notes, "resident memory unknown: "+err.Error())
		return 0
	}
	return rss
}

// measureCPU starts measuring the server's CPU time, and loadgen's own:
// the function it returns notes the time each used since, per one of
// count events named what. loadgen shares the machine with the server, so
// its own share says how far the run measures the server rather than the
// generator. Without --pid it notes loadgen's alone.
func (r *runner) measureCPU() func(count int, what string) {
	server := r.cpuMeter("server", r.cfg.pid)
	own := r.cpuMeter("loadgen", os.Getpid())
	return func(count int, what string) {
		server(count, what)
		own(count, what)
	}
}

// cpuMeter starts measuring the CPU time of process pid, named name, and
// returns what notes its use since; pid 0 notes nothing.
func (r *runner) cpuMeter(name string, pid int) func(count int, what string) {
	if pid == 0 {
		return func(int, string) {}
	}
	before, err := cpuTime(pid)
	return func(count int, what string) {
		after, err2 := cpuTime(pid)
		if err = cmp.Or(err, err2); err != nil || count == 0 {
			r.rep.notes = append(r.rep.notes, fmt.Sprintf("%s CPU unknown: %v, %d %ss", name, err, count, what))
			return
		}
		used := after - before
		r.rep.notes = append(r.rep.notes, fmt.Sprintf("%s CPU: %.4g ms per %s (%s over %d)",
			name, float64(used)/float64(time.Millisecond)/float64(count), what, used.Round(10*time.Millisecond), count))
	}
}

// highWater returns an id at or above every notification committed so
// far, so that connecting with since=it replays nothing from earlier runs:
// with 15,000 users each holding unread notifications, a plain connect
// would replay up to 100 each. It sends the first user a system
// notification and takes its id; ids grow monotonically. Without an admin
// token it returns -1 and connects are plain.
func (r *runner) highWater(ctx context.Context) (int64, error) {
	if r.cfg.adminToken == "" {
		return -1, nil
	}
	n, err := r.api.adminNotify(ctx, r.cfg.adminToken, r.all[0].id, "loadgen high-water probe")
	if err != nil {
		return 0, fmt.Errorf("high-water probe: %w", err)
	}
	return n.ID, nil
}

// connect opens this shard's connections with onFrame as their frame
// handler, measuring the server's memory before and after, and returns the
// high-water mark they connected with.
func (r *runner) connect(ctx context.Context, onFrame func(*client, *frame, time.Time)) (int64, error) {
	r.rep.rssBefore = r.resident()
	hw, err := r.highWater(ctx)
	if err != nil {
		return 0, err
	}
	r.sw.onFrame = onFrame
	total := len(r.sw.clients)
	fmt.Fprintf(r.log, "connecting %d clients from %d source addresses, %d at a time\n", total, r.cfg.sources, r.cfg.dialConcurrency)
	p := startProgress(r.log, r.cfg.progress, "connect", func() string {
		return fmt.Sprintf("%d/%d connected, %d dropped", r.sw.connected.Load(), total, r.sw.dropped.Load())
	})
	var lat latencies
	start := time.Now()
	failed, first := r.sw.connectAll(ctx, r.cfg.dialConcurrency, func(*client) int64 { return hw }, &lat)
	elapsed := time.Since(start)
	p.end()
	r.rep.rows = append(r.rep.rows, row{name: "connect: dial to hello", sum: lat.summary(), elapsed: elapsed})
	if failed > 0 {
		r.rep.errors += failed
		return 0, fmt.Errorf("%d of %d connections failed; first: %w", failed, total, first)
	}
	fmt.Fprintf(r.log, "%d connected in %s; settling %s\n", total, elapsed.Round(time.Millisecond), r.cfg.settle)
	if err := sleep(ctx, r.cfg.settle); err != nil {
		return 0, err
	}
	r.rep.rssAfter = r.resident()
	return hw, nil
}

// awaitStart waits for --start-at, when there is one. Had it passed
// already, the report says by how much: the other process sent alone for
// that long.
func (r *runner) awaitStart(ctx context.Context) error {
	if r.cfg.startAt.IsZero() {
		return nil
	}
	if late := time.Since(r.cfg.startAt); late > 0 {
		r.rep.notes = append(r.rep.notes, fmt.Sprintf("started %s after --start-at", late.Round(time.Millisecond)))
		return nil
	}
	return sleep(ctx, time.Until(r.cfg.startAt))
}

// await waits until every expected delivery has arrived or timeout passes.
func (r *runner) await(ctx context.Context, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for r.d.pending() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// randomUserBut returns a random user of the file other than id.
func (r *runner) randomUserBut(id int64) user {
	for {
		if u := r.all[rand.IntN(len(r.all))]; u.id != id {
			return u
		}
	}
}

// paced starts send n times at rate (see pace) under a progress line
// named phase that counts them; with await, it then waits for the expected
// deliveries (see await) while the line still shows. It returns how many it
// started and how long the sending took.
func (r *runner) paced(ctx context.Context, phase string, rate float64, n int, await bool, send func(ctx context.Context, seq int, due time.Time)) (int, time.Duration) {
	var started atomic.Int64
	p := startProgress(r.log, r.cfg.progress, phase, func() string {
		return fmt.Sprintf("%d/%d sent, %d errors, %d deliveries outstanding, %d connected",
			started.Load(), n, r.errCount.Load(), r.d.pending(), r.sw.connected.Load())
	})
	defer p.end()
	start := time.Now()
	sent := pace(ctx, rate, n, r.cfg.inflight, func(ctx context.Context, seq int, due time.Time) {
		started.Add(1)
		send(ctx, seq, due)
	})
	elapsed := time.Since(start)
	if await {
		r.await(ctx, r.cfg.timeout)
	}
	return sent, elapsed
}

// deliveryRows reports a paced phase that sent for sent: its deliveries'
// latencies (row frameRow), its requests' latencies post (row requestRow), and
// the server's publish-to-write histogram since before, or herr, why it
// could not be read.
func (r *runner) deliveryRows(ctx context.Context, phase, frameRow, requestRow string, post *latencies, sent time.Duration, before histogram, herr error) {
	r.rep.rows = append(r.rep.rows,
		row{name: frameRow, sum: summarize(r.d.latencies()), elapsed: sent},
		row{name: requestRow, sum: post.summary(), elapsed: sent})
	if herr == nil {
		herr = r.serverHistogramRow(ctx, before, phase+": server publish to write")
	}
	if herr != nil {
		r.rep.notes = append(r.rep.notes, "no server histogram: "+herr.Error())
	}
}

// events is how many events a paced scenario sends, and at what rate:
// --rate (default defaultRate) for --duration.
func (r *runner) events(defaultRate float64) (float64, int) {
	rate := cmp.Or(r.cfg.rate, defaultRate)
	return rate, max(1, int(rate*r.cfg.duration.Seconds()))
}

// eventsPerUser is how many events a scenario sends that sends --count
// (default 1) to each of users, and at what rate: --rate, default
// defaultRate.
func (r *runner) eventsPerUser(users int, defaultRate float64) (float64, int) {
	return cmp.Or(r.cfg.rate, defaultRate), max(r.cfg.count, 1) * users
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errContext tells a run cut short by --max-run or a signal from others.
func errContext(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return errors.New("stopped by --max-run")
	}
	return err
}

// postAuthor is the first user of the file, whose post the fan-out and
// live-thread scenarios load.
func (r *runner) postAuthor() (user, error) {
	author := r.all[0]
	if author.postID == 0 {
		return user{}, errors.New("the first user has no post: seed with --posts at least --users")
	}
	return author, nil
}

// followedPost is a post that the fan-out and live-thread scenarios
// comment on while followers follow it (watch it, or subscribe to it):
// every comment must reach every follower once.
type followedPost struct {
	r         *runner
	postID    int64
	followers []*client
	// following holds the followers' connection indexes. It is filled
	// before connect starts the sockets' readers and never changes after,
	// so the frame handlers read it without a lock.
	following map[int]bool
	post      latencies // the comments' POSTs, from their paced start
	mu        sync.Mutex
	dues      map[int64]time.Time // each comment's paced start, by id; read once the pacing is done
}

// followedPost picks the followers of author's post: the first n
// connections of other users. It returns the other users' connections
// after them too. Call it before connect (see following); with too few
// users connected, fp.followers is shorter than n and the caller names the
// flag that asked for more.
func (r *runner) followedPost(author user, n int) (fp *followedPost, rest []*client) {
	fp = &followedPost{r: r, postID: author.postID, dues: map[int64]time.Time{}}
	for _, c := range r.sw.clients {
		switch {
		case c.user.id == author.id:
		case len(fp.followers) < n:
			fp.followers = append(fp.followers, c)
		default:
			rest = append(rest, c)
		}
	}
	fp.following = make(map[int]bool, len(fp.followers))
	for _, c := range fp.followers {
		fp.following[c.idx] = true
	}
	return fp, rest
}

// comment has the user of token comment text on the post, paced to start
// at due, and expects the comment at every follower.
func (fp *followedPost) comment(ctx context.Context, token, text string, due time.Time) {
	r := fp.r
	id, err := r.api.comment(ctx, token, fp.postID, text)
	fp.post.add(time.Since(due))
	if err != nil {
		r.failed(err)
		return
	}
	r.d.started(id, due)
	r.d.expectAll(fp.followers, id)
	fp.mu.Lock()
	fp.dues[id] = due
	fp.mu.Unlock()
}

// reachedAll returns, by id, the comments whose frame reached every
// follower, each with when the last follower's came; one pass over the
// arrivals (see lastArrivals). Call it once the pacing is done.
func (fp *followedPost) reachedAll() map[int64]time.Time {
	reached := map[int64]time.Time{}
	arrivals := fp.r.d.lastArrivals()
	for id := range fp.dues {
		if a := arrivals[id]; a.n == len(fp.followers) {
			reached[id] = a.first
		}
	}
	return reached
}

// failUnreached fails the report for each comment that did not reach every
// follower (called what, one of them) within --timeout.
func (fp *followedPost) failUnreached(complete int, what string) {
	if complete < len(fp.dues) {
		fp.r.rep.fail("%d comments did not reach every %s within --timeout", len(fp.dues)-complete, what)
	}
}
