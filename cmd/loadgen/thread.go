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
	rate, n := r.events(300)
	var lat latencies
	cpu := r.serverCPU()
	started, elapsed := r.paced(ctx, "read", rate, n, false, func(ctx context.Context, seq int, due time.Time) {
		u := r.all[seq%len(r.all)]
		err := r.api.call(ctx, http.MethodGet, path, u.token, nil, nil)
		lat.add(time.Since(due))
		if err != nil {
			r.failed(err)
		}
	})
	cpu(started, "page")
	r.rep.rows = append(r.rep.rows, row{name: "GET " + path, sum: lat.summary(), elapsed: elapsed})
	return errContext(ctx.Err())
}
