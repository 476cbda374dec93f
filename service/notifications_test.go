package service_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
	"github.com/quizsite/discuss/service/dbtest"
)

// published is one call the recorder received.
type published struct {
	kind   string // "notification" or "unread_count"
	userID int64
	n      *model.Notification
	unread int64
	// committed says whether, at the time of the call, the notification
	// row (or, for a count, the recount) was already visible to a reader
	// outside the writer's transaction.
	committed bool
}

// recorder is a Publisher that remembers every call, in order.
type recorder struct {
	db  *gorm.DB
	mu  sync.Mutex
	all []published
	err error // returned by every call when set
	// counts, when set, receives every unread_count call.
	counts chan published
}

func (r *recorder) PublishNotification(ctx context.Context, n *model.Notification, unread int64) error {
	var rows int64
	r.db.Model(&model.Notification{}).Where("id = ?", n.ID).Count(&rows)
	return r.add(published{kind: "notification", userID: n.UserID, n: n, unread: unread, committed: rows == 1})
}

func (r *recorder) PublishUnreadCount(ctx context.Context, userID, unread int64) error {
	return r.add(published{kind: "unread_count", userID: userID, unread: unread, committed: recountOf(r.db, userID) == unread})
}

func (r *recorder) PublishBroadcast(context.Context, *model.Announcement) error { return nil }

func (r *recorder) add(p published) error {
	r.mu.Lock()
	r.all = append(r.all, p)
	err := r.err
	r.mu.Unlock()
	if p.kind == "unread_count" && r.counts != nil {
		r.counts <- p
	}
	return err
}

// take returns the calls so far and forgets them.
func (r *recorder) take() []published {
	r.mu.Lock()
	defer r.mu.Unlock()
	all := r.all
	r.all = nil
	return all
}

func (r *recorder) setErr(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}

// notesFixture is the services over a fresh database, with a recording
// publisher and a captured log.
type notesFixture struct {
	db       *dbtest.DB
	pub      *recorder
	logs     *syncBuffer
	notes    *service.Notifications
	posts    *service.Posts
	comments *service.Comments
	users    map[string]*model.User
}

func newNotesFixture(t *testing.T) *notesFixture {
	t.Helper()
	db := dbtest.Open(t)
	pub := &recorder{db: db.DB}
	logs := &syncBuffer{}
	notes := service.NewNotifications(db.DB, pub).WithLogger(slog.New(slog.NewTextHandler(logs, nil)))
	return &notesFixture{
		db: db, pub: pub, logs: logs, notes: notes,
		posts:    service.NewPosts(db.DB, notes, nil),
		comments: service.NewComments(db.DB, notes, nil),
		users:    map[string]*model.User{},
	}
}

// as creates, the first time, a user with role user, and returns a context
// signed in as them.
func (f *notesFixture) as(t testing.TB, name string) context.Context {
	t.Helper()
	return model.WithUser(context.Background(), f.user(t, name, model.RoleUser))
}

func (f *notesFixture) user(t testing.TB, name, role string) *model.User {
	t.Helper()
	if u := f.users[name]; u != nil {
		return u
	}
	u := &model.User{Username: name, DisplayName: "The " + name, Role: role, CreatedAt: service.Now()}
	if err := f.db.Create(u).Error; err != nil {
		t.Fatal(err)
	}
	f.users[name] = u
	return u
}

