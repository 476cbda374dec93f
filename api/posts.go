package api

import (
	"context"
	"math"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

type createPostRequest struct {
	Title     string `json:"title"`
	Body      string `json:"body"`
	ProblemID *int64 `json:"problem_id"`
	Spoiler   bool   `json:"spoiler"`
}

// updatePostRequest has pointers so that an absent field stays unchanged.
type updatePostRequest struct {
	Title   *string `json:"title"`
	Body    *string `json:"body"`
	Spoiler *bool   `json:"spoiler"`
}

func (s *Server) createPost(c *gin.Context) (int, any, error) {
	return fromBody(c, http.StatusCreated, func(ctx context.Context, req *createPostRequest) (any, error) {
		return s.posts.Create(ctx, service.PostInput{Title: req.Title, Body: req.Body, ProblemID: req.ProblemID, Spoiler: req.Spoiler})
	})
}

func (s *Server) listPosts(c *gin.Context) (int, any, error) {
	problemID, err := queryID(c, "problem_id")
	if err != nil {
		return 0, nil, err
	}
	authorID, err := queryID(c, "author_id")
	if err != nil {
		return 0, nil, err
	}
	limit, err := queryLimit(c)
	if err != nil {
		return 0, nil, err
	}
	page, err := s.posts.List(ctx(c), service.PostQuery{
		ProblemID: problemID, AuthorID: authorID,
		Sort: c.Query("sort"), Limit: limit, Cursor: c.Query("cursor"),
	})
	return http.StatusOK, page, err
}

func (s *Server) getPost(c *gin.Context) (int, any, error) { return byID(c, s.posts.Get) }

func (s *Server) updatePost(c *gin.Context) (int, any, error) {
	return changeByID(c, func(ctx context.Context, id int64, req *updatePostRequest) (any, error) {
		return s.posts.Update(ctx, id, service.PostPatch{Title: req.Title, Body: req.Body, Spoiler: req.Spoiler})
	})
}

func (s *Server) deletePost(c *gin.Context) (int, any, error) { return noContent(c, s.posts.Delete) }
func (s *Server) likePost(c *gin.Context) (int, any, error)   { return byID(c, s.posts.Like) }
func (s *Server) unlikePost(c *gin.Context) (int, any, error) { return byID(c, s.posts.Unlike) }
func (s *Server) mutePost(c *gin.Context) (int, any, error)   { return noContent(c, s.posts.Mute) }
func (s *Server) unmutePost(c *gin.Context) (int, any, error) { return noContent(c, s.posts.Unmute) }

// queryID reads an optional positive integer query parameter; nil when it is
// absent or empty, as queryInt reads them. Errors: EINVALID naming the
// parameter.
func queryID(c *gin.Context, name string) (*int64, error) {
	if raw, ok := c.GetQuery(name); !ok || raw == "" {
		return nil, nil
	}
	id, err := queryInt(c, name, 0, 1, math.MaxInt64)
	if err != nil || id == 0 {
		return nil, model.Errorf(model.EINVALID, "%s must be a positive integer", name)
	}
	return &id, nil
}

// queryLimit reads the limit of a list: 1 to service.MaxPageSize, by default
// service.DefaultPageSize. Errors: EINVALID naming limit.
func queryLimit(c *gin.Context) (int, error) {
	n, err := queryInt(c, "limit", service.DefaultPageSize, 1, service.MaxPageSize)
	return int(n), err
}
