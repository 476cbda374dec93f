package model

import (
	"slices"
	"strings"
	"time"
)

// Email delivery modes of a user's preferences.
const (
	// DeliveryOff mails nothing.
	DeliveryOff = "off"
	// DeliveryInstant mails, email.delay after a notification, every
	// unread one not mailed before, when the user had no open connection
	// meanwhile; at most one message per email.delay.
	DeliveryInstant = "instant"
	// DeliveryDaily mails one digest a day of what is unread and not mailed.
	DeliveryDaily = "daily"
)

// ValidDelivery reports whether d is one of the three delivery modes.
func ValidDelivery(d string) bool {
	return d == DeliveryOff || d == DeliveryInstant || d == DeliveryDaily
}

// NotificationTypes lists every notification type, in the order the
// preferences show their switches.
func NotificationTypes() []string {
	return []string{NotifyPostComment, NotifyCommentReply, NotifyMention, NotifyThreadComment, NotifyLike, NotifySystem}
}

// Languages of the mail.
const (
	LocaleEnglish = "en"
	LocaleZhCN    = "zh-CN"
)

// NormalizeLocale maps a BCP 47 tag from a token to a language the mail
// is written in: any Chinese tag to LocaleZhCN, anything else to "", which
// is English.
func NormalizeLocale(tag string) string {
	tag = strings.ToLower(strings.TrimSpace(strings.ReplaceAll(tag, "_", "-")))
	if tag == "zh" || strings.HasPrefix(tag, "zh-") {
		return LocaleZhCN
	}
	return ""
}

// DeliveryPreferences is a user's row of delivery_preferences: what they
// want delivered while away, and where their mail outbox stands (see
// migration 00009). No row means the defaults (DefaultPreferences).
type DeliveryPreferences struct {
	UserID           int64 `gorm:"primaryKey;autoIncrement:false"`
	Email            string
	EmailVerified    bool
	EmailDelivery    string
	PushEnabled      bool
	TypesOff         string
	MailedUpToID     int64
	MailedAt         *time.Time
	PendingUpToID    int64
	PendingMessageID string
	ClaimedUntil     *time.Time
	Attempts         int
	RetryAt          *time.Time
	UpdatedAt        time.Time
}

// TableName names the table of preferences.
func (DeliveryPreferences) TableName() string { return "delivery_preferences" }

// TypeEnabled reports whether notifications of type typ are delivered.
func (p *DeliveryPreferences) TypeEnabled(typ string) bool {
	return !slices.Contains(strings.Split(p.TypesOff, ","), typ)
}

// Preferences is a user's delivery preferences as the API shows them.
// EmailAvailable and PushAvailable say whether this server sends mail
// (email.smtp_addr is set) and Web Push (push.subject is set).
type Preferences struct {
	Email          string          `json:"email"`
	EmailVerified  bool            `json:"email_verified"`
	EmailDelivery  string          `json:"email_delivery"`
	PushEnabled    bool            `json:"push_enabled"`
	Types          map[string]bool `json:"types"`
	EmailAvailable bool            `json:"email_available"`
	PushAvailable  bool            `json:"push_available"`
}

// PreferencesPatch is a change to a user's preferences; nil fields stay.
type PreferencesPatch struct {
	Email         *string         `json:"email"`
	EmailDelivery *string         `json:"email_delivery"`
	PushEnabled   *bool           `json:"push_enabled"`
	Types         map[string]bool `json:"types"`
}

// PushSubscription is one browser's Web Push subscription (RFC 8030): the
// push service's endpoint and the browser's keys, P256DH its public key
// and Auth the authentication secret (RFC 8291), both base64url.
type PushSubscription struct {
	ID        int64     `gorm:"primaryKey" json:"-"`
	UserID    int64     `json:"-"`
	Endpoint  string    `json:"endpoint"`
	P256DH    string    `gorm:"column:p256dh" json:"-"`
	Auth      string    `json:"-"`
	CreatedAt time.Time `json:"-"`
}

// UserPresence is one row of user_presence (see migration 00009).
type UserPresence struct {
	UserID    int64  `gorm:"primaryKey;autoIncrement:false"`
	Instance  string `gorm:"primaryKey"`
	Connected bool
	SeenAt    time.Time
}

// TableName names the presence table, which holds one row per user and
// instance rather than many presences.
func (UserPresence) TableName() string { return "user_presence" }

// Mail kinds.
const (
	MailVerify  = "verify"
	MailInstant = "instant"
	MailDaily   = "daily"
)

// Mail is one message to a user, before it is rendered: what the mailer
// needs to write it in the user's language and send it.
type Mail struct {
	Kind      string // MailVerify, MailInstant or MailDaily
	To        string
	Locale    string // LocaleZhCN, or "" for English
	MessageID string // without the angle brackets
	// Recipient is the user the mail is for.
	Recipient *Author
	// VerifyURL is the link that confirms the address (MailVerify).
	VerifyURL string
	// Items are the notifications a digest lists, oldest first, each with
	// its actor, its excerpt (model.ExcerptOf's: "[spoiler]" for a spoiler) and
	// a link.
	Items []MailItem
	// UnsubscribeURL is the one-click unsubscribe link of a digest
	// (RFC 8058); it answers a POST without sign-in.
	UnsubscribeURL string
	// PreferencesURL is where the user changes what they are sent.
	PreferencesURL string
}

// MailItem is one notification in a digest.
type MailItem struct {
	Type      string
	Actor     *Author
	Excerpt   string
	URL       string
	CreatedAt time.Time
}
