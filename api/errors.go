package api

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/quizsite/discuss/model"
)

// statusOf is the one table from domain error codes to HTTP statuses.
var statusOf = map[string]int{
	model.EINVALID:         http.StatusBadRequest,
	model.EUNAUTHENTICATED: http.StatusUnauthorized,
	model.EPERMISSION:      http.StatusForbidden,
	model.ENOTFOUND:        http.StatusNotFound,
	model.ECONFLICT:        http.StatusConflict,
	model.ETOOLARGE:        http.StatusRequestEntityTooLarge,
	model.EHEADERTOOLARGE:  http.StatusRequestHeaderFieldsTooLarge,
	model.ERATELIMITED:     http.StatusTooManyRequests,
	model.EUNAVAILABLE:     http.StatusServiceUnavailable,
	model.EINTERNAL:        http.StatusInternalServerError,
}

// ErrorBody is the contract's error shape.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ErrorResponse returns the status and body for err. Errors that are not
// *model.Error become "internal" with a generic message.
func ErrorResponse(err error) (int, ErrorBody) {
	code := model.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		code, status = model.EINTERNAL, http.StatusInternalServerError
	}
	msg := model.ErrorMessage(err)
	if code == model.EINTERNAL {
		msg = "internal error"
	}
	return status, ErrorBody{Error: ErrorDetail{Code: code, Message: msg}}
}

// writeError answers the request with err in the contract's shape and logs
// it when it is the server's fault. It aborts the handler chain.
func writeError(c *gin.Context, log *slog.Logger, err error) {
	status, body := ErrorResponse(err)
	if status >= 500 {
		log.ErrorContext(c.Request.Context(), "request failed",
			"request_id", requestID(c), "route", c.FullPath(), "error", err.Error())
	}
	var me *model.Error
	if errors.As(err, &me) && me.RetryAfter > 0 {
		secs := int(math.Ceil(me.RetryAfter.Seconds()))
		c.Header("Retry-After", strconv.Itoa(max(secs, 1)))
	}
	c.AbortWithStatusJSON(status, body)
}
