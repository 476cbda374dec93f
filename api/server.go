// Package api is the HTTP face of discuss: the Gin router, one file per
// resource, the middleware, the one table from error codes to statuses, and
// the WebSocket upgrade. Handlers decode requests, call a service with the
// request's context and encode the answer; they never touch the database.
package api

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/quizsite/discuss/configs"
	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/notify"
	"github.com/quizsite/discuss/service"
)

// Deps is everything the API calls. cmd builds each piece and hands it in.
type Deps struct {
	Config        *configs.Config
	Logger        *slog.Logger
	Registry      *prometheus.Registry
	Auth          *service.Auth
	Users         *service.Users
	Posts         *service.Posts
	Comments      *service.Comments
	Notifications *service.Notifications
	Announcements *service.Announcements
	Offline       *service.Offline
	Moderation    *service.Moderation
	Blocks        *service.Blocks
	Hub           *notify.Hub
	// Ready reports whether the server can serve: the database answers
	// (and its schema is current); /readyz calls it. An EUNAVAILABLE
	// model.Error it returns is shown to the prober as it is.
	Ready func(context.Context) error
}

// Server holds the dependencies of the handlers.
type Server struct {
	cfg      *configs.Config
	log      *slog.Logger
	registry *prometheus.Registry
	metrics  *httpMetrics
	auth     *service.Auth
	users    *service.Users
	posts    *service.Posts
	comments *service.Comments
	notes    *service.Notifications
	ready    func(context.Context) error
	// origins may call the API from a browser (CORS), as they may open /ws.
	origins model.Origins

	announcements *service.Announcements
	offline       *service.Offline
	moderation    *service.Moderation
	blocks        *service.Blocks
	hub           *notify.Hub
	upgrader      *websocket.Upgrader
	refused       refusedOrigins

	// public serves the API, and the operations routes unless
	// server.internal_addr is set; internal serves those and the
	// profiler (see routes.go).
	public, internal *gin.Engine
}

// New returns the server. It registers the HTTP metrics on d.Registry.
func New(d Deps) (*Server, error) {
	m, err := newHTTPMetrics(d.Registry)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      d.Config,
		log:      d.Logger,
		registry: d.Registry,
		metrics:  m,
		auth:     d.Auth,
		users:    d.Users,
		posts:    d.Posts,
		comments: d.Comments,
		notes:    d.Notifications,
		ready:    d.Ready,
		origins:  model.NewOrigins(d.Config.WebSocket.AllowedOrigins),

		announcements: d.Announcements,
		offline:       d.Offline,
		moderation:    d.Moderation,
		blocks:        d.Blocks,
		hub:           d.Hub,
		upgrader:      d.Hub.Upgrader(),
	}
	s.upgrader.Error = s.upgradeError
	gin.SetMode(gin.ReleaseMode)
	if s.public, err = s.routes(); err != nil {
		return nil, err
	}
	s.internal = s.internalRoutes()
	return s, nil
}

// Handler returns the HTTP handler of the public listener.
func (s *Server) Handler() http.Handler { return s.public }

// InternalHandler returns the HTTP handler of the internal listener
// (server.internal_addr): metrics, profiles and health, for the operators'
// network only.
func (s *Server) InternalHandler() http.Handler { return s.internal }
