package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/quizsite/discuss/configs"
	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/notify/ssetest"
)

// eventStream is an open GET /sse with its events read one at a time.
type eventStream struct {
	t      *testing.T
	res    *http.Response
	events *ssetest.Queue[ssetest.Event]
}

// openStream opens GET /sse on base with query and header, and returns the
// response, with the stream when the server answered 200.
func openStream(t *testing.T, base, query string, header http.Header) (*http.Response, *eventStream) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/sse"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Cleanup(func() { _ = res.Body.Close() })
		cancel()
		return res, nil
	}
	s := &eventStream{t: t, res: res, events: ssetest.NewQueue[ssetest.Event](1024)}
	t.Cleanup(func() {
		cancel()
		_ = res.Body.Close()
		<-s.events.Done()
	})
	go func() {
		r := ssetest.NewReader(res.Body)
		for {
			ev, err := r.Next()
			if err == nil {
				err = s.events.Put(ev)
			}
			if err != nil {
				s.events.End(err)
				return
			}
		}
	}()
	return res, s
}

// stream opens GET /sse and fails the test unless it streams.
func (ts *testServer) stream(t *testing.T, query string, header http.Header) *eventStream {
	t.Helper()
	res, s := openStream(t, ts.URL, query, header)
	if s == nil {
		body, _ := io.ReadAll(res.Body)
		t.Fatalf("GET /sse%s: %d %s", query, res.StatusCode, body)
	}
	return s
}

// next returns the next event, comments included.
func (s *eventStream) next() ssetest.Event {
	s.t.Helper()
	return s.events.Want(s.t, 10*time.Second)
}

// frame returns the next event that is not a comment, decoded, after
// checking it against its frame: named after the frame's type, with the
// notification's id exactly when it carries one.
func (s *eventStream) frame() (ssetest.Event, frame) {
	s.t.Helper()
	for {
		ev := s.next()
		if ev.Comment != "" {
			continue
		}
		var f frame
		if err := ev.Decode(&f); err != nil {
			s.t.Fatal(err)
		}
		return ev, f
	}
}

// notification returns the next notification's id and frame.
func (s *eventStream) notification() (int64, frame) {
	s.t.Helper()
	for {
		_, f := s.frame()
		if f.Type != "notification" {
			continue
		}
		var n struct {
			ID int64 `json:"id"`
		}
		if err := json.Unmarshal(f.Notification, &n); err != nil {
			s.t.Fatal(err)
		}
		return n.ID, f
	}
}

func TestEventStreamOpen(t *testing.T) {
	ts := newTestServer(t, func(c *configs.Config) { c.WebSocket.AllowedOrigins = []string{"https://quiz.example.com"} })
	alice := ts.register(t, "alice")

	for _, tt := range []struct {
		name   string
		query  string
		header http.Header
	}{
		{"OKQueryToken", "?token=" + alice.Token, nil},
		{"OKHeaderTokenAllowedOrigin", "", http.Header{"Authorization": {"Bearer " + alice.Token}, "Origin": {"https://quiz.example.com"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := ts.stream(t, tt.query, tt.header)
			h := s.res.Header
			if h.Get("Content-Type") != "text/event-stream" || h.Get("Cache-Control") != "no-cache" || h.Get("X-Accel-Buffering") != "no" {
				t.Fatalf("headers %v", h)
			}
			if origin := tt.header.Get("Origin"); h.Get("Access-Control-Allow-Origin") != origin {
				t.Fatalf("Access-Control-Allow-Origin %q, want %q", h.Get("Access-Control-Allow-Origin"), origin)
			}
			if ev, f := s.frame(); f.Type != "hello" || f.UserID != alice.User.ID || ev.ID != "" {
				t.Fatalf("first event %+v, want hello", ev)
			}
		})
	}

	// Every refusal comes before the stream: the contract's JSON error,
	// never a 200 and event-stream headers.
	for _, tt := range append(handshakeRefusals(alice.Token, ts.goneToken(t)),
		refusal{"ErrBadHeaderToken", "", http.Header{"Authorization": {"Bearer forged.token.here"}}, 401, model.EUNAUTHENTICATED},
		refusal{"ErrEmptySince", "?since=&token=" + alice.Token, nil, 400, model.EINVALID},
		refusal{"ErrBadLastEventID", "?since=3&token=" + alice.Token, http.Header{"Last-Event-ID": {"x7"}}, 400, model.EINVALID},
	) {
		t.Run(tt.name, func(t *testing.T) {
			res, s := openStream(t, ts.URL, tt.query, tt.header)
			if s != nil || res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" || res.Header.Get("X-Accel-Buffering") != "" {
				t.Fatalf("headers %v, want a JSON answer", res.Header)
			}
			wantError(t, readResponse(t, res), tt.status, tt.code, "")
		})
	}
}

