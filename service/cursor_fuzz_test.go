package service

import (
	"testing"

	"github.com/quizsite/discuss/model"
)

// FuzzDecodeCursor feeds arbitrary cursors to the decoder, as an order of
// each key kind: it never panics, refuses what encodeCursor did not make
// with EINVALID, accepts only keys of the kind (a count is not negative, a
// time lies in years 1 to 9999, an id-only order has no key) and positive
// ids, and what it accepts encodes back to a cursor that decodes to the
// same position.
func FuzzDecodeCursor(f *testing.F) {
	f.Add("", "new")
	f.Add(encodeCursor(cursor{Sort: "new", ID: 42}), "new")
	f.Add(encodeCursor(cursor{Sort: "top", Key: 7, ID: 3}), "top")
	f.Add(encodeCursor(cursor{Sort: "top", Key: 7, ID: 3}), "new")
	f.Add(encodeCursor(cursor{Sort: "active", Key: maxTimeKey, ID: 3}), "active")
	f.Add(encodeCursor(cursor{Sort: "notification_groups", Key: 9, ID: 4}), "notification_groups")
	f.Add("eyJpIjotMX0", "")
	f.Add("!!!", "old")
	f.Fuzz(func(t *testing.T, s, sort string) {
		for _, key := range []keyKind{noKey, countKey, timeKey, idKey} {
			c, err := decodeCursor(s, sort, key)
			if err != nil {
				if code := model.ErrorCode(err); code != "invalid_argument" {
					t.Fatalf("decodeCursor(%q, %d) failed with %v, want invalid_argument", s, key, err)
				}
				continue
			}
			if c == nil {
				if s != "" {
					t.Fatalf("decodeCursor(%q, %d) = nil, nil", s, key)
				}
				continue
			}
			if c.ID <= 0 {
				t.Fatalf("decodeCursor(%q, %d) accepted id %d", s, key, c.ID)
			}
			switch key {
			case noKey:
				if c.Key != 0 {
					t.Fatalf("decodeCursor(%q) accepted key %d for an id-only order", s, c.Key)
				}
			case countKey:
				if c.Key < 0 {
					t.Fatalf("decodeCursor(%q) accepted count %d", s, c.Key)
				}
			case timeKey:
				if y := c.keyTime().Year(); y < 1 || y > 9999 {
					t.Fatalf("decodeCursor(%q) accepted a time in year %d", s, y)
				}
			case idKey:
				if c.Key < 1 {
					t.Fatalf("decodeCursor(%q) accepted id key %d", s, c.Key)
				}
			}
			again, err := decodeCursor(encodeCursor(*c), sort, key)
			if err != nil || *again != *c {
				t.Fatalf("round trip of %+v: %+v, %v", *c, again, err)
			}
		}
	})
}
