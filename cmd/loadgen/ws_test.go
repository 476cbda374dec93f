package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestHelloThenClose: a server that says hello and closes the connection at
// once (1013, as an overloaded one does) must leave every client down and
// uncounted, so that a reconnect loop comes back for it; none may be
// counted as up after its reader saw the close. Through gorilla, and
// through the pollers.
func TestHelloThenClose(t *testing.T) {
	upgrader := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		_ = conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello"}`))
		_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseTryAgainLater, ""))
		_, _, _ = conn.ReadMessage() // until the client goes
	}))
	defer srv.Close()
	for _, polled := range []bool{false, true} {
		t.Run(fmt.Sprintf("polled=%v", polled), func(t *testing.T) {
			s := testSwarm(srv.URL, 300)
			if polled {
				if err := s.poll(func(*client) bool { return true }); err != nil {
					t.Skip(err)
				}
				defer s.polls.stop()
			}
			var lat latencies
			s.connectAll(context.Background(), 50, func(*client) int64 { return -1 }, &lat)
			s.readers.Wait()
			up := 0
			for _, c := range s.clients {
				if c.up.Load() {
					up++
				}
			}
			if up > 0 || s.connected.Load() != 0 {
				t.Fatalf("%d clients up and %d counted connected after the server closed all", up, s.connected.Load())
			}
			if got := s.closedWith(websocket.CloseTryAgainLater); got != len(s.clients) {
				t.Fatalf("%d drops with 1013, want %d", got, len(s.clients))
			}
		})
	}
}

// TestTakeDrop: a drop is counted as recovered once, however many
// reconnect attempts it takes.
func TestTakeDrop(t *testing.T) {
	c := &client{}
	c.dropCode.Store(websocket.CloseTryAgainLater)
	if !c.takeDrop() {
		t.Fatal("the drop was not taken")
	}
	if c.takeDrop() {
		t.Fatal("the drop was taken twice")
	}
}

// testSwarm is a swarm of n users for the server at rawURL, from one
// source address.
func testSwarm(rawURL string, n int) *swarm {
	base, _ := url.Parse(rawURL)
	users := make([]user, n)
	for i := range users {
		users[i] = user{id: int64(i + 1), name: "u", token: "t"}
	}
	return newSwarm(base, users, 1, 5*time.Second)
}
