package main

// The quiz site's tokens through serve: its issuer configured with a PEM
// public key, or with the URL of its key set (JWKS).

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// externalServer serves with the quiz site's RS256 issuer configured the
// way an operator does, through the environment. It returns the server,
// the issuer's private key and the PEM of its public key.
func externalServer(t *testing.T) (*server, *rsa.PrivateKey, []byte) {
	t.Helper()
	key, pubPEM := quizKey(t)
	keyFile := filepath.Join(t.TempDir(), "quiz.pub.pem")
	if err := os.WriteFile(keyFile, pubPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	env := databaseEnv(t)
	env["DISCUSS_AUTH_EXTERNAL_ISSUER"] = quizIssuer
	env["DISCUSS_AUTH_EXTERNAL_ALGORITHM"] = "RS256"
	env["DISCUSS_AUTH_EXTERNAL_RS256_PUBLIC_KEY_FILE"] = keyFile
	return startServe(t, env), key, pubPEM
}

const quizIssuer = "https://quiz.example.com"

// quizKey makes an RS256 key of the quiz site's and returns it with the
// PEM of its public half.
func quizKey(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// signQuiz signs a token valid for an hour with claims over iss, sub, iat
// and exp, naming the key kid in its header when kid is not empty.
func signQuiz(t *testing.T, method jwt.SigningMethod, key any, kid, iss, sub string, claims jwt.MapClaims) string {
	t.Helper()
	now := time.Now()
	all := jwt.MapClaims{"iss": iss, "sub": sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	maps.Copy(all, claims)
	unsigned := jwt.NewWithClaims(method, all)
	if kid != "" {
		unsigned.Header["kid"] = kid
	}
	tok, err := unsigned.SignedString(key)
	if err != nil {
		t.Fatalf("sign a quiz token with %s: %v", method.Alg(), err)
	}
	return tok
}

// externalMe is the part of GET /me these tests read.
type externalMe struct {
	ID          int64  `json:"id"`
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
}

// TestExternalIssuerThroughServe signs in with the quiz site's tokens: the
// first one creates the local user, later ones find it.
func TestExternalIssuerThroughServe(t *testing.T) {
	s, key, pubPEM := externalServer(t)
	names := jwt.MapClaims{"preferred_username": "quiz_fan", "name": "Quiz Fan"}
	sign := func(method jwt.SigningMethod, k any, iss string) string {
		return signQuiz(t, method, k, "", iss, "quiz-77", names)
	}
	token := sign(jwt.SigningMethodRS256, key, quizIssuer)
	var first, second externalMe
	if code := s.call(t, "GET", "/api/v1/me", token, nil, &first); code != 200 || first.Username != "quiz_fan" {
		t.Fatalf("first sight: %d %+v", code, first)
	}
	if code := s.call(t, "GET", "/api/v1/me", sign(jwt.SigningMethodRS256, key, quizIssuer), nil, &second); code != 200 || second.ID != first.ID {
		t.Fatalf("second sight: %d %+v, want user %d again", code, second, first.ID)
	}
	refused := map[string]string{
		"foreign issuer":      sign(jwt.SigningMethodRS256, key, "https://other.example.com"),
		"public key as HMAC":  sign(jwt.SigningMethodHS256, pubPEM, quizIssuer),
		"unsigned (alg none)": strings.TrimSuffix(sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, quizIssuer), "."),
	}
	for name, tok := range refused {
		if code := s.call(t, "GET", "/api/v1/me", tok, nil, nil); code != 401 {
			t.Errorf("%s: %d, want 401", name, code)
		}
	}
}

// TestExternalSubjectsAndNames: the quiz site's subjects are compared
// exactly (a JWT's sub is case-sensitive: on MariaDB's old collation "u-1",
// "U-1" and "u-1 " were one local account, so one person signed in as
// another), and the name claim is taken without the control and
// invisible formatting characters a display name may not hold.
func TestExternalSubjectsAndNames(t *testing.T) {
	s, key, _ := externalServer(t)
	me := func(sub, name string) externalMe {
		t.Helper()
		var u externalMe
		tok := signQuiz(t, jwt.SigningMethodRS256, key, "", quizIssuer, sub, jwt.MapClaims{"name": name})
		if code := s.call(t, "GET", "/api/v1/me", tok, nil, &u); code != 200 {
			t.Fatalf("sub %q: %d", sub, code)
		}
		return u
	}
	seen := map[int64]string{}
	for _, sub := range []string{"u-1", "U-1", "u-1 ", "ù-1"} {
		u := me(sub, "Quiz User")
		if other, ok := seen[u.ID]; ok {
			t.Errorf("subjects %q and %q share the local user %d", other, sub, u.ID)
		}
		seen[u.ID] = sub
	}
	if u := me("u-2", "Eve\u202Egnp.exe\x00\a\u200B"); u.DisplayName != "Evegnp.exe" {
		t.Errorf("display name %q, want the name claim without its controls", u.DisplayName)
	}
}

// quizKeys is the quiz site's key set endpoint: it publishes the public
// halves of the keys the test gives it.
type quizKeys struct {
	set atomic.Pointer[jwkset.JWKSMarshal]
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
	q.set.Store(&set)
}

func (q *quizKeys) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(q.set.Load())
}

// TestExternalJWKSThroughServe configures the quiz site's key set URL the
// way an operator does and signs in with its tokens: the key is chosen by
// kid, a rotation needs no restart, a token the set cannot verify gets the
// contract's 401, also while the key set's server is down, and the key
// set's refresh goroutine ends with the server.
func TestExternalJWKSThroughServe(t *testing.T) {
	first, pubPEM := quizKey(t)
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

	forger, _ := quizKey(t)
	refused("unknown kid", signQuiz(t, jwt.SigningMethodRS256, forger, "unknown", quizIssuer, "quiz-9", nil))
	refused("forged signature", signQuiz(t, jwt.SigningMethodRS256, forger, "first", quizIssuer, "quiz-9", nil))
	refused("public key as HMAC secret", signQuiz(t, jwt.SigningMethodHS256, pubPEM, "first", quizIssuer, "quiz-9", nil))

	jwks.Close()
	signedIn("cached key, key set server down", jwt.SigningMethodRS256, first, "first")
	refused("new kid, key set server down", signQuiz(t, jwt.SigningMethodRS256, forger, "next", quizIssuer, "quiz-9", nil))

	s.stop(t)
	eventually(t, 10*time.Second, func() error {
		if refreshing() {
			return errors.New("the key set's refresh goroutine outlived the server")
		}
		return nil
	})
}

// refreshing reports whether a goroutine refreshes a key set.
func refreshing() bool {
	var stacks strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
	return strings.Contains(stacks.String(), "jwkset.NewStorageFromHTTP.func")
}
