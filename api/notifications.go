package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

// unreadCountResponse answers every call that changes or reads the count.
type unreadCountResponse struct {
	UnreadCount int64 `json:"unread_count"`
}

// markReadRequest selects notifications by ids or by up_to_id. Pointers
// tell a field that is absent from one sent empty or zero.
type markReadRequest struct {
	IDs    *[]int64 `json:"ids"`
	UpToID *int64   `json:"up_to_id"`
}

type adminNotifyRequest struct {
	UserID  int64  `json:"user_id"`
	Message string `json:"message"`
}

// listNotifications answers GET /notifications: the caller's notifications,
// newest first, and their unread count.
func (s *Server) listNotifications(c *gin.Context) {
	limit, err := queryInt(c, "limit", service.DefaultPageSize, 1, service.MaxPageSize)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	unreadOnly, err := queryBool(c, "unread_only")
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	page, err := s.notes.List(ctx(c), service.ListNotifications{
		UnreadOnly: unreadOnly, Limit: int(limit), Cursor: c.Query("cursor"),
	})
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, page)
}

func (s *Server) unreadCount(c *gin.Context) {
	n, err := s.notes.CountUnread(ctx(c))
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, unreadCountResponse{UnreadCount: n})
}

// markRead answers POST /notifications/read. Ids that are not the caller's
// are ignored rather than answered with 404: a notification disappears when
// its comment is deleted, and one such id must not keep the others unread.
// Only the caller's notifications are ever marked.
func (s *Server) markRead(c *gin.Context) {
	var req markReadRequest
	if err := decodeJSON(c, &req); err != nil {
		writeError(c, s.log, err)
		return
	}
	var ids []int64
	var upToID int64
	switch {
	case req.IDs != nil && req.UpToID != nil:
		writeError(c, s.log, model.Errorf(model.EINVALID, "give either ids or up_to_id, not both"))
		return
	case req.IDs != nil:
		if len(*req.IDs) == 0 {
			writeError(c, s.log, model.Errorf(model.EINVALID, "ids must not be empty"))
			return
		}
		ids = *req.IDs
	case req.UpToID != nil:
		if *req.UpToID <= 0 {
			writeError(c, s.log, model.Errorf(model.EINVALID, "up_to_id must be a positive integer"))
			return
		}
		upToID = *req.UpToID
	default:
		writeError(c, s.log, model.Errorf(model.EINVALID, "ids or up_to_id is required"))
		return
	}
	n, err := s.notes.MarkMineRead(ctx(c), ids, upToID)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, unreadCountResponse{UnreadCount: n})
}

// markOneRead answers POST /notifications/{id}/read; another user's id is
// 404, the same as a missing one.
func (s *Server) markOneRead(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	n, err := s.notes.MarkOneRead(ctx(c), id)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, unreadCountResponse{UnreadCount: n})
}

// adminNotify answers POST /admin/notify with the system notification it
// created.
func (s *Server) adminNotify(c *gin.Context) {
	var req adminNotifyRequest
	if err := decodeJSON(c, &req); err != nil {
		writeError(c, s.log, err)
		return
	}
	n, err := s.notes.SendSystem(ctx(c), req.UserID, req.Message)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	c.JSON(http.StatusCreated, n)
}
