package service_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

// The signed-in user's reads and marks: list, mark read, mark one read.

// threeFor gives user three notifications from bob, oldest first, and
// returns them with the user's context and id.
func (f *fixture) threeFor(t testing.TB, user string) (ctx context.Context, id int64, n []*model.Notification) {
	t.Helper()
	ctx, bob := f.as(t, user), f.as(t, "bob")
	p := f.post(t, ctx, "post")
	for i := range 3 {
		f.comment(t, bob, p.ID, nil, fmt.Sprintf("comment %d", i))
	}
	id = f.users[user].ID
	if n = f.rowsOf(t, id); len(n) != 3 {
		t.Fatalf("%d notifications, want 3", len(n))
	}
	f.pub.take()
	return ctx, id, n
}

func TestMarkRead(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t)

	t.Run("OK/UpToID", func(t *testing.T) {
		_, alice, n := f.threeFor(t, "alice")
		unread, err := f.store.MarkRead(ctx, alice, nil, n[1].ID)
		if err != nil || unread != 1 {
			t.Fatalf("MarkRead = %d, %v; want 1", unread, err)
		}
		rows := f.rowsOf(t, alice)
		if !rows[0].Read || !rows[1].Read || rows[2].Read {
			t.Errorf("read states %v %v %v, want the newest still unread", rows[0].Read, rows[1].Read, rows[2].Read)
		}
		if got := f.pub.take(); len(got) != 1 || got[0].kind != "unread_count" || got[0].unread != 1 || got[0].userID != alice {
			t.Errorf("published %+v", got)
		}
	})

	t.Run("OK/IDs", func(t *testing.T) {
		_, carol, n := f.threeFor(t, "carol")
		unread, err := f.store.MarkRead(ctx, carol, []int64{n[0].ID, n[2].ID, n[2].ID}, 0)
		if err != nil || unread != 1 {
			t.Fatalf("MarkRead = %d, %v; want 1", unread, err)
		}
		if rows := f.rowsOf(t, carol); !rows[0].Read || rows[1].Read || !rows[2].Read {
			t.Error("wrong notifications marked")
		}
		// Again: nothing changes, the count is the same, and no device
		// is told of a change.
		f.pub.take()
		if unread, err := f.store.MarkRead(ctx, carol, []int64{n[0].ID}, 0); err != nil || unread != 1 {
			t.Errorf("MarkRead again = %d, %v", unread, err)
		}
		if got := f.pub.take(); len(got) != 0 {
			t.Errorf("published %+v for no change", got)
		}
	})

	t.Run("OK/ForeignIDsIgnored", func(t *testing.T) {
		_, dave, n := f.threeFor(t, "dave")
		erin := f.as(t, "erin")
		// erin marks dave's ids, and one that does not exist: nothing of
		// dave's changes, and erin's answer tells her nothing of them.
		counts, err := f.notes.MarkRead(erin, model.ReadSelection{IDs: []int64{n[0].ID, n[1].ID, 1 << 40}})
		if err != nil || counts != (model.NotificationCounts{}) {
			t.Fatalf("MarkRead = %+v, %v", counts, err)
		}
		counts, err = f.notes.MarkRead(erin, model.ReadSelection{UpToID: n[2].ID})
		if err != nil || counts != (model.NotificationCounts{}) {
			t.Fatalf("MarkRead up_to_id = %+v, %v", counts, err)
		}
		if got := recountOf(f.db.DB, dave); got != 3 {
			t.Errorf("dave has %d unread, want 3", got)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		alice := f.as(t, "alice")
		tooMany := make([]int64, model.MaxReadIDs+1)
		for i := range tooMany {
			tooMany[i] = int64(i + 1)
		}
		for _, tt := range []struct {
			name   string
			sel    model.ReadSelection
			naming string
		}{
			{"Both", model.ReadSelection{IDs: []int64{1}, UpToID: 1}, "up_to_id"},
			{"Neither", model.ReadSelection{}, "ids"},
			{"TooMany", model.ReadSelection{IDs: tooMany}, "ids"},
			{"ZeroID", model.ReadSelection{IDs: []int64{1, 0}}, "ids"},
			{"NegativeID", model.ReadSelection{IDs: []int64{-3}}, "ids"},
			{"NegativeUpTo", model.ReadSelection{UpToID: -1}, "up_to_id"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				_, err := f.notes.MarkRead(alice, tt.sel)
				wantCode(t, err, model.EINVALID, tt.naming)
				// The hub's mark, for any user, keeps the same rule.
				_, err = f.store.MarkRead(ctx, f.users["alice"].ID, tt.sel.IDs, tt.sel.UpToID)
				wantCode(t, err, model.EINVALID, tt.naming)
			})
		}
	})
}

