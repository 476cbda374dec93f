package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/quizsite/discuss/service"
)

type createCommentRequest struct {
	Body     string `json:"body"`
	ParentID *int64 `json:"parent_id"`
	Spoiler  bool   `json:"spoiler"`
}

// updateCommentRequest has pointers so that an absent field stays
// unchanged.
type updateCommentRequest struct {
	Body    *string `json:"body"`
	Spoiler *bool   `json:"spoiler"`
}

func (s *Server) createComment(c *gin.Context) (int, any, error) {
	var req createCommentRequest
	postID, err := pathIDAndJSON(c, &req)
	if err != nil {
		return 0, nil, err
	}
	cm, err := s.comments.Create(ctx(c), postID, service.CommentInput{Body: req.Body, ParentID: req.ParentID, Spoiler: req.Spoiler})
	return http.StatusCreated, cm, err
}

func (s *Server) listComments(c *gin.Context) (int, any, error) {
	postID, limit, err := pathIDAndLimit(c)
	if err != nil {
		return 0, nil, err
	}
	// Encoded by the service, which caches the first pages of threads.
	page, err := s.comments.ListJSON(ctx(c), postID, service.CommentQuery{
		Sort: c.Query("sort"), Limit: limit, Cursor: c.Query("cursor"),
	})
	return http.StatusOK, encodedJSON(page), err
}

func (s *Server) getComment(c *gin.Context) (int, any, error) { return byID(c, s.comments.Get) }

func (s *Server) listReplies(c *gin.Context) (int, any, error) {
	id, limit, err := pathIDAndLimit(c)
	if err != nil {
		return 0, nil, err
	}
	page, err := s.comments.Replies(ctx(c), id, limit, c.Query("cursor"))
	return http.StatusOK, page, err
}

func (s *Server) updateComment(c *gin.Context) (int, any, error) {
	return changeByID(c, func(ctx context.Context, id int64, req *updateCommentRequest) (any, error) {
		return s.comments.Update(ctx, id, service.CommentPatch{Body: req.Body, Spoiler: req.Spoiler})
	})
}

func (s *Server) deleteComment(c *gin.Context) (int, any, error) {
	return noContent(c, s.comments.Delete)
}

func (s *Server) likeComment(c *gin.Context) (int, any, error)   { return byID(c, s.comments.Like) }
func (s *Server) unlikeComment(c *gin.Context) (int, any, error) { return byID(c, s.comments.Unlike) }
