package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/notify"
	"github.com/quizsite/discuss/notify/ssetest"
	"github.com/quizsite/discuss/service/dbtest"
)

// liveFrame is a live-thread frame as a client reads it; Raw keeps the
// objects as sent.
type liveFrame struct {
	Type      string `json:"type"`
	PostID    int64  `json:"post_id"`
	CommentID *int64 `json:"comment_id"`
	LikeCount int64  `json:"like_count"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	Comment   *struct {
		ID     int64  `json:"id"`
		RootID *int64 `json:"root_id"`
		Body   string `json:"body"`
	} `json:"comment"`
	Raw struct {
		Comment json.RawMessage `json:"comment"`
		Post    json.RawMessage `json:"post"`
	}
}

// follower is a socket following posts, its frames read by a goroutine.
type follower struct {
	t      *testing.T
	conn   *websocket.Conn
	frames *ssetest.Queue[liveFrame]
}

func (ts *testServer) follower(t *testing.T, s session) *follower {
	t.Helper()
	f := &follower{t: t, conn: ts.dialWS(t, "?token="+s.Token, nil), frames: ssetest.NewQueue[liveFrame](10000)}
	_ = f.conn.SetReadDeadline(time.Time{}) // next has its own
	go func() {
		for {
			_, data, err := f.conn.ReadMessage()
			var lf liveFrame
			if err == nil {
				err = json.Unmarshal(data, &lf)
			}
			if err == nil {
				err = json.Unmarshal(data, &lf.Raw)
			}
			if err == nil {
				err = f.frames.Put(lf)
			}
			if err != nil {
				f.frames.End(err)
				return
			}
		}
	}()
	return f
}

func (f *follower) send(msg string) {
	f.t.Helper()
	if err := f.conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		f.t.Fatal(err)
	}
}

// next returns the next frame other than notifications and counts.
func (f *follower) next() liveFrame {
	f.t.Helper()
	for {
		if lf := f.frames.Want(f.t, 10*time.Second); lf.Type != "notification" && lf.Type != "unread_count" {
			return lf
		}
	}
}

func (f *follower) expect(typ string, postID int64) liveFrame {
	f.t.Helper()
	lf := f.next()
	if lf.Type != typ || lf.PostID != postID {
		f.t.Fatalf("got %+v, want %s of post %d", lf, typ, postID)
	}
	return lf
}

func (f *follower) subscribe(postID int64, after *int64) {
	f.t.Helper()
	msg := map[string]any{"type": "subscribe_post", "post_id": postID}
	if after != nil {
		msg["after_comment_id"] = *after
	}
	if err := f.conn.WriteJSON(msg); err != nil {
		f.t.Fatal(err)
	}
	f.expect("post_subscribed", postID)
}

// quiet checks that no live-thread frame is pending: the pong of a ping
// comes after anything queued before it.
func (f *follower) quiet() {
	f.t.Helper()
	f.send(`{"type":"ping"}`)
	if lf := f.next(); lf.Type != "pong" {
		f.t.Fatalf("unexpected frame %+v", lf)
	}
}

// sameJSON fails unless the two documents are equal once normalised.
func sameJSON(t *testing.T, what string, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %s: %v", what, got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: %s: %v", what, want, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Fatalf("%s:\n got %s\nwant %s", what, gb, wb)
	}
}

type idBody struct {
	ID int64 `json:"id"`
}

// liveThreadScenario drives every live-thread frame through the REST calls
// that cause them, made on writer, to a follower on reader (the same
// instance, or another over Redis).
func liveThreadScenario(t *testing.T, writer, reader *testServer) {
	alice, bob, carol := writer.register(t, "alice"), writer.register(t, "bob"), reader.register(t, "carol")
	post := decodeAs[idBody](t, writer.do(t, "POST", "/api/v1/posts", alice.Token, map[string]string{"title": "DP", "body": "why TLE?"}), http.StatusCreated, "post")
	p := post.ID
	f := reader.follower(t, carol)
	f.subscribe(p, nil)
	// A reader who has liked nothing: what REST shows carol, who never
	// likes anything here.
	rest := func(path string) []byte {
		res := reader.do(t, "GET", path, carol.Token, nil)
		if res.Status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, res.Status, res.Body)
		}
		return res.Body
	}

	t.Run("CommentCreated", func(t *testing.T) {
		c := decodeAs[idBody](t, writer.do(t, "POST", fmt.Sprintf("/api/v1/posts/%d/comments", p), bob.Token, map[string]string{"body": "memoize it"}), http.StatusCreated, "comment")
		lf := f.expect(model.ThreadCommentCreated, p)
		sameJSON(t, "comment_created", lf.Raw.Comment, rest(fmt.Sprintf("/api/v1/comments/%d", c.ID)))
		// A reply, liked by its own author before anyone sees it: the
		// frame still says liked false.
		r := decodeAs[idBody](t, writer.do(t, "POST", fmt.Sprintf("/api/v1/posts/%d/comments", p), alice.Token, map[string]any{"body": "@bob thanks", "parent_id": c.ID}), http.StatusCreated, "reply")
		lf = f.expect(model.ThreadCommentCreated, p)
		if lf.Comment.ID != r.ID || lf.Comment.RootID == nil || *lf.Comment.RootID != c.ID {
			t.Fatalf("reply frame %s", lf.Raw.Comment)
		}
		sameJSON(t, "reply's comment_created", lf.Raw.Comment, rest(fmt.Sprintf("/api/v1/comments/%d", r.ID)))

		t.Run("LikeCount", func(t *testing.T) {
			if res := writer.do(t, "PUT", fmt.Sprintf("/api/v1/comments/%d/like", c.ID), bob.Token, nil); res.Status != http.StatusOK {
				t.Fatalf("like: %d %s", res.Status, res.Body)
			}
			lf := f.expect(model.ThreadLikeCount, p)
			if lf.CommentID == nil || *lf.CommentID != c.ID || lf.LikeCount != 1 {
				t.Fatalf("like_count %+v", lf)
			}
			writer.do(t, "PUT", fmt.Sprintf("/api/v1/comments/%d/like", c.ID), bob.Token, nil) // no change: no frame
			writer.do(t, "PUT", fmt.Sprintf("/api/v1/posts/%d/like", p), bob.Token, nil)
			lf = f.expect(model.ThreadLikeCount, p)
			if lf.CommentID != nil || lf.LikeCount != 1 {
				t.Fatalf("post like_count %+v", lf)
			}
			writer.do(t, "DELETE", fmt.Sprintf("/api/v1/posts/%d/like", p), bob.Token, nil)
			if lf = f.expect(model.ThreadLikeCount, p); lf.CommentID != nil || lf.LikeCount != 0 {
				t.Fatalf("post unlike like_count %+v", lf)
			}
		})
		t.Run("CommentUpdated", func(t *testing.T) {
			if res := writer.do(t, "PATCH", fmt.Sprintf("/api/v1/comments/%d", c.ID), bob.Token, map[string]string{"body": "memoize it, top-down"}); res.Status != http.StatusOK {
				t.Fatalf("edit: %d %s", res.Status, res.Body)
			}
			lf := f.expect(model.ThreadCommentUpdated, p)
			// bob likes his own comment; the frame is a reader's who does not.
			sameJSON(t, "comment_updated", lf.Raw.Comment, rest(fmt.Sprintf("/api/v1/comments/%d", c.ID)))
		})
		t.Run("CommentDeleted", func(t *testing.T) {
			if res := writer.do(t, "DELETE", fmt.Sprintf("/api/v1/comments/%d", r.ID), alice.Token, nil); res.Status != http.StatusNoContent {
				t.Fatalf("delete: %d %s", res.Status, res.Body)
			}
			if lf := f.expect(model.ThreadCommentDeleted, p); lf.CommentID == nil || *lf.CommentID != r.ID {
				t.Fatalf("comment_deleted %+v", lf)
			}
		})
	})
	t.Run("PostUpdated", func(t *testing.T) {
		writer.do(t, "PUT", fmt.Sprintf("/api/v1/posts/%d/like", p), alice.Token, nil)
		f.expect(model.ThreadLikeCount, p)
		if res := writer.do(t, "PATCH", fmt.Sprintf("/api/v1/posts/%d", p), alice.Token, map[string]string{"title": "DP on trees"}); res.Status != http.StatusOK {
			t.Fatalf("edit post: %d %s", res.Status, res.Body)
		}
		lf := f.expect(model.ThreadPostUpdated, p)
		sameJSON(t, "post_updated", lf.Raw.Post, rest(fmt.Sprintf("/api/v1/posts/%d", p)))
	})
	t.Run("PostDeleted", func(t *testing.T) {
		f.quiet()
		if res := writer.do(t, "DELETE", fmt.Sprintf("/api/v1/posts/%d", p), alice.Token, nil); res.Status != http.StatusNoContent {
			t.Fatalf("delete post: %d %s", res.Status, res.Body)
		}
		f.expect(model.ThreadPostDeleted, p)
		f.send(fmt.Sprintf(`{"type":"subscribe_post","post_id":%d}`, p))
		if lf := f.expect("error", p); lf.Code != model.ENOTFOUND {
			t.Fatalf("subscribing to a deleted post: %+v", lf)
		}
		f.quiet()
	})
}

func TestLiveThread(t *testing.T) {
	ts := newTestServer(t)
	liveThreadScenario(t, ts, ts)
}

func TestLiveThreadErrors(t *testing.T) {
	ts := newTestServer(t)
	alice := ts.register(t, "alice")
	f := ts.follower(t, alice)
	var posts []int64
	for i := range 11 {
		posts = append(posts, decodeAs[idBody](t, ts.do(t, "POST", "/api/v1/posts", alice.Token, map[string]string{"title": fmt.Sprint("p", i), "body": "b"}), http.StatusCreated, "post").ID)
	}
	t.Run("ErrInvalidArgument", func(t *testing.T) {
		f.send(`{"type":"subscribe_post","post_id":"one"}`)
		if lf := f.expect("error", 0); lf.Code != model.EINVALID || lf.Message == "" {
			t.Fatalf("%+v", lf)
		}
		f.quiet()
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		f.send(`{"type":"subscribe_post","post_id":999999}`)
		if lf := f.expect("error", 999999); lf.Code != model.ENOTFOUND {
			t.Fatalf("%+v", lf)
		}
	})
	t.Run("ErrRateLimited", func(t *testing.T) {
		for _, p := range posts[:10] {
			f.subscribe(p, nil)
		}
		f.send(fmt.Sprintf(`{"type":"subscribe_post","post_id":%d}`, posts[10]))
		if lf := f.expect("error", posts[10]); lf.Code != model.ERATELIMITED {
			t.Fatalf("%+v", lf)
		}
		f.quiet()
	})
}

// liveThreadSeam has 20 writers comment on one post through writer while
// followers on reader subscribe with after_comment_id, one after another:
// each receives every comment after its after_comment_id once, in id order.
func liveThreadSeam(t *testing.T, writer, reader *testServer) {
	const writers, perWriter, followers = 20, 6, 5
	owner := writer.register(t, "owner")
	p := decodeAs[idBody](t, writer.do(t, "POST", "/api/v1/posts", owner.Token, map[string]string{"title": "hot", "body": "contest closed"}), http.StatusCreated, "post").ID
	path := fmt.Sprintf("/api/v1/posts/%d/comments", p)
	var mu sync.Mutex
	var ids []int64
	comment := func(s session, body any) {
		res := writer.do(t, "POST", path, s.Token, body)
		if res.Status != http.StatusCreated {
			t.Errorf("comment: %d %s", res.Status, res.Body)
			return
		}
		var c idBody
		res.JSON(t, &c)
		mu.Lock()
		ids = append(ids, c.ID)
		mu.Unlock()
	}
	comment(owner, map[string]string{"body": "first"})
	var users []session
	for i := range writers {
		users = append(users, writer.register(t, fmt.Sprint("writer", i)))
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Go(func() {
			<-start
			for i := range perWriter {
				body := map[string]any{"body": fmt.Sprint("answer ", i)}
				if i%2 == 1 { // a reply to the first comment
					mu.Lock()
					body["parent_id"] = ids[0]
					mu.Unlock()
				}
				comment(u, body)
			}
		})
	}
	type sub struct {
		f     *follower
		after int64
	}
	var subs []sub
	close(start)
	for i := range followers {
		s := reader.register(t, fmt.Sprint("reader", i))
		mu.Lock()
		after := slices.Max(ids)
		mu.Unlock()
		f := reader.follower(t, s)
		f.subscribe(p, &after)
		subs = append(subs, sub{f, after})
	}
	wg.Wait()
	comment(owner, map[string]string{"body": "closing"})
	slices.Sort(ids)
	last := ids[len(ids)-1]
	for _, s := range subs {
		var got []int64
		for len(got) == 0 || got[len(got)-1] < last {
			got = append(got, s.f.expect(model.ThreadCommentCreated, p).Comment.ID)
		}
		var want []int64
		for _, id := range ids {
			if id > s.after {
				want = append(want, id)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("follower after %d received %v, want %v", s.after, got, want)
		}
	}
}

func TestLiveThreadSeam(t *testing.T) {
	ts := newTestServer(t)
	liveThreadSeam(t, ts, ts)
}

// twoInstances starts two API instances on one database, exchanging
// changes over Redis (skipped without DISCUSS_TEST_REDIS_ADDR).
func twoInstances(t *testing.T) (a, b *testServer) {
	addr, channel := dbtest.Redis(t)
	broker := func() notify.Broker {
		b, err := notify.NewRedisBroker(notify.RedisConfig{Addr: addr, Channel: channel}, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Registered before the instance, so closed after its hub stops.
		t.Cleanup(func() { _ = b.Close() })
		return b
	}
	db := dbtest.Open(t)
	return newServer(t, setup{db: db, broker: broker()}), newServer(t, setup{db: db, broker: broker()})
}

func TestLiveThreadTwoInstances(t *testing.T) {
	a, b := twoInstances(t)
	liveThreadScenario(t, a, b)
}

func TestLiveThreadSeamTwoInstances(t *testing.T) {
	a, b := twoInstances(t)
	liveThreadSeam(t, a, b)
}