func (f *notesFixture) post(t testing.TB, ctx context.Context, body string) *model.Post {
	t.Helper()
	p, err := f.posts.Create(ctx, service.PostInput{Title: "a post", Body: body})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *notesFixture) comment(t testing.TB, ctx context.Context, postID int64, parent *model.Comment, body string) *model.Comment {
	t.Helper()
	in := service.CommentInput{Body: body}
	if parent != nil {
		in.ParentID = &parent.ID
	}
	c, err := f.comments.Create(ctx, postID, in)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rowsOf returns every notification row of user, oldest first.
func (f *notesFixture) rowsOf(t testing.TB, userID int64) []*model.Notification {
	t.Helper()
	var rows []*model.Notification
	if err := f.db.Where("user_id = ?", userID).Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	return rows
}

// typesFor returns, by recipient username, the types of the notifications
// of comment c.
func (f *notesFixture) typesFor(t testing.TB, c *model.Comment) map[string]string {
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

// recountOf counts a user's unread notifications straight from the table.
func recountOf(db *gorm.DB, userID int64) int64 {
	var n int64
	db.Raw("SELECT COUNT(*) FROM notifications WHERE user_id = ? AND is_read = ?", userID, false).Scan(&n)
	return n
}

// wantErr fails the test unless err has the code and, when field is not
// empty, a message naming field.
func wantErr(t testing.TB, err error, code, field string) {
	t.Helper()
	if model.ErrorCode(err) != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
	if field != "" && !strings.Contains(model.ErrorMessage(err), field) {
		t.Fatalf("error message %q does not name %s", model.ErrorMessage(err), field)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestNotificationTypes(t *testing.T) {
	t.Parallel()
	f := newNotesFixture(t)
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
			if got := f.typesFor(t, c); !mapsEqual(got, tt.want) {
				t.Errorf("notified %v, want %v", got, tt.want)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestNotificationContent(t *testing.T) {
	t.Parallel()
	f := newNotesFixture(t)
	alice, bob := f.as(t, "alice"), f.as(t, "bob")
	p := f.post(t, alice, "a question")
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
	t.Parallel()
	f := newNotesFixture(t)
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

func TestPublishAfterCommitOnly(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		f := newNotesFixture(t)
		alice, bob := f.as(t, "alice"), f.as(t, "bob")
		f.as(t, "carol")
		p := f.post(t, alice, "post")
		f.pub.take()
		f.comment(t, bob, p.ID, nil, "hi @carol")
		got := f.pub.take()
		if len(got) != 2 {
			t.Fatalf("published %+v, want alice's and carol's", got)
		}
		for _, e := range got {
			if e.kind != "notification" || !e.committed || e.unread != 1 {
				t.Errorf("published %+v, want a committed notification with unread 1", e)
			}
		}
	})

	t.Run("ErrPublisherDown", func(t *testing.T) {
		// A failing publisher is logged and fails nothing.
		f := newNotesFixture(t)
		alice, bob := f.as(t, "alice"), f.as(t, "bob")
		p := f.post(t, alice, "post")
		f.pub.setErr(errors.New("broker down"))
		f.comment(t, bob, p.ID, nil, "hi")
		if n := recountOf(f.db.DB, f.users["alice"].ID); n != 1 {
			t.Errorf("alice has %d unread, want 1", n)
		}
		if n, err := f.notes.MarkRead(context.Background(), f.users["alice"].ID, nil, 1<<40); err != nil || n != 0 {
			t.Errorf("MarkRead = %d, %v", n, err)
		}
		if !strings.Contains(f.logs.String(), "broker down") {
			t.Errorf("the publish error was not logged: %s", f.logs.String())
		}
	})

	t.Run("ErrRolledBack", func(t *testing.T) {
		// When the transaction fails after the hook ran, nothing is
		// published and neither the comment nor its notification remains.
		f := newNotesFixture(t)
		alice, bob := f.as(t, "alice"), f.as(t, "bob")
		f.as(t, "carol")
		p := f.post(t, alice, "post")
		top := f.comment(t, f.as(t, "carol"), p.ID, nil, "top")
		f.pub.take()
		failNotificationInserts(t, f.db.DB)

		for _, parent := range []*model.Comment{nil, top} {
			in := service.CommentInput{Body: "hi @carol"}
			if parent != nil {
				in.ParentID = &parent.ID
			}
			_, err := f.comments.Create(bob, p.ID, in)
			if err == nil {
				t.Fatal("Create succeeded although its notification insert failed")
			}
		}
		if got := f.pub.take(); len(got) != 0 {
			t.Errorf("published %+v for rolled-back transactions", got)
		}
		var comments, notes int64
		f.db.Model(&model.Comment{}).Where("post_id = ?", p.ID).Count(&comments)
		f.db.Model(&model.Notification{}).Where("post_id = ?", p.ID).Count(&notes)
		if comments != 1 || notes != 1 { // the top comment and its post_comment, from before
			t.Errorf("%d comments and %d notifications remain, want 1 and 1", comments, notes)
		}
		var post model.Post
		f.db.Take(&post, p.ID)
		var root model.Comment
		f.db.Take(&root, top.ID)
		if post.CommentCount != 1 || root.ReplyCount != 0 {
			t.Errorf("counters moved: comment_count %d, reply_count %d", post.CommentCount, root.ReplyCount)
		}
	})
}

// failNotificationInserts makes every insert into notifications on db fail,
// as a database that breaks after the comment insert would.
func failNotificationInserts(t *testing.T, db *gorm.DB) {
	t.Helper()
	err := db.Callback().Create().Before("gorm:create").Register("test:fail_notifications", func(tx *gorm.DB) {
		if tx.Statement.Table == "notifications" {
			_ = tx.AddError(errors.New("injected failure"))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCommentDeletedRemovesNotifications(t *testing.T) {
	t.Parallel()
	f := newNotesFixture(t)
	alice, bob, carol := f.as(t, "alice"), f.as(t, "bob"), f.as(t, "carol")
	p := f.post(t, alice, "post")
	keep := f.comment(t, carol, p.ID, nil, "stays")
	gone := f.comment(t, bob, p.ID, nil, "goes, @carol")
	aliceID, carolID := f.users["alice"].ID, f.users["carol"].ID
	if recountOf(f.db.DB, aliceID) != 2 || recountOf(f.db.DB, carolID) != 1 {
		t.Fatal("setup: wrong unread counts")
	}
	// Carol has read hers: it must leave her list all the same.
	if _, err := f.notes.MarkRead(context.Background(), carolID, nil, 1<<40); err != nil {
		t.Fatal(err)
	}
	f.pub.take()

	if err := f.comments.Delete(bob, gone.ID); err != nil {
		t.Fatal(err)
	}
	var left int64
	f.db.Model(&model.Notification{}).Where("comment_id = ?", gone.ID).Count(&left)
	if left != 0 {
		t.Errorf("%d notifications of the deleted comment remain", left)
	}
	if rows := f.rowsOf(t, aliceID); len(rows) != 1 || *rows[0].CommentID != keep.ID {
		t.Errorf("alice's notifications after the delete: %+v", rows)
	}
	page, err := f.notes.List(alice, service.ListNotifications{})
	if err != nil || len(page.Items) != 1 || page.UnreadCount != 1 {
		t.Errorf("alice's list %+v, %v", page, err)
	}
	after, err := f.notes.NotificationsAfter(context.Background(), carolID, 0, 100)
	if err != nil || len(after) != 0 {
		t.Errorf("carol replays %+v, %v", after, err)
	}
	got := f.pub.take()
	if len(got) != 1 || got[0].kind != "unread_count" || got[0].userID != aliceID || got[0].unread != 1 || !got[0].committed {
		t.Errorf("published %+v, want alice's committed unread count 1 (carol's read one changes no count)", got)
	}
}

func TestPostDeletedHook(t *testing.T) {
	t.Parallel()
	f := newNotesFixture(t)
	alice, bob := f.as(t, "alice"), f.as(t, "bob")
	f.as(t, "carol")
	p := f.post(t, alice, "hello @bob")
	f.comment(t, bob, p.ID, nil, "hi @carol")
	other := f.post(t, alice, "and @bob again")
	f.pub.take()

	var out service.Outbox
	err := f.db.Transaction(func(tx *gorm.DB) error {
		var err error
		out, err = f.notes.PostDeletedHook(tx, p.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	f.notes.Publish(context.Background(), out)
	var left []*model.Notification
	f.db.Find(&left)
	if len(left) != 1 || *left[0].PostID != other.ID {
		t.Errorf("left %+v, want only the mention of the other post", left)
	}
	got := f.pub.take()
	slices.SortFunc(got, func(a, b published) int { return int(a.userID - b.userID) })
	want := []int64{f.users["alice"].ID, f.users["bob"].ID, f.users["carol"].ID}
	if len(got) != 3 {
		t.Fatalf("published %+v", got)
	}
	for i, e := range got {
		if e.kind != "unread_count" || e.userID != want[i] || e.unread != recountOf(f.db.DB, want[i]) {
			t.Errorf("published %+v", e)
		}
	}
}

func TestHookOnDeletedParent(t *testing.T) {
	// A reply to a deleted comment does not notify its author.
	t.Parallel()
	f := newNotesFixture(t)
	alice, bob := f.as(t, "alice"), f.as(t, "bob")
	p := f.post(t, alice, "post")
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

// threeFor gives user three notifications from bob, oldest first.
func threeFor(t *testing.T, f *notesFixture, user string) []*model.Notification {
	t.Helper()
	owner, bob := f.as(t, user), f.as(t, "bob")
	p := f.post(t, owner, "post")
	for i := range 3 {
		f.comment(t, bob, p.ID, nil, fmt.Sprintf("comment %d", i))
	}
	rows := f.rowsOf(t, f.users[user].ID)
	if len(rows) != 3 {
		t.Fatalf("%d notifications, want 3", len(rows))
	}
	f.pub.take()
	return rows
}

func TestMarkRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newNotesFixture(t)

	t.Run("OK/UpToID", func(t *testing.T) {
		n := threeFor(t, f, "alice")
		alice := f.users["alice"].ID
		unread, err := f.notes.MarkRead(ctx, alice, nil, n[1].ID)
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
		n := threeFor(t, f, "carol")
		carol := f.users["carol"].ID
		unread, err := f.notes.MarkRead(ctx, carol, []int64{n[0].ID, n[2].ID, n[2].ID}, 0)
		if err != nil || unread != 1 {
			t.Fatalf("MarkRead = %d, %v; want 1", unread, err)
		}
		if rows := f.rowsOf(t, carol); !rows[0].Read || rows[1].Read || !rows[2].Read {
			t.Error("wrong notifications marked")
		}
		// Again: nothing changes, the count is the same, and no device
		// is told of a change.
		f.pub.take()
		if unread, err := f.notes.MarkRead(ctx, carol, []int64{n[0].ID}, 0); err != nil || unread != 1 {
			t.Errorf("MarkRead again = %d, %v", unread, err)
		}
		if got := f.pub.take(); len(got) != 0 {
			t.Errorf("published %+v for no change", got)
		}
	})

	t.Run("OK/ForeignIDsIgnored", func(t *testing.T) {
		n := threeFor(t, f, "dave")
		erin := f.as(t, "erin")
		// erin marks dave's ids, and one that does not exist: nothing of
		// dave's changes, and erin's answer tells her nothing of them.
		unread, err := f.notes.MarkMineRead(erin, []int64{n[0].ID, n[1].ID, 1 << 40}, 0)
		if err != nil || unread != 0 {
			t.Fatalf("MarkMineRead = %d, %v", unread, err)
		}
		unread, err = f.notes.MarkMineRead(erin, nil, n[2].ID)
		if err != nil || unread != 0 {
			t.Fatalf("MarkMineRead up_to_id = %d, %v", unread, err)
		}
		if got := recountOf(f.db.DB, f.users["dave"].ID); got != 3 {
			t.Errorf("dave has %d unread, want 3", got)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		alice := f.as(t, "alice")
		tooMany := make([]int64, service.MaxMarkIDs+1)
		for i := range tooMany {
			tooMany[i] = int64(i + 1)
		}
		for _, tt := range []struct {
			name   string
			ids    []int64
			upTo   int64
			naming string
		}{
			{"Both", []int64{1}, 1, "up_to_id"},
			{"Neither", nil, 0, "ids"},
			{"TooMany", tooMany, 0, "ids"},
			{"ZeroID", []int64{1, 0}, 0, "ids"},
			{"NegativeID", []int64{-3}, 0, "ids"},
			{"NegativeUpTo", nil, -1, "up_to_id"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				_, err := f.notes.MarkMineRead(alice, tt.ids, tt.upTo)
				wantErr(t, err, model.EINVALID, tt.naming)
			})
		}
	})

	t.Run("ErrUnauthenticated", func(t *testing.T) {
		_, err := f.notes.MarkMineRead(ctx, []int64{1}, 0)
		wantErr(t, err, model.EUNAUTHENTICATED, "")
	})
}

func TestMarkOneRead(t *testing.T) {
	t.Parallel()
	f := newNotesFixture(t)
	n := threeFor(t, f, "alice")
	alice, carol := f.as(t, "alice"), f.as(t, "carol")

	t.Run("OK", func(t *testing.T) {
		unread, err := f.notes.MarkOneRead(alice, n[1].ID)
		if err != nil || unread != 2 {
			t.Fatalf("MarkOneRead = %d, %v; want 2", unread, err)
		}
		if got := f.pub.take(); len(got) != 1 || got[0].unread != 2 {
			t.Errorf("published %+v", got)
		}
	})
	t.Run("OK/AlreadyRead", func(t *testing.T) {
		unread, err := f.notes.MarkOneRead(alice, n[1].ID)
		if err != nil || unread != 2 {
			t.Fatalf("MarkOneRead = %d, %v; want 2", unread, err)
		}
	})
	t.Run("ErrNotFound/Foreign", func(t *testing.T) {
		_, err := f.notes.MarkOneRead(carol, n[0].ID)
		wantErr(t, err, model.ENOTFOUND, "notification")
		if f.rowsOf(t, f.users["alice"].ID)[0].Read {
			t.Error("carol marked alice's notification")
		}
	})
	t.Run("ErrNotFound/Missing", func(t *testing.T) {
		_, err := f.notes.MarkOneRead(alice, 1<<40)
		wantErr(t, err, model.ENOTFOUND, "notification")
	})
	t.Run("ErrUnauthenticated", func(t *testing.T) {
		_, err := f.notes.MarkOneRead(context.Background(), n[0].ID)
		wantErr(t, err, model.EUNAUTHENTICATED, "")
	})
}

func TestListNotifications(t *testing.T) {
	t.Parallel()
	f := newNotesFixture(t)
	alice, bob := f.as(t, "alice"), f.as(t, "bob")
	p := f.post(t, alice, "post")
	for i := range 5 {
		f.comment(t, bob, p.ID, nil, fmt.Sprintf("comment %d", i))
	}
	rows := f.rowsOf(t, f.users["alice"].ID)
	if _, err := f.notes.MarkRead(context.Background(), f.users["alice"].ID, []int64{rows[1].ID, rows[3].ID}, 0); err != nil {
		t.Fatal(err)
	}
	walk := func(t *testing.T, q service.ListNotifications) []int64 {
		t.Helper()
		var ids []int64
		for range 10 {
			page, err := f.notes.List(alice, q)
			if err != nil {
				t.Fatal(err)
			}
			if page.UnreadCount != 3 {
				t.Errorf("unread_count %d, want 3", page.UnreadCount)
			}
			for _, n := range page.Items {
				if n.Actor == nil || n.Actor.Username != "bob" {
					t.Errorf("notification %d actor %+v", n.ID, n.Actor)
				}
				ids = append(ids, n.ID)
			}
			if page.NextCursor == nil {
				return ids
			}
			q.Cursor = *page.NextCursor
		}
		t.Fatal("the walk did not end")
		return nil
	}

	t.Run("OK", func(t *testing.T) {
		got := walk(t, service.ListNotifications{Limit: 2})
		want := []int64{rows[4].ID, rows[3].ID, rows[2].ID, rows[1].ID, rows[0].ID}
		if !slices.Equal(got, want) {
			t.Errorf("walked %v, want %v", got, want)
		}
	})
	t.Run("OK/UnreadOnly", func(t *testing.T) {
		got := walk(t, service.ListNotifications{UnreadOnly: true, Limit: 2})
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
		if err != nil || page.Items == nil || len(page.Items) != 0 || page.NextCursor != nil || page.UnreadCount != 0 {
			t.Errorf("List = %+v, %v", page, err)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		_, err := f.notes.List(alice, service.ListNotifications{Limit: 101})
		wantErr(t, err, model.EINVALID, "limit")
		_, err = f.notes.List(alice, service.ListNotifications{Cursor: "garbage"})
		wantErr(t, err, model.EINVALID, "cursor")
	})
	t.Run("ErrUnauthenticated", func(t *testing.T) {
		_, err := f.notes.List(context.Background(), service.ListNotifications{})
		wantErr(t, err, model.EUNAUTHENTICATED, "")
		_, err = f.notes.CountUnread(context.Background())
		wantErr(t, err, model.EUNAUTHENTICATED, "")
	})
}

func TestReplayQueries(t *testing.T) {
	t.Parallel()
	f := newNotesFixture(t)
	n := threeFor(t, f, "alice")
	ctx := context.Background()
	alice := f.users["alice"].ID
	if _, err := f.notes.MarkRead(ctx, alice, []int64{n[1].ID}, 0); err != nil {
		t.Fatal(err)
	}
	ids := func(list []*model.Notification) []int64 {
		var out []int64
		for _, n := range list {
			if n.Actor == nil || n.Actor.Username != "bob" {
				t.Errorf("notification %d without its actor", n.ID)
			}
			out = append(out, n.ID)
		}
		return out
	}

	t.Run("OK/After", func(t *testing.T) {
		list, err := f.notes.NotificationsAfter(ctx, alice, n[0].ID, 500)
		if err != nil || !slices.Equal(ids(list), []int64{n[1].ID, n[2].ID}) {
			t.Errorf("NotificationsAfter = %v, %v", ids(list), err)
		}
		list, err = f.notes.NotificationsAfter(ctx, alice, 0, 2)
		if err != nil || !slices.Equal(ids(list), []int64{n[0].ID, n[1].ID}) {
			t.Errorf("NotificationsAfter limit 2 = %v, %v", ids(list), err)
		}
	})
	t.Run("OK/Unread", func(t *testing.T) {
		list, err := f.notes.UnreadNotifications(ctx, alice, 100)
		if err != nil || !slices.Equal(ids(list), []int64{n[0].ID, n[2].ID}) {
			t.Errorf("UnreadNotifications = %v, %v", ids(list), err)
		}
		if c, err := f.notes.UnreadCount(ctx, alice); err != nil || c != 2 {
			t.Errorf("UnreadCount = %d, %v", c, err)
		}
	})
	t.Run("OK/OtherUser", func(t *testing.T) {
		list, err := f.notes.NotificationsAfter(ctx, f.users["bob"].ID, 0, 500)
		if err != nil || len(list) != 0 || list == nil {
			t.Errorf("bob replays %v, %v", list, err)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		_, err := f.notes.NotificationsAfter(ctx, alice, 0, 0)
		wantErr(t, err, model.EINVALID, "limit")
		_, err = f.notes.UnreadNotifications(ctx, alice, -1)
		wantErr(t, err, model.EINVALID, "limit")
	})
}

func TestSendSystem(t *testing.T) {
	t.Parallel()
	f := newNotesFixture(t)
	admin := model.WithUser(context.Background(), f.user(t, "root", model.RoleAdmin))
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
		wantErr(t, err, model.ENOTFOUND, "user")
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		_, err := f.notes.SendSystem(admin, aliceID, "   ")
		wantErr(t, err, model.EINVALID, "message")
		_, err = f.notes.SendSystem(admin, aliceID, strings.Repeat("x", model.MessageMax+1))
		wantErr(t, err, model.EINVALID, "message")
		_, err = f.notes.SendSystem(admin, aliceID, "bad \xff")
		wantErr(t, err, model.EINVALID, "message")
		_, err = f.notes.SendSystem(admin, 0, "hello")
		wantErr(t, err, model.EINVALID, "user_id")
	})
	t.Run("ErrPermission", func(t *testing.T) {
		_, err := f.notes.SendSystem(alice, aliceID, "hello")
		wantErr(t, err, model.EPERMISSION, "")
	})
}

// TestUnreadCountsUnderConcurrency has 50 goroutines comment, reply,
// mention and mark read at once, then checks that every way of reading an
// unread count agrees with a recount, and that the last count published to
// each user is that recount.
func TestUnreadCountsUnderConcurrency(t *testing.T) {
	t.Parallel()
	f := newNotesFixture(t)
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
					_, err = f.notes.MarkRead(context.Background(), uid, nil, 1<<40)
				case 1:
					var page *service.NotificationPage
					if page, err = f.notes.List(ctxs[me], service.ListNotifications{UnreadOnly: true, Limit: 3}); err == nil && len(page.Items) > 0 {
						_, err = f.notes.MarkOneRead(ctxs[me], page.Items[0].ID)
					}
				case 2:
					_, err = f.notes.CountUnread(ctxs[me])
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
		got, err := f.notes.CountUnread(ctxs[i])
		if err != nil || got != want {
			t.Errorf("%s: CountUnread = %d, %v; recount %d", u.Username, got, err, want)
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

// checkSequence checks that the user's notifications, in id order, are
// numbered 1, 2, 3... with none skipped (nothing was deleted), and that the
// user's head agrees with the rows.
func checkSequence(t *testing.T, f *notesFixture, userID int64) {
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
	head, err := f.notes.NotificationHead(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	want := model.NotificationHead{Seq: int64(len(rows)), Unread: recountOf(f.db.DB, userID)}
	if len(rows) > 0 {
		want.LastID = rows[len(rows)-1].ID
	}
	if head != want {
		t.Fatalf("user %d: head %+v, want %+v", userID, head, want)
	}
	seqs, err := f.notes.NotificationSeqs(context.Background(), []int64{userID, 1 << 40})
	if err != nil || len(seqs) != 1 || seqs[userID] != want.Seq {
		t.Fatalf("user %d: NotificationSeqs = %v, %v; want {%d: %d}", userID, seqs, err, userID, want.Seq)
	}
}

// TestSequenceSurvivesDeletion: deleting a comment deletes its
// notification, leaving a hole in the user's sequence that is never
// filled; the next notification takes the next number.
func TestSequenceSurvivesDeletion(t *testing.T) {
	t.Parallel()
	f := newNotesFixture(t)
	alice, bob := f.as(t, "alice"), f.as(t, "bob")
	post := f.post(t, alice, "my post")
	c1 := f.comment(t, bob, post.ID, nil, "one")
	f.comment(t, bob, post.ID, nil, "two")
	if err := f.comments.Delete(bob, c1.ID); err != nil {
		t.Fatal(err)
	}
	f.comment(t, bob, post.ID, nil, "three")
	var seqs []int64
	aliceID := model.UserFrom(alice).ID
	if err := f.db.Raw("SELECT seq FROM notifications WHERE user_id = ? ORDER BY id", aliceID).Scan(&seqs).Error; err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seqs) != "[2 3]" {
		t.Fatalf("seqs after deleting the first comment = %v, want [2 3]", seqs)
	}
	head, err := f.notes.NotificationHead(context.Background(), aliceID)
	if err != nil || head.Seq != 3 || head.Unread != 2 {
		t.Fatalf("head = %+v, %v; want seq 3, unread 2", head, err)
	}
}

// TestResumeNeverSkips has writers on different posts notify one user at
// once while a reader resumes by id as a reconnecting client does. Every
// notification must be seen: none may commit after a larger id was read.
func TestResumeNeverSkips(t *testing.T) {
	t.Parallel()
	f := newNotesFixture(t)
	f.as(t, "target")
	target := f.users["target"].ID
	writers, each := 12, 10
	if f.db.Driver == "sqlite" {
		// SQLite runs one writer at a time, so the interleaving this test
		// hunts cannot happen there; a short run checks the plumbing.
		writers, each = 4, 5
	}
	ctxs := make([]context.Context, writers)
	posts := make([]*model.Post, writers)
	for i := range writers {
		ctxs[i] = f.as(t, fmt.Sprintf("writer%02d", i))
		posts[i] = f.post(t, ctxs[i], "own post")
	}

	var wg sync.WaitGroup
	done := make(chan struct{})
	for i := range writers {
		wg.Go(func() {
			for k := range each {
				// Each writer comments on its own post, so only the
				// recipient's lock orders these transactions.
				if _, err := f.comments.Create(ctxs[i], posts[i].ID, service.CommentInput{Body: fmt.Sprintf("@target %d", k)}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()

	seen := map[int64]bool{}
	var after int64
	read := func() {
		list, err := f.notes.NotificationsAfter(context.Background(), target, after, 500)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range list {
			seen[n.ID] = true
			after = n.ID
		}
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		read()
	}
	read()
	rows := f.rowsOf(t, target)
	if len(rows) != writers*each {
		t.Fatalf("%d notifications, want %d", len(rows), writers*each)
	}
	for _, n := range rows {
		if !seen[n.ID] {
			t.Errorf("notification %d was skipped by a reader resuming by id", n.ID)
		}
	}
}

// TestPublishWithoutCount: when the unread count cannot be read after the
// commit, the notification is still published, with -1 for the count, so
// that the hub has the connections read it from the database rather than
// dropping the live push.
func TestPublishWithoutCount(t *testing.T) {
	f := newNotesFixture(t)
	alice, bob := f.as(t, "alice"), f.as(t, "bob")
	p := f.post(t, alice, "post")
	f.pub.take()

	var failCounts atomic.Bool
	err := f.db.Callback().Query().After("gorm:query").Register("test:fail_unread_counts", func(tx *gorm.DB) {
		if failCounts.Load() && tx.Statement.Table == "notifications" && strings.Contains(tx.Statement.SQL.String(), "is_read") {
			_ = tx.AddError(errors.New("injected failure"))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	failCounts.Store(true)
	c := f.comment(t, bob, p.ID, nil, "first!")
	failCounts.Store(false)

	got := f.pub.take()
	if len(got) != 1 || got[0].kind != "notification" || got[0].n.CommentID == nil || *got[0].n.CommentID != c.ID || got[0].unread != -1 {
		t.Fatalf("published %+v, want the notification of comment %d with unread -1", got, c.ID)
	}
	if !strings.Contains(f.logs.String(), "unread count for publishing") {
		t.Errorf("the failed count was not logged:\n%s", f.logs.String())
	}
}

// TestMissedNotifications reads several users' ranges at once: each range
// gets its user's notifications above AfterID up to UpToSeq, oldest first,
// with actors and the user's unread count; a range with nothing in it
// still gets its head, and a hole left by a deleted comment is skipped.
func TestMissedNotifications(t *testing.T) {
	t.Parallel()
	f := newNotesFixture(t)
	alice, bob, carol := f.as(t, "alice"), f.as(t, "bob"), f.as(t, "carol")
	aliceID, bobID, carolID := model.UserFrom(alice).ID, model.UserFrom(bob).ID, model.UserFrom(carol).ID
	alicePost, bobPost := f.post(t, alice, "alice's"), f.post(t, bob, "bob's")
	f.comment(t, carol, alicePost.ID, nil, "a1")
	a2 := f.comment(t, carol, alicePost.ID, nil, "a2")
	f.comment(t, carol, alicePost.ID, nil, "a3")
	f.comment(t, carol, alicePost.ID, nil, "a4") // seq 4: beyond the range
	f.comment(t, carol, bobPost.ID, nil, "b1")
	if err := f.comments.Delete(carol, a2.ID); err != nil {
		t.Fatal(err)
	}
	aliceRows := f.rowsOf(t, aliceID) // seqs 1, 3, 4 remain

	got, err := f.notes.MissedNotifications(context.Background(), []model.NotificationRange{
		{UserID: aliceID, AfterID: 0, UpToSeq: 3},
		{UserID: bobID, AfterID: 0, UpToSeq: 1},
		{UserID: carolID, AfterID: 0, UpToSeq: 0},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].UserID != aliceID || got[1].UserID != bobID || got[2].UserID != carolID {
		t.Fatalf("got %+v, want one answer per range, in order", got)
	}
	var ids []int64
	for _, n := range got[0].List {
		ids = append(ids, n.ID)
		if n.Actor == nil || n.Actor.ID != carolID {
			t.Errorf("notification %d: actor %+v, want carol", n.ID, n.Actor)
		}
	}
	if want := []int64{aliceRows[0].ID, aliceRows[1].ID}; !slices.Equal(ids, want) {
		t.Fatalf("alice's missed ids = %v, want %v (seq 1 and 3; 2 deleted, 4 past the range)", ids, want)
	}
	if h := got[0].Head; h.Seq != 3 || h.LastID != aliceRows[1].ID || h.Unread != 3 {
		t.Fatalf("alice's head = %+v, want seq 3, last id %d, unread 3", h, aliceRows[1].ID)
	}
	if len(got[1].List) != 1 || got[1].Head.Unread != 1 {
		t.Fatalf("bob's = %+v, want one notification, unread 1", got[1])
	}
	if len(got[2].List) != 0 || got[2].Head != (model.NotificationHead{}) {
		t.Fatalf("carol's = %+v, want nothing", got[2])
	}

	// AfterID cuts the front of a range.
	got, err = f.notes.MissedNotifications(context.Background(), []model.NotificationRange{{UserID: aliceID, AfterID: aliceRows[0].ID, UpToSeq: 4}})
	if err != nil || len(got) != 1 || len(got[0].List) != 2 || got[0].List[0].ID != aliceRows[1].ID {
		t.Fatalf("after the first: %+v, %v; want seq 3 and 4", got, err)
	}
	if none, err := f.notes.MissedNotifications(context.Background(), nil); err != nil || none != nil {
		t.Fatalf("no ranges: %v, %v", none, err)
	}
}
