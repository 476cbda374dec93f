package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

// seenRequest is the body of POST /notifications/seen.
type seenRequest struct {
	UpToID int64 `json:"up_to_id"`
}

// seenResponse answers POST /notifications/seen.
type seenResponse struct {
	UnseenCount int64 `json:"unseen_count"`
}

type adminNotifyRequest struct {
	UserID  int64  `json:"user_id"`
	Message string `json:"message"`
}

// listNotifications answers GET /notifications: the caller's notifications,
// newest first, and their unread and unseen counts.
func (s *Server) listNotifications(c *gin.Context) (int, any, error) {
	return notificationsPage(c, s.notes.List)
}

// listNotificationGroups answers GET /notifications/grouped: the caller's
// notifications in groups, newest group first, and their counts.
func (s *Server) listNotificationGroups(c *gin.Context) (int, any, error) {
	return notificationsPage(c, s.notes.ListGrouped)
}

// notificationsPage answers 200 with the page of a notification list,
// plain or grouped, that list returns for the query: unread_only, limit
// and cursor.
func notificationsPage[T any](c *gin.Context, list func(context.Context, service.ListNotifications) (T, error)) (int, any, error) {
	limit, err := queryLimit(c)
	if err != nil {
		return 0, nil, err
	}
	unreadOnly, err := queryBool(c, "unread_only")
	if err != nil {
		return 0, nil, err
	}
	page, err := list(ctx(c), service.ListNotifications{UnreadOnly: unreadOnly, Limit: limit, Cursor: c.Query("cursor")})
	return http.StatusOK, page, err
}

func (s *Server) unreadCount(c *gin.Context) (int, any, error) {
	return unreadCountAnswer(s.notes.UnreadCount(ctx(c)))
}

// markRead answers POST /notifications/read. Ids that are not the caller's
// are ignored rather than answered with 404: a notification disappears when
// its comment is deleted, and one such id must not keep the others unread.
// Only the caller's notifications are ever marked.
func (s *Server) markRead(c *gin.Context) (int, any, error) {
	var sel model.ReadSelection
	if err := decodeJSON(c, &sel); err != nil {
		return 0, nil, err
	}
	// The service validates the selection (model.ReadSelection.Validate).
	return unreadCountAnswer(s.notes.MarkRead(ctx(c), sel))
}

// markOneRead answers POST /notifications/{id}/read; another user's id is
// 404, the same as a missing one.
func (s *Server) markOneRead(c *gin.Context) (int, any, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return 0, nil, err
	}
	return unreadCountAnswer(s.notes.MarkOneRead(ctx(c), id))
}

// markSeen answers POST /notifications/seen: the caller's seen mark moves
// up to up_to_id, never back, and the answer is the unseen count.
func (s *Server) markSeen(c *gin.Context) (int, any, error) {
	return fromBody(c, http.StatusOK, func(ctx context.Context, req *seenRequest) (any, error) {
		// The service checks up_to_id.
		n, err := s.notes.MarkSeen(ctx, req.UpToID)
		return seenResponse{UnseenCount: n}, err
	})
}

// unreadCountAnswer is the answer of every call that reads or changes the
// unread count: that count and the unseen one, from the service.
func unreadCountAnswer(counts model.NotificationCounts, err error) (int, any, error) {
	return http.StatusOK, counts, err
}

// adminNotify answers POST /admin/notify with the system notification it
// created.
func (s *Server) adminNotify(c *gin.Context) (int, any, error) {
	return fromBody(c, http.StatusCreated, func(ctx context.Context, req *adminNotifyRequest) (any, error) {
		return s.notes.SendSystem(ctx, req.UserID, req.Message)
	})
}
