package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"gorm.io/gorm"

	"github.com/quizsite/discuss/configs"
	"github.com/quizsite/discuss/migrations"
	"github.com/quizsite/discuss/service"
	"github.com/quizsite/discuss/service/secretfile"
)

// base is what every command that works on the database sets up first.
type base struct {
	cfg        *configs.Config
	log        *slog.Logger
	db         *gorm.DB
	migrations *migrations.Migrator
	auth       *service.Auth
	// secret signs our tokens and the links of the mail.
	secret []byte
}

// openBase loads and validates the configuration, opens the database,
// makes sure its schema is current (see requireSchema) and builds the auth
// service with the signing secret. The caller must call close. A one-shot
// command (quiet) logs only warnings and errors, as text: its answer is
// what it prints, not the server's JSON log lines.
func openBase(ctx context.Context, configPath string, getenv func(string) string, stderr io.Writer, quiet bool) (b *base, close func(), err error) {
	cfg, err := loadConfig(configPath, getenv)
	if err != nil {
		return nil, nil, err
	}
	if err := cfg.RequireSecret(); err != nil {
		return nil, nil, &usageError{err: err}
	}
	logCfg := cfg.Log
	if quiet {
		logCfg = configs.Log{Level: "warn", Format: "text"}
		if strings.EqualFold(cfg.Log.Level, "error") {
			logCfg.Level = "error"
		}
	}
	log := newLogger(logCfg, stderr)
	db, m, err := openDB(ctx, cfg.Database)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			closeDB(db)
		}
	}()
	if err := requireSchema(ctx, cfg, db, m, log); err != nil {
		return nil, nil, err
	}
	secret, err := signingSecret(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	// The external issuer's key set is kept fresh by a goroutine that
	// lives as long as the base: close ends it.
	keysCtx, stopKeys := context.WithCancel(ctx)
	defer func() {
		if err != nil {
			stopKeys()
		}
	}()
	ac, err := authConfig(keysCtx, cfg, secret, log)
	if err != nil {
		return nil, nil, err
	}
	auth, err := service.NewAuth(db, ac)
	if err != nil {
		return nil, nil, err
	}
	return &base{cfg: cfg, log: log, db: db, migrations: m, auth: auth, secret: secret}, func() { stopKeys(); closeDB(db) }, nil
}

// loadConfig reads and validates the configuration. Any problem is a usage
// error: the operator has to fix a setting.
func loadConfig(path string, getenv func(string) string) (*configs.Config, error) {
	cfg, err := configs.Load(path, getenv)
	if err != nil {
		return nil, &usageError{err: err}
	}
	if cfg.Database.Driver == "sqlite" && cfg.Database.DSN == "" {
		cfg.Database.DSN = configs.DefaultSQLitePath
	}
	if err := cfg.Validate(); err != nil {
		return nil, &usageError{err: err}
	}
	return cfg, nil
}

