package service

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestPostGate: gateWidth holders per post, others wait and go in turn, a
// waiter whose context ends gives up holding nothing, other posts are not
// held up, and a post nobody holds or waits for is forgotten.
func TestPostGate(t *testing.T) {
	g := newPostGate()
	ctx := context.Background()
	var held []func()
	for range gateWidth {
		leave, err := g.enter(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, leave)
	}
	leave2, err := g.enter(ctx, 2)
	if err != nil {
		t.Fatalf("another post waits for post 1: %v", err)
	}
	leave2()

	entered := make(chan func())
	go func() {
		leave, err := g.enter(ctx, 1)
		if err != nil {
			t.Error(err)
		}
		entered <- leave
	}()
	for deadline := time.Now().Add(10 * time.Second); g.users(1) != gateWidth+1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the extra comment never waited for post 1")
		}
	}
	select {
	case <-entered:
		t.Fatalf("a comment entered post 1 while %d held it", gateWidth)
	default:
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := g.enter(cancelled, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("enter with an ended context while post 1 is full = %v, want context.Canceled", err)
	}
	if n := g.users(1); n != gateWidth+1 {
		t.Fatalf("post 1 has %d users after a waiter gave up, want %d", n, gateWidth+1)
	}

	held[0]()
	var leave func()
	select {
	case leave = <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter did not enter once a holder left post 1")
	}
	leave()
	for _, leave := range held[1:] {
		leave()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.posts) != 0 {
		t.Fatalf("the gate still keeps %d posts that nobody holds", len(g.posts))
	}
}

// users is how many hold or wait for a turn on post id.
func (g *postGate) users(id int64) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t := g.posts[id]; t != nil {
		return t.users
	}
	return 0
}
