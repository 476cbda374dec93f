package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// threadLive has --subscribers connections follow the first user's post
// (subscribe_post), then --commenters other users take turns commenting on
// it at --rate (default 50 a second) for --duration: every comment must
// reach every subscriber once, as comment_created. Meanwhile the admin
// sends system notifications at the same rate to random connected users
// that neither follow the post nor comment: a hot post must not slow their
// pushes. Its figures are, per comment, the time from its due start to the
// last subscriber's frame, and the others' pushes from created_at to frame.
// The subscribers' sockets are read by the pollers where there are (see
// pollers), unless --gorilla-readers.
func (r *runner) threadLive(ctx context.Context) error {
	author, err := r.postAuthor()
	if err != nil {
		return err
	}
	fp, others := r.followedPost(author, r.cfg.subscribers)
	subs := fp.followers
	if len(subs) < r.cfg.subscribers || len(others) <= r.cfg.commenters {
		return fmt.Errorf("--subscribers %d and --commenters %d: only %d other users are connected", r.cfg.subscribers, r.cfg.commenters, len(subs)+len(others))
	}
	commenters, others := others[:r.cfg.commenters], others[r.cfg.commenters:]
	pushes := newDeliveries()
	var confirmed, refused atomic.Int64
	// Each comment's created_at, stamped in its transaction: from it to
	// the last subscriber's frame is the server's part, without the wait
	// for the post's lock and the commit. A sync.Map: a thousand readers
	// look their comment up at once, and only the first stores it.
	var created sync.Map // comment id -> time.Time
	onFrame := func(c *client, f *frame, at time.Time) {
		switch {
		case !fp.following[c.idx]:
			if f.Type == "notification" && f.Notification != nil && f.Notification.Type == "system" {
				pushes.receive(c.idx, f.Notification.ID, at)
			}
		case f.PostID != author.postID:
		case f.Type == "comment_created" && f.Comment != nil:
			r.d.receive(c.idx, f.Comment.ID, at)
			if _, ok := created.Load(f.Comment.ID); !ok {
				created.LoadOrStore(f.Comment.ID, f.Comment.CreatedAt)
			}
		case f.Type == "post_subscribed":
			confirmed.Add(1)
		case f.Type == "error" || f.Type == "post_resync" || f.Type == "post_deleted":
			refused.Add(1)
		}
	}
	if !r.cfg.gorillaReaders {
		if err := r.sw.poll(func(c *client) bool { return fp.following[c.idx] }); err != nil {
			r.rep.notes = append(r.rep.notes, "the subscribers are read through gorilla: "+err.Error())
		}
	}
	if _, err := r.connect(ctx, onFrame); err != nil {
		return err
	}

	fmt.Fprintf(r.log, "%d connections subscribe to post %d\n", len(subs), author.postID)
	start := time.Now()
	msg := fmt.Appendf(nil, `{"type":"subscribe_post","post_id":%d}`, author.postID)
	for _, c := range subs {
		// Nothing else writes to these sockets during the run.
		_ = c.conn.SetWriteDeadline(time.Now().Add(r.cfg.timeout))
		if err := c.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
			r.failed(fmt.Errorf("subscribe: %w", err))
		}
	}
	for confirmed.Load()+refused.Load() < int64(len(subs)) && time.Since(start) < r.cfg.timeout && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	r.rep.rows = append(r.rep.rows, row{name: "subscribe_post to post_subscribed, all", count: int(confirmed.Load()), elapsed: time.Since(start)})
	if n := int64(len(subs)) - confirmed.Load(); n > 0 {
		return fmt.Errorf("%d of %d subscriptions were not confirmed", n, len(subs))
	}

	if err := r.awaitStart(ctx); err != nil {
		return errContext(err)
	}
	before, herr := r.api.scrapeHistogram(ctx, deliveryHistogram)
	rate, n := r.events(50)
	var pushPost latencies
	cpu := r.measureCPU()
	var wg sync.WaitGroup
	wg.Go(func() {
		// The other users' pushes, at the same rate, on their own pace.
		pace(ctx, rate, n, r.cfg.inflight, func(ctx context.Context, seq int, due time.Time) {
			c := others[rand.IntN(len(others))]
			note, err := r.api.adminNotify(ctx, r.cfg.adminToken, c.user.id, fmt.Sprintf("loadgen thread-live push %d", seq))
			pushPost.add(time.Since(due))
			if err != nil {
				r.failed(err)
				return
			}
			pushes.started(note.ID, note.CreatedAt)
			pushes.expect(c.idx, note.ID)
		})
	})
	sent, elapsed := r.paced(ctx, "thread-live", rate, n, true, func(ctx context.Context, seq int, due time.Time) {
		u := commenters[seq%len(commenters)].user
		fp.comment(ctx, u.token, fmt.Sprintf("loadgen thread-live %d", seq), due)
	})
	wg.Wait()
	cpu(sent*len(subs), "frame (comments times subscribers, with the comments' and the pushes' requests)")
	deadline := time.Now().Add(r.cfg.timeout)
	for pushes.pending() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond) // polling interval
	}

	var last, lastFromCreated latencies
	reached := fp.reachedAll()
	for id, at := range reached {
		last.add(at.Sub(fp.dues[id]))
		if c, ok := created.Load(id); ok {
			lastFromCreated.add(at.Sub(c.(time.Time)))
		}
	}
	r.rep.rows = append(r.rep.rows,
		row{name: "thread-live: POST to the last subscriber's frame", sum: last.summary(), note: "per complete comment"},
		row{name: "thread-live: created_at to the last subscriber's frame", sum: lastFromCreated.summary(), note: "per complete comment"},
		row{name: "thread-live: POST to each frame", sum: summarize(r.d.latencies()), elapsed: elapsed},
		row{name: "POST /posts/{id}/comments", sum: fp.post.summary(), elapsed: elapsed},
		row{name: "others' push: created_at to frame", sum: summarize(pushes.latencies()), elapsed: elapsed},
		row{name: "POST /admin/notify", sum: pushPost.summary(), elapsed: elapsed})
	if herr == nil {
		herr = r.serverHistogramRow(ctx, before, "others' push: server publish to write")
	}
	if herr != nil {
		r.rep.notes = append(r.rep.notes, "no server histogram: "+herr.Error())
	}
	r.rep.notes = append(r.rep.notes, fmt.Sprintf("%d of %d comments reached all %d subscribers (%d sent); %d connected in all",
		len(reached), len(fp.dues), len(subs), sent, len(r.sw.clients)))
	fp.failUnreached(len(reached), "subscriber")
	if t := pushes.tally(); t.lost > 0 || t.duplicated > 0 {
		r.rep.fail("the other users' pushes: %d lost, %d duplicated of %d", t.lost, t.duplicated, t.expected)
	}
	if reads, err := r.api.scrapeCounter(ctx, "discuss_live_thread_reads_total"); err == nil {
		r.rep.notes = append(r.rep.notes, fmt.Sprintf("the post's feed read the database %.0f times for comments that came before their predecessor", reads))
	}
	if n := refused.Load(); n > 0 {
		r.rep.fail("%d subscribers were sent error, post_resync or post_deleted", n)
	}
	return errContext(ctx.Err())
}
