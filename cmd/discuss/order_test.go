package main

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quizsite/discuss/service/dbtest"
)

// The ordered-delivery scenario: writers comment on a reader's posts as
// fast as they can while the reader's socket drops every few milliseconds
// and comes back with since = the largest id it has seen, as the contract
// tells clients to. Every notification must arrive exactly once, and the
// ids must grow across every connection in turn: one out of order would
// make the next since skip its predecessor for good.
const (
	orderWriters       = 64
	orderNotifications = 2048 // orderWriters * 32
)

// orderEnv is the environment of a server for the scenario: limits that
// let the writers through, on the database databaseEnv chose.
func orderEnv(t *testing.T) map[string]string {
	env := databaseEnv(t)
	env["DISCUSS_LOG_LEVEL"] = "error"
	env["DISCUSS_LIMITS_COMMENTS_PER_MINUTE"] = "1000000"
	env["DISCUSS_LIMITS_REGISTER_PER_MINUTE"] = "1000000"
	env["DISCUSS_NOTIFICATIONS_KEEP_PER_USER"] = "1000000"
	return env
}

// orderedReader is one user's client that drops and resumes its socket
// again and again, keeping every notification id in the order received.
type orderedReader struct {
	t     *testing.T
	token string
	base  func() string // the instance to connect to, which may change
	sse   bool          // over event streams rather than WebSockets

	mu         sync.Mutex
	got        []int64 // every id received, in order, over every connection
	last       int64   // the largest id received: the next since
	violations []string
	conns      int
	// trace is what each connection was sent, for explaining a failure.
	trace []connTrace
}

// connTrace is one connection of the reader: the since it resumed from
// and the frames it read, "n123" for a live notification, "r123" for a
// replayed one, and the type of any other frame but hello.
type connTrace struct {
	since  int64
	frames []string
}

// run connects, reads for 1-40 ms, drops the connection without a close
// frame, as a phone losing its network would, and does it again until ctx
// ends. Refused connections (an instance restarting) are retried.
func (r *orderedReader) run(ctx context.Context) {
	for ctx.Err() == nil {
		r.mu.Lock()
		since := r.last
		r.mu.Unlock()
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := openLive(dctx, r.sse, r.base(), r.token, since, time.Duration(1+rand.IntN(40))*time.Millisecond)
		cancel()
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond): // retry interval while the server is away
			}
			continue
		}
		r.mu.Lock()
		r.conns++
		r.trace = append(r.trace, connTrace{since: since})
		r.mu.Unlock()
		for {
			f, err := conn.read()
			if err != nil {
				break
			}
			r.record(f)
		}
		conn.drop()
	}
}

func (r *orderedReader) record(f seenFrame) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tr := &r.trace[len(r.trace)-1]
	switch {
	case f.Type == "hello":
		return
	case f.Type != "notification":
		tr.frames = append(tr.frames, f.Type)
		return
	case f.Replayed:
		tr.frames = append(tr.frames, fmt.Sprintf("r%d", f.Notification.ID))
	default:
		tr.frames = append(tr.frames, fmt.Sprintf("n%d", f.Notification.ID))
	}
	id := f.Notification.ID
	if id <= r.last {
		r.violations = append(r.violations, fmt.Sprintf("notification %d after %d", id, r.last))
		return
	}
	r.got = append(r.got, id)
	r.last = id
}

func (r *orderedReader) received() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int64(nil), r.got...)
}

// explain describes the connection that skipped id: the first that
// resumed from below id and was sent a larger one, with the connections
// before it.
func (r *orderedReader) explain(id int64) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, tr := range r.trace {
		if tr.since >= id {
			break
		}
		for _, f := range tr.frames {
			var n int64
			if _, err := fmt.Sscanf(f[1:], "%d", &n); err == nil && n > id {
				var b strings.Builder
				for _, p := range r.trace[max(0, i-3) : i+1] {
					fmt.Fprintf(&b, "\n  since=%d: %s", p.since, strings.Join(p.frames, " "))
				}
				return b.String()
			}
		}
	}
	return " (no connection was sent a larger id)"
}

