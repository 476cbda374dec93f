package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"time"
)

// fanout has the first user of the file comment on their own post at
// --rate (default one a second) for --duration, while --watchers of the
// other connected users watch that post: every comment must reach every
// watcher once, as a thread_comment. Its figures are the POST and, per
// comment, the time from its due start to the last watcher's frame.
func (r *runner) fanout(ctx context.Context) error {
	author, err := r.postAuthor()
	if err != nil {
		return err
	}
	fp, _ := r.followedPost(author, r.cfg.watchers)
	watchers := fp.followers
	if len(watchers) < r.cfg.watchers {
		return fmt.Errorf("--watchers %d: only %d other users are connected", r.cfg.watchers, len(watchers))
	}
	// Only this run's watchers count: frames from users who watch the post
	// since an earlier run are not this run's.
	onFrame := func(c *client, f *frame, at time.Time) {
		if fp.following[c.idx] && f.Type == "notification" && f.Notification != nil &&
			f.Notification.Type == "thread_comment" && f.Notification.CommentID != nil {
			r.d.receive(c.idx, *f.Notification.CommentID, at)
		}
	}
	if _, err := r.connect(ctx, onFrame); err != nil {
		return err
	}

	fmt.Fprintf(r.log, "%d users start watching post %d\n", len(watchers), author.postID)
	path := fmt.Sprintf("/api/v1/posts/%d/subscription", author.postID)
	var setup latencies
	start := time.Now()
	pace(ctx, math.Inf(1), len(watchers), r.cfg.inflight, func(ctx context.Context, seq int, due time.Time) {
		err := r.api.call(ctx, http.MethodPut, path, watchers[seq].user.token, map[string]string{"level": "watching"}, nil)
		setup.add(time.Since(due))
		if err != nil {
			r.failed(fmt.Errorf("watch: %w", err))
		}
	})
	r.rep.rows = append(r.rep.rows, row{name: "PUT /posts/{id}/subscription", sum: setup.summary(), elapsed: time.Since(start)})
	if err := ctx.Err(); err != nil {
		return errContext(err)
	}

	rate, n := r.events(1)
	sent, elapsed := r.paced(ctx, "fanout", rate, n, true, func(ctx context.Context, seq int, due time.Time) {
		fp.comment(ctx, author.token, fmt.Sprintf("loadgen fan-out %d", seq), due)
	})
	var last latencies
	reached := fp.reachedAll()
	for id, at := range reached {
		last.add(at.Sub(fp.dues[id]))
	}
	r.rep.rows = append(r.rep.rows,
		row{name: "fanout: POST to the last watcher's frame", sum: last.summary(), note: "per complete comment"},
		row{name: "fanout: POST to each frame", sum: summarize(r.d.latencies()), elapsed: elapsed},
		row{name: "POST /posts/{id}/comments", sum: fp.post.summary(), elapsed: elapsed})
	r.rep.notes = append(r.rep.notes, fmt.Sprintf("%d of %d comments reached all %d watchers (%d sent)",
		len(reached), len(fp.dues), len(watchers), sent))
	fp.failUnreached(len(reached), "watcher")
	return errContext(ctx.Err())
}
