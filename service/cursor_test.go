package service

import (
	"strings"
	"testing"

	"github.com/quizsite/discuss/model"
)

func TestCursor(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		for _, c := range []cursor{{ID: 1}, {Sort: "top", Key: 42, ID: 7}, {Sort: "active", Key: -5, ID: 1 << 62}} {
			got, err := decodeCursor(encodeCursor(c), c.Sort)
			if err != nil || *got != c {
				t.Errorf("round trip of %+v: %+v, %v", c, got, err)
			}
		}
	})
	t.Run("Empty", func(t *testing.T) {
		got, err := decodeCursor("", "new")
		if got != nil || err != nil {
			t.Errorf("empty cursor: %+v, %v", got, err)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, s := range []string{
			"!!!",                                    // not base64url
			encodeCursor(cursor{Sort: "top", ID: 3}), // another order's cursor
			encodeCursor(cursor{Sort: "new"}),        // no id
			"bnVsbA",                                 // "null"
			"W10",                                    // "[]"
			strings.Repeat("A", 300),                 // too long
		} {
			_, err := decodeCursor(s, "new")
			if model.ErrorCode(err) != model.EINVALID || !strings.Contains(model.ErrorMessage(err), "cursor") {
				t.Errorf("decodeCursor(%q) = %v, want EINVALID naming cursor", s, err)
			}
		}
	})
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
	if c, _ := decodeCursor(*p.NextCursor, ""); c.ID != 2 {
		t.Errorf("next cursor points at %d, want 2", c.ID)
	}
	if p := newPage([]int{1, 2}, 2, at); len(p.Items) != 2 || p.NextCursor != nil {
		t.Errorf("2 rows, limit 2: %+v", p)
	}
	if p := newPage[int](nil, 2, at); p.Items == nil || len(p.Items) != 0 || p.NextCursor != nil {
		t.Errorf("no rows: %+v", p)
	}
}
