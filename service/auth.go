package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
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

// Session is what register and login answer.
type Session struct {
	User      *model.User `json:"user"`
	Token     string      `json:"token"`
	ExpiresAt time.Time   `json:"expires_at"`
}

// Auth registers users, checks passwords and issues and verifies tokens
// (auth_token.go), its own and the quiz site's (auth_external.go).
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
	// parser verifies tokens (see Verify); tokens keeps those of ours that
	// verified.
	parser *jwt.Parser
	tokens *tokenCache
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
	a := &Auth{db: db, cfg: cfg, now: time.Now, dummyHash: dummy, tokens: newTokenCache()}
	a.parser = a.newTokenParser()
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
	a.rehashIfStale(ctx, u, password)
	return a.session(u)
}

// rehashIfStale hashes password again at auth.bcrypt_cost when u's hash was
// made at another cost (the setting changed since): otherwise a raise would
// reach only new accounts, and a login against an old hash would take its
// old cost's time while an unknown name takes the current one's (the
// dummy hash), telling the accounts made before the raise from names no
// one has. Best effort: a failure leaves the old hash, which still
// verifies, for the next login to replace; the UPDATE names the old hash,
// so that a change of password meanwhile is not undone.
func (a *Auth) rehashIfStale(ctx context.Context, u *model.User, password string) {
	old := *u.PasswordHash
	if cost, err := bcrypt.Cost([]byte(old)); err != nil || cost == a.cfg.BcryptCost {
		return
	}
	hash, err := HashPassword(password, a.cfg.BcryptCost)
	if err != nil {
		return
	}
	_ = a.db.WithContext(ctx).Model(&model.User{}).Where("id = ? AND password_hash = ?", u.ID, old).
		Update("password_hash", hash).Error
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
