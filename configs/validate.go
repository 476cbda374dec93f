package configs

import (
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Validate checks every setting and returns the first problem, naming the
// setting by its YAML path so that an operator knows what to fix.
func (c *Config) Validate() error {
	ext := c.Auth.External
	checks := []struct {
		bad     bool
		setting string
		problem string
	}{
		{!validAddr(c.Server.Addr), "server.addr", "must be host:port, such as :8080"},
		{(c.Server.TLSCertFile == "") != (c.Server.TLSKeyFile == ""), "server.tls_cert_file", "and server.tls_key_file must be set together"},
		{c.Server.InternalAddr != "" && !validAddr(c.Server.InternalAddr), "server.internal_addr", "must be host:port, such as 127.0.0.1:9090"},
		{c.Server.InternalAddr != "" && c.Server.InternalAddr == c.Server.Addr, "server.internal_addr", "must differ from server.addr"},
		{c.Server.ShutdownTimeout <= 0, "server.shutdown_timeout", "must be positive"},
		{c.Server.ReadHeaderTimeout <= 0, "server.read_header_timeout", "must be positive"},
		{c.Server.ReadTimeout < c.Server.ReadHeaderTimeout, "server.read_timeout", "must be at least server.read_header_timeout"},
		{c.Server.WriteTimeout <= c.Server.ReadTimeout, "server.write_timeout", "must be longer than server.read_timeout"},
		{c.Server.IdleTimeout <= 0, "server.idle_timeout", "must be positive"},
		{c.Server.MaxHeaderBytes < 4096 || c.Server.MaxHeaderBytes > MaxHeaderBytesLimit, "server.max_header_bytes", "must be between 4096 and 1048576"},

		{c.Database.Driver != "sqlite" && c.Database.Driver != "mysql", "database.driver", "must be sqlite or mysql"},
		{c.Database.Driver == "mysql" && c.Database.DSN == "", "database.dsn", "is required with the mysql driver"},
		{c.Database.Driver == "mysql" && !validMySQLDSN(c.Database.DSN), "database.dsn", "is not a MySQL DSN such as user:password@tcp(host:3306)/discuss"},
		{c.Database.MaxOpenConns < 1, "database.max_open_conns", "must be at least 1"},
		{c.Database.MaxIdleConns < 0 || c.Database.MaxIdleConns > c.Database.MaxOpenConns, "database.max_idle_conns", "must be between 0 and database.max_open_conns"},
		{c.Database.ConnMaxLifetime < 0, "database.conn_max_lifetime", "must not be negative"},

		{c.Auth.Secret != "" && len(c.Auth.Secret) < 32, "auth.secret", "must be at least 32 bytes"},
		{c.Auth.Issuer == "", "auth.issuer", "is required"},
		{c.Auth.TokenTTL < time.Minute, "auth.token_ttl", "must be at least 1m"},
		{c.Auth.BcryptCost < 4 || c.Auth.BcryptCost > 31, "auth.bcrypt_cost", "must be between 4 and 31"},
		{c.Auth.UserCacheTTL < 0 || c.Auth.UserCacheTTL > time.Minute, "auth.user_cache_ttl", "must be between 0 and 1m"},
		{ext.Enabled() && ext.Issuer == c.Auth.Issuer, "auth.external.issuer", "must differ from auth.issuer"},
		{ext.JWKSURL != "" && !ext.Enabled(), "auth.external.issuer", "is required with auth.external.jwks_url"},
		{ext.JWKSURL != "" && !validJWKSURL(ext.JWKSURL), "auth.external.jwks_url", "must be an https URL such as https://quiz.example.com/.well-known/jwks.json (http only on a loopback address)"},
		{ext.JWKSURL != "" && (ext.HS256Secret != "" || ext.RS256PublicKeyFile != ""), "auth.external.jwks_url", "excludes auth.external.hs256_secret and auth.external.rs256_public_key_file: the issuer's keys come from one place"},
		{ext.JWKSURL != "" && ext.Algorithm != "", "auth.external.algorithm", "must be empty with auth.external.jwks_url: each published key is used with its own algorithm, RS256 or ES256"},
		{ext.Enabled() && ext.JWKSURL == "" && ext.Algorithm != "HS256" && ext.Algorithm != "RS256", "auth.external.algorithm", "must be HS256 or RS256 (or empty with auth.external.jwks_url)"},
		{ext.Algorithm == "HS256" && len(ext.HS256Secret) < 32, "auth.external.hs256_secret", "must be at least 32 bytes with HS256"},
		{ext.Algorithm == "RS256" && ext.RS256PublicKeyFile == "", "auth.external.rs256_public_key_file", "is required with RS256"},

		{c.WebSocket.PingInterval <= 0, "websocket.ping_interval", "must be positive"},
		{c.WebSocket.PongTimeout <= c.WebSocket.PingInterval, "websocket.pong_timeout", "must be longer than websocket.ping_interval"},
		{c.WebSocket.WriteTimeout <= 0, "websocket.write_timeout", "must be positive"},
		{c.WebSocket.MaxConnectionsPerUser < 1, "websocket.max_connections_per_user", "must be at least 1"},
		{c.WebSocket.SendQueueSize < 1, "websocket.send_queue_size", "must be at least 1"},
		{c.WebSocket.MaxMessageBytes < 64, "websocket.max_message_bytes", "must be at least 64"},
		{c.WebSocket.ReplayLimit < 1, "websocket.replay_limit", "must be at least 1"},
		{c.WebSocket.UnreadReplayLimit < 1, "websocket.unread_replay_limit", "must be at least 1"},
		{c.WebSocket.MaxConnectionsPerAddress < 0, "websocket.max_connections_per_address", "must not be negative (0: no cap)"},

		{c.Broker.Kind != "memory" && c.Broker.Kind != "redis", "broker.kind", "must be memory or redis"},
		{c.Broker.Kind == "redis" && !validAddr(c.Broker.RedisAddr), "broker.redis_addr", "must be host:port with the redis broker"},
		{c.Broker.Channel == "", "broker.channel", "is required"},

		{c.Limits.BodyBytes < 1024, "limits.body_bytes", "must be at least 1024"},
		{c.Limits.LoginPerMinute < 1, "limits.login_per_minute", "must be at least 1"},
		{c.Limits.RegisterPerMinute < 1, "limits.register_per_minute", "must be at least 1"},
		{c.Limits.PostsPerMinute < 1, "limits.posts_per_minute", "must be at least 1"},
		{c.Limits.CommentsPerMinute < 1, "limits.comments_per_minute", "must be at least 1"},

		{c.Notifications.Retention < time.Hour, "notifications.retention", "must be at least 1h"},
		{c.Notifications.KeepPerUser < 1, "notifications.keep_per_user", "must be at least 1"},
		{c.Notifications.CleanupInterval < time.Second, "notifications.cleanup_interval", "must be at least 1s"},
		{c.Notifications.FanoutBatchSize < 1 || c.Notifications.FanoutBatchSize > 5000, "notifications.fanout_batch_size", "must be 1 to 5000"},
		{c.Notifications.FanoutPollInterval < 10*time.Millisecond, "notifications.fanout_poll_interval", "must be at least 10ms"},

		{c.ThreadCache.MaxBytes < 0, "thread_cache.max_bytes", "must not be negative (0: no cache)"},
		{c.ThreadCache.TTL < time.Second || c.ThreadCache.TTL > time.Hour, "thread_cache.ttl", "must be between 1s and 1h"},

		{c.Email.Enabled() && !validAddr(c.Email.SMTPAddr), "email.smtp_addr", "must be host:port, such as smtp.example.com:587"},
		{c.Email.Enabled() && !validMailbox(c.Email.From), "email.from", "must be an address such as Discuss <discuss@quiz.example.com> when email.smtp_addr is set"},
		{c.Email.Enabled() && !validPublicURL(c.Email.PublicURL), "email.public_url", "must be an http(s) URL such as https://discuss.quiz.example.com when email.smtp_addr is set"},
		{(c.Email.SMTPUsername == "") != (c.Email.SMTPPassword == ""), "email.smtp_username", "and email.smtp_password must be set together"},
		{!oneOf(c.Email.TLS, "starttls", "opportunistic", "none"), "email.tls", "must be starttls, opportunistic or none"},
		{c.Email.Delay < time.Second || c.Email.Delay > 24*time.Hour, "email.delay", "must be between 1s and 24h"},
		{!validDailyAt(c.Email), "email.daily_at", "must be a UTC time of day such as 08:00"},
		{c.Email.SendTimeout < time.Second, "email.send_timeout", "must be at least 1s"},
		{c.Email.PollInterval < 10*time.Millisecond, "email.poll_interval", "must be at least 10ms"},

		{c.Push.Enabled() && !strings.HasPrefix(c.Push.Subject, "mailto:") && !strings.HasPrefix(c.Push.Subject, "https://"), "push.subject", "must be a mailto: or https: URL (RFC 8292)"},
		{c.Moderation.HideAfterReports < 1, "moderation.hide_after_reports", "must be at least 1"},
		{c.Moderation.ReportsPerDay < 1, "moderation.reports_per_day", "must be at least 1"},
		{c.Moderation.ReportsPerMinute < 1, "moderation.reports_per_minute", "must be at least 1"},

		{!oneOf(c.Log.Level, "debug", "info", "warn", "error"), "log.level", "must be debug, info, warn or error"},
		{!oneOf(c.Log.Format, "json", "text"), "log.format", "must be json or text"},
	}
	for _, ch := range checks {
		if ch.bad {
			return &InvalidError{Setting: ch.setting, Problem: ch.problem}
		}
	}
	for _, l := range []struct {
		setting string
		list    []string
	}{{"server.trusted_proxies", c.Server.TrustedProxies}, {"websocket.exempt_addresses", c.WebSocket.ExemptAddresses}} {
		if _, err := Prefixes(l.list); err != nil {
			return &InvalidError{Setting: l.setting, Problem: err.Error()}
		}
	}
	for _, o := range c.WebSocket.AllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return &InvalidError{Setting: "websocket.allowed_origins", Problem: fmt.Sprintf("%q is not an origin such as https://quiz.example.com", o)}
		}
	}
	return nil
}

