package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// Authenticate verifies a token and returns its user; see Verify.
func (a *Auth) Authenticate(ctx context.Context, token string) (*model.User, error) {
	u, _, err := a.Verify(ctx, token)
	return u, err
}

// Verify verifies a token and returns its user and when the token expires
// (a live connection ends then). Our own tokens name a local user id; the
// external issuer's name a subject of theirs, whose local user is created
// the first time it is seen. Every failure is EUNAUTHENTICATED;
// EUNAVAILABLE when the database does not answer.
func (a *Auth) Verify(ctx context.Context, token string) (*model.User, time.Time, error) {
	id, expires, u, err := a.verify(ctx, token)
	if err != nil || u != nil {
		return u, expires, err
	}
	u, err = a.user(ctx, id)
	return u, expires, err
}

// ErrTokenUserMissing is the answer to a valid token whose user does not
// exist: Verify's, and that of a caller of VerifyID that finds no user.
func ErrTokenUserMissing() error {
	return model.Errorf(model.EUNAUTHENTICATED, "the token's user does not exist")
}

// VerifyID is Verify for a caller that reads the user's row itself, as the
// hub's connect does (a WebSocket's replay head comes from it, and the
// caller refuses a user it does not find there): it returns the id of the
// token's user and when the token expires, without reading our own
// tokens' user. A connect is then one database round trip, not two.
func (a *Auth) VerifyID(ctx context.Context, token string) (int64, time.Time, error) {
	id, expires, _, err := a.verify(ctx, token)
	return id, expires, err
}

// verify checks token. Our own token gives the id it names, from the
// token cache when it verified before; an external one its local user,
// read or created, and that user's id. The token is parsed once: the key
// is chosen by its issuer while it is verified.
func (a *Auth) verify(ctx context.Context, token string) (int64, time.Time, *model.User, error) {
	if token == "" {
		return 0, time.Time{}, nil, model.Errorf(model.EUNAUTHENTICATED, "missing bearer token")
	}
	if id, expires, ok := a.tokens.get(token, a.now()); ok {
		return id, expires, nil, nil
	}
	var claims externalClaims
	external := false
	_, err := a.parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		iss, _ := t.Claims.GetIssuer()
		switch {
		case iss == a.cfg.Issuer:
			return a.cfg.Secret, acceptAlg(t, "HS256")
		case a.cfg.External != nil && iss == a.cfg.External.Issuer:
			external = true
			keys, algs := a.cfg.External.keys(ctx)
			if err := acceptAlg(t, algs...); err != nil {
				return nil, err
			}
			return keys(t)
		}
		return nil, errUntrustedIssuer
	})
	if err != nil {
		return 0, time.Time{}, nil, tokenError(err)
	}
	// The parser requires exp, so ExpiresAt is set.
	expires := claims.ExpiresAt.Time
	if external {
		u, err := a.authenticateExternal(ctx, &claims)
		if err != nil {
			return 0, time.Time{}, nil, err
		}
		return u.ID, expires, u, nil
	}
	id, err := strconv.ParseInt(claims.Subject, 10, 64)
	if err != nil || id <= 0 {
		return 0, time.Time{}, nil, model.Errorf(model.EUNAUTHENTICATED, "invalid token subject")
	}
	a.tokens.put(token, id, expires, a.now())
	return id, expires, nil, nil
}

// errUntrustedIssuer is the key lookup's answer to a token of an issuer
// that is neither ours nor the external one.
var errUntrustedIssuer = errors.New("token issuer is not trusted")

// acceptAlg refuses a token signed with an algorithm its issuer's keys are
// not for, so that an RS256 public key can never be used as an HS256
// secret, nor "none" accepted.
func acceptAlg(t *jwt.Token, algs ...string) error {
	if slices.Contains(algs, t.Method.Alg()) {
		return nil
	}
	return fmt.Errorf("signing method %s is not accepted for this issuer", t.Method.Alg())
}

// tokenLeeway is how far the clocks of a token's issuer and ours may
// disagree: a token is accepted this long after it expired, and from this
// long before it was issued.
const tokenLeeway = 30 * time.Second

// newTokenParser returns the checks of every token, whoever issued it;
// the issuer and its algorithms are checked while the key is chosen
// (Verify). A Parser may be shared once made.
func (a *Auth) newTokenParser() *jwt.Parser {
	return jwt.NewParser(
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(tokenLeeway),
		jwt.WithTimeFunc(func() time.Time { return a.now() }),
	)
}

// tokenError turns a jwt parse error into the client's message, telling an
// expired token apart so that clients know to sign in again.
func tokenError(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return model.Errorf(model.EUNAUTHENTICATED, "malformed token")
	case errors.Is(err, errUntrustedIssuer):
		return model.Errorf(model.EUNAUTHENTICATED, "token issuer is not trusted")
	case errors.Is(err, jwt.ErrTokenExpired):
		return model.Errorf(model.EUNAUTHENTICATED, "token expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return model.Errorf(model.EUNAUTHENTICATED, "token not valid yet")
	default:
		return model.Errorf(model.EUNAUTHENTICATED, "invalid token")
	}
}
