package api

import (
	"context"

	"github.com/gin-gonic/gin"

	"github.com/quizsite/discuss/model"
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
	return listed(c, func(ctx context.Context, limit int, cursor string) (*service.Page[*model.SubscriptionItem], error) {
		return s.posts.Subscriptions(ctx, service.SubscriptionQuery{Limit: limit, Cursor: cursor})
	})
}
