package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

type setRoleRequest struct {
	Role string `json:"role"`
}

// setUserRole answers PATCH /admin/users/{id} with the user in its new role.
func (s *Server) setUserRole(c *gin.Context) (int, any, error) {
	var req setRoleRequest
	id, err := pathIDAndJSON(c, &req)
	if err != nil {
		return 0, nil, err
	}
	u, err := s.users.SetRole(ctx(c), id, req.Role)
	return http.StatusOK, u, err
}