// listAll returns every notification id of the token's user over REST,
// oldest first.
func listAll(t *testing.T, base, token string) []int64 {
	t.Helper()
	var ids []int64
	cursor := ""
	for {
		var page struct {
			Items []struct {
				ID int64 `json:"id"`
			} `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		path := "/api/v1/notifications?limit=100"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		code, err := callJSON(base, "GET", path, token, nil, &page)
		if err != nil || code != 200 {
			t.Fatalf("listing notifications: %d %v", code, err)
		}
		for _, n := range page.Items {
			ids = append(ids, n.ID)
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	slices.Reverse(ids)
	return ids
}

// orderScenario is where the writers and the reader go, and what happens
// to the system in the middle of the run.
type orderScenario struct {
	writerBase func() string
	readerBase func() string
	// midway, when set, runs on the test's goroutine once half of the
	// comments are acknowledged, while the load goes on.
	midway func()
	// sse has the reader connect over event streams.
	sse bool
}

// runOrderScenario registers a reader with four posts and the writers,
// makes orderNotifications comments on the reader's posts from
// orderWriters writers at once while the reader drops and resumes, and
// checks that the reader received every notification the database holds,
// once each, in increasing id order.
func runOrderScenario(t *testing.T, sc orderScenario) {
	wb := &server{base: sc.writerBase()}
	readerToken, _ := registerUser(t, wb, "reader")
	var posts []int64
	for i := range 4 {
		posts = append(posts, wb.createPost(t, readerToken, fmt.Sprintf("Q%d", i), "how?"))
	}
	tokens := make([]string, orderWriters)
	for i := range tokens {
		tokens[i], _ = registerUser(t, wb, fmt.Sprintf("writer%d", i))
		// Writers would watch the posts once they comment, and each comment
		// would tell the other 63: 129,000 thread_comment rows a run, which
		// is fan-out's load (fanout_test.go), not this test's.
		for _, post := range posts {
			if code := wb.call(t, "PUT", fmt.Sprintf("/api/v1/posts/%d/subscription", post), tokens[i], map[string]string{"level": "normal"}, nil); code != 200 {
				t.Fatalf("level: %d", code)
			}
		}
	}

	reader := &orderedReader{t: t, token: readerToken, base: sc.readerBase, sse: sc.sse}
	ctx, stopReader := context.WithCancel(context.Background())
	defer stopReader()
	var reading sync.WaitGroup
	reading.Go(func() { reader.run(ctx) })

	var acked atomic.Int64
	halfway := make(chan struct{})
	var load sync.WaitGroup
	for w := range orderWriters {
		load.Go(func() {
			for i := range orderNotifications / orderWriters {
				path := fmt.Sprintf("/api/v1/posts/%d/comments", posts[(w+i)%len(posts)])
				body := map[string]string{"body": fmt.Sprintf("answer %d from %d", i, w)}
				deadline := time.Now().Add(60 * time.Second)
				for {
					code, err := callJSON(sc.writerBase(), "POST", path, tokens[w], body, nil)
					if err == nil && code == 201 {
						break
					}
					// The instance is away (killed) or answers 503 while it
					// comes back: try again. A retried comment whose first
					// try committed is one more notification, which the
					// final comparison with the database accounts for.
					if time.Now().After(deadline) {
						t.Errorf("writer %d: comment not accepted: %d %v", w, code, err)
						return
					}
					time.Sleep(20 * time.Millisecond) // retry interval
				}
				if acked.Add(1) == orderNotifications/2 {
					close(halfway)
				}
			}
		})
	}
	loaded := make(chan struct{})
	go func() { load.Wait(); close(loaded) }()
	select {
	case <-halfway:
		if sc.midway != nil {
			sc.midway()
		}
	case <-loaded:
	}
	<-loaded
	if t.Failed() {
		return
	}

	want := listAll(t, sc.writerBase(), readerToken)
	if len(want) < orderNotifications {
		t.Fatalf("the database holds %d notifications for %d comments", len(want), orderNotifications)
	}
	// The reader keeps dropping and resuming until it has them all.
	poll(30*time.Second, func() bool { return len(reader.received()) >= len(want) })
	stopReader()
	reading.Wait()

	got := reader.received()
	reader.mu.Lock()
	violations, conns := reader.violations, reader.conns
	reader.mu.Unlock()
	t.Logf("%d notifications over %d connections", len(got), conns)
	if len(violations) > 0 {
		t.Errorf("%d frames out of order or repeated, first: %s", len(violations), violations[0])
	}
	if missing := difference(want, got); len(missing) > 0 {
		t.Errorf("%d of %d notifications never arrived: %v; the connection that skipped %d and those before it:%s",
			len(missing), len(want), head(missing, 10), missing[0], reader.explain(missing[0]))
	}
	if extra := difference(got, want); len(extra) > 0 {
		t.Errorf("%d received notifications are not in the database: %v", len(extra), head(extra, 10))
	}
}

// difference returns the ids of a that are not in b.
func difference(a, b []int64) []int64 {
	return slices.DeleteFunc(slices.Clone(a), func(id int64) bool { return slices.Contains(b, id) })
}

func head(ids []int64, n int) []int64 { return ids[:min(n, len(ids))] }

// TestOrderedDeliveryOneInstance runs the scenario on one instance, on
// MySQL when configured, else SQLite.
func TestOrderedDeliveryOneInstance(t *testing.T) {
	bin := buildBinary(t)
	overTransports(t, func(t *testing.T, sse bool) {
		p := startProcess(t, bin, freeAddr(t), orderEnv(t))
		logOnFailure(t, p)
		base := func() string { return p.base }
		runOrderScenario(t, orderScenario{writerBase: base, readerBase: base, sse: sse})
	})
}

// twoInstances starts two instances of the binary on one MySQL database
// and one Redis channel; the second reaches Redis through a proxy that the
// test can cut.
func twoInstances(t *testing.T) (bin string, envA map[string]string, a, b *process, proxyB *dbtest.Proxy) {
	t.Helper()
	envA, redis := onRedis(t, orderEnv(t))
	bin = buildBinary(t)
	proxyB = dbtest.NewProxy(t, redis)
	envB := maps.Clone(envA)
	envB["DISCUSS_BROKER_REDIS_ADDR"] = proxyB.Addr()
	a = startProcess(t, bin, freeAddr(t), envA)
	b = startProcess(t, bin, freeAddr(t), envB)
	logOnFailure(t, b) // the reader's instance
	return bin, envA, a, b, proxyB
}

// TestOrderedDeliveryTwoInstances: writers on one instance, the reader on
// the other, over Redis.
func TestOrderedDeliveryTwoInstances(t *testing.T) {
	overTransports(t, func(t *testing.T, sse bool) {
		_, _, a, b, _ := twoInstances(t)
		runOrderScenario(t, orderScenario{
			writerBase: func() string { return a.base },
			readerBase: func() string { return b.base },
			sse:        sse,
		})
	})
}

// TestOrderedDeliveryRedisOutage cuts the reader's instance off from Redis
// halfway through the run and gives it back a moment later.
func TestOrderedDeliveryRedisOutage(t *testing.T) {
	overTransports(t, func(t *testing.T, sse bool) { orderedDeliveryRedisOutage(t, sse) })
}

func orderedDeliveryRedisOutage(t *testing.T, sse bool) {
	_, _, a, b, proxyB := twoInstances(t)
	runOrderScenario(t, orderScenario{
		writerBase: func() string { return a.base },
		readerBase: func() string { return b.base },
		sse:        sse,
		midway: func() {
			proxyB.Cut()
			go func() {
				time.Sleep(500 * time.Millisecond) // the length of the outage
				proxyB.Restore()
			}()
		},
	})
}

// TestOrderedDeliveryWriterKilled kills the writers' instance with SIGKILL
// halfway through the run and starts it again on the same address.
//
// It runs over WebSockets only: what it adds to TwoInstances is on the
// writers' side, and the reader's transport is the same machinery there.
func TestOrderedDeliveryWriterKilled(t *testing.T) {
	bin, envA, a, b, _ := twoInstances(t)
	addr := strings.TrimPrefix(a.base, "http://")
	var mu sync.Mutex
	writer := a
	runOrderScenario(t, orderScenario{
		writerBase: func() string {
			mu.Lock()
			defer mu.Unlock()
			return writer.base
		},
		readerBase: func() string { return b.base },
		midway: func() {
			mu.Lock()
			defer mu.Unlock()
			writer.kill(t)
			waitPortFree(t, addr)
			writer = startProcess(t, bin, addr, envA)
		},
	})
}
