// Package ssetest reads an event stream (text/event-stream) as a browser's
// EventSource does, checks each event against the frame it carries, and
// queues what a live connection's reader reads, a stream's or a socket's,
// for the tests of GET /sse and /ws in notify, api and cmd.
package ssetest

import (
	"bufio"
	"io"
	"strings"
)

// Event is one dispatched event, or one comment line (Comment set, the
// rest empty), which an EventSource ignores but a test may count.
type Event struct {
	Type    string // the event field; "message" when the event had none
	ID      string // the id field; empty when the event had none
	Data    string
	Comment string
}

// Reader reads events from a stream.
type Reader struct {
	sc *bufio.Scanner
}

// NewReader reads the events of r.
func NewReader(r io.Reader) *Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	return &Reader{sc: sc}
}

// Next returns the next event or comment. At the end of the stream it
// returns io.EOF; an event cut off by the end is not returned, as an
// EventSource drops it too.
func (r *Reader) Next() (Event, error) {
	var ev Event
	var data []string
	fields := false
	for r.sc.Scan() {
		line := r.sc.Text()
		if line == "" {
			if !fields {
				continue
			}
			ev.Data = strings.Join(data, "\n")
			if ev.Type == "" {
				ev.Type = "message"
			}
			return ev, nil
		}
		if c, ok := strings.CutPrefix(line, ":"); ok {
			if !fields {
				return Event{Comment: strings.TrimPrefix(c, " ")}, nil
			}
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		fields = true
		switch name {
		case "event":
			ev.Type = value
		case "id":
			ev.ID = value
		case "data":
			data = append(data, value)
		}
	}
	if err := r.sc.Err(); err != nil {
		return Event{}, err
	}
	return Event{}, io.EOF
}
