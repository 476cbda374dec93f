package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"gorm.io/gorm"

	"github.com/quizsite/discuss/api"
	"github.com/quizsite/discuss/configs"
	"github.com/quizsite/discuss/migrations"
	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/notify"
	"github.com/quizsite/discuss/service"
	"github.com/quizsite/discuss/service/delivery"
	"github.com/quizsite/discuss/service/markdown"
)

func serveCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, configPath := newFlags("serve", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	b, closeBase, err := openBase(ctx, *configPath, getenv, stderr, false)
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
	offline, err := newOffline(ctx, b)
	if err != nil {
		return err
	}
	opts, err := hubOptions(cfg.WebSocket, cfg.Database)
	if err != nil {
		return err
	}
	// A user changed on any instance is read afresh on this one.
	opts.OnUserChanged, opts.OnResubscribed = auth.ForgetUser, auth.ForgetUsers
	// Who is connected decides who is mailed and pushed.
	opts.Presence, opts.PresenceRecordInterval = offline, presenceRecordInterval(cfg.Email)
	hub := notify.New(opts, notes.Store(), broker, log, registry)
	// Each notification published goes to the hub, and to the push
	// services when its user has no connection open.
	pub.Publisher = offline.Publisher(hub)
	comments := service.NewComments(db, notes, service.NewRateLimiter(cfg.Limits.CommentsPerMinute, time.Minute))
	comments.SetPageCache(cfg.ThreadCache.MaxBytes, cfg.ThreadCache.TTL)
	registerPageCacheMetrics(registry, comments)
	srv, err := api.New(api.Deps{
		Config:        cfg,
		Logger:        log,
		Registry:      registry,
		Auth:          auth,
		Users:         service.NewUsers(db, hub),
		Posts:         service.NewPosts(db, notes, service.NewRateLimiter(cfg.Limits.PostsPerMinute, time.Minute)),
		Comments:      comments,
		Notifications: notes,
		Announcements: service.NewAnnouncements(db, hub, log),
		Moderation: service.NewModeration(db, notes, service.ModerationConfig{
			HideAfterReports: cfg.Moderation.HideAfterReports, ReportsPerDay: cfg.Moderation.ReportsPerDay,
			Limiter: service.NewRateLimiter(cfg.Moderation.ReportsPerMinute, time.Minute),
		}),
		Blocks:  service.NewBlocks(db, notes),
		Offline: offline,
		Hub:     hub,
		Ready:   readiness(db, b.migrations),
	})
	if err != nil {
		return err
	}

	// Listen before anything starts, so that an address in use stops
	// start-up with nothing left running.
	listeners, err := listen(cfg.Server, srv, log)
	if err != nil {
		return err
	}
	// An event stream's handler runs as long as the stream, and Shutdown
	// waits for handlers: the streams are closed (1001) as the public
	// listener starts draining, not when its drain times out.
	listeners[0].srv.RegisterOnShutdown(hub.CloseStreams)

	// The hub and the background jobs live until shutdown, which cancels
	// their context only after the HTTP servers have stopped taking
	// requests, and is waited for before the broker and the database close.
	// A hub that stops by itself (the broker refused it for good) delivers
	// nothing more: that stops the process, as a failing listener does.
	hubCtx, stopHub := context.WithCancel(context.Background())
	defer stopHub()
	// The fan-out worker publishes through the hub, so it stops first.
	fanoutCtx, stopFanout := context.WithCancel(context.Background())
	defer stopFanout()
	var fanoutDone sync.WaitGroup
	fanoutDone.Go(func() {
		notes.RunFanout(fanoutCtx, service.Fanout{
			BatchSize: cfg.Notifications.FanoutBatchSize, Poll: cfg.Notifications.FanoutPollInterval,
		})
	})
	// The mail and push workers stop with it: they publish nothing.
	fanoutDone.Go(func() { offline.RunMail(fanoutCtx, cfg.Email.PollInterval) })
	fanoutDone.Go(func() { offline.RunPush(fanoutCtx, pushWorkers) })
	hubErr := make(chan error, 1)
	var hubDone sync.WaitGroup
	hubDone.Go(func() { hubErr <- hub.Run(hubCtx) })
	hubDone.Go(func() {
		notes.RunRetention(hubCtx, cfg.Notifications.CleanupInterval, service.Retention{
			MaxAge: cfg.Notifications.Retention, KeepPerUser: cfg.Notifications.KeepPerUser,
		})
	})

	// Either listener failing stops both, and everything else, in order.
	var wg sync.WaitGroup
	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		wg.Go(func() {
			log.Info("serving", "listener", l.name, "addr", l.ln.Addr().String(), "scheme", l.scheme(), "database", cfg.Database.Driver,
				"allowed_origins", cfg.WebSocket.AllowedOrigins)
			if err := l.serve(); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serve %s: %w", l.name, err)
			}
		})
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-errc:
	case err := <-hubErr:
		runErr = fmt.Errorf("live notifications stopped: %w", err)
	}
	if runErr != nil {
		log.Error("server failed; shutting down", "error", runErr)
	}

	// Shut down in order: stop taking requests and let those under way
	// finish, then close the remaining connections, then the database.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
	defer cancel()
	// The internal listener (the last) goes first: its /readyz must stop
	// answering before the public port drains, so that a load balancer's
	// probes take the instance out instead of sending it more requests.
	for _, l := range slices.Backward(listeners) {
		if err := l.srv.Shutdown(shutdownCtx); err != nil {
			log.Warn("http shutdown", "listener", l.name, "error", err)
			_ = l.srv.Close()
		}
	}
	wg.Wait()
	// Then the fan-out, which ends the batch under way; another instance
	// (or this one, restarted) takes up the rest.
	stopFanout()
	fanoutDone.Wait()
	// Then the sockets, which the HTTP server does not track once upgraded:
	// the hub closes each with 1001 (going away) and waits for them.
	stopHub()
	hubDone.Wait()
	log.Info("stopped")
	return runErr
}

