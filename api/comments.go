package api

import "github.com/gin-gonic/gin"

// Placeholders until the comments handlers land.
func (s *Server) createComment(c *gin.Context) { s.notImplemented(c) }
func (s *Server) listComments(c *gin.Context)  { s.notImplemented(c) }
func (s *Server) getComment(c *gin.Context)    { s.notImplemented(c) }
func (s *Server) listReplies(c *gin.Context)   { s.notImplemented(c) }
func (s *Server) updateComment(c *gin.Context) { s.notImplemented(c) }
func (s *Server) deleteComment(c *gin.Context) { s.notImplemented(c) }
func (s *Server) likeComment(c *gin.Context)   { s.notImplemented(c) }
func (s *Server) unlikeComment(c *gin.Context) { s.notImplemented(c) }
