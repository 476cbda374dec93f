package service

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// bcryptMaxBytes is the most bcrypt hashes. golang.org/x/crypto/bcrypt
// refuses longer input (ErrPasswordTooLong) and other implementations
// silently ignore the rest, while the contract allows passwords of 128
// runes: up to 512 bytes.
const bcryptMaxBytes = 72

// prehashKey is the HMAC key of the pre-hash of long passwords. It is not a
// secret: it makes the bcrypt input differ from a plain SHA-256 of the
// password, so that a leaked table of unsalted SHA-256 hashes cannot be
// tried against our bcrypt hashes directly ("password shucking"), and it
// names a version should the scheme ever change.
const prehashKey = "discuss password prehash v1"

// bcryptInput returns what bcrypt hashes for password: the password itself
// when it fits in 72 bytes, else the base64 of its HMAC-SHA-256 (44 bytes,
// depending on every byte of the password, with no NUL that a C
// implementation could stop at). Which of the two depends only on the
// password's length, so no marker is stored, and the hashes written before
// long passwords were accepted, all of passwords within 72 bytes, verify as
// they always did.
func bcryptInput(password string) []byte {
	if len(password) <= bcryptMaxBytes {
		return []byte(password)
	}
	mac := hmac.New(sha256.New, []byte(prehashKey))
	mac.Write([]byte(password))
	return []byte(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
}

// HashPassword returns the bcrypt hash of password at cost, for any
// password the contract allows.
func HashPassword(password string, cost int) (string, error) {
	hash, err := bcrypt.GenerateFromPassword(bcryptInput(password), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(hash), nil
}

// passwordMatches reports whether password is the one hash was made from.
func passwordMatches(hash, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), bcryptInput(password)) == nil
}
