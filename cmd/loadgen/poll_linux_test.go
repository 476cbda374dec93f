//go:build linux

package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestPolledConnection: a connection the pollers read gets every message
// gorilla's server writes, in order, whatever its length encoding and
// however it is fragmented; answers pings; writes masked frames of every
// length encoding that the server accepts; and ends with the server's
// close code, counted as a drop.
func TestPolledConnection(t *testing.T) {
	sizes := []int{0, 10, 125, 126, 300, 65535, 65536, 70000}
	body := func(n int) string { return strings.Repeat("x", n) }
	// A small write buffer makes gorilla's NextWriter send the longer
	// messages in several frames.
	upgrader := &websocket.Upgrader{WriteBufferSize: 256}
	noToken := func(r *http.Request) int {
		if r.Header.Get("Authorization") != "Bearer t" {
			return http.StatusUnauthorized
		}
		return 0
	}
	srv := helloServer(upgrader, noToken, func(conn *websocket.Conn) {
		for _, n := range sizes {
			msg := fmt.Appendf(nil, `{"type":"m","message":%q}`, body(n))
			// Once in one frame, once in frames of 256 bytes at most.
			_ = conn.WriteMessage(websocket.TextMessage, msg)
			w, err := conn.NextWriter(websocket.TextMessage)
			if err != nil {
				return
			}
			_, _ = w.Write(msg)
			_ = w.Close()
		}
		pong := make(chan string, 1)
		conn.SetPongHandler(func(s string) error { pong <- s; return nil })
		_ = conn.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second))
		// The client's messages, each answered with its length, read on a
		// goroutine of their own, which meets the pong too.
		msgs := make(chan []byte)
		go func() {
			defer close(msgs)
			for {
				_, msg, err := conn.ReadMessage()
				if err != nil {
					return
				}
				msgs <- msg
			}
		}()
		for range sizes {
			msg, ok := <-msgs
			if !ok {
				return
			}
			_ = conn.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"got","message":"%d"}`, len(msg)))
		}
		select {
		case s := <-pong:
			_ = conn.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"pong","message":%q}`, s))
		case <-time.After(5 * time.Second):
		}
		_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "busy"))
		for range msgs { // until the client goes
		}
	})
	defer srv.Close()

	s := testSwarm(srv.URL, 1)
	var mu sync.Mutex
	var got []string
	s.onFrame = func(_ *client, f *frame, _ time.Time) {
		mu.Lock()
		got = append(got, f.Type+":"+f.Message)
		mu.Unlock()
	}
	if err := s.poll(func(*client) bool { return true }); err != nil {
		t.Fatal(err)
	}
	defer s.polls.stop()
	if err := s.connect(context.Background(), s.clients[0], -1); err != nil {
		t.Fatal(err)
	}
	c := s.clients[0]
	if _, ok := c.conn.(*pollConn); !ok {
		t.Fatalf("the connection is a %T, not read by the pollers", c.conn)
	}
	for _, n := range sizes {
		if err := c.conn.WriteMessage(websocket.TextMessage, []byte(body(n))); err != nil {
			t.Fatal(err)
		}
	}
	<-c.ended

	var want []string
	for _, n := range sizes {
		want = append(want, "m:"+body(n), "m:"+body(n))
	}
	for _, n := range sizes {
		want = append(want, fmt.Sprintf("got:%d", n))
	}
	want = append(want, "pong:are you there")
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("%d messages, want %d: %.200q", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("message %d is %.80q, want %.80q", i, got[i], want[i])
		}
	}
	if s.closedWith(websocket.CloseTryAgainLater) != 1 || c.up.Load() || s.connected.Load() != 0 {
		t.Fatalf("drops by code %s, up %v, %d connected: want one drop with 1013 and none connected", s.drops(), c.up.Load(), s.connected.Load())
	}
}

// TestPolledRefusedAndClosed: a refused upgrade is the dial's error with
// its status, as through gorilla; a connection we close ends without being
// counted as a drop, and stop ends the loops.
func TestPolledRefusedAndClosed(t *testing.T) {
	busyOnSince := func(r *http.Request) int {
		if r.URL.Query().Get("since") == "1" {
			return http.StatusServiceUnavailable
		}
		return 0
	}
	srv := helloServer(&websocket.Upgrader{}, busyOnSince, func(conn *websocket.Conn) {
		_, _, _ = conn.ReadMessage()
	})
	defer srv.Close()
	s := testSwarm(srv.URL, 50)
	if err := s.poll(func(c *client) bool { return c.idx%2 == 0 }); err != nil {
		t.Fatal(err)
	}
	err := s.connect(context.Background(), s.clients[0], 1)
	if err == nil || !strings.Contains(err.Error(), "HTTP 503") {
		t.Fatalf("dial refused with 503: %v", err)
	}
	var lat latencies
	if failed, first := s.connectAll(context.Background(), 10, func(*client) int64 { return -1 }, &lat); failed > 0 {
		t.Fatalf("%d connections failed: %v", failed, first)
	}
	if n := s.connected.Load(); n != 50 {
		t.Fatalf("%d connected, want 50", n)
	}
	s.stop()
	if n := s.dropped.Load(); n != 0 || s.connected.Load() != 0 {
		t.Fatalf("%d drops and %d connected after we closed every connection", n, s.connected.Load())
	}
}

// TestPolledHandshakeCancelled: a server that never answers the upgrade
// holds the dial only until its context ends.
func TestPolledHandshakeCancelled(t *testing.T) {
	answered := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-answered
	}))
	defer srv.Close()
	defer close(answered)
	s := testSwarm(srv.URL, 1)
	if err := s.poll(func(*client) bool { return true }); err != nil {
		t.Fatal(err)
	}
	defer s.polls.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.connect(ctx, s.clients[0], -1)
	if err == nil || ctx.Err() == nil {
		t.Fatalf("connect returned %v before its context ended", err)
	}
	if waited := time.Since(start); waited > 4*time.Second {
		t.Fatalf("connect returned after %s, not when its context ended", waited)
	}
}

// helloServer serves WebSockets: a request that refuse gives a status is
// refused with it; any other is upgraded, sent hello and handed to serve,
// and closed when serve returns.
func helloServer(upgrader *websocket.Upgrader, refuse func(*http.Request) int, serve func(*websocket.Conn)) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status := refuse(r); status != 0 {
			http.Error(w, http.StatusText(status), status)
			return
		}
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		_ = conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello"}`))
		serve(conn)
	}))
}
