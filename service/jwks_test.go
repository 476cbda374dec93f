package service_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
	"github.com/quizsite/discuss/service/dbtest"
)

// jwksServer publishes a key set the test changes as it goes, and counts
// the fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []jwkset.JWKMarshal
	padding int           // bytes of filler added to the document
	hang    chan struct{} // when not nil, requests wait for it or their end
	status  int           // when not 0, the status of every answer, with no body
	fetches int
}

// newJWKSServer starts a key set server publishing keys.
func newJWKSServer(t *testing.T, keys ...publishedKey) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	s.publish(t, keys...)
	return s
}

func (s *jwksServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.fetches++
	doc := map[string]any{"keys": s.keys}
	if s.padding > 0 {
		doc["padding"] = strings.Repeat("x", s.padding)
	}
	hang, status := s.hang, s.status
	s.mu.Unlock()
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(doc)
}

// publish replaces the published keys, each a public key with its kid and,
// when not empty, its alg.
func (s *jwksServer) publish(t *testing.T, keys ...publishedKey) {
	t.Helper()
	var set []jwkset.JWKMarshal
	for _, k := range keys {
		jwk, err := jwkset.NewJWKFromKey(k.pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: k.kid, ALG: k.alg, USE: jwkset.UseSig}})
		if err != nil {
			t.Fatal(err)
		}
		set = append(set, jwk.Marshal())
	}
	s.mu.Lock()
	s.keys = set
	s.mu.Unlock()
}

// setStatus makes every answer from now on status, with no body; 0 goes
// back to serving the set.
func (s *jwksServer) setStatus(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
}

func (s *jwksServer) fetchCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}

type publishedKey struct {
	kid string
	alg jwkset.ALG
	pub any
}

// oneKeyServer starts a key set server publishing one RS256 key, k1, and
// returns its private half.
func oneKeyServer(t *testing.T) (*rsa.PrivateKey, *jwksServer) {
	t.Helper()
	key := mustRSA(t)
	return key, newJWKSServer(t, publishedKey{"k1", jwkset.AlgRS256, &key.PublicKey})
}

