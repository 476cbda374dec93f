package main

// Stopping serve: what is under way when it stops ends cleanly and
// promptly.

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestGracefulShutdown stops the server while requests are under way and
// sockets are open: every request gets a whole answer, and every socket is
// closed with 1001 (going away).
func TestGracefulShutdown(t *testing.T) {
	env := databaseEnv(t)
	env["DISCUSS_AUTH_BCRYPT_COST"] = "10"
	env["DISCUSS_LIMITS_LOGIN_PER_MINUTE"] = "1000000"
	s := startServe(t, env)
	token, _ := registerUser(t, s, "alice")
	// Each socket is read until it ends, which also answers the server's
	// close frame as a browser would.
	closed := make(chan error, 5)
	for range cap(closed) {
		conn := dialHello(t, s, token)
		go func() {
			// A bound for a server that never closes the socket, not a
			// measure: on a busy machine the logins before the stop take
			// up to 20 s, and the stop itself drains them first.
			_ = conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
			var err error
			for err == nil {
				_, _, err = conn.ReadMessage()
			}
			closed <- err
		}()
	}

	// Keep logins flowing (each spends tens of milliseconds in bcrypt, so
	// some are always under way) until the server stops taking connections.
	// A request either gets its whole answer or is never served: the
	// listener closes first, and a connection still in its backlog is
	// reset before any byte is read. What must never happen is an answer
	// that starts and is cut off.
	var answered, refused, broken atomic.Int64
	stopLoad := make(chan struct{})
	var load sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for range 8 {
		load.Go(func() {
			for {
				select {
				case <-stopLoad:
					return
				default:
				}
				res, err := client.Post(s.base+"/api/v1/auth/login", "application/json",
					strings.NewReader(`{"username":"alice","password":"password123"}`))
				if err != nil {
					refused.Add(1)
					return
				}
				data, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil || res.StatusCode != 200 || !json.Valid(data) {
					broken.Add(1)
					t.Errorf("answer %d %q %v", res.StatusCode, data, err)
					return
				}
				answered.Add(1)
			}
		})
	}
	// Let some requests through before stopping.
	poll(20*time.Second, func() bool { return answered.Load() >= 5 })
	s.stop(t)
	close(stopLoad)
	load.Wait()
	if broken.Load() > 0 || answered.Load() < 5 {
		t.Fatalf("answered %d, cut %d", answered.Load(), broken.Load())
	}
	t.Logf("answered %d whole; %d not served after the listener closed", answered.Load(), refused.Load())

	for range cap(closed) {
		if err := <-closed; !websocket.IsCloseError(err, websocket.CloseGoingAway) {
			t.Errorf("a socket ended with %v, want close 1001", err)
		}
	}
}

// TestShutdownClosesEventStreams: an event stream's handler runs as long as
// the stream, and the HTTP drain waits for handlers; serve closes the
// streams (a close event, 1001) as the drain starts, so that it stops
// promptly, not when server.shutdown_timeout runs out.
func TestShutdownClosesEventStreams(t *testing.T) {
	env := databaseEnv(t)
	env["DISCUSS_SERVER_SHUTDOWN_TIMEOUT"] = "60s"
	s := startServe(t, env)
	token, _ := registerUser(t, s, "alice")
	stream := liveHello(t, true, s.base, token, 0)
	start := time.Now()
	s.stop(t)
	// The bound is far below the drain's 60 s and far above a stop's time.
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("serve took %v to stop with a stream open", took)
	}
	if _, err := stream.read(); err == nil || !strings.Contains(err.Error(), `"code":1001`) {
		t.Fatalf("the stream ended with %v, want a close event with 1001", err)
	}
}
