package service

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
)

// AuthConfig configures token issuing and checking.
type AuthConfig struct {
	Secret     []byte // HS256 key of our own tokens
	Issuer     string // iss of our own tokens
	TokenTTL   time.Duration
	BcryptCost int
	// External, when not nil, is the quiz site's own issuer, whose tokens
	// are accepted too.
	External *ExternalIssuer
	// LoginLimiter throttles logins per client address (every attempt)
	// and per username (failed attempts; see Login). RegisterLimiter
	// throttles registrations per client address. nil means unlimited.
	LoginLimiter    *RateLimiter
	RegisterLimiter *RateLimiter
	// UserCacheTTL is how long the user a token names is kept after it
	// was read (see userCache); 0 reads it on every request.
	UserCacheTTL time.Duration
}

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

// Session is what register and login answer.
type Session struct {
	User      *model.User `json:"user"`
	Token     string      `json:"token"`
	ExpiresAt time.Time   `json:"expires_at"`
}

// Auth registers users, checks passwords and issues and verifies tokens.
type Auth struct {
	db        *gorm.DB
	cfg       AuthConfig
	now       func() time.Time
	dummyHash string // compared against when a username is unknown, so timing does not tell
	// loginRetries allows each (username, address) pair one failed login
	// per period of LoginLimiter, for when the username's own budget of
	// failures is spent; nil when logins are unlimited.
	loginRetries *RateLimiter
	// users caches the users tokens name; nil when UserCacheTTL is 0.
	users *userCache
}

// NewAuth returns the auth service.
func NewAuth(db *gorm.DB, cfg AuthConfig) (*Auth, error) {
	if len(cfg.Secret) < 32 {
		return nil, errors.New("auth: the signing secret must be at least 32 bytes")
	}
	if err := cfg.External.check(); err != nil {
		return nil, err
	}
	dummy, err := HashPassword("not a real password", cfg.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	a := &Auth{db: db, cfg: cfg, now: time.Now, dummyHash: dummy}
	if cfg.UserCacheTTL > 0 {
		a.users = newUserCache(cfg.UserCacheTTL, func() time.Time { return a.now() })
	}
	if cfg.LoginLimiter != nil {
		a.loginRetries = NewRateLimiter(1, cfg.LoginLimiter.burst)
	}
	return a, nil
}

// RegisterInput is a new local account.
type RegisterInput struct {
	Username    string
	Password    string
	DisplayName string
	// ClientAddr is the client's address as the per-address limits count
	// it (model.AddressKey: an IPv6 client's /64).
	ClientAddr string
}

// Register creates a local user with the role user and signs them in.
// Errors: EINVALID for a bad field, ECONFLICT when the username is taken,
// ERATELIMITED when the address registers too often.
func (a *Auth) Register(ctx context.Context, in RegisterInput) (*Session, error) {
	if err := allow(a.cfg.RegisterLimiter, "addr:"+in.ClientAddr); err != nil {
		return nil, err
	}
	u, err := a.createLocalUser(ctx, in.Username, in.Password, in.DisplayName, model.RoleUser)
	if err != nil {
		return nil, err
	}
	return a.session(u)
}

// CreateUser creates a local user with any role; it is the path of the
// `user create` command, which makes the first admin.
func (a *Auth) CreateUser(ctx context.Context, username, password, role string) (*model.User, error) {
	if !model.ValidRole(role) {
		return nil, model.Errorf(model.EINVALID, "role must be user, moderator or admin")
	}
	return a.createLocalUser(ctx, username, password, "", role)
}

func (a *Auth) createLocalUser(ctx context.Context, username, password, displayName, role string) (*model.User, error) {
	username, err := model.Username(username)
	if err != nil {
		return nil, err
	}
	if err := model.Password(password); err != nil {
		return nil, err
	}
	displayName, err = model.DisplayName(displayName)
	if err != nil {
		return nil, err
	}
	if displayName == "" {
		displayName = username
	}
	hash, err := HashPassword(password, a.cfg.BcryptCost)
	if err != nil {
		return nil, err
	}
	u := &model.User{Username: username, DisplayName: displayName, PasswordHash: &hash, Role: role, CreatedAt: Now()}
	if err := a.db.WithContext(ctx).Create(u).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return nil, model.Errorf(model.ECONFLICT, "username %s is taken", username)
		}
		return nil, dbError(err)
	}
	return u, nil
}

