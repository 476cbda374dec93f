package service_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

// seed writes notifications for user straight into the table, oldest
// first: one per entry of ages, which says how old each is; the first
// unread of them are unread. It returns their ids.
func (f *fixture) seed(t *testing.T, user string, unread int, ages ...time.Duration) []int64 {
	t.Helper()
	u := f.user(t, user, model.RoleUser)
	now := service.Now()
	var ids []int64
	for i, age := range ages {
		n := &model.Notification{UserID: u.ID, Type: model.NotifySystem, Excerpt: "old news", Read: i >= unread, CreatedAt: now.Add(-age)}
		if err := f.db.Create(n).Error; err != nil {
			t.Fatal(err)
		}
		ids = append(ids, n.ID)
	}
	f.recount(t)
	return ids
}

// kept returns the ids of the notifications user has, oldest first.
func (f *fixture) kept(t *testing.T, user string) []int64 {
	t.Helper()
	return pluck(f.rowsOf(t, f.users[user].ID), notificationID)
}

// repeat is n times d, for seed's ages.
func repeat(d time.Duration, n int) []time.Duration { return slices.Repeat([]time.Duration{d}, n) }

func TestPrune(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	ctx := t.Context()

	t.Run("OK/MaxAge", func(t *testing.T) {
		f := newFixture(t)
		f.notes.SetRetentionBatch(2)
		alice := f.seed(t, "alice", 3, append(repeat(100*day, 5), repeat(time.Hour, 3)...)...)
		f.seed(t, "bob", 0, 95*day, 91*day)
		carol := f.seed(t, "carol", 1, 89*day)

		deleted, err := f.notes.Prune(ctx, service.Retention{MaxAge: 90 * day})
		if err != nil || deleted != 7 {
			t.Fatalf("Prune = %d, %v; want 7", deleted, err)
		}
		if got := f.kept(t, "alice"); !slices.Equal(got, alice[5:]) {
			t.Errorf("alice keeps %v, want %v", got, alice[5:])
		}
		if got := f.kept(t, "bob"); len(got) != 0 {
			t.Errorf("bob keeps %v", got)
		}
		if got := f.kept(t, "carol"); !slices.Equal(got, carol) {
			t.Errorf("carol keeps %v, want %v", got, carol)
		}
		// Only alice lost unread notifications; bob's were read.
		got := f.pub.take()
		if len(got) != 1 || got[0].kind != "unread_count" || got[0].userID != f.users["alice"].ID || got[0].unread != 0 {
			t.Errorf("published %+v, want alice's unread count 0", got)
		}
	})

	t.Run("OK/KeepPerUser", func(t *testing.T) {
		f := newFixture(t)
		f.notes.SetRetentionBatch(2) // pages through users and rows
		keep := 4
		want := map[string][]int64{}
		for _, u := range []string{"alice", "bob", "carol", "dave"} {
			ids := f.seed(t, u, 2, repeat(time.Hour, 7)...)
			want[u] = ids[len(ids)-keep:]
		}
		want["erin"] = f.seed(t, "erin", 4, repeat(time.Hour, 3)...)
		deleted, err := f.notes.Prune(ctx, service.Retention{KeepPerUser: keep})
		if err != nil || deleted != 12 {
			t.Fatalf("Prune = %d, %v; want 12", deleted, err)
		}
		for u, ids := range want {
			if got := f.kept(t, u); !slices.Equal(got, ids) {
				t.Errorf("%s keeps %v, want %v", u, got, ids)
			}
		}
		// Again: nothing left to do.
		if deleted, err := f.notes.Prune(ctx, service.Retention{KeepPerUser: keep}); err != nil || deleted != 0 {
			t.Errorf("second Prune = %d, %v", deleted, err)
		}
	})

	t.Run("OK/Both", func(t *testing.T) {
		f := newFixture(t)
		ids := f.seed(t, "alice", 0, 40*day, 20*day, 3*day, 2*day, 1*day)
		deleted, err := f.notes.Prune(ctx, service.Retention{MaxAge: 30 * day, KeepPerUser: 3})
		if err != nil || deleted != 2 {
			t.Fatalf("Prune = %d, %v; want 2", deleted, err)
		}
		if got := f.kept(t, "alice"); !slices.Equal(got, ids[2:]) {
			t.Errorf("alice keeps %v, want %v", got, ids[2:])
		}
	})

	t.Run("OK/Disabled", func(t *testing.T) {
		f := newFixture(t)
		f.seed(t, "alice", 1, 1000*day, 500*day)
		if deleted, err := f.notes.Prune(ctx, service.Retention{}); err != nil || deleted != 0 {
			t.Errorf("Prune = %d, %v; want nothing deleted", deleted, err)
		}
	})
}

func TestRunRetention(t *testing.T) {
	f := newFixture(t)
	f.pub.counts = make(chan published, 1)
	f.seed(t, "alice", 1, 48*time.Hour)
	stop := startWorker(t, "RunRetention", func(ctx context.Context) {
		f.notes.RunRetention(ctx, time.Hour, service.Retention{MaxAge: 24 * time.Hour})
	})
	// The first pass runs at once; alice hears that her unread one went.
	select {
	case p := <-f.pub.counts:
		if p.userID != f.users["alice"].ID || p.unread != 0 {
			t.Errorf("published %+v", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no retention pass within 10s")
	}
	if rows := f.rowsOf(t, f.users["alice"].ID); len(rows) != 0 {
		t.Errorf("%d old notifications left", len(rows))
	}
	stop()
}
