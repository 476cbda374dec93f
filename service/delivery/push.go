package delivery

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	webpush "github.com/SherClockHolmes/webpush-go"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service/secretfile"
)

// WebPush sends encrypted messages (RFC 8291, aes128gcm) to the browsers'
// push services, signed with the VAPID key pair (RFC 8292).
type WebPush struct {
	subscriber string
	private    string
	public     string
	client     *http.Client
}

// pushTTL is how long a push service keeps a message for a browser that is
// offline: a notification older than a day is better read in the list.
const pushTTL = 24 * 60 * 60

// NewWebPush returns a sender signing with the key pair (base64url, as
// GenerateVAPIDKeys makes them) and naming subject (mailto: or https:) as
// the contact, posting with client (nil: NewPushClient(false), which
// dials public addresses only).
func NewWebPush(private, public, subject string, client *http.Client) *WebPush {
	if client == nil {
		client = NewPushClient(false)
	}
	// webpush-go adds "mailto:" to any subject that is not an https URL.
	return &WebPush{subscriber: strings.TrimPrefix(subject, "mailto:"), private: private, public: public, client: client}
}

// Push encrypts payload for sub and posts it to sub's endpoint. gone
// reports a 404 or 410: the subscription no longer exists.
func (w *WebPush) Push(ctx context.Context, sub *model.PushSubscription, payload []byte) (gone bool, err error) {
	resp, err := webpush.SendNotificationWithContext(ctx, payload, &webpush.Subscription{
		Endpoint: sub.Endpoint, Keys: webpush.Keys{Auth: sub.Auth, P256dh: sub.P256DH},
	}, &webpush.Options{
		HTTPClient: w.client, Subscriber: w.subscriber, VAPIDPublicKey: w.public, VAPIDPrivateKey: w.private,
		TTL: pushTTL, Urgency: webpush.UrgencyNormal,
	})
	if err != nil {
		return false, fmt.Errorf("delivery: push: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return true, nil
	case resp.StatusCode/100 == 2:
		return false, nil
	default:
		return false, fmt.Errorf("delivery: push service answered %s", resp.Status)
	}
}

// GenerateVAPIDKeys makes a VAPID key pair: the P-256 private scalar and
// the uncompressed public point, base64url without padding.
func GenerateVAPIDKeys() (private, public string, err error) {
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return "", "", err
	}
	return base64.RawURLEncoding.EncodeToString(key.Bytes()), base64.RawURLEncoding.EncodeToString(key.PublicKey().Bytes()), nil
}

// PublicKeyOf returns the public key of a VAPID private key.
func PublicKeyOf(private string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(private))
	if err != nil {
		return "", errors.New("not base64url")
	}
	key, err := ecdh.P256().NewPrivateKey(raw)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(key.PublicKey().Bytes()), nil
}

// KeyFile returns the VAPID key pair kept in the file at path (the private
// key, base64url, on one line), making and keeping a new one when there is
// no file (secretfile.Keep: of two processes starting at once, one keeps
// its key and the other reads it). created says which happened.
func KeyFile(path string) (private, public string, created bool, err error) {
	private, created, err = secretfile.Keep(path, "VAPID key", func() (string, error) {
		private, _, err := GenerateVAPIDKeys()
		return private, err
	})
	if err != nil {
		return "", "", false, err
	}
	if public, err = PublicKeyOf(private); err != nil {
		return "", "", false, fmt.Errorf("VAPID key in %s: %w; delete it to make a new one (subscribed browsers must then subscribe again)", path, err)
	}
	return private, public, created, nil
}
