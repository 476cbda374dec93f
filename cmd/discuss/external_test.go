package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestExternalIssuerThroughServe configures the quiz site's issuer the way
// an operator does, through the environment, and signs in with its tokens:
// the first one creates the local user, later ones find it.
func TestExternalIssuerThroughServe(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "quiz.pub.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	env := databaseEnv(t)
	env["DISCUSS_AUTH_EXTERNAL_ISSUER"] = "https://quiz.example.com"
	env["DISCUSS_AUTH_EXTERNAL_ALGORITHM"] = "RS256"
	env["DISCUSS_AUTH_EXTERNAL_RS256_PUBLIC_KEY_FILE"] = keyFile
	s := startServe(t, env)

	sign := func(method jwt.SigningMethod, k any, iss string) string {
		now := time.Now()
		tok, err := jwt.NewWithClaims(method, jwt.MapClaims{
			"iss": iss, "sub": "quiz-77", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"preferred_username": "quiz_fan", "name": "Quiz Fan",
		}).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	token := sign(jwt.SigningMethodRS256, key, "https://quiz.example.com")
	var first, second struct {
		ID       int64  `json:"id"`
		Username string `json:"username"`
	}
	if code := s.call(t, "GET", "/api/v1/me", token, nil, &first); code != 200 || first.Username != "quiz_fan" {
		t.Fatalf("first sight: %d %+v", code, first)
	}
	if code := s.call(t, "GET", "/api/v1/me", sign(jwt.SigningMethodRS256, key, "https://quiz.example.com"), nil, &second); code != 200 || second.ID != first.ID {
		t.Fatalf("second sight: %d %+v, want user %d again", code, second, first.ID)
	}
	refused := map[string]string{
		"foreign issuer":      sign(jwt.SigningMethodRS256, key, "https://other.example.com"),
		"public key as HMAC":  sign(jwt.SigningMethodHS256, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), "https://quiz.example.com"),
		"unsigned (alg none)": strings.TrimSuffix(sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "https://quiz.example.com"), "."),
	}
	for name, tok := range refused {
		if code := s.call(t, "GET", "/api/v1/me", tok, nil, nil); code != 401 {
			t.Errorf("%s: %d, want 401", name, code)
		}
	}
}
