package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/quizsite/discuss/model"
)

// serveWS authenticates, checks the Origin and takes one of the client
// address's socket slots before upgrading, so that a refused client gets a
// plain HTTP answer in the contract's shape, then hands the connection to
// the hub, which closes it with 4001 when the token expires. Browsers
// cannot set headers on a WebSocket, so the token may come in the query;
// the access log redacts it.
func (s *Server) serveWS(c *gin.Context) {
	if !s.hub.CheckOrigin(c.Request) {
		origin := c.GetHeader("Origin")
		if s.refused.first(origin) {
			s.log.Warn("refused a WebSocket from an origin not in websocket.allowed_origins; its page will never go live",
				"origin", origin, "allowed", s.cfg.WebSocket.AllowedOrigins)
		}
		writeError(c, s.log, model.Errorf(model.EPERMISSION, "origin %s may not open a WebSocket here", origin))
		return
	}
	token := c.Query("token")
	if token == "" {
		token = bearerToken(c.Request)
	}
	user, err := s.auth.Authenticate(ctx(c), token)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	var since *int64
	if raw, ok := c.GetQuery("since"); ok {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 {
			writeError(c, s.log, model.Errorf(model.EINVALID, "since must be a non-negative integer"))
			return
		}
		since = &n
	}
	// For the access log's user_id.
	c.Request = c.Request.WithContext(model.WithUser(c.Request.Context(), user))
	// One address may hold only so many sockets, whatever users it signs
	// in as; the slot is given back when the socket ends.
	release, ok := s.hub.ReserveAddress(clientAddr(c))
	if !ok {
		writeError(c, s.log, &model.Error{
			Code:       model.ERATELIMITED,
			Message:    fmt.Sprintf("your address holds %d connections already; close one first", s.cfg.WebSocket.MaxConnectionsPerAddress),
			RetryAfter: wsAddressRetryAfter,
		})
		return
	}
	// The upgrader answers a failed handshake itself (through its Error
	// hook, in the contract's shape).
	conn, err := s.upgrader.Upgrade(c.Writer, c.Request, nil)
	if err != nil {
		release()
		return
	}
	if err := s.hub.Serve(conn, user, since, s.auth.TokenExpiry(token), release); err != nil {
		s.log.Info("websocket refused", "user_id", user.ID, "reason", err.Error())
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
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
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
	var req broadcastRequest
	if err := decodeJSON(c, &req); err != nil {
		return 0, nil, err
	}
	if _, err := s.announcements.Broadcast(ctx(c), req.Message); err != nil {
		return 0, nil, err
	}
	_, conns, err := s.hub.Online(ctx(c))
	if err != nil {
		// The announcement is kept and was published; only the count is
		// missing, so answer with what this instance knows.
		s.log.WarnContext(ctx(c), "online count across instances unavailable", "error", err)
		_, conns = s.hub.LocalCounts()
	}
	return http.StatusAccepted, broadcastResponse{OnlineConnections: conns}, nil
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
