package notify

import (
	"bufio"
	"fmt"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// TestIdleMemoryPerConnection measures what an idle connection costs the
// server: heap and goroutine stacks per connection, with clients that are
// bare TCP sockets (a hand-made handshake, no reader), so that nearly all
// the growth is the server's. It is a measurement, not a timed test: set
// DISCUSS_MEASURE_WS_MEMORY=<connections> to run it. It measures event
// streams too, whose clients are bare sockets as well.
func TestIdleMemoryPerConnection(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("DISCUSS_MEASURE_WS_MEMORY"))
	if n <= 0 {
		t.Skip("set DISCUSS_MEASURE_WS_MEMORY=<connections> to measure")
	}
	overTransports(t, func(t *testing.T, sse bool) { measureIdleMemory(t, n, sse) })
}

func measureIdleMemory(t *testing.T, n int, sse bool) {
	e := newEnv(t, envConfig{sse: sse})
	addr := e.srv.Listener.Addr().String()
	before := settledMemory()
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for i := range n {
		c, err := rawHandshake(addr, int64(i+1), sse)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	waitFor(t, "every connection to be registered", func() bool {
		_, got := e.hub.LocalCounts()
		return got == n
	})
	// Let the replays finish and the openers exit.
	waitFor(t, "hello to be written everywhere", func() bool {
		return testutil.ToFloat64(e.hub.m.framesSent[kindHello]) == float64(n)
	})
	after := settledMemory()
	per := func(a, b uint64) float64 { return float64(int64(a)-int64(b)) / float64(n) / 1024 }
	t.Logf("%d idle connections: heap %.1f KiB + stacks %.1f KiB = %.1f KiB each (client sockets included); %d goroutines",
		n, per(after.heap, before.heap), per(after.stack, before.stack),
		per(after.heap+after.stack, before.heap+before.stack), runtime.NumGoroutine())
}

type memSample struct{ heap, stack uint64 }

func settledMemory() memSample {
	var m runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return memSample{heap: m.HeapInuse, stack: m.StackInuse}
}

// rawHandshake opens a WebSocket connection for user, or an event stream,
// with nothing but a net.Conn: the client side then costs the Go heap next
// to nothing.
func rawHandshake(addr string, user int64, sse bool) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	req := fmt.Sprintf("GET /ws?user=%d HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", user, addr)
	want := http.StatusSwitchingProtocols
	if sse {
		req = fmt.Sprintf("GET /sse?user=%d HTTP/1.1\r\nHost: %s\r\n\r\n", user, addr)
		want = http.StatusOK
	}
	if _, err := c.Write([]byte(req)); err != nil {
		c.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 256), nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	if resp.StatusCode != want {
		c.Close()
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	return c, nil
}
