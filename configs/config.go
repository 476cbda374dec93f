// Package configs holds the typed configuration of discuss: the embedded
// defaults, an optional YAML file over them, DISCUSS_* environment overrides
// over that, and the validation that stops a bad setting at start-up.
package configs

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

//go:embed default.yaml
var defaultYAML []byte

// Config is the whole configuration. Field tags name the YAML keys; the
// environment variable of a setting is DISCUSS_ followed by its upper-cased
// path joined with underscores.
type Config struct {
	Server        Server        `yaml:"server"`
	Database      Database      `yaml:"database"`
	Auth          Auth          `yaml:"auth"`
	WebSocket     WebSocket     `yaml:"websocket"`
	Broker        Broker        `yaml:"broker"`
	Limits        Limits        `yaml:"limits"`
	Notifications Notifications `yaml:"notifications"`
	ThreadCache   ThreadCache   `yaml:"thread_cache"`
	Email         Email         `yaml:"email"`
	Push          Push          `yaml:"push"`
	Moderation    Moderation    `yaml:"moderation"`
	Log           Log           `yaml:"log"`
}

// Server configures the HTTP listeners.
type Server struct {
	Addr        string `yaml:"addr"`
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// InternalAddr, when set, is a second listener for /metrics,
	// /debug/pprof, /healthz and /readyz, which then leave the public one.
	InternalAddr string `yaml:"internal_addr"`
	// TrustedProxies lists the addresses (IPs or CIDRs) of the proxies
	// whose X-Forwarded-For names the client; empty trusts none.
	TrustedProxies    []string      `yaml:"trusted_proxies"`
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, headers and body.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds each request of the public listener from the
	// end of its headers to the last byte of its answer, so that a client
	// that never reads the answer does not hold the connection for ever.
	// WebSocket connections and event streams set their own deadlines.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout closes a keep-alive connection idle for this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes bounds the request line and headers together.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
}

// TLS reports whether the server terminates TLS itself.
func (s Server) TLS() bool { return s.TLSCertFile != "" }

// Database configures the one database discuss keeps its state in.
type Database struct {
	Driver          string        `yaml:"driver"`
	DSN             string        `yaml:"dsn"`
	MaxOpenConns    int           `yaml:"max_open_conns"`
	MaxIdleConns    int           `yaml:"max_idle_conns"`
	ConnMaxLifetime time.Duration `yaml:"conn_max_lifetime"`
	AutoMigrate     bool          `yaml:"auto_migrate"`
}

// DefaultSQLitePath is where the zero-configuration database lives.
const DefaultSQLitePath = "data/discuss.db"

// Auth configures our own tokens and, optionally, the quiz site's issuer.
type Auth struct {
	Secret     string        `yaml:"secret"`
	Issuer     string        `yaml:"issuer"`
	TokenTTL   time.Duration `yaml:"token_ttl"`
	BcryptCost int           `yaml:"bcrypt_cost"`
	// UserCacheTTL is how long the user a token names is reused before it
	// is read again; role changes made through the API apply at once.
	UserCacheTTL time.Duration `yaml:"user_cache_ttl"`
	External     External      `yaml:"external"`
}

// External describes the quiz site's own token issuer. Its keys are one
// configured key (Algorithm with HS256Secret or RS256PublicKeyFile) or the
// key set it publishes at JWKSURL.
type External struct {
	Issuer             string `yaml:"issuer"`
	Algorithm          string `yaml:"algorithm"`
	HS256Secret        string `yaml:"hs256_secret"`
	RS256PublicKeyFile string `yaml:"rs256_public_key_file"`
	JWKSURL            string `yaml:"jwks_url"`
	Audience           string `yaml:"audience"`
}

// Enabled reports whether tokens of an external issuer are accepted.
func (e External) Enabled() bool { return e.Issuer != "" }