func newLogger(cfg configs.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level)) // validated already
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(cfg.Format, "text") {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// openDB opens the configured database and returns it with a migrator.
func openDB(ctx context.Context, cfg configs.Database) (*gorm.DB, *migrations.Migrator, error) {
	db, err := service.OpenDB(ctx, service.DBConfig{
		Driver:          cfg.Driver,
		DSN:             cfg.DSN,
		MaxOpenConns:    cfg.MaxOpenConns,
		MaxIdleConns:    cfg.MaxIdleConns,
		ConnMaxLifetime: cfg.ConnMaxLifetime,
	})
	if err != nil {
		return nil, nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, nil, err
	}
	m, err := migrations.New(sqlDB, cfg.Driver)
	if err != nil {
		_ = sqlDB.Close()
		return nil, nil, err
	}
	return db, m, nil
}

func closeDB(db *gorm.DB) {
	if sqlDB, err := db.DB(); err == nil {
		_ = sqlDB.Close()
	}
}

// signingSecret returns the configured secret. With SQLite and none
// configured it reads the one kept beside the database file, or makes and
// keeps one, saying so in the log; MySQL setups must configure it
// (RequireSecret refused them otherwise). An in-memory database gets one
// for the life of the process.
func signingSecret(cfg *configs.Config, log *slog.Logger) ([]byte, error) {
	if cfg.Auth.Secret != "" {
		return []byte(cfg.Auth.Secret), nil
	}
	path, kept := secretPath(cfg.Database.DSN)
	if !kept {
		log.Warn("generated a signing secret for this process only (in-memory database); set auth.secret to keep tokens across restarts")
		secret, err := newSecret()
		return []byte(secret), err
	}
	if err := adoptSharedSecret(path, log); err != nil {
		return nil, err
	}
	// Of two processes starting at once, one keeps its secret and the
	// other reads it.
	secret, created, err := secretfile.Keep(path, "signing secret", newSecret)
	switch {
	case err != nil:
		return nil, err
	case created:
		log.Warn("generated a signing secret and kept it beside the database; set auth.secret in production", "path", path)
	case len(secret) < 32:
		return nil, fmt.Errorf("signing secret in %s is shorter than 32 bytes; delete it to make a new one", path)
	default:
		log.Info("using the signing secret kept beside the database", "path", path)
	}
	return []byte(secret), nil
}

// secretPath is where the secret of the SQLite database dsn is kept: the
// database file's name with ".jwt-secret" added, so that two databases in
// one folder have a secret each. kept is false for an in-memory database.
func secretPath(dsn string) (path string, kept bool) {
	return besideDatabase(dsn, ".jwt-secret")
}

// besideDatabase is the file named by the SQLite database dsn's file name
// and suffix; kept is false for an in-memory database.
func besideDatabase(dsn, suffix string) (path string, kept bool) {
	file, _, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
	if file == "" || strings.HasPrefix(file, ":memory:") {
		return "", false
	}
	return file + suffix, true
}

// adoptSharedSecret moves the secret that earlier versions kept for every
// database of a folder, in its file jwt-secret, to path, the secret of one
// database, unless that has one already: tokens signed before the upgrade
// keep working, and the next database made in the folder gets its own.
func adoptSharedSecret(path string, log *slog.Logger) error {
	shared := filepath.Join(filepath.Dir(path), "jwt-secret")
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if _, err := os.Stat(shared); err != nil {
		return nil
	}
	if err := os.Rename(shared, path); err != nil {
		return fmt.Errorf("keep signing secret: %w", err)
	}
	log.Info("moved the signing secret kept for the folder to the database's own file", "from", shared, "to", path)
	return nil
}

// newSecret returns 32 random bytes, hex-encoded.
func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// authConfig turns the auth settings into the service's configuration,
// reading the external issuer's public key when it uses RS256, or fetching
// its key set, refreshed until ctx ends, when it publishes one.
func authConfig(ctx context.Context, cfg *configs.Config, secret []byte, log *slog.Logger) (service.AuthConfig, error) {
	ac := service.AuthConfig{
		Secret:          secret,
		Issuer:          cfg.Auth.Issuer,
		TokenTTL:        cfg.Auth.TokenTTL,
		BcryptCost:      cfg.Auth.BcryptCost,
		UserCacheTTL:    cfg.Auth.UserCacheTTL,
		LoginLimiter:    service.NewRateLimiter(cfg.Limits.LoginPerMinute, time.Minute),
		RegisterLimiter: service.NewRateLimiter(cfg.Limits.RegisterPerMinute, time.Minute),
	}
	ext := cfg.Auth.External
	if !ext.Enabled() {
		return ac, nil
	}
	ei := &service.ExternalIssuer{Issuer: ext.Issuer, Algorithm: ext.Algorithm, Audience: ext.Audience}
	switch {
	case ext.JWKSURL != "":
		keys, err := service.NewJWKS(ctx, service.JWKSConfig{URL: ext.JWKSURL, Logger: log})
		if err != nil {
			return ac, err
		}
		log.Info("external tokens are checked against the issuer's published keys", "issuer", ext.Issuer, "jwks_url", ext.JWKSURL)
		ei.JWKS = keys
	case ext.Algorithm == "HS256":
		ei.HS256Key = []byte(ext.HS256Secret)
	case ext.Algorithm == "RS256":
		key, err := readRSAPublicKey(ext.RS256PublicKeyFile)
		if err != nil {
			return ac, &usageError{err: fmt.Errorf("auth.external.rs256_public_key_file: %w", err)}
		}
		ei.RS256Key = key
	}
	ac.External = ei
	return ac, nil
}

func readRSAPublicKey(path string) (*rsa.PublicKey, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return jwt.ParseRSAPublicKeyFromPEM(pem)
}
