package notify

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/quizsite/discuss/model"
)

// broadcastUsers connects users*perUser connections, users 1..users, so
// that a broadcast to them all is written by more than one goroutine
// (minShard each) wherever GOMAXPROCS is above one.
func broadcastUsers(e *env, users, perUser int) map[int64][]*wsClient {
	e.t.Helper()
	clients := make(map[int64][]*wsClient, users)
	for u := int64(1); u <= int64(users); u++ {
		for range perUser {
			clients[u] = append(clients[u], e.connect(u, dialOpts{}))
		}
	}
	return clients
}

// TestBroadcastInTurnWithNotifications publishes, one after another,
// broadcasts and a notification for each user between them: on every
// connection each broadcast arrives once, in its turn among the user's
// notifications. A broadcast whose write on a connection were not settled
// before PublishBroadcast returned could arrive after the next
// notification; one written twice, or not at all, breaks the sequence too.
func TestBroadcastInTurnWithNotifications(t *testing.T) {
	overTransports(t, func(t *testing.T, sse bool) {
		const users, perUser, rounds = 45, 3, 8
		e := newEnv(t, envConfig{sse: sse})
		clients := broadcastUsers(e, users, perUser)
		if users*perUser <= 2*minShard {
			t.Fatal("too few connections for two broadcast shards")
		}
		sent := make(map[int64][]int64) // each user's notification ids
		for r := range rounds {
			if err := e.hub.PublishBroadcast(context.Background(), announcementNow("round "+strconv.Itoa(r))); err != nil {
				t.Fatal(err)
			}
			for u := int64(1); u <= users; u++ {
				n := e.store.addAndPublish(t, e.hub, u)
				sent[u] = append(sent[u], n.ID)
			}
		}
		for u, list := range clients {
			for _, c := range list {
				for r := range rounds {
					if f := c.expect("broadcast"); f.Message != "round "+strconv.Itoa(r) {
						t.Fatalf("user %d: broadcast %q, want round %d", u, f.Message, r)
					}
					c.expectNotification(sent[u][r], false)
				}
				c.expectQuiet()
			}
		}
	})
}

// TestBroadcastsWhileNotifying publishes broadcasts on one goroutine
// while others publish notifications: the two are not ordered with each
// other, but each connection still gets every broadcast once, in the
// order published, and every notification of its user once, in id order.
func TestBroadcastsWhileNotifying(t *testing.T) {
	const users, perUser, broadcasts, perUserNotes = 45, 3, 20, 20
	e := newEnv(t, envConfig{})
	clients := broadcastUsers(e, users, perUser)
	var publishers sync.WaitGroup
	publishers.Go(func() {
		for i := range broadcasts {
			if err := e.hub.PublishBroadcast(context.Background(), announcementNow(fmt.Sprint("b", i))); err != nil {
				t.Error(err)
			}
		}
	})
	publishNotes(e, &publishers, users, perUserNotes)
	publishers.Wait()
	for u, list := range clients {
		for _, c := range list {
			var gotB int
			var notes noteOrder
			for gotB < broadcasts || notes.n < perUserNotes {
				f := c.next()
				switch f.Type {
				case "broadcast":
					if want := fmt.Sprint("b", gotB); f.Message != want {
						t.Fatalf("user %d: broadcast %q, want %q", u, f.Message, want)
					}
					gotB++
				case "notification":
					notes.see(t, u, f)
				default:
					t.Fatalf("user %d: unexpected frame %+v", u, f)
				}
			}
			c.expectQuiet()
		}
	}
}

// publishNotes has three goroutines of wg publish perUser notifications
// to each of users 1..users, each user's from one of them, in turn with
// the others'.
func publishNotes(e *env, wg *sync.WaitGroup, users int64, perUser int) {
	for p := range int64(3) {
		wg.Go(func() {
			for range perUser {
				for u := 1 + p; u <= users; u += 3 {
					e.store.addAndPublish(e.t, e.hub, u)
				}
			}
		})
	}
}

// noteOrder follows the notifications one connection receives, which must
// come once each and in id order.
type noteOrder struct {
	last int64
	n    int
}

func (o *noteOrder) see(t *testing.T, userID int64, f serverFrame) {
	t.Helper()
	if f.Notification.ID <= o.last {
		t.Fatalf("user %d: notification %d after %d", userID, f.Notification.ID, o.last)
	}
	o.last = f.Notification.ID
	o.n++
}

// TestBroadcastSlowClientAmongMany: a client that does not read is closed
// with 1013 once its queue fills with broadcasts, whichever goroutine
// writes them, while the others, written to by several, get each one.
func TestBroadcastSlowClientAmongMany(t *testing.T) {
	e := newEnv(t, envConfig{opts: Options{SendQueueSize: 4}, listener: func(ln net.Listener) net.Listener { return smallBufListener{ln} }})
	slow := e.dial(1, dialOpts{noRead: true, smallBuffer: true})
	var fast []*wsClient
	for u := int64(2); u < 2+2*minShard; u++ {
		fast = append(fast, e.connect(u, dialOpts{}))
	}
	big := &model.Announcement{Message: strings.Repeat("m", 8<<10)}
	for sent := 0; testutil.ToFloat64(e.hub.m.overflows) == 0; sent++ {
		if sent == 1000 {
			t.Fatal("the slow client's queue never overflowed")
		}
		if err := e.hub.PublishBroadcast(context.Background(), big); err != nil {
			t.Fatal(err)
		}
		for _, c := range fast {
			c.expect("broadcast")
		}
	}
	slow.expectTooSlow()
	for _, c := range fast {
		c.expectQuiet()
	}
}
