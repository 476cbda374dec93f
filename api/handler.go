package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
)

// jsonHandler is the shape of every /api/v1 handler: it reads the request
// and returns its answer instead of writing it, and handle writes. It
// returns either an error, which handle answers through writeError (so
// errors.go stays the only place an error becomes a status, and a 429 keeps
// its Retry-After), or a status and a body to encode as JSON. An untyped nil
// body means no body at all, for 204; a typed nil such as (*model.Post)(nil)
// is still encoded, as null. On error the status and body are ignored, which
// lets a handler end with `return http.StatusOK, v, err`.
//
// Returning the answer, rather than writing it, is what removes the
// "if err != nil { writeError(...); return }" after every step, and it makes
// a handler that forgets to answer impossible. serveWS does not fit (it
// answers, then hands the connection over) and stays a plain gin handler, as
// do the operations routes.
type jsonHandler func(c *gin.Context) (status int, body any, err error)

// handle adapts h to Gin. It is applied in routes.go, so the route list
// shows which routes answer this way.
func (s *Server) handle(h jsonHandler) gin.HandlerFunc {
	return func(c *gin.Context) {
		status, body, err := h(c)
		switch {
		case err != nil:
			writeError(c, s.log, err)
		case body == nil:
			c.Status(status)
		default:
			if b, ok := body.(encodedJSON); ok {
				c.Data(status, jsonContentType, b)
				return
			}
			c.JSON(status, body)
		}
	}
}

// encodedJSON is a body encoded already, as c.JSON would have encoded it,
// which handle writes as it is: the thread page, which the service keeps
// encoded (service.Comments.ListJSON).
type encodedJSON []byte

// jsonContentType is what c.JSON sends, and what every JSON answer says.
const jsonContentType = "application/json; charset=utf-8"

// The shapes that several routes share, as jsonHandlers.

// byID answers 200 with what get returns for the resource named by the id
// path parameter: reads, and likes and unlikes with their like state.
func byID[T any](c *gin.Context, get func(context.Context, int64) (T, error)) (int, any, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return 0, nil, err
	}
	v, err := get(ctx(c), id)
	return http.StatusOK, v, err
}

// noContent answers 204 after do succeeds on the resource named by the id
// path parameter: deletes and mutes.
func noContent(c *gin.Context, do func(context.Context, int64) error) (int, any, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, do(ctx(c), id)
}

// changeByID answers 200 with what change returns for the resource named
// by the id path parameter and the JSON body, read into a Req: edits, and
// the actions whose body says what to do (a role, a level, a resolution).
// Errors: pathIDAndJSON's, then change's.
func changeByID[Req any](c *gin.Context, change func(context.Context, int64, *Req) (any, error)) (int, any, error) {
	var req Req
	id, err := pathIDAndJSON(c, &req)
	if err != nil {
		return 0, nil, err
	}
	v, err := change(ctx(c), id, &req)
	return http.StatusOK, v, err
}

// fromBody answers status with what do returns for the JSON body, read
// into a Req: the writes whose path names no resource. Errors:
// decodeJSON's, then do's.
func fromBody[Req any](c *gin.Context, status int, do func(context.Context, *Req) (any, error)) (int, any, error) {
	var req Req
	if err := decodeJSON(c, &req); err != nil {
		return 0, nil, err
	}
	v, err := do(ctx(c), &req)
	return status, v, err
}

// listed answers 200 with the page that list returns for the limit and
// cursor query parameters: the lists that take no other.
func listed[T any](c *gin.Context, list func(context.Context, int, string) (T, error)) (int, any, error) {
	limit, err := queryLimit(c)
	if err != nil {
		return 0, nil, err
	}
	page, err := list(ctx(c), limit, c.Query("cursor"))
	return http.StatusOK, page, err
}
