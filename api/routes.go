package api

import (
	"net/http"
	"net/http/pprof"

	"github.com/gin-gonic/gin"

	"github.com/quizsite/discuss/model"
)

// routes is the whole URL space of the public listener in one place:
// operations, then the public, user, moderator and admin groups of
// /api/v1, then the live connections. Every /api/v1 handler is a
// jsonHandler wrapped by s.handle (handler.go); the operations routes, /ws
// and /sse write their own answers.
func (s *Server) routes() (*gin.Engine, error) {
	r := gin.New()
	r.ContextWithFallback = true
	r.HandleMethodNotAllowed = false
	// Gin answers a path with a stray trailing slash with a redirect and an
	// HTML body (307 for a POST, which clients re-send). A JSON API answers
	// the contract's 404 instead.
	r.RedirectTrailingSlash = false
	if err := trustProxies(r, s.cfg.Server.TrustedProxies); err != nil {
		return nil, err
	}
	// headerLimit comes after cors, so that a browser may read its answer.
	r.Use(requestIDMiddleware(), s.accessLog(), s.metrics.middleware(), s.recoverMiddleware(), s.cors(), s.headerLimit())
	r.NoRoute(s.noRoute)

	// Operations, unless the internal listener serves them.
	if s.cfg.Server.InternalAddr == "" {
		s.operations(r)
	}
	r.GET("/openapi.json", s.openAPI)
	// HEAD too: uptime checkers and link checkers use it.
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		r.Handle(method, "/", s.index)
		r.Handle(method, "/static/*filepath", s.static)
		// The verification link of the mail opens the page, which confirms
		// its token; the service worker of Web Push is served from the
		// root so that its scope is the whole page.
		r.Handle(method, "/verify-email", s.index)
		r.Handle(method, "/sw.js", s.serviceWorker)
	}

	v1 := r.Group("/api/v1", s.bodyLimit(), s.deadline())

	// Public: the only routes without a token.
	v1.POST("/auth/register", s.handle(s.register))
	v1.POST("/auth/login", s.handle(s.login))
	// The links of the mail: whoever holds the token may use them.
	v1.POST("/email/verify", s.handle(s.verifyEmail))
	v1.GET("/email/unsubscribe", s.unsubscribePage)
	v1.POST("/email/unsubscribe", s.handle(s.unsubscribe))
	v1.GET("/push/key", s.handle(s.pushKey))

	// Any signed-in user.
	user := v1.Group("", s.authenticate())
	user.GET("/me", s.handle(s.me))
	user.GET("/me/subscriptions", s.handle(s.listSubscriptions))
	user.GET("/me/preferences", s.handle(s.getPreferences))
	user.PATCH("/me/preferences", s.handle(s.patchPreferences))
	user.POST("/push/subscriptions", s.handle(s.subscribePush))
	user.DELETE("/push/subscriptions", s.handle(s.unsubscribePush))
	user.GET("/me/blocks", s.handle(s.listBlocks))
	user.PUT("/users/:id/block", s.handle(s.blockUser))
	user.DELETE("/users/:id/block", s.handle(s.unblockUser))

	user.POST("/posts", s.handle(s.createPost))
	user.GET("/posts", s.handle(s.listPosts))
	user.GET("/posts/:id", s.handle(s.getPost))
	user.PATCH("/posts/:id", s.handle(s.updatePost))
	user.DELETE("/posts/:id", s.handle(s.deletePost))
	user.PUT("/posts/:id/like", s.handle(s.likePost))
	user.DELETE("/posts/:id/like", s.handle(s.unlikePost))
	user.PUT("/posts/:id/mute", s.handle(s.mutePost))
	user.DELETE("/posts/:id/mute", s.handle(s.unmutePost))
	user.GET("/posts/:id/subscription", s.handle(s.getSubscription))
	user.PUT("/posts/:id/subscription", s.handle(s.putSubscription))
	user.DELETE("/posts/:id/subscription", s.handle(s.deleteSubscription))
	user.POST("/posts/:id/report", s.handle(s.reportPost))

	user.POST("/posts/:id/comments", s.handle(s.createComment))
	user.GET("/posts/:id/comments", s.handle(s.listComments))
	user.GET("/comments/:id", s.handle(s.getComment))
	user.GET("/comments/:id/replies", s.handle(s.listReplies))
	user.PATCH("/comments/:id", s.handle(s.updateComment))
	user.DELETE("/comments/:id", s.handle(s.deleteComment))
	user.PUT("/comments/:id/like", s.handle(s.likeComment))
	user.DELETE("/comments/:id/like", s.handle(s.unlikeComment))
	user.POST("/comments/:id/report", s.handle(s.reportComment))

	user.GET("/notifications", s.handle(s.listNotifications))
	user.GET("/notifications/grouped", s.handle(s.listNotificationGroups))
	user.GET("/notifications/unread_count", s.handle(s.unreadCount))
	user.POST("/notifications/read", s.handle(s.markRead))
	user.POST("/notifications/seen", s.handle(s.markSeen))
	user.POST("/notifications/:id/read", s.handle(s.markOneRead))

	user.GET("/announcements", s.handle(s.listAnnouncements))

	// Moderators and admins.
	mod := user.Group("/mod", s.requireModerator())
	mod.GET("/reports", s.handle(s.listReports))
	mod.POST("/reports/:id/resolve", s.handle(s.resolveReport))

	// Admins only.
	admin := user.Group("/admin", s.requireAdmin())
	admin.POST("/broadcast", s.handle(s.broadcast))
	admin.POST("/notify", s.handle(s.adminNotify))
	admin.GET("/online", s.handle(s.online))
	admin.PATCH("/users/:id", s.handle(s.setUserRole))
	admin.GET("/moderation-log", s.handle(s.moderationLog))

	// Live notifications; the token is checked before the upgrade, or
	// before the event stream starts.
	r.GET("/ws", s.serveWS)
	r.GET("/sse", s.serveSSE)

	return r, nil
}

// internalRoutes is the URL space of the internal listener: the operations
// routes and the Go profiler, which is never on the public listener (a
// profile shows the code paths, and taking one costs CPU). No access log:
// probes and scrapes would fill it.
func (s *Server) internalRoutes() *gin.Engine {
	r := gin.New()
	r.HandleMethodNotAllowed = false
	r.RedirectTrailingSlash = false
	r.Use(s.recoverMiddleware())
	r.NoRoute(s.noRoute)
	s.operations(r)
	prof := r.Group("/debug/pprof")
	prof.GET("/", gin.WrapF(pprof.Index))
	prof.GET("/cmdline", gin.WrapF(pprof.Cmdline))
	prof.GET("/profile", gin.WrapF(pprof.Profile))
	prof.GET("/symbol", gin.WrapF(pprof.Symbol))
	prof.POST("/symbol", gin.WrapF(pprof.Symbol))
	prof.GET("/trace", gin.WrapF(pprof.Trace))
	prof.GET("/:profile", gin.WrapF(pprof.Index)) // heap, goroutine, allocs...
	return r
}

// operations are the routes of probes and monitoring.
func (s *Server) operations(r *gin.Engine) {
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		r.Handle(method, "/healthz", s.healthz)
		r.Handle(method, "/readyz", s.readyz)
	}
	r.GET("/metrics", s.metricsHandler())
}

func (s *Server) noRoute(c *gin.Context) {
	writeError(c, s.log, model.Errorf(model.ENOTFOUND, "no route %s %s", c.Request.Method, c.Request.URL.Path))
}
