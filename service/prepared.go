package service

import "gorm.io/gorm"

// prepared returns db running every statement as a prepared one, kept by
// its text (GORM's PrepareStmt session; database/sql prepares it again on
// each pooled connection it runs on) and read through the GORM callbacks
// as any statement. It is for the hub's reads on connect, which run
// thousands of times a second with the same text: a prepared statement is
// parsed and planned once per connection, where a plain query is parsed
// on every call. On SQLite that spares compiling the statement each time;
// on MySQL, whose DSN interpolates arguments on the client (see mysqlDSN)
// so that a plain query is already one round trip, an execute is one
// round trip too, the server parses nothing and sends the rows in binary.
// A statement that fails to prepare is not kept: the next call prepares
// it again.
func prepared(db *gorm.DB) *gorm.DB {
	return db.Session(&gorm.Session{PrepareStmt: true})
}
