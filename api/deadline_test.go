package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/quizsite/discuss/configs"
)

// TestRequestDeadline: an API request that cannot finish before
// server.write_timeout, after which its answer could not be written
// anyway, is given up and answered 503 unavailable in time, instead of
// waiting on for a client that has been cut, and what it would have
// written is not written. Here comments wait for their post, whose row
// another transaction holds: on MariaDB every one of them, in the
// database or at the post's gate; on SQLite the one at the gate (the
// driver does not let a context interrupt the BEGIN of the two let
// through, which SQLite's busy timeout bounds instead).
func TestRequestDeadline(t *testing.T) {
	const deadline = time.Second
	ts, alice, _, p := newServerWithPost(t, func(c *configs.Config) {
		c.Server.ReadHeaderTimeout, c.Server.ReadTimeout = deadline/2, deadline/2
		c.Server.WriteTimeout = deadline
	})
	held := ts.DB.Begin()
	if held.Error != nil {
		t.Fatal(held.Error)
	}
	t.Cleanup(func() { held.Rollback() })
	// SQLite's transactions take the write lock as they begin (immediate);
	// on MariaDB the post's row is locked as a comment locks it.
	lock := "SELECT id FROM posts WHERE id = ?"
	if ts.DB.Driver == "mysql" {
		lock += " FOR UPDATE"
	}
	var id int64
	if err := held.Raw(lock, p.ID).Scan(&id).Error; err != nil || id != p.ID {
		t.Fatalf("holding post %d: %d, %v", p.ID, id, err)
	}

	type answer struct {
		status int
		code   string
		took   time.Duration
		err    error
	}
	const comments = 3 // one more than the post's gate lets through
	answers := make(chan answer, comments)
	start := time.Now()
	for range comments {
		req := ts.newRequest(t, "POST", fmt.Sprintf("/api/v1/posts/%d/comments", p.ID),
			http.Header{"Authorization": {"Bearer " + alice.Token}}, map[string]string{"body": "waits"})
		go func() {
			res, err := ts.Client().Do(req)
			if err != nil {
				answers <- answer{err: err}
				return
			}
			defer res.Body.Close()
			var body ErrorBody
			data, err := io.ReadAll(res.Body)
			if err == nil {
				err = json.Unmarshal(data, &body)
			}
			answers <- answer{status: res.StatusCode, code: body.Error.Code, took: time.Since(start), err: err}
		}()
	}
	inTime := 0
	for range comments {
		a := <-answers
		if a.err != nil || a.status != 503 || a.code != "unavailable" {
			t.Fatalf("after %s: %d %s (%v), want 503 unavailable", a.took, a.status, a.code, a.err)
		}
		if a.took <= 3*deadline {
			inTime++
		}
	}
	want := 1
	if ts.DB.Driver == "mysql" {
		want = comments
	}
	if inTime < want {
		t.Fatalf("%d of %d comments answered within %s, want %d: they waited past the deadline", inTime, comments, 3*deadline, want)
	}
	held.Rollback()
	var n int64
	if err := ts.DB.Raw("SELECT COUNT(*) FROM comments").Scan(&n).Error; err != nil || n != 0 {
		t.Fatalf("%d comments (%v), want none", n, err)
	}
}
