package service_test

// Offline delivery by mail: the address and its verification, instant
// and daily mail, unsubscribing, and an SMTP server that goes away.

import (
	"strings"
	"testing"
	"time"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
	"github.com/quizsite/discuss/service/delivery/deliverytest"
)

// TestEmailOff: without an SMTP server the preferences say so and refuse
// an address.
func TestEmailOff(t *testing.T) {
	f := newFixture(t)
	o := service.NewOffline(f.db.DB, service.OfflineConfig{})
	ctx := f.as(t, "alice")
	p, err := o.Preferences(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.EmailAvailable || p.PushAvailable || !p.PushEnabled || len(p.Types) != len(model.NotificationTypes()) {
		t.Fatalf("preferences: %+v", p)
	}
	addr := "alice@example.com"
	_, err = o.UpdatePreferences(ctx, model.PreferencesPatch{Email: &addr})
	wantCode(t, err, model.EINVALID, "sends no email")
	if _, err := o.PushKey(); model.ErrorCode(err) != model.ENOTFOUND {
		t.Fatalf("push key without push: %v", err)
	}
	if found, err := o.MailOnce(t.Context()); found || err != nil {
		t.Fatalf("MailOnce without a mailer: %v, %v", found, err)
	}
}

func TestEmailVerification(t *testing.T) {
	of := newOfflineFixture(t, offlineOptions{})
	alice := of.as(t, "alice")
	addr := "alice@example.com"
	p, err := of.offline.UpdatePreferences(alice, model.PreferencesPatch{Email: &addr})
	if err != nil {
		t.Fatal(err)
	}
	if p.Email != addr || p.EmailVerified || !p.EmailAvailable || p.EmailDelivery != model.DeliveryInstant {
		t.Fatalf("after setting the address: %+v", p)
	}
	msgs := of.mailpit.WaitMessages(t, 1, 10*time.Second)
	if got := msgs[0].To; len(got) != 1 || got[0].Address != addr {
		t.Fatalf("verification sent to %v", got)
	}
	if !strings.Contains(msgs[0].HTML, "https://discuss.example.com/verify-email?token=") {
		t.Fatalf("no verification link in the HTML: %s", msgs[0].HTML)
	}
	good := deliverytest.Token(t, msgs[0].Text)

	t.Run("NothingMailedUnverified", func(t *testing.T) {
		_, bob, post := of.alicePost(t, "a question")
		of.comment(t, bob, post.ID, nil, "an answer")
		of.clock.Advance(pastDelay)
		if of.mailOnce(t) {
			t.Fatal("an unverified address was claimed for mail")
		}
		if n := len(of.mailpit.Messages(t)); n != 1 {
			t.Fatalf("%d messages, want only the verification", n)
		}
	})
	t.Run("ErrBadToken", func(t *testing.T) {
		for _, tok := range []string{"", "nonsense", good[:len(good)-2] + "xx", strings.Replace(good, ".", "", 1)} {
			_, err := of.offline.VerifyEmail(t.Context(), tok)
			wantCode(t, err, model.EINVALID, "invalid token")
		}
	})
	t.Run("ErrUnsubscribeTokenIsNoVerifyToken", func(t *testing.T) {
		// A token signed for another purpose does not verify.
		_, err := of.offline.VerifyEmail(t.Context(), strings.Replace(good, "dmVyaWZ5", "dW5zdWJzY3JpYmU", 1))
		wantCode(t, err, model.EINVALID, "invalid token")
	})
	t.Run("ErrExpired", func(t *testing.T) {
		saved := of.clock.Now()
		defer of.clock.Set(saved)
		of.clock.Advance(25 * time.Hour)
		_, err := of.offline.VerifyEmail(t.Context(), good)
		wantCode(t, err, model.EINVALID, "token expired")
	})
	t.Run("OK", func(t *testing.T) {
		p, err := of.offline.VerifyEmail(t.Context(), good)
		if err != nil {
			t.Fatal(err)
		}
		if !p.EmailVerified || p.Email != addr {
			t.Fatalf("after verification: %+v", p)
		}
		p, err = of.offline.Preferences(alice)
		if err != nil || !p.EmailVerified {
			t.Fatalf("preferences after verification: %+v, %v", p, err)
		}
		// What came before the verification is not mailed.
		if n := len(of.mailAfter(t, pastDelay)); n != 1 {
			t.Fatalf("%d messages, want only the verification", n)
		}
	})
	t.Run("ErrReplacedAddress", func(t *testing.T) {
		other := "alice2@example.com"
		if _, err := of.offline.UpdatePreferences(alice, model.PreferencesPatch{Email: &other}); err != nil {
			t.Fatal(err)
		}
		_, err := of.offline.VerifyEmail(t.Context(), good)
		wantCode(t, err, model.EINVALID, "address has changed")
		p, _ := of.offline.Preferences(alice)
		if p.EmailVerified {
			t.Fatal("a new address is verified without its link")
		}
	})
	t.Run("ErrInvalidPatch", func(t *testing.T) {
		bad := "not an address"
		_, err := of.offline.UpdatePreferences(alice, model.PreferencesPatch{Email: &bad})
		wantCode(t, err, model.EINVALID, "email must be")
		mode := "hourly"
		_, err = of.offline.UpdatePreferences(alice, model.PreferencesPatch{EmailDelivery: &mode})
		wantCode(t, err, model.EINVALID, "email_delivery")
		_, err = of.offline.UpdatePreferences(alice, model.PreferencesPatch{Types: map[string]bool{"poke": false}})
		wantCode(t, err, model.EINVALID, "unknown notification type")
		_, err = of.offline.UpdatePreferences(t.Context(), model.PreferencesPatch{})
		wantCode(t, err, model.EUNAUTHENTICATED, "")
	})
}

func TestInstantMail(t *testing.T) {
	of := newOfflineFixture(t, offlineOptions{})
	alice := of.verifiedEmail(t, "alice", model.DeliveryInstant)
	bob := of.as(t, "bob")
	post := of.post(t, alice, "which answer is right?")
	for _, body := range []string{"the first <b>one</b>", "no, the second", "surely the third"} {
		of.comment(t, bob, post.ID, nil, body)
	}

	if of.mailOnce(t) {
		t.Fatal("mail claimed before the delay")
	}
	msgs := of.mailAfter(t, pastDelay)
	if len(msgs) != 2 { // the verification, then one message for all three
		t.Fatalf("%d messages after the delay, want 2: %v", len(msgs), msgs)
	}
	m := msgs[1]
	if m.Subject != "3 new notifications on Discuss" {
		t.Fatalf("subject %q", m.Subject)
	}
	for _, want := range []string{"the first <b>one</b>", "no, the second", "surely the third", "The bob commented on your post",
		"https://discuss.example.com/#/posts/"} {
		if !strings.Contains(m.Text, want) {
			t.Fatalf("text lacks %q:\n%s", want, m.Text)
		}
	}
	// html/template escaped the comment's markup.
	if !strings.Contains(m.HTML, "the first &lt;b&gt;one&lt;/b&gt;") || strings.Contains(m.HTML, "<b>one</b>") {
		t.Fatalf("HTML does not escape the excerpt:\n%s", m.HTML)
	}
	unsub := m.Headers["List-Unsubscribe"]
	if len(unsub) != 1 || !strings.HasPrefix(unsub[0], "<https://discuss.example.com/api/v1/email/unsubscribe?token=") {
		t.Fatalf("List-Unsubscribe %v", unsub)
	}
	if post := m.Headers["List-Unsubscribe-Post"]; len(post) != 1 || post[0] != "List-Unsubscribe=One-Click" {
		t.Fatalf("List-Unsubscribe-Post %v", post)
	}

	// One message per delay: a new comment now waits for the delay after
	// this message, and nothing is mailed twice.
	of.comment(t, bob, post.ID, nil, "a fourth opinion")
	if n := len(of.mailAfter(t, time.Second)); n != 2 {
		t.Fatalf("%d messages within the delay, want 2", n)
	}
	msgs = of.mailAfter(t, testDelay)
	if len(msgs) != 3 || msgs[2].Subject != "A new notification on Discuss" || strings.Contains(msgs[2].Text, "surely the third") {
		t.Fatalf("after the next delay: %v", msgs)
	}

	// Read notifications are not mailed.
	of.comment(t, bob, post.ID, nil, "read at once")
	if _, err := of.notes.MarkRead(alice, model.ReadSelection{UpToID: 1 << 40}); err != nil {
		t.Fatal(err)
	}
	if n := len(of.mailAfter(t, pastDelay)); n != 3 {
		t.Fatalf("a read notification was mailed (%d messages)", n)
	}
}

// TestNoMailWhileConnected: a user with a connection open when their
// notification was made, and since, is not mailed; once they left, what
// comes after is.
func TestNoMailWhileConnected(t *testing.T) {
	of := newOfflineFixture(t, offlineOptions{})
	alice := of.verifiedEmail(t, "alice", model.DeliveryInstant)
	aliceID := model.UserFrom(alice).ID
	bob := of.as(t, "bob")
	post := of.post(t, alice, "a question")
	ctx := t.Context()
	if err := of.offline.RecordPresence(ctx, "instance-1", []int64{aliceID}, nil); err != nil {
		t.Fatal(err)
	}
	of.clock.Advance(time.Second)
	of.comment(t, bob, post.ID, nil, "seen live")
	// The hub records her again while she stays connected.
	of.clock.Advance(testDelay / 2)
	if err := of.offline.RecordPresence(ctx, "instance-1", []int64{aliceID}, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(of.mailAfter(t, testDelay)); n != 1 {
		t.Fatalf("a connected user was mailed (%d messages)", n)
	}

	// She leaves; the next comment reaches her by mail. (Notifications
	// are stamped by the real clock: the test's goes back to it.)
	of.clock.Set(service.Now())
	if err := of.offline.RecordPresence(ctx, "instance-1", nil, []int64{aliceID}); err != nil {
		t.Fatal(err)
	}
	for !service.Now().After(of.clock.Now()) {
		time.Sleep(time.Microsecond) // the comment is made after she left
	}
	of.comment(t, bob, post.ID, nil, "made while away")
	msgs := of.mailAfter(t, pastDelay)
	if len(msgs) != 2 || !strings.Contains(msgs[1].Text, "made while away") || strings.Contains(msgs[1].Text, "seen live") {
		t.Fatalf("after leaving: %v", msgs)
	}
}

func TestDailyDigest(t *testing.T) {
	const dailyAt = 8 * time.Hour
	of := newOfflineFixture(t, offlineOptions{dailyAt: dailyAt})
	// The clock starts at 07:00 tomorrow, an hour before the digest.
	now := time.Now().UTC()
	start := time.Date(now.Year(), now.Month(), now.Day(), 7, 0, 0, 0, time.UTC).AddDate(0, 0, 1)
	of.clock.Set(start)
	alice := of.verifiedEmail(t, "alice", model.DeliveryDaily)
	bob := of.as(t, "bob")
	post := of.post(t, alice, "a question")
	of.comment(t, bob, post.ID, nil, "first")
	of.comment(t, bob, post.ID, nil, "second")

	of.clock.Set(start.Add(59 * time.Minute))
	if n := len(of.drain(t)); n != 1 {
		t.Fatalf("%d messages before the daily time, want the verification only", n)
	}
	of.clock.Set(start.Add(time.Hour)) // 08:00
	msgs := of.drain(t)
	if len(msgs) != 2 || msgs[1].Subject != "Your daily Discuss digest: 2 unread" {
		t.Fatalf("at the daily time: %v", msgs)
	}
	// Later that day: nothing more, whatever arrives.
	of.comment(t, bob, post.ID, nil, "third")
	of.clock.Set(start.Add(10 * time.Hour))
	if n := len(of.drain(t)); n != 2 {
		t.Fatalf("%d messages later the same day, want 2", n)
	}
	// The next day's digest has only what was not mailed.
	of.clock.Set(start.Add(25 * time.Hour))
	msgs = of.drain(t)
	if len(msgs) != 3 || !strings.Contains(msgs[2].Text, "third") || strings.Contains(msgs[2].Text, "second") {
		t.Fatalf("the next day: %v", msgs)
	}
}

func TestUnsubscribeLink(t *testing.T) {
	of := newOfflineFixture(t, offlineOptions{})
	of.verifiedEmail(t, "alice", model.DeliveryInstant)
	_, bob, post := of.alicePost(t, "x")
	of.comment(t, bob, post.ID, nil, "hello")
	msgs := of.mailAfter(t, pastDelay)
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
	link := strings.Trim(msgs[1].Headers["List-Unsubscribe"][0], "<>")
	tok := deliverytest.Token(t, link)

	t.Run("ErrBadToken", func(t *testing.T) {
		wantCode(t, of.offline.Unsubscribe(t.Context(), tok+"x"), model.EINVALID, "invalid token")
		// A verification token does not unsubscribe.
		wantCode(t, of.offline.Unsubscribe(t.Context(), deliverytest.Token(t, msgs[0].Text)), model.EINVALID, "invalid token")
	})
	t.Run("OK", func(t *testing.T) {
		// No user in the context: the link needs no sign-in.
		if err := of.offline.Unsubscribe(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
		p, err := of.offline.Preferences(of.as(t, "alice"))
		if err != nil || p.EmailDelivery != model.DeliveryOff {
			t.Fatalf("after unsubscribing: %+v, %v", p, err)
		}
		if err := of.offline.Unsubscribe(t.Context(), tok); err != nil {
			t.Fatalf("unsubscribing twice: %v", err)
		}
		of.comment(t, of.as(t, "bob"), post.ID, nil, "not mailed")
		if n := len(of.mailAfter(t, pastDelay)); n != 2 {
			t.Fatalf("mail after unsubscribing: %d messages", n)
		}
	})
}

// TestSMTPDownThenUp: while the server is away the batch waits, retried
// with a growing wait; once it is back, everything arrives in one message.
func TestSMTPDownThenUp(t *testing.T) {
	addr := deliverytest.FreePort(t)
	of := newOfflineFixture(t, offlineOptions{smtpAddr: addr})
	// The address is verified while the server is up.
	of.mailpit.Start(t)
	alice := of.verifiedEmail(t, "alice", model.DeliveryInstant)
	of.mailpit.Stop()

	bob := of.as(t, "bob")
	post := of.post(t, alice, "a question")
	of.comment(t, bob, post.ID, nil, "one")
	of.comment(t, bob, post.ID, nil, "two")
	of.clock.Advance(pastDelay)
	for attempt, wait := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute} {
		if !of.mailOnce(t) {
			t.Fatalf("attempt %d: nothing claimed", attempt+1)
		}
		// Not again before the wait is over.
		of.clock.Advance(wait - time.Second)
		if of.mailOnce(t) {
			t.Fatalf("attempt %d: retried before %s", attempt+1, wait)
		}
		of.clock.Advance(time.Second)
	}
	wantLogged(t, of.logs, "mail not sent; will retry")
	of.comment(t, bob, post.ID, nil, "three, while it was down")
	of.mailpit.Start(t)
	// The batch that was pending goes first; what came meanwhile waits for
	// the delay after it.
	of.drain(t)
	msgs := of.mailAfter(t, testDelay)
	if len(msgs) != 3 {
		t.Fatalf("%d messages after the server came back, want 3 (the verification, the pending batch, the rest): %v", len(msgs), msgs)
	}
	for i, want := range [][]string{{"one", "two"}, {"three, while it was down"}} {
		for _, w := range want {
			if !strings.Contains(msgs[i+1].Text, "  "+w+"\r\n") && !strings.Contains(msgs[i+1].Text, "  "+w+"\n") {
				t.Fatalf("%q lost from message %d:\n%s", w, i+1, msgs[i+1].Text)
			}
		}
	}
}

// TestVerificationMailUnavailable: when the SMTP server cannot take the
// verification message the change is kept and the answer is 503-worthy;
// asking again once it is back sends it.
func TestVerificationMailUnavailable(t *testing.T) {
	addr := deliverytest.FreePort(t)
	of := newOfflineFixture(t, offlineOptions{smtpAddr: addr})
	alice := of.as(t, "alice")
	email := "alice@example.com"
	_, err := of.offline.UpdatePreferences(alice, model.PreferencesPatch{Email: &email})
	wantCode(t, err, model.EUNAVAILABLE, "could not be sent")
	p, err := of.offline.Preferences(alice)
	if err != nil || p.Email != email || p.EmailVerified {
		t.Fatalf("after the failed send: %+v, %v", p, err)
	}
	of.mailpit.Start(t)
	if _, err := of.offline.UpdatePreferences(alice, model.PreferencesPatch{Email: &email}); err != nil {
		t.Fatal(err)
	}
	if msgs := of.mailpit.WaitMessages(t, 1, 10*time.Second); msgs[0].To[0].Address != email {
		t.Fatalf("sent to %v", msgs[0].To)
	}
}

// TestVerificationRateLimited: past the limit no message is sent (the
// address is kept, unverified) and the error says when to retry.
func TestVerificationRateLimited(t *testing.T) {
	of := newOfflineFixture(t, offlineOptions{verifyLimiter: service.NewRateLimiter(1, time.Hour)})
	alice := of.as(t, "alice")
	first, second := "alice@example.com", "victim@example.com"
	if _, err := of.offline.UpdatePreferences(alice, model.PreferencesPatch{Email: &first}); err != nil {
		t.Fatal(err)
	}
	_, err := of.offline.UpdatePreferences(alice, model.PreferencesPatch{Email: &second})
	wantCode(t, err, model.ERATELIMITED, "retry in")
	if msgs := of.mailpit.WaitMessages(t, 1, 10*time.Second); len(msgs) != 1 || msgs[0].To[0].Address != first {
		t.Fatalf("messages %v", msgs)
	}
	if p, _ := of.offline.Preferences(alice); p.Email != second || p.EmailVerified {
		t.Fatalf("after the refused message: %+v", p)
	}
}
