package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// byComment records every notification frame that names a comment under
// the comment's id: a comment notifies its post's author once, so the
// comment id names the delivery the way the requester knows it.
func (r *runner) byComment(c *client, f *frame, at time.Time) {
	if f.Type == "notification" && f.Notification != nil && f.Notification.CommentID != nil {
		r.d.receive(c.idx, *f.Notification.CommentID, at)
	}
}

// targets are the connected clients with a post to comment on.
func (r *runner) targets() ([]*client, error) {
	var ts []*client
	for _, c := range r.sw.clients {
		if c.user.postID != 0 {
			ts = append(ts, c)
		}
	}
	if len(ts) == 0 {
		return nil, errors.New("no connected user has a post: seed with --posts at least --users")
	}
	return ts, nil
}

// comment has a random other user comment on target's post, recording the
// expected delivery; latency runs from due, the paced start.
func (r *runner) comment(ctx context.Context, target *client, seq int, due time.Time, rest *latencies) {
	actor := r.randomUserBut(target.user.id)
	id, err := r.api.comment(ctx, actor.token, target.user.postID, fmt.Sprintf("loadgen reply %d", seq))
	if rest != nil {
		rest.add(time.Since(due))
	}
	if err != nil {
		r.failed(err)
		return
	}
	r.d.started(id, due)
	r.d.expect(target.idx, id)
}

// reply has random users comment at --rate on the posts of random
// connected users, each of whom must receive one post_comment
// notification. Latency runs from the request's due time to the frame's
// receipt; the request rate the server sustained is the POST row's
// throughput.
func (r *runner) reply(ctx context.Context) error {
	if _, err := r.connect(ctx, r.byComment); err != nil {
		return err
	}
	targets, err := r.targets()
	if err != nil {
		return err
	}
	before, herr := r.api.scrapeHistogram(ctx, deliveryHistogram)
	rate, n := r.events(200)
	var post latencies
	cpu := r.measureCPU()
	started, sent := r.paced(ctx, "reply", rate, n, true, func(ctx context.Context, seq int, due time.Time) {
		r.comment(ctx, targets[rand.IntN(len(targets))], seq, due, &post)
	})
	cpu(started, "reply")
	r.deliveryRows(ctx, "reply", "reply: POST to frame", "POST /posts/{id}/comments", &post, sent, before, herr)
	r.rep.notes = append(r.rep.notes, fmt.Sprintf("asked for %.0f replies/s; sent %d in %s: %.1f/s",
		rate, started, sent.Round(time.Millisecond), float64(started)/sent.Seconds()))
	return errContext(ctx.Err())
}
