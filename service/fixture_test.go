package service_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
	"github.com/quizsite/discuss/service/dbtest"
)

// fixture is the services over a fresh database, wired as cmd wires them,
// with a recording publisher and a captured log. It is the one set-up of
// this package's tests: tests that need more (offline delivery, a grouped
// history) build on it.
type fixture struct {
	db       *dbtest.DB
	pub      *recorder
	notes    *service.Notifications
	store    *service.NotificationStore
	posts    *service.Posts
	comments *service.Comments
	users    map[string]*model.User
	hooks    int // hooks registered, which names the next
	// logs is written through slog's TextHandler, which serialises its
	// writes; tests read it only after the calls that log have returned.
	logs *bytes.Buffer
}

// newFixture runs the test in parallel with the package's other parallel
// tests, over a fresh migrated database of its own.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	t.Parallel()
	return fixtureOn(t, dbtest.Open(t))
}

// fixtureOn is the fixture over db, for a test that does not run in
// parallel (one that times its work, or starts servers on ports it picked,
// which a parallel test could take first) or that makes its database
// itself (migrated part way).
func fixtureOn(t testing.TB, db *dbtest.DB) *fixture {
	t.Helper()
	f := &fixture{db: db, pub: &recorder{db: db.DB}, logs: &bytes.Buffer{}, users: map[string]*model.User{}}
	f.wire(f.pub)
	t.Cleanup(func() { f.countsAgree(t) })
	return f
}

// storedCounts are the rows of users whose stored notification counts are
// not those of their notification rows (the counts columns' test): what
// every change to notifications must keep empty.
const storedCounts = `SELECT u.id, u.unread_notifications, u.unseen_notifications,
	(SELECT COUNT(*) FROM notifications n WHERE n.user_id = u.id AND n.is_read = ?) AS unread,
	(SELECT COUNT(*) FROM notifications n WHERE n.user_id = u.id AND n.id > u.notification_seen_id) AS unseen
	FROM users u`

// countsAgree fails t unless every user's stored unread and unseen counts
// are those of their notification rows: the invariant of
// service/notifications_counts.go, checked after every test that uses the
// fixture. A database migrated only part way has no counts to check.
func (f *fixture) countsAgree(t testing.TB) {
	t.Helper()
	if !f.db.Migrator().HasColumn("users", "unread_notifications") {
		return
	}
	var rows []struct{ ID, UnreadNotifications, UnseenNotifications, Unread, Unseen int64 }
	if err := f.db.Raw(storedCounts, false).Scan(&rows).Error; err != nil {
		t.Errorf("stored counts: %v", err)
		return
	}
	for _, r := range rows {
		if r.UnreadNotifications != r.Unread || r.UnseenNotifications != r.Unseen {
			t.Errorf("user %d: stored counts unread %d, unseen %d; the rows say %d and %d",
				r.ID, r.UnreadNotifications, r.UnseenNotifications, r.Unread, r.Unseen)
		}
	}
}

// recount sets every user's stored notification counts from their rows,
// as migration 00011 does, after a test wrote notification rows itself.
func (f *fixture) recount(t testing.TB) {
	t.Helper()
	err := f.db.Exec(`UPDATE users SET
		unread_notifications = (SELECT COUNT(*) FROM notifications n WHERE n.user_id = users.id AND n.is_read = ?),
		unseen_notifications = (SELECT COUNT(*) FROM notifications n WHERE n.user_id = users.id AND n.id > users.notification_seen_id)`, false).Error
	if err != nil {
		t.Fatal(err)
	}
}

// wire makes the services again, publishing through pub, as cmd wires them.
func (f *fixture) wire(pub service.Publisher) {
	f.notes = service.NewNotifications(f.db.DB, pub).WithLogger(slog.New(slog.NewTextHandler(f.logs, nil)))
	f.store = f.notes.Store()
	f.posts = service.NewPosts(f.db.DB, f.notes, nil)
	f.comments = service.NewComments(f.db.DB, f.notes, nil)
}

// as returns a context signed in as name, creating the user with role user
// the first time.
func (f *fixture) as(t testing.TB, name string) context.Context {
	t.Helper()
	return f.asRole(t, name, model.RoleUser)
}

// asRole returns a context signed in as name, creating the user with role
// the first time.
func (f *fixture) asRole(t testing.TB, name, role string) context.Context {
	t.Helper()
	return model.WithUser(context.Background(), f.user(t, name, role))
}

