package main

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service/dbtest"
	"github.com/quizsite/discuss/service/delivery/deliverytest"
)

// Offline delivery through the binary: mail reaches a user with no open
// connection and not one with a socket open, and a process killed with
// SIGKILL after the SMTP server accepted a message but before it was
// recorded sends it once more after the restart, under the same
// Message-ID, which a server that remembers Message-IDs drops.

// startMailpit starts a mailpit that takes plain SMTP (the binary's
// email.tls none) with flags, until the test ends.
func startMailpit(t *testing.T, flags ...string) *deliverytest.Mailpit {
	t.Helper()
	mp := deliverytest.NewMailpit(t, deliverytest.FreePort(t))
	mp.Flags = flags
	mp.Start(t)
	return mp
}

// offlineEnv is the configuration of a binary that mails through smtpAddr
// in plain SMTP with a delay of a second.
func offlineEnv(db *dbtest.DB, smtpAddr, publicURL string) map[string]string {
	return serveEnv(db, map[string]string{
		"DISCUSS_EMAIL_SMTP_ADDR":     smtpAddr,
		"DISCUSS_EMAIL_TLS":           "none",
		"DISCUSS_EMAIL_FROM":          "Discuss <discuss@quiz.example.com>",
		"DISCUSS_EMAIL_PUBLIC_URL":    publicURL,
		"DISCUSS_EMAIL_DELAY":         "1s",
		"DISCUSS_EMAIL_SEND_TIMEOUT":  "1s",
		"DISCUSS_EMAIL_POLL_INTERVAL": "50ms",
	})
}

// verifiedEmail sets name's address and follows the link mailed to it.
func verifiedEmail(t *testing.T, s *server, mp *deliverytest.Mailpit, token, addr string) {
	t.Helper()
	before := len(mp.Messages(t))
	if code := s.call(t, "PATCH", "/api/v1/me/preferences", token, map[string]string{"email": addr}, nil); code != 200 {
		t.Fatalf("PATCH preferences: %d", code)
	}
	msgs := mp.WaitMessages(t, before+1, 10*time.Second)
	tok := deliverytest.Token(t, msgs[len(msgs)-1].Text)
	if code := s.call(t, "POST", "/api/v1/email/verify", "", map[string]string{"token": tok}, nil); code != 200 {
		t.Fatalf("verify: %d", code)
	}
}

// waitDelivered waits until the outbox of user has moved past notification
// id: mailed, or passed over for good.
func waitDelivered(t *testing.T, db *dbtest.DB, user, id int64) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		var row model.DeliveryPreferences
		if err := db.Where("user_id = ?", user).Take(&row).Error; err != nil {
			t.Fatal(err)
		}
		if row.MailedUpToID < id || row.PendingMessageID != "" {
			return fmt.Errorf("user %d's outbox stands at %d (pending %q), want past %d", user, row.MailedUpToID, row.PendingMessageID, id)
		}
		return nil
	})
}

func lastNotification(t *testing.T, db *dbtest.DB, user int64) int64 {
	t.Helper()
	var id int64
	if err := db.Raw("SELECT COALESCE(MAX(id), 0) FROM notifications WHERE user_id = ?", user).Scan(&id).Error; err != nil {
		t.Fatal(err)
	}
	return id
}

