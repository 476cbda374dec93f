package service

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"math/big"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
)

// The quiz site's users: verifying the tokens of its issuer, and the local
// user made for each of its subjects on first sight.

// ExternalIssuer is a trusted issuer other than ourselves. Its keys are
// either one configured key or, with JWKS, the set it publishes. Each key
// is accepted with exactly one algorithm, so that an RS256 public key can
// never be used as an HS256 secret.
type ExternalIssuer struct {
	Issuer    string
	Algorithm string // "HS256" or "RS256"; unused with JWKS
	HS256Key  []byte
	RS256Key  *rsa.PublicKey
	JWKS      *JWKS  // when not nil, the only source of keys
	Audience  string // checked when not empty
}

// externalClaims are the claims read from the quiz site's tokens; the name
// claims, when present, seed the local username and display name.
type externalClaims struct {
	jwt.RegisteredClaims
	PreferredUsername string `json:"preferred_username"`
	Username          string `json:"username"`
	Name              string `json:"name"`
	// Locale is the user's language (BCP 47), which their mail is written in.
	Locale string `json:"locale"`
}

// authenticateExternal returns the local user of a verified token of the
// external issuer (see Verify), checking its audience when one is set.
func (a *Auth) authenticateExternal(ctx context.Context, claims *externalClaims) (*model.User, error) {
	ext := a.cfg.External
	if ext.Audience != "" && !slices.Contains(claims.Audience, ext.Audience) {
		return nil, model.Errorf(model.EUNAUTHENTICATED, "invalid token")
	}
	if claims.Subject == "" || len(claims.Subject) > 255 {
		return nil, model.Errorf(model.EUNAUTHENTICATED, "invalid token subject")
	}
	u, err := a.externalSubject(ctx, ext.Issuer, claims)
	if err != nil || claims.Locale == "" {
		return u, err
	}
	return a.keepLocale(ctx, u, model.NormalizeLocale(claims.Locale))
}

// externalSubject returns the local user of the token's subject.
func (a *Auth) externalSubject(ctx context.Context, issuer string, claims *externalClaims) (*model.User, error) {
	if a.users == nil {
		return a.externalUser(ctx, issuer, claims)
	}
	// Once the subject's local user is known, it is read like ours,
	// through the user cache.
	if id, ok := a.users.idOf(issuer, claims.Subject); ok {
		return a.user(ctx, id)
	}
	u, err := a.externalUser(ctx, issuer, claims)
	if err == nil {
		a.users.setSubject(issuer, claims.Subject, u.ID)
	}
	return u, err
}

// keepLocale stores locale as u's language when it differs, and returns u
// as it now is. The row changes only when the quiz site's language does.
func (a *Auth) keepLocale(ctx context.Context, u *model.User, locale string) (*model.User, error) {
	if u.Locale == locale {
		return u, nil
	}
	err := a.db.WithContext(ctx).Model(&model.User{}).Where("id = ?", u.ID).UpdateColumn("locale", locale).Error
	if err != nil {
		return nil, dbError(err)
	}
	a.ForgetUser(u.ID)
	changed := *u // the cached user may be shared: change a copy
	changed.Locale = locale
	return &changed, nil
}

// externalUser finds the local user of (issuer, sub), creating it on first
// sight. Two first requests may race; the unique key on (issuer, subject)
// lets one insert win and the other read what it wrote.
func (a *Auth) externalUser(ctx context.Context, issuer string, claims *externalClaims) (*model.User, error) {
	db := a.db.WithContext(ctx)
	var u model.User
	err := db.Where("issuer = ? AND subject = ?", issuer, claims.Subject).Take(&u).Error
	if err == nil {
		return &u, nil
	}
	if !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, dbError(err)
	}
	// The quiz site's name is taken as given, less the characters a
	// display name may not hold; one still too long is not used.
	display, err := model.DisplayName(model.SanitizeDisplayName(claims.Name))
	if err != nil {
		display = ""
	}
	base := externalUsername(claims)
	if display == "" {
		display = base
	}
	for attempt := range 5 {
		name := base
		if attempt > 0 {
			suffix := "_" + randomDigits(4)
			name = truncateRunes(base, model.UsernameMax-len(suffix)) + suffix
		}
		iss, sub := issuer, claims.Subject
		u = model.User{Username: name, DisplayName: display, Role: model.RoleUser, Issuer: &iss, Subject: &sub, CreatedAt: Now()}
		// Concurrent first inserts can deadlock on MySQL: retry the victim.
		err := transact(ctx, a.db, func(tx *gorm.DB) error { return tx.Create(&u).Error })
		if err == nil {
			return &u, nil
		}
		if !errors.Is(err, gorm.ErrDuplicatedKey) {
			return nil, dbError(err)
		}
		// Either the username is taken or a concurrent request created
		// this very user; in the second case, use it.
		var existing model.User
		if db.Where("issuer = ? AND subject = ?", issuer, claims.Subject).Take(&existing).Error == nil {
			return &existing, nil
		}
	}
	return nil, model.Errorf(model.ECONFLICT, "could not find a free username for this account")
}

// externalUsername picks a valid username from the token's name claims, or
// makes one from the subject.
func externalUsername(c *externalClaims) string {
	for _, candidate := range []string{c.PreferredUsername, c.Username} {
		if name, err := model.Username(candidate); err == nil {
			return name
		}
	}
	var b strings.Builder
	b.WriteString("quiz_")
	for _, r := range c.Subject {
		if model.IsUsernameRune(r) {
			b.WriteRune(r)
		}
	}
	return truncateRunes(b.String(), model.UsernameMax)
}

// truncateRunes returns s cut to at most n runes, never inside one.
func truncateRunes(s string, n int) string {
	count := 0
	for i := range s {
		if count == n {
			return s[:i]
		}
		count++
	}
	return s
}

// randomDigits returns n random decimal digits: the suffix that makes a
// taken username free. It needs no secrecy, only spread; should the system's
// random source fail, a zero digit still yields a name.
func randomDigits(n int) string {
	var b strings.Builder
	for range n {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			d = big.NewInt(0)
		}
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String()
}
