package main

import (
	"fmt"
	"io"
	"time"
)

// progress prints status() to w every interval until stopped, so that a
// run of several minutes shows it is alive and how far it got.
type progress struct {
	stop chan struct{}
	done chan struct{}
}

func startProgress(w io.Writer, every time.Duration, phase string, status func() string) *progress {
	p := &progress{stop: make(chan struct{}), done: make(chan struct{})}
	start := time.Now()
	go func() {
		defer close(p.done)
		if every <= 0 {
			<-p.stop
			return
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				fmt.Fprintf(w, "  [%s %5.0fs] %s\n", phase, time.Since(start).Seconds(), status())
			}
		}
	}()
	return p
}

func (p *progress) end() {
	close(p.stop)
	<-p.done
}
