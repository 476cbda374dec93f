package service_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
	"github.com/quizsite/discuss/service/dbtest"
)

const (
	ourSecret  = "our-secret-our-secret-our-secret-0123456"
	quizSecret = "quiz-secret-quiz-secret-quiz-secret-0123"
	quizIssuer = "https://quiz.example.com"
	ourIssuer  = "discuss"
)

// newAuth returns the auth service over a fresh database, trusting ext's
// tokens besides its own when ext is not nil.
func newAuth(t *testing.T, ext *service.ExternalIssuer) (*service.Auth, *dbtest.DB) {
	t.Helper()
	return authWith(t, service.AuthConfig{External: ext})
}

// authWith is the auth service of cfg, given our secret, issuer, an hour's
// tokens and the cheapest bcrypt cost, over a fresh database.
func authWith(t *testing.T, cfg service.AuthConfig) (*service.Auth, *dbtest.DB) {
	t.Helper()
	db := dbtest.Open(t)
	cfg.Secret, cfg.Issuer, cfg.TokenTTL, cfg.BcryptCost = []byte(ourSecret), ourIssuer, time.Hour, 4
	a, err := service.NewAuth(db.DB, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a, db
}

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func claims(iss, sub string, iat, exp time.Time) jwt.RegisteredClaims {
	return jwt.RegisteredClaims{Issuer: iss, Subject: sub, IssuedAt: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(exp)}
}

// noneToken builds an unsigned token by hand: the library refuses to sign
// one with alg none unless told it is unsafe.
func noneToken(t *testing.T, c jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAuthenticateRejects(t *testing.T) {
	rsaKey := mustRSA(t)
	a, _ := newAuth(t, &service.ExternalIssuer{Issuer: quizIssuer, Algorithm: "RS256", RS256Key: &rsaKey.PublicKey})
	ctx := t.Context()
	u, err := a.CreateUser(ctx, "alice", "password123", model.RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	sub := strconv.FormatInt(u.ID, 10)
	now := time.Now()
	valid := sign(t, jwt.SigningMethodHS256, []byte(ourSecret), claims(ourIssuer, sub, now, now.Add(time.Hour)))
	if got, err := a.Authenticate(ctx, valid); err != nil || got.ID != u.ID {
		t.Fatalf("valid token: %v %v", got, err)
	}
	parts := strings.Split(valid, ".")
	tamperedPayload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(tamperedPayload), `"sub":"`+sub, `"sub":"9`+sub, 1))) + "." + parts[2]
	_, pubPEM := publicKeyBytes(t, &rsaKey.PublicKey)

	tests := []struct {
		name  string
		token string
		want  string
	}{
		{"ErrMissing", "", "missing bearer token"},
		{"ErrMalformed", "not-a-jwt", "malformed token"},
		{"ErrForged", sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 40)), claims(ourIssuer, sub, now, now.Add(time.Hour))), "invalid token"},
		{"ErrBadSignature", parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString([]byte("garbage-signature-bytes-0123456789")), "invalid token"},
		{"ErrTamperedClaims", tampered, "invalid token"},
		{"ErrExpired", sign(t, jwt.SigningMethodHS256, []byte(ourSecret), claims(ourIssuer, sub, now.Add(-2*time.Hour), now.Add(-time.Hour))), "token expired"},
		{"ErrNoExpiry", sign(t, jwt.SigningMethodHS256, []byte(ourSecret), jwt.RegisteredClaims{Issuer: ourIssuer, Subject: sub}), "invalid token"},
		{"ErrNotYetValid", sign(t, jwt.SigningMethodHS256, []byte(ourSecret), jwt.RegisteredClaims{Issuer: ourIssuer, Subject: sub, ExpiresAt: jwt.NewNumericDate(now.Add(2 * time.Hour)), NotBefore: jwt.NewNumericDate(now.Add(time.Hour))}), "token not valid yet"},
		{"ErrIssuedInFuture", sign(t, jwt.SigningMethodHS256, []byte(ourSecret), claims(ourIssuer, sub, now.Add(time.Hour), now.Add(2*time.Hour))), "token not valid yet"},
		{"ErrAlgNone", noneToken(t, claims(ourIssuer, sub, now, now.Add(time.Hour))), "invalid token"},
		{"ErrAlgNoneExternal", noneToken(t, claims(quizIssuer, "42", now, now.Add(time.Hour))), "invalid token"},
		{"ErrWrongAlgOurs", sign(t, jwt.SigningMethodHS512, []byte(ourSecret), claims(ourIssuer, sub, now, now.Add(time.Hour))), "invalid token"},
		// HS/RS confusion: the RS256 public key used as an HS256 secret.
		{"ErrHSRSConfusion", sign(t, jwt.SigningMethodHS256, pubPEM, claims(quizIssuer, "42", now, now.Add(time.Hour))), "invalid token"},
		{"ErrForeignIssuer", sign(t, jwt.SigningMethodHS256, []byte(ourSecret), claims("https://evil.example.com", sub, now, now.Add(time.Hour))), "token issuer is not trusted"},
		{"ErrExternalWrongKey", sign(t, jwt.SigningMethodRS256, mustRSA(t), claims(quizIssuer, "42", now, now.Add(time.Hour))), "invalid token"},
		{"ErrBadSubject", sign(t, jwt.SigningMethodHS256, []byte(ourSecret), claims(ourIssuer, "abc", now, now.Add(time.Hour))), "invalid token subject"},
		{"ErrUnknownUser", sign(t, jwt.SigningMethodHS256, []byte(ourSecret), claims(ourIssuer, "999999", now, now.Add(time.Hour))), "the token's user does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.Authenticate(ctx, tt.token)
			if got != nil || model.ErrorCode(err) != model.EUNAUTHENTICATED {
				t.Fatalf("got %v, %v; want unauthenticated", got, err)
			}
			if msg := model.ErrorMessage(err); msg != tt.want {
				t.Errorf("message %q, want %q", msg, tt.want)
			}
		})
	}
}

