package notify

// Live threads under load: every subscriber gets every comment once, in
// order, whatever the interleaving of publishes, subscriptions and reads.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/quizsite/discuss/model"
)

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
