package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/quizsite/discuss/service/dbtest"
)

// process is the discuss binary running as a child process; its server
// has no context to cancel, the test kills it instead.
type process struct {
	*server
	cmd *exec.Cmd
}

func startProcess(t *testing.T, bin, addr string, env map[string]string) *process {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "DISCUSS_SERVER_ADDR="+addr)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &process{server: &server{base: "http://" + addr, stderr: &dbtest.SyncBuffer{}}, cmd: cmd}
	cmd.Stdout, cmd.Stderr = p.stderr, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	waitHealthy(t, "binary", p.base, 30*time.Second, p.stderr, nil)
	return p
}

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
	if dbtest.MySQLRootDSN(t) == "" {
		t.Skip("needs MySQL: set DISCUSS_TEST_MYSQL_DSN")
	}
	db := dbtest.OpenEmpty(t)
	bin := filepath.Join(t.TempDir(), "discuss")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	env := map[string]string{
		"DISCUSS_DATABASE_DRIVER":               "mysql",
		"DISCUSS_DATABASE_DSN":                  db.DSN,
		"DISCUSS_DATABASE_AUTO_MIGRATE":         "true",
		"DISCUSS_AUTH_SECRET":                   strings.Repeat("k", 32),
		"DISCUSS_AUTH_BCRYPT_COST":              "4",
		"DISCUSS_LOG_LEVEL":                     "warn",
		"DISCUSS_LIMITS_COMMENTS_PER_MINUTE":    "100000",
		"DISCUSS_LIMITS_REGISTER_PER_MINUTE":    "100000",
		"DISCUSS_WEBSOCKET_SEND_QUEUE_SIZE":     "1024",
		"DISCUSS_WEBSOCKET_UNREAD_REPLAY_LIMIT": "500",
	}
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
		var post, comment struct {
			ID int64 `json:"id"`
		}
		if code := p.call(t, "POST", "/api/v1/posts", users[i].token, map[string]string{"title": "help", "body": "stuck on problem"}, &post); code != 201 {
			t.Fatalf("post: %d", code)
		}
		if code := p.call(t, "POST", fmt.Sprintf("/api/v1/posts/%d/comments", post.ID), users[i].token, map[string]string{"body": "details"}, &comment); code != 201 {
			t.Fatalf("comment: %d", code)
		}
		threads[i] = [2]int64{post.ID, comment.ID}
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
	deadline := time.Now().Add(30 * time.Second)
	for replies.Load() < 150 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // polling interval
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
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
		for {
			r.mu.Lock()
			got := len(r.seen)
			r.mu.Unlock()
			if got >= len(want) {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("reader%d: %d of %d notifications after resuming", i, got, len(want))
			}
			time.Sleep(10 * time.Millisecond) // polling interval
		}
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
