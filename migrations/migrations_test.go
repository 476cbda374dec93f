package migrations_test

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"testing"

	"github.com/quizsite/discuss/migrations"
	"github.com/quizsite/discuss/service/dbtest"
)

// tables is the schema the contract needs; every one must come and go with
// the migrations.
var tables = []string{"users", "posts", "comments", "post_likes", "comment_likes", "post_subscriptions", "fanout_outbox", "notifications", "announcements",
	"post_like_notices", "comment_like_notices"}

// eachDialect runs test twice, each time on a fresh empty database: on the
// configured one (MySQL when DISCUSS_TEST_MYSQL_DSN is set or a container
// can be had, else SQLite), so that CI covers the MySQL migrations, and on
// SQLite whatever MySQL is available, so that CI covers the SQLite ones too.
func eachDialect(t *testing.T, test func(t *testing.T, db *dbtest.DB)) {
	t.Helper()
	for _, d := range []struct {
		name string
		open func(testing.TB) *dbtest.DB
	}{
		{"configured", dbtest.OpenEmpty},
		{"sqlite", dbtest.OpenEmptySQLite},
	} {
		t.Run(d.name, func(t *testing.T) { test(t, d.open(t)) })
	}
}

// TestUpDownUp: every migration goes up, down and up again, on both
// dialects.
func TestUpDownUp(t *testing.T) {
	eachDialect(t, upDownUp)
}

// migrator returns db's connection pool and a Migrator over it.
func migrator(t *testing.T, db *dbtest.DB) (*sql.DB, *migrations.Migrator) {
	t.Helper()
	sqlDB, err := db.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrations.New(sqlDB, db.Driver)
	if err != nil {
		t.Fatal(err)
	}
	return sqlDB, m
}

