package service_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

// Unread counts and sequences under concurrent writers and readers.

// checkSequence checks that the user's notifications, in id order, are
// numbered 1, 2, 3... with none skipped (nothing was deleted), and that the
// user's head agrees with the rows.
func checkSequence(t *testing.T, f *fixture, userID int64) {
	t.Helper()
	var rows []struct{ ID, Seq int64 }
	if err := f.db.Raw("SELECT id, seq FROM notifications WHERE user_id = ? ORDER BY id", userID).Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		if r.Seq != int64(i+1) {
			t.Fatalf("user %d: notification %d has seq %d, want %d", userID, r.ID, r.Seq, i+1)
		}
	}
	head, err := f.store.NotificationHead(t.Context(), userID)
	if err != nil {
		t.Fatal(err)
	}
	// The seen mark is 0 unless a test moved it.
	var seenMark int64
	if err := f.db.Raw("SELECT notification_seen_id FROM users WHERE id = ?", userID).Scan(&seenMark).Error; err != nil {
		t.Fatal(err)
	}
	want := model.NotificationHead{Seq: int64(len(rows)), Unread: recountOf(f.db.DB, userID)}
	for _, r := range rows {
		if r.ID > seenMark {
			want.Unseen++
		}
	}
	if len(rows) > 0 {
		want.LastID = rows[len(rows)-1].ID
	}
	if head != want {
		t.Fatalf("user %d: head %+v, want %+v", userID, head, want)
	}
	seqs, err := f.store.NotificationSeqs(t.Context(), []int64{userID, 1 << 40})
	if err != nil || len(seqs) != 1 || seqs[userID] != want.Seq {
		t.Fatalf("user %d: NotificationSeqs = %v, %v; want {%d: %d}", userID, seqs, err, userID, want.Seq)
	}
}

// TestUnreadCountsUnderConcurrency has 50 goroutines comment, reply,
// mention and mark read at once, then checks that every way of reading an
// unread count agrees with a recount, and that the last count published to
// each user is that recount.
func TestUnreadCountsUnderConcurrency(t *testing.T) {
	f := newFixture(t)
	const users, workers, rounds = 10, 50, 3
	ctxs := f.crowd(t, "user%02d", users)
	posts := make([]*model.Post, users)
	for i := range users {
		posts[i] = f.post(t, ctxs[i], fmt.Sprintf("post of user%02d", i))
	}
	tops := make([]*model.Comment, users)
	for i := range users {
		tops[i] = f.comment(t, ctxs[(i+1)%users], posts[i].ID, nil, "first")
	}

	together(workers, func(w int) {
		me := w % users
		for r := range rounds {
			target := (w + r + 1) % users
			in := service.CommentInput{Body: fmt.Sprintf("w%d r%d @user%02d", w, r, (w+2*r)%users)}
			if r%2 == 1 {
				in.ParentID = &tops[target].ID
			}
			if _, err := f.comments.Create(ctxs[me], posts[target].ID, in); err != nil {
				t.Errorf("worker %d comment: %v", w, err)
			}
			uid := model.UserFrom(ctxs[me]).ID
			var err error
			switch r % 3 {
			case 0:
				_, err = f.store.MarkRead(t.Context(), uid, nil, 1<<40)
			case 1:
				var page *service.NotificationPage
				if page, err = f.notes.List(ctxs[me], service.ListNotifications{UnreadOnly: true, Limit: 3}); err == nil && len(page.Items) > 0 {
					_, err = f.notes.MarkOneRead(ctxs[me], page.Items[0].ID)
				}
			case 2:
				_, err = f.notes.UnreadCount(ctxs[me])
			}
			if err != nil {
				t.Errorf("worker %d read: %v", w, err)
			}
		}
	})

	last := map[int64]int64{}
	for _, e := range f.pub.take() {
		last[e.userID] = e.unread
	}
	var total int64
	for i := range users {
		u := model.UserFrom(ctxs[i])
		want := recountOf(f.db.DB, u.ID)
		total += int64(len(f.rowsOf(t, u.ID)))
		got, err := f.notes.UnreadCount(ctxs[i])
		if err != nil || got.Unread != want {
			t.Errorf("%s: UnreadCount = %d, %v; recount %d", u.Username, got, err, want)
		}
		page, err := f.notes.List(ctxs[i], service.ListNotifications{Limit: 1})
		if err != nil || page.Unread != want {
			t.Errorf("%s: list unread_count = %+v, %v; recount %d", u.Username, page, err, want)
		}
		if pub, ok := last[u.ID]; ok && pub != want {
			t.Errorf("%s: last published count %d, recount %d", u.Username, pub, want)
		}
		checkSequence(t, f, u.ID)
	}
	if total < workers*rounds {
		t.Errorf("only %d notifications for %d comments", total, workers*rounds)
	}
}

