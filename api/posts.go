package api

import "github.com/gin-gonic/gin"

// Placeholders until the posts handlers land.
func (s *Server) createPost(c *gin.Context) { s.notImplemented(c) }
func (s *Server) listPosts(c *gin.Context)  { s.notImplemented(c) }
func (s *Server) getPost(c *gin.Context)    { s.notImplemented(c) }
func (s *Server) updatePost(c *gin.Context) { s.notImplemented(c) }
func (s *Server) deletePost(c *gin.Context) { s.notImplemented(c) }
func (s *Server) likePost(c *gin.Context)   { s.notImplemented(c) }
func (s *Server) unlikePost(c *gin.Context) { s.notImplemented(c) }
func (s *Server) mutePost(c *gin.Context)   { s.notImplemented(c) }
func (s *Server) unmutePost(c *gin.Context) { s.notImplemented(c) }