// TestVerifyExpiry: Verify returns the user and the token's exp, for our
// tokens and the external issuer's alike, and nothing for a refused one.
func TestVerifyExpiry(t *testing.T) {
	a, _ := newAuth(t, &service.ExternalIssuer{Issuer: quizIssuer, Algorithm: "HS256", HS256Key: []byte(quizSecret)})
	ctx := t.Context()
	u, err := a.CreateUser(ctx, "alice", "password123", model.RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	exp := now.Add(42 * time.Minute)
	for _, tt := range []struct {
		name, token string
	}{
		{"Ours", sign(t, jwt.SigningMethodHS256, []byte(ourSecret), claims(ourIssuer, strconv.FormatInt(u.ID, 10), now, exp))},
		{"External", sign(t, jwt.SigningMethodHS256, []byte(quizSecret), claims(quizIssuer, "quiz-7", now, exp))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, expires, err := a.Verify(ctx, tt.token)
			if err != nil || got == nil || !expires.Equal(exp) {
				t.Fatalf("got %v, %v, %v; want a user and %v", got, expires, err, exp)
			}
		})
	}
	t.Run("Audience", func(t *testing.T) {
		aud, _ := newAuth(t, &service.ExternalIssuer{Issuer: quizIssuer, Algorithm: "HS256", HS256Key: []byte(quizSecret), Audience: "discuss"})
		for _, tt := range []struct {
			audience []string
			ok       bool
		}{{[]string{"other", "discuss"}, true}, {[]string{"other"}, false}, {nil, false}} {
			c := claims(quizIssuer, "quiz-8", now, exp)
			c.Audience = tt.audience
			got, _, err := aud.Verify(ctx, sign(t, jwt.SigningMethodHS256, []byte(quizSecret), c))
			if (err == nil) != tt.ok || (err != nil && model.ErrorMessage(err) != "invalid token") {
				t.Fatalf("audience %v: got %v, %v", tt.audience, got, err)
			}
		}
	})
	t.Run("ErrExpired", func(t *testing.T) {
		token := sign(t, jwt.SigningMethodHS256, []byte(ourSecret), claims(ourIssuer, strconv.FormatInt(u.ID, 10), now.Add(-2*time.Hour), now.Add(-time.Hour)))
		got, expires, err := a.Verify(ctx, token)
		if got != nil || !expires.IsZero() || model.ErrorMessage(err) != "token expired" {
			t.Fatalf("got %v, %v, %v", got, expires, err)
		}
	})
}

