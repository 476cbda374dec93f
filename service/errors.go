package service

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"

	"github.com/quizsite/discuss/model"
)

// dbError classifies an unexpected database error. A database that cannot
// be reached, or a connection lost mid-query, is EUNAVAILABLE (503: the
// client may retry); anything else stays an internal error, logged by the
// API and shown only as "internal".
func dbError(err error) error {
	if err == nil {
		return nil
	}
	var me *model.Error
	if errors.As(err, &me) {
		return err
	}
	if unavailable(err) {
		return &model.Error{Code: model.EUNAVAILABLE, Message: "the database is unavailable; try again shortly", Err: err}
	}
	return err
}

func unavailable(err error) bool {
	var netErr net.Error
	var mysqlErr *mysql.MySQLError
	switch {
	case errors.As(err, &netErr),
		errors.Is(err, driver.ErrBadConn),
		errors.Is(err, mysql.ErrInvalidConn),
		errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET):
		return true
	case errors.As(err, &mysqlErr):
		// 1040 too many connections, 1205 lock wait timeout, 1213 deadlock
		// that survived its retry, 1053 server shutdown.
		switch mysqlErr.Number {
		case 1040, 1053, 1205, 1213:
			return true
		}
	}
	// SQLite reports a writer that waited out its busy timeout only in text.
	msg := err.Error()
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY")
}
