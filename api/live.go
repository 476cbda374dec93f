package api

import "github.com/gin-gonic/gin"

// Placeholders until the live side lands.
func (s *Server) serveWS(c *gin.Context)           { s.notImplemented(c) }
func (s *Server) broadcast(c *gin.Context)         { s.notImplemented(c) }
func (s *Server) online(c *gin.Context)            { s.notImplemented(c) }
func (s *Server) listAnnouncements(c *gin.Context) { s.notImplemented(c) }
