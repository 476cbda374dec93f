package service_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

// The grouped view: groups by type and target within 12 hours of each
// group's newest, computed when listed, paged by cursor.

// groupedFixture gives alice, in this order, notifications of every kind,
// then dates them hours before now, in id order as they were written.
type groupedFixture struct {
	*fixture
	alice context.Context
	p, q  *model.Post // alice's post, bob's post
	a1    *model.Comment
	ids   map[string]int64 // alice's notification ids by name
	users map[string]int64 // user ids by name
}

func newGroupedFixture(t *testing.T) *groupedFixture {
	t.Helper()
	f := newFixture(t)
	g := &groupedFixture{fixture: f, ids: map[string]int64{}, users: map[string]int64{}}
	ctx := map[string]context.Context{}
	for _, name := range []string{"alice", "bob", "carol", "dave", "erin"} {
		ctx[name] = f.as(t, name)
		g.users[name] = f.users[name].ID
	}
	admin := f.asRole(t, "admin", model.RoleAdmin)
	g.users["admin"] = f.users["admin"].ID
	g.alice = ctx["alice"]
	g.p = f.post(t, g.alice, "alice's question")
	g.q = f.post(t, ctx["bob"], "bob's question")
	g.a1 = f.comment(t, g.alice, g.q.ID, nil, "alice answers bob")
	f.pub.take()
	if rows := f.rowsOf(t, g.users["alice"]); len(rows) != 0 {
		t.Fatalf("alice starts with %d notifications", len(rows))
	}
	like := func(who string, likePost bool) {
		var err error
		if likePost {
			_, err = f.posts.Like(ctx[who], g.p.ID)
		} else {
			_, err = f.comments.Like(ctx[who], g.a1.ID)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Each step writes one notification of alice's, hours before now.
	steps := []struct {
		name  string
		hours int
		do    func()
	}{
		{"pc1", 40, func() { f.comment(t, ctx["bob"], g.p.ID, nil, "1") }},
		{"pc2", 30, func() { f.comment(t, ctx["carol"], g.p.ID, nil, "2") }},
		{"pc3", 20, func() { f.comment(t, ctx["bob"], g.p.ID, nil, "3") }},
		{"mention", 19, func() { f.comment(t, ctx["dave"], g.q.ID, nil, "@alice look") }},
		{"pc4", 8, func() { f.comment(t, ctx["carol"], g.p.ID, nil, "4") }},
		{"pc5", 7, func() { f.comment(t, ctx["erin"], g.p.ID, nil, "5") }},
		{"like1", 6, func() { like("bob", true) }},
		{"like2", 6, func() { like("carol", true) }},
		{"like3", 5, func() { like("dave", true) }},
		{"like4", 5, func() { like("erin", true) }},
		{"reply1", 4, func() { f.comment(t, ctx["carol"], g.q.ID, g.a1, "re 1") }},
		{"reply2", 3, func() { f.comment(t, ctx["dave"], g.q.ID, g.a1, "re 2") }},
		{"likeA1", 2, func() { like("bob", false) }},
		{"system", 1, func() {
			if _, err := f.notes.SendSystem(admin, g.users["alice"], "welcome"); err != nil {
				t.Fatal(err)
			}
		}},
	}
	now := service.Now()
	for i, s := range steps {
		s.do()
		rows := f.rowsOf(t, g.users["alice"])
		if len(rows) != i+1 {
			t.Fatalf("after %s alice has %d notifications, want %d", s.name, len(rows), i+1)
		}
		id := rows[i].ID
		g.ids[s.name] = id
		// A few seconds apart within an hour, so that time follows ids.
		at := now.Add(-time.Duration(s.hours)*time.Hour + time.Duration(i)*time.Second)
		if err := f.db.Model(&model.Notification{}).Where("id = ?", id).Update("created_at", at).Error; err != nil {
			t.Fatal(err)
		}
	}
	f.pub.take()
	return g
}

// wantGroup is what one group must hold, by the fixture's names.
type wantGroup struct {
	typ       string
	post      *int64
	comment   *int64
	ids       []string // newest first
	actors    []string // newest first
	unread    int64
	keyPrefix string
}

func (g *groupedFixture) check(t *testing.T, got []*service.NotificationGroup, want []wantGroup) {
	t.Helper()
	if len(got) != len(want) {
		var keys []string
		for _, gr := range got {
			keys = append(keys, gr.Key)
		}
		t.Fatalf("%d groups %v, want %d", len(got), keys, len(want))
	}
	for i, w := range want {
		gr := got[i]
		var ids []int64
		for _, name := range w.ids {
			ids = append(ids, g.ids[name])
		}
		var actors []int64
		for _, a := range gr.Actors {
			actors = append(actors, a.ID)
		}
		var wantActors []int64
		for _, name := range w.actors {
			wantActors = append(wantActors, g.users[name])
		}
		wantKey := fmt.Sprintf("%s:%d", w.keyPrefix, ids[0])
		if gr.Type != w.typ || !slices.Equal(gr.NotificationIDs, ids) || gr.Count != int64(len(ids)) ||
			!slices.Equal(actors, wantActors) || gr.Unread != w.unread || gr.Key != wantKey ||
			gr.Latest == nil || gr.Latest.ID != ids[0] || !samePtr(gr.PostID, w.post) || !samePtr(gr.CommentID, w.comment) {
			t.Errorf("group %d = %+v (ids %v, actors %v), want %+v (ids %v, actors %v, key %s)",
				i, gr, gr.NotificationIDs, actors, w, ids, wantActors, wantKey)
		}
	}
}

func samePtr(a, b *int64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func (g *groupedFixture) all() []wantGroup {
	p, q, a1 := &g.p.ID, &g.q.ID, &g.a1.ID
	mentionComment := g.rowOf(g.ids["mention"]).CommentID
	return []wantGroup{
		{"system", nil, nil, []string{"system"}, []string{"admin"}, 1, "system"},
		{"like", q, a1, []string{"likeA1"}, []string{"bob"}, 1, fmt.Sprintf("like:comment:%d", *a1)},
		{"comment_reply", q, a1, []string{"reply2", "reply1"}, []string{"dave", "carol"}, 2, fmt.Sprintf("comment_reply:comment:%d", *a1)},
		{"like", p, nil, []string{"like4", "like3", "like2", "like1"}, []string{"erin", "dave", "carol"}, 4, fmt.Sprintf("like:post:%d", *p)},
		{"post_comment", p, nil, []string{"pc5", "pc4"}, []string{"erin", "carol"}, 2, fmt.Sprintf("post_comment:post:%d", *p)},
		{"mention", q, mentionComment, []string{"mention"}, []string{"dave"}, 1, "mention"},
		// 20 hours ago is more than 12 before pc5's 7: a new group.
		{"post_comment", p, nil, []string{"pc3", "pc2"}, []string{"bob", "carol"}, 2, fmt.Sprintf("post_comment:post:%d", *p)},
		{"post_comment", p, nil, []string{"pc1"}, []string{"bob"}, 1, fmt.Sprintf("post_comment:post:%d", *p)},
	}
}

func (g *groupedFixture) rowOf(id int64) *model.Notification {
	var n model.Notification
	g.db.Take(&n, id)
	return &n
}

// walk lists every page of the grouped view with q, checking that each
// holds what q's limit allows; between, when not nil, runs between pages.
func (g *groupedFixture) walk(t *testing.T, q service.ListNotifications, between func()) []*service.NotificationGroup {
	t.Helper()
	pages := 0
	return walk(t, func(cursor string) (*service.Page[*service.NotificationGroup], error) {
		if cursor != "" && between != nil {
			between()
		}
		q.Cursor = cursor
		page, err := g.notes.ListGrouped(g.alice, q)
		if err != nil {
			return nil, err
		}
		if len(page.Items) > max(q.Limit, 1) || (q.Limit > 0 && page.NextCursor != nil && len(page.Items) != q.Limit) {
			t.Fatalf("page %d has %d groups for limit %d", pages, len(page.Items), q.Limit)
		}
		pages++
		return &page.Page, nil
	})
}

func TestGroupedView(t *testing.T) {
	g := newGroupedFixture(t)

	t.Run("OK", func(t *testing.T) {
		page, err := g.notes.ListGrouped(g.alice, service.ListNotifications{})
		if err != nil {
			t.Fatal(err)
		}
		if page.NextCursor != nil || page.Unread != 14 || page.Unseen != 14 {
			t.Errorf("page cursor %v, counts %+v; want none and 14, 14", page.NextCursor, page.NotificationCounts)
		}
		g.check(t, page.Items, g.all())
		// The latest carries its actor, as the list does.
		if a := page.Items[1].Latest.Actor; a == nil || a.Username != "bob" {
			t.Errorf("latest actor %+v", a)
		}
	})
	t.Run("OK/Pages", func(t *testing.T) {
		for _, limit := range []int{1, 2, 3, 7} {
			g.check(t, g.walk(t, service.ListNotifications{Limit: limit}, nil), g.all())
		}
	})
	t.Run("OK/PagesWhileWritten", func(t *testing.T) {
		// What is written during a walk is not in it: later pages group
		// what the first saw, so nothing moves between pages.
		carol := g.as(t, "carol")
		written := 0
		got := g.walk(t, service.ListNotifications{Limit: 2}, func() {
			g.comment(t, carol, g.p.ID, nil, "during the walk")
			written++
		})
		g.check(t, got, g.all())
		// A new walk has them, with pc5 and pc4 (7 and 8 hours ago).
		page, err := g.notes.ListGrouped(g.alice, service.ListNotifications{Limit: 1})
		if err != nil || len(page.Items) != 1 || page.Items[0].Type != model.NotifyPostComment || page.Items[0].Count != int64(written+2) {
			t.Fatalf("a new walk starts with %+v, %v; want the %d new post_comments with pc5 and pc4", page.Items, err, written)
		}
		if err := g.db.Where("user_id = ? AND excerpt = ?", g.users["alice"], "during the walk").Delete(&model.Notification{}).Error; err != nil {
			t.Fatal(err)
		}
		g.recount(t)
	})
	t.Run("OK/UnreadOnly", func(t *testing.T) {
		if _, err := g.notes.MarkRead(g.alice, model.ReadSelection{IDs: []int64{g.ids["pc4"], g.ids["like2"], g.ids["system"]}}); err != nil {
			t.Fatal(err)
		}
		want := g.all()
		want[3].unread, want[4].unread = 3, 1
		want[0].unread = 0
		g.check(t, g.walk(t, service.ListNotifications{Limit: 3}, nil), want)

		p := &g.p.ID
		all := g.all()
		unread := []wantGroup{
			all[1], all[2],
			{"like", p, nil, []string{"like4", "like3", "like1"}, []string{"erin", "dave", "bob"}, 3, fmt.Sprintf("like:post:%d", *p)},
			// Without pc4, pc5 (7 hours ago) is its group alone.
			{"post_comment", p, nil, []string{"pc5"}, []string{"erin"}, 1, fmt.Sprintf("post_comment:post:%d", *p)},
			all[5], all[6], all[7],
		}
		g.check(t, g.walk(t, service.ListNotifications{UnreadOnly: true, Limit: 2}, nil), unread)
		if _, err := g.notes.MarkOneRead(g.alice, g.ids["pc1"]); err != nil {
			t.Fatal(err)
		}
		page, err := g.notes.ListGrouped(g.alice, service.ListNotifications{UnreadOnly: true})
		if err != nil || len(page.Items) != 6 || page.Unread != 10 {
			t.Errorf("unread groups %d, counts %+v, %v; want 6 and 10 unread", len(page.Items), page.NotificationCounts, err)
		}
	})
	t.Run("OK/OneStatementAPage", func(t *testing.T) {
		var statements atomic.Int64
		count := func(*gorm.DB) { statements.Add(1) }
		defer g.hook(t, "row", count)()
		defer g.hook(t, "query", count)()
		if _, err := g.notes.ListGrouped(g.alice, service.ListNotifications{}); err != nil {
			t.Fatal(err)
		}
		// The counts and the groups, whatever the number of groups.
		if n := statements.Load(); n != 2 {
			t.Errorf("%d statements for a page of 8 groups, want 2", n)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		_, err := g.notes.ListGrouped(g.alice, service.ListNotifications{Limit: 101})
		wantCode(t, err, model.EINVALID, "limit")
		_, err = g.notes.ListGrouped(g.alice, service.ListNotifications{Limit: -1})
		wantCode(t, err, model.EINVALID, "limit")
		_, err = g.notes.ListGrouped(g.alice, service.ListNotifications{Cursor: "garbage"})
		wantCode(t, err, model.EINVALID, "cursor")
		// The plain list's cursor is not the grouped view's.
		page, err := g.notes.List(g.alice, service.ListNotifications{Limit: 1})
		if err != nil || page.NextCursor == nil {
			t.Fatal(page, err)
		}
		_, err = g.notes.ListGrouped(g.alice, service.ListNotifications{Cursor: *page.NextCursor})
		wantCode(t, err, model.EINVALID, "cursor")
	})
}

// TestGroupedViewBounds: a group lists at most 100 ids, newest first, but
// counts them all; a user with nothing has an empty page.
func TestGroupedViewBounds(t *testing.T) {
	f := newFixture(t)
	_, _, p := f.alicePost(t, "post")
	zoe := f.user(t, "zoe", model.RoleUser)
	bobID := f.users["bob"].ID
	now := service.Now()
	for i := range 105 {
		n := &model.Notification{UserID: zoe.ID, Seq: int64(i + 1), Type: model.NotifyPostComment, ActorID: &bobID,
			PostID: &p.ID, Excerpt: "x", CreatedAt: now.Add(time.Duration(i) * time.Second)}
		if err := f.db.Create(n).Error; err != nil {
			t.Fatal(err)
		}
	}
	f.recount(t)
	page, err := f.notes.ListGrouped(model.WithUser(t.Context(), zoe), service.ListNotifications{})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("ListGrouped = %+v, %v", page, err)
	}
	gr := page.Items[0]
	if gr.Count != 105 || gr.Unread != 105 || len(gr.NotificationIDs) != 100 || len(gr.Actors) != 1 ||
		!slices.IsSortedFunc(gr.NotificationIDs, func(a, b int64) int { return int(b - a) }) || gr.NotificationIDs[0] != gr.Latest.ID {
		t.Errorf("group %+v", gr)
	}
	empty, err := f.notes.ListGrouped(f.as(t, "carol"), service.ListNotifications{UnreadOnly: true})
	if err != nil || empty.Items == nil || len(empty.Items) != 0 || empty.NextCursor != nil {
		t.Errorf("empty page %+v, %v", empty, err)
	}
}
