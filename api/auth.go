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

func (s *Server) register(c *gin.Context) {
	var req registerRequest
	if err := decodeJSON(c, &req); err != nil {
		writeError(c, s.log, err)
		return
	}
	sess, err := s.auth.Register(ctx(c), service.RegisterInput{
		Username: req.Username, Password: req.Password, DisplayName: req.DisplayName, ClientAddr: c.ClientIP(),
	})
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	c.JSON(http.StatusCreated, sess)
}

func (s *Server) login(c *gin.Context) {
	var req loginRequest
	if err := decodeJSON(c, &req); err != nil {
		writeError(c, s.log, err)
		return
	}
	sess, err := s.auth.Login(ctx(c), req.Username, req.Password, c.ClientIP())
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, sess)
}

func (s *Server) me(c *gin.Context) {
	c.JSON(http.StatusOK, model.UserFrom(ctx(c)))
}
