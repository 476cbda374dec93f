package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/quizsite/discuss/service/dbtest"
)

// receiver is one user's socket that records every notification id.
type receiver struct {
	token string
	mu    sync.Mutex
	seen  map[int64]int // notification id -> times received
	maxID int64
}

func (r *receiver) record(id int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen[id]++
	r.maxID = max(r.maxID, id)
}

// listen reads notifications from a socket until it ends.
func (r *receiver) listen(conn *websocket.Conn, done func()) {
	defer done()
	for {
		id, err := nextNotification(conn)
		if err != nil {
			return
		}
		r.record(id)
	}
}

// TestCrashRecovery kills the binary with SIGKILL while replies are being
// made and sockets are open, restarts it, resumes every socket with since,
// and checks that every notification committed before the kill arrived on
// its user's socket exactly once.
func TestCrashRecovery(t *testing.T) {
	needMySQL(t)
	db := dbtest.OpenEmpty(t)
	bin := buildBinary(t)
	env := serveEnv(db, map[string]string{
		"DISCUSS_LIMITS_COMMENTS_PER_MINUTE":    "100000",
		"DISCUSS_LIMITS_REGISTER_PER_MINUTE":    "100000",
		"DISCUSS_WEBSOCKET_SEND_QUEUE_SIZE":     "1024",
		"DISCUSS_WEBSOCKET_UNREAD_REPLAY_LIMIT": "500",
	})
	addr := freeAddr(t)
	p := startProcess(t, bin, addr, env)

	type account struct {
		token string
		id    int64
	}
	register := func(name string) account {
		token, id := registerUser(t, p.server, name)
		return account{token, id}
	}
	// Each recipient has a post with a comment of theirs that others reply to.
	const recipients = 6
	users := make([]account, recipients)
	threads := make([][2]int64, recipients) // post id, comment id
	for i := range users {
		users[i] = register(fmt.Sprintf("reader%d", i))
		post := p.createPost(t, users[i].token, "help", "stuck on problem")
		threads[i] = [2]int64{post, p.comment(t, users[i].token, post, "details")}
	}
	writers := []account{register("writer_a"), register("writer_b"), register("writer_c")}

	receivers := make([]*receiver, recipients)
	var listening sync.WaitGroup
	for i := range receivers {
		receivers[i] = &receiver{token: users[i].token, seen: map[int64]int{}}
		conn, _, err := websocket.DefaultDialer.Dial(wsURL(p.base, users[i].token)+"&since=0", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		listening.Add(1)
		go receivers[i].listen(conn, listening.Done)
	}

	// Replies flow from several writers until the process is killed.
	var replies atomic.Int64
	stop := make(chan struct{})
	var load sync.WaitGroup
	for _, w := range writers {
		load.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := rand.IntN(recipients)
				code, err := callJSON(p.base, "POST", fmt.Sprintf("/api/v1/posts/%d/comments", threads[i][0]), w.token,
					map[string]any{"body": "try a hash map", "parent_id": threads[i][1]}, nil)
				if err != nil {
					return // the process died under this request
				}
				if code == 201 {
					replies.Add(1)
				}
			}
		})
	}
	poll(30*time.Second, func() bool { return replies.Load() >= 150 })
	p.kill(t)
	close(stop)
	load.Wait()
	listening.Wait() // every socket ends with the process
	t.Logf("killed after %d acknowledged replies", replies.Load())

	// What committed is what the database holds now.
	committed := make(map[int64][]int64) // user id -> notification ids
	rows, err := db.Raw("SELECT user_id, id FROM notifications ORDER BY id").Rows()
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for rows.Next() {
		var uid, id int64
		if err := rows.Scan(&uid, &id); err != nil {
			t.Fatal(err)
		}
		committed[uid] = append(committed[uid], id)
		total++
	}
	rows.Close()
	if int64(total) < replies.Load() {
		t.Fatalf("%d notifications committed for %d acknowledged replies", total, replies.Load())
	}

	p2 := startProcess(t, bin, addr, env)
	deadline := time.Now().Add(30 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	for i, r := range receivers {
		r.mu.Lock()
		since := r.maxID
		r.mu.Unlock()
		conn, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL(p2.base, r.token)+fmt.Sprintf("&since=%d", since), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		want := committed[users[i].id]
		done := make(chan struct{})
		go r.listen(conn, func() { close(done) })
		eventually(t, time.Until(deadline), func() error {
			r.mu.Lock()
			defer r.mu.Unlock()
			if got := len(r.seen); got < len(want) {
				return fmt.Errorf("reader%d: %d of %d notifications after resuming", i, got, len(want))
			}
			return nil
		})
		conn.Close()
		<-done
		r.mu.Lock()
		for _, id := range want {
			if r.seen[id] != 1 {
				t.Errorf("reader%d: notification %d arrived %d times", i, id, r.seen[id])
			}
		}
		if len(r.seen) != len(want) {
			t.Errorf("reader%d: %d distinct ids received, %d committed", i, len(r.seen), len(want))
		}
		r.mu.Unlock()
	}
	t.Logf("%d committed notifications for %d readers, each received exactly once", total, recipients)
}
