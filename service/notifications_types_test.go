package service_test

import (
	"context"
	"maps"
	"strings"
	"testing"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

// Who a change notifies, with which type and what content.

// typesFor returns, by recipient username, the types of the notifications
// of comment c.
func (f *fixture) typesFor(t testing.TB, c *model.Comment) map[string]string {
	t.Helper()
	var rows []*model.Notification
	if err := f.db.Where("comment_id = ?", c.ID).Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, n := range rows {
		for name, u := range f.users {
			if u.ID == n.UserID {
				if got[name] != "" {
					t.Errorf("%s notified twice of comment %d", name, c.ID)
				}
				got[name] = n.Type
			}
		}
	}
	return got
}

// wantTypes fails the test unless the notifications of comment c are
// want: by recipient username, the type.
func (f *fixture) wantTypes(t testing.TB, c *model.Comment, want map[string]string) {
	t.Helper()
	if got := f.typesFor(t, c); !maps.Equal(got, want) {
		t.Errorf("comment %q notified %v, want %v", c.Body, got, want)
	}
}

func TestNotificationTypes(t *testing.T) {
	f := newFixture(t)
	alice, bob, carol := f.as(t, "alice"), f.as(t, "bob"), f.as(t, "carol")
	f.as(t, "dave")
	tests := []struct {
		name   string
		muters []context.Context // who mute alice's post first
		parent context.Context   // who writes the comment replied to; nil for a top-level comment
		actor  context.Context
		body   string
		want   map[string]string
	}{
		{"OK/PostComment", nil, nil, bob, "nice", map[string]string{"alice": model.NotifyPostComment}},
		{"OK/CommentReply", nil, carol, bob, "agreed", map[string]string{"carol": model.NotifyCommentReply}},
		{"OK/Mentions", nil, nil, bob, "hey @carol and @DAVE", map[string]string{
			"alice": model.NotifyPostComment, "carol": model.NotifyMention, "dave": model.NotifyMention}},
		{"OK/MentionInReply", nil, carol, bob, "@dave look", map[string]string{
			"carol": model.NotifyCommentReply, "dave": model.NotifyMention}},
		{"Priority/ReplyOverMention", nil, carol, bob, "@carol yes", map[string]string{"carol": model.NotifyCommentReply}},
		{"Priority/MentionOverPostComment", nil, nil, bob, "@alice hi", map[string]string{"alice": model.NotifyMention}},
		{"Priority/ReplyOverPostComment", nil, alice, bob, "hi", map[string]string{"alice": model.NotifyCommentReply}},
		{"Self/CommentOnOwnPost", nil, nil, alice, "me again", map[string]string{}},
		{"Self/ReplyToOwnComment", nil, bob, bob, "and also", map[string]string{}},
		{"Self/MentionOfSelf", nil, nil, bob, "I, @bob, say", map[string]string{"alice": model.NotifyPostComment}},
		{"Self/ReplyOnOwnPostMentioningSelf", nil, carol, alice, "@alice here", map[string]string{"carol": model.NotifyCommentReply}},
		{"Mute/PostComment", []context.Context{alice}, nil, bob, "nice", map[string]string{}},
		{"Mute/CommentReply", []context.Context{carol}, carol, bob, "agreed", map[string]string{}},
		{"Mute/OthersStillNotified", []context.Context{carol}, carol, bob, "@dave see", map[string]string{"dave": model.NotifyMention}},
		{"Mute/MentionStillArrives", []context.Context{alice}, nil, bob, "@alice look", map[string]string{"alice": model.NotifyMention}},
		{"Mute/MutedReplyTargetMentioned", []context.Context{carol}, carol, bob, "@carol look", map[string]string{"carol": model.NotifyMention}},
		{"Mention/Unknown", nil, nil, bob, "@nobody_here and @zz", map[string]string{"alice": model.NotifyPostComment}},
		{"Mention/Email", nil, nil, bob, "write carol@example.com", map[string]string{"alice": model.NotifyPostComment}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := f.post(t, alice, "post for "+tt.name)
			for _, m := range tt.muters {
				if err := f.posts.Mute(m, p.ID); err != nil {
					t.Fatal(err)
				}
			}
			var parent *model.Comment
			if tt.parent != nil {
				parent = f.comment(t, tt.parent, p.ID, nil, "the comment replied to")
			}
			c := f.comment(t, tt.actor, p.ID, parent, tt.body)
			f.wantTypes(t, c, tt.want)
		})
	}
}

