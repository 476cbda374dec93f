package service

import (
	"context"
	"sync"
)

// postGate lets one new comment per post at a time into its transaction on
// this instance; the others wait here, holding nothing.
//
// A post's comments commit one at a time whatever we do: each holds the
// post's row lock from its first statement to its commit (the lock order,
// and the live thread's order, rest on it). Without the gate, the comments
// queued behind a hot post's lock wait inside MySQL, each on a database
// connection of the pool; when a contest ends and dozens of people answer
// on one post, they take every connection, and requests that have nothing
// to do with the post (another user's notification, a page load) wait for
// one. Behind the gate they wait in memory, and the row lock has at most
// one waiter per instance.
//
// A comment leaves the gate after its last statement, before its commit:
// the next one's first statements then overlap the commit's log flush, and
// its lock request is granted as soon as the commit releases the row, not
// after the flush (InnoDB releases locks before it flushes, and a flush
// serves all the commits waiting for it).
type postGate struct {
	mu    sync.Mutex
	posts map[int64]*gateTurn
}

// gateTurn is one post's gate: a token passed from comment to comment, and
// how many hold or wait for it (the entry goes when none do).
type gateTurn struct {
	token chan struct{}
	users int
}

func newPostGate() *postGate {
	return &postGate{posts: map[int64]*gateTurn{}}
}

// enter waits for post id's turn, or for ctx to end (then the error is
// ctx's, and the caller holds nothing). The caller must call leave when its
// transaction has written its last row, before its commit; calls after the
// first do nothing.
func (g *postGate) enter(ctx context.Context, id int64) (leave func(), err error) {
	g.mu.Lock()
	t := g.posts[id]
	if t == nil {
		t = &gateTurn{token: make(chan struct{}, 1)}
		t.token <- struct{}{}
		g.posts[id] = t
	}
	t.users++
	g.mu.Unlock()
	select {
	case <-t.token:
		var once sync.Once
		return func() {
			once.Do(func() {
				t.token <- struct{}{}
				g.done(id, t)
			})
		}, nil
	case <-ctx.Done():
		g.done(id, t)
		return nil, ctx.Err()
	}
}

// done forgets the post once nobody holds or waits for its turn.
func (g *postGate) done(id int64, t *gateTurn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.users--; t.users == 0 {
		delete(g.posts, id)
	}
}
