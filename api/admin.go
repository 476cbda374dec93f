package api

import (
	"context"

	"github.com/gin-gonic/gin"
)

type setRoleRequest struct {
	Role string `json:"role"`
}

// setUserRole answers PATCH /admin/users/{id} with the user in its new role.
func (s *Server) setUserRole(c *gin.Context) (int, any, error) {
	return changeByID(c, func(ctx context.Context, id int64, req *setRoleRequest) (any, error) {
		return s.users.SetRole(ctx, id, req.Role)
	})
}
