package main

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// decodeFrame decodes a server frame. comment_created, a thousand of which
// a thread-live run reads for every comment, is read by hand for the four
// fields loadgen uses: decoding each whole comment, body, author and all,
// cost loadgen a quarter of its CPU, which the server being measured shares.
func decodeFrame(data []byte, f *frame) error {
	if f.commentCreated(data) {
		return nil
	}
	return json.Unmarshal(data, f)
}

// commentCreated reads a comment_created frame as the server encodes it,
// {"type":"comment_created","post_id":P,"comment":{"id":C,...,"created_at":"T",...}},
// the comment's created_at being its first key of that name (the author and
// the other objects come after it). It reports false, having set nothing,
// for any other frame or shape, which json.Unmarshal then decodes.
func (f *frame) commentCreated(data []byte) bool {
	rest, ok := bytes.CutPrefix(data, []byte(`{"type":"comment_created","post_id":`))
	if !ok {
		return false
	}
	postID, rest, ok := cutInt(rest)
	if !ok {
		return false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"comment":{"id":`)); !ok {
		return false
	}
	id, rest, ok := cutInt(rest)
	if !ok {
		return false
	}
	// Inside a JSON string every quote is escaped, so this key cannot be
	// found within the body.
	_, rest, ok = bytes.Cut(rest, []byte(`"created_at":"`))
	if !ok {
		return false
	}
	stamp, _, ok := bytes.Cut(rest, []byte(`"`))
	if !ok {
		return false
	}
	at, err := time.Parse(time.RFC3339Nano, string(stamp))
	if err != nil {
		return false
	}
	f.Type, f.PostID = "comment_created", postID
	f.Comment = &frameComment{ID: id, CreatedAt: at}
	return true
}

// cutInt reads the decimal integer that b starts with, up to the comma
// after it, and returns the rest from that comma.
func cutInt(b []byte) (int64, []byte, bool) {
	end := bytes.IndexByte(b, ',')
	if end < 0 {
		return 0, nil, false
	}
	n, err := strconv.ParseInt(string(b[:end]), 10, 64)
	return n, b[end:], err == nil
}
