package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/quizsite/discuss/configs"
)

// rawConn dials the server at base over plain TCP, for requests no HTTP
// client would send; the connection gives up after within.
func rawConn(t *testing.T, base string, within time.Duration) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(within))
	return conn
}

// errorBody reads an answer's body, which must be the contract's error.
func errorBody(t *testing.T, res *http.Response) (code, message string) {
	t.Helper()
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || body.Error.Code == "" {
		t.Fatalf("%d %s: the body is not the contract's error: %v", res.StatusCode, res.Header.Get("Content-Type"), err)
	}
	return body.Error.Code, body.Error.Message
}

// TestServeTimeouts: a request body trickled in is cut at
// server.read_timeout, an idle keep-alive connection is closed at
// server.idle_timeout, and none of them, server.write_timeout neither,
// touches a WebSocket connection.
func TestServeTimeouts(t *testing.T) {
	const timeout = time.Second
	env := databaseEnv(t)
	env["DISCUSS_SERVER_READ_HEADER_TIMEOUT"] = timeout.String()
	env["DISCUSS_SERVER_READ_TIMEOUT"] = timeout.String()
	env["DISCUSS_SERVER_WRITE_TIMEOUT"] = (2 * timeout).String()
	env["DISCUSS_SERVER_IDLE_TIMEOUT"] = timeout.String()
	env["DISCUSS_WEBSOCKET_PING_INTERVAL"] = "250ms"
	s := startServe(t, env)

	t.Run("ErrBodyTrickled", func(t *testing.T) {
		conn := rawConn(t, s.base, 10*time.Second)
		fmt.Fprint(conn, "POST /api/v1/auth/register HTTP/1.1\r\nHost: discuss\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
		// One byte at a time, far slower than the body could arrive.
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					if _, err := conn.Write([]byte(" ")); err != nil {
						return
					}
				}
			}
		}()
		start := time.Now()
		br := bufio.NewReader(conn)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("no answer while the body trickles in: %v", err)
		}
		if code, msg := errorBody(t, res); res.StatusCode != http.StatusBadRequest || code != "invalid_argument" || !strings.Contains(msg, "too slowly") {
			t.Fatalf("answer %d %s %q, want 400 invalid_argument naming the slow body", res.StatusCode, code, msg)
		}
		// Closed: an end of file, or a reset when the server closed on
		// bytes it had not read; anything but waiting for the deadline.
		if _, err := io.ReadAll(br); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the connection was not closed after the answer: %v", err)
		}
		if d := time.Since(start); d > 5*timeout {
			t.Errorf("cut after %s, want about %s", d, timeout)
		}
	})

	t.Run("ErrIdleKeepAlive", func(t *testing.T) {
		conn := rawConn(t, s.base, 10*time.Second)
		fmt.Fprint(conn, "GET /healthz HTTP/1.1\r\nHost: discuss\r\n\r\n")
		br := bufio.NewReader(conn)
		res, err := http.ReadResponse(br, nil)
		if err != nil || res.StatusCode != http.StatusOK || res.Close {
			t.Fatalf("healthz: %v %v", res, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		start := time.Now()
		if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
			t.Fatalf("the idle connection was not closed: %v", err)
		}
		if d := time.Since(start); d < timeout/2 || d > 5*timeout {
			t.Errorf("closed after %s idle, want about %s", d, timeout)
		}
	})

	t.Run("OKWebSocketOutlivesTimeouts", func(t *testing.T) {
		token, _ := registerUser(t, s, "alice")
		conn := dialHello(t, s, token)
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		// The client sends no frame, only pongs to the server's pings,
		// until three timeouts have passed; then it must still be served.
		var pings atomic.Int64
		conn.SetPingHandler(func(data string) error {
			pings.Add(1)
			return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		})
		frames := make(chan string, 1)
		go func() {
			defer close(frames)
			var f struct {
				Type string `json:"type"`
			}
			for conn.ReadJSON(&f) == nil {
				frames <- f.Type
			}
		}()
		start := time.Now()
		for time.Since(start) < 3*timeout {
			select {
			case f, ok := <-frames:
				t.Fatalf("while idle: frame %q (open: %v)", f, ok)
			case <-time.After(50 * time.Millisecond): // polling interval, not synchronisation
			}
		}
		if pings.Load() < 4 {
			t.Fatalf("%d server pings in %s", pings.Load(), time.Since(start))
		}
		if err := conn.WriteJSON(map[string]string{"type": "ping"}); err != nil {
			t.Fatalf("socket closed: %v", err)
		}
		if f := <-frames; f != "pong" {
			t.Fatalf("after %s idle: frame %q, want pong", time.Since(start), f)
		}
	})
}

