package service

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// JWKSConfig says where an external issuer publishes its keys (a JSON Web
// Key Set) and how they are fetched. Zero durations and sizes take the
// defaults below.
type JWKSConfig struct {
	URL string
	// Timeout bounds each fetch, connection to last byte.
	Timeout time.Duration
	// MaxBytes bounds the size of the key set's document; a larger one
	// fails the fetch, and the keys fetched before stay in use.
	MaxBytes int64
	// RefreshInterval is how often the set is fetched again, so that a
	// key the issuer withdrew stops being accepted.
	RefreshInterval time.Duration
	// UnknownKeyInterval is the least time between two fetches caused by
	// tokens naming a key not in the set: a new key after a rotation is
	// fetched on first sight, while tokens with made-up key ids cannot
	// make the server hammer the issuer.
	UnknownKeyInterval time.Duration
	Logger             *slog.Logger
}

// The defaults of JWKSConfig.
const (
	DefaultJWKSTimeout            = 5 * time.Second
	DefaultJWKSMaxBytes           = 1 << 20
	DefaultJWKSRefreshInterval    = time.Hour
	DefaultJWKSUnknownKeyInterval = time.Minute
)

// jwksAlgorithms are the algorithms accepted from a key set, each only with
// the type of key it needs; HS256 is not among them, so a published public
// key can never serve as an HMAC secret.
var jwksAlgorithms = []string{"RS256", "ES256"}

// JWKS is the key set of an external issuer, fetched from its URL and kept
// in memory. Keys are found by the token's kid. A kid not in the set makes
// it fetch the set again (at most once per UnknownKeyInterval), so a key
// rotation needs no restart. When the URL does not answer, the keys
// fetched before keep working and tokens naming other keys are refused.
//
// It is built on github.com/MicahParks/keyfunc/v3, which caches the set
// (github.com/MicahParks/jwkset), refreshes it in a goroutine and refetches
// on an unknown kid; JWKS adds the bounds on each fetch and the pinning of
// each key to one algorithm.
type JWKS struct {
	keys keyfunc.Keyfunc
}

// NewJWKS fetches the key set once and keeps it fresh until ctx ends, which
// stops its refresh goroutine. A first fetch that fails is logged, not
// returned: the keys are fetched again when a token needs them.
func NewJWKS(ctx context.Context, cfg JWKSConfig) (*JWKS, error) {
	cfg = cfg.withDefaults()
	client := &http.Client{
		Timeout:   cfg.Timeout,
		Transport: limitedTransport{base: http.DefaultTransport, maxBytes: cfg.MaxBytes},
	}
	logFailure := func(url string) func(context.Context, error) {
		return func(_ context.Context, err error) {
			if errors.Is(err, context.Canceled) {
				return // shutting down, or the client went away
			}
			cfg.Logger.Warn("fetching the external issuer's key set failed; the keys fetched before stay in use", "url", url, "error", err)
		}
	}
	keys, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.URL}, keyfunc.Override{
		Client:                  client,
		HTTPTimeout:             cfg.Timeout,
		RefreshInterval:         cfg.RefreshInterval,
		RefreshErrorHandlerFunc: logFailure,
		RefreshUnknownKID:       rate.NewLimiter(rate.Every(cfg.UnknownKeyInterval), 1),
		// The wait for the limiter shares its deadline with the fetch that
		// follows; a token whose refetch would wait longer is refused.
		RateLimitWaitMax: cfg.Timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("auth: key set %s: %w", cfg.URL, err)
	}
	return &JWKS{keys: keys}, nil
}

func (c JWKSConfig) withDefaults() JWKSConfig {
	if c.Timeout <= 0 {
		c.Timeout = DefaultJWKSTimeout
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultJWKSMaxBytes
	}
	if c.RefreshInterval <= 0 {
		c.RefreshInterval = DefaultJWKSRefreshInterval
	}
	if c.UnknownKeyInterval <= 0 {
		c.UnknownKeyInterval = DefaultJWKSUnknownKeyInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// keyfunc returns the key a token names by its kid, refusing a token
// without one and a key whose type does not fit the token's algorithm.
// ctx bounds a refetch the kid causes.
func (j *JWKS) keyfunc(ctx context.Context) jwt.Keyfunc {
	find := j.keys.KeyfuncCtx(ctx)
	return func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header[jwkset.HeaderKID].(string); kid == "" {
			return nil, fmt.Errorf("token names no key (kid)")
		}
		key, err := find(t)
		if err != nil {
			return nil, err
		}
		if !keyFits(key, t.Method.Alg()) {
			return nil, fmt.Errorf("key %v does not fit algorithm %s", t.Header[jwkset.HeaderKID], t.Method.Alg())
		}
		return key, nil
	}
}

// keyFits reports whether key is the kind alg needs: each key is pinned
// to one algorithm by its type (keyfunc also checks the key's own alg,
// when the set names one).
func keyFits(key any, alg string) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return alg == "RS256"
	case *ecdsa.PublicKey:
		return alg == "ES256" && k.Curve == elliptic.P256()
	default:
		return false
	}
}

// limitedTransport cuts every response body at maxBytes, so that a key set
// URL answering without end cannot fill the memory.
type limitedTransport struct {
	base     http.RoundTripper
	maxBytes int64
}

func (t limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	res.Body = http.MaxBytesReader(nil, res.Body, t.maxBytes)
	return res, nil
}

// keys returns how the issuer's tokens find their key and the algorithms
// they may be signed with.
func (e *ExternalIssuer) keys(ctx context.Context) (jwt.Keyfunc, []string) {
	switch {
	case e.JWKS != nil:
		return e.JWKS.keyfunc(ctx), jwksAlgorithms
	case e.Algorithm == "RS256":
		return func(*jwt.Token) (any, error) { return e.RS256Key, nil }, []string{"RS256"}
	default: // HS256, as check made sure
		return func(*jwt.Token) (any, error) { return e.HS256Key, nil }, []string{"HS256"}
	}
}

// check makes sure e, when not nil, has keys for its algorithm: a missing
// key must refuse tokens, not verify them against an empty secret.
func (e *ExternalIssuer) check() error {
	switch {
	case e == nil, e.JWKS != nil, e.Algorithm == "RS256" && e.RS256Key != nil:
		return nil
	case e.Algorithm == "HS256" && len(e.HS256Key) >= 32:
		return nil
	}
	return errors.New("auth: the external issuer needs a key set (JWKS), an RS256 public key or an HS256 secret of at least 32 bytes")
}
