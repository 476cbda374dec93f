package deliverytest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// PushService is a Web Push service (RFC 8030) for tests, together with
// the browsers subscribed to it: it accepts a message only when its VAPID
// JWT (RFC 8292) is signed by the expected application server key, names
// the endpoint's origin as aud and expires within a day, and when the body
// decrypts (RFC 8291, aes128gcm) with the keys of the subscription it was
// sent to. Accepted messages are kept, decrypted; refused ones answer 400
// or 401 and are kept as errors, so a test sees why.
type PushService struct {
	srv *httptest.Server
	// VAPIDPublicKey is the application server key the messages must be
	// signed with (base64url); set it before anything is pushed.
	VAPIDPublicKey string

	mu       sync.Mutex
	browsers map[string]*Browser
	received []Pushed
	errs     []error
}

// Browser is one subscription: the user agent's key pair and secret.
type Browser struct {
	Endpoint string
	P256DH   string // base64url public key
	Auth     string // base64url secret
	key      *ecdh.PrivateKey
	secret   []byte
	// Status is what the service answers for it: 201, or 404/410 for a
	// subscription that is gone.
	Status int
}

// Pushed is a message accepted for a browser, decrypted.
type Pushed struct {
	Endpoint string
	Payload  []byte
	TTL      string
	Subject  string
}

// StartPushService starts the service; it stops when the test ends.
func StartPushService(t testing.TB) *PushService {
	t.Helper()
	p := &PushService{browsers: map[string]*Browser{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

// NewBrowser makes a subscription at this service.
func (p *PushService) NewBrowser(t testing.TB) *Browser {
	t.Helper()
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	b := &Browser{
		P256DH: base64.RawURLEncoding.EncodeToString(key.PublicKey().Bytes()),
		Auth:   base64.RawURLEncoding.EncodeToString(secret),
		key:    key, secret: secret, Status: http.StatusCreated,
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b.Endpoint = fmt.Sprintf("%s/push/%d", p.srv.URL, len(p.browsers)+1)
	p.browsers[b.Endpoint] = b
	return b
}

// SetStatus makes the service answer status for b from now on.
func (p *PushService) SetStatus(b *Browser, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b.Status = status
}

// Received returns the accepted messages and the reasons of the refused.
func (p *PushService) Received() ([]Pushed, []error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Pushed(nil), p.received...), append([]error(nil), p.errs...)
}

func (p *PushService) serve(w http.ResponseWriter, r *http.Request) {
	endpoint := p.srv.URL + r.URL.Path
	p.mu.Lock()
	b := p.browsers[endpoint]
	want := p.VAPIDPublicKey
	p.mu.Unlock()
	fail := func(status int, err error) {
		p.mu.Lock()
		p.errs = append(p.errs, fmt.Errorf("%s: %w", endpoint, err))
		p.mu.Unlock()
		http.Error(w, err.Error(), status)
	}
	if r.Method != http.MethodPost || b == nil {
		fail(http.StatusNotFound, errors.New("no such subscription"))
		return
	}
	sub, err := p.checkVAPID(r.Header.Get("Authorization"), want)
	if err != nil {
		fail(http.StatusUnauthorized, err)
		return
	}
	if r.Header.Get("Content-Encoding") != "aes128gcm" || r.Header.Get("TTL") == "" {
		fail(http.StatusBadRequest, errors.New("want Content-Encoding aes128gcm and a TTL"))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8192))
	if err != nil {
		fail(http.StatusBadRequest, err)
		return
	}
	payload, err := b.decrypt(body)
	if err != nil {
		fail(http.StatusBadRequest, err)
		return
	}
	p.mu.Lock()
	status := b.Status
	if status/100 == 2 {
		p.received = append(p.received, Pushed{Endpoint: endpoint, Payload: payload, TTL: r.Header.Get("TTL"), Subject: sub})
	}
	p.mu.Unlock()
	w.WriteHeader(status)
}

// checkVAPID checks the Authorization header "vapid t=<jwt>, k=<key>"
// (RFC 8292): k is the expected key, the JWT is ES256-signed by it, its
// aud is this service's origin, its exp is in the future and at most 24
// hours away, and its sub is a mailto: or https: contact, which it returns.
func (p *PushService) checkVAPID(header, wantKey string) (string, error) {
	rest, ok := strings.CutPrefix(header, "vapid ")
	if !ok {
		return "", errors.New("no vapid authorization")
	}
	var token, k string
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if v, ok := strings.CutPrefix(part, "t="); ok {
			token = v
		}
		if v, ok := strings.CutPrefix(part, "k="); ok {
			k = v
		}
	}
	if wantKey == "" || k != wantKey {
		return "", fmt.Errorf("vapid key %q is not the application server's %q", k, wantKey)
	}
	raw, err := base64.RawURLEncoding.DecodeString(k)
	if err != nil {
		return "", err
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	if err != nil {
		return "", err
	}
	var claims jwt.RegisteredClaims
	_, err = jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience(p.srv.URL), jwt.WithExpirationRequired())
	if err != nil {
		return "", fmt.Errorf("vapid jwt: %w", err)
	}
	if claims.ExpiresAt.After(time.Now().Add(24 * time.Hour)) {
		return "", errors.New("vapid jwt expires more than 24 hours ahead")
	}
	if !strings.HasPrefix(claims.Subject, "mailto:") && !strings.HasPrefix(claims.Subject, "https:") {
		return "", fmt.Errorf("vapid sub %q is not a mailto: or https: URL", claims.Subject)
	}
	return claims.Subject, nil
}

// decrypt opens an aes128gcm body (RFC 8188) encrypted for b (RFC 8291).
func (b *Browser) decrypt(body []byte) ([]byte, error) {
	if len(body) < 21 {
		return nil, errors.New("body too short for an aes128gcm header")
	}
	salt, rs, idLen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if len(body) < 21+idLen || idLen != 65 {
		return nil, errors.New("keyid is not the sender's 65-byte public key")
	}
	senderPub, ciphertext := body[21:21+idLen], body[21+idLen:]
	if uint32(len(ciphertext)) > rs {
		return nil, errors.New("more than one record")
	}
	sender, err := ecdh.P256().NewPublicKey(senderPub)
	if err != nil {
		return nil, err
	}
	shared, err := b.key.ECDH(sender)
	if err != nil {
		return nil, err
	}
	info := append(append([]byte("WebPush: info\x00"), b.key.PublicKey().Bytes()...), senderPub...)
	prkKey, err := hkdf.Extract(sha256.New, shared, b.secret)
	if err != nil {
		return nil, err
	}
	ikm, err := hkdf.Expand(sha256.New, prkKey, string(info), 32)
	if err != nil {
		return nil, err
	}
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		return nil, err
	}
	cek, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, err
	}
	nonce, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, nonce, ciphertext, nil)
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	// The last record ends with the delimiter 2, then zero padding.
	end := len(plain) - 1
	for end >= 0 && plain[end] == 0 {
		end--
	}
	if end < 0 || plain[end] != 2 {
		return nil, errors.New("no last-record delimiter")
	}
	return plain[:end], nil
}
