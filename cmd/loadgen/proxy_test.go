package main

import (
	"io"
	"net"
	"testing"
	"time"
)

func TestBrokerProxy(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); _ = c.Close() }()
		}
	}()
	p, err := newBrokerProxy("127.0.0.1:0=" + echo.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	// roundTrip reports whether a line sent through the proxy comes back.
	roundTrip := func(c net.Conn) bool {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("hi\n")); err != nil {
			return false
		}
		buf := make([]byte, 3)
		_, err := io.ReadFull(c, buf)
		return err == nil && string(buf) == "hi\n"
	}
	dial := func() net.Conn {
		c, err := net.Dial("tcp", p.ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}

	before := dial()
	if !roundTrip(before) {
		t.Fatal("no echo through the proxy")
	}
	p.setCut(true)
	if roundTrip(before) {
		t.Error("a connection made before the cut still works")
	}
	if roundTrip(dial()) {
		t.Error("a connection made during the cut works")
	}
	p.setCut(false)
	if !roundTrip(dial()) {
		t.Error("no echo after the cut ended")
	}

	for _, bad := range []string{"127.0.0.1:1", "10.0.0.1:1=127.0.0.1:6379", "127.0.0.1:0=example.com:6379", "=127.0.0.1:1"} {
		if _, err := newBrokerProxy(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
