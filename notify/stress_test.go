package notify

import (
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestStressExactlyOnce publishes notifications for one user from several
// goroutines (so that publishes overtake each other) while that user's
// clients connect and reconnect at random. It asserts that every
// notification reaches every connection that was open when it committed,
// and that clients resuming with since receive each id exactly once over
// the chain of their connections.
func TestStressExactlyOnce(t *testing.T) {
	overTransports(t, func(t *testing.T, sse bool) { runStress(t, sse, false) })
}

// TestStressExactlyOnceWithBrokerGaps does the same while the broker
// keeps losing messages, which the connections must recover from the Store.
func TestStressExactlyOnceWithBrokerGaps(t *testing.T) {
	overTransports(t, func(t *testing.T, sse bool) { runStress(t, sse, true) })
}

func runStress(t *testing.T, sse, gaps bool) {
	const (
		user       = 1
		other      = 2
		publishers = 4
		// Publishing goes on until minTotal notifications are out and
		// every client has connected minConnections times (the machine
		// may be slow), but no further than maxTotal.
		minTotal       = 400
		maxTotal       = 1500
		minConnections = 5
		// maxBacklog keeps publishers at most this far ahead of the
		// slowest resuming client, so that no resume passes ReplayLimit
		// and gets resync instead of the rest (tested elsewhere).
		maxBacklog = 150
		resumers   = 4 // clients reconnecting with since
		unreaders  = 2 // clients reconnecting without since
	)
	fb := newFlakyBroker()
	e := newEnv(t, envConfig{broker: fb, sse: sse, opts: Options{SendQueueSize: 4096, MaxConnectionsPerUser: 64}})

	var done atomic.Bool // set once everything is published
	var perClient [resumers + unreaders]atomic.Int64
	var sinces [resumers]atomic.Int64
	backlogged := func() bool {
		lowest := e.store.maxID()
		for i := range sinces {
			lowest = min(lowest, sinces[i].Load())
		}
		return e.store.maxID()-lowest > maxBacklog
	}
	enough := func() bool {
		n := e.store.maxID()
		if n >= maxTotal {
			return true
		}
		if n < minTotal {
			return false
		}
		for i := range perClient {
			if perClient[i].Load() < minConnections {
				return false
			}
		}
		return true
	}
	var pubs sync.WaitGroup
	for range publishers {
		pubs.Go(func() {
			for !enough() {
				deadline := time.Now().Add(waitTimeout)
				for backlogged() {
					if time.Now().After(deadline) {
						t.Error("clients stopped resuming")
						return
					}
					time.Sleep(100 * time.Microsecond) // polling a condition
				}
				e.store.addAndPublish(t, e.hub, user)
				if rand.IntN(4) == 0 {
					e.store.addAndPublish(t, e.hub, other)
				}
				if rand.IntN(8) == 0 {
					time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond) // pacing, not synchronisation
				}
			}
		})
	}
	stopChaos := make(chan struct{})
	var chaos sync.WaitGroup
	if gaps {
		chaos.Go(func() {
			for {
				select {
				case <-stopChaos:
					fb.restore()
					return
				case <-time.After(time.Duration(1+rand.IntN(5)) * time.Millisecond): // pacing
				}
				fb.cut()
				time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond) // pacing
				fb.restore()
			}
		})
	}

	var clients sync.WaitGroup
	var connections atomic.Int64
	for i := range resumers + unreaders {
		clients.Go(func() {
			resume := i < resumers
			var since int64
			var chain []int64 // every id received over this client's connections
			for {
				last := done.Load()
				var sinceArg *int64
				if resume {
					sinceArg = &since
				}
				got, err := stressConnection(e, user, sinceArg)
				connections.Add(1)
				perClient[i].Add(1)
				if err != nil {
					t.Errorf("client %d: %v", i, err)
					return
				}
				if resume && len(got) > 0 {
					chain = append(chain, got...)
					since = slices.Max(got)
					sinces[i].Store(since)
				}
				if last {
					break
				}
			}
			if resume {
				slices.Sort(chain)
				want := e.store.idsBetween(user, 0, e.store.maxID())
				if !slices.Equal(chain, want) {
					t.Errorf("client %d: resumed chain has %d ids, want each of %d once", i, len(chain), len(want))
				}
			}
		})
	}
	start := time.Now()
	pubs.Wait()
	t.Logf("published in %v", time.Since(start))
	close(stopChaos)
	chaos.Wait()
	done.Store(true)
	clients.Wait()
	t.Logf("%d notifications, %d connections", e.store.maxID(), connections.Load())
	if got := testutil.ToFloat64(e.hub.m.overflows); got != 0 {
		t.Errorf("%v queue overflows", got)
	}
}

// stressConnection opens one connection, reads from it for a random while,
// then waits until it has received every notification of user committed
// since it was opened (and, with since, every one after since), with no
// holes below the largest id received, and closes it. It returns the ids
// received.
func stressConnection(e *env, user int64, since *int64) ([]int64, error) {
	c, _, err := e.open(user, dialOpts{since: since})
	if err != nil {
		return nil, err
	}
	go c.readLoop()
	defer c.closeNormally()

	f, ok, err := c.tryNext(waitTimeout)
	if err != nil || !ok || f.Type != "hello" {
		return nil, fmt.Errorf("want hello, got %+v (%v)", f, err)
	}
	// Everything committed after hello was received committed after the
	// connection was registered, so it must arrive.
	from := e.store.maxID()
	if since != nil {
		from = *since
	}
	received := map[int64]bool{}
	take := func(f serverFrame) error {
		if f.Type == "resync" {
			return errors.New("resync: the backlog passed ReplayLimit")
		}
		if f.Type != "notification" {
			return nil
		}
		id := f.Notification.ID
		if received[id] {
			return fmt.Errorf("notification %d twice on one connection", id)
		}
		if since != nil && id <= *since {
			return fmt.Errorf("notification %d is not after since=%d", id, *since)
		}
		received[id] = true
		return nil
	}
	for range rand.IntN(40) {
		f, ok, err := c.tryNext(time.Millisecond)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if err := take(f); err != nil {
			return nil, err
		}
	}
	// The barrier: all committed so far, without holes.
	upTo := e.store.maxID()
	deadline := time.Now().Add(waitTimeout)
	for {
		top := upTo
		for id := range received {
			top = max(top, id)
		}
		missing := 0
		for _, id := range e.store.idsBetween(user, from, top) {
			if !received[id] {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d notifications in (%d, %d] never arrived", missing, from, top)
		}
		f, ok, err := c.tryNext(time.Until(deadline))
		if err != nil {
			return nil, err
		}
		if ok {
			if err := take(f); err != nil {
				return nil, err
			}
		}
	}
	for id := range received {
		if !slices.Contains(e.store.idsBetween(user, id-1, id), id) {
			return nil, fmt.Errorf("notification %d is not the user's", id)
		}
	}
	ids := make([]int64, 0, len(received))
	for id := range received {
		ids = append(ids, id)
	}
	return ids, nil
}
