package service_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

// Unread counts under concurrent writers and readers.

// TestUnreadCountsUnderConcurrency has 50 goroutines comment, reply,
// mention and mark read at once, then checks that every way of reading an
// unread count agrees with a recount, and that the last count published to
// each user is that recount.
func TestUnreadCountsUnderConcurrency(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const users, workers, rounds = 10, 50, 3
	ctxs := make([]context.Context, users)
	posts := make([]*model.Post, users)
	for i := range users {
		ctxs[i] = f.as(t, fmt.Sprintf("user%02d", i))
	}
	for i := range users {
		posts[i] = f.post(t, ctxs[i], fmt.Sprintf("post of user%02d", i))
	}
	tops := make([]*model.Comment, users)
	for i := range users {
		tops[i] = f.comment(t, ctxs[(i+1)%users], posts[i].ID, nil, "first")
	}

	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*2)
	for w := range workers {
		wg.Go(func() {
			me := w % users
			for r := range rounds {
				target := (w + r + 1) % users
				in := service.CommentInput{Body: fmt.Sprintf("w%d r%d @user%02d", w, r, (w+2*r)%users)}
				if r%2 == 1 {
					in.ParentID = &tops[target].ID
				}
				if _, err := f.comments.Create(ctxs[me], posts[target].ID, in); err != nil {
					errs <- fmt.Errorf("worker %d comment: %w", w, err)
				}
				uid := model.UserFrom(ctxs[me]).ID
				var err error
				switch r % 3 {
				case 0:
					_, err = f.store.MarkRead(context.Background(), uid, nil, 1<<40)
				case 1:
					var page *service.NotificationPage
					if page, err = f.notes.List(ctxs[me], service.ListNotifications{UnreadOnly: true, Limit: 3}); err == nil && len(page.Items) > 0 {
						_, err = f.notes.MarkOneRead(ctxs[me], page.Items[0].ID)
					}
				case 2:
					_, err = f.notes.UnreadCount(ctxs[me])
				}
				if err != nil {
					errs <- fmt.Errorf("worker %d read: %w", w, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

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
		if err != nil || got != want {
			t.Errorf("%s: UnreadCount = %d, %v; recount %d", u.Username, got, err, want)
		}
		page, err := f.notes.List(ctxs[i], service.ListNotifications{Limit: 1})
		if err != nil || page.UnreadCount != want {
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
