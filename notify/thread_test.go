package notify

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service/dbtest"
)

// subscribe sends subscribe_post and expects post_subscribed.
func (c *wsClient) subscribe(postID int64, after *int64) {
	c.t.Helper()
	msg := fmt.Sprintf(`{"type":"subscribe_post","post_id":%d}`, postID)
	if after != nil {
		msg = fmt.Sprintf(`{"type":"subscribe_post","post_id":%d,"after_comment_id":%d}`, postID, *after)
	}
	c.send(msg)
	if f := c.expect("post_subscribed"); f.PostID != postID {
		c.t.Fatalf("post_subscribed for post %d, want %d", f.PostID, postID)
	}
}

// follow connects userID and subscribes it to postID, after the comment
// after when not nil.
func (e *env) follow(userID, postID int64, after *int64) *wsClient {
	e.t.Helper()
	c := e.connect(userID, dialOpts{})
	c.subscribe(postID, after)
	return c
}

// expectCreated checks the next frames are comment_created for ids, in order.
func (c *wsClient) expectCreated(postID int64, ids ...int64) {
	c.t.Helper()
	for _, id := range ids {
		f := c.expect(model.ThreadCommentCreated)
		if f.PostID != postID || f.Comment == nil || f.Comment.ID != id || f.Comment.PostID != postID {
			c.t.Fatalf("got %+v (comment %+v), want comment_created %d of post %d", f, f.Comment, id, postID)
		}
	}
}

// expectError checks the next frame is an error of code about postID.
func (c *wsClient) expectError(code string, postID int64) {
	c.t.Helper()
	f := c.expect("error")
	if f.Code != code || f.PostID != postID || f.Message == "" {
		c.t.Fatalf("got error %+v, want code %s for post %d", f, code, postID)
	}
}

// comment commits a comment on postID and publishes it through the hub,
// and returns its id.
func (e *env) comment(postID int64) int64 {
	e.t.Helper()
	ev := e.store.threads.addComment(postID)
	e.publishThread(ev)
	return ev.Comment.ID
}

// comments commits n comments on postID and returns their ids. Each is
// published through the hub when publish is set; else their publishes
// are lost, as a broker outage loses them.
func (e *env) comments(postID int64, n int, publish bool) []int64 {
	e.t.Helper()
	var ids []int64
	for range n {
		ev := e.store.threads.addComment(postID)
		if publish {
			e.publishThread(ev)
		}
		ids = append(ids, ev.Comment.ID)
	}
	return ids
}

func (e *env) publishThread(ev *model.ThreadEvent) {
	e.t.Helper()
	if err := e.hub.PublishThread(context.Background(), ev); err != nil {
		e.t.Fatalf("publish %s: %v", ev.Type, err)
	}
}