// user returns the user called name, creating them with role the first
// time.
func (f *fixture) user(t testing.TB, name, role string) *model.User {
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

// crowd signs in n users, named by format with their index, and returns
// their contexts in index order.
func (f *fixture) crowd(t testing.TB, format string, n int) []context.Context {
	t.Helper()
	ctxs := make([]context.Context, n)
	for i := range ctxs {
		ctxs[i] = f.as(t, fmt.Sprintf(format, i))
	}
	return ctxs
}

func (f *fixture) post(t testing.TB, ctx context.Context, body string) *model.Post {
	t.Helper()
	p, err := f.posts.Create(ctx, service.PostInput{Title: "a post", Body: body})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// alicePost signs in alice and bob and has alice write a post with body,
// where most notification tests begin.
func (f *fixture) alicePost(t testing.TB, body string) (alice, bob context.Context, p *model.Post) {
	t.Helper()
	alice, bob = f.as(t, "alice"), f.as(t, "bob")
	return alice, bob, f.post(t, alice, body)
}

func (f *fixture) comment(t testing.TB, ctx context.Context, postID int64, parent *model.Comment, body string) *model.Comment {
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
func (f *fixture) rowsOf(t testing.TB, userID int64) []*model.Notification {
	t.Helper()
	var rows []*model.Notification
	if err := f.db.Where("user_id = ?", userID).Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	return rows
}

// countRows counts the rows of model's table that match the condition,
// or all of them when cond is empty.
func (f *fixture) countRows(t testing.TB, m any, cond string, args ...any) int64 {
	t.Helper()
	q := f.db.Model(m)
	if cond != "" {
		q = q.Where(cond, args...)
	}
	var n int64
	if err := q.Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// hook runs fn before gorm runs each statement of kind ("create",
// "query", "delete", "row", the processor Raw statements go through, or
// "raw", Exec's) on
// the fixture's database, until remove is called: a test's way to count
// statements, or to fail them as a broken database would. The database
// goes with the test, and its hooks with it.
func (f *fixture) hook(t testing.TB, kind string, fn func(tx *gorm.DB)) (remove func()) {
	t.Helper()
	f.hooks++
	name := fmt.Sprintf("test:hook%d", f.hooks)
	cb := f.db.Callback()
	var err error
	switch kind {
	case "create":
		err, remove = cb.Create().Before("gorm:create").Register(name, fn), func() { _ = cb.Create().Remove(name) }
	case "query":
		err, remove = cb.Query().Before("gorm:query").Register(name, fn), func() { _ = cb.Query().Remove(name) }
	case "delete":
		err, remove = cb.Delete().Before("gorm:delete").Register(name, fn), func() { _ = cb.Delete().Remove(name) }
	case "row":
		err, remove = cb.Row().Before("gorm:row").Register(name, fn), func() { _ = cb.Row().Remove(name) }
	case "raw":
		err, remove = cb.Raw().Before("gorm:raw").Register(name, fn), func() { _ = cb.Raw().Remove(name) }
	default:
		t.Fatalf("no statements of kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	return remove
}

// failOn makes every statement of kind on table fail with err, as a
// database that breaks there would, until remove is called.
func (f *fixture) failOn(t testing.TB, kind, table string, err error) (remove func()) {
	t.Helper()
	return f.hook(t, kind, func(tx *gorm.DB) {
		if tx.Statement.Table == table {
			_ = tx.AddError(err)
		}
	})
}

// recountOf counts a user's unread notifications straight from the table.
func recountOf(db *gorm.DB, userID int64) int64 {
	var n int64
	db.Raw("SELECT COUNT(*) FROM notifications WHERE user_id = ? AND is_read = ?", userID, false).Scan(&n)
	return n
}

// published is one call the recorder received.
type published struct {
	kind   string // "notification" or "unread_count"
	userID int64
	n      *model.Notification
	unread int64
	unseen int64
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
	// threads holds the live-thread events, apart from the rest.
	threads []*model.ThreadEvent
	// onThread, when set, runs at each live-thread event: a comment's is
	// published between its commit and its notifications'.
	onThread func()
}

func (r *recorder) PublishNotification(ctx context.Context, n *model.Notification, counts model.NotificationCounts) error {
	var rows int64
	r.db.Model(&model.Notification{}).Where("id = ?", n.ID).Count(&rows)
	return r.add(published{kind: "notification", userID: n.UserID, n: n, unread: counts.Unread, unseen: counts.Unseen, committed: rows == 1})
}

func (r *recorder) PublishUnreadCount(ctx context.Context, userID int64, counts model.NotificationCounts) error {
	return r.add(published{kind: "unread_count", userID: userID, unread: counts.Unread, unseen: counts.Unseen, committed: recountOf(r.db, userID) == counts.Unread})
}

func (r *recorder) PublishBroadcast(context.Context, *model.Announcement) error { return nil }
func (r *recorder) PublishUserChanged(context.Context, int64) error             { return nil }

func (r *recorder) PublishThread(_ context.Context, e *model.ThreadEvent) error {
	r.mu.Lock()
	r.threads = append(r.threads, e)
	err, onThread := r.err, r.onThread
	r.mu.Unlock()
	if onThread != nil {
		onThread()
	}
	return err
}

// setOnThread sets onThread.
func (r *recorder) setOnThread(fn func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onThread = fn
}

// takeThreads returns the live-thread events so far and forgets them.
func (r *recorder) takeThreads() []*model.ThreadEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	all := r.threads
	r.threads = nil
	return all
}

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
