package service

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/quizsite/discuss/model"
)

// Offline delivery: what reaches a user who is not connected, by their
// choice. Preferences and the signed links of the mail are here; the mail
// outbox is offline_mail.go, Web Push and the record of who is connected
// offline_push.go. Rendering and sending (SMTP, the push services) belong
// to service/delivery, behind the Mailer and Pusher interfaces declared
// here.

// Mailer renders and sends one message. An error means the server did not
// accept it, as far as the mailer knows: the message is sent again later,
// under the same Message-ID.
type Mailer interface {
	Send(ctx context.Context, m *model.Mail) error
}

// Pusher sends one encrypted Web Push message to a subscription. gone
// reports that the push service answered 404 or 410: the subscription has
// expired or was withdrawn, and is to be forgotten.
type Pusher interface {
	Push(ctx context.Context, sub *model.PushSubscription, payload []byte) (gone bool, err error)
}

// OfflineConfig configures Offline. A nil Mailer turns email off and a nil
// Pusher turns Web Push off; the preferences say which are available.
type OfflineConfig struct {
	Mailer Mailer
	Pusher Pusher
	// Secret signs the links of the mail (verification, unsubscribe).
	Secret []byte
	// VerifyLimiter bounds the verification messages per user, so that
	// nobody uses the server to flood someone else's mailbox; nil: no
	// bound.
	VerifyLimiter *RateLimiter
	// PublicURL is the base of the links, without a trailing slash.
	PublicURL string
	// Delay is how long a notification stays unread before it is mailed
	// (instant), and the least time between two messages to one user.
	Delay time.Duration
	// DailyAt is the time of the daily digest, as an offset from midnight UTC.
	DailyAt time.Duration
	// SendTimeout bounds one SMTP conversation; a message claimed for
	// twice as long without being recorded is sent again.
	SendTimeout time.Duration
	// RetryBase is the first wait after the SMTP server failed; each
	// further failure doubles it, up to an hour. Default 10s.
	RetryBase time.Duration
	// PresenceLease is how long a connected user_presence row counts
	// without being refreshed: a row older than this belongs to an
	// instance that died. Set it to a few presence intervals of the hub.
	PresenceLease time.Duration
	// VAPIDPublicKey is the application server key the browsers subscribe
	// with (base64url, uncompressed P-256 point).
	VAPIDPublicKey string
	// AllowInsecureEndpoints accepts http:// push endpoints (tests).
	AllowInsecureEndpoints bool
	// EncodePush returns a Web Push payload: the JSON of the notification
	// frame that a connection would have been sent.
	EncodePush func(n *model.Notification, counts model.NotificationCounts) ([]byte, error)
	// PushQueue is how many notifications wait to be pushed; past it the
	// newest are dropped, and counted in the log. Default 16384: a
	// fan-out to thousands of watchers queues one each.
	PushQueue int
	// Now is the clock of the outbox; tests set it. Default Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Offline is the offline delivery service: preferences, the mail outbox,
// Web Push subscriptions and the presence record they rest on.
type Offline struct {
	db   *gorm.DB
	cfg  OfflineConfig
	log  *slog.Logger
	now  func() time.Time
	push chan pushJob
	// dropped counts the pushes the full queue refused since last logged.
	dropped atomic.Int64
	// cleaned is when stale presence rows were last removed (Unix ns).
	cleaned atomic.Int64
}

// NewOffline returns the offline delivery service.
func NewOffline(db *gorm.DB, cfg OfflineConfig) *Offline {
	o := &Offline{db: db, cfg: cfg, log: cfg.Logger, now: cfg.Now}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.now == nil {
		o.now = Now
	}
	if o.cfg.RetryBase <= 0 {
		o.cfg.RetryBase = 10 * time.Second
	}
	if o.cfg.PushQueue <= 0 {
		o.cfg.PushQueue = 16384
	}
	o.push = make(chan pushJob, o.cfg.PushQueue)
	return o
}

// verifyTTL is how long a verification link works.
const verifyTTL = 24 * time.Hour

// Link purposes, signed into the tokens so that one kind of link cannot
// stand for the other.
const (
	purposeVerify      = "verify"
	purposeUnsubscribe = "unsubscribe"
)

// preferencesRow returns the user's row, or the defaults when they have
// none (UserID set, nothing stored).
func preferencesRow(db *gorm.DB, userID int64) (*model.DeliveryPreferences, error) {
	var rows []model.DeliveryPreferences
	if err := db.Where("user_id = ?", userID).Limit(1).Find(&rows).Error; err != nil {
		return nil, dbError(err)
	}
	if len(rows) == 0 {
		return defaultPreferences(userID), nil
	}
	return &rows[0], nil
}

func defaultPreferences(userID int64) *model.DeliveryPreferences {
	return &model.DeliveryPreferences{UserID: userID, EmailDelivery: model.DeliveryInstant, PushEnabled: true}
}

// view is the API's form of row.
func (o *Offline) view(row *model.DeliveryPreferences) *model.Preferences {
	types := make(map[string]bool)
	for _, t := range model.NotificationTypes() {
		types[t] = row.TypeEnabled(t)
	}
	return &model.Preferences{
		Email: row.Email, EmailVerified: row.EmailVerified, EmailDelivery: row.EmailDelivery,
		PushEnabled: row.PushEnabled, Types: types,
		EmailAvailable: o.cfg.Mailer != nil, PushAvailable: o.cfg.Pusher != nil,
	}
}

// Preferences returns the signed-in user's delivery preferences.
// Errors: EUNAUTHENTICATED.
func (o *Offline) Preferences(ctx context.Context) (*model.Preferences, error) {
	u, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	row, err := preferencesRow(o.db.WithContext(ctx), u.ID)
	if err != nil {
		return nil, err
	}
	return o.view(row), nil
}

// UpdatePreferences changes the signed-in user's preferences and returns
// them. A new email address is unverified until the link of the message
// sent to it is followed; sending the same unverified address again sends
// a new message. The message goes out before the answer: when the SMTP
// server does not take it, or the user asked for too many, the change is
// kept, the error is EUNAVAILABLE or ERATELIMITED, and the user may ask
// again.
// Errors: EUNAUTHENTICATED, EINVALID (a bad address, mode or type, or email
// asked of a server that sends none), ERATELIMITED, EUNAVAILABLE.
func (o *Offline) UpdatePreferences(ctx context.Context, p model.PreferencesPatch) (*model.Preferences, error) {
	u, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	if err := o.checkPatch(&p); err != nil {
		return nil, err
	}
	var row *model.DeliveryPreferences
	var verify bool
	err = transact(ctx, o.db, func(tx *gorm.DB) error {
		row, verify = nil, false
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(withUpdated(defaultPreferences(u.ID), o.now())).Error; err != nil {
			return dbError(err)
		}
		var locked model.DeliveryPreferences
		if err := tx.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).Take(&locked, "user_id = ?", u.ID).Error; err != nil {
			return dbError(err)
		}
		row = &locked
		set := map[string]any{}
		now := o.now()
		if p.Email != nil {
			if *p.Email != row.Email || !row.EmailVerified {
				set["email"], set["email_verified"] = *p.Email, false
				row.Email, row.EmailVerified = *p.Email, false
				verify = *p.Email != ""
			}
		}
		if p.EmailDelivery != nil && *p.EmailDelivery != row.EmailDelivery {
			// Nothing from before the switch is mailed, and a daily
			// digest starts at the next daily time.
			last, err := lastNotificationID(tx, u.ID)
			if err != nil {
				return err
			}
			set["email_delivery"], set["mailed_up_to_id"], set["mailed_at"] = *p.EmailDelivery, last, now
			row.EmailDelivery = *p.EmailDelivery
		}
		if p.PushEnabled != nil {
			set["push_enabled"] = *p.PushEnabled
			row.PushEnabled = *p.PushEnabled
		}
		if p.Types != nil {
			off := strings.Split(row.TypesOff, ",")
			for typ, on := range p.Types {
				off = slices.DeleteFunc(off, func(t string) bool { return t == typ || t == "" })
				if !on {
					off = append(off, typ)
				}
			}
			slices.Sort(off)
			row.TypesOff = strings.Join(off, ",")
			set["types_off"] = row.TypesOff
		}
		if len(set) == 0 {
			return nil
		}
		set["updated_at"] = now
		return dbError(tx.Model(&model.DeliveryPreferences{}).Where("user_id = ?", u.ID).Updates(set).Error)
	})
	if err != nil {
		return nil, err
	}
	if verify {
		if err := o.sendVerification(ctx, u, row.Email); err != nil {
			return nil, err
		}
	}
	return o.view(row), nil
}

