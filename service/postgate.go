package service

import (
	"context"
	"sync"
)

// gateWidth is how many comments on one post are in their transactions at
// once on an instance: the one that holds the post's row lock, and the one
// already waiting for it in the database.
const gateWidth = 2

// postGate lets gateWidth new comments per post at a time into their
// transactions on this instance; the others wait here, holding nothing.
//
// A post's comments commit one at a time whatever we do: each holds the
// post's row lock from its first statement to its commit (the lock order,
// and the live thread's order, rest on it). Without the gate, the comments
// queued behind a hot post's lock wait inside MySQL, each on a database
// connection of the pool; when a contest ends and dozens of people answer
// on one post, they take every connection, and requests that have nothing
// to do with the post (another user's notification, a page load) wait for
// one. Behind the gate they wait in memory.
//
// One waiter in the database is kept on purpose: InnoDB hands the row to it
// the moment the holder commits (before the commit's log flush, which
// serves every commit waiting for it), whereas a comment let in only after
// the holder's commit returned would add that flush, a wake-up and its
// BEGIN to every comment of the post.
type postGate struct {
	mu    sync.Mutex
	posts map[int64]*gateTurn
}

// gateTurn is one post's gate: gateWidth tokens passed from comment to
// comment, and how many hold or wait for one (the entry goes when none do).
type gateTurn struct {
	tokens chan struct{}
	users  int
}

func newPostGate() *postGate {
	return &postGate{posts: map[int64]*gateTurn{}}
}

// enter waits for a turn on post id, or for ctx to end (then the error is
// ctx's, and the caller holds nothing). The caller calls leave once its
// transaction has ended.
func (g *postGate) enter(ctx context.Context, id int64) (leave func(), err error) {
	g.mu.Lock()
	t := g.posts[id]
	if t == nil {
		t = &gateTurn{tokens: make(chan struct{}, gateWidth)}
		for range gateWidth {
			t.tokens <- struct{}{}
		}
		g.posts[id] = t
	}
	t.users++
	g.mu.Unlock()
	select {
	case <-t.tokens:
		return func() {
			t.tokens <- struct{}{}
			g.done(id, t)
		}, nil
	case <-ctx.Done():
		g.done(id, t)
		return nil, ctx.Err()
	}
}

// done forgets the post once nobody holds or waits for a turn on it.
func (g *postGate) done(id int64, t *gateTurn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.users--; t.users == 0 {
		delete(g.posts, id)
	}
}
