package main

import (
	"fmt"
	"maps"
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