// TestStoredCountsUnderConcurrency has every change that moves a user's
// stored unread and unseen counts run at once: comments with mentions and
// their watchers' fan-out, marks read by id, up to an id and one at a
// time, seen marks, deleted comments, blocks and retention. Afterwards
// every user's stored counts must be those of their rows, and what each
// way of reading them says must agree.
func TestStoredCountsUnderConcurrency(t *testing.T) {
	f := newFixture(t)
	const users, workers, rounds = 8, 24, 6
	ctxs := f.crowd(t, "user%02d", users)
	_, blocks := f.moderation(3, 20)
	posts := make([]*model.Post, users)
	for i := range users {
		posts[i] = f.post(t, ctxs[i], fmt.Sprintf("post of user%02d", i))
	}
	// Everyone comments on every post first, and so watches it.
	for i := range users {
		for j := range users {
			f.comment(t, ctxs[j], posts[i].ID, nil, "watching")
		}
	}

	var mu sync.Mutex
	mine := make([][]int64, workers) // each worker's comments, to delete
	together(workers, func(w int) {
		ctx, uid := ctxs[w%users], model.UserFrom(ctxs[w%users]).ID
		other := model.UserFrom(ctxs[(w+1)%users]).ID
		for r := range rounds {
			var err error
			switch (w + r) % 8 {
			case 0, 1:
				var c *model.Comment
				c, err = f.comments.Create(ctx, posts[(w+r)%users].ID, service.CommentInput{
					Body: fmt.Sprintf("w%d r%d @user%02d", w, r, (w+3)%users)})
				if err == nil {
					mu.Lock()
					mine[w] = append(mine[w], c.ID)
					mu.Unlock()
				}
			case 2:
				_, err = f.notes.FanoutBatch(t.Context(), 5)
			case 3:
				if r%2 == 0 {
					_, err = f.store.MarkRead(t.Context(), uid, nil, 1<<40)
				} else {
					var page *service.NotificationPage
					if page, err = f.notes.List(ctx, service.ListNotifications{UnreadOnly: true, Limit: 4}); err == nil && len(page.Items) > 1 {
						_, err = f.notes.MarkRead(ctx, model.ReadSelection{IDs: []int64{page.Items[0].ID, page.Items[1].ID}})
					}
				}
			case 4:
				var page *service.NotificationPage
				if page, err = f.notes.List(ctx, service.ListNotifications{Limit: 3}); err == nil && len(page.Items) > 0 {
					_, err = f.notes.MarkSeen(ctx, page.Items[len(page.Items)-1].ID)
				}
			case 5:
				mu.Lock()
				ids := mine[w]
				mine[w] = nil
				mu.Unlock()
				for _, id := range ids {
					if err = f.comments.Delete(ctx, id); err != nil {
						break
					}
				}
			case 6:
				if err = blocks.Block(ctx, other); err == nil {
					err = blocks.Unblock(ctx, other)
				}
			case 7:
				_, err = f.notes.Prune(t.Context(), service.Retention{KeepPerUser: 6})
			}
			// A comment on the post of a user who blocks its author is
			// refused; nothing else may fail.
			if err != nil && model.ErrorCode(err) != model.EPERMISSION {
				t.Errorf("worker %d round %d: %v", w, r, err)
			}
		}
	})
	for {
		more, err := f.notes.FanoutBatch(t.Context(), 100)
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			break
		}
	}

	f.countsAgree(t)
	for i := range users {
		u := model.UserFrom(ctxs[i])
		got, err := f.notes.UnreadCount(ctxs[i])
		if err != nil || got.Unread != recountOf(f.db.DB, u.ID) {
			t.Errorf("%s: UnreadCount = %+v, %v; recount %d", u.Username, got, err, recountOf(f.db.DB, u.ID))
		}
		head, err := f.store.NotificationHead(t.Context(), u.ID)
		if err != nil || head.Unread != got.Unread || head.Unseen != got.Unseen {
			t.Errorf("%s: head %+v, %v; UnreadCount %+v", u.Username, head, err, got)
		}
	}
}
