package configs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaultIsValid(t *testing.T) {
	cfg, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if cfg.Server.Addr != ":8080" || cfg.Database.Driver != "sqlite" || cfg.WebSocket.PingInterval != 25*time.Second {
		t.Errorf("unexpected defaults: %+v", cfg)
	}
	// Trust no proxy, keep operations on the public listener, and cap the
	// sockets of every address, loopback included, unless configured.
	if len(cfg.Server.TrustedProxies) != 0 || cfg.Server.InternalAddr != "" ||
		cfg.WebSocket.MaxConnectionsPerAddress != 1000 || len(cfg.WebSocket.ExemptAddresses) != 0 {
		t.Errorf("unexpected security defaults: %+v %+v", cfg.Server, cfg.WebSocket)
	}
}

// TestDefaultsAreTheContracts: the defaults API.md gives are the defaults
// served.
func TestDefaultsAreTheContracts(t *testing.T) {
	cfg, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	ws := cfg.WebSocket
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"request body limit (64 KiB)", cfg.Limits.BodyBytes, int64(64 << 10)},
		{"WebSocket ping period", ws.PingInterval, 25 * time.Second},
		{"WebSocket silence before a drop", ws.PongTimeout, 60 * time.Second},
		{"connections per user", ws.MaxConnectionsPerUser, 8},
		{"client frame limit (4 KiB)", ws.MaxMessageBytes, int64(4 << 10)},
		{"notifications replayed after since", ws.ReplayLimit, 500},
		{"unread notifications replayed without since", ws.UnreadReplayLimit, 100},
		{"email.delay", cfg.Email.Delay, 10 * time.Minute},
		{"moderation.hide_after_reports", cfg.Moderation.HideAfterReports, 3},
	} {
		if c.got != c.want {
			t.Errorf("%s: default %v, the contract says %v", c.name, c.got, c.want)
		}
	}
}

func TestLoadOverlays(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "discuss.yaml")
	yaml := "server:\n  addr: \":9090\"\nwebsocket:\n  allowed_origins: [\"https://quiz.example.com\"]\n  ping_interval: 10s\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, env(map[string]string{
		"DISCUSS_SERVER_ADDR":                        ":7070",
		"DISCUSS_DATABASE_AUTO_MIGRATE":              "true",
		"DISCUSS_DATABASE_MAX_OPEN_CONNS":            "5",
		"DISCUSS_AUTH_EXTERNAL_ISSUER":               "https://quiz.example.com",
		"DISCUSS_WEBSOCKET_ALLOWED_ORIGINS":          "https://a.example.com, https://b.example.com",
		"DISCUSS_NOTIFICATIONS_CLEANUP_INTERVAL":     "5m",
		"DISCUSS_WEBSOCKET_MAX_CONNECTIONS_PER_USER": "3",
		"DISCUSS_SERVER_TRUSTED_PROXIES":             "10.0.0.0/8, 192.168.1.7",
	}))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"env beats file", cfg.Server.Addr, ":7070"},
		{"file beats default", cfg.WebSocket.PingInterval, 10 * time.Second},
		{"bool from env", cfg.Database.AutoMigrate, true},
		{"int from env", cfg.Database.MaxOpenConns, 5},
		{"nested from env", cfg.Auth.External.Issuer, "https://quiz.example.com"},
		{"list from env", strings.Join(cfg.WebSocket.AllowedOrigins, "|"), "https://a.example.com|https://b.example.com"},
		{"duration from env", cfg.Notifications.CleanupInterval, 5 * time.Minute},
		{"default kept", cfg.Auth.TokenTTL, 24 * time.Hour},
		{"int with underscores", cfg.WebSocket.MaxConnectionsPerUser, 3},
		{"trusted proxies from env", strings.Join(cfg.Server.TrustedProxies, "|"), "10.0.0.0/8|192.168.1.7"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		path string
		env  map[string]string
		want string
	}{
		{"ErrMissingFile", filepath.Join(dir, "nope.yaml"), nil, "nope.yaml"},
		{"ErrUnknownKey", write("unknown.yaml", "server:\n  adress: x\n"), nil, "adress"},
		{"ErrBadYAML", write("bad.yaml", "server: [\n"), nil, "bad.yaml"},
		{"ErrBadDuration", "", map[string]string{"DISCUSS_WEBSOCKET_PING_INTERVAL": "soon"}, "DISCUSS_WEBSOCKET_PING_INTERVAL"},
		{"ErrBadInt", "", map[string]string{"DISCUSS_LIMITS_BODY_BYTES": "big"}, "DISCUSS_LIMITS_BODY_BYTES"},
		{"ErrBadBool", "", map[string]string{"DISCUSS_DATABASE_AUTO_MIGRATE": "maybe"}, "DISCUSS_DATABASE_AUTO_MIGRATE"},
		{"ErrRemovedDebugAddrFile", write("debug.yaml", "server:\n  debug_addr: 127.0.0.1:6060\n"), nil, "debug_addr"},
		{"ErrRemovedDebugAddrEnv", "", map[string]string{"DISCUSS_SERVER_DEBUG_ADDR": "127.0.0.1:6060"}, "server.internal_addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.path, env(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error naming %q", err, tt.want)
			}
		})
	}
	t.Run("OKEmptyFile", func(t *testing.T) {
		cfg, err := Load(write("empty.yaml", ""), env(nil))
		if err != nil || cfg.Server.Addr != ":8080" {
			t.Fatalf("empty file: %v %+v", err, cfg)
		}
	})
}

