package service

import (
	"database/sql"

	"gorm.io/gorm"
)

// Hand-written statements (comments_sql.go) run through GORM's Raw and
// Exec, inside the transaction of the gorm.DB they are given, and GORM's
// callbacks see them as they see every statement; only the building of
// the SQL and the reflective scanning are left out. Scanning is by hand,
// into the destinations the caller names.

// scanOne runs query with args on db and scans its first row into dest.
// No row is sql.ErrNoRows, which notFound turns into ENOTFOUND; other
// errors are dbError's.
func scanOne(db *gorm.DB, query string, args []any, dest ...any) error {
	rows, err := db.Raw(query, args...).Rows()
	if err != nil {
		return dbError(err)
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