func withUpdated(p *model.DeliveryPreferences, now time.Time) *model.DeliveryPreferences {
	p.UpdatedAt = now
	return p
}

// checkPatch validates p and trims its email.
func (o *Offline) checkPatch(p *model.PreferencesPatch) error {
	if p.Email != nil {
		addr := strings.TrimSpace(*p.Email)
		if addr != "" {
			parsed, err := mail.ParseAddress(addr)
			if err != nil || parsed.Address != addr || len(addr) > 254 {
				return model.Errorf(model.EINVALID, "email must be an address such as ada@example.com")
			}
		}
		p.Email = &addr
	}
	if p.EmailDelivery != nil && !model.ValidDelivery(*p.EmailDelivery) {
		return model.Errorf(model.EINVALID, "email_delivery must be off, instant or daily")
	}
	if o.cfg.Mailer == nil && (p.Email != nil && *p.Email != "" || p.EmailDelivery != nil && *p.EmailDelivery != model.DeliveryOff) {
		return model.Errorf(model.EINVALID, "this server sends no email (email_available is false)")
	}
	for typ := range p.Types {
		if !slices.Contains(model.NotificationTypes(), typ) {
			return model.Errorf(model.EINVALID, "types names an unknown notification type %q", typ)
		}
	}
	return nil
}