// TestOfflineMailThroughServe: a user with a socket open is not mailed
// about what they were told live; a user with none is, once, after the
// delay.
func TestOfflineMailThroughServe(t *testing.T) {
	db := dbtest.OpenEmpty(t)
	mp := startMailpit(t)
	addr := freeAddr(t)
	p := startProcess(t, buildBinary(t), addr, offlineEnv(db, mp.SMTPAddr, "http://"+addr))

	away, awayID := registerUser(t, p.server, "away")
	here, hereID := registerUser(t, p.server, "here")
	bob, _ := registerUser(t, p.server, "bob")
	verifiedEmail(t, p.server, mp, away, "away@example.com")
	verifiedEmail(t, p.server, mp, here, "here@example.com")
	conn := dialHello(t, p.server, here)
	defer conn.Close()
	// The socket is recorded before the comment it must keep from mail.
	waitConnected(t, db, hereID)

	herePost := p.createPost(t, here, "here's question", "b")
	awayPost := p.createPost(t, away, "away's question", "b")
	p.comment(t, bob, herePost, "told live")
	p.comment(t, bob, awayPost, "told by mail")
	waitDelivered(t, db, hereID, lastNotification(t, db, hereID))
	waitDelivered(t, db, awayID, lastNotification(t, db, awayID))
	msgs := mp.Messages(t)
	if len(msgs) != 3 { // two verifications and one digest
		t.Fatalf("%d messages, want 3: %v", len(msgs), msgs)
	}
	if to := msgs[2].To; len(to) != 1 || to[0].Address != "away@example.com" || !strings.Contains(msgs[2].Text, "told by mail") {
		t.Fatalf("the digest %v:\n%s", msgs[2], msgs[2].Text)
	}
}

// waitConnected waits until user has a connected presence row.
func waitConnected(t *testing.T, db *dbtest.DB, user int64) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		var n int64
		if err := db.Model(&model.UserPresence{}).Where("user_id = ? AND connected = ?", user, true).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return fmt.Errorf("user %d never recorded connected", user)
		}
		return nil
	})
}

// TestMailKilledMidSend kills the binary with SIGKILL after the SMTP
// server accepted a message and before the binary heard so, restarts it,
// and checks that the message was sent once more under the same
// Message-ID (so mailpit, told to ignore duplicate Message-IDs, holds it
// once), that the outbox then records it, and that nothing was lost.
func TestMailKilledMidSend(t *testing.T) {
	db := dbtest.OpenEmpty(t)
	mp := startMailpit(t, "--ignore-duplicate-ids")
	proxy := startSMTPProxy(t, mp.SMTPAddr)
	bin := buildBinary(t)
	addr := freeAddr(t)
	env := offlineEnv(db, proxy.ln.Addr().String(), "http://"+addr)
	p := startProcess(t, bin, addr, env)

	alice, aliceID := registerUser(t, p.server, "alice")
	bob, _ := registerUser(t, p.server, "bob")
	verifiedEmail(t, p.server, mp, alice, "alice@example.com")
	killed := make(chan struct{})
	proxy.arm(func() {
		p.kill(t)
		close(killed)
	})
	post := p.createPost(t, alice, "a question", "b")
	p.comment(t, bob, post, "first answer")
	p.comment(t, bob, post, "second answer")
	last := lastNotification(t, db, aliceID)
	select {
	case <-killed:
	case <-time.After(30 * time.Second):
		t.Fatal("the digest never reached the server")
	}
	msgs := mp.WaitMessages(t, 2, 10*time.Second)
	first := msgs[1]
	var row model.DeliveryPreferences
	if err := db.Where("user_id = ?", aliceID).Take(&row).Error; err != nil {
		t.Fatal(err)
	}
	if row.PendingMessageID == "" || row.PendingMessageID != first.MessageID {
		t.Fatalf("after the kill the outbox holds %q, the server %q", row.PendingMessageID, first.MessageID)
	}

	// Restarted, it sends the batch again once its hold (twice
	// email.send_timeout) ends, and records it.
	startProcess(t, bin, addr, env)
	waitDelivered(t, db, aliceID, last)
	// The second answer may have missed the batch the first was killed
	// in (it is mailed a delay later): whatever the batches, the server
	// accepted exactly one message more than mailpit keeps, the repeat.
	msgs = mp.Messages(t)
	if n := proxy.count(); n != len(msgs)+1 {
		for _, m := range msgs {
			t.Logf("%v\n%s", m, m.Text)
		}
		t.Fatalf("the server accepted %d messages and holds %d, want one repeat", n, len(msgs))
	}
	var texts strings.Builder
	for _, m := range msgs[1:] {
		texts.WriteString(m.Text)
	}
	for _, want := range []string{"first answer", "second answer"} {
		if strings.Count(texts.String(), want) != 1 {
			t.Fatalf("%q not in exactly one digest:\n%s", want, texts.String())
		}
	}
}

