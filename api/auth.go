package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

type registerRequest struct {
	Username    string `json:"username"`
	Password    string `json:"password"`
	DisplayName string `json:"display_name"`
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func (s *Server) register(c *gin.Context) (int, any, error) {
	return fromBody(c, http.StatusCreated, func(ctx context.Context, req *registerRequest) (any, error) {
		return s.auth.Register(ctx, service.RegisterInput{
			Username: req.Username, Password: req.Password, DisplayName: req.DisplayName, ClientAddr: clientKey(c),
		})
	})
}

func (s *Server) login(c *gin.Context) (int, any, error) {
	return fromBody(c, http.StatusOK, func(ctx context.Context, req *loginRequest) (any, error) {
		return s.auth.Login(ctx, req.Username, req.Password, clientKey(c))
	})
}

func (s *Server) me(c *gin.Context) (int, any, error) {
	// The row, not the copy the token's check may have taken from the
	// user cache: /me is how a client learns its account as it is now.
	u, err := s.users.Get(ctx(c), model.UserFrom(ctx(c)).ID)
	return http.StatusOK, u, err
}
