package service

import (
	"bytes"
	"container/list"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quizsite/discuss/model"
)

// The thread page cache's entries and their store: a byte-bounded LRU with
// a time to live, and one fill at a time per page (see comments_cache.go).

// pageKey names a cached page: a post and a sort (the first page, at the
// default limit).
type pageKey struct {
	postID int64
	sort   string
}

// pageEntry is one cached page; see the top of this file. It is never
// changed once made, so readers share it without a lock.
type pageEntry struct {
	key     pageKey
	version threadVersion
	expires time.Time
	// hiders are the authors of the post's live hidden comments, who are
	// not served from the entry.
	hiders []int64
	// body is the anonymous page's JSON; flags are the places in it that a
	// reader's likes and blocks turn to true, in body order.
	body  []byte
	flags []pageFlag
	// comments are the page's live comments and replies, authors their
	// authors, once each: what a reader's likes and blocks are read for.
	comments, authors []int64
	size              int64
	elem              *list.Element
}

// pageFlag is one "false" in an entry's body, at offset at: the liked of
// comment id (liked set) or the author_blocked of a comment by user id.
type pageFlag struct {
	at    int
	liked bool
	id    int64
}

const (
	jsonFalse = "false"
	jsonTrue  = "true"
)

var (
	likedFalse   = []byte(`"liked":false`)
	blockedFalse = []byte(`"author_blocked":false`)
)

// newPageEntry encodes page, as a reader who has liked and blocked nothing
// sees it, into an entry read at version. The body is what json.Marshal
// makes of the page, built a comment at a time so that the offsets of
// each comment's flags are known: a comment with its replies nil encodes
// as its fields in order, and "replies" comes last.
//
// In one comment's encoding (replies aside) `"liked":false` and
// `"author_blocked":false` each occur once: they are keys of the comment
// object (its author and reply_to have neither), and the text cannot hold
// them inside a string, where every quote is escaped.
func newPageEntry(key pageKey, version threadVersion, hiders []int64, page *Page[*model.Comment]) (*pageEntry, error) {
	e := &pageEntry{key: key, version: version, hiders: hiders}
	var buf bytes.Buffer
	authors := map[int64]bool{}
	one := func(c *model.Comment) ([]byte, error) {
		replies := c.Replies
		c.Replies = nil
		b, err := json.Marshal(c)
		c.Replies = replies
		if err != nil {
			return nil, err
		}
		if c.Deleted {
			return b, nil // a placeholder is never liked nor blocked
		}
		for _, f := range []struct {
			key   []byte
			liked bool
			id    int64
		}{{likedFalse, true, c.ID}, {blockedFalse, false, c.AuthorID}} {
			if bytes.Count(b, f.key) != 1 {
				return nil, fmt.Errorf("service: comment %d encodes %s %d times", c.ID, f.key, bytes.Count(b, f.key))
			}
			at := buf.Len() + bytes.Index(b, f.key) + len(f.key) - len(jsonFalse)
			e.flags = append(e.flags, pageFlag{at: at, liked: f.liked, id: f.id})
		}
		e.comments = append(e.comments, c.ID)
		if !authors[c.AuthorID] {
			authors[c.AuthorID] = true
			e.authors = append(e.authors, c.AuthorID)
		}
		return b, nil
	}
	// array writes comments as the elements of a JSON array, the one
	// replies of a top-level comment inside its object.
	var array func(comments []*model.Comment) error
	array = func(comments []*model.Comment) error {
		for i, c := range comments {
			if i > 0 {
				buf.WriteByte(',')
			}
			b, err := one(c)
			if err != nil {
				return err
			}
			if c.Replies == nil {
				buf.Write(b)
				continue
			}
			buf.Write(b[:len(b)-1])
			buf.WriteString(`,"replies":[`)
			if err := array(c.Replies); err != nil {
				return err
			}
			buf.WriteString("]}")
		}
		return nil
	}
	buf.WriteString(`{"items":[`)
	if err := array(page.Items); err != nil {
		return nil, err
	}
	next, err := json.Marshal(page.NextCursor)
	if err != nil {
		return nil, err
	}
	buf.WriteString(`],"next_cursor":`)
	buf.Write(next)
	buf.WriteByte('}')
	e.body = buf.Bytes()
	e.size = int64(len(e.body)) + int64(len(e.flags))*24 + int64(len(e.comments)+len(e.authors)+len(e.hiders))*8 + 256
	return e, nil
}

// hides reports whether viewer may see hidden comments of the entry's
// post that the entry leaves out.
func (e *pageEntry) hides(viewer *model.User) bool {
	return viewer != nil && slices.Contains(e.hiders, viewer.ID)
}

