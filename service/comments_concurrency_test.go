package service_test

// Comments under concurrent writers: walks that stay exact while others
// insert, and counters that agree with a recount.

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

// checkCounters compares every stored counter with a recount.
func checkCounters(t *testing.T, f *fixture) {
	t.Helper()
	for _, q := range []struct{ name, sql string }{
		{"posts.comment_count", `SELECT COUNT(*) FROM posts p WHERE comment_count <>
			(SELECT COUNT(*) FROM comments c WHERE c.post_id = p.id AND c.deleted_at IS NULL)`},
		{"posts.like_count", `SELECT COUNT(*) FROM posts p WHERE like_count <>
			(SELECT COUNT(*) FROM post_likes l WHERE l.post_id = p.id)`},
		{"comments.like_count", `SELECT COUNT(*) FROM comments c WHERE like_count <>
			(SELECT COUNT(*) FROM comment_likes l WHERE l.comment_id = c.id)`},
		{"comments.reply_count", `SELECT COUNT(*) FROM comments c WHERE reply_count <>
			(SELECT COUNT(*) FROM comments r WHERE r.root_id = c.id AND r.deleted_at IS NULL)`},
		{"negative counters", `SELECT COUNT(*) FROM comments WHERE like_count < 0 OR reply_count < 0`},
	} {
		var wrong int64
		if err := f.db.Raw(q.sql).Scan(&wrong).Error; err != nil {
			t.Fatal(err)
		}
		if wrong != 0 {
			t.Errorf("%s: %d rows differ from a recount", q.name, wrong)
		}
	}
}

func reversed(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Reverse(out)
	return out
}

func ascending(ids []int64) bool {
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			return false
		}
	}
	return true
}

// TestCommentsWalkWhileInserting walks 1,000 top-level comments and 1,000
// replies page by page, in every exact order, while other goroutines add
// comments and replies: each walk must return every comment that existed
// before it began exactly once, in order.
func TestCommentsWalkWhileInserting(t *testing.T) {
	f := newFixture(t)
	alice := f.as(t, "alice")
	p := f.post(t, alice, "busy")
	const n = 1000
	tops := make([]*model.Comment, n)
	for i := range tops {
		tops[i] = &model.Comment{PostID: p.ID, AuthorID: model.UserFrom(alice).ID, Body: fmt.Sprint(i), CreatedAt: service.Now()}
	}
	if err := f.db.CreateInBatches(tops, 200).Error; err != nil {
		t.Fatal(err)
	}
	root := tops[0].ID
	replies := make([]*model.Comment, n)
	for i := range replies {
		replies[i] = &model.Comment{PostID: p.ID, ParentID: &root, RootID: &root, AuthorID: model.UserFrom(alice).ID, Body: fmt.Sprint(i), CreatedAt: service.Now()}
	}
	if err := f.db.CreateInBatches(replies, 200).Error; err != nil {
		t.Fatal(err)
	}
	if err := f.db.Exec("UPDATE comments SET reply_count = ? WHERE id = ?", n, root).Error; err != nil {
		t.Fatal(err)
	}
	wantOld, wantReplies := pluck(tops, commentID), pluck(replies, commentID)
	wantNew := reversed(wantOld)

	// Writers add a top-level comment and a reply for every page a walk
	// reads, concurrently with the walk's next page: inserts interleave with
	// the walk wherever the scheduler puts them, and their number stays
	// bounded however slow the database.
	tick := make(chan struct{}, 16)
	var writers sync.WaitGroup
	for w := range 4 {
		writers.Go(func() {
			i := 0
			for range tick {
				i++
				in := service.CommentInput{Body: fmt.Sprintf("new %d.%d", w, i)}
				if w%2 == 1 {
					in.ParentID = &root
				}
				if _, err := f.comments.Create(alice, p.ID, in); err != nil {
					t.Error(err)
				}
			}
		})
	}
	// busyWalk walks a list through next, setting the writers off
	// before every page after the first.
	busyWalk := func(next func(cursor string) (*service.Page[*model.Comment], error)) []int64 {
		return pluck(walk(t, func(cursor string) (*service.Page[*model.Comment], error) {
			if cursor != "" {
				tick <- struct{}{}
				tick <- struct{}{}
			}
			return next(cursor)
		}), commentID)
	}
	gotOld := busyWalk(func(c string) (*service.Page[*model.Comment], error) {
		return f.comments.List(alice, p.ID, service.CommentQuery{Sort: "old", Limit: 37, Cursor: c})
	})
	gotNew := busyWalk(func(c string) (*service.Page[*model.Comment], error) {
		return f.comments.List(alice, p.ID, service.CommentQuery{Sort: "new", Limit: 41, Cursor: c})
	})
	gotReplies := busyWalk(func(c string) (*service.Page[*model.Comment], error) {
		return f.comments.Replies(alice, root, 43, c)
	})
	close(tick)
	writers.Wait()

	// Oldest-first walks see the originals first, then some of the new
	// comments; newest-first walks may start with comments added before
	// they began, then see the originals. No walk repeats or reorders.
	if len(gotOld) < n || !slices.Equal(gotOld[:n], wantOld) || !ascending(gotOld) {
		t.Errorf("old walk: %d ids, originals in order: %v", len(gotOld), len(gotOld) >= n && slices.Equal(gotOld[:n], wantOld))
	}
	if len(gotNew) < n || !slices.Equal(gotNew[len(gotNew)-n:], wantNew) || !ascending(reversed(gotNew)) {
		t.Errorf("new walk: %d ids, originals in order: %v", len(gotNew), len(gotNew) >= n && slices.Equal(gotNew[len(gotNew)-n:], wantNew))
	}
	if len(gotReplies) < n || !slices.Equal(gotReplies[:n], wantReplies) || !ascending(gotReplies) {
		t.Errorf("replies walk: %d ids, originals in order: %v", len(gotReplies), len(gotReplies) >= n && slices.Equal(gotReplies[:n], wantReplies))
	}
}

