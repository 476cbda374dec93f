package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/quizsite/discuss/service/dbtest"
)

// readNotification reads frames until a notification arrives and returns
// its id, skipping hello, unread_count and the like.
func readNotification(t *testing.T, conn *websocket.Conn, within time.Duration) int64 {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(within))
	id, err := nextNotification(conn)
	if err != nil {
		t.Fatalf("waiting for a notification: %v", err)
	}
	return id
}

// nextNotification reads frames until a notification arrives and returns
// its id, skipping hello, unread_count and the like.
func nextNotification(conn *websocket.Conn) (int64, error) {
	for {
		f, err := readFrame(conn)
		if err != nil {
			return 0, err
		}
		if f.Type == "notification" {
			return f.Notification.ID, nil
		}
	}
}

// seenFrame is what the tests read of a server frame.
type seenFrame struct {
	Type         string `json:"type"`
	Replayed     bool   `json:"replayed"`
	Notification struct {
		ID int64 `json:"id"`
	} `json:"notification"`
}

func readFrame(conn *websocket.Conn) (seenFrame, error) {
	var f seenFrame
	err := conn.ReadJSON(&f)
	return f, err
}

// TestTwoInstances runs two servers on one MariaDB and one Redis, each with
// its own link to Redis through a proxy the test controls. A reply made
// through instance A reaches a socket on B; with B cut off from Redis,
// replies through A are missed by B's broker, and once the link is back
// B's socket receives them without reconnecting.
func TestTwoInstances(t *testing.T) {
	redisAddr := os.Getenv("DISCUSS_TEST_REDIS_ADDR")
	if redisAddr == "" || dbtest.MySQLRootDSN(t) == "" {
		t.Skip("needs MySQL and Redis: set DISCUSS_TEST_MYSQL_DSN and DISCUSS_TEST_REDIS_ADDR")
	}
	db := dbtest.OpenEmpty(t)
	channel := "discuss_test_" + strings.ReplaceAll(t.Name(), "/", "_") + fmt.Sprint(time.Now().UnixNano())
	instance := func(redis string) map[string]string {
		return map[string]string{
			"DISCUSS_DATABASE_DRIVER":       "mysql",
			"DISCUSS_DATABASE_DSN":          db.DSN,
			"DISCUSS_DATABASE_AUTO_MIGRATE": "true",
			"DISCUSS_AUTH_SECRET":           strings.Repeat("k", 32),
			"DISCUSS_AUTH_BCRYPT_COST":      "4",
			"DISCUSS_LOG_LEVEL":             "error",
			"DISCUSS_BROKER_KIND":           "redis",
			"DISCUSS_BROKER_REDIS_ADDR":     redis,
			"DISCUSS_BROKER_CHANNEL":        channel,
		}
	}
	a := startServe(t, instance(redisAddr))
	proxyB := dbtest.NewProxy(t, redisAddr)
	b := startServe(t, instance(proxyB.Addr()))

	aliceToken, _ := registerUser(t, a, "alice")
	bobToken, _ := registerUser(t, b, "bob")
	var post, comment struct {
		ID int64 `json:"id"`
	}
	if code := a.call(t, "POST", "/api/v1/posts", aliceToken, map[string]string{"title": "DP", "body": "why TLE?"}, &post); code != 201 {
		t.Fatalf("post: %d", code)
	}
	if code := a.call(t, "POST", fmt.Sprintf("/api/v1/posts/%d/comments", post.ID), aliceToken, map[string]string{"body": "n is 1e5"}, &comment); code != 201 {
		t.Fatalf("comment: %d", code)
	}
	reply := func() { replyTo(t, a, bobToken, post.ID, comment.ID, "memoize it") }

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