// TestVerifyID: VerifyID names the token's user without reading ours (a
// token for a user that does not exist gives its id; the caller reads the
// row), and the external issuer's local user, created on first sight.
func TestVerifyID(t *testing.T) {
	a, _ := newAuth(t, &service.ExternalIssuer{Issuer: quizIssuer, Algorithm: "HS256", HS256Key: []byte(quizSecret)})
	ctx := t.Context()
	now := time.Now().Truncate(time.Second)
	exp := now.Add(42 * time.Minute)

	id, expires, err := a.VerifyID(ctx, sign(t, jwt.SigningMethodHS256, []byte(ourSecret), claims(ourIssuer, "999999", now, exp)))
	if err != nil || id != 999999 || !expires.Equal(exp) {
		t.Fatalf("ours: %d, %v, %v; want 999999, %v", id, expires, err, exp)
	}
	external := sign(t, jwt.SigningMethodHS256, []byte(quizSecret), claims(quizIssuer, "quiz-9", now, exp))
	id, expires, err = a.VerifyID(ctx, external)
	if err != nil || id <= 0 || !expires.Equal(exp) {
		t.Fatalf("external: %d, %v, %v", id, expires, err)
	}
	u, _, err := a.Verify(ctx, external)
	if err != nil || u.ID != id {
		t.Fatalf("Verify of the external token: %+v, %v; want user %d", u, err, id)
	}
	if _, _, err := a.VerifyID(ctx, "not-a-jwt"); model.ErrorMessage(err) != "malformed token" {
		t.Fatalf("malformed: %v", err)
	}
}

// TestVerifiedTokenExpires: a token that verified is remembered (see
// tokenCache), and refused all the same once it expires, with the parser's
// leeway and message.
func TestVerifiedTokenExpires(t *testing.T) {
	a, _ := newAuth(t, nil)
	ctx := t.Context()
	now := time.Now().Truncate(time.Second)
	a.SetClock(func() time.Time { return now })
	u, err := a.CreateUser(ctx, "alice", "password123", model.RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	token, exp, err := a.IssueToken(u)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		at   time.Time
		want string // the error's message, "" for none
	}{
		{now, ""},
		{now, ""}, // again, from the cache
		{exp.Add(29 * time.Second), ""},
		{exp.Add(31 * time.Second), "token expired"},
	} {
		now = tt.at
		got, _, err := a.Verify(ctx, token)
		if model.ErrorMessage(err) != tt.want || (err == nil && got.ID != u.ID) {
			t.Fatalf("at exp%+v: %v, %v; want %q", tt.at.Sub(exp), got, err, tt.want)
		}
	}
}

