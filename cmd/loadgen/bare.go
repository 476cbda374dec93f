package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// bareServer is the least a server can do for the idle and broadcast
// scenarios, with the same library the real one uses: it upgrades /ws
// without looking at the token, says hello, keeps a gorilla reader per
// socket (which answers a ping frame), and writes a broadcast, encoded once, to every socket from
// GOMAXPROCS goroutines. No database, no authentication, no queues. Run
// beside the scenario on the same machine (bench.sh bare), it tells what
// the kernel's loopback and gorilla cost for the same frames: the floor
// under the server's figures here.
type bareServer struct {
	upgrader websocket.Upgrader
	hello    *websocket.PreparedMessage
	pong     *websocket.PreparedMessage
	mu       sync.Mutex
	conns    map[*bareConn]struct{}
}

// bareConn is one socket; mu serialises its writes, as gorilla needs.
type bareConn struct {
	mu sync.Mutex
	ws *websocket.Conn
}

// serveBare runs a bareServer on the loopback address of its -listen flag
// until ctx ends.
func serveBare(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadgen bare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("listen", "127.0.0.1:18090", "loopback `address` to serve on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-listen %q: want a loopback address and port", *addr)
	}
	b, err := newBareServer()
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: *addr, Handler: b.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func newBareServer() (*bareServer, error) {
	hello, err := websocket.NewPreparedMessage(websocket.TextMessage, []byte(`{"type":"hello"}`))
	if err != nil {
		return nil, err
	}
	pong, err := websocket.NewPreparedMessage(websocket.TextMessage, []byte(`{"type":"pong"}`))
	if err != nil {
		return nil, err
	}
	return &bareServer{
		hello: hello,
		pong:  pong,
		// The real server's buffers (notify.Hub.Upgrader): a small read
		// buffer, and write buffers from a pool, held only while writing.
		upgrader: websocket.Upgrader{ReadBufferSize: 256, WriteBufferSize: 1024, WriteBufferPool: &sync.Pool{},
			CheckOrigin: func(*http.Request) bool { return true }},
		conns: map[*bareConn]struct{}{},
	}, nil
}

// handler routes what the idle and broadcast scenarios ask of a server.
func (b *bareServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", b.serveWS)
	mux.HandleFunc("POST /api/v1/admin/broadcast", b.broadcast)
	// loadgen's high-water probe before connecting: a notification id
	// the bare server has none of.
	mux.HandleFunc("POST /api/v1/admin/notify", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"id": 0, "created_at": time.Now().UTC()})
	})
	return mux
}

func (b *bareServer) serveWS(w http.ResponseWriter, r *http.Request) {
	ws, err := b.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	c := &bareConn{ws: ws}
	if err := c.write(b.hello); err != nil {
		_ = ws.Close()
		return
	}
	b.mu.Lock()
	b.conns[c] = struct{}{}
	b.mu.Unlock()
	// The handler's goroutine is the socket's reader for its life, as
	// the real server's is; it answers the idle scenario's pings.
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			break
		}
		var f struct{ Type string }
		if json.Unmarshal(data, &f) == nil && f.Type == "ping" && c.write(b.pong) != nil {
			break
		}
	}
	b.mu.Lock()
	delete(b.conns, c)
	b.mu.Unlock()
	_ = ws.Close()
}

// broadcast answers 202 at once, as the real server does, and writes the
// frame to every socket meanwhile.
func (b *bareServer) broadcast(w http.ResponseWriter, r *http.Request) {
	var in struct{ Message string }
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	data, err := json.Marshal(map[string]any{"type": "broadcast", "message": in.Message, "created_at": time.Now().UTC()})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	frame, err := websocket.NewPreparedMessage(websocket.TextMessage, data)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	b.mu.Lock()
	conns := make([]*bareConn, 0, len(b.conns))
	for c := range b.conns {
		conns = append(conns, c)
	}
	b.mu.Unlock()
	go writeAll(conns, frame)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]int{"online_connections": len(conns)})
}

// writeAll writes frame to every conn from GOMAXPROCS goroutines, each
// taking its share in turn.
func writeAll(conns []*bareConn, frame *websocket.PreparedMessage) {
	var wg sync.WaitGroup
	n := runtime.GOMAXPROCS(0)
	for i := range n {
		wg.Go(func() {
			for j := i; j < len(conns); j += n {
				_ = conns[j].write(frame) // a dead socket's reader ends it
			}
		})
	}
	wg.Wait()
}

// write sends m, at most 10 s blocked on the socket.
func (c *bareConn) write(m *websocket.PreparedMessage) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WritePreparedMessage(m)
}
