package service

import (
	"strings"
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
	mu     sync.Mutex
	tokens map[string]verifiedToken
}

type verifiedToken struct {
	userID  int64
	expires time.Time
}

func newTokenCache() *tokenCache {
	return &tokenCache{tokens: make(map[string]verifiedToken)}
}

// get returns what token verified as, if it did and is still valid at now.
func (c *tokenCache) get(token string, now time.Time) (verifiedToken, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.tokens[token]
	if !ok || !t.valid(now) {
		return verifiedToken{}, false
	}
	return t, true
}

// put keeps token, which verified as t.
func (c *tokenCache) put(token string, t verifiedToken, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.tokens) >= maxCachedTokens {
		for k, e := range c.tokens {
			if !e.valid(now) {
				delete(c.tokens, k)
			}
		}
		if len(c.tokens) >= maxCachedTokens {
			clear(c.tokens)
		}
	}
	// The token may be a slice of a larger string (a request's header or
	// URL), which the key must not keep.
	c.tokens[strings.Clone(token)] = t
}

// valid reports whether a token expiring at t.expires is still accepted at
// now: the parser's expiry check, with its leeway.
func (t verifiedToken) valid(now time.Time) bool {
	return now.Before(t.expires.Add(tokenLeeway))
}