func TestNotificationContent(t *testing.T) {
	f := newFixture(t)
	_, bob, p := f.alicePost(t, "a question")
	f.pub.take()

	body := strings.Repeat("é", 100) + strings.Repeat("ü", 100) // 200 runes, 400 bytes
	c := f.comment(t, bob, p.ID, nil, "  "+body+"\n")
	rows := f.rowsOf(t, f.users["alice"].ID)
	if len(rows) != 1 {
		t.Fatalf("%d notifications, want 1", len(rows))
	}
	n := rows[0]
	wantExcerpt := strings.Repeat("é", 100) + strings.Repeat("ü", 40)
	if n.Type != model.NotifyPostComment || *n.ActorID != f.users["bob"].ID || *n.PostID != p.ID ||
		*n.CommentID != c.ID || n.Read || n.CreatedAt.IsZero() || n.Excerpt != wantExcerpt {
		t.Errorf("stored %+v", n)
	}
	if utf8.RuneCountInString(n.Excerpt) != model.ExcerptRunes {
		t.Errorf("excerpt has %d runes", utf8.RuneCountInString(n.Excerpt))
	}

	got := f.pub.take()
	if len(got) != 1 || got[0].kind != "notification" || got[0].userID != n.UserID || got[0].unread != 1 {
		t.Fatalf("published %+v", got)
	}
	sent := got[0].n
	if sent.ID != n.ID || sent.Excerpt != n.Excerpt || sent.Actor == nil ||
		*sent.Actor != (model.Author{ID: f.users["bob"].ID, Username: "bob", DisplayName: "The bob"}) {
		t.Errorf("published notification %+v actor %+v", sent, sent.Actor)
	}
}

func TestPostMentions(t *testing.T) {
	f := newFixture(t)
	alice := f.as(t, "alice")
	f.as(t, "bob")
	f.as(t, "carol")
	p := f.post(t, alice, "ping @bob, @Carol, @alice and @nobody")
	var rows []*model.Notification
	if err := f.db.Where("post_id = ?", p.ID).Order("user_id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d notifications, want bob's and carol's", len(rows))
	}
	for i, name := range []string{"bob", "carol"} {
		n := rows[i]
		if n.UserID != f.users[name].ID || n.Type != model.NotifyMention || n.CommentID != nil ||
			*n.ActorID != f.users["alice"].ID || n.Excerpt != p.Body {
			t.Errorf("%s got %+v", name, n)
		}
	}
}

func TestHookOnDeletedParent(t *testing.T) {
	// A reply to a deleted comment does not notify its author.
	f := newFixture(t)
	alice, bob, p := f.alicePost(t, "post")
	parent := f.comment(t, alice, p.ID, nil, "withdrawn")
	now := service.Now()
	parent.DeletedAt = &now
	err := f.db.Transaction(func(tx *gorm.DB) error {
		c := &model.Comment{PostID: p.ID, ParentID: &parent.ID, RootID: &parent.ID, AuthorID: f.users["bob"].ID, Body: "late", CreatedAt: now}
		if err := tx.Create(c).Error; err != nil {
			return err
		}
		_, err := f.notes.CommentCreatedHook(tx, model.UserFrom(bob), p, parent, c)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.rowsOf(t, f.users["alice"].ID)); n != 0 {
		t.Errorf("alice has %d notifications, want 0", n)
	}
}

func TestSendSystem(t *testing.T) {
	f := newFixture(t)
	admin := f.asRole(t, "root", model.RoleAdmin)
	alice := f.as(t, "alice")
	aliceID := f.users["alice"].ID

	t.Run("OK", func(t *testing.T) {
		msg := strings.Repeat("ж", model.MessageMax)
		n, err := f.notes.SendSystem(admin, aliceID, "  "+msg+"  ")
		if err != nil {
			t.Fatal(err)
		}
		if n.ID == 0 || n.UserID != aliceID || n.Type != model.NotifySystem || n.Excerpt != msg || n.Read ||
			n.PostID != nil || n.CommentID != nil || n.Actor == nil || n.Actor.Username != "root" {
			t.Errorf("sent %+v", n)
		}
		got := f.pub.take()
		if len(got) != 1 || got[0].n.ID != n.ID || got[0].unread != 1 || !got[0].committed {
			t.Errorf("published %+v", got)
		}
		page, err := f.notes.List(alice, service.ListNotifications{})
		if err != nil || len(page.Items) != 1 || page.Items[0].Excerpt != msg || page.Items[0].Actor.Username != "root" {
			t.Errorf("alice lists %+v, %v", page, err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := f.notes.SendSystem(admin, 1<<40, "hello")
		wantCode(t, err, model.ENOTFOUND, "user")
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		_, err := f.notes.SendSystem(admin, aliceID, "   ")
		wantCode(t, err, model.EINVALID, "message")
		_, err = f.notes.SendSystem(admin, aliceID, strings.Repeat("x", model.MessageMax+1))
		wantCode(t, err, model.EINVALID, "message")
		_, err = f.notes.SendSystem(admin, aliceID, "bad \xff")
		wantCode(t, err, model.EINVALID, "message")
		_, err = f.notes.SendSystem(admin, 0, "hello")
		wantCode(t, err, model.EINVALID, "user_id")
	})
	t.Run("ErrPermission", func(t *testing.T) {
		_, err := f.notes.SendSystem(alice, aliceID, "hello")
		wantCode(t, err, model.EPERMISSION, "")
	})
}
