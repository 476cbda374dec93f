package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/quizsite/discuss/service"
)

type subscriptionRequest struct {
	Level string `json:"level"`
}

func (s *Server) getSubscription(c *gin.Context) (int, any, error) {
	return byID(c, s.posts.Subscription)
}

func (s *Server) putSubscription(c *gin.Context) (int, any, error) {
	return changeByID(c, func(ctx context.Context, id int64, req *subscriptionRequest) (any, error) {
		return s.posts.SetSubscription(ctx, id, req.Level)
	})
}

func (s *Server) deleteSubscription(c *gin.Context) (int, any, error) {
	return byID(c, s.posts.ResetSubscription)
}

func (s *Server) listSubscriptions(c *gin.Context) (int, any, error) {
	limit, err := queryLimit(c)
	if err != nil {
		return 0, nil, err
	}
	page, err := s.posts.Subscriptions(ctx(c), service.SubscriptionQuery{Limit: limit, Cursor: c.Query("cursor")})
	return http.StatusOK, page, err
}
