package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/quizsite/discuss/model"
)

// decodeJSON reads the request body into v. The body was already limited by
// the bodyLimit middleware; every failure is an *model.Error naming what is
// wrong: ETOOLARGE past the limit, EINVALID for an empty body, invalid
// UTF-8, malformed JSON, trailing data, a field of the wrong type or an
// escape that is not text (half a surrogate pair).
func decodeJSON(c *gin.Context, v any) error {
	data, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return model.Errorf(model.ETOOLARGE, "request body is larger than %d bytes", tooLarge.Limit)
		}
		// server.read_timeout passed while the body was still arriving.
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return model.Errorf(model.EINVALID, "request body arrived too slowly")
		}
		return model.Errorf(model.EINVALID, "could not read the request body")
	}
	return DecodeJSON(data, v)
}

// DecodeJSON is decodeJSON on bytes already read; the fuzz tests call it.
func DecodeJSON(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return model.Errorf(model.EINVALID, "request body is required")
	}
	// encoding/json would silently replace invalid UTF-8 with U+FFFD; the
	// contract rejects it instead, so nothing a user sent is altered.
	if !utf8.Valid(data) {
		return model.Errorf(model.EINVALID, "request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return model.Errorf(model.EINVALID, "request body must hold one JSON value")
	}
	// An escape of half a surrogate pair ("\ud800") is not text either, and
	// the decoder has just turned it into U+FFFD in v; refuse it too. The
	// scan comes after decoding, which proved the body well-formed.
	if field, r, found := model.LoneSurrogate(data); found {
		if field == "" {
			field = "request body"
		}
		return model.Errorf(model.EINVALID, "%s is not valid text: \\u%04x is half of a UTF-16 surrogate pair", field, r)
	}
	return nil
}

func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return model.Errorf(model.EINVALID, "%s must be %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()))
	case errors.As(err, &typeErr):
		return model.Errorf(model.EINVALID, "request body must be a JSON object")
	case errors.As(err, &syntaxErr):
		return model.Errorf(model.EINVALID, "invalid JSON at offset %d", syntaxErr.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return model.Errorf(model.EINVALID, "invalid JSON: unexpected end of input")
	default:
		return model.Errorf(model.EINVALID, "invalid JSON")
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "ptr":
		return "a value of another type"
	default:
		return "a number in range"
	}
}

// pathID reads a positive integer path parameter. Errors: EINVALID.
func pathID(c *gin.Context, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, model.Errorf(model.EINVALID, "%s must be a positive integer", name)
	}
	return id, nil
}

// pathIDAndJSON reads the two inputs of a write to one resource: the id
// path parameter, then the JSON body into v. Errors: pathID's, then
// decodeJSON's, in that order, so a bad id is reported before a bad body.
func pathIDAndJSON(c *gin.Context, v any) (int64, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return 0, err
	}
	if err := decodeJSON(c, v); err != nil {
		return 0, err
	}
	return id, nil
}

// pathIDAndLimit reads the id path parameter, then the limit of a list of
// what hangs off it. Errors: EINVALID naming id, then limit.
func pathIDAndLimit(c *gin.Context) (int64, int, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return 0, 0, err
	}
	limit, err := queryLimit(c)
	if err != nil {
		return 0, 0, err
	}
	return id, limit, nil
}

// queryInt reads an optional integer query parameter within [min, max].
// Errors: EINVALID naming the parameter.
func queryInt(c *gin.Context, name string, def, min, max int64) (int64, error) {
	raw, ok := c.GetQuery(name)
	if !ok || raw == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < min || n > max {
		return 0, model.Errorf(model.EINVALID, "%s must be an integer from %d to %d", name, min, max)
	}
	return n, nil
}

// queryBool reads an optional boolean query parameter. Errors: EINVALID.
func queryBool(c *gin.Context, name string) (bool, error) {
	raw, ok := c.GetQuery(name)
	if !ok || raw == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(raw)
	if err != nil {
		return false, model.Errorf(model.EINVALID, "%s must be true or false", name)
	}
	return b, nil
}
