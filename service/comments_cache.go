package service

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/quizsite/discuss/model"
)

// The thread page cache: the first page of a post's comments (each sort,
// the default limit), encoded once as JSON and served to every viewer it
// fits, checked against the database on every read.
//
// # What is cached, and for whom
//
// A page is the same for every reader but for three things: whether the
// reader liked each comment (liked), whether they block its author
// (author_blocked), and what hidden content they may see (model.Visible:
// moderators see all of it, authors their own). An entry holds the page as
// a reader who has liked and blocked nothing and may see nothing hidden
// gets it (the "anonymous" page), with the offset of every liked and
// author_blocked value in it, the post's live comments on it and their
// authors. A read fills in the reader's likes and blocks, read afresh in
// the same statement that checks the entry (below), by writing "true" at
// those offsets. Readers the anonymous page does not fit are served as
// before, by List: moderators, the authors of the post's live hidden
// comments (the entry lists them; there are seldom any), and everyone on
// a hidden post. Pages after the first, and other limits, are not cached.
//
// # Freshness
//
// Every change to what the page shows moves a version inside the change's
// own transaction (migration 00010): posts.thread_version for the writes
// that hold the post's lock (a comment or reply created, edited, deleted,
// hidden or shown again), and the post's thread_like_versions row for a
// like or unlike of one of its comments (likes do not take the post's
// lock). RenderStoredBodies, at start-up after a change of the renderer,
// moves thread_version of the posts whose comments it rendered just after
// each batch of them. An entry remembers the versions it
// was read at, read before the page in their own statement; every read of
// the entry reads them again, with the reader's likes and blocks and the
// post's deleted and hidden flags, in one statement, and serves the entry
// only when nothing moved.
//
// The guarantee: a page served reflects every change committed before the
// read's statement began, on every instance, exactly as List would show it
// to that reader at that moment. In particular a user who has commented,
// liked or deleted sees it on their next load, whichever instance serves
// it, and a page is never older than a live-thread event its reader has
// been sent (those are published after commit). No broker message is
// involved: a Redis outage cannot make an instance serve a stale page.
// Users' names never change, and role changes only decide who bypasses the
// cache. What moves no version (a row changed by hand in the database) is
// seen within the entry's time to live.
//
// The cost: one statement per read that finds an entry (against six without
// the cache), five for the read that fills one. After a change, the next
// read of each sort fills it again, and the reads that miss meanwhile wait
// for that fill (two statements more each: the post's state, then their
// likes and blocks on the new entry) instead of reading the page each.

// Defaults of the page cache (configs: thread_cache).
const (
	DefaultPageCacheBytes = 32 << 20
	DefaultPageCacheTTL   = 30 * time.Second
)

// threadVersion is where a post's thread stood when it was read: its
// thread_version and its likes' version.
type threadVersion struct{ thread, likes int64 }

// atLeast reports whether v is as new as w in both versions.
func (v threadVersion) atLeast(w threadVersion) bool {
	return v.thread >= w.thread && v.likes >= w.likes
}

// threadChanged moves the thread_version of posts postIDs inside tx, whose
// change alters what their comment pages show. A writer of a thread holds
// the post's lock, so its versions move in commit order.
func threadChanged(tx *gorm.DB, postIDs ...int64) error {
	return dbError(tx.Exec("UPDATE posts SET thread_version = thread_version + 1 WHERE id IN ?", postIDs).Error)
}

// threadLikesChanged moves the likes' version of post postID inside tx, a
// like or unlike of one of its comments. It must be the transaction's last
// lock: no other kind of transaction takes this row, and a like takes
// nothing after it, so it closes no cycle of locks. The first like of a
// post inserts the row; concurrent first inserts may deadlock on MySQL,
// which transact retries.
func threadLikesChanged(tx *gorm.DB, postID int64) error {
	bump := clause.OnConflict{
		Columns:   []clause.Column{{Name: "post_id"}},
		DoUpdates: clause.Assignments(map[string]any{"version": gorm.Expr("version + 1")}),
	}
	return dbError(tx.Table("thread_like_versions").Clauses(bump).Create(map[string]any{"post_id": postID, "version": 1}).Error)
}

// PageCacheStats are the page cache's counters since start and what it
// holds now.
type PageCacheStats struct {
	// Hits are reads served from an entry after their check; Misses reads
	// the cache could serve but found no fresh entry for (or a reader it
	// does not fit); Bypassed reads it does not serve (see keyOf).
	Hits, Misses, Bypassed uint64
	// Filled counts the entries read and kept, Joined the misses that
	// waited for another read's fill instead of reading the page.
	Filled, Joined uint64
	Entries, Bytes int64
	Enabled        bool
}

// SetPageCache sizes the thread page cache: at most maxBytes of entries,
// each served for at most ttl. A maxBytes or ttl of 0 turns it off. Call it
// before serving.
func (s *Comments) SetPageCache(maxBytes int64, ttl time.Duration) {
	if maxBytes <= 0 || ttl <= 0 {
		s.pages = nil
		return
	}
	s.pages = newPageCache(maxBytes, ttl, time.Now)
}

// PageCacheStats returns the page cache's counters.
func (s *Comments) PageCacheStats() PageCacheStats {
	return s.pages.stats()
}

