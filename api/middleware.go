package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/quizsite/discuss/configs"
	"github.com/quizsite/discuss/model"
)

const requestIDHeader = "X-Request-ID"

// requestIDMiddleware keeps a sane X-Request-ID from the client or a proxy,
// or makes one, and echoes it in the response.
func requestIDMiddleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(requestIDHeader)
		if id == "" || len(id) > 64 || strings.ContainsFunc(id, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		c.Set(requestIDHeader, id)
		c.Header(requestIDHeader, id)
		c.Next()
	}
}

func requestID(c *gin.Context) string { return c.GetString(requestIDHeader) }

// accessLog writes one line per request. The query string is logged with
// the token parameter redacted: browsers pass their JWT there on /ws. Below
// the info level no record is built: the attributes, the redacted query and
// the client address cost more than some requests do (a socket's connect).
func (s *Server) accessLog() gin.HandlerFunc {
	return func(c *gin.Context) {
		if !s.log.Enabled(c.Request.Context(), slog.LevelInfo) {
			c.Next()
			return
		}
		start := time.Now()
		c.Next()
		attrs := []slog.Attr{
			slog.String("request_id", requestID(c)),
			slog.String("method", c.Request.Method),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", c.Writer.Status()),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.Int("bytes", max(c.Writer.Size(), 0)),
			slog.String("remote", c.ClientIP()),
		}
		if q := redactQuery(c.Request.URL.RawQuery); q != "" {
			attrs = append(attrs, slog.String("query", q))
		}
		if id, ok := c.Get(logUserKey); ok {
			attrs = append(attrs, slog.Any("user_id", id))
		}
		s.log.LogAttrs(c.Request.Context(), slog.LevelInfo, "request", attrs...)
	}
}

// redactQuery returns the raw query with the value of every token parameter
// replaced, so that credentials never reach the logs.
func redactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "(unparsable query redacted)"
	}
	for k := range q {
		if strings.EqualFold(k, "token") || strings.EqualFold(k, "access_token") {
			q[k] = []string{"REDACTED"}
		}
	}
	return q.Encode()
}

// trustProxies sets how r finds the client's address (c.ClientIP, which
// the per-address limits and the access log use). Gin's default trusts
// every peer's X-Forwarded-For and X-Real-IP, so any client could claim any
// address with a header. Here the client is the TCP peer, unless the peer
// is one of the trusted proxies: then it is the rightmost address of
// X-Forwarded-For that is not a trusted proxy, as each proxy appends the
// address it received the request from. X-Real-IP is never read: a proxy
// that appends to X-Forwarded-For makes it redundant, and one that does not
// leaves the client's own X-Forwarded-For in place, which X-Real-IP could
// not make safe.
func trustProxies(r *gin.Engine, proxies []string) error {
	prefixes, err := configs.Prefixes(proxies)
	if err != nil {
		return fmt.Errorf("server.trusted_proxies: %w", err)
	}
	// Gin reads the canonical forms that Prefixes returns, so whatever
	// the configuration validated is what Gin trusts.
	var cidrs []string
	for _, p := range prefixes {
		cidrs = append(cidrs, p.String())
	}
	r.RemoteIPHeaders = []string{"X-Forwarded-For"}
	return r.SetTrustedProxies(cidrs)
}

// clientAddr is the client's address as c.ClientIP finds it (see
// trustProxies). It is the zero Addr, shared by every such request, in the
// one case it cannot be parsed: a listener whose peers have no IP address.
func clientAddr(c *gin.Context) netip.Addr {
	a, _ := netip.ParseAddr(c.ClientIP())
	return a.Unmap()
}

// clientKey is what the per-address limits of the services count the
// client under (see model.AddressKey).
func clientKey(c *gin.Context) string {
	return model.AddressKey(clientAddr(c)).String()
}

// headerLimit refuses a request whose request line and headers are larger
// than server.max_header_bytes, in the contract's shape. net/http stops
// reading a head past its own limit (configs.MaxHeaderBytesLimit, which
// serve sets) and answers that with a fixed plain-text 431 before any
// handler runs; this check answers every head between the two in JSON.
func (s *Server) headerLimit() gin.HandlerFunc {
	limit := s.cfg.Server.MaxHeaderBytes
	return func(c *gin.Context) {
		if headerSize(c.Request) > limit {
			writeError(c, s.log, model.Errorf(model.EHEADERTOOLARGE, "request line and headers are larger than %d bytes", limit))
			return
		}
		c.Next()
	}
}

