package service

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/quizsite/discuss/model"
)

// Page sizes of every list, as the contract sets them.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// Page is one page of a list in the contract's shape. NextCursor is nil on
// the last page, which encodes as null.
type Page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// cursor is a position in a list sorted by some key and then by id: the key
// and id of the last row a client has seen. The next page asks for the rows
// strictly after that position, so rows inserted while a client walks a list
// never shift what it has still to see, the way an offset would.
//
// Key holds what keyKind says, and is 0 for lists sorted by id alone. Sort
// names the order the cursor was made for, so a cursor of one order is
// refused by another instead of silently skipping rows.
type cursor struct {
	Sort string `json:"s,omitempty"`
	Key  int64  `json:"k,omitempty"`
	ID   int64  `json:"i"`
}

// keyKind is what the Key of an order's cursors holds, and so which keys a
// cursor of that order may carry. decodeCursor refuses every other key: a
// client can write any cursor it likes, and an impossible key must be a 400
// there, not a query that fails (the MySQL driver refuses to send a time
// outside years 1 to 9999, which was a 500 and an error in the log).
type keyKind uint8

const (
	noKey    keyKind = iota // sorted by id alone: Key is 0
	countKey                // a count, such as like_count: 0 or more
	timeKey                 // a time in Unix microseconds (the stored precision), minTimeKey to maxTimeKey
	idKey                   // an id: 1 or more
)

// The range of a timeKey: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z,
// the years a DATETIME column holds and the MySQL driver writes.
const (
	minTimeKey = -62135596800 * 1_000_000
	maxTimeKey = 253402300800*1_000_000 - 1
)

// holds reports whether key is a possible Key of this kind.
func (k keyKind) holds(key int64) bool {
	switch k {
	case countKey:
		return key >= 0
	case timeKey:
		return key >= minTimeKey && key <= maxTimeKey
	case idKey:
		return key >= 1
	}
	return key == 0
}

// keyTime returns Key read as a time; for a cursor of a timeKey order it is
// always within years 1 to 9999.
func (c cursor) keyTime() time.Time { return time.UnixMicro(c.Key).UTC() }

// encodeCursor returns c as an opaque, URL-safe string. Clients must treat
// it as opaque; its JSON inside may change between releases.
func encodeCursor(c cursor) string {
	// Marshalling a struct of strings and integers cannot fail.
	data, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(data)
}

// decodeCursor parses a cursor made by encodeCursor for the order sort,
// whose key is of kind key. The empty string means the first page and
// yields nil. Every field is checked, so what it returns is a position the
// order can hold: the sort, a key that key holds, an id of 1 or more.
// Errors: EINVALID naming the cursor field, for anything else.
func decodeCursor(s, sort string, key keyKind) (*cursor, error) {
	if s == "" {
		return nil, nil
	}
	invalid := model.Errorf(model.EINVALID, "cursor is invalid; pass the next_cursor of a previous page")
	if len(s) > 256 {
		return nil, invalid
	}
	data, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, invalid
	}
	var c cursor
	if err := json.Unmarshal(data, &c); err != nil || c.Sort != sort || !key.holds(c.Key) || c.ID <= 0 {
		return nil, invalid
	}
	return &c, nil
}

// pageLimit checks a requested page size; 0 means the default.
// Errors: EINVALID naming the limit field.
func pageLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return DefaultPageSize, nil
	case limit < 1 || limit > MaxPageSize:
		return 0, model.Errorf(model.EINVALID, "limit must be an integer from 1 to %d", MaxPageSize)
	}
	return limit, nil
}

// pageStart checks the two inputs of every list, in this order: the
// requested size (pageLimit) and the cursor of the order sort, whose key
// is of kind key (decodeCursor; nil for the first page).
// Errors: EINVALID naming limit or cursor.
func pageStart(limit int, cursorText, sort string, key keyKind) (int, *cursor, error) {
	limit, err := pageLimit(limit)
	if err != nil {
		return 0, nil, err
	}
	after, err := decodeCursor(cursorText, sort, key)
	if err != nil {
		return 0, nil, err
	}
	return limit, after, nil
}

// newPage turns rows fetched with LIMIT limit+1 into a page of at most limit
// rows. The extra row only tells that another page exists; the next cursor
// points after the last row kept, whose position at returns.
func newPage[T any](rows []T, limit int, at func(T) cursor) *Page[T] {
	p := &Page[T]{Items: rows}
	if len(rows) > limit {
		p.Items = rows[:limit]
		next := encodeCursor(at(rows[limit-1]))
		p.NextCursor = &next
	}
	if p.Items == nil {
		// An empty list is [], never null.
		p.Items = []T{}
	}
	return p
}