// TestWebPushThroughServe: the binary makes and keeps its VAPID key pair
// (beside the SQLite database, or in the MySQL one),
// pushes a notification, signed and encrypted, to a user with no socket
// open, and none to a user with one.
func TestWebPushThroughServe(t *testing.T) {
	db := dbtest.OpenEmpty(t)
	push := deliverytest.StartPushService(t)
	addr := freeAddr(t)
	env := serveEnv(db, map[string]string{
		"DISCUSS_PUSH_SUBJECT":                  "mailto:ops@quiz.example.com",
		"DISCUSS_PUSH_ALLOW_INSECURE_ENDPOINTS": "true",
	})
	bin := buildBinary(t)
	p := startProcess(t, bin, addr, env)
	var key struct {
		PublicKey string `json:"public_key"`
	}
	if code := p.call(t, "GET", "/api/v1/push/key", "", nil, &key); code != 200 || key.PublicKey == "" {
		t.Fatalf("push key: %d %+v", code, key)
	}
	push.VAPIDPublicKey = key.PublicKey

	away, _ := registerUser(t, p.server, "away")
	here, hereID := registerUser(t, p.server, "here")
	bob, _ := registerUser(t, p.server, "bob")
	awayBrowser, hereBrowser := push.NewBrowser(t), push.NewBrowser(t)
	for _, s := range []struct {
		token string
		b     *deliverytest.Browser
	}{{away, awayBrowser}, {here, hereBrowser}} {
		body := map[string]any{"endpoint": s.b.Endpoint, "keys": map[string]string{"p256dh": s.b.P256DH, "auth": s.b.Auth}}
		if code := p.call(t, "POST", "/api/v1/push/subscriptions", s.token, body, nil); code != 201 {
			t.Fatalf("subscribe: %d", code)
		}
	}
	conn := dialHello(t, p.server, here)
	defer conn.Close()
	waitConnected(t, db, hereID)

	// here's comment is queued first; away's push shows it was handled.
	p.comment(t, bob, p.createPost(t, here, "here's", "b"), "told live")
	p.comment(t, bob, p.createPost(t, away, "away's", "b"), "pushed")
	eventually(t, 20*time.Second, func() error {
		got, errs := push.Received()
		if len(errs) > 0 {
			t.Fatalf("the push service refused: %v", errs)
		}
		if len(got) == 0 {
			return errors.New("no push")
		}
		if len(got) != 1 || got[0].Endpoint != awayBrowser.Endpoint || !strings.Contains(string(got[0].Payload), `"excerpt":"pushed"`) {
			t.Fatalf("pushes %+v", got)
		}
		return nil
	})

	// The key is kept: after a restart browsers need not subscribe again.
	p.kill(t)
	p = startProcess(t, bin, addr, env)
	var again struct {
		PublicKey string `json:"public_key"`
	}
	if p.call(t, "GET", "/api/v1/push/key", "", nil, &again); again.PublicKey != key.PublicKey {
		t.Fatalf("key after a restart %q, was %q", again.PublicKey, key.PublicKey)
	}
}

