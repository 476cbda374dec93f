package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/quizsite/discuss/notify/ssetest"
)

// liveConn is a client's live connection, a WebSocket (/ws) or an event
// stream (/sse), read frame by frame: the tests of delivery order run the
// same scenario over both.
type liveConn interface {
	// read returns the next frame.
	read() (seenFrame, error)
	// drop ends the connection without a word, as a phone losing its
	// network would.
	drop()
}

// overTransports runs test over WebSockets, then over event streams.
func overTransports(t *testing.T, test func(t *testing.T, sse bool)) {
	t.Run("WebSocket", func(t *testing.T) { test(t, false) })
	t.Run("EventStream", func(t *testing.T) { test(t, true) })
}

// openLive connects to the server at base as token's user, resuming after
// since, and lets the connection be read for readFor; connecting must be
// done by ctx.
func openLive(ctx context.Context, sse bool, base, token string, since int64, readFor time.Duration) (liveConn, error) {
	if !sse {
		u := wsURL(base, url.QueryEscape(token)) + fmt.Sprintf("&since=%d", since)
		conn, _, err := websocket.DefaultDialer.DialContext(ctx, u, nil)
		if err != nil {
			return nil, err
		}
		_ = conn.SetReadDeadline(time.Now().Add(readFor))
		return wsLive{conn}, nil
	}
	rctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, fmt.Sprintf("%s/sse?token=%s&since=%d", base, url.QueryEscape(token), since), nil)
	if err != nil {
		cancel()
		return nil, err
	}
	stop := context.AfterFunc(ctx, cancel) // connecting is bounded by ctx
	res, err := http.DefaultClient.Do(req)
	stop()
	if err != nil {
		cancel()
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		_ = res.Body.Close()
		cancel()
		return nil, fmt.Errorf("GET /sse: %s", res.Status)
	}
	time.AfterFunc(readFor, cancel)
	return &sseLive{r: ssetest.NewReader(res.Body), cancel: cancel}, nil
}

type wsLive struct{ conn *websocket.Conn }

func (w wsLive) read() (seenFrame, error) { return readFrame(w.conn) }
func (w wsLive) drop()                    { _ = w.conn.NetConn().Close() }

type sseLive struct {
	r      *ssetest.Reader
	cancel context.CancelFunc
}

// read returns the next event's frame, checked against it, skipping
// comments. The close event ends the stream.
func (s *sseLive) read() (seenFrame, error) {
	for {
		ev, err := s.r.Next()
		if err != nil {
			return seenFrame{}, err
		}
		if ev.Comment != "" {
			continue
		}
		if ev.Type == "close" {
			return seenFrame{}, fmt.Errorf("closed: %s", ev.Data)
		}
		var f seenFrame
		err = ev.Decode(&f)
		return f, err
	}
}

func (s *sseLive) drop() { s.cancel() }

// liveHello opens a connection that must begin with hello.
func liveHello(t *testing.T, sse bool, base, token string, since int64) liveConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := openLive(ctx, sse, base, token, since, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.drop)
	if f, err := c.read(); err != nil || f.Type != "hello" {
		t.Fatalf("first frame %+v (%v), want hello", f, err)
	}
	return c
}

// readNotification reads frames until a notification arrives and returns
// its id, skipping hello, unread_count and the like.
func readNotification(t *testing.T, conn *websocket.Conn, within time.Duration) int64 {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(within))
	id, err := nextNotification(conn)
	if err != nil {
		t.Fatalf("waiting for a notification: %v", err)
	}
	return id
}

// nextNotification reads frames until a notification arrives and returns
// its id, skipping hello, unread_count and the like.
func nextNotification(conn *websocket.Conn) (int64, error) {
	for {
		f, err := readFrame(conn)
		if err != nil {
			return 0, err
		}
		if f.Type == "notification" {
			return f.Notification.ID, nil
		}
	}
}

// seenFrame is what the tests read of a server frame.
type seenFrame struct {
	Type         string `json:"type"`
	Replayed     bool   `json:"replayed"`
	Notification struct {
		ID int64 `json:"id"`
	} `json:"notification"`
}

func readFrame(conn *websocket.Conn) (seenFrame, error) {
	var f seenFrame
	err := conn.ReadJSON(&f)
	return f, err
}
