package notify

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestReadFrameMarksRead(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.store.addN(1, 4)
	a1, a2 := e.connect(1, dialOpts{since: ptr[int64](4)}), e.connect(1, dialOpts{since: ptr[int64](4)})

	a1.send(`{"type":"read","ids":[1,2]}`)
	for _, c := range []*wsClient{a1, a2} {
		if f := c.expect("unread_count"); f.UnreadCount != 2 {
			t.Fatalf("unread_count = %d, want 2", f.UnreadCount)
		}
	}
	a2.send(`{"type":"read","up_to_id":4}`)
	for _, c := range []*wsClient{a1, a2} {
		if f := c.expect("unread_count"); f.UnreadCount != 0 {
			t.Fatalf("unread_count = %d, want 0", f.UnreadCount)
		}
	}
	calls := e.store.markCalls()
	if len(calls) != 2 || calls[0].userID != 1 || len(calls[0].ids) != 2 || calls[1].upToID != 4 {
		t.Fatalf("MarkRead calls = %+v", calls)
	}
}

// TestReadFramesPaced: past a burst, the read frames of one user's
// connections are acted on one per interval, whichever connection sends
// them; each waits its turn and none is dropped. Other users have their
// own turns.
func TestReadFramesPaced(t *testing.T) {
	const interval = 300 * time.Millisecond
	e := newEnv(t, envConfig{opts: Options{ReadFrameBurst: 2, ReadFrameInterval: interval}})
	e.store.addN(1, 5)
	e.store.addN(2, 1)
	a1, a2, b := e.connect(1, dialOpts{}), e.connect(1, dialOpts{}), e.connect(2, dialOpts{})

	start := time.Now()
	for id := range 3 {
		a1.send(`{"type":"read","ids":[` + itoa(int64(id+1)) + `]}`)
	}
	a2.send(`{"type":"read","ids":[4]}`)
	b.send(`{"type":"read","up_to_id":6}`)
	if f := b.expect("unread_count"); f.UnreadCount != 0 {
		t.Fatalf("user 2's unread_count = %d, want 0", f.UnreadCount)
	}
	e.hub.mu.RLock()
	shared, own := e.hub.users[1][0].reads == e.hub.users[1][1].reads, e.hub.users[1][0].reads != e.hub.users[2][0].reads
	e.hub.mu.RUnlock()
	if !shared || !own {
		t.Fatal("read frames are not paced per user")
	}
	// Two frames go at once, the third after one interval, the fourth
	// after two. Each unread_count follows a MarkRead.
	for i := range 4 {
		a2.expect("unread_count")
		if turn := time.Duration(max(i-1, 0)) * interval; time.Since(start) < turn {
			t.Fatalf("read %d acted on after %v, before its turn at %v", i+1, time.Since(start), turn)
		}
	}
	if calls := e.store.markCalls(); len(calls) != 5 {
		t.Fatalf("MarkRead calls = %+v, want 5", calls)
	}
	if n, _ := e.store.UnreadCount(context.Background(), 1); n != 1 {
		t.Fatalf("user 1 has %d unread, want 1", n)
	}
}

// TestSubscribeFramesPaced: subscribe_post frames, each a read of the
// post's head and replay, take their turns from the user's read pace, on
// any of the user's connections and shared with read frames; none is
// dropped.
func TestSubscribeFramesPaced(t *testing.T) {
	const interval = 300 * time.Millisecond
	e := newEnv(t, envConfig{opts: Options{ReadFrameBurst: 2, ReadFrameInterval: interval}})
	e.store.addN(1, 1)
	a1, a2 := e.connect(1, dialOpts{}), e.connect(1, dialOpts{})

	start := time.Now()
	for post := range int64(3) {
		a1.send(`{"type":"subscribe_post","post_id":` + itoa(post+1) + `}`)
	}
	// Two subscriptions go at once, the third after one interval.
	for i := range int64(3) {
		if f := a1.expect("post_subscribed"); f.PostID != i+1 {
			t.Fatalf("post_subscribed for post %d, want %d", f.PostID, i+1)
		}
		if turn := time.Duration(max(i-1, 0)) * interval; time.Since(start) < turn {
			t.Fatalf("subscription %d acted on after %v, before its turn at %v", i+1, time.Since(start), turn)
		}
	}
	// A read frame on the other connection comes next, after two.
	a2.send(`{"type":"read","ids":[1]}`)
	a2.expect("unread_count")
	if turn := 2 * interval; time.Since(start) < turn {
		t.Fatalf("read frame acted on after %v, before its turn at %v", time.Since(start), turn)
	}
}

