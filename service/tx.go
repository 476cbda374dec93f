package service

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/quizsite/discuss/model"
)

// The transaction and row plumbing every service uses: running a
// transaction, taking the post lock that opens the lock order (see the
// package doc), turning "no row" into ENOTFOUND, and the few statements
// posts and comments share.

// txAttempts is how often transact runs a transaction that MySQL keeps
// choosing as a deadlock victim.
const txAttempts = 3

// transact runs fn in a transaction and retries it when MySQL rolled it back
// to break a deadlock (error 1213), which InnoDB's gap locks can cause even
// between writers that lock rows in one order. fn must be safe to run again:
// it must set its results afresh on each run. The error is fn's, or a
// dbError.
func transact(ctx context.Context, db *gorm.DB, fn func(tx *gorm.DB) error) error {
	for attempt := 1; ; attempt++ {
		err := db.WithContext(ctx).Transaction(fn)
		var me *mysql.MySQLError
		if err == nil || attempt == txAttempts || ctx.Err() != nil ||
			!errors.As(err, &me) || me.Number != 1213 {
			return dbError(err)
		}
	}
}

// signedIn returns the user of ctx. The API puts one there for every route
// that reaches a service; a missing user is EUNAUTHENTICATED.
func signedIn(ctx context.Context) (*model.User, error) {
	if u := model.UserFrom(ctx); u != nil {
		return u, nil
	}
	return nil, model.Errorf(model.EUNAUTHENTICATED, "sign in first")
}

// notFound turns "no row" (GORM's or database/sql's) into ENOTFOUND with the message and
// passes any other error through dbError; nil stays nil.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, gorm.ErrRecordNotFound) || errors.Is(err, sql.ErrNoRows) {
		return model.Errorf(model.ENOTFOUND, format, args...)
	}
	return dbError(err)
}

// lockLivePost reads post id into p and locks its row until the transaction
// ends: the first lock of the lock order (see the package doc), so every
// writer of a thread starts here. SQLite has no row locks, but its write
// transactions start with the database's write lock, which serialises
// writers all the same. Errors: ENOTFOUND.
func lockLivePost(tx *gorm.DB, id int64, p *model.Post) error {
	err := tx.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).
		Where("deleted_at IS NULL").Take(p, id).Error
	return notFound(err, "post %d not found", id)
}

// setRow makes row (a like, keyed by its primary key) exist or not
// and returns +1 when it inserted the row, -1 when it deleted it and 0 when
// there was nothing to do. The insert ignores a duplicate key rather than
// failing, so two racing requests of one user both succeed and only the one
// that changed something moves a counter.
func setRow(tx *gorm.DB, row any, exist bool) (int64, error) {
	if exist {
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(row)
		if res.Error != nil {
			return 0, dbError(res.Error)
		}
		return res.RowsAffected, nil
	}
	res := tx.Delete(row)
	if res.Error != nil {
		return 0, dbError(res.Error)
	}
	return -res.RowsAffected, nil
}

// counter is a counter column kept with atomic SQL. Its only values are the
// constants below, so the statements bumpCounter builds name no column but
// these.
type counter uint8

const (
	postLikes      counter = iota + 1 // posts.like_count
	postComments                      // posts.comment_count: live comments and replies
	commentLikes                      // comments.like_count
	commentReplies                    // comments.reply_count: a top-level comment's live replies
)

// column returns c's table and column.
func (c counter) column() (table, column string, err error) {
	switch c {
	case postLikes:
		return "posts", "like_count", nil
	case postComments:
		return "posts", "comment_count", nil
	case commentLikes:
		return "comments", "like_count", nil
	case commentReplies:
		return "comments", "reply_count", nil
	}
	return "", "", fmt.Errorf("service: unknown counter %d", c)
}

// raiseSQL adds its first argument to column of the row of table whose id
// is its second.
func raiseSQL(table, column string) string {
	return "UPDATE " + table + " SET " + column + " = " + column + " + ? WHERE id = ?"
}

