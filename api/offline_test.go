package api

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
	"github.com/quizsite/discuss/service/delivery"
	"github.com/quizsite/discuss/service/delivery/deliverytest"
)

// The offline delivery's routes, with mail through a real mailpit and
// pushes to a push service that checks them.

// offlineServer is a test server whose mail goes to a mailpit and whose
// pushes go to a checking push service.
func offlineServer(t *testing.T, also ...func(*service.OfflineConfig)) (*testServer, *deliverytest.Mailpit, *deliverytest.PushService) {
	t.Helper()
	mp := deliverytest.StartMailpit(t)
	push := deliverytest.StartPushService(t)
	private, public, err := delivery.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	push.VAPIDPublicKey = public
	smtp, err := delivery.NewSMTP(delivery.SMTPConfig{Addr: mp.SMTPAddr, From: "discuss@quiz.example.com", RootCAs: mp.RootCAs})
	if err != nil {
		t.Fatal(err)
	}
	ts := newServer(t, setup{offline: func(oc *service.OfflineConfig) {
		oc.Mailer = smtp
		oc.Pusher = delivery.NewWebPush(private, public, "https://quiz.example.com/contact", nil)
		oc.VAPIDPublicKey, oc.AllowInsecureEndpoints = public, true
		for _, f := range also {
			f(oc)
		}
	}})
	return ts, mp, push
}

func TestPreferencesRoutes(t *testing.T) {
	t.Parallel()
	ts, mp, _ := offlineServer(t)
	alice := ts.register(t, "alice")

	res := ts.doChecked(t, "GET", "/api/v1/me/preferences", alice.Token, nil)
	p := decodeAs[model.Preferences](t, res, http.StatusOK, "preferences")
	if p.Email != "" || p.EmailDelivery != "instant" || !p.PushEnabled || !p.EmailAvailable || !p.PushAvailable || !p.Types["like"] {
		t.Fatalf("default preferences %s", res.Body)
	}
	res = ts.doChecked(t, "PATCH", "/api/v1/me/preferences", alice.Token,
		map[string]any{"email": "alice@example.com", "email_delivery": "daily", "types": map[string]bool{"like": false}})
	p = decodeAs[model.Preferences](t, res, http.StatusOK, "preferences")
	if p.Email != "alice@example.com" || p.EmailVerified || p.EmailDelivery != "daily" || p.Types["like"] || !p.Types["mention"] {
		t.Fatalf("after PATCH %s", res.Body)
	}
	msgs := mp.WaitMessages(t, 1, 10*time.Second)
	token := deliverytest.Token(t, msgs[0].Text)

	ts.wantErrorCases(t, []errorCase{
		{"ErrNoToken", "GET", "/api/v1/me/preferences", "", nil, http.StatusUnauthorized},
		{"ErrBadAddress", "PATCH", "/api/v1/me/preferences", alice.Token, map[string]any{"email": "alice"}, http.StatusBadRequest},
		{"ErrBadMode", "PATCH", "/api/v1/me/preferences", alice.Token, map[string]any{"email_delivery": "weekly"}, http.StatusBadRequest},
		{"ErrBadType", "PATCH", "/api/v1/me/preferences", alice.Token, map[string]any{"types": map[string]bool{"poke": true}}, http.StatusBadRequest},
		{"ErrBadJSON", "PATCH", "/api/v1/me/preferences", alice.Token, `{"push_enabled": "yes"}`, http.StatusBadRequest},
		{"ErrBadVerifyToken", "POST", "/api/v1/email/verify", "", map[string]string{"token": token + "x"}, http.StatusBadRequest},
		{"ErrBadUnsubscribeToken", "POST", "/api/v1/email/unsubscribe?token=nope", "", nil, http.StatusBadRequest},
	})
	// The message of a 400 names the field, as the contract's table says.
	for field, body := range map[string]any{
		"email":          map[string]any{"email": "alice"},
		"email_delivery": map[string]any{"email_delivery": "weekly"},
		"types":          map[string]any{"types": map[string]bool{"poke": true}},
		"push_enabled":   `{"push_enabled": "yes"}`,
	} {
		wantError(t, ts.do(t, "PATCH", "/api/v1/me/preferences", alice.Token, body), http.StatusBadRequest, model.EINVALID, field)
	}

	// The verification link works without sign-in.
	res = ts.doChecked(t, "POST", "/api/v1/email/verify", "", map[string]string{"token": token})
	if p = decodeAs[model.Preferences](t, res, http.StatusOK, "preferences"); !p.EmailVerified {
		t.Fatalf("after verification %s", res.Body)
	}
}

