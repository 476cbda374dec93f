package main

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quizsite/discuss/service/dbtest"
)

// TestTwoInstances runs two servers on one MariaDB and one Redis, each with
// its own link to Redis through a proxy the test controls. A reply made
// through instance A reaches a socket on B; with B cut off from Redis,
// replies through A are missed by B's broker, and once the link is back
// B's socket receives them without reconnecting.
func TestTwoInstances(t *testing.T) {
	db := dbtest.OpenEmpty(t)
	envA, redis := onRedis(t, serveEnv(db, map[string]string{"DISCUSS_LOG_LEVEL": "error"}))
	envB := maps.Clone(envA)
	proxyB := dbtest.NewProxy(t, redis)
	envB["DISCUSS_BROKER_REDIS_ADDR"] = proxyB.Addr()
	a := startServe(t, envA)
	b := startServe(t, envB)

	aliceToken, _ := registerUser(t, a, "alice")
	bobToken, _ := registerUser(t, b, "bob")
	post := a.createPost(t, aliceToken, "DP", "why TLE?")
	comment := a.comment(t, aliceToken, post, "n is 1e5")
	reply := func() { a.replyTo(t, bobToken, post, comment, "memoize it") }

	// Alice's socket is on B; Bob replies through A.
	conn := dialHello(t, b, aliceToken)
	pingPong(t, conn) // the connect-time replay is done
	reply()
	first := readNotification(t, conn, 10*time.Second)

	// Cut B off from Redis: what A publishes now does not reach B's broker.
	proxyB.Cut()
	reply()
	reply()
	proxyB.Restore()
	second := readNotification(t, conn, 30*time.Second)
	third := readNotification(t, conn, 10*time.Second)
	if !(first < second && second < third) {
		t.Fatalf("notifications %d, %d, %d: want three distinct, in order", first, second, third)
	}
	var ids []int64
	if err := db.Raw("SELECT id FROM notifications ORDER BY id").Scan(&ids).Error; err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ids) != fmt.Sprint([]int64{first, second, third}) {
		t.Fatalf("received %v, the database holds %v", []int64{first, second, third}, ids)
	}
	// Nothing arrives twice: the socket stays quiet but for pongs.
	pingPong(t, conn)
}

// TestTwoInstancesThreadPage: each instance caches a thread's first page,
// and a change committed through one is on the other's next page, read the
// moment the change's request returns: a comment, a like, an edit, a
// deletion. The check is in the database, so this holds with the broker
// away too (the cache sends no message).
func TestTwoInstancesThreadPage(t *testing.T) {
	db := dbtest.OpenEmpty(t)
	envA, _ := onRedis(t, serveEnv(db, map[string]string{"DISCUSS_LOG_LEVEL": "error"}))
	envB := maps.Clone(envA) // before startServe names A's address in envA
	a := startServe(t, envA)
	b := startServe(t, envB)

	aliceToken, _ := registerUser(t, a, "alice")
	bobToken, _ := registerUser(t, a, "bob")
	carolToken, _ := registerUser(t, b, "carol")
	post := a.createPost(t, aliceToken, "DP", "why TLE?")
	first := a.comment(t, aliceToken, post, "n is 1e5")

	type comment struct {
		ID        int64  `json:"id"`
		Body      string `json:"body"`
		LikeCount int64  `json:"like_count"`
		Liked     bool   `json:"liked"`
		Deleted   bool   `json:"deleted"`
	}
	page := func(s *server, token string) map[int64]comment {
		t.Helper()
		var out struct {
			Items []comment `json:"items"`
		}
		if code := s.call(t, "GET", fmt.Sprintf("/api/v1/posts/%d/comments", post), token, nil, &out); code != 200 {
			t.Fatalf("thread page: %d", code)
		}
		byID := map[int64]comment{}
		for _, c := range out.Items {
			byID[c.ID] = c
		}
		return byID
	}
	hits := func(s *server) float64 {
		t.Helper()
		res, err := http.Get(s.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		for line := range strings.Lines(string(body)) {
			if v, ok := strings.CutPrefix(line, "discuss_thread_page_cache_hits_total "); ok {
				n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
		}
		t.Fatal("no discuss_thread_page_cache_hits_total in /metrics")
		return 0
	}
	page(b, carolToken) // fills B's entry
	before := hits(b)
	if got := page(b, carolToken); len(got) != 1 || got[first].Body != "n is 1e5" {
		t.Fatalf("B's page: %+v", got)
	}
	if hits(b) != before+1 {
		t.Fatalf("B's second read was not served from its cache")
	}

	second := a.comment(t, bobToken, post, "memoize it")
	if _, ok := page(b, carolToken)[second]; !ok {
		t.Errorf("B's page lacks the comment committed through A")
	}
	if code := a.call(t, "PUT", fmt.Sprintf("/api/v1/comments/%d/like", first), carolToken, nil, nil); code != 200 {
		t.Fatalf("like: %d", code)
	}
	if c := page(b, carolToken)[first]; c.LikeCount != 1 || !c.Liked {
		t.Errorf("B's page after carol's like through A: %+v", c)
	}
	if c := page(b, bobToken)[first]; c.LikeCount != 1 || c.Liked {
		t.Errorf("B's page to bob after carol's like: %+v", c)
	}
	if code := a.call(t, "PATCH", fmt.Sprintf("/api/v1/comments/%d", second), bobToken, map[string]string{"body": "memoise it"}, nil); code != 200 {
		t.Fatalf("edit: %d", code)
	}
	if c := page(b, carolToken)[second]; c.Body != "memoise it" {
		t.Errorf("B's page after the edit through A: %+v", c)
	}
	if code := a.call(t, "DELETE", fmt.Sprintf("/api/v1/comments/%d", second), bobToken, nil, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if _, ok := page(b, carolToken)[second]; ok {
		t.Errorf("B's page still shows the comment deleted through A")
	}
	if hits(b) <= before+1 {
		t.Errorf("B served nothing more from its cache")
	}
}
