package api

import "github.com/gin-gonic/gin"

// Placeholder until the OpenAPI document lands.
func (s *Server) openAPI(c *gin.Context) { s.notImplemented(c) }