// ListJSON returns List's page for the signed-in user as JSON, byte for
// byte what encoding/json makes of it, from the page cache when the request
// and the reader fit it (see the top of this file). Errors: as List's.
func (s *Comments) ListJSON(ctx context.Context, postID int64, q CommentQuery) ([]byte, error) {
	viewer := model.UserFrom(ctx)
	key, ok := s.pages.keyOf(postID, q, viewer)
	if !ok {
		s.pages.bypassed()
		return s.listJSON(ctx, postID, q)
	}
	db := s.db.WithContext(ctx)
	e := s.pages.get(key)
	if e != nil && e.hides(viewer) {
		// A reader with hidden comments in the thread: List says what they
		// see.
		s.pages.misses.Add(1)
		return s.listJSON(ctx, postID, q)
	}
	if e != nil {
		st, err := readThreadState(db, postID, viewer, e.comments, e.authors)
		if err != nil {
			return nil, err
		}
		if st.live && st.version == e.version {
			s.pages.hits.Add(1)
			return e.render(st.liked, st.blocked), nil
		}
	}
	s.pages.misses.Add(1)
	st, err := readThreadState(db, postID, nil, nil, nil)
	if err != nil {
		return nil, err
	}
	if !st.live || (viewer != nil && slices.Contains(st.hiders, viewer.ID)) {
		// A hidden or missing post, or a reader with hidden comments in
		// it: List says what this reader sees.
		return s.listJSON(ctx, postID, q)
	}
	e, err = s.fill(ctx, db, key, st)
	if err != nil {
		return nil, err
	}
	if e.hides(viewer) {
		return s.listJSON(ctx, postID, q) // hidden since this read's own look
	}
	if viewer == nil {
		return e.body, nil
	}
	marks, err := readThreadState(db, postID, viewer, e.comments, e.authors)
	if err != nil {
		return nil, err
	}
	if !marks.live {
		return s.listJSON(ctx, postID, q) // deleted or hidden meanwhile
	}
	return e.render(marks.liked, marks.blocked), nil
}

// fill returns an entry of key at least as new as st, the post's state that
// this read found: the one another read of the key is filling, when it
// began at versions at least as new, else one this read fills (and keeps).
// After a change, the reads of a hot page that miss wait for one fill
// instead of each reading the page again.
func (s *Comments) fill(ctx context.Context, db *gorm.DB, key pageKey, st threadState) (*pageEntry, error) {
	f, lead := s.pages.startFill(key, st.version)
	if !lead {
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, dbError(ctx.Err())
		}
		if f.entry != nil {
			s.pages.joined.Add(1)
			return f.entry, nil
		}
		// That fill failed: this read fills for itself.
	}
	var e *pageEntry
	defer func() {
		if lead {
			s.pages.endFill(key, f, e)
		}
	}()
	page, err := listPage(db, nil, key.postID, key.sort, DefaultPageSize, nil)
	if err != nil {
		return nil, err
	}
	if e, err = newPageEntry(key, st.version, st.hiders, page); err != nil {
		return nil, err
	}
	s.pages.put(e)
	s.pages.filled.Add(1)
	return e, nil
}

// listJSON is List encoded, for the requests the cache does not serve.
func (s *Comments) listJSON(ctx context.Context, postID int64, q CommentQuery) ([]byte, error) {
	page, err := s.List(ctx, postID, q)
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(page)
	if err != nil {
		return nil, fmt.Errorf("service: encoding a thread page: %w", err)
	}
	return out, nil
}

// threadState is what a read of the page cache learns of a post in one
// statement.
type threadState struct {
	// live is set when the post exists, is not deleted and is not hidden.
	live    bool
	version threadVersion
	// hiders are the authors of the post's live hidden comments (when
	// asked for: no viewer).
	hiders []int64
	// liked are the viewer's likes among the comments asked about,
	// blocked the viewer's blocks among the authors asked about.
	liked, blocked map[int64]bool
}

// readThreadState reads, in one statement, the post's flags and versions
// and then either (viewer nil) the authors of its live hidden comments, or
// which of comments viewer likes and which of authors viewer blocks.
// A UNION ALL of small index lookups: the post's row, the likes' version
// row, and comment_likes and user_blocks by primary key, or
// comments_post_hidden.
func readThreadState(db *gorm.DB, postID int64, viewer *model.User, comments, authors []int64) (threadState, error) {
	const (
		kindPost = iota
		kindLikes
		kindHider
		kindLiked
		kindBlocked
	)
	q := "SELECT 0, thread_version FROM posts WHERE id = ? AND deleted_at IS NULL AND hidden = ?" +
		" UNION ALL SELECT 1, version FROM thread_like_versions WHERE post_id = ?"
	args := []any{postID, false, postID}
	if viewer == nil {
		q += " UNION ALL SELECT DISTINCT 2, author_id FROM comments WHERE post_id = ? AND hidden = ? AND deleted_at IS NULL"
		args = append(args, postID, true)
	} else {
		if len(comments) > 0 {
			q += " UNION ALL SELECT 3, comment_id FROM comment_likes WHERE user_id = ? AND comment_id IN ?"
			args = append(args, viewer.ID, comments)
		}
		if len(authors) > 0 {
			q += " UNION ALL SELECT 4, blocked_id FROM user_blocks WHERE user_id = ? AND blocked_id IN ?"
			args = append(args, viewer.ID, authors)
		}
	}
	rows, err := db.Raw(q, args...).Rows()
	if err != nil {
		return threadState{}, dbError(err)
	}
	defer func() { _ = rows.Close() }()
	var st threadState
	for rows.Next() {
		var kind, value int64
		if err := rows.Scan(&kind, &value); err != nil {
			return threadState{}, dbError(err)
		}
		switch kind {
		case kindPost:
			st.live, st.version.thread = true, value
		case kindLikes:
			st.version.likes = value
		case kindHider:
			st.hiders = append(st.hiders, value)
		case kindLiked:
			if st.liked == nil {
				st.liked = map[int64]bool{}
			}
			st.liked[value] = true
		case kindBlocked:
			if st.blocked == nil {
				st.blocked = map[int64]bool{}
			}
			st.blocked[value] = true
		}
	}
	if err := rows.Err(); err != nil {
		return threadState{}, dbError(err)
	}
	return st, nil
}
