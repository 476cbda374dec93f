package service_test

import (
	"context"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/quizsite/discuss/service"
)

// TestLoginRehashesAtCurrentCost: raising auth.bcrypt_cost used to leave
// every existing hash at the cost it was made with, for ever: the accounts
// gained nothing, and a login against one of them took the old cost's
// time while an unknown name took the new one's (its dummy hash is made
// at the current cost), which told the accounts made before the raise from
// names no one has. A successful login now hashes the password again at
// the current cost; a wrong password changes nothing.
func TestLoginRehashesAtCurrentCost(t *testing.T) {
	ctx := context.Background()
	old, db := newAuth(t, nil)
	if _, err := old.Register(ctx, service.RegisterInput{Username: "dave", Password: "password123"}); err != nil {
		t.Fatal(err)
	}
	stored := func() string {
		t.Helper()
		var hash string
		if err := db.Raw("SELECT password_hash FROM users WHERE username_key = ?", "dave").Scan(&hash).Error; err != nil {
			t.Fatal(err)
		}
		return hash
	}
	costOf := func(hash string) int {
		t.Helper()
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil {
			t.Fatal(err)
		}
		return cost
	}
	before := stored()
	raised, err := service.NewAuth(db.DB, service.AuthConfig{Secret: []byte(ourSecret), Issuer: ourIssuer, BcryptCost: 5})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raised.Login(ctx, "dave", "wrong password", "10.0.0.1"); err == nil {
		t.Fatal("a wrong password signed in")
	}
	if got := stored(); got != before {
		t.Fatalf("a failed login changed the hash: %q, was %q", got, before)
	}
	if _, err := raised.Login(ctx, "dave", "password123", "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if got := costOf(stored()); got != 5 {
		t.Fatalf("after a login at cost 5 the hash has cost %d (was %d)", got, costOf(before))
	}
	if _, err := raised.Login(ctx, "dave", "password123", "10.0.0.1"); err != nil {
		t.Fatalf("the rehashed password: %v", err)
	}
}