// WebSocket configures /ws and, through AllowedOrigins, CORS.
type WebSocket struct {
	AllowedOrigins        []string      `yaml:"allowed_origins"`
	PingInterval          time.Duration `yaml:"ping_interval"`
	PongTimeout           time.Duration `yaml:"pong_timeout"`
	WriteTimeout          time.Duration `yaml:"write_timeout"`
	MaxConnectionsPerUser int           `yaml:"max_connections_per_user"`
	SendQueueSize         int           `yaml:"send_queue_size"`
	MaxMessageBytes       int64         `yaml:"max_message_bytes"`
	ReplayLimit           int           `yaml:"replay_limit"`
	UnreadReplayLimit     int           `yaml:"unread_replay_limit"`
	// MaxConnectionsPerAddress caps the sockets of one client address
	// (IPv6: one /64) on this instance; 0 means no cap.
	MaxConnectionsPerAddress int `yaml:"max_connections_per_address"`
	// ExemptAddresses lists the IPs or CIDRs the cap does not apply to.
	ExemptAddresses []string `yaml:"exempt_addresses"`
}

// Broker configures how instances tell each other about notifications.
type Broker struct {
	Kind          string `yaml:"kind"`
	RedisAddr     string `yaml:"redis_addr"`
	RedisPassword string `yaml:"redis_password"`
	RedisDB       int    `yaml:"redis_db"`
	Channel       string `yaml:"channel"`
}

// Limits bounds request bodies and request rates.
type Limits struct {
	BodyBytes         int64 `yaml:"body_bytes"`
	LoginPerMinute    int   `yaml:"login_per_minute"`
	RegisterPerMinute int   `yaml:"register_per_minute"`
	PostsPerMinute    int   `yaml:"posts_per_minute"`
	CommentsPerMinute int   `yaml:"comments_per_minute"`
}

// Notifications configures retention of the notifications table and the
// fan-out of thread_comment notifications to a post's watchers.
type Notifications struct {
	Retention          time.Duration `yaml:"retention"`
	KeepPerUser        int           `yaml:"keep_per_user"`
	CleanupInterval    time.Duration `yaml:"cleanup_interval"`
	FanoutBatchSize    int           `yaml:"fanout_batch_size"`
	FanoutPollInterval time.Duration `yaml:"fanout_poll_interval"`
}

// ThreadCache sizes each instance's cache of thread pages: the first page
// of a post's comments in each sort, kept encoded and checked against the
// database on every read, so that no instance serves a page older than
// what has committed (see the README, Performance). MaxBytes 0 turns it off.
type ThreadCache struct {
	MaxBytes int64         `yaml:"max_bytes"`
	TTL      time.Duration `yaml:"ttl"`
}

// Email configures the mail sent to users who are away: verification,
// instant and daily digests. An empty SMTPAddr turns email off.
type Email struct {
	// SMTPAddr is the submission server, host:port.
	SMTPAddr     string `yaml:"smtp_addr"`
	SMTPUsername string `yaml:"smtp_username"`
	SMTPPassword string `yaml:"smtp_password"`
	// TLS is starttls (the connection must be upgraded), opportunistic
	// (upgraded when the server offers it) or none.
	TLS string `yaml:"tls"`
	// From is the sender address, such as "Discuss <discuss@quiz.example.com>".
	From string `yaml:"from"`
	// Delay is how long a notification stays unread before it is mailed.
	Delay time.Duration `yaml:"delay"`
	// PublicURL is the base of the links in the mail, such as
	// https://discuss.quiz.example.com.
	PublicURL string `yaml:"public_url"`
	// DailyAt is the UTC time of day, HH:MM, of the daily digest.
	DailyAt string `yaml:"daily_at"`
	// SendTimeout bounds one SMTP conversation.
	SendTimeout time.Duration `yaml:"send_timeout"`
	// PollInterval is how often the worker looks for mail that is due.
	PollInterval time.Duration `yaml:"poll_interval"`
}

// Enabled reports whether mail is sent at all.
func (e Email) Enabled() bool { return e.SMTPAddr != "" }

