package main

// An SMTP relay the test controls, between the binary and mailpit.

import (
	"bytes"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
)

// smtpProxy relays SMTP between the binary and mailpit, reading the plain
// conversation (the binary is configured with email.tls none for this).
// It counts the messages the server accepted, and when armed it calls
// onAccept once, when the server's 250 for the end of a message's DATA
// arrives, before the client sees it: the client then cannot have recorded
// the message as sent.
type smtpProxy struct {
	ln       net.Listener
	upstream string

	accepted atomic.Int64
	onAccept atomic.Pointer[func()]
}

func startSMTPProxy(t *testing.T, upstream string) *smtpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &smtpProxy{ln: ln, upstream: upstream}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.relay(c)
		}
	}()
	return p
}

func (p *smtpProxy) arm(onAccept func()) { p.onAccept.Store(&onAccept) }

func (p *smtpProxy) count() int { return int(p.accepted.Load()) }

func (p *smtpProxy) relay(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer server.Close()
	// dataEnded is set once the client sent a message's final
	// "\r\n.\r\n", before the server can have answered it.
	var dataEnded atomic.Bool
	go func() {
		var tail []byte
		buf := make([]byte, 32<<10)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				tail = append(tail, buf[:n]...)
				if bytes.Contains(tail, []byte("\r\n.\r\n")) {
					dataEnded.Store(true)
					tail = nil
				} else if len(tail) > 4 {
					tail = tail[len(tail)-4:]
				}
				if _, err := server.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				_ = server.Close()
				return
			}
		}
	}()
	lines := newLineReader(server)
	for {
		line, err := lines.next()
		if err != nil {
			return
		}
		if strings.HasPrefix(line, "250 ") && dataEnded.CompareAndSwap(true, false) {
			p.accepted.Add(1)
			if kill := p.onAccept.Swap(nil); kill != nil {
				(*kill)()
				return // the client never hears the 250
			}
		}
		if _, err := io.WriteString(client, line); err != nil {
			return
		}
	}
}

// lineReader reads CRLF-terminated lines, each returned with its ending.
type lineReader struct {
	r   io.Reader
	buf []byte
}

func newLineReader(r io.Reader) *lineReader { return &lineReader{r: r} }

func (l *lineReader) next() (string, error) {
	for {
		if i := bytes.Index(l.buf, []byte("\r\n")); i >= 0 {
			line := string(l.buf[:i+2])
			l.buf = l.buf[i+2:]
			return line, nil
		}
		chunk := make([]byte, 4096)
		n, err := l.r.Read(chunk)
		l.buf = append(l.buf, chunk[:n]...)
		if err != nil {
			return "", err
		}
	}
}