// render returns the entry's body for a reader who likes the comments
// liked and blocks the authors blocked (either nil for none); the body
// itself, shared, when there is nothing to mark.
func (e *pageEntry) render(liked, blocked map[int64]bool) []byte {
	if len(liked) == 0 && len(blocked) == 0 {
		return e.body
	}
	out := make([]byte, 0, len(e.body))
	from := 0
	for _, f := range e.flags {
		if (f.liked && liked[f.id]) || (!f.liked && blocked[f.id]) {
			out = append(out, e.body[from:f.at]...)
			out = append(out, jsonTrue...)
			from = f.at + len(jsonFalse)
		}
	}
	return append(out, e.body[from:]...)
}

// pageCache holds entries up to maxBytes, the least recently read leaving
// first, each for at most ttl. A nil *pageCache caches nothing.
type pageCache struct {
	maxBytes int64
	ttl      time.Duration
	now      func() time.Time

	hits, misses, bypass, filled, joined atomic.Uint64

	mu      sync.Mutex
	entries map[pageKey]*pageEntry
	lru     list.List // of *pageEntry, most recently read first
	bytes   int64
	// fills are the fills under way, by key.
	fills map[pageKey]*pageFill
}

// pageFill is one read of a page into an entry, which other reads of the
// same key may wait for.
type pageFill struct {
	version threadVersion // the versions it was read at
	done    chan struct{} // closed when it ends
	entry   *pageEntry    // set before done is closed; nil when it failed
}

// startFill returns the fill under way of key, if it was read at versions
// at least as new as v (lead false), or else a new fill that the caller
// must end with endFill (lead true). A fill at older versions is left to
// finish on its own.
func (c *pageCache) startFill(key pageKey, v threadVersion) (f *pageFill, lead bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.fills[key]; f != nil && f.version.atLeast(v) {
		return f, false
	}
	f = &pageFill{version: v, done: make(chan struct{})}
	c.fills[key] = f
	return f, true
}

// endFill ends fill f of key with entry e (nil: failed) and wakes its
// waiters.
func (c *pageCache) endFill(key pageKey, f *pageFill, e *pageEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fills[key] == f {
		delete(c.fills, key)
	}
	f.entry = e
	close(f.done)
}

func newPageCache(maxBytes int64, ttl time.Duration, now func() time.Time) *pageCache {
	return &pageCache{maxBytes: maxBytes, ttl: ttl, now: now, entries: map[pageKey]*pageEntry{}, fills: map[pageKey]*pageFill{}}
}

// keyOf returns the key of the page q asks for, and whether the cache may
// serve it to viewer: the first page at the default limit, in a valid sort
// (List refuses the others), to anyone but a moderator.
func (c *pageCache) keyOf(postID int64, q CommentQuery, viewer *model.User) (pageKey, bool) {
	if c == nil || q.Cursor != "" || viewer.CanModerate() {
		return pageKey{}, false
	}
	limit, err := pageLimit(q.Limit)
	sort, serr := commentSort(q.Sort)
	if err != nil || serr != nil || limit != DefaultPageSize {
		return pageKey{}, false
	}
	return pageKey{postID: postID, sort: sort}, true
}

func (c *pageCache) bypassed() {
	if c != nil {
		c.bypass.Add(1)
	}
}

// get returns the unexpired entry of key, if any.
func (c *pageCache) get(key pageKey) *pageEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e == nil {
		return nil
	}
	if !c.now().Before(e.expires) {
		c.remove(e)
		return nil
	}
	c.lru.MoveToFront(e.elem)
	return e
}

// put keeps e, unless an unexpired entry of its key read at versions at
// least as new is there already (two fills that raced), then drops the
// least recently read entries past maxBytes.
func (c *pageCache) put(e *pageEntry) {
	if e.size > c.maxBytes/4 {
		return // one page does not crowd out the others
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if old := c.entries[e.key]; old != nil {
		if now.Before(old.expires) && old.version.atLeast(e.version) {
			return
		}
		c.remove(old)
	}
	e.expires = now.Add(c.ttl)
	e.elem = c.lru.PushFront(e)
	c.entries[e.key] = e
	c.bytes += e.size
	for c.bytes > c.maxBytes {
		c.remove(c.lru.Back().Value.(*pageEntry))
	}
}

// remove drops e; c.mu is held.
func (c *pageCache) remove(e *pageEntry) {
	c.lru.Remove(e.elem)
	delete(c.entries, e.key)
	c.bytes -= e.size
}

func (c *pageCache) stats() PageCacheStats {
	if c == nil {
		return PageCacheStats{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return PageCacheStats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Bypassed: c.bypass.Load(), Filled: c.filled.Load(), Joined: c.joined.Load(),
		Entries: int64(len(c.entries)), Bytes: c.bytes, Enabled: true,
	}
}