// InvalidError names a setting whose value cannot be used.
type InvalidError struct {
	Setting string
	Problem string
}

func (e *InvalidError) Error() string {
	return "invalid configuration: " + e.Setting + " " + e.Problem
}

// MaxHeaderBytesLimit is the largest server.max_header_bytes. It is also
// net/http's own limit, http.DefaultMaxHeaderBytes: a request head between
// server.max_header_bytes and it is refused in the API's JSON shape, one
// past it by net/http in plain text.
const MaxHeaderBytesLimit = 1 << 20

// Prefixes parses a list of IP addresses and CIDR prefixes, such as
// 10.0.0.0/8 and ::1; an address stands for itself alone.
func Prefixes(list []string) ([]netip.Prefix, error) {
	prefixes := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			prefixes = append(prefixes, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR prefix such as 10.0.0.0/8", s)
		}
		a = a.Unmap()
		prefixes = append(prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	return prefixes, nil
}

// validJWKSURL reports whether u can be trusted to serve keys: over https,
// or over http from this very machine (a sidecar, a test).
func validJWKSURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" || p.User != nil {
		return false
	}
	if p.Scheme == "https" {
		return true
	}
	if p.Scheme != "http" {
		return false
	}
	host := p.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.IsLoopback()
	}
	return host == "localhost"
}

// RequireSecret reports the one setting that only the commands that sign
// or check tokens need: MySQL setups must configure auth.secret (SQLite
// ones get a generated secret kept beside the database). migrate signs
// nothing and runs without it.
func (c *Config) RequireSecret() error {
	if c.Database.Driver == "mysql" && c.Auth.Secret == "" {
		return &InvalidError{Setting: "auth.secret", Problem: "is required with the mysql driver (at least 32 bytes)"}
	}
	return nil
}

func validMailbox(s string) bool {
	_, err := mail.ParseAddress(s)
	return err == nil
}

func validPublicURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.RawQuery == ""
}

func validDailyAt(e Email) bool {
	_, err := e.DailyTime()
	return err == nil
}

func validMySQLDSN(dsn string) bool {
	_, err := mysql.ParseDSN(dsn)
	return dsn == "" || err == nil
}

func validAddr(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port != ""
}

func oneOf(s string, options ...string) bool {
	for _, o := range options {
		if strings.EqualFold(s, o) {
			return true
		}
	}
	return false
}
