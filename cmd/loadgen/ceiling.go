package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

// dbCeiling runs the statements the server makes for a reply and for a
// thread page straight through database/sql: no HTTP, no JSON, no ORM, no
// authentication beyond the user lookup the server makes too. --workers
// goroutines run each as fast as the database answers, for --duration
// each. The rates are the most the database could give the server on this
// machine; set beside the server's own scenarios (bench.sh compare), they
// say how much of the cost is the server's.
//
// The SQL is the server's as MariaDB's general log shows it for one
// POST /posts/{id}/comments on another user's post (six round trips:
// two reads, then BEGIN, the locking read, the writes in one
// multi-statement query and COMMIT; the counts that go out with the push
// are the locking read's, plus the new notification) and one
// GET /posts/{id}/comments
// (six when the page cache misses, two when it serves the page). Keep them
// in step when the server's statements change.
func (r *runner) dbCeiling(ctx context.Context) error {
	db, err := r.ceilingDB()
	if err != nil {
		return err
	}
	defer db.Close()
	targets := make([]user, 0, len(r.all))
	for _, u := range r.all {
		if u.postID != 0 && u.postID != r.cfg.postID {
			targets = append(targets, u)
		}
	}
	if len(targets) == 0 {
		return errors.New("no seeded user has a post of their own: seed with --posts")
	}

	reply := func(ctx context.Context) error {
		target := targets[rand.IntN(len(targets))]
		return replyStatements(ctx, db, r.randomUserBut(target.id).id, target)
	}
	r.rep.rows = append(r.rep.rows, r.ceilingPhase(ctx, "db-ceiling: reply (6 round trips, the writes in one)", reply))
	if r.cfg.postID > 0 {
		page := func(ctx context.Context) error {
			return threadPageStatements(ctx, db, r.all[rand.IntN(len(r.all))].id, r.cfg.postID)
		}
		r.rep.rows = append(r.rep.rows, r.ceilingPhase(ctx, "db-ceiling: thread page (6 statements)", page))
		ids, authors, err := firstPage(ctx, db, r.cfg.postID)
		if err != nil {
			return err
		}
		cached := func(ctx context.Context) error {
			return cachedPageStatements(ctx, db, r.all[rand.IntN(len(r.all))].id, r.cfg.postID, ids, authors)
		}
		r.rep.rows = append(r.rep.rows, r.ceilingPhase(ctx, "db-ceiling: thread page from the cache (2 statements)", cached))
	}
	r.rep.notes = append(r.rep.notes, fmt.Sprintf("%d workers, %s each, through database/sql", r.cfg.workers, r.cfg.duration))
	return errContext(ctx.Err())
}

// ceilingDB opens the database of --dsn for --workers connections, for a
// run that has no sockets: the database alone.
func (r *runner) ceilingDB() (*sql.DB, error) {
	r.rep.conns = 0
	return openCeilingDB(r.cfg.dsn, r.cfg.workers)
}

// openCeilingDB opens the database at dsn as the server does: client-side
// argument interpolation (one round trip a statement) and times parsed. The
// address must be on this machine's loopback, as every target of this tool.
func openCeilingDB(dsn string, workers int) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("--dsn: %w", err)
	}
	if cfg.Net == "tcp" {
		host, _, err := net.SplitHostPort(cfg.Addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("--dsn: %s is not a loopback address", cfg.Addr)
		}
	} else if cfg.Net != "unix" {
		return nil, fmt.Errorf("--dsn: network %q: want tcp on the loopback, or unix", cfg.Net)
	}
	cfg.InterpolateParams = true
	cfg.MultiStatements = true
	cfg.ParseTime = true
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("--dsn: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(workers)
	db.SetMaxIdleConns(workers)
	return db, nil
}

