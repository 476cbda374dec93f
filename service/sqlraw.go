package service

import (
	"database/sql"
	"strings"

	"gorm.io/gorm"
)

// Hand-written statements (comments_sql.go) run through GORM's callbacks,
// as Raw and Exec do, inside the transaction of the gorm.DB they are
// given: transact's retry and whatever is registered there see them as
// they see every statement. Only GORM's building of the SQL and its
// reflective scanning are left out; rows are scanned by hand, into the
// destinations the caller names.

// scanOne runs query with args on db and scans its first row into dest.
// No row is sql.ErrNoRows, which notFound turns into ENOTFOUND; other
// errors are dbError's.
func scanOne(db *gorm.DB, query string, args []any, dest ...any) error {
	rows, err := rawRows(db, query, args...)
	if err != nil {
		return err
	}
	defer func() { _ = rows.Close() }()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return dbError(err)
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return dbError(err)
	}
	return dbError(rows.Close())
}

// statement returns a new statement of db that holds query and args as
// they are: what GORM's Raw and Exec make of a text whose every "?" binds
// one scalar (an IN list is written out, see idList), without copying the
// text byte by byte and inspecting each argument by reflection, which cost
// more allocations than the rest of the statement.
func statement(db *gorm.DB, query string, args []any) *gorm.DB {
	s := db.Raw("")
	s.Statement.SQL.WriteString(query)
	s.Statement.Vars = args
	return s
}

// rawRows runs the hand-written query inside db through GORM's row
// callbacks, as Raw(...).Rows() does, and returns its rows.
func rawRows(db *gorm.DB, query string, args ...any) (*sql.Rows, error) {
	rows, err := statement(db, query, args).Rows()
	return rows, dbError(err)
}

// rawInsert runs the hand-written INSERT query into table inside tx and
// returns the id it gave, 0 when it inserted nothing (a duplicate it was
// told to ignore). It goes through GORM's create callbacks with the table
// named, as tx.Create would: what is registered there sees it as it saw
// GORM's own insert (the tests' fault injection does).
func rawInsert(tx *gorm.DB, table, query string, args ...any) (int64, error) {
	res := gorm.WithResult()
	s := statement(tx.Clauses(res), query, args)
	s.Statement.Table = table
	if err := s.Callback().Create().Execute(s).Error; err != nil {
		return 0, dbError(err)
	}
	if res.Result == nil || res.RowsAffected == 0 {
		return 0, nil
	}
	id, err := res.Result.LastInsertId()
	return id, dbError(err)
}

// rawExec runs the hand-written statement query inside tx through GORM's
// raw callbacks, as Exec does, and returns how many rows it changed.
func rawExec(tx *gorm.DB, query string, args ...any) (int64, error) {
	s := statement(tx, query, args)
	err := s.Callback().Raw().Execute(s).Error
	return s.RowsAffected, dbError(err)
}

// onMySQL reports whether db speaks MySQL (MariaDB); the other dialect is
// SQLite, which has no row locks (its write transactions take the
// database's write lock at BEGIN, see OpenDB) and no FOR UPDATE.
func onMySQL(db *gorm.DB) bool { return db.Dialector.Name() == "mysql" }

// lockingUnion is the UNION ALL of the SELECTs members that locks the rows
// each reads, member after member: on MySQL each is parenthesised with FOR
// UPDATE, and MySQL runs them in their order, so the locks are taken in
// it. SQLite needs neither (see onMySQL).
func lockingUnion(db *gorm.DB, members ...string) string {
	if !onMySQL(db) {
		return strings.Join(members, " UNION ALL ")
	}
	return "(" + strings.Join(members, " FOR UPDATE) UNION ALL (") + " FOR UPDATE)"
}

// ignoreDuplicate ends an INSERT into a table whose primary key begins with
// column so that a row already there is left as it is, the insert doing
// nothing, as GORM's OnConflict{DoNothing: true} writes it.
func ignoreDuplicate(db *gorm.DB, column string) string {
	if onMySQL(db) {
		return " ON DUPLICATE KEY UPDATE " + column + " = " + column
	}
	return " ON CONFLICT DO NOTHING"
}

// batch is a MySQL multi-statement query being written: its statements,
// joined by ";", and their arguments, in order (see OpenDB for the
// connections that take one).
type batch struct {
	query strings.Builder
	args  []any
}

// add appends a statement and its arguments.
func (b *batch) add(query string, args []any) {
	if b.query.Len() > 0 {
		b.query.WriteString(";\n")
	}
	b.query.WriteString(query)
	b.args = append(b.args, args...)
}

// idList returns "?, ?, ..." for ids, and args with ids appended: an IN
// list written out, where GORM would expand a slice by reflection.
func idList(args []any, ids []int64) (string, []any) {
	for _, id := range ids {
		args = append(args, id)
	}
	return strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", "), args
}