func mustEC(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newJWKSAuth returns an auth service that takes the quiz site's keys from
// the set s publishes, fetched until the test ends.
func newJWKSAuth(t *testing.T, s *jwksServer, edit func(*service.JWKSConfig)) (*service.Auth, *dbtest.SyncBuffer) {
	t.Helper()
	logs := &dbtest.SyncBuffer{}
	cfg := service.JWKSConfig{URL: s.URL, Logger: slog.New(slog.NewTextHandler(logs, nil))}
	if edit != nil {
		edit(&cfg)
	}
	keys, err := service.NewJWKS(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := newAuth(t, &service.ExternalIssuer{Issuer: quizIssuer, JWKS: keys})
	return a, logs
}

// signKid signs a quiz token valid for an hour, with kid in its header
// when not empty.
func signKid(t *testing.T, method jwt.SigningMethod, key any, kid, sub string) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(method, claims(quizIssuer, sub, now, now.Add(time.Hour)))
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// authenticates asserts that token signs in the quiz user sub.
func authenticates(t *testing.T, a *service.Auth, token, sub string) {
	t.Helper()
	u, err := a.Authenticate(t.Context(), token)
	if err != nil {
		t.Fatalf("token refused: %v", err)
	}
	if u.Subject == nil || *u.Subject != sub {
		t.Fatalf("signed in %+v, want the quiz user %s", u, sub)
	}
}

// refused asserts that token is refused as unauthenticated (401), never as
// unavailable or internal.
func refused(t *testing.T, a *service.Auth, name, token string) {
	t.Helper()
	u, err := a.Authenticate(t.Context(), token)
	if code := model.ErrorCode(err); code != model.EUNAUTHENTICATED {
		t.Errorf("%s: user %v, error %v (%s), want %s", name, u, err, code, model.EUNAUTHENTICATED)
	}
}

func TestJWKSSelectsKeyByKid(t *testing.T) {
	rsaKey, ecKey, bareKey, other := mustRSA(t), mustEC(t), mustRSA(t), mustRSA(t)
	s := newJWKSServer(t,
		publishedKey{"rsa-1", jwkset.AlgRS256, &rsaKey.PublicKey},
		publishedKey{"ec-1", jwkset.AlgES256, &ecKey.PublicKey},
		publishedKey{"bare", "", &bareKey.PublicKey}, // no alg: its type pins it to RS256
	)
	a, _ := newJWKSAuth(t, s, nil)
	authenticates(t, a, signKid(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", "q-1"), "q-1")
	authenticates(t, a, signKid(t, jwt.SigningMethodES256, ecKey, "ec-1", "q-2"), "q-2")
	authenticates(t, a, signKid(t, jwt.SigningMethodRS256, bareKey, "bare", "q-3"), "q-3")

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, pubPEM := publicKeyBytes(t, &rsaKey.PublicKey)
	for name, tok := range map[string]string{
		"forged signature (another key, same kid)": signKid(t, jwt.SigningMethodRS256, other, "rsa-1", "q-1"),
		"key of another kid":                       signKid(t, jwt.SigningMethodRS256, rsaKey, "bare", "q-1"),
		"no kid":                                   signKid(t, jwt.SigningMethodRS256, rsaKey, "", "q-1"),
		"HS256 keyed with the public key's PEM":    signKid(t, jwt.SigningMethodHS256, pubPEM, "rsa-1", "q-1"),
		"HS256 keyed with the public key's DER":    signKid(t, jwt.SigningMethodHS256, der, "rsa-1", "q-1"),
		"HS256 with any secret":                    signKid(t, jwt.SigningMethodHS256, []byte(quizSecret), "rsa-1", "q-1"),
		"alg none":                                 noneToken(t, claims(quizIssuer, "q-1", time.Now(), time.Now().Add(time.Hour))),
		"RS256 under an EC key's kid":              signKid(t, jwt.SigningMethodRS256, rsaKey, "ec-1", "q-1"),
		"ES256 under a bare RSA key's kid":         signKid(t, jwt.SigningMethodES256, ecKey, "bare", "q-1"),
		"PS256 with a published RSA key":           signKid(t, jwt.SigningMethodPS256, bareKey, "bare", "q-1"),
		"ES384 under an ES256 key's kid":           signKid(t, jwt.SigningMethodES384, p384, "ec-1", "q-1"),
	} {
		refused(t, a, name, tok)
	}
}

// TestJWKSRotation: the issuer starts publishing a new key and withdraws
// the old one; the first token signed with the new key makes the set be
// fetched again, with no restart, and the old key then no longer works.
func TestJWKSRotation(t *testing.T) {
	oldKey, newKey := mustRSA(t), mustEC(t)
	s := newJWKSServer(t, publishedKey{"2026-11", jwkset.AlgRS256, &oldKey.PublicKey})
	a, _ := newJWKSAuth(t, s, nil)
	authenticates(t, a, signKid(t, jwt.SigningMethodRS256, oldKey, "2026-11", "q-1"), "q-1")

	s.publish(t, publishedKey{"2026-12", jwkset.AlgES256, &newKey.PublicKey})
	authenticates(t, a, signKid(t, jwt.SigningMethodES256, newKey, "2026-12", "q-1"), "q-1")
	refused(t, a, "withdrawn key", signKid(t, jwt.SigningMethodRS256, oldKey, "2026-11", "q-1"))

	// Unknown kids refetch at most once per UnknownKeyInterval (a minute
	// by default): made-up kids cannot make the server hammer the issuer.
	before := s.fetchCount()
	for i := range 20 {
		refused(t, a, "made-up kid", signKid(t, jwt.SigningMethodES256, newKey, "made-up-"+string(rune('a'+i)), "q-1"))
	}
	if after := s.fetchCount(); after-before > 1 {
		t.Errorf("20 tokens with unknown kids fetched the set %d times, want at most once", after-before)
	}
}

// TestJWKSServerDown: keys fetched before keep working while the issuer's
// URL does not answer, and a token naming any other key is refused with
// 401, not 500 or 503, within the fetch timeout.
func TestJWKSServerDown(t *testing.T) {
	known, unknown := mustRSA(t), mustRSA(t)
	for _, down := range []struct {
		name string
		cut  func(*testing.T, *jwksServer)
	}{
		{"closed", func(_ *testing.T, s *jwksServer) { s.Close() }},
		{"hanging", func(t *testing.T, s *jwksServer) {
			s.mu.Lock()
			s.hang = make(chan struct{})
			s.mu.Unlock()
			t.Cleanup(func() { close(s.hang) })
		}},
		{"answering 503", func(_ *testing.T, s *jwksServer) { s.setStatus(http.StatusServiceUnavailable) }},
	} {
		t.Run(down.name, func(t *testing.T) {
			s := newJWKSServer(t, publishedKey{"k1", jwkset.AlgRS256, &known.PublicKey})
			const timeout = 300 * time.Millisecond
			a, logs := newJWKSAuth(t, s, func(c *service.JWKSConfig) {
				c.Timeout = timeout
				c.UnknownKeyInterval = time.Nanosecond // every unknown kid tries the URL
			})
			authenticates(t, a, signKid(t, jwt.SigningMethodRS256, known, "k1", "q-1"), "q-1")
			down.cut(t, s)
			for range 3 {
				authenticates(t, a, signKid(t, jwt.SigningMethodRS256, known, "k1", "q-1"), "q-1")
				start := time.Now()
				refused(t, a, "new kid", signKid(t, jwt.SigningMethodRS256, unknown, "k2", "q-1"))
				if took := time.Since(start); took > timeout+testTimeout/2 {
					t.Errorf("refusing an unknown kid took %v with a fetch timeout of %v", took, timeout)
				}
			}
			wantLogged(t, logs, "fetching the external issuer's key set failed")
		})
	}
}

// TestJWKSUnreachableAtStart: a key set that cannot be fetched at start
// does not stop the server; the first token needing a key fetches it.
func TestJWKSUnreachableAtStart(t *testing.T) {
	key, s := oneKeyServer(t)
	s.setStatus(http.StatusBadGateway)
	a, logs := newJWKSAuth(t, s, nil)
	wantLogged(t, logs, "502")
	s.setStatus(0)
	authenticates(t, a, signKid(t, jwt.SigningMethodRS256, key, "k1", "q-1"), "q-1")
}

// TestJWKSDocumentTooLarge: a key set over MaxBytes is not read to its end
// and not used.
func TestJWKSDocumentTooLarge(t *testing.T) {
	key, s := oneKeyServer(t)
	s.padding = 64 << 10
	a, logs := newJWKSAuth(t, s, func(c *service.JWKSConfig) { c.MaxBytes = 32 << 10 })
	refused(t, a, "key from an oversized set", signKid(t, jwt.SigningMethodRS256, key, "k1", "q-1"))
	wantLogged(t, logs, "request body too large")
}

// TestJWKSRefreshStops: the set is fetched again every RefreshInterval,
// and its goroutine ends with the context NewJWKS was given.
func TestJWKSRefreshStops(t *testing.T) {
	_, s := oneKeyServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if _, err := service.NewJWKS(ctx, service.JWKSConfig{URL: s.URL, RefreshInterval: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, testTimeout, "periodic refreshes", func() bool { return s.fetchCount() >= 3 })
	cancel()
	waitFor(t, testTimeout, "the refresh goroutine to end", func() bool { return refreshGoroutines() == 0 })
}

// refreshGoroutines counts the goroutines refreshing a key set.
func refreshGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "jwkset.NewStorageFromHTTP.func")
		}
		buf = make([]byte, 2*len(buf))
	}
}

func TestExternalIssuerNeedsKeys(t *testing.T) {
	for name, ext := range map[string]*service.ExternalIssuer{
		"no algorithm":     {Issuer: quizIssuer},
		"HS256 no secret":  {Issuer: quizIssuer, Algorithm: "HS256"},
		"HS256 short":      {Issuer: quizIssuer, Algorithm: "HS256", HS256Key: []byte("short")},
		"RS256 no key":     {Issuer: quizIssuer, Algorithm: "RS256"},
		"unknown algoritm": {Issuer: quizIssuer, Algorithm: "ES256"},
	} {
		_, err := service.NewAuth(nil, service.AuthConfig{Secret: []byte(ourSecret), Issuer: ourIssuer, BcryptCost: 4, External: ext})
		if err == nil || !strings.Contains(err.Error(), "the external issuer needs a key set") {
			t.Errorf("%s: %v, want the external issuer refused", name, err)
		}
	}
}