// TestCountersUnderConcurrency runs 200 likes, unlikes, comments, replies
// and deletes at once on one post, then checks every counter against a
// recount of the rows.
func TestCountersUnderConcurrency(t *testing.T) {
	f := newFixture(t)
	users := f.crowd(t, "user%d", 8)
	mod := f.asRole(t, "mod", model.RoleModerator)
	p := f.post(t, users[0], "hot")
	var seed []*model.Comment
	for i := range 10 {
		seed = append(seed, f.comment(t, users[i%len(users)], p.ID, nil, "seed"))
	}
	for i := range 10 {
		seed = append(seed, f.comment(t, users[i%len(users)], p.ID, seed[i], "seed reply"))
	}

	const ops = 200
	together(ops, func(i int) {
		rnd := rand.New(rand.NewPCG(uint64(i), 1))
		u := users[rnd.IntN(len(users))]
		c := seed[rnd.IntN(len(seed))]
		var err error
		switch i % 8 {
		case 0:
			_, err = f.posts.Like(u, p.ID)
		case 1:
			_, err = f.posts.Unlike(u, p.ID)
		case 2:
			_, err = f.comments.Like(u, c.ID)
		case 3:
			_, err = f.comments.Unlike(u, c.ID)
		case 4:
			_, err = f.comments.Create(u, p.ID, service.CommentInput{Body: "new"})
		case 5:
			_, err = f.comments.Create(u, p.ID, service.CommentInput{Body: "reply", ParentID: &c.ID})
		case 6:
			err = f.comments.Delete(mod, c.ID)
		case 7:
			_, err = f.posts.Like(u, p.ID)
			if err == nil {
				_, err = f.comments.Like(u, c.ID)
			}
		}
		// Racing a delete, a comment may be gone: that is the one
		// acceptable failure.
		if err != nil && model.ErrorCode(err) != model.ENOTFOUND {
			t.Error(err)
		}
	})
	checkCounters(t, f)
}
