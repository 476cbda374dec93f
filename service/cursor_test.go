package service

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/quizsite/discuss/model"
)

func TestCursor(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		for _, tc := range []struct {
			c   cursor
			key keyKind
		}{
			{cursor{ID: 1}, noKey},
			{cursor{Sort: "top", Key: 42, ID: 7}, countKey},
			{cursor{Sort: "top", Key: math.MaxInt64, ID: math.MaxInt64}, countKey},
			{cursor{Sort: "active", Key: -5, ID: 1 << 62}, timeKey},
			{cursor{Sort: "active", Key: minTimeKey, ID: 1}, timeKey},
			{cursor{Sort: "active", Key: maxTimeKey, ID: 1}, timeKey},
		} {
			got, err := decodeCursor(encodeCursor(tc.c), tc.c.Sort, tc.key)
			if err != nil || *got != tc.c {
				t.Errorf("round trip of %+v: %+v, %v", tc.c, got, err)
			}
		}
	})
	t.Run("Empty", func(t *testing.T) {
		got, err := decodeCursor("", "new", noKey)
		if got != nil || err != nil {
			t.Errorf("empty cursor: %+v, %v", got, err)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, tc := range []struct {
			s   string
			key keyKind
		}{
			{"!!!", noKey}, // not base64url
			{encodeCursor(cursor{Sort: "top", ID: 3}), noKey},         // another order's cursor
			{encodeCursor(cursor{Sort: "new"}), noKey},                // no id
			{encodeCursor(cursor{Sort: "new", ID: -1}), noKey},        // negative id
			{encodeCursor(cursor{Sort: "new", Key: 1, ID: 1}), noKey}, // a key where there is none
			{encodeCursor(cursor{Sort: "new", Key: -1, ID: 1}), countKey},
			{encodeCursor(cursor{Sort: "new", Key: math.MinInt64, ID: 1}), countKey},
			{encodeCursor(cursor{Sort: "new", Key: minTimeKey - 1, ID: 1}), timeKey},
			{encodeCursor(cursor{Sort: "new", Key: maxTimeKey + 1, ID: 1}), timeKey},
			{encodeCursor(cursor{Sort: "new", Key: math.MinInt64, ID: 1}), timeKey},
			{encodeCursor(cursor{Sort: "new", Key: math.MaxInt64, ID: 1}), timeKey},
			{"bnVsbA", noKey},                 // "null"
			{"W10", noKey},                    // "[]"
			{strings.Repeat("A", 300), noKey}, // too long
		} {
			_, err := decodeCursor(tc.s, "new", tc.key)
			if model.ErrorCode(err) != model.EINVALID || !strings.Contains(model.ErrorMessage(err), "cursor") {
				t.Errorf("decodeCursor(%q, %d) = %v, want EINVALID naming cursor", tc.s, tc.key, err)
			}
		}
	})
}

// TestTimeKeyRange pins the bounds of a timeKey to the first and last
// microsecond of years 1 to 9999.
func TestTimeKeyRange(t *testing.T) {
	if first := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(); minTimeKey != first {
		t.Errorf("minTimeKey = %d, want %d", minTimeKey, first)
	}
	if last := time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro(); maxTimeKey != last {
		t.Errorf("maxTimeKey = %d, want %d", maxTimeKey, last)
	}
}

func TestPageLimit(t *testing.T) {
	for in, want := range map[int]int{0: DefaultPageSize, 1: 1, MaxPageSize: MaxPageSize} {
		if got, err := pageLimit(in); got != want || err != nil {
			t.Errorf("pageLimit(%d) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []int{-1, MaxPageSize + 1} {
		if _, err := pageLimit(in); model.ErrorCode(err) != model.EINVALID || !strings.Contains(model.ErrorMessage(err), "limit") {
			t.Errorf("pageLimit(%d) = %v, want EINVALID naming limit", in, err)
		}
	}
}

func TestNewPage(t *testing.T) {
	at := func(n int) cursor { return cursor{ID: int64(n)} }
	p := newPage([]int{1, 2, 3}, 2, at)
	if len(p.Items) != 2 || p.NextCursor == nil {
		t.Fatalf("3 rows, limit 2: %+v", p)
	}
	if c, _ := decodeCursor(*p.NextCursor, "", noKey); c.ID != 2 {
		t.Errorf("next cursor points at %d, want 2", c.ID)
	}
	if p := newPage([]int{1, 2}, 2, at); len(p.Items) != 2 || p.NextCursor != nil {
		t.Errorf("2 rows, limit 2: %+v", p)
	}
	if p := newPage[int](nil, 2, at); p.Items == nil || len(p.Items) != 0 || p.NextCursor != nil {
		t.Errorf("no rows: %+v", p)
	}
}