// DailyTime returns DailyAt as an offset from midnight UTC.
func (e Email) DailyTime() (time.Duration, error) {
	t, err := time.Parse("15:04", e.DailyAt)
	if err != nil {
		return 0, err
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// Push configures Web Push. An empty Subject turns it off.
type Push struct {
	// VAPIDPrivateKeyFile keeps the VAPID key pair; empty keeps it beside
	// the SQLite database, or in the MySQL database.
	VAPIDPrivateKeyFile string `yaml:"vapid_private_key_file"`
	// Subject is the contact the push services are given (RFC 8292):
	// mailto: or https:.
	Subject string `yaml:"subject"`
	// AllowInsecureEndpoints accepts http:// subscription endpoints; for
	// tests only.
	AllowInsecureEndpoints bool `yaml:"allow_insecure_endpoints"`
}

// Enabled reports whether Web Push is offered.
func (p Push) Enabled() bool { return p.Subject != "" }

// Moderation configures reports: how many hide content, and how many one
// user may make.
type Moderation struct {
	// HideAfterReports distinct users' open reports hide a post or comment.
	HideAfterReports int `yaml:"hide_after_reports"`
	// ReportsPerDay bounds one user's reports in any 24 hours.
	ReportsPerDay int `yaml:"reports_per_day"`
	// ReportsPerMinute bounds one user's reports in a sliding minute.
	ReportsPerMinute int `yaml:"reports_per_minute"`
}

// Log configures the structured logger.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Default returns the embedded default configuration.
func Default() *Config {
	cfg, err := decode(&Config{}, defaultYAML, "default.yaml")
	if err != nil {
		// The embedded file is part of the binary; a test proves it decodes.
		panic(err)
	}
	return cfg
}

// Load returns the defaults, overlaid with the YAML file at path when path is
// not empty, then with DISCUSS_* variables read through getenv. It does not
// validate; call Validate.
func Load(path string, getenv func(string) string) (*Config, error) {
	cfg := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if _, err := decode(cfg, data, path); err != nil {
			return nil, err
		}
	}
	// server.debug_addr became server.internal_addr. A file still naming it
	// fails as an unknown key; its variable would be ignored silently.
	if getenv("DISCUSS_SERVER_DEBUG_ADDR") != "" {
		return nil, errors.New("config: DISCUSS_SERVER_DEBUG_ADDR: server.debug_addr is replaced by server.internal_addr (DISCUSS_SERVER_INTERNAL_ADDR)")
	}
	if err := applyEnv(reflect.ValueOf(cfg).Elem(), "DISCUSS", getenv); err != nil {
		return nil, err
	}
	return cfg, nil
}

func decode(cfg *Config, data []byte, name string) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// An empty file is io.EOF to the decoder and means "keep the defaults".
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		// A type error lists its fields one a line; the command prints
		// its error as one line.
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("config %s: %s", name, strings.Join(te.Errors, "; "))
		}
		return nil, fmt.Errorf("config %s: %w", name, err)
	}
	return cfg, nil
}

var durationType = reflect.TypeFor[time.Duration]()

// applyEnv walks the struct v and sets each leaf whose variable is set.
func applyEnv(v reflect.Value, prefix string, getenv func(string) string) error {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		key := strings.Split(f.Tag.Get("yaml"), ",")[0]
		name := prefix + "_" + strings.ToUpper(key)
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct {
			if err := applyEnv(fv, name, getenv); err != nil {
				return err
			}
			continue
		}
		raw := getenv(name)
		if raw == "" {
			continue
		}
		if err := setValue(fv, raw); err != nil {
			return fmt.Errorf("config: %s=%q: %w", name, raw, err)
		}
	}
	return nil
}

func setValue(fv reflect.Value, raw string) error {
	switch {
	case fv.Type() == durationType:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return errors.New("not a duration such as 30s or 5m")
		}
		fv.SetInt(int64(d))
	case fv.Kind() == reflect.String:
		fv.SetString(raw)
	case fv.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return errors.New("not a boolean")
		}
		fv.SetBool(b)
	case fv.Kind() == reflect.Int || fv.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return errors.New("not an integer")
		}
		fv.SetInt(n)
	case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
		var items []string
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		fv.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported setting type %s", fv.Type())
	}
	return nil
}
