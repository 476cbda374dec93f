package service_test

import (
	"testing"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

// TestSpoilerExcerpts: every notification that quotes a spoiler, of every
// type, has "[spoiler]" for its excerpt, never the text; every view
// carries the flag; marking or unmarking it in an edit rewrites the
// excerpts written before.
func TestSpoilerExcerpts(t *testing.T) {
	f := newFixture(t)
	alice, bob, carol := f.as(t, "alice"), f.as(t, "bob"), f.as(t, "carol")
	p, err := f.posts.Create(alice, service.PostInput{Title: "q", Body: "the answer is 42 @carol", Spoiler: true})
	if err != nil || !p.Spoiler {
		t.Fatalf("post: %+v, %v", p, err)
	}
	f.setLevel(t, carol, p.ID, model.LevelWatching)
	top, err := f.comments.Create(bob, p.ID, service.CommentInput{Body: "no, 41 @carol", Spoiler: true})
	if err != nil || !top.Spoiler {
		t.Fatalf("comment: %+v, %v", top, err)
	}
	if _, err := f.comments.Create(carol, p.ID, service.CommentInput{Body: "it is 43", ParentID: &top.ID, Spoiler: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.comments.Create(alice, p.ID, service.CommentInput{Body: "thanks", Spoiler: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.posts.Like(bob, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.comments.Like(alice, top.ID); err != nil {
		t.Fatal(err)
	}
	f.drainFanout(t, 100)
	types := map[string]bool{}
	var all []*model.Notification
	for _, u := range []string{"alice", "bob", "carol"} {
		all = append(all, f.rowsOf(t, f.users[u].ID)...)
	}
	for _, n := range all {
		types[n.Type] = true
		if n.Excerpt != model.SpoilerExcerpt {
			t.Errorf("%s notification of user %d: excerpt %q", n.Type, n.UserID, n.Excerpt)
		}
	}
	for _, typ := range []string{model.NotifyMention, model.NotifyPostComment, model.NotifyCommentReply, model.NotifyThreadComment, model.NotifyLike} {
		if !types[typ] {
			t.Errorf("no %s notification was written", typ)
		}
	}
	for _, n := range f.pub.take() {
		if n.kind == "notification" && n.n.Excerpt != model.SpoilerExcerpt {
			t.Errorf("published %s with excerpt %q", n.n.Type, n.n.Excerpt)
		}
	}
	list, err := f.notes.List(carol, service.ListNotifications{})
	if err != nil || len(list.Items) == 0 || list.Items[0].Excerpt != model.SpoilerExcerpt {
		t.Errorf("carol's list: %+v, %v", list, err)
	}
	thread, err := f.comments.List(carol, p.ID, service.CommentQuery{})
	if err != nil || !thread.Items[0].Spoiler || !thread.Items[0].Replies[0].Spoiler {
		t.Errorf("thread: %+v, %v", thread, err)
	}

	t.Run("Edit", func(t *testing.T) {
		plain := f.post(t, bob, "hint for @carol")
		mention := func() string {
			var n model.Notification
			if err := f.db.Where("post_id = ? AND type = ?", plain.ID, model.NotifyMention).Take(&n).Error; err != nil {
				t.Fatal(err)
			}
			return n.Excerpt
		}
		if got := mention(); got != "hint for @carol" {
			t.Fatalf("excerpt %q", got)
		}
		got, err := f.posts.Update(bob, plain.ID, service.PostPatch{Spoiler: ptr(true)})
		if err != nil || !got.Spoiler || mention() != model.SpoilerExcerpt {
			t.Errorf("marked: %+v, %v, excerpt %q", got, err, mention())
		}
		if _, err := f.posts.Update(bob, plain.ID, service.PostPatch{Spoiler: ptr(false)}); err != nil || mention() != "hint for @carol" {
			t.Errorf("unmarked: %v, excerpt %q", err, mention())
		}
		c := f.comment(t, bob, plain.ID, nil, "solution for @carol")
		cc, err := f.comments.Update(bob, c.ID, service.CommentPatch{Spoiler: ptr(true)})
		if err != nil || !cc.Spoiler || cc.Body != "solution for @carol" {
			t.Fatalf("comment marked: %+v, %v", cc, err)
		}
		for _, n := range f.rowsOf(t, f.users["carol"].ID) {
			if n.CommentID != nil && *n.CommentID == c.ID && n.Excerpt != model.SpoilerExcerpt {
				t.Errorf("comment's notification excerpt %q", n.Excerpt)
			}
		}
	})
}