// TestWebPushRefusesPrivateAddresses: a subscription's endpoint is any
// https URL a client names, and the server POSTs to it; without
// push.allow_insecure_endpoints (for tests) it connects to no loopback,
// private or link-local address, so a user cannot point the server at
// the services of its own network (and learn from the subscription being
// dropped on a 404 or 410 what answers there). The push is logged as not
// delivered and the address never sees a connection.
func TestWebPushRefusesPrivateAddresses(t *testing.T) {
	var conns atomic.Int64
	internal := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusGone)
	}))
	internal.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			conns.Add(1)
		}
	}
	internal.StartTLS()
	t.Cleanup(internal.Close)

	env := databaseEnv(t)
	env["DISCUSS_PUSH_SUBJECT"] = "mailto:ops@quiz.example.com"
	s := startServe(t, env)
	victim, _ := registerUser(t, s, "victim")
	bob, _ := registerUser(t, s, "bob")
	keys := deliverytest.StartPushService(t).NewBrowser(t)
	body := map[string]any{"endpoint": internal.URL + "/admin/purge", "keys": map[string]string{"p256dh": keys.P256DH, "auth": keys.Auth}}
	if code := s.call(t, "POST", "/api/v1/push/subscriptions", victim, body, nil); code != 201 {
		t.Fatalf("subscribe: %d", code)
	}
	s.comment(t, bob, s.createPost(t, victim, "victim's", "b"), "pushed")
	eventually(t, 20*time.Second, func() error {
		if !strings.Contains(s.stderr.String(), "offline: push not delivered") {
			return errors.New("the push is not settled")
		}
		return nil
	})
	if n := conns.Load(); n != 0 {
		t.Fatalf("the push connected to %s, a loopback address, %d times", internal.URL, n)
	}
}

// TestBrowserPreferences drives the demo page's preferences panel in
// headless Chromium: an address, daily delivery and a type switched off
// are saved, the verification link mailed to a real mailpit opens the page
// at /verify-email, which confirms the address without the page's token.
// (Web Push needs a browser push service, which a headless browser here
// cannot reach: pushes are tested with the checking push service.)
func TestBrowserPreferences(t *testing.T) {
	mp := startMailpit(t)
	env := databaseEnv(t)
	env["DISCUSS_SERVER_ADDR"] = freeAddr(t)
	maps.Copy(env, map[string]string{
		"DISCUSS_EMAIL_SMTP_ADDR": mp.SMTPAddr, "DISCUSS_EMAIL_TLS": "none", "DISCUSS_EMAIL_FROM": "discuss@quiz.example.com",
		"DISCUSS_EMAIL_PUBLIC_URL": "http://" + env["DISCUSS_SERVER_ADDR"],
	})
	s := startServeForBrowser(t, env)
	token, _ := registerUser(t, s, "alice")

	b := newBrowser(t, s)
	b.step("open the page signed in", 15*time.Second,
		chromedp.Navigate(s.base+"/"),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`localStorage.setItem("discuss.token", %q)`, token)),
		chromedp.Navigate(s.base+"/"),
		chromedp.WaitVisible(chromedp.ID("app")),
	)
	b.step("set an address, daily, and no likes", 15*time.Second,
		chromedp.Click(chromedp.ID("prefs-toggle")),
		chromedp.WaitVisible(chromedp.ID("preferences")),
		b.until(`!document.getElementById("prefs-email").disabled && document.querySelector('#prefs-types input[name="like"]')`),
		chromedp.SendKeys(chromedp.ID("prefs-email"), "alice@example.com"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("prefs-delivery").value = "daily"`),
		chromedp.Click(chromedp.CSS(`#prefs-types input[name="like"]`)),
		chromedp.Click(chromedp.ID("prefs-save")),
		b.until(`document.getElementById("prefs-verify-status").textContent.includes("Follow the link sent to alice@example.com")`),
	)
	msgs := mp.WaitMessages(t, 1, 10*time.Second)
	link := regexp.MustCompile(`http://\S+/verify-email\?token=\S+`).FindString(msgs[0].Text)
	if link == "" {
		t.Fatalf("no verification link in %q", msgs[0].Text)
	}
	b.step("follow the verification link", 15*time.Second,
		chromedp.Navigate(link),
		b.until(`document.getElementById("broadcast").textContent === "Confirmed: mail goes to alice@example.com."`),
		b.until(`location.pathname === "/"`),
	)
	var p struct {
		EmailVerified bool            `json:"email_verified"`
		EmailDelivery string          `json:"email_delivery"`
		Types         map[string]bool `json:"types"`
	}
	s.call(t, "GET", "/api/v1/me/preferences", token, nil, &p)
	if !p.EmailVerified || p.EmailDelivery != "daily" || p.Types["like"] || !p.Types["mention"] {
		t.Fatalf("preferences after the page: %+v", p)
	}
}