func upDownUp(t *testing.T, db *dbtest.DB) {
	ctx := context.Background()
	_, m := migrator(t, db)
	assertTables := func(want bool) {
		t.Helper()
		for _, table := range tables {
			if got := db.Migrator().HasTable(table); got != want {
				t.Errorf("table %s exists: %v, want %v", table, got, want)
			}
		}
	}
	assertPending := func(want bool) {
		t.Helper()
		pending, err := m.Pending(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if pending != want {
			t.Fatalf("pending: %v, want %v", pending, want)
		}
	}

	assertPending(true)
	steps, err := m.Up(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) == 0 || steps[0].Version != 1 {
		t.Fatalf("up applied %+v", steps)
	}
	assertTables(true)
	assertPending(false)

	status, err := m.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range status {
		if !s.Applied || !s.AppliedAt.Valid {
			t.Errorf("after up, %+v is not applied", s)
		}
	}

	if steps, err := m.Up(ctx); err != nil || len(steps) != 0 {
		t.Fatalf("second up: %+v %v", steps, err)
	}

	for range status {
		if _, ok, err := m.Down(ctx); err != nil || !ok {
			t.Fatalf("down: %v %v", ok, err)
		}
	}
	assertTables(false)
	assertPending(true)
	if _, ok, err := m.Down(ctx); err != nil || ok {
		t.Fatalf("down with nothing applied: ok=%v err=%v", ok, err)
	}

	if _, err := m.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	assertTables(true)
}

func TestUnknownDriver(t *testing.T) {
	if _, err := migrations.New(nil, "oracle"); err == nil {
		t.Fatal("want an error for an unknown driver")
	}
}

// TestUsersCompareExactly: after the migrations, users are found by
// username_key, which tells apart what MariaDB's utf8mb4_unicode_ci (and
// the PAD SPACE of utf8mb4_bin) folded together, and keeps one account per
// name regardless of ASCII case; the external issuer's subjects are
// compared byte for byte.
func TestUsersCompareExactly(t *testing.T) {
	db := dbtest.Open(t)
	insert := func(username string, subject any) error {
		return db.Exec("INSERT INTO users (username, display_name, role, issuer, subject, created_at) VALUES (?, ?, 'user', ?, ?, ?)",
			username, username, "https://quiz.example.com", subject, "2026-01-02 03:04:05").Error
	}
	if err := insert("Bob_Vict2", "abc"); err != nil {
		t.Fatal(err)
	}
	count := func(where string, arg string) int64 {
		var n int64
		if err := db.Raw("SELECT COUNT(*) FROM users WHERE "+where, arg).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	for key, want := range map[string]int64{"bob_vict2": 1, "bob_vict2 ": 0, "bób_vict2": 0, "ｂｏｂ_ｖｉｃｔ２": 0, "Bob_Vict2": 0} {
		if got := count("username_key = ?", key); got != want {
			t.Errorf("username_key = %q: %d users, want %d", key, got, want)
		}
	}
	for subject, want := range map[string]int64{"abc": 1, "ABC": 0, "abc ": 0, "àbc": 0} {
		if got := count("subject = ?", subject); got != want {
			t.Errorf("subject = %q: %d users, want %d", subject, got, want)
		}
	}
	if err := insert("BOB_VICT2", nil); err == nil {
		t.Error("BOB_VICT2 registered beside Bob_Vict2")
	}
	for i, subject := range []string{"ABC", "abc "} {
		if err := insert("other_"+strconv.Itoa(i), subject); err != nil {
			t.Errorf("subject %q beside abc: %v", subject, err)
		}
	}
}

// TestLevelsMigrated puts data in the schema of 00003 (a post, a comment on
// it by another user, mutes of both kinds of user), migrates up, and
// checks the levels 00004 made of them: authors and commenters watch by
// default, mutes are explicit muted levels. Down brings the mutes back.
func TestLevelsMigrated(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		const at = "2026-01-02 03:04:05"
		m := db.MigrateTo(t, 3,
			"INSERT INTO users (id, username, display_name, role, created_at) VALUES (1, 'ann', 'Ann', 'user', '"+at+"'), (2, 'ben', 'Ben', 'user', '"+at+"'), (3, 'cat', 'Cat', 'user', '"+at+"'), (4, 'dan', 'Dan', 'user', '"+at+"')",
			"INSERT INTO posts (id, author_id, title, body, created_at, updated_at, last_activity_at) VALUES (1, 1, 't', 'b', '"+at+"', '"+at+"', '"+at+"')",
			"INSERT INTO comments (id, post_id, author_id, body, created_at) VALUES (1, 1, 2, 'c', '"+at+"'), (2, 1, 2, 'd', '"+at+"'), (3, 1, 3, 'e', '"+at+"')",
			// ann (the author) and cat (a commenter) muted it, and so did
			// dan, who never took part.
			"INSERT INTO post_mutes (post_id, user_id, created_at) VALUES (1, 1, '"+at+"'), (1, 3, '"+at+"'), (1, 4, '"+at+"')",
		)
		if _, err := m.UpTo(ctx, 5); err != nil {
			t.Fatal(err)
		}
		type level struct {
			UserID   int64
			Level    string
			Explicit bool
		}
		var got []level
		if err := db.Raw("SELECT user_id, level, explicit FROM post_subscriptions WHERE post_id = 1 ORDER BY user_id").Scan(&got).Error; err != nil {
			t.Fatal(err)
		}
		want := []level{{1, "muted", true}, {2, "watching", false}, {3, "muted", true}, {4, "muted", true}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("levels after up: %v, want %v", got, want)
		}
		// Down to 00003: the newest first, 00004 last.
		for {
			step, ok, err := m.Down(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !ok || step.Version == 4 {
				break
			}
		}
		var muted []int64
		if err := db.Raw("SELECT user_id FROM post_mutes WHERE post_id = 1 ORDER BY user_id").Scan(&muted).Error; err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(muted) != "[1 3 4]" {
			t.Errorf("mutes after down: %v, want [1 3 4]", muted)
		}
	})
}

// TestSeenMarkAndLikeNoticesMigrate: migration 5 starts each user's seen
// mark just below their oldest unread notification (at their newest when
// none is unread), so the badge shows what it showed before, and counts
// every existing like but one's own as notified.
func TestSeenMarkAndLikeNoticesMigrate(t *testing.T) {
	ctx := context.Background()
	db := dbtest.OpenEmpty(t)
	sqlDB, m := migrator(t, db)
	if _, err := m.UpTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	at := "2026-01-02 03:04:05"
	for _, stmt := range []string{
		"INSERT INTO users (id, username, display_name, role, created_at) VALUES (1, 'alice', '', 'user', '" + at + "'), (2, 'bob', '', 'user', '" + at + "'), (3, 'carol', '', 'user', '" + at + "')",
		"INSERT INTO posts (id, author_id, title, body, created_at, updated_at, last_activity_at) VALUES (1, 1, 't', 'b', '" + at + "', '" + at + "', '" + at + "')",
		"INSERT INTO comments (id, post_id, author_id, body, created_at) VALUES (1, 1, 2, 'c', '" + at + "')",
		"INSERT INTO post_likes (post_id, user_id, created_at) VALUES (1, 1, '" + at + "'), (1, 2, '" + at + "')",
		"INSERT INTO comment_likes (comment_id, user_id, created_at) VALUES (1, 1, '" + at + "'), (1, 2, '" + at + "')",
		"INSERT INTO notifications (id, user_id, type, excerpt, is_read, created_at, seq) VALUES " +
			"(1, 1, 'post_comment', '', TRUE, '" + at + "', 1), (2, 1, 'post_comment', '', FALSE, '" + at + "', 2), " +
			"(3, 1, 'post_comment', '', TRUE, '" + at + "', 3), (4, 2, 'mention', '', TRUE, '" + at + "', 1)",
	} {
		if err := db.Exec(stmt).Error; err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatal(err)
	}
	marks := map[int64]int64{}
	rows, err := sqlDB.QueryContext(ctx, "SELECT id, notification_seen_id FROM users")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var id, mark int64
		if err := rows.Scan(&id, &mark); err != nil {
			t.Fatal(err)
		}
		marks[id] = mark
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := map[int64]int64{1: 1, 2: 4, 3: 0}; !maps.Equal(marks, want) {
		t.Errorf("seen marks %v, want %v", marks, want)
	}
	pairs := func(query string) []string {
		var out []string
		if err := db.Raw(query).Scan(&out).Error; err != nil {
			t.Fatal(err)
		}
		return out
	}
	concat := "CONCAT(%s, '/', user_id)"
	if db.Driver == migrations.SQLite {
		concat = "%s || '/' || user_id"
	}
	if got := pairs("SELECT " + fmt.Sprintf(concat, "post_id") + " FROM post_like_notices"); !slices.Equal(got, []string{"1/2"}) {
		t.Errorf("post like notices %v, want bob's alone", got)
	}
	if got := pairs("SELECT " + fmt.Sprintf(concat, "comment_id") + " FROM comment_like_notices"); !slices.Equal(got, []string{"1/1"}) {
		t.Errorf("comment like notices %v, want alice's alone", got)
	}
}

// backfill is a migration that adds columns and fills them from the rows
// already there: seeded at version-1, migrated to version, query must
// print want (as fmt.Sprint prints what it scans into a T); its down must
// drop column from table.
type backfill struct {
	version       int64
	seed          []string
	query, want   string
	table, column string
}

func checkBackfill[T any](t *testing.T, db *dbtest.DB, b backfill) {
	t.Helper()
	ctx := context.Background()
	m := db.MigrateTo(t, b.version-1, b.seed...)
	if _, err := m.UpTo(ctx, b.version); err != nil {
		t.Fatal(err)
	}
	var got T
	if err := db.Raw(b.query).Scan(&got).Error; err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != b.want {
		t.Errorf("%s: %v, want %s", b.query, got, b.want)
	}
	if step, ok, err := m.Down(ctx); err != nil || !ok || step.Version != b.version {
		t.Fatalf("down: %+v %v %v", step, ok, err)
	}
	if err := db.Exec("SELECT " + b.column + " FROM " + b.table).Error; err == nil {
		t.Errorf("%s.%s outlived its migration's down", b.table, b.column)
	}
}

// TestLastCommentMigrated: migration 6 gives each post the id of its newest
// comment, deleted or not (0 without any), which new comments then move;
// down drops it.
func TestLastCommentMigrated(t *testing.T) {
	const at = "2026-01-02 03:04:05"
	eachDialect(t, func(t *testing.T, db *dbtest.DB) {
		checkBackfill[[]int64](t, db, backfill{
			version: 6,
			seed: []string{
				"INSERT INTO users (id, username, display_name, role, created_at) VALUES (1, 'ann', 'Ann', 'user', '" + at + "')",
				"INSERT INTO posts (id, author_id, title, body, created_at, updated_at, last_activity_at) VALUES (1, 1, 't', 'b', '" + at + "', '" + at + "', '" + at + "'), (2, 1, 't', 'b', '" + at + "', '" + at + "', '" + at + "')",
				"INSERT INTO comments (id, post_id, author_id, body, created_at) VALUES (1, 1, 1, 'c', '" + at + "'), (3, 1, 1, 'd', '" + at + "')",
				"INSERT INTO comments (id, post_id, author_id, body, created_at, deleted_at) VALUES (4, 1, 1, 'gone', '" + at + "', '" + at + "')",
			},
			query: "SELECT last_comment_id FROM posts ORDER BY id",
			want:  "[4 0]",
			table: "posts", column: "last_comment_id",
		})
	})
}

// TestNotificationCountsMigrated: migration 11 stores each user's unread
// and unseen counts, counted from the rows already there (unseen: above
// the user's seen mark, read or not); down drops them.
func TestNotificationCountsMigrated(t *testing.T) {
	const at = "2026-01-02 03:04:05"
	eachDialect(t, func(t *testing.T, db *dbtest.DB) {
		checkBackfill[[]struct{ ID, UnreadNotifications, UnseenNotifications int64 }](t, db, backfill{
			version: 11,
			seed: []string{
				"INSERT INTO users (id, username, display_name, role, created_at, notification_seen_id) VALUES " +
					"(1, 'ann', '', 'user', '" + at + "', 2), (2, 'bob', '', 'user', '" + at + "', 0), (3, 'cy', '', 'user', '" + at + "', 0)",
				"INSERT INTO notifications (id, user_id, type, excerpt, is_read, created_at, seq) VALUES " +
					"(1, 1, 'system', '', TRUE, '" + at + "', 1), (2, 1, 'system', '', FALSE, '" + at + "', 2), " +
					"(3, 1, 'system', '', TRUE, '" + at + "', 3), (4, 1, 'system', '', FALSE, '" + at + "', 4), " +
					"(5, 2, 'system', '', FALSE, '" + at + "', 1)",
			},
			// (id, unread, unseen) per user
			query: "SELECT id, unread_notifications, unseen_notifications FROM users ORDER BY id",
			want:  "[{1 2 2} {2 1 1} {3 0 0}]",
			table: "users", column: "unread_notifications",
		})
	})
}
