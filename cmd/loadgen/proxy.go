package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
)

// brokerProxy stands between the server under test and its Redis, so that
// the resubscribe scenario can take the broker away from that one server
// and give it back, as a network blip would, while every other client of
// Redis (the writing instance) keeps it.
type brokerProxy struct {
	ln       net.Listener
	upstream string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{} // both ends of every proxied connection
	wg    sync.WaitGroup
}

// newBrokerProxy parses spec, LISTEN=UPSTREAM with both on the loopback,
// and starts accepting.
func newBrokerProxy(spec string) (*brokerProxy, error) {
	listen, upstream, ok := splitProxySpec(spec)
	if !ok {
		return nil, fmt.Errorf("--broker-proxy %q: want 127.0.0.1:PORT=127.0.0.1:PORT", spec)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("--broker-proxy: %w", err)
	}
	p := &brokerProxy{ln: ln, upstream: upstream, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	return p, nil
}

// splitProxySpec splits LISTEN=UPSTREAM and checks that both addresses are
// on the loopback: this tool touches nothing beyond the machine.
func splitProxySpec(spec string) (listen, upstream string, ok bool) {
	listen, upstream, ok = strings.Cut(spec, "=")
	if !ok {
		return "", "", false
	}
	for _, addr := range []string{listen, upstream} {
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return "", "", false
		}
	}
	return listen, upstream, true
}

func (p *brokerProxy) accept() {
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			_ = down.Close()
			continue
		}
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			p.mu.Unlock()
			_ = down.Close()
			continue
		}
		p.conns[down], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(up, down) })
		p.wg.Go(func() { p.pipe(down, up) })
	}
}

// pipe copies from src to dst until either side fails, then closes both,
// so that the other direction's copy ends too.
func (p *brokerProxy) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
	_ = dst.Close()
	_ = src.Close()
}

// setCut takes the broker away (true): every proxied connection is closed
// and new ones are accepted and closed at once, which the server sees as
// Redis failing; or gives it back (false).
func (p *brokerProxy) setCut(cut bool) {
	p.mu.Lock()
	p.cut = cut
	var open []net.Conn
	if cut {
		for c := range p.conns {
			open = append(open, c)
		}
	}
	p.mu.Unlock()
	for _, c := range open {
		_ = c.Close()
	}
}

// close stops the proxy and waits for its goroutines.
func (p *brokerProxy) close() error {
	err := p.ln.Close()
	p.setCut(true)
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
