package service

import (
	"testing"
	"time"

	"github.com/quizsite/discuss/model"
)

// TestPageCacheBounds: entries leave past the byte bound, the least
// recently read first, and after their time to live; a fill read at older
// versions does not replace a newer entry.
func TestPageCacheBounds(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newPageCache(4000, time.Minute, func() time.Time { return now })
	entry := func(post int64, v threadVersion) *pageEntry {
		return &pageEntry{key: pageKey{postID: post, sort: CommentsOld}, version: v, body: []byte("{}"), size: 1000}
	}
	for post := int64(1); post <= 4; post++ {
		c.put(entry(post, threadVersion{}))
	}
	if c.get(pageKey{1, CommentsOld}) == nil {
		t.Fatal("entry 1 gone before the bound")
	}
	c.put(entry(5, threadVersion{})) // past 4000 bytes: 2, the least recently read, leaves
	if c.get(pageKey{2, CommentsOld}) != nil || c.get(pageKey{1, CommentsOld}) == nil || c.get(pageKey{5, CommentsOld}) == nil {
		t.Errorf("after the bound: %v", c.entries)
	}
	if st := c.stats(); st.Bytes != 4000 || st.Entries != 4 {
		t.Errorf("stats %+v", st)
	}

	c.put(entry(1, threadVersion{thread: 3, likes: 1}))
	c.put(entry(1, threadVersion{thread: 2, likes: 1})) // a slower fill
	if e := c.get(pageKey{1, CommentsOld}); e == nil || e.version.thread != 3 {
		t.Errorf("entry 1 after an older fill: %+v", e)
	}
	c.put(entry(1, threadVersion{thread: 3, likes: 2}))
	if e := c.get(pageKey{1, CommentsOld}); e == nil || e.version.likes != 2 {
		t.Errorf("entry 1 after a newer fill: %+v", e)
	}

	now = now.Add(time.Minute)
	if c.get(pageKey{5, CommentsOld}) != nil {
		t.Error("an expired entry served")
	}
	big := entry(9, threadVersion{})
	big.size = 1001 // over a quarter of the bound
	c.put(big)
	if c.get(pageKey{9, CommentsOld}) != nil {
		t.Error("an entry over a quarter of the bound kept")
	}
}

// TestPageCacheKeys: only first pages at the default limit, in a valid
// sort, for readers who are not moderators.
func TestPageCacheKeys(t *testing.T) {
	c := newPageCache(1<<20, time.Minute, time.Now)
	user := &model.User{ID: 1, Role: model.RoleUser}
	for _, tt := range []struct {
		q      CommentQuery
		viewer *model.User
		ok     bool
		sort   string
	}{
		{CommentQuery{}, user, true, CommentsOld},
		{CommentQuery{Sort: CommentsTop, Limit: DefaultPageSize}, user, true, CommentsTop},
		{CommentQuery{}, nil, true, CommentsOld},
		{CommentQuery{Limit: 5}, user, false, ""},
		{CommentQuery{Cursor: "x"}, user, false, ""},
		{CommentQuery{Sort: "hot"}, user, false, ""},
		{CommentQuery{}, &model.User{ID: 2, Role: model.RoleModerator}, false, ""},
		{CommentQuery{}, &model.User{ID: 3, Role: model.RoleAdmin}, false, ""},
	} {
		key, ok := c.keyOf(7, tt.q, tt.viewer)
		if ok != tt.ok || (ok && (key.sort != tt.sort || key.postID != 7)) {
			t.Errorf("keyOf(%+v, %+v) = %+v, %v", tt.q, tt.viewer, key, ok)
		}
	}
	var off *pageCache
	if _, ok := off.keyOf(7, CommentQuery{}, user); ok {
		t.Error("a nil cache serves")
	}
}

// TestPageCacheFills: a read that misses waits for a fill under way only
// when that fill read the post at versions at least as new as its own.
func TestPageCacheFills(t *testing.T) {
	c := newPageCache(1<<20, time.Minute, time.Now)
	key := pageKey{1, CommentsOld}
	f, lead := c.startFill(key, threadVersion{thread: 5, likes: 2})
	if !lead {
		t.Fatal("the first fill does not lead")
	}
	g, lead := c.startFill(key, threadVersion{thread: 5, likes: 1})
	if lead || g != f {
		t.Fatal("a read at older versions does not wait for the fill")
	}
	h, lead := c.startFill(key, threadVersion{thread: 6, likes: 0})
	if !lead || h == f {
		t.Fatal("a read that saw a newer change waits for an older fill")
	}
	e := &pageEntry{key: key}
	c.endFill(key, f, e)
	select {
	case <-f.done:
	default:
		t.Fatal("the fill's waiters are not woken")
	}
	if f.entry != e || c.fills[key] != h {
		t.Errorf("after the first fill ended: entry %p, fills %v", f.entry, c.fills)
	}
	c.endFill(key, h, nil)
	if len(c.fills) != 0 {
		t.Errorf("fills left: %v", c.fills)
	}
}