// pushWorkers is how many Web Push messages are sent at once.
const pushWorkers = 4

// listener is an HTTP server and the socket it serves.
type listener struct {
	name              string
	srv               *http.Server
	ln                net.Listener
	certFile, keyFile string // set when it serves TLS
}

func (l *listener) scheme() string {
	if l.certFile != "" {
		return "https"
	}
	return "http"
}

func (l *listener) serve() error {
	if l.certFile != "" {
		return l.srv.ServeTLS(l.ln, l.certFile, l.keyFile)
	}
	return l.srv.Serve(l.ln)
}

// listen opens the public listener and, with server.internal_addr, the
// internal one; when the second fails the first is closed again.
func listen(cfg configs.Server, srv *api.Server, log *slog.Logger) ([]*listener, error) {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on server.addr %s: %w", cfg.Addr, err)
	}
	listeners := []*listener{{
		name: "public", srv: newHTTPServer(srv.Handler(), cfg, cfg.WriteTimeout, log), ln: ln,
		certFile: cfg.TLSCertFile, keyFile: cfg.TLSKeyFile,
	}}
	if cfg.InternalAddr == "" {
		return listeners, nil
	}
	iln, err := net.Listen("tcp", cfg.InternalAddr)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("listen on server.internal_addr %s: %w", cfg.InternalAddr, err)
	}
	// The internal listener speaks plain HTTP: it belongs on a private
	// network, which is also why it holds the profiler. It has no write
	// timeout: a CPU profile or a trace takes as long as it is asked to
	// (pprof refuses one longer than the server's WriteTimeout).
	return append(listeners, &listener{name: "internal", srv: newHTTPServer(srv.InternalHandler(), cfg, 0, log), ln: iln}), nil
}

