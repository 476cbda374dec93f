package service

import (
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TokenExpiry returns when a token that Authenticate accepted expires, so
// that a connection opened with it can end then; zero when it cannot tell.
// It does not verify the token: call it only on one Authenticate has
// verified (which also requires exp).
func (a *Auth) TokenExpiry(token string) time.Time {
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &claims); err != nil || claims.ExpiresAt == nil {
		return time.Time{}
	}
	return claims.ExpiresAt.Time
}
