package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

type createCommentRequest struct {
	Body     string `json:"body"`
	ParentID *int64 `json:"parent_id"`
}

type updateCommentRequest struct {
	Body string `json:"body"`
}

func (s *Server) createComment(c *gin.Context) {
	postID, err := pathID(c, "id")
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	var req createCommentRequest
	if err := decodeJSON(c, &req); err != nil {
		writeError(c, s.log, err)
		return
	}
	cm, err := s.comments.Create(ctx(c), postID, service.CommentInput{Body: req.Body, ParentID: req.ParentID})
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	c.JSON(http.StatusCreated, cm)
}

func (s *Server) listComments(c *gin.Context) {
	postID, err := pathID(c, "id")
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	limit, err := queryLimit(c)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	page, err := s.comments.List(ctx(c), postID, service.CommentQuery{
		Sort: c.Query("sort"), Limit: limit, Cursor: c.Query("cursor"),
	})
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, page)
}

func (s *Server) getComment(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	cm, err := s.comments.Get(ctx(c), id)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, cm)
}

func (s *Server) listReplies(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	limit, err := queryLimit(c)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	page, err := s.comments.Replies(ctx(c), id, limit, c.Query("cursor"))
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, page)
}

func (s *Server) updateComment(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	var req updateCommentRequest
	if err := decodeJSON(c, &req); err != nil {
		writeError(c, s.log, err)
		return
	}
	cm, err := s.comments.Update(ctx(c), id, req.Body)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, cm)
}

func (s *Server) deleteComment(c *gin.Context) { s.noContent(c, s.comments.Delete) }
func (s *Server) likeComment(c *gin.Context)   { s.like(c, s.comments.Like) }
func (s *Server) unlikeComment(c *gin.Context) { s.like(c, s.comments.Unlike) }

// like answers a like or unlike of the resource named by the id path
// parameter with its like state.
func (s *Server) like(c *gin.Context, set func(context.Context, int64) (*model.LikeState, error)) {
	id, err := pathID(c, "id")
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	state, err := set(ctx(c), id)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, state)
}

// noContent answers 204 after do succeeds on the resource named by the id
// path parameter: deletes and mutes.
func (s *Server) noContent(c *gin.Context, do func(context.Context, int64) error) {
	id, err := pathID(c, "id")
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	if err := do(ctx(c), id); err != nil {
		writeError(c, s.log, err)
		return
	}
	c.Status(http.StatusNoContent)
}
