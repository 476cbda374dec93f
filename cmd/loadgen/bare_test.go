package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestBareBroadcast: the bare server says hello to every client, answers
// each one's ping and writes a broadcast to each, once.
func TestBareBroadcast(t *testing.T) {
	b, err := newBareServer()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b.handler())
	defer srv.Close()
	s := testSwarm(srv.URL, 50)
	var got atomic.Int64
	s.onFrame = func(_ *client, f *frame, _ time.Time) {
		if f.Type == "broadcast" && f.Message == "hi" {
			got.Add(1)
		}
	}
	var lat latencies
	if failed, first := s.connectAll(context.Background(), 10, func(*client) int64 { return -1 }, &lat); failed > 0 {
		t.Fatalf("%d connects failed: %v", failed, first)
	}
	defer s.closeAll()
	if missing := s.pingAll(5 * time.Second); missing != 0 {
		t.Fatalf("%d clients had no pong", missing)
	}
	res, err := http.Post(srv.URL+"/api/v1/admin/broadcast", "application/json", strings.NewReader(`{"message":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted || !strings.Contains(string(body), `"online_connections":50`) {
		t.Fatalf("broadcast: %d %s", res.StatusCode, body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for got.Load() < 50 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling, bounded by the deadline
	}
	if n := got.Load(); n != 50 {
		t.Fatalf("%d of 50 clients got the broadcast", n)
	}
}

// TestBareListensOnLoopbackOnly: like every target of loadgen, the bare
// server is for this machine's loopback.
func TestBareListensOnLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:18090", "10.0.0.1:18090", "nonsense"} {
		if err := serveBare(context.Background(), []string{"-listen", addr}, io.Discard); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%s: %v", addr, err)
		}
	}
}