func TestLiveThreadFrames(t *testing.T) {
	e := newEnv(t, envConfig{})
	const post = 7
	first := e.comment(post) // before anyone follows the post
	a := e.follow(1, post, nil)
	a.expectQuiet() // no replay without after_comment_id

	t.Run("CommentCreated", func(t *testing.T) {
		id := e.comment(post)
		a.expectCreated(post, id)
		e.comment(post + 1) // another post: not sent
		a.expectQuiet()
	})
	t.Run("CommentUpdated", func(t *testing.T) {
		e.publishThread(&model.ThreadEvent{Type: model.ThreadCommentUpdated, PostID: post, Comment: &model.Comment{ID: first, PostID: post, Body: "edited"}})
		f := a.expect(model.ThreadCommentUpdated)
		if f.PostID != post || f.Comment.ID != first || f.Comment.Body != "edited" {
			t.Fatalf("comment_updated %+v %+v", f, f.Comment)
		}
	})
	t.Run("LikeCount", func(t *testing.T) {
		e.publishThread(&model.ThreadEvent{Type: model.ThreadLikeCount, PostID: post, CommentID: &first, LikeCount: 3})
		f := a.expect(model.ThreadLikeCount)
		if f.PostID != post || f.CommentID == nil || *f.CommentID != first || f.LikeCount != 3 {
			t.Fatalf("like_count %+v", f)
		}
		e.publishThread(&model.ThreadEvent{Type: model.ThreadLikeCount, PostID: post, LikeCount: 5})
		if f := a.expect(model.ThreadLikeCount); f.CommentID != nil || f.LikeCount != 5 {
			t.Fatalf("post like_count %+v", f)
		}
	})
	t.Run("CommentDeleted", func(t *testing.T) {
		e.publishThread(&model.ThreadEvent{Type: model.ThreadCommentDeleted, PostID: post, CommentID: &first})
		if f := a.expect(model.ThreadCommentDeleted); f.PostID != post || f.CommentID == nil || *f.CommentID != first {
			t.Fatalf("comment_deleted %+v", f)
		}
	})
	t.Run("PostUpdated", func(t *testing.T) {
		e.publishThread(&model.ThreadEvent{Type: model.ThreadPostUpdated, PostID: post, Post: &model.Post{ID: post, Title: "new title"}})
		if f := a.expect(model.ThreadPostUpdated); f.PostID != post || f.Post == nil || f.Post.Title != "new title" {
			t.Fatalf("post_updated %+v", f)
		}
	})
	t.Run("Unsubscribe", func(t *testing.T) {
		a.send(fmt.Sprintf(`{"type":"unsubscribe_post","post_id":%d}`, post))
		a.expectQuiet() // the unsubscribe is done
		e.comment(post)
		a.expectQuiet()
		e.hub.feedsMu.RLock()
		left := len(e.hub.feeds)
		e.hub.feedsMu.RUnlock()
		if left != 0 {
			t.Fatalf("%d feeds left after the last subscriber left", left)
		}
	})
	t.Run("PostDeleted", func(t *testing.T) {
		a.subscribe(post, nil)
		e.store.threads.deletePost(post)
		e.publishThread(&model.ThreadEvent{Type: model.ThreadPostDeleted, PostID: post})
		if f := a.expect(model.ThreadPostDeleted); f.PostID != post {
			t.Fatalf("post_deleted %+v", f)
		}
		// The subscription ended: nothing more of the post arrives, and
		// subscribing again answers not_found.
		e.publishThread(&model.ThreadEvent{Type: model.ThreadLikeCount, PostID: post, LikeCount: 9})
		a.expectQuiet()
		a.send(fmt.Sprintf(`{"type":"subscribe_post","post_id":%d}`, post))
		a.expectError(model.ENOTFOUND, post)
	})
}

func TestLiveThreadErrors(t *testing.T) {
	e := newEnv(t, envConfig{})
	a := e.connect(1, dialOpts{})
	for _, tc := range []struct {
		name, frame, code string
		postID            int64
	}{
		{"ErrNoPostID", `{"type":"subscribe_post"}`, model.EINVALID, 0},
		{"ErrPostIDText", `{"type":"subscribe_post","post_id":"7"}`, model.EINVALID, 0},
		{"ErrPostIDZero", `{"type":"unsubscribe_post","post_id":0}`, model.EINVALID, 0},
		{"ErrAfterNegative", `{"type":"subscribe_post","post_id":7,"after_comment_id":-1}`, model.EINVALID, 7},
		{"ErrAfterFraction", `{"type":"subscribe_post","post_id":7,"after_comment_id":1.5}`, model.EINVALID, 7},
		{"ErrNotFound", `{"type":"subscribe_post","post_id":5000}`, model.ENOTFOUND, 5000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.send(tc.frame)
			a.expectError(tc.code, tc.postID)
			a.expectQuiet() // and the connection stays open
		})
	}
	t.Run("ErrRateLimited", func(t *testing.T) {
		for post := int64(1); post <= maxPostsPerConnection; post++ {
			a.subscribe(post, nil)
		}
		a.send(`{"type":"subscribe_post","post_id":11}`)
		a.expectError(model.ERATELIMITED, 11)
		a.subscribe(3, nil) // again: no new slot needed
		a.send(`{"type":"unsubscribe_post","post_id":4}`)
		a.subscribe(11, nil)
		a.expectQuiet()
	})
	t.Run("ErrUnavailable", func(t *testing.T) {
		b := e.connect(2, dialOpts{})
		e.store.fail.Store(true)
		b.send(`{"type":"subscribe_post","post_id":7}`)
		b.expectError(model.EUNAVAILABLE, 7)
		e.store.fail.Store(false)
		b.subscribe(7, nil)
	})
}