func TestPingPongFrame(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.connect(1, dialOpts{})
	c.send(`{"type":"ping"}`)
	c.expect("pong")
	c.send(`  {"type":"ping","extra":true}  `)
	c.expect("pong")
}

func TestOversizedFrameCloses1009(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.connect(1, dialOpts{})
	c.send(`{"type":"ping","pad":"` + strings.Repeat("x", 4096) + `"}`)
	if code := c.closeCode(); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code = %d (%v), want 1009", code, c.q.Err())
	}
	waitFor(t, "the connection to be unregistered", func() bool {
		_, conns := e.hub.LocalCounts()
		return conns == 0
	})
}

func TestMaxSizeFrameAccepted(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.connect(1, dialOpts{})
	frame := `{"type":"ping","pad":"`
	frame += strings.Repeat("x", 4096-len(frame)-2) + `"}`
	c.send(frame)
	c.expect("pong")
}

// TestTextFrameAccepted: what is valid text stays accepted next to the
// frames TestMalformedFrames closes with 1007: an escaped surrogate pair, an
// escaped backslash before what looks like a lone surrogate, U+FFFD itself.
func TestTextFrameAccepted(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.connect(1, dialOpts{})
	for _, note := range []string{`\ud83d\ude00`, `\\ud800`, "\uFFFD", `\ufffd`} {
		c.send(`{"type":"ping","note":"` + note + `"}`)
		c.expect("pong")
	}
}

func TestMalformedFrames(t *testing.T) {
	tests := []struct {
		name string
		send func(*websocket.Conn) error
		code int // 0: ignored, the connection stays
	}{
		{"NotJSON", text("hello?"), websocket.CloseInvalidFramePayloadData},
		{"NoType", text(`{"ids":[1]}`), websocket.CloseInvalidFramePayloadData},
		{"WrongFieldType", text(`{"type":"read","ids":"1"}`), websocket.CloseInvalidFramePayloadData},
		{"Array", text(`[{"type":"ping"}]`), websocket.CloseInvalidFramePayloadData},
		{"InvalidUTF8", text("{\"type\":\"ping\",\"note\":\"\xff\"}"), websocket.CloseInvalidFramePayloadData},
		{"InvalidUTF8Type", text("{\"type\":\"ping\xc3\"}"), websocket.CloseInvalidFramePayloadData},
		{"LoneSurrogate", text(`{"type":"ping","note":"\ud800"}`), websocket.CloseInvalidFramePayloadData},
		{"Binary", func(c *websocket.Conn) error {
			return c.WriteMessage(websocket.BinaryMessage, []byte(`{"type":"ping"}`))
		}, websocket.CloseUnsupportedData},
		{"UnknownType", text(`{"type":"subscribe","topic":"x"}`), 0},
		{"ReadWithoutIDs", text(`{"type":"read"}`), 0},
		{"ReadNegativeID", text(`{"type":"read","ids":[-1]}`), 0},
		{"ReadBoth", text(`{"type":"read","ids":[1],"up_to_id":3}`), 0},
	}
	e := newEnv(t, envConfig{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialWith(t, e, 1, dialOpts{})
			c.hello()
			if err := tt.send(c.conn); err != nil {
				t.Fatal(err)
			}
			if tt.code == 0 {
				c.expectQuiet()
				return
			}
			if code := c.closeCode(); code != tt.code {
				t.Fatalf("close code = %d (%v), want %d", code, c.q.Err(), tt.code)
			}
		})
	}
	if calls := e.store.markCalls(); len(calls) != 0 {
		t.Fatalf("invalid read frames reached the store: %+v", calls)
	}
}

func text(s string) func(*websocket.Conn) error {
	return func(c *websocket.Conn) error { return c.WriteMessage(websocket.TextMessage, []byte(s)) }
}
