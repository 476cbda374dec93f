// Package model is the shared vocabulary of discuss: the stored records, the
// domain error codes, the validation of user-supplied values and the user
// carried in a context. It imports nothing else of ours, so every other
// package can depend on it.
package model

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. They are the "code" field of the API's error body, so their
// values are part of the contract; api/errors.go maps each one to a status.
const (
	EINVALID         = "invalid_argument"
	EUNAUTHENTICATED = "unauthenticated"
	EPERMISSION      = "permission_denied"
	ENOTFOUND        = "not_found"
	ECONFLICT        = "conflict"
	ETOOLARGE        = "payload_too_large"
	EHEADERTOOLARGE  = "header_too_large"
	ERATELIMITED     = "rate_limited"
	EUNAVAILABLE     = "unavailable"
	EINTERNAL        = "internal"
)

// Error is a failure meant for the caller: its message is safe to show.
// Anything that is not an *Error is reported as EINTERNAL with a generic
// message, so internal details never reach a client.
type Error struct {
	Code    string
	Message string
	// RetryAfter tells a rate-limited caller when to come back; zero otherwise.
	RetryAfter time.Duration
	// Err is the underlying cause, for the logs only; it is never shown.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string { return shown(err).Code }

// ErrorMessage returns the message of the first *Error in err's chain and a
// generic text for any other error.
func ErrorMessage(err error) string { return shown(err).Message }

// shown is what err may tell a caller: the first *Error in its chain, an
// EINTERNAL with a generic message for any other error, and the zero Error
// for nil.
func shown(err error) Error {
	if err == nil {
		return Error{}
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return *e
	}
	return Error{Code: EINTERNAL, Message: "internal error"}
}
