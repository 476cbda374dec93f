package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"gorm.io/gorm"

	"github.com/quizsite/discuss/api"
	"github.com/quizsite/discuss/configs"
	"github.com/quizsite/discuss/migrations"
	"github.com/quizsite/discuss/notify"
	"github.com/quizsite/discuss/service"
)

func serveCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, configPath := newFlags("serve", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	b, closeBase, err := openBase(ctx, *configPath, getenv, stderr)
	if err != nil {
		return err
	}
	defer closeBase()
	cfg, log, db, auth := b.cfg, b.log, b.db, b.auth

	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	broker, closeBroker, err := newBroker(cfg.Broker, log)
	if err != nil {
		return err
	}
	defer closeBroker()
	// The notifications service publishes through the hub, and the hub reads
	// missed notifications through the service: build one, then the other.
	pub := &deferredPublisher{}
	notes := service.NewNotifications(db, pub).WithLogger(log)
	hub := notify.New(hubOptions(cfg.WebSocket, cfg.Database), notes, broker, log, registry)
	pub.Publisher = hub
	srv, err := api.New(api.Deps{
		Config:        cfg,
		Logger:        log,
		Registry:      registry,
		Auth:          auth,
		Users:         service.NewUsers(db),
		Posts:         service.NewPosts(db, notes, service.NewRateLimiter(cfg.Limits.PostsPerMinute, time.Minute)),
		Comments:      service.NewComments(db, notes, service.NewRateLimiter(cfg.Limits.CommentsPerMinute, time.Minute)),
		Notifications: notes,
		Announcements: service.NewAnnouncements(db, hub, log),
		Hub:           hub,
		Ready:         pinger(db),
	})
	if err != nil {
		return err
	}

	// The hub and the background jobs live until shutdown, which cancels
	// their context only after the HTTP server has stopped taking requests.
	hubCtx, stopHub := context.WithCancel(context.Background())
	defer stopHub()
	var hubDone sync.WaitGroup
	hubDone.Go(func() {
		if err := hub.Run(hubCtx); err != nil {
			log.Error("hub stopped", "error", err)
		}
	})
	hubDone.Go(func() {
		notes.RunRetention(hubCtx, cfg.Notifications.CleanupInterval, service.Retention{
			MaxAge: cfg.Notifications.Retention, KeepPerUser: cfg.Notifications.KeepPerUser,
		})
	})

	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Server.Addr, err)
	}
	httpServer := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Go(func() {
		scheme := "http"
		if cfg.Server.TLS() {
			scheme = "https"
		}
		log.Info("serving", "addr", ln.Addr().String(), "scheme", scheme, "database", cfg.Database.Driver)
		var err error
		if cfg.Server.TLS() {
			err = httpServer.ServeTLS(ln, cfg.Server.TLSCertFile, cfg.Server.TLSKeyFile)
		} else {
			err = httpServer.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("serve: %w", err)
		}
	})
	debugServer, err := startDebugServer(cfg.Server.DebugAddr, log, errc, &wg)
	if err != nil {
		_ = httpServer.Close()
		return err
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-errc:
		log.Error("server failed; shutting down", "error", runErr)
	}

	// Shut down in order: stop taking requests and let those under way
	// finish, then close the remaining connections, then the database.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
	defer cancel()
	if err := httpServer.Shutdown(shutdownCtx); err != nil {
		log.Warn("http shutdown", "error", err)
		_ = httpServer.Close()
	}
	if debugServer != nil {
		_ = debugServer.Shutdown(shutdownCtx)
	}
	wg.Wait()
	// Then the sockets, which the HTTP server does not track once upgraded:
	// the hub closes each with 1001 (going away) and waits for them.
	stopHub()
	hubDone.Wait()
	log.Info("stopped")
	return runErr
}

// requireSchema makes sure the schema is current. SQLite, the embedded
// zero-configuration database, is migrated on start; MySQL is migrated only
// with database.auto_migrate, and otherwise a pending migration stops
// start-up with the command the operator should run.
func requireSchema(ctx context.Context, cfg *configs.Config, m *migrations.Migrator, log *slog.Logger) error {
	if cfg.Database.Driver == migrations.SQLite || cfg.Database.AutoMigrate {
		steps, err := m.Up(ctx)
		for _, s := range steps {
			log.Info("applied migration", "version", s.Version, "name", s.Name)
		}
		return err
	}
	pending, err := m.Pending(ctx)
	if err != nil {
		return err
	}
	if pending {
		return errors.New("the database schema is behind: run `discuss migrate up` (or set database.auto_migrate)")
	}
	return nil
}

// deferredPublisher forwards to a Publisher set after construction; it
// breaks the cycle between the notifications service and the hub.
type deferredPublisher struct{ service.Publisher }

// The hub publishes for the service, and the service is the hub's store:
// each side declares the small interface it needs, and here they meet.
var (
	_ service.Publisher = (*notify.Hub)(nil)
	_ notify.Store      = (*service.Notifications)(nil)
)

// newBroker returns the configured broker and how to close it.
func newBroker(cfg configs.Broker, log *slog.Logger) (notify.Broker, func(), error) {
	if cfg.Kind != "redis" {
		return notify.NewMemoryBroker(), func() {}, nil
	}
	b, err := notify.NewRedisBroker(notify.RedisConfig{
		Addr: cfg.RedisAddr, Password: cfg.RedisPassword, DB: cfg.RedisDB, Channel: cfg.Channel,
	}, log)
	if err != nil {
		return nil, nil, err
	}
	return b, func() { _ = b.Close() }, nil
}

// hubOptions copies the WebSocket settings. The hub's Store calls get half
// of the database pool, so that a reconnect storm leaves the rest to REST.
func hubOptions(ws configs.WebSocket, db configs.Database) notify.Options {
	return notify.Options{
		StoreConcurrency:      max(db.MaxOpenConns/2, 1),
		AllowedOrigins:        ws.AllowedOrigins,
		PingInterval:          ws.PingInterval,
		PongTimeout:           ws.PongTimeout,
		WriteTimeout:          ws.WriteTimeout,
		MaxConnectionsPerUser: ws.MaxConnectionsPerUser,
		SendQueueSize:         ws.SendQueueSize,
		MaxMessageBytes:       ws.MaxMessageBytes,
		ReplayLimit:           ws.ReplayLimit,
		UnreadReplayLimit:     ws.UnreadReplayLimit,
	}
}

func pinger(db *gorm.DB) func(context.Context) error {
	return func(ctx context.Context) error {
		sqlDB, err := db.DB()
		if err != nil {
			return err
		}
		return sqlDB.PingContext(ctx)
	}
}

// startDebugServer serves /debug/pprof on its own listener when addr is
// set, so profiles are never exposed on the public port.
func startDebugServer(addr string, log *slog.Logger, errc chan<- error, wg *sync.WaitGroup) (*http.Server, error) {
	if addr == "" {
		return nil, nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on server.debug_addr %s: %w", addr, err)
	}
	s := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	wg.Go(func() {
		log.Info("serving pprof", "addr", ln.Addr().String())
		if err := s.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("debug server: %w", err)
		}
	})
	return s, nil
}
