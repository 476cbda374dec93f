package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/notify"
	"github.com/quizsite/discuss/service"
)

// liveConn is what /ws and /sse establish before they serve a connection:
// who it is for, until when, where it resumes, and the address slot it
// holds (release gives it back).
type liveConn struct {
	userID  int64
	expires time.Time
	since   *int64
	release func()
}

// admitLive checks a request for a live connection, /ws or /sse, before
// anything is upgraded or streamed, so that a refused client gets a plain
// HTTP answer in the contract's shape: the Origin (a browser page must be
// from an allowed origin; 403), the token (401), the resume point given as
// since (400), and one of the client address's socket slots (429).
// Browsers cannot set headers on a WebSocket or an EventSource, so the
// token may come in the query; the access log redacts it. verify checks
// the token (see liveVerifier). It reports false when it has answered.
func (s *Server) admitLive(c *gin.Context, since string, sinceGiven bool, verify liveVerifier) (liveConn, bool) {
	if !s.hub.CheckOrigin(c.Request) {
		origin := c.GetHeader("Origin")
		if s.refused.first(origin) {
			s.log.Warn("refused a live connection from an origin not in websocket.allowed_origins; its page will never go live",
				"origin", origin, "allowed", s.cfg.WebSocket.AllowedOrigins, "path", c.Request.URL.Path)
		}
		writeError(c, s.log, model.Errorf(model.EPERMISSION, "origin %s may not open a live connection here", origin))
		return liveConn{}, false
	}
	token := c.Query("token")
	if token == "" {
		token = bearerToken(c.Request)
	}
	userID, expires, err := verify(ctx(c), token)
	if err != nil {
		writeError(c, s.log, err)
		return liveConn{}, false
	}
	lc := liveConn{userID: userID, expires: expires}
	if sinceGiven {
		n, err := strconv.ParseInt(since, 10, 64)
		if err != nil || n < 0 {
			writeError(c, s.log, model.Errorf(model.EINVALID, "since must be a non-negative integer"))
			return liveConn{}, false
		}
		lc.since = &n
	}
	logUser(c, userID)
	// One address may hold only so many sockets, whatever users it signs
	// in as; the slot is given back when the socket ends.
	release, ok := s.hub.ReserveAddress(clientAddr(c))
	if !ok {
		writeError(c, s.log, &model.Error{
			Code:       model.ERATELIMITED,
			Message:    fmt.Sprintf("your address holds %d connections already; close one first", s.cfg.WebSocket.MaxConnectionsPerAddress),
			RetryAfter: wsAddressRetryAfter,
		})
		return liveConn{}, false
	}
	lc.release = release
	return lc, true
}

// liveVerifier checks a live connection's token and returns the id of its
// user and when the token expires; its errors are the client's answer.
type liveVerifier func(ctx context.Context, token string) (int64, time.Time, error)

// verifyUser is the liveVerifier of a connection that does not read the
// user's row itself: Auth.Verify, which does.
func (s *Server) verifyUser(ctx context.Context, token string) (int64, time.Time, error) {
	u, expires, err := s.auth.Verify(ctx, token)
	if err != nil {
		return 0, time.Time{}, err
	}
	return u.ID, expires, nil
}

// serveWS admits the connection (admitLive), upgrades it and hands it to
// the hub, which closes it with 4001 when the token expires. The token's
// user is not read on its own: the hub's admission reads the user's row
// for the replay's head and tells when there is none (Auth.VerifyID).
func (s *Server) serveWS(c *gin.Context) {
	since, given := c.GetQuery("since")
	lc, ok := s.admitLive(c, since, given, s.auth.VerifyID)
	if !ok {
		return
	}
	// The upgrader answers a failed handshake itself (through its Error
	// hook, in the contract's shape); one that is not even asked for is
	// answered before the hub reads anything for it.
	if !websocket.IsWebSocketUpgrade(c.Request) {
		_, _ = s.upgrader.Upgrade(c.Writer, c.Request, nil)
		lc.release()
		return
	}
	// What connecting costs (registration, the replay's read) is done
	// before the upgrade, so that the 101, hello and the replay go out in
	// one write.
	a := s.hub.Admit(lc.userID, lc.since, lc.expires, lc.release)
	if a.UnknownUser() {
		s.hub.Abandon(a)
		writeError(c, s.log, service.ErrTokenUserMissing())
		return
	}
	conn, err := s.upgrader.Upgrade(notify.NonBlocking(c.Writer), c.Request, nil)
	if err != nil {
		s.hub.Abandon(a)
		return
	}
	if err := s.hub.ServeAdmitted(conn, a); err != nil {
		s.log.Info("websocket refused", "user_id", lc.userID, "reason", err.Error())
	}
}