func TestLiveThreadReplay(t *testing.T) {
	e := newEnv(t, envConfig{})
	const post = 7
	var ids []int64
	for range 5 {
		ids = append(ids, e.comment(post))
		e.comment(post + 1) // ids of other posts in between
	}
	e.store.threads.deleteComment(ids[3])

	t.Run("AfterCommentID", func(t *testing.T) {
		a := e.follow(1, post, &ids[1])
		a.expectCreated(post, ids[2], ids[4])
		a.expectQuiet()
		id := e.comment(post)
		a.expectCreated(post, id)
	})
	t.Run("AfterZero", func(t *testing.T) {
		a := e.follow(2, post, ptr[int64](0))
		a.expectCreated(post, ids[0], ids[1], ids[2], ids[4])
	})
	t.Run("PostResync", func(t *testing.T) {
		const busy = 9
		all := e.comments(busy, threadReplayLimit+5, false)
		a := e.follow(3, busy, ptr[int64](0))
		a.expectCreated(busy, all[:threadReplayLimit]...)
		if f := a.expect("post_resync"); f.PostID != busy {
			t.Fatalf("post_resync %+v", f)
		}
		// Live from the head on: nothing replayed again.
		id := e.comment(busy)
		a.expectCreated(busy, id)
	})
}

// TestLiveThreadOrder publishes comments in an order other than their
// commits' and loses some: every subscriber receives each comment once, in
// id order, and the post's feed, not each subscriber, reads what was lost.
func TestLiveThreadOrder(t *testing.T) {
	e := newEnv(t, envConfig{})
	const post, subscribers = 7, 20
	e.comment(post)
	var subs []*wsClient
	for u := range subscribers {
		subs = append(subs, e.follow(int64(u+1), post, nil))
	}
	evs := make([]*model.ThreadEvent, 6)
	for i := range evs {
		evs[i] = e.store.threads.addComment(post)
	}
	// An edit of the fourth arrives before it: it waits for it.
	edited := *evs[3].Comment
	edited.Body = "edited"
	e.publishThread(&model.ThreadEvent{Type: model.ThreadCommentUpdated, PostID: post, Comment: &edited})
	for _, i := range []int{1, 0, 3, 2, 5} { // evs[4]'s publish is lost
		e.publishThread(evs[i])
	}
	var want []string
	for _, ev := range evs {
		want = append(want, fmt.Sprint("created ", ev.Comment.ID))
	}
	for _, c := range subs {
		// The edit comes after its comment, anywhere after it.
		var got []string
		edited := false
		for len(got) < len(evs) || !edited {
			switch f := c.next(); f.Type {
			case model.ThreadCommentCreated:
				got = append(got, fmt.Sprint("created ", f.Comment.ID))
			case model.ThreadCommentUpdated:
				if edited || len(got) < 4 || f.Comment.ID != evs[3].Comment.ID || f.Comment.Body != "edited" {
					t.Fatalf("comment_updated %+v after %v", f.Comment, got)
				}
				edited = true
			default:
				t.Fatalf("unexpected frame %+v", f)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		c.expectQuiet()
	}
	// Two gaps (the 3rd, then the lost 5th), each read once for twenty
	// subscribers; a gap may be read again when the read began before its
	// predecessor arrived.
	if reads := e.store.threads.readCount(); reads == 0 || reads > 4 {
		t.Fatalf("%d reads for 20 subscribers and 2 gaps", reads)
	}
}

// TestLiveThreadInShards has enough subscribers of a post for its feed to
// write each comment from several goroutines (minShard each) wherever
// GOMAXPROCS is above one, while their users' notifications are published
// meanwhile: on every connection each comment arrives once, in id order,
// and each of its user's notifications once, in id order.
func TestLiveThreadInShards(t *testing.T) {
	const post, users, perUser, comments, perUserNotes = 7, 50, 3, 30, 10
	if users*perUser <= 2*minShard {
		t.Fatal("too few subscribers for two shards")
	}
	e := newEnv(t, envConfig{})
	subs := map[int64][]*wsClient{}
	for u := int64(1); u <= users; u++ {
		for range perUser {
			subs[u] = append(subs[u], e.follow(u, post, nil))
		}
	}
	var ids []int64
	var publishers sync.WaitGroup
	publishers.Go(func() {
		for range comments {
			ev := e.store.threads.addComment(post)
			if err := e.hub.PublishThread(context.Background(), ev); err != nil {
				t.Error(err)
			}
			ids = append(ids, ev.Comment.ID)
		}
	})
	publishNotes(e, &publishers, users, perUserNotes)
	publishers.Wait()
	for u, list := range subs {
		for _, c := range list {
			var got []int64
			var notes noteOrder
			for len(got) < comments || notes.n < perUserNotes {
				switch f := c.next(); f.Type {
				case model.ThreadCommentCreated:
					got = append(got, f.Comment.ID)
				case "notification":
					notes.see(t, u, f)
				default:
					t.Fatalf("user %d: unexpected frame %+v", u, f)
				}
			}
			if !slices.Equal(got, ids) {
				t.Fatalf("user %d: comments %v, want %v", u, got, ids)
			}
			c.expectQuiet()
		}
	}
}

// TestLiveThreadSeam subscribes with after_comment_id while 20 writers
// comment on the post, publishing in whatever order their goroutines run:
// each subscriber receives every comment after its after_comment_id
// exactly once, in id order.
func TestLiveThreadSeam(t *testing.T) {
	// A queue for the whole burst: the writers publish faster than any
	// client reads, which is not what this test is about.
	e := newEnv(t, envConfig{opts: Options{SendQueueSize: 1024}})
	const post, writers, perWriter, subscribers = 7, 20, 9, 8 // fewer than threadReplayLimit comments in all
	for range 10 {
		e.comment(post)
	}
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range perWriter {
				ev := e.store.threads.addComment(post)
				if rand.IntN(4) == 0 {
					time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond) // a slow publisher
				}
				if err := e.hub.PublishThread(context.Background(), ev); err != nil {
					t.Error(err)
				}
			}
		})
	}
	type sub struct {
		c     *wsClient
		after int64
	}
	var subs []sub
	for u := range subscribers {
		after := max(e.store.threads.addComment(post+1).Comment.ID-int64(rand.IntN(20)), 0)
		c := e.follow(int64(u+1), post, &after)
		subs = append(subs, sub{c, after})
	}
	wg.Wait()
	last := e.comment(post) // the end marker
	for _, s := range subs {
		want := commentIDs(e, post, s.after)
		var got []int64
		for len(got) == 0 || got[len(got)-1] != last {
			f := s.c.expect(model.ThreadCommentCreated)
			got = append(got, f.Comment.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("subscriber after %d got %v, want %v", s.after, got, want)
		}
	}
}