func mustRSA(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestExternalIssuerCreatesUserOnce(t *testing.T) {
	rsaKey := mustRSA(t)
	for _, tc := range []struct {
		name string
		ext  *service.ExternalIssuer
		tok  func(c jwt.Claims) string
	}{
		{"HS256", &service.ExternalIssuer{Issuer: quizIssuer, Algorithm: "HS256", HS256Key: []byte(quizSecret)},
			func(c jwt.Claims) string { return sign(t, jwt.SigningMethodHS256, []byte(quizSecret), c) }},
		{"RS256", &service.ExternalIssuer{Issuer: quizIssuer, Algorithm: "RS256", RS256Key: &rsaKey.PublicKey},
			func(c jwt.Claims) string { return sign(t, jwt.SigningMethodRS256, rsaKey, c) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, db := newAuth(t, tc.ext)
			ctx := t.Context()
			// Someone already holds the name the quiz site suggests.
			if _, err := a.CreateUser(ctx, "carol", "password123", model.RoleUser); err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			type quizClaims struct {
				jwt.RegisteredClaims
				PreferredUsername string `json:"preferred_username"`
				Name              string `json:"name"`
			}
			tok := tc.tok(quizClaims{claims(quizIssuer, "u-1001", now, now.Add(time.Hour)), "carol", "Carol Quiz"})

			// Many first requests at once still make one user.
			ids := make([]int64, 8)
			errs := make([]error, 8)
			together(len(ids), func(i int) {
				u, err := a.Authenticate(ctx, tok)
				errs[i] = err
				if u != nil {
					ids[i] = u.ID
				}
			})
			for i := range ids {
				if errs[i] != nil || ids[i] != ids[0] {
					t.Fatalf("request %d: id %d err %v (first id %d)", i, ids[i], errs[i], ids[0])
				}
			}
			var n int64
			db.Model(&model.User{}).Where("issuer = ? AND subject = ?", quizIssuer, "u-1001").Count(&n)
			if n != 1 {
				t.Fatalf("%d local users for one external subject", n)
			}
			u, err := a.Authenticate(ctx, tok)
			if err != nil || u.ID != ids[0] {
				t.Fatalf("second sight: %v %v", u, err)
			}
			if u.Username == "carol" || !strings.HasPrefix(u.Username, "carol_") || u.DisplayName != "Carol Quiz" || u.Role != model.RoleUser {
				t.Errorf("external user %+v", u)
			}
			// External users have no password here.
			if _, err := a.Login(ctx, u.Username, "", "127.0.0.1"); model.ErrorCode(err) != model.EUNAUTHENTICATED {
				t.Errorf("login of an external user: %v", err)
			}
		})
	}
}

func TestRegisterAndLogin(t *testing.T) {
	a, _ := newAuth(t, nil)
	ctx := t.Context()
	sess, err := a.Register(ctx, service.RegisterInput{Username: " dave ", Password: "password123", DisplayName: "  Dave  "})
	if err != nil {
		t.Fatal(err)
	}
	if sess.User.Username != "dave" || sess.User.DisplayName != "Dave" || sess.Token == "" || !sess.ExpiresAt.After(time.Now()) {
		t.Fatalf("session %+v", sess)
	}
	tests := []struct {
		name string
		in   service.RegisterInput
		code string
		msg  string
	}{
		{"ErrTaken", service.RegisterInput{Username: "dave", Password: "password123"}, model.ECONFLICT, "username dave is taken"},
		{"ErrTakenOtherCase", service.RegisterInput{Username: "DAVE", Password: "password123"}, model.ECONFLICT, "username DAVE is taken"},
		{"ErrShortName", service.RegisterInput{Username: "ab", Password: "password123"}, model.EINVALID, "username must be at least 3 characters"},
		{"ErrLongName", service.RegisterInput{Username: strings.Repeat("a", 33), Password: "password123"}, model.EINVALID, "username must be at most 32 characters"},
		{"ErrNameChars", service.RegisterInput{Username: "da-ve", Password: "password123"}, model.EINVALID, "username may contain only letters, digits and underscores"},
		{"ErrShortPassword", service.RegisterInput{Username: "erin", Password: "short"}, model.EINVALID, "password must be 8 to 128 characters"},
		{"ErrLongPassword", service.RegisterInput{Username: "erin", Password: strings.Repeat("p", 129)}, model.EINVALID, "password must be 8 to 128 characters"},
		{"ErrInvalidUTF8", service.RegisterInput{Username: "erin", Password: "password\xff\xfe"}, model.EINVALID, "password is not valid UTF-8"},
		{"ErrLongDisplayName", service.RegisterInput{Username: "erin", Password: "password123", DisplayName: strings.Repeat("é", 65)}, model.EINVALID, "display_name must be at most 64 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.Register(ctx, tt.in)
			if model.ErrorCode(err) != tt.code || model.ErrorMessage(err) != tt.msg {
				t.Fatalf("got %v, want %s %q", err, tt.code, tt.msg)
			}
		})
	}

	if _, err := a.Login(ctx, "dave", "password123", "10.0.0.1"); err != nil {
		t.Fatalf("login: %v", err)
	}
	_, wrongPassword := a.Login(ctx, "dave", "password124", "10.0.0.1")
	_, unknownUser := a.Login(ctx, "nobody", "password123", "10.0.0.1")
	if model.ErrorCode(wrongPassword) != model.EUNAUTHENTICATED || model.ErrorMessage(wrongPassword) != model.ErrorMessage(unknownUser) {
		t.Fatalf("wrong password %v and unknown user %v must answer alike", wrongPassword, unknownUser)
	}
}