// lastNotificationID returns the id of the user's newest notification, or 0.
func lastNotificationID(db *gorm.DB, userID int64) (int64, error) {
	var last int64
	err := db.Model(&model.Notification{}).Select("COALESCE(MAX(id), 0)").Where("user_id = ?", userID).Scan(&last).Error
	return last, dbError(err)
}

// sendVerification mails the link that confirms addr.
// Errors: ERATELIMITED past VerifyLimiter, EUNAVAILABLE.
func (o *Offline) sendVerification(ctx context.Context, u *model.User, addr string) error {
	if err := allowUser(o.cfg.VerifyLimiter, u.ID); err != nil {
		return err
	}
	token := o.sign(purposeVerify, u.ID, o.now().Add(verifyTTL), addr)
	m := &model.Mail{
		Kind: model.MailVerify, To: addr, Locale: u.Locale, MessageID: newMessageID(o.cfg.PublicURL),
		Recipient: model.AuthorOf(u), VerifyURL: o.cfg.PublicURL + "/verify-email?token=" + url.QueryEscape(token),
		PreferencesURL: o.preferencesURL(),
	}
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.cfg.SendTimeout)
	defer cancel()
	if err := o.cfg.Mailer.Send(sendCtx, m); err != nil {
		return &model.Error{Code: model.EUNAVAILABLE, Message: "the verification message could not be sent; try again later", Err: err}
	}
	return nil
}

func (o *Offline) preferencesURL() string { return o.cfg.PublicURL + "/#preferences" }