// headerSize is the size of r's request line and headers as HTTP/1.1 sends
// them, give or take optional whitespace.
func headerSize(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	n += len("Host: ") + len(r.Host) + 2
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + 2 + len(v) + 2
		}
	}
	return n + 2 // the empty line
}

// recoverMiddleware answers a handler's panic with the contract's internal
// error instead of dropping the connection, and logs the panic with its
// stack and the request id. http.ErrAbortHandler, net/http's way to abort
// a response on purpose, is left to net/http.
func (s *Server) recoverMiddleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.log.ErrorContext(c.Request.Context(), "handler panicked",
				"request_id", requestID(c), "route", c.FullPath(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			if c.Writer.Written() {
				// Too late for another answer; end this one.
				c.Abort()
				return
			}
			status, body := ErrorResponse(errors.New("handler panicked"))
			c.AbortWithStatusJSON(status, body)
		}()
		c.Next()
	}
}

// bodyLimit caps request bodies: a declared length over the limit is
// refused at once; a body that grows past it fails while being read.
func (s *Server) bodyLimit() gin.HandlerFunc {
	limit := s.cfg.Limits.BodyBytes
	return func(c *gin.Context) {
		if c.Request.ContentLength > limit {
			writeError(c, s.log, model.Errorf(model.ETOOLARGE, "request body is larger than %d bytes", limit))
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		c.Next()
	}
}

// deadline ends the context of each API request a little before
// server.write_timeout, after which net/http could not write its answer:
// work that cannot finish in time (a wait for a row lock, for a pooled
// connection, for a post's turn, on a database that stopped answering) is
// given up, answered 503, and leaves nothing behind, instead of going on
// for a client that has been cut, or committing what the client was told
// failed. The tenth kept back is for writing the answer. The live routes
// are not under it.
func (s *Server) deadline() gin.HandlerFunc {
	d := s.cfg.Server.WriteTimeout * 9 / 10
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), d)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}

// cors lets pages from the allowed origins call the API. Other origins get
// no CORS headers at all, so the browser keeps their pages out. The
// allow-list and its matcher are those of /ws (model.Origins).
func (s *Server) cors() gin.HandlerFunc {
	return func(c *gin.Context) {
		origin := c.GetHeader("Origin")
		if origin == "" {
			c.Next()
			return
		}
		c.Writer.Header().Add("Vary", "Origin")
		if !s.origins.Allows(origin) {
			if c.Request.Method == http.MethodOptions {
				c.AbortWithStatus(http.StatusNoContent)
				return
			}
			c.Next()
			return
		}
		h := c.Writer.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", "Retry-After, X-Request-ID")
		if c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-ID")
			h.Set("Access-Control-Max-Age", "600")
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		c.Next()
	}
}

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// authenticate requires a valid token and puts its user in the request's
// context for the services.
func (s *Server) authenticate() gin.HandlerFunc {
	return func(c *gin.Context) {
		u, err := s.auth.Authenticate(c.Request.Context(), bearerToken(c.Request))
		if err != nil {
			writeError(c, s.log, err)
			return
		}
		c.Request = c.Request.WithContext(model.WithUser(c.Request.Context(), u))
		logUser(c, u.ID)
		c.Next()
	}
}

// logUserKey holds the id of the request's user for its access log
// record: the signed-in user of a REST request, the token's user of a live
// connection (which has no model.User in its context: /ws does not read
// the row, see serveWS).
const logUserKey = "discuss.user_id"

// logUser names the request's user in its access log record.
func logUser(c *gin.Context, id int64) {
	c.Set(logUserKey, id)
}

// requireAdmin lets only admins through.
func (s *Server) requireAdmin() gin.HandlerFunc {
	return s.requireRole((*model.User).IsAdmin, "only an admin may do this")
}

// requireModerator lets only moderators and admins through.
func (s *Server) requireModerator() gin.HandlerFunc {
	return s.requireRole((*model.User).CanModerate, "only a moderator or an admin may do this")
}

// requireRole lets through only the signed-in users that may, and answers
// the others EPERMISSION with message. It follows authenticate.
func (s *Server) requireRole(may func(*model.User) bool, message string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !may(model.UserFrom(c.Request.Context())) {
			writeError(c, s.log, model.Errorf(model.EPERMISSION, "%s", message))
			return
		}
		c.Next()
	}
}

// ctx is the request's context, which carries the authenticated user.
func ctx(c *gin.Context) context.Context { return c.Request.Context() }
