package api

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// openAPIDocument is the API contract as an OpenAPI 3 document. It is
// written by hand beside this file; TestOpenAPIMatchesRoutes fails when a
// route and the document disagree, and the handler tests validate their
// answers against it.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPI serves the document. It changes only with the binary, so caches
// may keep it for a while.
func (s *Server) openAPI(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, jsonContentType, openAPIDocument)
}
