package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// broadcast sends --count admin broadcasts, one at a time, each to every
// connection. A broadcast's figure is when the last connection received
// it, from the start of the POST. Messages carry a nonce of this process,
// so that the broadcasts of other shards are told apart.
func (r *runner) broadcast(ctx context.Context) error {
	var nonce [6]byte
	_, _ = rand.Read(nonce[:]) // crypto/rand.Read never fails on supported platforms.
	prefix := "loadgen " + hex.EncodeToString(nonce[:]) + " "
	onFrame := func(c *client, f *frame, at time.Time) {
		if f.Type != "broadcast" {
			return
		}
		if seq, ok := strings.CutPrefix(f.Message, prefix); ok {
			if id, err := strconv.ParseInt(seq, 10, 64); err == nil {
				r.d.receive(c.idx, id, at)
			}
		}
	}
	if _, err := r.connect(ctx, onFrame); err != nil {
		return err
	}
	count := r.cfg.count
	if count == 0 {
		count = 5
	}
	var post, last latencies
	cpu := r.measureCPU()
	start := time.Now()
	for id := int64(1); id <= int64(count); id++ {
		r.d.expectAll(r.sw.clients, id)
		sent := time.Now()
		r.d.started(id, sent)
		err := r.api.call(ctx, http.MethodPost, "/api/v1/admin/broadcast", r.cfg.adminToken, map[string]string{"message": prefix + strconv.FormatInt(id, 10)}, nil)
		post.add(time.Since(sent))
		if err != nil {
			return fmt.Errorf("broadcast %d: %w", id, err)
		}
		r.await(ctx, r.cfg.timeout)
		at, n := r.d.lastArrival(id)
		if n > 0 {
			last.add(at.Sub(sent))
		}
		fmt.Fprintf(r.log, "  broadcast %d/%d: %d/%d connections, the last after %s\n", id, count, n, len(r.sw.clients), at.Sub(sent).Round(time.Microsecond))
		if err := sleep(ctx, time.Second); err != nil { // let the writers drain before the next one
			return errContext(err)
		}
	}
	elapsed := time.Since(start)
	// Over the pauses too, in which neither process has much to do.
	cpu(count, "broadcast")
	r.rep.rows = append(r.rep.rows,
		row{name: "broadcast: POST to the last connection", sum: last.summary(), note: "per broadcast"},
		row{name: "broadcast: POST to each frame", sum: summarize(r.d.latencies()), elapsed: elapsed},
		row{name: "POST /admin/broadcast", sum: post.summary()})
	return nil
}