// VerifyEmail confirms the address a verification token was sent to, for
// whoever holds the token (no sign-in), and returns the user's preferences.
// The user's mail starts from their newest notification: nothing from
// before the address was confirmed is mailed.
// Errors: EINVALID for a bad token, an expired one, or one for an address
// the user has replaced since.
func (o *Offline) VerifyEmail(ctx context.Context, token string) (*model.Preferences, error) {
	userID, addr, err := o.verify(token, purposeVerify)
	if err != nil {
		return nil, err
	}
	var row *model.DeliveryPreferences
	err = transact(ctx, o.db, func(tx *gorm.DB) error {
		var err error
		if row, err = preferencesRow(tx, userID); err != nil {
			return err
		}
		if err := sameAddress(row, addr); err != nil {
			return err
		}
		if row.EmailVerified {
			return nil
		}
		last, err := lastNotificationID(tx, userID)
		if err != nil {
			return err
		}
		row.EmailVerified = true
		now := o.now()
		return dbError(tx.Model(&model.DeliveryPreferences{}).Where("user_id = ?", userID).Updates(map[string]any{
			"email_verified": true, "mailed_up_to_id": last, "mailed_at": now,
			"pending_up_to_id": 0, "pending_message_id": "", "attempts": 0, "retry_at": nil, "updated_at": now,
		}).Error)
	})
	if err != nil {
		return nil, err
	}
	return o.view(row), nil
}

// Unsubscribe turns off the mail of the user an unsubscribe token names,
// without sign-in (RFC 8058's one-click unsubscribe). Doing it twice is no
// error. Errors: EINVALID for a bad token or one for a replaced address.
func (o *Offline) Unsubscribe(ctx context.Context, token string) error {
	userID, addr, err := o.verify(token, purposeUnsubscribe)
	if err != nil {
		return err
	}
	db := o.db.WithContext(ctx)
	row, err := preferencesRow(db, userID)
	if err != nil {
		return err
	}
	if err := sameAddress(row, addr); err != nil {
		return err
	}
	err = db.Model(&model.DeliveryPreferences{}).Where("user_id = ?", userID).
		Updates(map[string]any{"email_delivery": model.DeliveryOff, "updated_at": o.now()}).Error
	return dbError(err)
}

// Tokens: purpose.user.expiry.address-hash, then an HMAC-SHA256 of that
// with the secret, base64url. The address hash ties a token to the
// address it was sent to; the expiry is 0 for links that do not expire.

// sameAddress checks that a token's address hash is of row's address: a
// link sent to an address the user has replaced since is void.
func sameAddress(row *model.DeliveryPreferences, addrHash string) error {
	if row.Email == "" || addressHash(row.Email) != addrHash {
		return model.Errorf(model.EINVALID, "invalid token: the address has changed since")
	}
	return nil
}

func addressHash(addr string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(addr)))
	return hex.EncodeToString(sum[:8])
}

func (o *Offline) sign(purpose string, userID int64, expires time.Time, addr string) string {
	var exp int64
	if !expires.IsZero() {
		exp = expires.Unix()
	}
	payload := fmt.Sprintf("%s.%d.%d.%s", purpose, userID, exp, addressHash(addr))
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(o.mac(payload))
}

func (o *Offline) mac(payload string) []byte {
	m := hmac.New(sha256.New, o.cfg.Secret)
	m.Write([]byte("discuss offline delivery\x00" + payload))
	return m.Sum(nil)
}

// verify checks a token of purpose and returns its user and address hash.
func (o *Offline) verify(token, purpose string) (userID int64, addrHash string, err error) {
	bad := model.Errorf(model.EINVALID, "invalid token")
	p64, m64, ok := strings.Cut(token, ".")
	if !ok {
		return 0, "", bad
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	sig, err2 := base64.RawURLEncoding.DecodeString(m64)
	if err1 != nil || err2 != nil || !hmac.Equal(sig, o.mac(string(payload))) {
		return 0, "", bad
	}
	parts := strings.Split(string(payload), ".")
	if len(parts) != 4 || parts[0] != purpose {
		return 0, "", bad
	}
	userID, err1 = strconv.ParseInt(parts[1], 10, 64)
	exp, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err := errors.Join(err1, err2); err != nil || userID <= 0 {
		return 0, "", bad
	}
	if exp != 0 && !o.now().Before(time.Unix(exp, 0)) {
		return 0, "", model.Errorf(model.EINVALID, "token expired: ask for a new message")
	}
	return userID, parts[3], nil
}
