package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// quizKeys is the quiz site's key set endpoint: it publishes the public
// halves of the keys the test gives it.
type quizKeys struct {
	mu  sync.Mutex
	set jwkset.JWKSMarshal
}

func (q *quizKeys) publish(t *testing.T, keys map[string]any) {
	t.Helper()
	var set jwkset.JWKSMarshal
	for kid, pub := range keys {
		jwk, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, USE: jwkset.UseSig}})
		if err != nil {
			t.Fatal(err)
		}
		set.Keys = append(set.Keys, jwk.Marshal())
	}
	q.mu.Lock()
	q.set = set
	q.mu.Unlock()
}

func (q *quizKeys) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	q.mu.Lock()
	defer q.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(q.set)
}

// TestExternalJWKSThroughServe configures the quiz site's key set URL the
// way an operator does and signs in with its tokens: the key is chosen by
// kid, a rotation needs no restart, a token the set cannot verify gets the
// contract's 401, also while the key set's server is down, and the key
// set's refresh goroutine ends with the server.
func TestExternalJWKSThroughServe(t *testing.T) {
	first, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys := &quizKeys{}
	keys.publish(t, map[string]any{"first": &first.PublicKey})
	jwks := httptest.NewServer(keys)
	defer jwks.Close()
	env := databaseEnv(t)
	env["DISCUSS_AUTH_EXTERNAL_ISSUER"] = quizIssuer
	env["DISCUSS_AUTH_EXTERNAL_JWKS_URL"] = jwks.URL + "/.well-known/jwks.json"
	s := startServe(t, env)

	signedIn := func(name string, method jwt.SigningMethod, key any, kid string) {
		t.Helper()
		var me externalMe
		if code := s.call(t, "GET", "/api/v1/me", signQuiz(t, method, key, kid, quizIssuer, "quiz-9", nil), nil, &me); code != 200 || me.Username != "quiz_quiz9" {
			t.Fatalf("%s: %d %+v", name, code, me)
		}
	}
	refused := func(name, token string) {
		t.Helper()
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if code := s.call(t, "GET", "/api/v1/me", token, nil, &body); code != 401 || body.Error.Code != "unauthenticated" || body.Error.Message == "" {
			t.Errorf("%s: %d %+v, want 401 unauthenticated", name, code, body)
		}
	}
	signedIn("first key", jwt.SigningMethodRS256, first, "first")

	keys.publish(t, map[string]any{"first": &first.PublicKey, "rotated": &rotated.PublicKey})
	signedIn("rotated key, no restart", jwt.SigningMethodES256, rotated, "rotated")

	der, err := x509.MarshalPKIXPublicKey(&first.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	refused("unknown kid", signQuiz(t, jwt.SigningMethodRS256, forger, "unknown", quizIssuer, "quiz-9", nil))
	refused("forged signature", signQuiz(t, jwt.SigningMethodRS256, forger, "first", quizIssuer, "quiz-9", nil))
	refused("public key as HMAC secret", signQuiz(t, jwt.SigningMethodHS256, pubPEM, "first", quizIssuer, "quiz-9", nil))

	jwks.Close()
	signedIn("cached key, key set server down", jwt.SigningMethodRS256, first, "first")
	refused("new kid, key set server down", signQuiz(t, jwt.SigningMethodRS256, forger, "next", quizIssuer, "quiz-9", nil))

	s.stop(t)
	deadline := time.Now().Add(10 * time.Second)
	for refreshing() {
		if time.Now().After(deadline) {
			t.Fatal("the key set's refresh goroutine outlived the server")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// refreshing reports whether a goroutine refreshes a key set.
func refreshing() bool {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Contains(string(buf[:n]), "jwkset.NewStorageFromHTTP.func")
		}
		buf = make([]byte, 2*len(buf))
	}
}
