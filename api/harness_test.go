package api

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quizsite/discuss/configs"
	"github.com/quizsite/discuss/notify"
	"github.com/quizsite/discuss/service"
	"github.com/quizsite/discuss/service/dbtest"
)

// testSecret signs the tokens of the test servers.
const testSecret = "test-secret-test-secret-test-secret-0123"

// testServer is the API over a fresh migrated database, served by httptest.
type testServer struct {
	*httptest.Server
	DB     *dbtest.DB
	Config *configs.Config
	Auth   *service.Auth
	Logs   *dbtest.SyncBuffer
	Srv    *Server
}

// newTestServer starts the API on a fresh database. edit, when given, may
// change the configuration first.
func newTestServer(t testing.TB, edit ...func(*configs.Config)) *testServer {
	t.Helper()
	return newServer(t, setup{}, edit...)
}

// setup is what a test may choose of a server beyond its configuration.
// The zero value is a fresh database, an in-process broker, and offline
// delivery with neither mail nor push.
type setup struct {
	// db and broker, when set, are shared with other instances, as those
	// of several instances behind a load balancer are.
	db     *dbtest.DB
	broker notify.Broker
	// offline, when set, configures offline delivery (a mailer, a pusher).
	offline func(*service.OfflineConfig)
}

// newServer starts the API as su says; edit, when given, may change the
// configuration first.
func newServer(t testing.TB, su setup, edit ...func(*configs.Config)) *testServer {
	t.Helper()
	db, broker, offline := su.db, su.broker, su.offline
	if db == nil {
		db = dbtest.Open(t)
	}
	if broker == nil {
		broker = notify.NewMemoryBroker()
	}
	cfg := configs.Default()
	cfg.Auth.Secret = testSecret
	cfg.Auth.BcryptCost = 4
	// Generous limits: tests of the limits lower them.
	cfg.Limits.LoginPerMinute = 10000
	cfg.Limits.RegisterPerMinute = 10000
	cfg.Limits.PostsPerMinute = 10000
	cfg.Limits.CommentsPerMinute = 10000
	cfg.Moderation.ReportsPerMinute = 10000
	for _, e := range edit {
		e(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &dbtest.SyncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	d, err := buildDeps(cfg, db, broker, logger, offline)
	if err != nil {
		t.Fatal(err)
	}
	hubCtx, stopHub := context.WithCancel(context.Background())
	hubDone := make(chan struct{})
	go func() {
		defer close(hubDone)
		_ = d.Hub.Run(hubCtx)
	}()
	// The fan-out worker publishes through the hub: it stops first, as in cmd.
	fanoutCtx, stopFanout := context.WithCancel(context.Background())
	fanoutDone := make(chan struct{})
	go func() {
		defer close(fanoutDone)
		d.Notifications.RunFanout(fanoutCtx, service.Fanout{
			BatchSize: cfg.Notifications.FanoutBatchSize, Poll: cfg.Notifications.FanoutPollInterval,
		})
	}()
	t.Cleanup(func() {
		stopFanout()
		<-fanoutDone
		stopHub()
		<-hubDone
	})
	<-d.Hub.Ready()
	srv, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &testServer{Server: ts, DB: db, Config: cfg, Auth: d.Auth, Logs: logs, Srv: srv}
}

// buildDeps wires the services the way cmd does.
func buildDeps(cfg *configs.Config, db *dbtest.DB, broker notify.Broker, logger *slog.Logger, offline func(*service.OfflineConfig)) (Deps, error) {
	auth, err := service.NewAuth(db.DB, service.AuthConfig{
		Secret:          []byte(cfg.Auth.Secret),
		Issuer:          cfg.Auth.Issuer,
		TokenTTL:        cfg.Auth.TokenTTL,
		BcryptCost:      cfg.Auth.BcryptCost,
		LoginLimiter:    service.NewRateLimiter(cfg.Limits.LoginPerMinute, time.Minute),
		RegisterLimiter: service.NewRateLimiter(cfg.Limits.RegisterPerMinute, time.Minute),
	})
	if err != nil {
		return Deps{}, err
	}
	exempt, err := configs.Prefixes(cfg.WebSocket.ExemptAddresses)
	if err != nil {
		return Deps{}, err
	}
	registry := prometheus.NewRegistry()
	oc := service.OfflineConfig{
		Secret: []byte(cfg.Auth.Secret), PublicURL: "http://discuss.test", Delay: cfg.Email.Delay,
		SendTimeout: 5 * time.Second, PresenceLease: time.Minute, EncodePush: notify.NotificationFrame, Logger: logger,
	}
	if offline != nil {
		offline(&oc)
	}
	offlineDelivery := service.NewOffline(db.DB, oc)
	pub := &deferredPublisher{}
	notes := service.NewNotifications(db.DB, pub).WithLogger(logger)
	hub := notify.New(notify.Options{
		AllowedOrigins:           cfg.WebSocket.AllowedOrigins,
		PingInterval:             cfg.WebSocket.PingInterval,
		WriteTimeout:             cfg.WebSocket.WriteTimeout,
		MaxConnectionsPerUser:    cfg.WebSocket.MaxConnectionsPerUser,
		SendQueueSize:            cfg.WebSocket.SendQueueSize,
		MaxMessageBytes:          cfg.WebSocket.MaxMessageBytes,
		ReplayLimit:              cfg.WebSocket.ReplayLimit,
		UnreadReplayLimit:        cfg.WebSocket.UnreadReplayLimit,
		MaxConnectionsPerAddress: cfg.WebSocket.MaxConnectionsPerAddress,
		ExemptAddresses:          exempt,
		Presence:                 offlineDelivery,
	}, notes.Store(), broker, logger, registry)
	pub.Publisher = offlineDelivery.Publisher(hub)
	return Deps{
		Config:        cfg,
		Logger:        logger,
		Registry:      registry,
		Auth:          auth,
		Users:         service.NewUsers(db.DB, hub),
		Posts:         service.NewPosts(db.DB, notes, service.NewRateLimiter(cfg.Limits.PostsPerMinute, time.Minute)),
		Comments:      service.NewComments(db.DB, notes, service.NewRateLimiter(cfg.Limits.CommentsPerMinute, time.Minute)),
		Notifications: notes,
		Announcements: service.NewAnnouncements(db.DB, hub, logger),
		Moderation: service.NewModeration(db.DB, notes, service.ModerationConfig{
			HideAfterReports: cfg.Moderation.HideAfterReports, ReportsPerDay: cfg.Moderation.ReportsPerDay,
			Limiter: service.NewRateLimiter(cfg.Moderation.ReportsPerMinute, time.Minute),
		}),
		Blocks:  service.NewBlocks(db.DB, notes),
		Offline: offlineDelivery,
		Hub:     hub,
		Ready: func(ctx context.Context) error {
			sqlDB, err := db.DB.DB()
			if err != nil {
				return err
			}
			return sqlDB.PingContext(ctx)
		},
	}, nil
}

// deferredPublisher breaks the construction cycle of the notifications
// service and the hub, as cmd does.
type deferredPublisher struct{ service.Publisher }
