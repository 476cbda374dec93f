package service

import (
	"testing"

	"github.com/quizsite/discuss/model"
)

// FuzzDecodeCursor feeds arbitrary cursors to the decoder: it never panics,
// refuses what encodeCursor did not make with EINVALID, and what it accepts
// encodes back to a cursor that decodes to the same position.
func FuzzDecodeCursor(f *testing.F) {
	f.Add("", "new")
	f.Add(encodeCursor(cursor{Sort: "new", ID: 42}), "new")
	f.Add(encodeCursor(cursor{Sort: "top", Key: 7, ID: 3}), "top")
	f.Add(encodeCursor(cursor{Sort: "top", Key: 7, ID: 3}), "new")
	f.Add("eyJpIjotMX0", "")
	f.Add("!!!", "old")
	f.Fuzz(func(t *testing.T, s, sort string) {
		c, err := decodeCursor(s, sort)
		if err != nil {
			if code := model.ErrorCode(err); code != "invalid_argument" {
				t.Fatalf("decodeCursor(%q) failed with %v, want invalid_argument", s, err)
			}
			return
		}
		if c == nil {
			if s != "" {
				t.Fatalf("decodeCursor(%q) = nil, nil", s)
			}
			return
		}
		again, err := decodeCursor(encodeCursor(*c), sort)
		if err != nil || *again != *c {
			t.Fatalf("round trip of %+v: %+v, %v", *c, again, err)
		}
	})
}