// TestLiveThreadAnchorSeam: a subscriber whose head read is overtaken by
// another subscriber's, which anchors the post's feed above it, reads what
// lies between once more: nothing is lost between its replay and the feed.
func TestLiveThreadAnchorSeam(t *testing.T) {
	e := newEnv(t, envConfig{})
	const post = 7
	e.comment(post)
	a, b := e.connect(1, dialOpts{}), e.connect(2, dialOpts{})
	inHead, resume := make(chan struct{}), make(chan struct{})
	hook := func() {
		close(inHead)
		<-resume
	}
	e.store.threads.afterHead.Store(&hook)
	a.send(`{"type":"subscribe_post","post_id":7,"after_comment_id":0}`)
	<-inHead                             // a has joined the feed and read its head
	between := e.comments(post, 3, true) // held: the feed is not anchored
	b.subscribe(post, nil)               // anchors the feed above a's head
	close(resume)
	a.expect("post_subscribed")
	a.expectCreated(post, append([]int64{1}, between...)...)
	last := e.comment(post)
	a.expectCreated(post, last)
	b.expectCreated(post, last)
	a.expectQuiet()
}

// commentIDs returns the ids of the post's comments after after.
func commentIDs(e *env, postID, after int64) []int64 {
	t := &e.store.threads
	t.mu.Lock()
	defer t.mu.Unlock()
	var ids []int64
	for _, c := range t.comments[postID] {
		if c.ID > after {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// TestLiveThreadSlowSubscriber: a subscriber that does not read a hot post
// is closed with 1013 when its queue fills, and others are not held up.
func TestLiveThreadSlowSubscriber(t *testing.T) {
	small := func(ln net.Listener) net.Listener { return smallBufListener{ln} }
	e := newEnv(t, envConfig{opts: Options{SendQueueSize: 4}, listener: small})
	const post = 7
	slow := e.dial(1, dialOpts{noRead: true, smallBuffer: true})
	_ = slow.conn.SetReadDeadline(time.Now().Add(waitTimeout))
	for _, want := range []string{"hello", "post_subscribed"} {
		if want == "post_subscribed" {
			slow.send(`{"type":"subscribe_post","post_id":7}`)
		}
		var f serverFrame
		if err := slow.conn.ReadJSON(&f); err != nil || f.Type != want {
			t.Fatalf("slow subscriber read %+v, %v; want %s", f, err, want)
		}
	}
	fast := e.follow(2, post, nil)
	body := strings.Repeat("m", 8<<10)
	for sent := 0; testutil.ToFloat64(e.hub.m.overflows) == 0; sent++ {
		if sent == 10000 {
			t.Fatal("the slow subscriber's queue never filled")
		}
		ev := e.store.threads.addComment(post)
		ev.Comment.Body = body
		e.publishThread(ev)
		fast.expectCreated(post, ev.Comment.ID) // the fast one keeps up
	}
	// Now the slow one reads: what was written, then 1013.
	slow.expectTooSlow()
	fast.expectCreated(post, e.comment(post))
}

// TestLiveThreadResubscribe: after the broker subscription comes back,
// live-thread events may have been lost: subscribers are sent post_resync,
// and a comment lost meanwhile arrives before the next one.
func TestLiveThreadResubscribe(t *testing.T) {
	b := newFlakyBroker()
	e := newEnv(t, envConfig{broker: b})
	const post = 7
	a := e.follow(1, post, nil)
	b.cut()
	lost := e.store.threads.addComment(post)
	_ = e.hub.PublishThread(context.Background(), lost) // lost with the broker
	b.restore()
	if f := a.expect("post_resync"); f.PostID != post {
		t.Fatalf("post_resync %+v", f)
	}
	next := e.comment(post)
	a.expectCreated(post, lost.Comment.ID, next)
}

// TestLiveThreadRedisTwoInstances: comments committed through one instance
// reach the followers on another in order, however their publishes
// interleave, and a post deleted through either ends the subscriptions on
// both.
func TestLiveThreadRedisTwoInstances(t *testing.T) {
	addr, ch := dbtest.Redis(t)
	store := newFakeStore()
	a := newEnv(t, envConfig{broker: newTestRedisBroker(t, addr, ch), store: store})
	b := newEnv(t, envConfig{broker: newTestRedisBroker(t, addr, ch), store: store})
	const post = 7
	onA, onB := a.follow(1, post, nil), b.follow(2, post, nil)

	evs := []*model.ThreadEvent{store.threads.addComment(post), store.threads.addComment(post), store.threads.addComment(post)}
	a.publishThread(evs[2])
	b.publishThread(evs[0])
	a.publishThread(evs[1])
	for _, c := range []*wsClient{onA, onB} {
		c.expectCreated(post, evs[0].Comment.ID, evs[1].Comment.ID, evs[2].Comment.ID)
	}
	b.publishThread(&model.ThreadEvent{Type: model.ThreadLikeCount, PostID: post, CommentID: &evs[0].Comment.ID, LikeCount: 2})
	for _, c := range []*wsClient{onA, onB} {
		if f := c.expect(model.ThreadLikeCount); f.LikeCount != 2 {
			t.Fatalf("like_count %+v", f)
		}
	}
	store.threads.deletePost(post)
	a.publishThread(&model.ThreadEvent{Type: model.ThreadPostDeleted, PostID: post})
	for _, c := range []*wsClient{onA, onB} {
		c.expect(model.ThreadPostDeleted)
		c.expectQuiet()
	}
}

// TestLiveThreadBurst: a burst of a hot post's comments (a database stall
// released) reaches a subscriber that reads at its own pace; only a queue
// that stays full marks a slow one.
func TestLiveThreadBurst(t *testing.T) {
	e := newEnv(t, envConfig{})
	const post = 7
	a := e.follow(1, post, nil)
	a.expectCreated(post, e.comments(post, 200, true)...)
}

// TestLiveThreadFeedPages: a feed more than a page of comments behind (its
// read waited long) reads on, page after page: its subscribers get every
// comment in order, and no post_resync.
// TestLiveThreadBatch: events that reach a feed while it is busy are
// passed on together, each subscriber corked meanwhile; every subscriber
// still gets every comment once, in order, and a notification queued to a
// corked subscriber arrives too.
func TestLiveThreadBatch(t *testing.T) {
	e := newEnv(t, envConfig{})
	const post = 7
	subs := []*wsClient{e.follow(1, post, nil), e.follow(2, post, nil), e.follow(3, post, nil)}
	e.hub.feedsMu.RLock()
	fd := e.hub.feeds[post]
	e.hub.feedsMu.RUnlock()
	inbox := func(n int) func() bool {
		return func() bool {
			fd.inboxMu.Lock()
			defer fd.inboxMu.Unlock()
			return fd.draining && len(fd.inbox) == n
		}
	}
	// The feed is busy: its drain has taken the first comment and waits
	// for fd.mu, and the next ones pile up in its inbox.
	fd.mu.Lock()
	locked := true
	defer func() {
		if locked {
			fd.mu.Unlock()
		}
	}()
	ids := e.comments(post, 1, true)
	waitFor(t, "the drain to take the first comment", inbox(0))
	ids = append(ids, e.comments(post, 19, true)...)
	waitFor(t, "the rest in the feed's inbox", inbox(19))
	// A notification for user 2 while its connection is corked waits in
	// its queue; uncork writes it.
	corked := fd.cork(2)
	n := e.store.addAndPublish(t, e.hub, 2)
	e.hub.mu.RLock()
	c2 := e.hub.users[2][0]
	e.hub.mu.RUnlock()
	waitFor(t, "the notification queued", func() bool {
		c2.queueMu.Lock()
		defer c2.queueMu.Unlock()
		return len(c2.queue) == 1
	})
	uncork(corked)
	locked = false
	fd.mu.Unlock()
	for i, c := range subs {
		if i == 1 {
			if f := c.expect("notification"); f.Notification == nil || f.Notification.ID != n.ID {
				t.Fatalf("user 2 got %+v, want notification %d", f, n.ID)
			}
		}
		c.expectCreated(post, ids...)
		c.expectQuiet()
	}
}

func TestLiveThreadFeedPages(t *testing.T) {
	e := newEnv(t, envConfig{})
	const post = 7
	a := e.follow(1, post, nil)
	ids := e.comments(post, threadReplayLimit+50, false)
	a.expectCreated(post, append(ids, e.comment(post))...)
	a.expectQuiet()
	if got := testutil.ToFloat64(e.hub.m.threadReads); got != 2 {
		t.Fatalf("%v reads, want 2 pages", got)
	}
}