func TestMarkOneRead(t *testing.T) {
	f := newFixture(t)
	alice, _, n := f.threeFor(t, "alice")
	carol := f.as(t, "carol")

	// Reading leaves the seen mark, and so the unseen count, alone.
	want := model.NotificationCounts{Unread: 2, Unseen: 3}
	t.Run("OK", func(t *testing.T) {
		counts, err := f.notes.MarkOneRead(alice, n[1].ID)
		if err != nil || counts != want {
			t.Fatalf("MarkOneRead = %+v, %v; want %+v", counts, err, want)
		}
		if got := f.pub.take(); len(got) != 1 || got[0].unread != 2 || got[0].unseen != 3 {
			t.Errorf("published %+v", got)
		}
	})
	t.Run("OK/AlreadyRead", func(t *testing.T) {
		counts, err := f.notes.MarkOneRead(alice, n[1].ID)
		if err != nil || counts != want {
			t.Fatalf("MarkOneRead = %+v, %v; want %+v", counts, err, want)
		}
	})
	t.Run("ErrNotFound/Foreign", func(t *testing.T) {
		_, err := f.notes.MarkOneRead(carol, n[0].ID)
		wantCode(t, err, model.ENOTFOUND, "notification")
		if f.rowsOf(t, f.users["alice"].ID)[0].Read {
			t.Error("carol marked alice's notification")
		}
	})
	t.Run("ErrNotFound/Missing", func(t *testing.T) {
		_, err := f.notes.MarkOneRead(alice, 1<<40)
		wantCode(t, err, model.ENOTFOUND, "notification")
	})
}

func TestListNotifications(t *testing.T) {
	f := newFixture(t)
	alice, bob, p := f.alicePost(t, "post")
	for i := range 5 {
		f.comment(t, bob, p.ID, nil, fmt.Sprintf("comment %d", i))
	}
	rows := f.rowsOf(t, f.users["alice"].ID)
	if _, err := f.store.MarkRead(t.Context(), f.users["alice"].ID, []int64{rows[1].ID, rows[3].ID}, 0); err != nil {
		t.Fatal(err)
	}
	// walkList walks alice's list with q, checking the count on every
	// page and the actor of every notification.
	walkList := func(t *testing.T, q service.ListNotifications) []int64 {
		t.Helper()
		listed := walk(t, func(cursor string) (*service.Page[*model.Notification], error) {
			q.Cursor = cursor
			page, err := f.notes.List(alice, q)
			if err != nil {
				return nil, err
			}
			if page.Unread != 3 {
				t.Errorf("unread_count %d, want 3", page.Unread)
			}
			return &page.Page, nil
		})
		for _, n := range listed {
			if n.Actor == nil || n.Actor.Username != "bob" {
				t.Errorf("notification %d actor %+v", n.ID, n.Actor)
			}
		}
		return pluck(listed, notificationID)
	}

	t.Run("OK", func(t *testing.T) {
		got := walkList(t, service.ListNotifications{Limit: 2})
		want := []int64{rows[4].ID, rows[3].ID, rows[2].ID, rows[1].ID, rows[0].ID}
		if !slices.Equal(got, want) {
			t.Errorf("walked %v, want %v", got, want)
		}
	})
	t.Run("OK/UnreadOnly", func(t *testing.T) {
		got := walkList(t, service.ListNotifications{UnreadOnly: true, Limit: 2})
		want := []int64{rows[4].ID, rows[2].ID, rows[0].ID}
		if !slices.Equal(got, want) {
			t.Errorf("walked %v, want %v", got, want)
		}
	})
	t.Run("OK/DefaultLimit", func(t *testing.T) {
		page, err := f.notes.List(alice, service.ListNotifications{})
		if err != nil || len(page.Items) != 5 || page.NextCursor != nil {
			t.Errorf("List = %+v, %v", page, err)
		}
	})
	t.Run("OK/Empty", func(t *testing.T) {
		page, err := f.notes.List(f.as(t, "carol"), service.ListNotifications{UnreadOnly: true})
		if err != nil || page.Items == nil || len(page.Items) != 0 || page.NextCursor != nil || page.Unread != 0 {
			t.Errorf("List = %+v, %v", page, err)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		_, err := f.notes.List(alice, service.ListNotifications{Limit: 101})
		wantCode(t, err, model.EINVALID, "limit")
		_, err = f.notes.List(alice, service.ListNotifications{Cursor: "garbage"})
		wantCode(t, err, model.EINVALID, "cursor")
	})
}
