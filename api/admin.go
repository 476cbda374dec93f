package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

type setRoleRequest struct {
	Role string `json:"role"`
}

func (s *Server) setUserRole(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	var req setRoleRequest
	if err := decodeJSON(c, &req); err != nil {
		writeError(c, s.log, err)
		return
	}
	u, err := s.users.SetRole(ctx(c), id, req.Role)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, u)
}
