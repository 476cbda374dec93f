package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

// The thread page cache (service/comments_cache.go): ListJSON must answer
// every reader, at every moment, byte for byte what List's page encodes
// to for that reader, whether it serves an entry or not.

// pageOf returns what ListJSON answers ctx's user for post postID's first
// page in sort, after checking it against List's page for the same user,
// encoded.
func (f *fixture) pageOf(t testing.TB, comments *service.Comments, ctx context.Context, postID int64, sort string) []byte {
	t.Helper()
	got, err := comments.ListJSON(ctx, postID, service.CommentQuery{Sort: sort})
	if err != nil {
		t.Fatalf("ListJSON: %v", err)
	}
	page, err := comments.List(ctx, postID, service.CommentQuery{Sort: sort})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	want, err := json.Marshal(page)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s's page (sort %q) from ListJSON:\n%s\nwant List's:\n%s", model.UserFrom(ctx).Username, sort, got, want)
	}
	return got
}

// statsDelta runs fn and returns how the cache's counters moved.
func statsDelta(comments *service.Comments, fn func()) (hits, misses, bypassed uint64) {
	before := comments.PageCacheStats()
	fn()
	after := comments.PageCacheStats()
	return after.Hits - before.Hits, after.Misses - before.Misses, after.Bypassed - before.Bypassed
}

// smallThread is alice's post with two top-level comments, by bob and carol,
// and bob's reply to carol's.
func (f *fixture) smallThread(t testing.TB) (p *model.Post, bobs, carols, reply *model.Comment) {
	t.Helper()
	alice, bob, carol := f.as(t, "alice"), f.as(t, "bob"), f.as(t, "carol")
	p = f.post(t, alice, "a question")
	bobs = f.comment(t, bob, p.ID, nil, "first <b>bold</b> & \"quoted\"")
	carols = f.comment(t, carol, p.ID, nil, "second")
	reply = f.comment(t, bob, p.ID, carols, "a reply to @carol")
	return p, bobs, carols, reply
}

func TestPageCacheHitsAndMisses(t *testing.T) {
	f := newFixture(t)
	p, _, _, _ := f.smallThread(t)
	dave := f.as(t, "dave")

	t.Run("OK", func(t *testing.T) {
		hits, misses, _ := statsDelta(f.comments, func() { f.pageOf(t, f.comments, dave, p.ID, "") })
		if hits != 0 || misses != 1 {
			t.Errorf("first read: %d hits, %d misses; want a miss", hits, misses)
		}
		for _, who := range []string{"dave", "alice", "bob"} {
			hits, misses, _ = statsDelta(f.comments, func() { f.pageOf(t, f.comments, f.as(t, who), p.ID, "") })
			if hits != 1 || misses != 0 {
				t.Errorf("%s's read: %d hits, %d misses; want a hit", who, hits, misses)
			}
		}
		// "old" is the default sort: the same entry.
		if hits, _, _ = statsDelta(f.comments, func() { f.pageOf(t, f.comments, dave, p.ID, service.CommentsOld) }); hits != 1 {
			t.Errorf("sort=old after the default: %d hits, want 1", hits)
		}
		for _, sort := range []string{service.CommentsNew, service.CommentsTop} {
			if _, misses, _ = statsDelta(f.comments, func() { f.pageOf(t, f.comments, dave, p.ID, sort) }); misses != 1 {
				t.Errorf("first read of sort %s: %d misses, want 1 (an entry of its own)", sort, misses)
			}
		}
		if st := f.comments.PageCacheStats(); st.Entries != 3 || st.Bytes <= 0 {
			t.Errorf("stats %+v, want 3 entries", st)
		}
	})

	t.Run("Bypassed", func(t *testing.T) {
		mod := f.asRole(t, "mod", model.RoleModerator)
		_, _, bypassed := statsDelta(f.comments, func() { f.pageOf(t, f.comments, mod, p.ID, "") })
		if bypassed != 1 {
			t.Errorf("a moderator's read: %d bypassed, want 1", bypassed)
		}
		for _, q := range []service.CommentQuery{{Limit: 1}, {Limit: 100}} {
			_, _, bypassed = statsDelta(f.comments, func() {
				if _, err := f.comments.ListJSON(dave, p.ID, q); err != nil {
					t.Fatal(err)
				}
			})
			if bypassed != 1 {
				t.Errorf("%+v: %d bypassed, want 1", q, bypassed)
			}
		}
		first, err := f.comments.List(dave, p.ID, service.CommentQuery{Limit: 1})
		if err != nil || first.NextCursor == nil {
			t.Fatalf("first page of 1: %+v, %v", first, err)
		}
		got, err := f.comments.ListJSON(dave, p.ID, service.CommentQuery{Limit: 1, Cursor: *first.NextCursor})
		second, _ := f.comments.List(dave, p.ID, service.CommentQuery{Limit: 1, Cursor: *first.NextCursor})
		want, _ := json.Marshal(second)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("second page: %s, %v; want %s", got, err, want)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := f.comments.ListJSON(dave, 999999, service.CommentQuery{})
		wantCode(t, err, model.ENOTFOUND, "post 999999")
		_, err = f.comments.ListJSON(dave, p.ID, service.CommentQuery{Sort: "hot"})
		wantCode(t, err, model.EINVALID, "sort")
	})

	t.Run("Off", func(t *testing.T) {
		off := service.NewComments(f.db.DB, f.notes, nil)
		off.SetPageCache(0, 0)
		f.pageOf(t, off, dave, p.ID, "")
		if st := off.PageCacheStats(); st.Enabled || st.Hits+st.Misses != 0 {
			t.Errorf("a cache turned off: %+v", st)
		}
	})
}