// bumpCounter adds delta to counter c of row id with atomic SQL; a
// decrement never takes a counter below zero. The statement is written
// out and run through rawExec, as a new comment's others are
// (comments_sql.go): a reply moves its root's reply_count here too.
func bumpCounter(tx *gorm.DB, c counter, id, delta int64) error {
	if delta == 0 {
		return nil
	}
	table, name, err := c.column()
	if err != nil {
		return err
	}
	if delta > 0 {
		_, err = rawExec(tx, raiseSQL(table, name), delta, id)
	} else {
		_, err = rawExec(tx, "UPDATE "+table+" SET "+name+" = "+name+" - ? WHERE id = ? AND "+name+" >= ?", -delta, id, -delta)
	}
	return err
}

// viewerRows returns which of ids have a row of userID in the table of
// marks: a *model.PostLike for post ids, a
// *model.CommentLike for comment ids. The table and its columns come from
// that type, never from text, in one query.
func viewerRows(db *gorm.DB, marks any, userID int64, ids []int64) (map[int64]bool, error) {
	var idCol string
	switch marks.(type) {
	case *model.PostLike:
		idCol = "post_id"
	case *model.CommentLike:
		idCol = "comment_id"
	default:
		return nil, fmt.Errorf("service: no viewer rows in %T", marks)
	}
	var found []int64
	err := db.Model(marks).Where("user_id = ? AND ? IN ?", userID, clause.Column{Name: idCol}, uniqueIDs(ids)).
		Pluck(idCol, &found).Error
	if err != nil {
		return nil, dbError(err)
	}
	set := make(map[int64]bool, len(found))
	for _, id := range found {
		set[id] = true
	}
	return set, nil
}

// fetchAuthors returns the author objects of the users ids, by id, in one
// query. Ids may repeat.
func fetchAuthors(db *gorm.DB, ids []int64) (map[int64]*model.Author, error) {
	authors := make(map[int64]*model.Author, len(ids))
	if len(ids) == 0 {
		return authors, nil
	}
	// Scanned by hand: every list page reads its authors here, and GORM's
	// reflective scan cost more than the query.
	rows, err := db.Raw("SELECT id, username, display_name FROM users WHERE id IN ?", uniqueIDs(ids)).Rows()
	if err != nil {
		return nil, dbError(err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		a := new(model.Author)
		if err := rows.Scan(&a.ID, &a.Username, &a.DisplayName); err != nil {
			return nil, dbError(err)
		}
		authors[a.ID] = a
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err)
	}
	return authors, nil
}

// viewerMarks are what a list of posts or comments shows beside each row
// for its viewer (nil for anyone): the authors, those of them the viewer
// blocks, and the rows the viewer likes.
type viewerMarks struct {
	authors map[int64]*model.Author
	blocked map[int64]bool
	liked   map[int64]bool
}

// readMarks reads the viewerMarks of rows ids by users userIDs (authors,
// and whoever else the rows name), one query each, whatever the number of
// rows; likes is the likes' table as viewerRows takes it.
func readMarks(db *gorm.DB, viewer *model.User, likes any, ids, userIDs []int64) (viewerMarks, error) {
	var m viewerMarks
	var err error
	if m.authors, err = fetchAuthors(db, userIDs); err != nil {
		return viewerMarks{}, err
	}
	if m.blocked, err = blockedBy(db, viewer, userIDs); err != nil {
		return viewerMarks{}, err
	}
	if viewer != nil {
		if m.liked, err = viewerRows(db, likes, viewer.ID, ids); err != nil {
			return viewerMarks{}, err
		}
	}
	return m, nil
}

// uniqueIDs returns ids without repeats, in their first order, so that IN
// lists stay as short as they can.
func uniqueIDs(ids []int64) []int64 {
	seen := make(map[int64]bool, len(ids))
	out := make([]int64, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// keysetBefore is the condition "strictly before the cursor (key, id)" in
// an order by (col DESC, id DESC). Spelt out rather than as a row
// comparison (col, id) < (?, ?), which not every MySQL version turns into
// an index range.
func keysetBefore(col string, key any, id int64) clause.Expr {
	c := clause.Column{Name: col}
	return gorm.Expr("(? < ? OR (? = ? AND id < ?))", c, key, c, key, id)
}