// TestEventStreamResume: through the real service, a stream resumes after
// the Last-Event-ID header, which a browser's EventSource sends when it
// reconnects by itself, or after since; the header wins over the query
// (which still holds the since of the first connection). Live events
// follow, and read state changed over REST reaches the stream.
func TestEventStreamResume(t *testing.T) {
	ts, alice, bob, p := newServerWithPost(t)
	comment := func() {
		t.Helper()
		if res := ts.do(t, "POST", "/api/v1/posts/"+itoa(p.ID)+"/comments", bob.Token, map[string]string{"body": "an answer"}); res.Status != 201 {
			t.Fatalf("comment: %d %s", res.Status, res.Body)
		}
	}
	for range 3 {
		comment()
	}
	all := ts.stream(t, "?since=0&token="+alice.Token, nil)
	var ids []int64
	for range 3 {
		id, f := all.notification()
		if !f.Replayed {
			t.Fatalf("notification %d not replayed", id)
		}
		ids = append(ids, id)
	}

	// Each case resumes after ids[after]: it is owed every notification
	// after that one, including those the cases before it made.
	for _, tt := range []struct {
		name   string
		query  string
		header http.Header
		after  int
	}{
		{"LastEventID", "?token=" + alice.Token, http.Header{"Last-Event-ID": {itoa(ids[0])}}, 0},
		{"Since", "?since=" + itoa(ids[1]) + "&token=" + alice.Token, nil, 1},
		{"LastEventIDOverSince", "?since=0&token=" + alice.Token, http.Header{"Last-Event-ID": {itoa(ids[1])}}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := ts.stream(t, tt.query, tt.header)
			for _, want := range ids[tt.after+1:] {
				if id, f := s.notification(); id != want || !f.Replayed {
					t.Fatalf("replayed %d (replayed %v), want %d", id, f.Replayed, want)
				}
			}
			// Nothing more was replayed: the next is live.
			comment()
			id, f := s.notification()
			if f.Replayed || id <= ids[len(ids)-1] {
				t.Fatalf("after the replay: %d %+v, want a new live one", id, f)
			}
			ids = append(ids, id)
		})
	}

	res := ts.do(t, "POST", "/api/v1/notifications/read", alice.Token, map[string]any{"up_to_id": ids[len(ids)-1]})
	if res.Status != 200 {
		t.Fatalf("read: %d %s", res.Status, res.Body)
	}
	for {
		if _, f := all.frame(); f.Type == "unread_count" {
			if f.UnreadCount != 0 {
				t.Fatalf("unread_count %d after reading all", f.UnreadCount)
			}
			break
		}
	}
}

// TestEventStreamOutlivesWriteTimeout: an HTTP server with a WriteTimeout
// would cut a response that long; the stream moves its connection's write
// deadline on with each write, and keeps itself alive with a comment line
// every websocket.ping_interval.
func TestEventStreamOutlivesWriteTimeout(t *testing.T) {
	const writeTimeout = 200 * time.Millisecond
	ts, alice, bob, p := newServerWithPost(t, func(c *configs.Config) { c.WebSocket.PingInterval = 40 * time.Millisecond })
	srv := httptest.NewUnstartedServer(ts.Srv.Handler())
	srv.Config.WriteTimeout = writeTimeout
	srv.Start()
	t.Cleanup(srv.Close)
	_, s := openStream(t, srv.URL, "?token="+alice.Token, nil)
	if s == nil {
		t.Fatal("no stream")
	}
	start := time.Now()
	if _, f := s.frame(); f.Type != "hello" {
		t.Fatalf("first frame %+v", f)
	}
	comments := 0
	for time.Since(start) < 3*writeTimeout || comments < 3 {
		if ev := s.next(); ev.Comment != "" {
			comments++
		}
	}
	if res := ts.do(t, "POST", "/api/v1/posts/"+itoa(p.ID)+"/comments", bob.Token, map[string]string{"body": "late"}); res.Status != 201 {
		t.Fatalf("comment: %d", res.Status)
	}
	if _, f := s.notification(); f.Replayed {
		t.Fatal("the live notification came replayed")
	}
}

// TestEventStreamShutdown: the streams close (event close, code 1001) when
// the HTTP server starts shutting down, so that its drain need not wait
// for them, and a stream asked for afterwards is refused with 503.
func TestEventStreamShutdown(t *testing.T) {
	ts := newTestServer(t)
	alice := ts.register(t, "alice")
	s := ts.stream(t, "?token="+alice.Token, nil)
	if _, f := s.frame(); f.Type != "hello" {
		t.Fatalf("first frame %+v", f)
	}
	ts.Srv.hub.CloseStreams()
	ev, _ := s.frame()
	var closing struct {
		Type   string `json:"type"`
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal([]byte(ev.Data), &closing); err != nil || ev.Type != "close" || closing.Code != 1001 || closing.Reason == "" {
		t.Fatalf("event %+v (%v), want close 1001", ev, err)
	}
	<-s.events.Done()
	if err := s.events.Err(); !errors.Is(err, io.EOF) {
		t.Fatalf("the stream ended with %v, want its end", err)
	}
	res, late := openStream(t, ts.URL, "?token="+alice.Token, nil)
	if late != nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a stream after CloseStreams: %d, want 503", res.StatusCode)
	}
}
