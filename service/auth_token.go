package service

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/quizsite/discuss/model"
)

// Tokens: issuing our own, and verifying any token a trusted issuer signed
// (Authenticate), ours here and the quiz site's in auth_external.go.

// IssueToken signs an HS256 token for u with sub, iat, exp and iss.
func (a *Auth) IssueToken(u *model.User) (string, time.Time, error) {
	now := a.now().UTC()
	exp := now.Add(a.cfg.TokenTTL).Truncate(time.Second)
	claims := jwt.RegisteredClaims{
		Subject:   strconv.FormatInt(u.ID, 10),
		Issuer:    a.cfg.Issuer,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(a.cfg.Secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return token, exp, nil
}

// Authenticate verifies a token and returns its user. Our own tokens name a
// local user id; the external issuer's name a subject of theirs, whose local
// user is created the first time it is seen. Every failure is
// EUNAUTHENTICATED; EUNAVAILABLE when the database does not answer.
func (a *Auth) Authenticate(ctx context.Context, token string) (*model.User, error) {
	if token == "" {
		return nil, model.Errorf(model.EUNAUTHENTICATED, "missing bearer token")
	}
	var unverified jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &unverified); err != nil {
		return nil, model.Errorf(model.EUNAUTHENTICATED, "malformed token")
	}
	switch {
	case unverified.Issuer == a.cfg.Issuer:
		return a.authenticateOwn(ctx, token)
	case a.cfg.External != nil && unverified.Issuer == a.cfg.External.Issuer:
		return a.authenticateExternal(ctx, token)
	default:
		return nil, model.Errorf(model.EUNAUTHENTICATED, "token issuer is not trusted")
	}
}

func (a *Auth) parserOptions(issuer string, algs ...string) []jwt.ParserOption {
	return []jwt.ParserOption{
		jwt.WithValidMethods(algs),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(30 * time.Second),
		jwt.WithTimeFunc(a.now),
	}
}

func (a *Auth) authenticateOwn(ctx context.Context, token string) (*model.User, error) {
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) {
		return a.cfg.Secret, nil
	}, a.parserOptions(a.cfg.Issuer, "HS256")...)
	if err != nil {
		return nil, tokenError(err)
	}
	id, err := strconv.ParseInt(claims.Subject, 10, 64)
	if err != nil || id <= 0 {
		return nil, model.Errorf(model.EUNAUTHENTICATED, "invalid token subject")
	}
	return a.user(ctx, id)
}

// tokenError turns a jwt parse error into the client's message, telling an
// expired token apart so that clients know to sign in again.
func tokenError(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return model.Errorf(model.EUNAUTHENTICATED, "token expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return model.Errorf(model.EUNAUTHENTICATED, "token not valid yet")
	default:
		return model.Errorf(model.EUNAUTHENTICATED, "invalid token")
	}
}

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
