package main

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestDecodeFrameCommentCreated(t *testing.T) {
	// Frames as the server encodes them (notify's threadFrame around a
	// model.Comment), one body holding what the hand-read keys look like.
	frames := []string{
		`{"type":"comment_created","post_id":15001,"comment":{"id":7,"post_id":15001,"parent_id":null,"root_id":null,"body":"hi","like_count":0,"reply_count":0,"created_at":"2026-12-03T20:12:34.123456Z","edited_at":null,"spoiler":false,"hidden":false,"body_html":"<p>hi</p>","author":{"id":3,"username":"u3","created_at":"2020-01-01T00:00:00Z"},"reply_to":null,"liked":false,"deleted":false,"author_blocked":false}}`,
		`{"type":"comment_created","post_id":2,"comment":{"id":12345678901,"post_id":2,"parent_id":9,"root_id":9,"body":"\"created_at\":\"1999-01-01T00:00:00Z\", é","like_count":0,"reply_count":0,"created_at":"2026-12-03T21:00:00+01:00","author":null}}`,
	}
	for _, data := range frames {
		var fast, full frame
		if !fast.commentCreated([]byte(data)) {
			t.Fatalf("not read by hand: %s", data)
		}
		if err := json.Unmarshal([]byte(data), &full); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast.Comment, full.Comment) || fast.Type != full.Type || fast.PostID != full.PostID {
			t.Fatalf("by hand %+v %+v, json %+v %+v", fast, *fast.Comment, full, *full.Comment)
		}
	}
}

func TestDecodeFrameOthers(t *testing.T) {
	// Anything else is left to json.Unmarshal, which decodes it or fails.
	for _, data := range []string{
		`{"type":"comment_updated","post_id":1,"comment":{"id":2,"created_at":"2026-12-03T20:12:34Z"}}`,
		`{"type":"comment_created","post_id":1,"comment":{"post_id":1,"id":2,"created_at":"2026-12-03T20:12:34Z"}}`,
		`{"type":"comment_created","post_id":x,"comment":{"id":2,"created_at":"2026-12-03T20:12:34Z"}}`,
		`{"type":"comment_created","post_id":1,"comment":{"id":2,"created_at":"yesterday"}}`,
		`{"type":"comment_created","post_id":1,"comment":{"id":2}}`,
		`{"type":"notification","notification":{"id":5}}`,
	} {
		var f frame
		if f.commentCreated([]byte(data)) {
			t.Errorf("read by hand: %s", data)
		}
		if !reflect.DeepEqual(f, frame{}) {
			t.Errorf("set fields of %s: %+v", data, f)
		}
	}
	var f frame
	if err := decodeFrame([]byte(`{"type":"comment_updated","post_id":1,"comment":{"id":2,"created_at":"2026-12-03T20:12:34Z"}}`), &f); err != nil || f.Comment == nil || f.Comment.ID != 2 {
		t.Fatalf("decodeFrame of comment_updated: %+v, %v", f, err)
	}
	if err := decodeFrame([]byte(`{"type":`), &f); err == nil {
		t.Fatal("decodeFrame of a broken frame: no error")
	}
}