// TestServeInternalListener: with server.internal_addr, metrics, profiles
// and health are served there and not on the public listener; both stop
// at shutdown, and an internal address in use stops start-up with the
// public listener closed again.
func TestServeInternalListener(t *testing.T) {
	get := func(base, path string) (int, error) {
		res, err := http.Get(base + path)
		if err != nil {
			return 0, err
		}
		defer res.Body.Close()
		_, _ = io.Copy(io.Discard, res.Body)
		return res.StatusCode, nil
	}

	t.Run("OK", func(t *testing.T) {
		env := databaseEnv(t)
		env["DISCUSS_SERVER_INTERNAL_ADDR"] = freeAddr(t)
		s := startServe(t, env)
		internal := "http://" + env["DISCUSS_SERVER_INTERNAL_ADDR"]
		for _, path := range []string{"/metrics", "/healthz", "/readyz", "/debug/pprof/", "/debug/pprof/cmdline"} {
			if code, err := get(internal, path); err != nil || code != http.StatusOK {
				t.Errorf("internal GET %s: %d %v, want 200", path, code, err)
			}
			if code, err := get(s.base, path); err != nil || code != http.StatusNotFound {
				t.Errorf("public GET %s: %d %v, want 404", path, code, err)
			}
		}
		if code, err := get(s.base, "/openapi.json"); err != nil || code != http.StatusOK {
			t.Errorf("public GET /openapi.json: %d %v", code, err)
		}
		s.stop(t)
		if _, err := get(internal, "/healthz"); err == nil {
			t.Error("the internal listener still answers after shutdown")
		}
	})

	t.Run("ErrInternalAddrInUse", func(t *testing.T) {
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		env := databaseEnv(t)
		env["DISCUSS_SERVER_INTERNAL_ADDR"] = busy.Addr().String()
		serveFails(t, env, "server.internal_addr") // and closed the public listener again
	})
}

// TestServeRequestHeads: a head over server.max_header_bytes gets 431 in
// the contract's shape. Past net/http's own limit, and for a malformed
// request line, net/http answers before any handler runs, in plain text
// that it does not let a server change: the README says so.
func TestServeRequestHeads(t *testing.T) {
	s := startServe(t, databaseEnv(t))

	t.Run("ErrOverMaxHeaderBytes", func(t *testing.T) {
		req, _ := http.NewRequest("GET", s.base+"/healthz", nil)
		req.Header.Set("X-Padding", strings.Repeat("p", 100<<10))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if code, _ := errorBody(t, res); res.StatusCode != http.StatusRequestHeaderFieldsTooLarge || code != "header_too_large" {
			t.Fatalf("a 100 KiB head: %d %s, want 431 header_too_large", res.StatusCode, code)
		}
	})

	plain := []struct {
		name   string
		head   string
		status int
	}{
		{"ErrOverNetHTTPLimit", "GET /healthz HTTP/1.1\r\nHost: discuss\r\nX-Padding: " + strings.Repeat("p", 1<<20+8<<10) + "\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge},
		{"ErrMalformedRequestLine", "NOT AN HTTP REQUEST\r\n\r\n", http.StatusBadRequest},
	}
	for _, tt := range plain {
		t.Run(tt.name, func(t *testing.T) {
			conn := rawConn(t, s.base, 10*time.Second)
			// Write from another goroutine: net/http answers, and stops
			// reading, before the whole of a large head is sent.
			go func() { _, _ = io.WriteString(conn, tt.head) }()
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != tt.status || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
				t.Fatalf("%d %s, want net/http's own %d in plain text", res.StatusCode, res.Header.Get("Content-Type"), tt.status)
			}
		})
	}
}

// TestServeUnreadResponse: a client that asks and never reads the answer
// does not hold the connection, and the handler's goroutine with its
// buffers, for ever: once server.write_timeout has passed, the write fails
// and the connection is closed. Any answer larger than the sockets'
// buffers would do (a pipeline of requests makes one of every route); here
// the handler writes until it fails. The public listener only: the
// internal one serves profiles that may take longer.
func TestServeUnreadResponse(t *testing.T) {
	cfg := configs.Default().Server
	cfg.WriteTimeout = 500 * time.Millisecond
	writeFailed := make(chan error, 1)
	srv := newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		chunk := make([]byte, 64<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				writeFailed <- err
				return
			}
		}
	}), cfg, cfg.WriteTimeout, slog.New(slog.DiscardHandler))
	closed := make(chan struct{})
	srv.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateClosed {
			close(closed)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	conn := rawConn(t, "http://"+ln.Addr().String(), 30*time.Second)
	fmt.Fprint(conn, "GET /large HTTP/1.1\r\nHost: discuss\r\n\r\n")
	// The client reads nothing from here on.
	select {
	case <-closed:
	case <-time.After(20 * cfg.WriteTimeout):
		t.Fatalf("the connection of a client that reads nothing is still open after %s", 20*cfg.WriteTimeout)
	}
	if err := <-writeFailed; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the handler's write failed with %v, want the write deadline", err)
	}
}
