package service

import (
	"crypto/sha256"
	"sync"
	"time"
)

// maxCachedTokens bounds the verified-token cache, as maxCachedUsers
// bounds the user cache: past it, expired tokens are swept, and if that is
// not enough the cache starts again empty.
const maxCachedTokens = 100_000

// tokenCache remembers our own tokens that verified, so that a client's
// next request or reconnect with the same token skips the signature and
// the claims' JSON: a tenth of a connect's CPU, more while a reconnect
// storm brings every token back at once. What a token says cannot change,
// it is signed; only time can make it invalid, so a hit is checked
// against its expiry as the parser checks it. Only signatures that
// verified get in, so a flood of forged tokens cannot fill it; the
// external issuer's tokens stay out (their local user may need creating,
// their locale keeping).
type tokenCache struct {
	mu sync.Mutex
	// tokens is keyed by the SHA-256 of the token: 32 bytes an entry
	// where the token itself is 150 or more, and a connected socket's
	// token stays here while it lives.
	tokens map[[sha256.Size]byte]verifiedToken
}

// verifiedToken is what a token verified as. It holds no pointer (its
// expiry in Unix nanoseconds, not a time.Time, which has one), nor does its
// key: the collector need not scan the map.
type verifiedToken struct {
	userID  int64
	expires int64
}

func newTokenCache() *tokenCache {
	return &tokenCache{tokens: make(map[[sha256.Size]byte]verifiedToken)}
}

// get returns the user id and the expiry token verified with, if it did
// and is still valid at now.
func (c *tokenCache) get(token string, now time.Time) (int64, time.Time, bool) {
	key := sha256.Sum256([]byte(token))
	c.mu.Lock()
	t, ok := c.tokens[key]
	c.mu.Unlock()
	if !ok || !t.valid(now) {
		return 0, time.Time{}, false
	}
	return t.userID, time.Unix(0, t.expires), true
}

// put keeps token, which verified as naming userID until expires.
func (c *tokenCache) put(token string, userID int64, expires, now time.Time) {
	key := sha256.Sum256([]byte(token))
	c.mu.Lock()
	defer c.mu.Unlock()
	makeRoom(c.tokens, maxCachedTokens, func(t verifiedToken) bool { return !t.valid(now) })
	c.tokens[key] = verifiedToken{userID: userID, expires: expires.UnixNano()}
}

// valid reports whether the token is still accepted at now: the parser's
// expiry check, with its leeway.
func (t verifiedToken) valid(now time.Time) bool {
	return now.Before(time.Unix(0, t.expires).Add(tokenLeeway))
}
