package service

import (
	"context"
	"database/sql"
	"sync"

	"gorm.io/gorm"
)

// preparedStmts prepares each statement it is asked for once, the first
// time, and keeps it: the hub's reads on connect run thousands of times a
// second with the same text. A prepared statement is parsed and planned
// once per connection of the pool (database/sql prepares it again on each
// connection it runs on), where a plain query is parsed on every call: on
// SQLite that is a compile of the statement each time; on MySQL, whose
// DSN interpolates arguments on the client (see mysqlDSN) so that a plain
// query is one round trip, an execute is one round trip too, and the
// server neither parses the text nor formats the rows as text. A
// statement that fails to prepare is not kept, so a later call tries
// again (the database may have been down).
type preparedStmts struct {
	db    *gorm.DB
	stmts sync.Map // query text -> *sql.Stmt
}

// get returns the prepared statement of query.
func (p *preparedStmts) get(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := p.stmts.Load(query); ok {
		return s.(*sql.Stmt), nil
	}
	sqlDB, err := p.db.DB()
	if err != nil {
		return nil, err
	}
	s, err := sqlDB.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := p.stmts.LoadOrStore(query, s); loaded {
		// Another call prepared it meanwhile: use one, close the other.
		_ = s.Close()
		return prev.(*sql.Stmt), nil
	}
	return s, nil
}