// serveSSE serves the same notifications as /ws as an event stream, for
// clients that cannot open a WebSocket (a proxy strips Upgrade). It is
// admitted as /ws is; it resumes from the Last-Event-ID header, which a
// browser's EventSource sends when it reconnects by itself (the id of the
// last notification event it received), or else from since. The handler
// runs as long as the stream.
func (s *Server) serveSSE(c *gin.Context) {
	since, given := c.GetQuery("since")
	if last := c.GetHeader("Last-Event-ID"); last != "" {
		since, given = last, true
	}
	lc, ok := s.admitLive(c, since, given, s.verifyUser)
	if !ok {
		return
	}
	err := s.hub.ServeEvents(c.Writer, c.Request, lc.userID, lc.since, lc.expires, lc.release)
	switch {
	case errors.Is(err, notify.ErrClosed):
		writeError(c, s.log, &model.Error{Code: model.EUNAVAILABLE, Message: "the server is shutting down; reconnect", Err: err})
	case err != nil:
		writeError(c, s.log, err)
	}
}

// wsAddressRetryAfter is the Retry-After of a socket refused because its
// address holds too many: a slot frees only when one of them closes, at no
// time the server can tell, so this is a polite pace for retrying.
const wsAddressRetryAfter = 10 * time.Second

// upgradeError writes a failed WebSocket handshake in the contract's shape.
func (s *Server) upgradeError(w http.ResponseWriter, _ *http.Request, status int, reason error) {
	code := model.EINVALID
	if status == http.StatusForbidden {
		code = model.EPERMISSION
	}
	w.Header().Set("Content-Type", jsonContentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(ErrorBody{Error: ErrorDetail{Code: code, Message: "websocket handshake failed: " + reason.Error()}})
}

type broadcastRequest struct {
	Message string `json:"message"`
}

type broadcastResponse struct {
	OnlineConnections int `json:"online_connections"`
}

// broadcast keeps the message as an announcement and sends it to every
// connection on every instance; 202 because delivery is under way, not done.
func (s *Server) broadcast(c *gin.Context) (int, any, error) {
	return fromBody(c, http.StatusAccepted, func(ctx context.Context, req *broadcastRequest) (any, error) {
		if _, err := s.announcements.Broadcast(ctx, req.Message); err != nil {
			return nil, err
		}
		_, conns, err := s.hub.Online(ctx)
		if err != nil {
			// The announcement is kept and was published; only the count is
			// missing, so answer with what this instance knows.
			s.log.WarnContext(ctx, "online count across instances unavailable", "error", err)
			_, conns = s.hub.LocalCounts()
		}
		return broadcastResponse{OnlineConnections: conns}, nil
	})
}

type onlineResponse struct {
	Users       int `json:"users"`
	Connections int `json:"connections"`
}

// online counts users and connections across every instance.
func (s *Server) online(c *gin.Context) (int, any, error) {
	users, conns, err := s.hub.Online(ctx(c))
	if err != nil {
		return 0, nil, &model.Error{Code: model.EUNAVAILABLE, Message: "the broker is unavailable; try again shortly", Err: err}
	}
	return http.StatusOK, onlineResponse{Users: users, Connections: conns}, nil
}

// listAnnouncements lists kept broadcasts, newest first.
func (s *Server) listAnnouncements(c *gin.Context) (int, any, error) {
	limit, err := queryInt(c, "limit", 0, 1, 100)
	if err != nil {
		return 0, nil, err
	}
	page, err := s.announcements.List(ctx(c), c.Query("cursor"), int(limit))
	return http.StatusOK, page, err
}
