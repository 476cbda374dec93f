package api

import "github.com/gin-gonic/gin"

// Placeholders until the notifications handlers land.
func (s *Server) listNotifications(c *gin.Context) { s.notImplemented(c) }
func (s *Server) unreadCount(c *gin.Context)       { s.notImplemented(c) }
func (s *Server) markRead(c *gin.Context)          { s.notImplemented(c) }
func (s *Server) markOneRead(c *gin.Context)       { s.notImplemented(c) }
func (s *Server) adminNotify(c *gin.Context)       { s.notImplemented(c) }