func TestValidate(t *testing.T) {
	tests := []struct {
		setting string
		edit    func(*Config)
	}{
		{"server.addr", func(c *Config) { c.Server.Addr = "8080" }},
		{"server.tls_cert_file", func(c *Config) { c.Server.TLSCertFile = "cert.pem" }},
		{"server.internal_addr", func(c *Config) { c.Server.InternalAddr = "nowhere" }},
		{"server.internal_addr", func(c *Config) { c.Server.InternalAddr = c.Server.Addr }},
		{"server.trusted_proxies", func(c *Config) { c.Server.TrustedProxies = []string{"10.0.0.0/8", "10.0.0.0/33"} }},
		{"server.trusted_proxies", func(c *Config) { c.Server.TrustedProxies = []string{"proxy.example.com"} }},
		{"server.trusted_proxies", func(c *Config) { c.Server.TrustedProxies = []string{"fe80::1%eth0"} }},
		{"server.shutdown_timeout", func(c *Config) { c.Server.ShutdownTimeout = 0 }},
		{"server.read_timeout", func(c *Config) { c.Server.ReadTimeout = time.Second }},
		{"server.idle_timeout", func(c *Config) { c.Server.IdleTimeout = 0 }},
		{"server.max_header_bytes", func(c *Config) { c.Server.MaxHeaderBytes = 2 << 20 }},
		{"server.max_header_bytes", func(c *Config) { c.Server.MaxHeaderBytes = 100 }},
		{"database.driver", func(c *Config) { c.Database.Driver = "postgres" }},
		{"database.dsn", func(c *Config) { c.Database.Driver = "mysql"; c.Auth.Secret = strings.Repeat("s", 32) }},
		{"database.max_open_conns", func(c *Config) { c.Database.MaxOpenConns = 0 }},
		{"database.max_idle_conns", func(c *Config) { c.Database.MaxIdleConns = 100 }},
		{"database.dsn", func(c *Config) {
			c.Database.Driver = "mysql"
			c.Database.DSN = "root@tcp(127.0.0.1:3306"
			c.Auth.Secret = strings.Repeat("s", 32)
		}},
		{"auth.secret", func(c *Config) { c.Auth.Secret = "short" }},
		{"auth.token_ttl", func(c *Config) { c.Auth.TokenTTL = time.Second }},
		{"auth.bcrypt_cost", func(c *Config) { c.Auth.BcryptCost = 40 }},
		{"auth.external.algorithm", func(c *Config) { c.Auth.External.Issuer = "quiz"; c.Auth.External.Algorithm = "none" }},
		{"auth.external.hs256_secret", func(c *Config) { c.Auth.External.Issuer = "quiz"; c.Auth.External.Algorithm = "HS256" }},
		{"auth.external.rs256_public_key_file", func(c *Config) { c.Auth.External.Issuer = "quiz"; c.Auth.External.Algorithm = "RS256" }},
		{"auth.external.issuer", func(c *Config) {
			c.Auth.External.Issuer = c.Auth.Issuer
			c.Auth.External.Algorithm = "HS256"
			c.Auth.External.HS256Secret = strings.Repeat("k", 32)
		}},
		{"websocket.allowed_origins", func(c *Config) { c.WebSocket.AllowedOrigins = []string{"*"} }},
		{"websocket.ping_interval", func(c *Config) { c.WebSocket.PingInterval = -time.Second }},
		{"websocket.pong_timeout", func(c *Config) { c.WebSocket.PongTimeout = time.Second }},
		{"websocket.max_connections_per_user", func(c *Config) { c.WebSocket.MaxConnectionsPerUser = 0 }},
		{"websocket.send_queue_size", func(c *Config) { c.WebSocket.SendQueueSize = 0 }},
		{"websocket.max_message_bytes", func(c *Config) { c.WebSocket.MaxMessageBytes = 10 }},
		{"websocket.max_connections_per_address", func(c *Config) { c.WebSocket.MaxConnectionsPerAddress = -1 }},
		{"websocket.exempt_addresses", func(c *Config) { c.WebSocket.ExemptAddresses = []string{"127.0.0.0/8", "localhost"} }},
		{"broker.kind", func(c *Config) { c.Broker.Kind = "kafka" }},
		{"broker.redis_addr", func(c *Config) { c.Broker.Kind = "redis" }},
		{"limits.body_bytes", func(c *Config) { c.Limits.BodyBytes = 10 }},
		{"limits.login_per_minute", func(c *Config) { c.Limits.LoginPerMinute = 0 }},
		{"notifications.keep_per_user", func(c *Config) { c.Notifications.KeepPerUser = 0 }},
		{"notifications.retention", func(c *Config) { c.Notifications.Retention = time.Minute }},
		{"notifications.fanout_batch_size", func(c *Config) { c.Notifications.FanoutBatchSize = 0 }},
		{"notifications.fanout_poll_interval", func(c *Config) { c.Notifications.FanoutPollInterval = time.Millisecond }},
		{"email.from", func(c *Config) {
			c.Email.SMTPAddr = "smtp.example.com:587"
			c.Email.PublicURL = "https://d.example.com"
		}},
		{"email.public_url", func(c *Config) {
			c.Email.SMTPAddr, c.Email.From, c.Email.PublicURL = "smtp.example.com:587", "d@example.com", "ftp://d.example.com"
		}},
		{"email.smtp_addr", func(c *Config) { c.Email.SMTPAddr = "smtp.example.com" }},
		{"email.smtp_username", func(c *Config) { c.Email.SMTPUsername = "discuss" }},
		{"email.tls", func(c *Config) { c.Email.TLS = "ssl" }},
		{"email.delay", func(c *Config) { c.Email.Delay = 48 * time.Hour }},
		{"email.daily_at", func(c *Config) { c.Email.DailyAt = "25:00" }},
		{"email.send_timeout", func(c *Config) { c.Email.SendTimeout = 0 }},
		{"email.poll_interval", func(c *Config) { c.Email.PollInterval = 0 }},
		{"push.subject", func(c *Config) { c.Push.Subject = "ops@example.com" }},
		{"moderation.hide_after_reports", func(c *Config) { c.Moderation.HideAfterReports = 0 }},
		{"moderation.reports_per_day", func(c *Config) { c.Moderation.ReportsPerDay = 0 }},
		{"moderation.reports_per_minute", func(c *Config) { c.Moderation.ReportsPerMinute = 0 }},
		{"log.level", func(c *Config) { c.Log.Level = "loud" }},
		{"log.format", func(c *Config) { c.Log.Format = "xml" }},
	}
	for _, tt := range tests {
		t.Run(tt.setting, func(t *testing.T) {
			cfg := Default()
			tt.edit(cfg)
			err := cfg.Validate()
			var inv *InvalidError
			if !errors.As(err, &inv) || inv.Setting != tt.setting {
				t.Fatalf("got %v, want an error naming %s", err, tt.setting)
			}
			if !strings.Contains(err.Error(), tt.setting) {
				t.Errorf("message %q does not name %s", err, tt.setting)
			}
		})
	}
}

