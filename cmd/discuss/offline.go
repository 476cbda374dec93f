package main

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/configs"
	"github.com/quizsite/discuss/notify"
	"github.com/quizsite/discuss/service"
	"github.com/quizsite/discuss/service/delivery"
)

// presenceRecordInterval is how often each hub records its connected users
// for the offline delivery: well within email.delay, so that a user
// connected throughout is always seen after their notification was made.
func presenceRecordInterval(email configs.Email) time.Duration {
	return min(30*time.Second, email.Delay/3)
}

// verifyPerHour is how many verification messages one user may have sent
// in an hour.
const verifyPerHour = 5

// newOffline builds the offline delivery service: the SMTP mailer when
// email.smtp_addr is set, and Web Push with its kept VAPID key pair when
// push.subject is.
func newOffline(ctx context.Context, b *base) (*service.Offline, error) {
	cfg, log := b.cfg, b.log
	interval := presenceRecordInterval(cfg.Email)
	oc := service.OfflineConfig{
		Secret:                 b.secret,
		VerifyLimiter:          service.NewRateLimiter(verifyPerHour, time.Hour),
		PublicURL:              strings.TrimSuffix(cfg.Email.PublicURL, "/"),
		Delay:                  cfg.Email.Delay,
		SendTimeout:            cfg.Email.SendTimeout,
		PresenceLease:          3 * interval,
		AllowInsecureEndpoints: cfg.Push.AllowInsecureEndpoints,
		EncodePush:             notify.NotificationFrame,
		Logger:                 log,
	}
	daily, err := cfg.Email.DailyTime()
	if err != nil {
		return nil, err // validated already
	}
	oc.DailyAt = daily
	if cfg.Email.Enabled() {
		smtp, err := delivery.NewSMTP(delivery.SMTPConfig{
			Addr: cfg.Email.SMTPAddr, Username: cfg.Email.SMTPUsername, Password: cfg.Email.SMTPPassword,
			TLS: cfg.Email.TLS, From: cfg.Email.From,
		})
		if err != nil {
			return nil, err
		}
		oc.Mailer = smtp
		log.Info("email delivery on", "smtp_addr", cfg.Email.SMTPAddr, "delay", cfg.Email.Delay.String(), "daily_at", cfg.Email.DailyAt)
	}
	if cfg.Push.Enabled() {
		private, public, err := vapidKeys(ctx, cfg, b.db, log)
		if err != nil {
			return nil, err
		}
		// Endpoints are URLs that clients name: only public addresses
		// are dialled, unless the tests' setting allows any.
		oc.Pusher = delivery.NewWebPush(private, public, cfg.Push.Subject, delivery.NewPushClient(cfg.Push.AllowInsecureEndpoints))
		oc.VAPIDPublicKey = public
	}
	return service.NewOffline(b.db, oc), nil
}

// vapidKeys returns the VAPID key pair, made on first start and kept: in
// push.vapid_private_key_file when set, else beside the SQLite database
// (as the signing secret is) or in the MySQL database, which every
// instance shares. An in-memory database gets one for the process.
func vapidKeys(ctx context.Context, cfg *configs.Config, db *gorm.DB, log *slog.Logger) (private, public string, err error) {
	path := cfg.Push.VAPIDPrivateKeyFile
	if path == "" && cfg.Database.Driver == "mysql" {
		return service.PushKeys(ctx, db, delivery.GenerateVAPIDKeys)
	}
	if path == "" {
		var kept bool
		if path, kept = besideDatabase(cfg.Database.DSN, ".vapid-key"); !kept {
			log.Warn("generated a VAPID key pair for this process only (in-memory database): browsers must subscribe again after a restart")
			return delivery.GenerateVAPIDKeys()
		}
	}
	private, public, created, err := delivery.KeyFile(path)
	if err != nil {
		return "", "", &usageError{err: err}
	}
	if created {
		log.Info("generated a VAPID key pair for Web Push and kept it", "path", path)
	}
	return private, public, nil
}