// errBadCredentials is one answer for an unknown user and a wrong password,
// so that login does not reveal which usernames exist. It is made afresh
// each time: callers may wrap or annotate what they get.
func errBadCredentials() error {
	return model.Errorf(model.EUNAUTHENTICATED, "wrong username or password")
}

// Login checks a password and issues a token. Every attempt counts against
// the client address's limit, and every failure against the username's.
// A username whose failures are spent still lets each address that has
// not failed for it within the limiter's period try once: the owner, at
// their usual address, is not locked out by someone guessing from others,
// while each guessing address waits. Its right password signs in; a wrong
// one answers 429 like any other refusal. clientAddr is as
// RegisterInput.ClientAddr. Errors: EUNAUTHENTICATED, ERATELIMITED.
func (a *Auth) Login(ctx context.Context, username, password, clientAddr string) (*Session, error) {
	if err := allow(a.cfg.LoginLimiter, "addr:"+clientAddr); err != nil {
		return nil, err
	}
	name, err := model.Username(username)
	if err != nil {
		// No account has this name. It is refused like a wrong password,
		// after the same bcrypt work, so that the answer and its timing
		// tell nothing that the public rules for names do not.
		_ = passwordMatches(a.dummyHash, password)
		return nil, errBadCredentials()
	}
	// The limiter keys on the name as accounts are looked up, so that
	// " Bob" and "bob" share one budget.
	key := model.UsernameKey(name)
	userKey, pairKey := "user:"+key, "user:"+key+" addr:"+clientAddr
	spent := check(a.cfg.LoginLimiter, userKey)
	if spent != nil && check(a.loginRetries, pairKey) != nil {
		return nil, spent
	}
	u, err := a.checkPassword(ctx, key, password)
	if model.ErrorCode(err) == model.EUNAUTHENTICATED {
		// Concurrent failures may pass the checks above together and go
		// slightly over the budget; each address's own limit bounds that.
		_ = allow(a.cfg.LoginLimiter, userKey)
		_ = allow(a.loginRetries, pairKey)
		if spent != nil {
			return nil, spent
		}
	}
	if err != nil {
		return nil, err
	}
	return a.session(u)
}

// checkPassword returns the local user whose username key is key when
// password is theirs. Errors: EUNAUTHENTICATED, the same for an unknown
// user, a user without a password here and a wrong password, after the
// same bcrypt work; EUNAVAILABLE.
func (a *Auth) checkPassword(ctx context.Context, key, password string) (*model.User, error) {
	var u model.User
	err := a.db.WithContext(ctx).Where("username_key = ?", key).Take(&u).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		_ = passwordMatches(a.dummyHash, password)
		return nil, errBadCredentials()
	case err != nil:
		return nil, dbError(err)
	case u.PasswordHash == nil:
		// Users of the external issuer have no password here.
		_ = passwordMatches(a.dummyHash, password)
		return nil, errBadCredentials()
	case !passwordMatches(*u.PasswordHash, password):
		return nil, errBadCredentials()
	}
	return &u, nil
}

func (a *Auth) session(u *model.User) (*Session, error) {
	token, exp, err := a.IssueToken(u)
	if err != nil {
		return nil, err
	}
	return &Session{User: u, Token: token, ExpiresAt: exp}, nil
}

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

func (a *Auth) authenticateExternal(ctx context.Context, token string) (*model.User, error) {
	ext := a.cfg.External
	keys, algs := ext.keys(ctx)
	opts := a.parserOptions(ext.Issuer, algs...)
	if ext.Audience != "" {
		opts = append(opts, jwt.WithAudience(ext.Audience))
	}
	var claims externalClaims
	_, err := jwt.ParseWithClaims(token, &claims, keys, opts...)
	if err != nil {
		return nil, tokenError(err)
	}
	if claims.Subject == "" || len(claims.Subject) > 255 {
		return nil, model.Errorf(model.EUNAUTHENTICATED, "invalid token subject")
	}
	u, err := a.externalSubject(ctx, ext.Issuer, &claims)
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