// TestPageCachePerViewer: one entry serves readers with different likes
// and blocks, each with their own flags.
func TestPageCachePerViewer(t *testing.T) {
	f := newFixture(t)
	p, bobs, carols, reply := f.smallThread(t)
	_, blocks := f.moderation(3, 20)
	erin, frank := f.as(t, "erin"), f.as(t, "frank")
	for _, id := range []int64{bobs.ID, reply.ID} {
		if _, err := f.comments.Like(erin, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := blocks.Block(erin, f.users["carol"].ID); err != nil {
		t.Fatal(err)
	}
	plain := f.pageOf(t, f.comments, frank, p.ID, "")
	hits, _, _ := statsDelta(f.comments, func() {
		marked := f.pageOf(t, f.comments, erin, p.ID, "")
		if bytes.Equal(marked, plain) {
			t.Fatalf("erin, who likes two comments and blocks carol, got frank's page:\n%s", marked)
		}
		var page struct{ Items []*model.Comment }
		if err := json.Unmarshal(marked, &page); err != nil {
			t.Fatal(err)
		}
		byID := map[int64]*model.Comment{}
		for _, c := range page.Items {
			byID[c.ID] = c
			for _, r := range c.Replies {
				byID[r.ID] = r
			}
		}
		if !byID[bobs.ID].Liked || !byID[reply.ID].Liked || byID[carols.ID].Liked {
			t.Errorf("erin's likes: %v %v %v, want true true false", byID[bobs.ID].Liked, byID[reply.ID].Liked, byID[carols.ID].Liked)
		}
		if !byID[carols.ID].AuthorBlocked || byID[bobs.ID].AuthorBlocked {
			t.Errorf("erin's blocks: carol %v, bob %v", byID[carols.ID].AuthorBlocked, byID[bobs.ID].AuthorBlocked)
		}
		f.pageOf(t, f.comments, frank, p.ID, "")
	})
	if hits != 2 {
		t.Errorf("%d hits, want both readers served from the entry", hits)
	}
	// Blocks are the reader's own: unblocking shows at once, and moves
	// no version (the entry still serves).
	if err := blocks.Unblock(erin, f.users["carol"].ID); err != nil {
		t.Fatal(err)
	}
	hits, _, _ = statsDelta(f.comments, func() {
		if got := f.pageOf(t, f.comments, erin, p.ID, ""); bytes.Contains(got, []byte(`"author_blocked":true`)) {
			t.Errorf("erin still blocks someone:\n%s", got)
		}
	})
	if hits != 1 {
		t.Errorf("%d hits after an unblock, want 1", hits)
	}
}

// TestPageCacheInvalidation: after every kind of change to a thread, the
// next read of a page that was served from the cache shows it, to every
// kind of reader.
func TestPageCacheInvalidation(t *testing.T) {
	f := newFixture(t)
	p, bobs, carols, reply := f.smallThread(t)
	m, _ := f.moderation(1, 20)
	alice, bob, carol, dave := f.as(t, "alice"), f.as(t, "bob"), f.as(t, "carol"), f.as(t, "dave")
	mod := f.asRole(t, "mod", model.RoleModerator)
	readers := []context.Context{alice, bob, carol, dave, mod}
	sorts := []string{service.CommentsOld, service.CommentsNew, service.CommentsTop}

	// prime reads every sort twice as dave, so that each is served from
	// an entry, and returns dave's pages.
	prime := func(t *testing.T) map[string][]byte {
		t.Helper()
		pages := map[string][]byte{}
		for _, sort := range sorts {
			pages[sort] = f.pageOf(t, f.comments, dave, p.ID, sort)
			if hits, _, _ := statsDelta(f.comments, func() { f.pageOf(t, f.comments, dave, p.ID, sort) }); hits != 1 {
				t.Fatalf("sort %s not served from the cache", sort)
			}
		}
		return pages
	}
	// check reads every sort as every reader (pageOf compares each with
	// List) and fails unless dave's page of sort changed (for the write
	// kinds that change it for dave).
	check := func(t *testing.T, before map[string][]byte, changed ...string) {
		t.Helper()
		for _, sort := range sorts {
			for _, r := range readers {
				f.pageOf(t, f.comments, r, p.ID, sort)
			}
		}
		for _, sort := range changed {
			if bytes.Equal(f.pageOf(t, f.comments, dave, p.ID, sort), before[sort]) {
				t.Errorf("dave's page of sort %s did not change", sort)
			}
		}
	}
	var hidden *model.Comment
	// like is a step that likes or unlikes (set) comment id as ctx's user.
	like := func(set func(context.Context, int64) (*model.LikeState, error), ctx context.Context, id int64) func(t *testing.T) {
		return func(t *testing.T) {
			if _, err := set(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	steps := []struct {
		name    string
		write   func(t *testing.T)
		changed []string
	}{
		{"Comment", func(t *testing.T) { f.comment(t, carol, p.ID, nil, "third") }, sorts},
		{"Reply", func(t *testing.T) { f.comment(t, alice, p.ID, bobs, "a reply to bob") }, sorts},
		{"Edit", func(t *testing.T) {
			body := "second, edited"
			if _, err := f.comments.Update(carol, carols.ID, service.CommentPatch{Body: &body}); err != nil {
				t.Fatal(err)
			}
		}, sorts},
		{"Spoiler", func(t *testing.T) {
			if _, err := f.comments.Update(bob, reply.ID, service.CommentPatch{Spoiler: ptr(true)}); err != nil {
				t.Fatal(err)
			}
		}, sorts},
		{"Like", like(f.comments.Like, dave, reply.ID), sorts},
		{"LikeTop", like(f.comments.Like, alice, carols.ID), sorts},
		{"Unlike", like(f.comments.Unlike, dave, reply.ID), sorts},
		{"CommentToHide", func(t *testing.T) { hidden = f.comment(t, bob, p.ID, nil, "to be hidden") }, sorts},
		{"Hide", func(t *testing.T) { f.report(t, m, carol, model.TargetComment, hidden.ID) }, sorts},
		{"ShowAgain", func(t *testing.T) {
			queue, err := m.Queue(mod, service.ReportQuery{})
			if err != nil || len(queue.Items) != 1 {
				t.Fatalf("queue %+v, %v", queue, err)
			}
			if _, err := m.Resolve(mod, queue.Items[0].ID, model.ActionDismiss); err != nil {
				t.Fatal(err)
			}
		}, sorts},
		{"DeleteReply", func(t *testing.T) {
			if err := f.comments.Delete(bob, reply.ID); err != nil {
				t.Fatal(err)
			}
		}, sorts},
		{"DeleteTopLevelWithReplies", func(t *testing.T) {
			if err := f.comments.Delete(mod, bobs.ID); err != nil {
				t.Fatal(err)
			}
		}, sorts},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			before := prime(t)
			s.write(t)
			check(t, before, s.changed...)
		})
	}

	t.Run("PostHidden", func(t *testing.T) {
		prime(t)
		f.report(t, m, dave, model.TargetPost, p.ID)
		_, err := f.comments.ListJSON(dave, p.ID, service.CommentQuery{})
		wantCode(t, err, model.ENOTFOUND, "post")
		for _, r := range []context.Context{alice, mod} {
			f.pageOf(t, f.comments, r, p.ID, "")
		}
	})
	t.Run("PostDeleted", func(t *testing.T) {
		other := f.post(t, alice, "another")
		f.comment(t, bob, other.ID, nil, "hi")
		f.pageOf(t, f.comments, dave, other.ID, "")
		f.pageOf(t, f.comments, dave, other.ID, "")
		if err := f.posts.Delete(alice, other.ID); err != nil {
			t.Fatal(err)
		}
		for _, r := range []context.Context{alice, dave, mod} {
			_, err := f.comments.ListJSON(r, other.ID, service.CommentQuery{})
			wantCode(t, err, model.ENOTFOUND, "post")
		}
	})
}

// TestPageCacheHiddenAuthor: the author of a hidden comment sees it on the
// page (hidden: true) and everyone else does not, while the others are
// still served from the cache.
func TestPageCacheHiddenAuthor(t *testing.T) {
	f := newFixture(t)
	p, _, carols, _ := f.smallThread(t)
	m, _ := f.moderation(1, 20)
	bob, dave := f.as(t, "bob"), f.as(t, "dave")
	hiddenTop := f.comment(t, bob, p.ID, nil, "hidden top-level")
	hiddenReply := f.comment(t, bob, p.ID, carols, "hidden reply")
	f.report(t, m, dave, model.TargetComment, hiddenTop.ID)
	f.report(t, m, dave, model.TargetComment, hiddenReply.ID)

	for _, sort := range []string{service.CommentsOld, service.CommentsNew} {
		others := f.pageOf(t, f.comments, dave, p.ID, sort)
		if hits, _, _ := statsDelta(f.comments, func() { f.pageOf(t, f.comments, dave, p.ID, sort) }); hits != 1 {
			t.Errorf("sort %s: dave not served from the cache", sort)
		}
		own := f.pageOf(t, f.comments, bob, p.ID, sort)
		for _, body := range []string{"hidden top-level", "hidden reply"} {
			if bytes.Contains(others, []byte(body)) || !bytes.Contains(own, []byte(body)) {
				t.Errorf("sort %s: %q in dave's page %v, in bob's %v; want only in bob's", sort, body,
					bytes.Contains(others, []byte(body)), bytes.Contains(own, []byte(body)))
			}
		}
		// And bob's page did not replace the entry the others read.
		if hits, _, _ := statsDelta(f.comments, func() { f.pageOf(t, f.comments, dave, p.ID, sort) }); hits != 1 {
			t.Errorf("sort %s: dave not served from the cache after bob's read", sort)
		}
	}
}

// TestPageCacheInstances: two services over one database, as two
// instances: a change made through one shows at once on the other's
// cached page, with no message between them.
func TestPageCacheInstances(t *testing.T) {
	f := newFixture(t)
	p, bobs, _, _ := f.smallThread(t)
	other := service.NewComments(f.db.DB, f.notes, nil)
	dave, erin := f.as(t, "dave"), f.as(t, "erin")
	for range 2 {
		f.pageOf(t, other, dave, p.ID, "")
	}
	for i, write := range []func(){
		func() { f.comment(t, erin, p.ID, nil, "from the first instance") },
		func() {
			if _, err := f.comments.Like(erin, bobs.ID); err != nil {
				t.Fatal(err)
			}
		},
		func() {
			if err := f.comments.Delete(f.as(t, "bob"), bobs.ID); err != nil {
				t.Fatal(err)
			}
		},
	} {
		before := f.pageOf(t, other, erin, p.ID, "")
		write()
		_, misses, _ := statsDelta(other, func() {
			if after := f.pageOf(t, other, erin, p.ID, ""); bytes.Equal(after, before) {
				t.Errorf("write %d: the other instance's page did not change", i)
			}
		})
		if misses != 1 {
			t.Errorf("write %d: %d misses on the other instance, want 1", i, misses)
		}
	}
}

// TestPageCacheManyComments: a full page of comments with full previews,
// spoilers and placeholders, every reader's flags set, encodes as List's.
func TestPageCacheManyComments(t *testing.T) {
	f := newFixture(t)
	alice := f.as(t, "alice")
	p := f.post(t, alice, "busy")
	readers := f.crowd(t, "reader%d", 5)
	_, blocks := f.moderation(3, 20)
	var all []*model.Comment
	for i := range 25 {
		in := service.CommentInput{Body: fmt.Sprintf("comment %d with `code` and <script>x</script>", i), Spoiler: i%7 == 0}
		c, err := f.comments.Create(readers[i%5], p.ID, in)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, c)
		for j := range i % 5 {
			all = append(all, f.comment(t, readers[(i+j+1)%5], p.ID, c, fmt.Sprintf("reply %d.%d", i, j)))
		}
	}
	for i, c := range all {
		if _, err := f.comments.Like(readers[i%5], c.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.comments.Delete(readers[2], all[2].ID); err != nil { // top-level, with replies: a placeholder
		t.Fatal(err)
	}
	if err := blocks.Block(readers[0], f.users["reader3"].ID); err != nil {
		t.Fatal(err)
	}
	for _, sort := range []string{service.CommentsOld, service.CommentsNew, service.CommentsTop} {
		for _, r := range append(readers, alice) {
			f.pageOf(t, f.comments, r, p.ID, sort)
		}
	}
	if st := f.comments.PageCacheStats(); st.Hits < 15 {
		t.Errorf("stats %+v, want most reads served from the cache", st)
	}
}