func TestRequireSecret(t *testing.T) {
	cfg := Default()
	if err := cfg.RequireSecret(); err != nil {
		t.Fatalf("sqlite without a secret: %v", err)
	}
	cfg.Database.Driver, cfg.Database.DSN = "mysql", "root@/x"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("mysql without a secret fails Validate, which migrate runs: %v", err)
	}
	var inv *InvalidError
	if err := cfg.RequireSecret(); !errors.As(err, &inv) || inv.Setting != "auth.secret" {
		t.Fatalf("mysql without a secret: %v, want an error naming auth.secret", err)
	}
	cfg.Auth.Secret = strings.Repeat("s", 32)
	if err := cfg.RequireSecret(); err != nil {
		t.Fatalf("mysql with a secret: %v", err)
	}
}

func TestPrefixes(t *testing.T) {
	got, err := Prefixes([]string{"10.1.2.3/8", "192.168.1.7", "::1", "::ffff:127.0.0.1", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	want := "[10.0.0.0/8 192.168.1.7/32 ::1/128 127.0.0.1/32 2001:db8::/32]"
	if fmt.Sprint(got) != want {
		t.Fatalf("got %v, want %s", got, want)
	}
	if _, err := Prefixes([]string{"10.0.0.0/8", "not-an-ip"}); err == nil || !strings.Contains(err.Error(), "not-an-ip") {
		t.Fatalf("got %v, want an error naming not-an-ip", err)
	}
}

// TestValidateJWKS: the quiz site's key set URL, with the message an
// operator reads for each mistake.
func TestValidateJWKS(t *testing.T) {
	const jwks = "https://quiz.example.com/.well-known/jwks.json"
	quiz := func(url string) func(*External) {
		return func(e *External) { e.Issuer = "https://quiz.example.com"; e.JWKSURL = url }
	}
	tests := []struct {
		name string
		edit func(*External)
		want string // "" for valid
	}{
		{"https", quiz(jwks), ""},
		{"http on loopback", quiz("http://127.0.0.1:8081/jwks.json"), ""},
		{"http on localhost", quiz("http://localhost:8081/jwks.json"), ""},
		{"http on IPv6 loopback", quiz("http://[::1]:8081/jwks.json"), ""},
		{"with an audience", func(e *External) { quiz(jwks)(e); e.Audience = "discuss" }, ""},
		{"no issuer", func(e *External) { e.JWKSURL = jwks },
			"auth.external.issuer is required with auth.external.jwks_url"},
		{"not a URL", quiz("quiz.example.com/jwks.json"),
			"auth.external.jwks_url must be an https URL such as https://quiz.example.com/.well-known/jwks.json (http only on a loopback address)"},
		{"http elsewhere", quiz("http://quiz.example.com/jwks.json"), "auth.external.jwks_url must be an https URL"},
		{"another scheme", quiz("file:///etc/jwks.json"), "auth.external.jwks_url must be an https URL"},
		{"credentials in the URL", quiz("https://user:pass@quiz.example.com/jwks.json"), "auth.external.jwks_url must be an https URL"},
		{"and a public key file", func(e *External) { quiz(jwks)(e); e.RS256PublicKeyFile = "quiz.pem" },
			"auth.external.jwks_url excludes auth.external.hs256_secret and auth.external.rs256_public_key_file: the issuer's keys come from one place"},
		{"and an HS256 secret", func(e *External) { quiz(jwks)(e); e.HS256Secret = strings.Repeat("k", 32) },
			"auth.external.jwks_url excludes auth.external.hs256_secret"},
		{"and an algorithm", func(e *External) { quiz(jwks)(e); e.Algorithm = "RS256" },
			"auth.external.algorithm must be empty with auth.external.jwks_url: each published key is used with its own algorithm, RS256 or ES256"},
		{"neither keys nor a URL", func(e *External) { e.Issuer = "https://quiz.example.com" },
			"auth.external.algorithm must be HS256 or RS256 (or empty with auth.external.jwks_url)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			tt.edit(&cfg.Auth.External)
			err := cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), "invalid configuration: "+tt.want)):
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// TestExampleConfiguration: configs/example.yaml, the operator's starting
// point, loads and validates (with the secret and DSN given as variables,
// as it says), and names every setting that default.yaml has, so that a
// new setting cannot be left out of it.
func TestExampleConfiguration(t *testing.T) {
	cfg, err := Load("example.yaml", env(map[string]string{
		"DISCUSS_AUTH_SECRET":  strings.Repeat("s", 32),
		"DISCUSS_DATABASE_DSN": "discuss:password@tcp(db.internal:3306)/discuss",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := cfg.RequireSecret(); err != nil {
		t.Fatal(err)
	}
	keys := func(name string) map[string]bool {
		t.Helper()
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var tree map[string]any
		if err := yaml.Unmarshal(data, &tree); err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		var walk func(prefix string, m map[string]any)
		walk = func(prefix string, m map[string]any) {
			for k, v := range m {
				if sub, ok := v.(map[string]any); ok {
					walk(prefix+k+".", sub)
					continue
				}
				out[prefix+k] = true
			}
		}
		walk("", tree)
		return out
	}
	example := keys("example.yaml")
	for key := range keys("default.yaml") {
		if !example[key] {
			t.Errorf("example.yaml does not name %s", key)
		}
	}
}