// newHTTPServer returns a server for h with the limits that keep slow and
// idle clients from holding connections and memory. ReadTimeout bounds
// reading each request, body included, so a body trickled in byte by byte
// is cut; it does not reach WebSocket connections, as net/http clears the
// read deadline once a request's body is read (an upgrade has none),
// gorilla clears the deadlines of the connection it takes over, and the
// hub then sets its own. writeTimeout (0: none) bounds each request from
// the end of its headers to the last byte of its answer, so a client that
// never reads what it asked for (a pipeline of requests fills any buffer)
// does not keep the handler's goroutine and the connection for ever;
// gorilla clears it on a WebSocket's connection, and an event stream sets
// a deadline per write. IdleTimeout closes keep-alive connections that
// send nothing. MaxHeaderBytes is net/http's own limit, which answers in
// plain text; server.max_header_bytes, below it, is checked by the API and
// answered in JSON.
func newHTTPServer(h http.Handler, cfg configs.Server, writeTimeout time.Duration, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    configs.MaxHeaderBytesLimit,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// requireSchema makes sure the schema is current. SQLite, the embedded
// zero-configuration database, is migrated on start; MySQL is migrated only
// with database.auto_migrate, and otherwise a pending migration stops
// start-up with the command the operator should run. Then the rows whose
// body_html an older renderer made, or none, are rendered
// (service.RenderStoredBodies), so that nothing is served without it.
func requireSchema(ctx context.Context, cfg *configs.Config, db *gorm.DB, m *migrations.Migrator, log *slog.Logger) error {
	// A newer binary's migrations are let be: instances of the older one
	// keep serving while a rollout replaces them, as they do on a schema
	// migrated under them. They may not keep up what those migrations
	// added (see the README, Migrations), so say so.
	if version, ahead, err := m.Ahead(ctx); err != nil {
		return err
	} else if ahead {
		log.Warn("the database was migrated by a newer binary, past the migrations this one knows", "database_version", version)
	}
	if cfg.Database.Driver == migrations.SQLite || cfg.Database.AutoMigrate {
		steps, err := m.Up(ctx)
		for _, s := range steps {
			log.Info("applied migration", "version", s.Version, "name", s.Name)
		}
		if err != nil {
			return err
		}
	} else {
		pending, err := m.Pending(ctx)
		if err != nil {
			return err
		}
		if pending {
			return errors.New("the database schema is behind: run `discuss migrate up` (or set database.auto_migrate)")
		}
	}
	return renderStoredBodies(ctx, db, log)
}

// renderStoredBodies renders the bodies that need it and logs how many.
func renderStoredBodies(ctx context.Context, db *gorm.DB, log *slog.Logger) error {
	start := time.Now()
	n, err := service.RenderStoredBodies(ctx, db)
	if n > 0 {
		log.Info("rendered stored bodies", "rows", n, "renderer_version", markdown.Version, "took", time.Since(start).Round(time.Millisecond).String())
	}
	if err != nil {
		return fmt.Errorf("render stored bodies: %w", err)
	}
	return nil
}

// deferredPublisher forwards to a Publisher set after construction; it
// breaks the cycle between the notifications service and the hub.
type deferredPublisher struct{ service.Publisher }

// The hub publishes for the service, and the service is the hub's store:
// each side declares the small interface it needs, and here they meet.
var (
	_ service.Publisher       = (*notify.Hub)(nil)
	_ notify.Store            = (*service.NotificationStore)(nil)
	_ notify.PresenceRecorder = (*service.Offline)(nil)
	_ service.Mailer          = (*delivery.SMTP)(nil)
	_ service.Pusher          = (*delivery.WebPush)(nil)
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
func hubOptions(ws configs.WebSocket, db configs.Database) (notify.Options, error) {
	exempt, err := configs.Prefixes(ws.ExemptAddresses)
	if err != nil {
		return notify.Options{}, &usageError{err: fmt.Errorf("websocket.exempt_addresses: %w", err)}
	}
	return notify.Options{
		StoreConcurrency:         max(db.MaxOpenConns/2, 1),
		AllowedOrigins:           ws.AllowedOrigins,
		PingInterval:             ws.PingInterval,
		PongTimeout:              ws.PongTimeout,
		WriteTimeout:             ws.WriteTimeout,
		MaxConnectionsPerUser:    ws.MaxConnectionsPerUser,
		SendQueueSize:            ws.SendQueueSize,
		MaxMessageBytes:          ws.MaxMessageBytes,
		ReplayLimit:              ws.ReplayLimit,
		UnreadReplayLimit:        ws.UnreadReplayLimit,
		MaxConnectionsPerAddress: ws.MaxConnectionsPerAddress,
		ExemptAddresses:          exempt,
	}, nil
}

// readiness is /readyz's check: the database answers, and its schema has
// every migration this binary needs. A schema rolled back under a running
// server (`migrate down`) makes it not ready rather than a source of 500s.
func readiness(db *gorm.DB, m *migrations.Migrator) func(context.Context) error {
	return func(ctx context.Context) error {
		sqlDB, err := db.DB()
		if err != nil {
			return err
		}
		if err := sqlDB.PingContext(ctx); err != nil {
			return err
		}
		pending, err := m.Pending(ctx)
		if err != nil {
			return err
		}
		if pending {
			return model.Errorf(model.EUNAVAILABLE, "the database schema is behind: run `discuss migrate up`")
		}
		return nil
	}
}

// registerPageCacheMetrics exports the thread page cache's counters
// (service.Comments.PageCacheStats), read when scraped.
func registerPageCacheMetrics(reg prometheus.Registerer, comments *service.Comments) {
	counters := []struct {
		name, help string
		pick       func(service.PageCacheStats) uint64
	}{
		{"hits", "Thread pages served from the page cache after their check.",
			func(s service.PageCacheStats) uint64 { return s.Hits }},
		{"misses", "Thread pages the cache could have served but had to read (no entry, an entry outdated or expired, or a reader it does not fit).",
			func(s service.PageCacheStats) uint64 { return s.Misses }},
		{"fills", "Thread pages read and kept in the page cache.",
			func(s service.PageCacheStats) uint64 { return s.Filled }},
		{"joined", "Thread page reads that missed and waited for another read's fill of the page instead of reading it.",
			func(s service.PageCacheStats) uint64 { return s.Joined }},
		{"bypassed", "Thread pages the cache does not serve (later pages, other limits, moderators).",
			func(s service.PageCacheStats) uint64 { return s.Bypassed }},
	}
	for _, c := range counters {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "discuss_thread_page_cache_" + c.name + "_total", Help: c.help,
		}, func() float64 { return float64(c.pick(comments.PageCacheStats())) }))
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "discuss_thread_page_cache_bytes", Help: "Bytes the thread page cache holds.",
	}, func() float64 { return float64(comments.PageCacheStats().Bytes) }))
}
