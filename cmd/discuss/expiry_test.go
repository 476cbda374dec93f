package main

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
)

// TestSocketClosedAtTokenExpiry opens /ws on the running server with a
// token that expires in 2 to 3 s: the server closes the socket with 4001
// when it does, not before.
func TestSocketClosedAtTokenExpiry(t *testing.T) {
	s := startServe(t, databaseEnv(t)) // its tokens are signed with testSecret
	_, id := registerUser(t, s, "alice")

	expires := time.Now().Add(2 * time.Second).Truncate(time.Second).Add(time.Second)
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject:   strconv.FormatInt(id, 10),
		Issuer:    "discuss",
		IssuedAt:  jwt.NewNumericDate(time.Now()),
		ExpiresAt: jwt.NewNumericDate(expires),
	}).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	conn := dialHello(t, s, token)
	pingPong(t, conn) // open and served
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var closeErr *websocket.CloseError
	for {
		if _, _, err = conn.ReadMessage(); err != nil {
			break
		}
	}
	if !errors.As(err, &closeErr) || closeErr.Code != 4001 || closeErr.Text != "token expired" {
		t.Fatalf("socket ended with %v, want close 4001 \"token expired\"", err)
	}
	if early := time.Until(expires); early > 100*time.Millisecond {
		t.Fatalf("closed %v before the token expired", early)
	}
	if late := time.Since(expires); late > 3*time.Second {
		t.Fatalf("closed %v after the token expired", late)
	}
}
