package api

import (
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
	var req registerRequest
	if err := decodeJSON(c, &req); err != nil {
		return 0, nil, err
	}
	sess, err := s.auth.Register(ctx(c), service.RegisterInput{
		Username: req.Username, Password: req.Password, DisplayName: req.DisplayName, ClientAddr: clientKey(c),
	})
	return http.StatusCreated, sess, err
}

func (s *Server) login(c *gin.Context) (int, any, error) {
	var req loginRequest
	if err := decodeJSON(c, &req); err != nil {
		return 0, nil, err
	}
	sess, err := s.auth.Login(ctx(c), req.Username, req.Password, clientKey(c))
	return http.StatusOK, sess, err
}

func (s *Server) me(c *gin.Context) (int, any, error) {
	// The row, not the copy the token's check may have taken from the
	// user cache: /me is how a client learns its account as it is now.
	u, err := s.users.Get(ctx(c), model.UserFrom(ctx(c)).ID)
	return http.StatusOK, u, err
}