// TestOneClickUnsubscribe: the link of a message's List-Unsubscribe header
// turns mail off when a mail client POSTs to it as RFC 8058 says, without
// sign-in; opened in a browser it only shows a button.
func TestOneClickUnsubscribe(t *testing.T) {
	t.Parallel()
	// Mail is due a moment after the notification.
	ts, mp, _ := offlineServer(t, func(oc *service.OfflineConfig) { oc.Delay = time.Millisecond })
	alice := ts.register(t, "alice")
	bob := ts.register(t, "bob")
	ts.doChecked(t, "PATCH", "/api/v1/me/preferences", alice.Token, map[string]any{"email": "alice@example.com"})
	token := deliverytest.Token(t, mp.WaitMessages(t, 1, 10*time.Second)[0].Text)
	ts.doChecked(t, "POST", "/api/v1/email/verify", "", map[string]string{"token": token})
	p := ts.createPost(t, alice.Token, "a question")
	ts.createComment(t, bob.Token, p.ID, nil)
	deadline := time.Now().Add(10 * time.Second)
	for len(mp.Messages(t)) < 2 {
		if _, err := ts.Srv.offline.MailOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("no digest")
		}
	}
	msg := mp.Messages(t)[1]
	if len(msg.Headers["List-Unsubscribe-Post"]) != 1 {
		t.Fatalf("headers %v", msg.Headers)
	}
	u, err := url.Parse(strings.Trim(msg.Headers["List-Unsubscribe"][0], "<>"))
	if err != nil {
		t.Fatal(err)
	}
	link := u.RequestURI()

	res := ts.doChecked(t, "GET", link, "", nil)
	if res.Status != http.StatusOK || !strings.Contains(string(res.Body), `<form method="post">`) {
		t.Fatalf("GET %s: %d %s", link, res.Status, res.Body)
	}
	prefs := decodeAs[model.Preferences](t, ts.do(t, "GET", "/api/v1/me/preferences", alice.Token, nil), http.StatusOK, "preferences")
	if prefs.EmailDelivery != "instant" {
		t.Fatalf("a GET changed the preferences: %+v", prefs)
	}
	header := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	res = ts.doWithHeader(t, "POST", link, header, "List-Unsubscribe=One-Click")
	ts.checkOpenAPI(t, "POST", link, res)
	if res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"email_delivery":"off"`) {
		t.Fatalf("POST %s: %d %s", link, res.Status, res.Body)
	}
	prefs = decodeAs[model.Preferences](t, ts.do(t, "GET", "/api/v1/me/preferences", alice.Token, nil), http.StatusOK, "preferences")
	if prefs.EmailDelivery != "off" {
		t.Fatalf("after unsubscribing: %+v", prefs)
	}
}

func TestPushSubscriptionRoutes(t *testing.T) {
	t.Parallel()
	ts, _, push := offlineServer(t)
	alice := ts.register(t, "alice")
	b := push.NewBrowser(t)

	res := ts.doChecked(t, "GET", "/api/v1/push/key", "", nil)
	if key := decodeAs[struct {
		PublicKey string `json:"public_key"`
	}](t, res, http.StatusOK, "key"); key.PublicKey != push.VAPIDPublicKey {
		t.Fatalf("push key %s", res.Body)
	}
	sub := map[string]any{"endpoint": b.Endpoint, "keys": map[string]string{"p256dh": b.P256DH, "auth": b.Auth}}
	ts.wantErrorCases(t, []errorCase{
		{"ErrNoToken", "POST", "/api/v1/push/subscriptions", "", sub, http.StatusUnauthorized},
		{"ErrBadKeys", "POST", "/api/v1/push/subscriptions", alice.Token,
			map[string]any{"endpoint": b.Endpoint, "keys": map[string]string{"p256dh": "x", "auth": b.Auth}}, http.StatusBadRequest},
		{"ErrNotSubscribed", "DELETE", "/api/v1/push/subscriptions", alice.Token, map[string]string{"endpoint": b.Endpoint}, http.StatusNotFound},
	})
	if res := ts.doChecked(t, "POST", "/api/v1/push/subscriptions", alice.Token, sub); res.Status != http.StatusCreated {
		t.Fatalf("subscribe: %d %s", res.Status, res.Body)
	}
	if res := ts.doChecked(t, "DELETE", "/api/v1/push/subscriptions", alice.Token, map[string]string{"endpoint": b.Endpoint}); res.Status != http.StatusNoContent {
		t.Fatalf("unsubscribe: %d %s", res.Status, res.Body)
	}
}

// TestPushOffWithoutSubject: a server without push.subject offers no Web
// Push and says so.
func TestPushOffWithoutSubject(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	alice := ts.register(t, "alice")
	wantError(t, ts.doChecked(t, "GET", "/api/v1/push/key", "", nil), http.StatusNotFound, model.ENOTFOUND, "no Web Push")
	p := decodeAs[model.Preferences](t, ts.doChecked(t, "GET", "/api/v1/me/preferences", alice.Token, nil), http.StatusOK, "preferences")
	if p.EmailAvailable || p.PushAvailable {
		t.Fatalf("preferences of a server without mail or push: %+v", p)
	}
	wantError(t, ts.doChecked(t, "PATCH", "/api/v1/me/preferences", alice.Token, map[string]string{"email": "a@example.com"}),
		http.StatusBadRequest, model.EINVALID, "sends no email")
}
