package main

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// threadRead reads the first page of a long thread's comments at --rate,
// as random users, with the connections open. Latency runs from each
// request's due time to the end of its body.
//
// With --like-every n, every nth reader first likes one of the page's
// comments (each a different one in turn) and then reads the page: a new
// like changes the page for everyone, and this reader's own page shows it
// (liked), so the server reads it afresh. The like is timed from its due
// time in a row of its own, and that reader's read from its own start.
// bench.sh removes the thread's likes before each run, so that every like
// of a run is a new one.
func (r *runner) threadRead(ctx context.Context) error {
	path := fmt.Sprintf("/api/v1/posts/%d", r.cfg.postID)
	var post struct {
		CommentCount int64 `json:"comment_count"`
	}
	if err := r.api.call(ctx, http.MethodGet, path, r.all[0].token, nil, &post); err != nil {
		return err
	}
	r.rep.notes = append(r.rep.notes, fmt.Sprintf("post %d has %d comments", r.cfg.postID, post.CommentCount))
	path += "/comments"
	if r.cfg.query != "" {
		path += "?" + r.cfg.query
	}
	if len(r.sw.clients) > 0 {
		if _, err := r.connect(ctx, r.byNotification); err != nil {
			return err
		}
	}
	var liked []int64 // the page's comments and replies, to like in turn
	if r.cfg.likeEvery > 0 {
		var page struct {
			Items []struct {
				ID      int64 `json:"id"`
				Replies []struct {
					ID int64 `json:"id"`
				} `json:"replies"`
			} `json:"items"`
		}
		if err := r.api.call(ctx, http.MethodGet, path, r.all[0].token, nil, &page); err != nil {
			return err
		}
		for _, c := range page.Items {
			liked = append(liked, c.ID)
			for _, reply := range c.Replies {
				liked = append(liked, reply.ID)
			}
		}
		if len(liked) == 0 {
			return fmt.Errorf("--like-every: post %d has no comments to like", r.cfg.postID)
		}
	}
	rate, n := r.events(300)
	var lat, likeLat latencies
	cpu := r.measureCPU()
	started, elapsed := r.paced(ctx, "read", rate, n, false, func(ctx context.Context, seq int, due time.Time) {
		u := r.all[seq%len(r.all)]
		from := due
		if r.cfg.likeEvery > 0 && seq%r.cfg.likeEvery == 0 {
			id := liked[(seq/r.cfg.likeEvery)%len(liked)]
			err := r.api.call(ctx, http.MethodPut, fmt.Sprintf("/api/v1/comments/%d/like", id), u.token, nil, nil)
			likeLat.add(time.Since(due))
			if err != nil {
				r.failed(err)
			}
			from = time.Now()
		}
		err := r.api.call(ctx, http.MethodGet, path, u.token, nil, nil)
		lat.add(time.Since(from))
		if err != nil {
			r.failed(err)
		}
	})
	cpu(started, "page")
	r.rep.rows = append(r.rep.rows, row{name: "GET " + path, sum: lat.summary(), elapsed: elapsed})
	if r.cfg.likeEvery > 0 {
		r.rep.rows = append(r.rep.rows, row{name: "PUT /api/v1/comments/{id}/like", sum: likeLat.summary(), elapsed: elapsed})
		r.rep.notes = append(r.rep.notes, fmt.Sprintf("every %dth reader liked one of the page's %d comments first; server CPU per page includes the likes", r.cfg.likeEvery, len(liked)))
	}
	return errContext(ctx.Err())
}