func TestLoginRateLimited(t *testing.T) {
	a, _ := authWith(t, service.AuthConfig{LoginLimiter: service.NewRateLimiter(3, time.Minute)})
	ctx := t.Context()
	for i := range 3 {
		if _, err := a.Login(ctx, "victim", "guess"+strconv.Itoa(i), "10.0.0."+strconv.Itoa(i)); model.ErrorCode(err) != model.EUNAUTHENTICATED {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	// The fourth guess at the same username is throttled from any address.
	_, err := a.Login(ctx, "victim", "guess", "10.0.0.99")
	if model.ErrorCode(err) != model.ERATELIMITED {
		t.Fatalf("fourth attempt: %v", err)
	}
	if me, ok := errors.AsType[*model.Error](err); !ok || me.RetryAfter <= 0 {
		t.Fatalf("no RetryAfter on %v", err)
	}
}

func TestSetRole(t *testing.T) {
	a, db := newAuth(t, nil)
	ctx := t.Context()
	admin, _ := a.CreateUser(ctx, "root_admin", "password123", model.RoleAdmin)
	bob, _ := a.CreateUser(ctx, "bob", "password123", model.RoleUser)
	users := service.NewUsers(db.DB, service.NopPublisher{})
	tests := []struct {
		name  string
		actor *model.User
		id    int64
		role  string
		code  string
	}{
		{"OK", admin, bob.ID, model.RoleModerator, ""},
		{"ErrNotAdmin", bob, bob.ID, model.RoleAdmin, model.EPERMISSION},
		{"ErrBadRole", admin, bob.ID, "owner", model.EINVALID},
		{"ErrNotFound", admin, 99999, model.RoleUser, model.ENOTFOUND},
		{"ErrDemoteSelf", admin, admin.ID, model.RoleUser, model.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := users.SetRole(model.WithUser(ctx, tt.actor), tt.id, tt.role)
			if model.ErrorCode(err) != tt.code {
				t.Fatalf("got %v, want code %q", err, tt.code)
			}
			if tt.code == "" && u.Role != tt.role {
				t.Fatalf("role %s, want %s", u.Role, tt.role)
			}
		})
	}
}

// publicKeyBytes returns k in DER and in PEM, the forms an HS/RS
// confusion attack keys HS256 with.
func publicKeyBytes(t *testing.T, k *rsa.PublicKey) (der, pemBytes []byte) {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// TestExternalLocaleKept: the locale claim of the quiz site's tokens is
// kept as the user's language (Chinese tags as zh-CN, the rest English),
// and changes when the claim does; a token without it changes nothing.
func TestExternalLocaleKept(t *testing.T) {
	a, db := newAuth(t, &service.ExternalIssuer{Issuer: quizIssuer, Algorithm: "HS256", HS256Key: []byte(quizSecret)})
	type quizClaims struct {
		jwt.RegisteredClaims
		Locale string `json:"locale,omitempty"`
	}
	now := time.Now()
	for _, step := range []struct{ claim, want string }{
		{"zh-CN", model.LocaleZhCN}, {"", model.LocaleZhCN}, {"en-US", ""}, {"zh_Hans", model.LocaleZhCN},
	} {
		tok := sign(t, jwt.SigningMethodHS256, []byte(quizSecret), quizClaims{claims(quizIssuer, "u-7", now, now.Add(time.Hour)), step.claim})
		u, err := a.Authenticate(t.Context(), tok)
		if err != nil {
			t.Fatal(err)
		}
		var stored string
		if err := db.Model(&model.User{}).Where("id = ?", u.ID).Pluck("locale", &stored).Error; err != nil {
			t.Fatal(err)
		}
		if u.Locale != step.want || stored != step.want {
			t.Fatalf("claim %q: user's locale %q, stored %q, want %q", step.claim, u.Locale, stored, step.want)
		}
	}
}

// TestSignedInOnly: every call made for the signed-in user refuses a
// context without one as unauthenticated, whatever it is asked about.
func TestSignedInOnly(t *testing.T) {
	f := newFixture(t)
	_, _, n := f.threeFor(t, "alice")
	anon, postID := t.Context(), *n[0].PostID
	for name, err := range map[string]error{
		"Posts.Create":              errOf(f.posts.Create(anon, service.PostInput{Title: "t", Body: "b"})),
		"Posts.Subscription":        errOf(f.posts.Subscription(anon, postID)),
		"Posts.SetSubscription":     errOf(f.posts.SetSubscription(anon, postID, model.LevelMuted)),
		"Posts.ResetSubscription":   errOf(f.posts.ResetSubscription(anon, postID)),
		"Posts.Subscriptions":       errOf(f.posts.Subscriptions(anon, service.SubscriptionQuery{})),
		"Notifications.List":        errOf(f.notes.List(anon, service.ListNotifications{})),
		"Notifications.ListGrouped": errOf(f.notes.ListGrouped(anon, service.ListNotifications{})),
		"Notifications.UnreadCount": errOf(f.notes.UnreadCount(anon)),
		"Notifications.MarkRead":    errOf(f.notes.MarkRead(anon, model.ReadSelection{IDs: []int64{n[0].ID}})),
		"Notifications.MarkOneRead": errOf(f.notes.MarkOneRead(anon, n[0].ID)),
		"Notifications.MarkSeen":    errOf(f.notes.MarkSeen(anon, n[0].ID)),
	} {
		t.Run(name, func(t *testing.T) { wantCode(t, err, model.EUNAUTHENTICATED, "") })
	}
}

// TestTokenUserEveryField: the user a token names, which the auth service
// reads by hand, is the users row as GORM reads it, every field of it, for
// a local account and for one of the quiz site's; a field added to
// model.User and not to the read fails here.
func TestTokenUserEveryField(t *testing.T) {
	a, db := newAuth(t, nil)
	hash, iss, sub := "$2a$04$hash", quizIssuer, "quiz-42"
	set := map[string]bool{} // the fields set in one of the users at least
	for _, u := range []*model.User{
		{Username: "local", DisplayName: "Local One", PasswordHash: &hash, Role: model.RoleModerator, CreatedAt: service.Now()},
		{Username: "quiz_42", DisplayName: "Quiz One", Role: model.RoleUser, Issuer: &iss, Subject: &sub, Locale: model.LocaleZhCN, CreatedAt: service.Now()},
	} {
		if err := db.Create(u).Error; err != nil {
			t.Fatal(err)
		}
		token, _, err := a.IssueToken(u)
		if err != nil {
			t.Fatal(err)
		}
		got, err := a.Authenticate(context.Background(), token)
		if err != nil {
			t.Fatal(err)
		}
		var want model.User
		if err := db.Take(&want, u.ID).Error; err != nil {
			t.Fatal(err)
		}
		gotV, wantV := reflect.ValueOf(*got), reflect.ValueOf(want)
		for i := range gotV.NumField() {
			name := gotV.Type().Field(i).Name
			g, w := gotV.Field(i).Interface(), wantV.Field(i).Interface()
			set[name] = set[name] || !gotV.Field(i).IsZero()
			if gt, ok := g.(time.Time); ok {
				if !gt.Equal(w.(time.Time)) {
					t.Errorf("%s: %s %v, want %v", u.Username, name, g, w)
				}
				continue
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%s: %s %#v, want %#v", u.Username, name, g, w)
			}
		}
	}
	for i := range reflect.TypeFor[model.User]().NumField() {
		if name := reflect.TypeFor[model.User]().Field(i).Name; !set[name] {
			t.Errorf("no user of the test sets %s: set it in one, so that its read is checked", name)
		}
	}
}