// ceilingPhase runs op on --workers goroutines until --duration has passed
// and returns its row: how many completed, at what rate and latency.
// Failed runs are counted as errors and not timed.
func (r *runner) ceilingPhase(ctx context.Context, name string, op func(context.Context) error) row {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.duration)
	defer cancel()
	var lat latencies
	p := startProgress(r.log, r.cfg.progress, "ceiling", func() string {
		return fmt.Sprintf("%s: %d done, %d errors", name, lat.len(), r.errCount.Load())
	})
	defer p.end()
	start := time.Now()
	var wg sync.WaitGroup
	for range r.cfg.workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				t := time.Now()
				if err := op(ctx); err != nil {
					if ctx.Err() == nil {
						r.failed(err)
					}
					continue
				}
				lat.add(time.Since(t))
			}
		})
	}
	wg.Wait()
	return row{name: name, sum: lat.summary(), elapsed: time.Since(start)}
}

// replyStatements is one reply by actorID on target's post, as the server
// makes it: the signed-in user; before the transaction, in one statement,
// the post, the mute of its author, the actor's level and whether someone
// else watches it; then one transaction that locks the post and both
// users and reads their blocks of the actor (one statement), then in one
// query inserts the comment, makes the actor watch the post, moves the
// post's counters, inserts the post author's notification and moves their
// sequence and, when someone else watches, writes the fan-out's outbox
// row. The counts that go out with the push are those the locking read
// took, plus the new notification: no statement after the commit.
func replyStatements(ctx context.Context, db *sql.DB, actorID int64, target user) error {
	if err := scanAll(ctx, db, "SELECT * FROM `users` WHERE `users`.`id` = ? LIMIT 1", actorID); err != nil {
		return err
	}
	var authorID, hidden, parentPost, root, parentAuthor, parentHidden sql.NullInt64
	var parentDeleted, muted, leveled, watched bool
	var username, displayName sql.NullString
	err := db.QueryRowContext(ctx, `SELECT p.author_id, p.hidden,
	c.post_id, c.root_id, c.author_id, c.hidden, c.deleted_at IS NOT NULL, a.username, a.display_name,
	EXISTS (SELECT 1 FROM post_subscriptions s
		WHERE s.post_id = p.id AND s.user_id = COALESCE(c.author_id, p.author_id) AND s.level = ?),
	EXISTS (SELECT 1 FROM post_subscriptions s WHERE s.post_id = p.id AND s.user_id = ?),
	EXISTS (SELECT 1 FROM post_subscriptions s
		WHERE s.post_id = p.id AND s.level = ? AND s.user_id NOT IN (?, COALESCE(c.author_id, p.author_id)))
FROM posts p LEFT JOIN comments c ON c.id = ? LEFT JOIN users a ON a.id = c.author_id
WHERE p.id = ? AND p.deleted_at IS NULL`, "muted", actorID, "watching", actorID, 0, target.postID).Scan(
		&authorID, &hidden, &parentPost, &root, &parentAuthor, &parentHidden, &parentDeleted, &username, &displayName,
		&muted, &leveled, &watched)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	now := time.Now().UTC()
	body := "db-ceiling reply"
	var seq int64
	rows, err := tx.QueryContext(ctx, "(SELECT 0, author_id, hidden, last_comment_id, 0, 0 FROM posts WHERE id = ? AND deleted_at IS NULL FOR UPDATE) "+
		"UNION ALL (SELECT 1, users.id, users.notification_seq, user_blocks.user_id, users.unread_notifications, users.unseen_notifications FROM users "+
		"LEFT JOIN user_blocks ON user_blocks.user_id = users.id AND user_blocks.blocked_id = ? WHERE users.id IN (?, ?) FOR UPDATE)",
		target.postID, actorID, target.id, actorID)
	if err != nil {
		return err
	}
	for rows.Next() {
		var kind, a, b, unread, unseen int64
		var c sql.NullInt64
		if err := rows.Scan(&kind, &a, &b, &c, &unread, &unseen); err != nil {
			rows.Close()
			return err
		}
		if kind == 1 && a == target.id {
			seq = b
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	// The writes in one multi-statement query, as the server sends them
	// to MySQL (service.Comments.writeBatch). body_html is body as the
	// server renders it, at the renderer's version 2
	// (service/markdown.Version).
	var q strings.Builder
	q.WriteString("INSERT INTO comments (post_id, parent_id, root_id, author_id, reply_to_user_id, " +
		"body, body_html, body_html_version, spoiler, hidden, like_count, reply_count, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?);\n" +
		"SET @discuss_comment = LAST_INSERT_ID();\n")
	args := []any{target.postID, nil, nil, actorID, nil, body, "<p>" + body + "</p>\n", 2, false, false, now}
	if !leveled {
		q.WriteString("INSERT INTO post_subscriptions (post_id, user_id, level, explicit, updated_at) VALUES (?, ?, ?, ?, ?) " +
			"ON DUPLICATE KEY UPDATE post_id = post_id;\n")
		args = append(args, target.postID, actorID, "watching", false, now)
	}
	q.WriteString("UPDATE posts SET comment_count = comment_count + 1, last_activity_at = ?, " +
		"last_comment_id = @discuss_comment, thread_version = thread_version + 1 WHERE id = ?;\n" +
		"INSERT INTO notifications (user_id, seq, type, actor_id, post_id, comment_id, excerpt, is_read, created_at) " +
		"VALUES (?, ?, ?, ?, ?, @discuss_comment, ?, ?, ?);\nSET @discuss_notification0 = LAST_INSERT_ID();\n" +
		"UPDATE users FORCE INDEX (PRIMARY) SET notification_seq = notification_seq + 1, " +
		"unread_notifications = unread_notifications + 1, unseen_notifications = unseen_notifications + 1 WHERE id IN (?);\n")
	args = append(args, now, target.postID, target.id, seq+1, "post_comment", actorID, target.postID, body, false, now, target.id)
	if watched {
		q.WriteString("INSERT INTO fanout_outbox (post_id, comment_id, actor_id, skip_user_ids, after_user_id, created_at) " +
			"VALUES (?, @discuss_comment, ?, ?, 0, ?);\n")
		args = append(args, target.postID, actorID, fmt.Sprint(target.id), now)
	}
	q.WriteString("SELECT @discuss_comment, @discuss_notification0")
	var commentID, notificationID int64
	if err := tx.QueryRowContext(ctx, q.String(), args...).Scan(&commentID, &notificationID); err != nil {
		return err
	}
	return tx.Commit()
}

// threadPageStatements is one first page of postID's comments as viewerID
// reads it: the signed-in user, the post's existence, 20 top-level
// comments (and one more to know whether a next page exists), the first
// three replies of each in one UNION, their authors, and which the viewer
// liked.
func threadPageStatements(ctx context.Context, db *sql.DB, viewerID, postID int64) error {
	if err := scanAll(ctx, db, "SELECT * FROM `users` WHERE `users`.`id` = ? LIMIT 1", viewerID); err != nil {
		return err
	}
	if err := scanAll(ctx, db, "SELECT `id` FROM `posts` WHERE deleted_at IS NULL AND `posts`.`id` = ? LIMIT 1", postID); err != nil {
		return err
	}
	top, authors, err := commentRows(ctx, db, "SELECT * FROM `comments` WHERE post_id = ? AND root_id IS NULL AND (comments.deleted_at IS NULL OR (comments.root_id IS NULL AND comments.reply_count > 0)) ORDER BY id LIMIT 21", postID)
	if err != nil || len(top) == 0 {
		return err
	}
	top = top[:min(len(top), 20)]
	members := make([]string, len(top))
	args := make([]any, len(top))
	for i, id := range top {
		members[i] = "(SELECT * FROM comments WHERE root_id = ? AND deleted_at IS NULL ORDER BY id LIMIT 3)"
		args[i] = id
	}
	replies, replyAuthors, err := commentRows(ctx, db, strings.Join(members, " UNION ALL "), args...)
	if err != nil {
		return err
	}
	// Like the server, look each author up once.
	authors = append(authors, replyAuthors...)
	slices.Sort(authors)
	if authors = slices.Compact(authors); len(authors) > 0 {
		if err := scanAll(ctx, db, "SELECT `id`,`username`,`display_name` FROM `users` WHERE id IN ("+placeholders(len(authors))+")", asArgs(authors)...); err != nil {
			return err
		}
	}
	ids := append(top, replies...)
	return scanAll(ctx, db, "SELECT `comment_id` FROM `comment_likes` WHERE user_id = ? AND comment_id IN ("+placeholders(len(ids))+")",
		append([]any{viewerID}, asArgs(ids)...)...)
}

// firstPage returns the ids of the first page's comments and replies of
// post postID, and their authors, once each: what the server's page cache
// keeps of them.
func firstPage(ctx context.Context, db *sql.DB, postID int64) (ids, authors []int64, err error) {
	top, authors, err := commentRows(ctx, db, "SELECT id, author_id FROM comments WHERE post_id = ? AND root_id IS NULL AND deleted_at IS NULL ORDER BY id LIMIT 20", postID)
	if err != nil || len(top) == 0 {
		return nil, nil, fmt.Errorf("the first page of post %d: %d comments, %v", postID, len(top), err)
	}
	members := make([]string, len(top))
	for i := range top {
		members[i] = "(SELECT id, author_id FROM comments WHERE root_id = ? AND deleted_at IS NULL ORDER BY id LIMIT 3)"
	}
	replies, replyAuthors, err := commentRows(ctx, db, strings.Join(members, " UNION ALL "), asArgs(top)...)
	if err != nil {
		return nil, nil, err
	}
	authors = append(authors, replyAuthors...)
	slices.Sort(authors)
	return append(top, replies...), slices.Compact(authors), nil
}

// cachedPageStatements is a thread page the server serves from its page
// cache (service/comments_cache.go): the token's user, then the post's
// versions with the reader's likes and blocks in one statement.
func cachedPageStatements(ctx context.Context, db *sql.DB, viewerID, postID int64, ids, authors []int64) error {
	if err := scanAll(ctx, db, "SELECT * FROM `users` WHERE `users`.`id` = ? LIMIT 1", viewerID); err != nil {
		return err
	}
	args := append([]any{postID, false, postID, viewerID}, asArgs(ids)...)
	args = append(append(args, viewerID), asArgs(authors)...)
	return scanAll(ctx, db, "SELECT 0, thread_version FROM posts WHERE id = ? AND deleted_at IS NULL AND hidden = ?"+
		" UNION ALL SELECT 1, version FROM thread_like_versions WHERE post_id = ?"+
		" UNION ALL SELECT 3, comment_id FROM comment_likes WHERE user_id = ? AND comment_id IN ("+placeholders(len(ids))+")"+
		" UNION ALL SELECT 4, blocked_id FROM user_blocks WHERE user_id = ? AND blocked_id IN ("+placeholders(len(authors))+")", args...)
}

// placeholders returns n comma-separated question marks, n > 0.
func placeholders(n int) string { return "?" + strings.Repeat(",?", n-1) }

// querier is what scanAll reads through: the pool or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// scanAll runs query and reads every column of every row into raw bytes,
// as cheap as reading a row gets.
func scanAll(ctx context.Context, q querier, query string, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	raw := make([]sql.RawBytes, len(cols))
	dest := make([]any, len(cols))
	for i := range raw {
		dest[i] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
	}
	return rows.Err()
}

// commentRows runs a query of whole comment rows and returns their ids and
// authors, reading every column as scanAll does.
func commentRows(ctx context.Context, db *sql.DB, query string, args ...any) (ids, authors []int64, err error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, err
	}
	raw := make([]sql.RawBytes, len(cols))
	dest := make([]any, len(cols))
	var id, author sql.NullInt64
	for i, c := range cols {
		switch c {
		case "id":
			dest[i] = &id
		case "author_id":
			dest[i] = &author
		default:
			dest[i] = &raw[i]
		}
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, err
		}
		ids = append(ids, id.Int64)
		if author.Valid {
			authors = append(authors, author.Int64)
		}
	}
	return ids, authors, rows.Err()
}

func asArgs(ids []int64) []any {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return args
}
