package ssetest

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Decode decodes the frame that ev carries into v, after checking ev
// against it as GET /sse must send every frame: an event named after the
// frame's type, with an id exactly when the frame is a notification, the
// notification's (a browser resumes with it as Last-Event-ID).
func (ev Event) Decode(v any) error {
	var f struct {
		Type         string `json:"type"`
		Notification *struct {
			ID int64 `json:"id"`
		} `json:"notification"`
	}
	if err := json.Unmarshal([]byte(ev.Data), &f); err != nil {
		return fmt.Errorf("event %+v: %w", ev, err)
	}
	wantID := ""
	if f.Type == "notification" && f.Notification != nil {
		wantID = strconv.FormatInt(f.Notification.ID, 10)
	}
	if f.Type != ev.Type || ev.ID != wantID {
		return fmt.Errorf("event %q with id %q carries %s", ev.Type, ev.ID, ev.Data)
	}
	return json.Unmarshal([]byte(ev.Data), v)
}
