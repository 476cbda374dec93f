package service_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/notify"
	"github.com/quizsite/discuss/service"
	"github.com/quizsite/discuss/service/delivery"
	"github.com/quizsite/discuss/service/delivery/deliverytest"
)

// The offline delivery against real parts: mail goes through a real
// mailpit, pushes to a push service that checks their signature and
// decrypts them. The outbox's clock is the test's.

const testDelay = 10 * time.Minute

// clock is a clock the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: service.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// offlineFixture is the services of fixture with the offline delivery
// wired in as cmd wires it.
type offlineFixture struct {
	*fixture
	offline *service.Offline
	clock   *clock
	mailpit *deliverytest.Mailpit
	push    *deliverytest.PushService
}

type offlineOptions struct {
	smtpAddr      string // default: a fresh mailpit
	dailyAt       time.Duration
	push          bool
	verifyLimiter *service.RateLimiter
}

func newOfflineFixture(t *testing.T, opts offlineOptions) *offlineFixture {
	t.Helper()
	f := newFixture(t)
	of := &offlineFixture{fixture: f, clock: newClock()}
	if opts.smtpAddr == "" {
		of.mailpit = deliverytest.StartMailpit(t)
		opts.smtpAddr = of.mailpit.SMTPAddr
	} else {
		// Started at that address, later: its certificate is made now.
		of.mailpit = deliverytest.NewMailpit(t, opts.smtpAddr)
	}
	smtp, err := delivery.NewSMTP(delivery.SMTPConfig{
		Addr: opts.smtpAddr, TLS: "starttls", From: "Discuss <discuss@quiz.example.com>",
		Username: "discuss", Password: "secret", RootCAs: of.mailpit.RootCAs,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := service.OfflineConfig{
		Mailer: smtp, Secret: []byte(strings.Repeat("k", 32)), PublicURL: "https://discuss.example.com", VerifyLimiter: opts.verifyLimiter,
		Delay: testDelay, DailyAt: opts.dailyAt, SendTimeout: 5 * time.Second, RetryBase: time.Minute,
		PresenceLease: time.Minute, EncodePush: notify.NotificationFrame, Now: of.clock.Now,
		Logger: slog.New(slog.NewTextHandler(f.logs, nil)),
	}
	if opts.push {
		private, public, err := delivery.GenerateVAPIDKeys()
		if err != nil {
			t.Fatal(err)
		}
		of.push = deliverytest.StartPushService(t)
		of.push.VAPIDPublicKey = public
		cfg.Pusher = delivery.NewWebPush(private, public, "mailto:ops@quiz.example.com", nil)
		cfg.VAPIDPublicKey, cfg.AllowInsecureEndpoints = public, true
	}
	of.offline = service.NewOffline(f.db.DB, cfg)
	// Notifications publish through the offline delivery, as in cmd.
	f.notes = service.NewNotifications(f.db.DB, of.offline.Publisher(f.pub))
	f.store = f.notes.Store()
	f.posts = service.NewPosts(f.db.DB, f.notes, nil)
	f.comments = service.NewComments(f.db.DB, f.notes, nil)
	return of
}

// mailOnce runs one claim and fails the test on an error.
func (of *offlineFixture) mailOnce(t *testing.T) bool {
	t.Helper()
	found, err := of.offline.MailOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// drain runs claims until none is found.
func (of *offlineFixture) drain(t *testing.T) {
	t.Helper()
	for i := 0; of.mailOnce(t); i++ {
		if i > 100 {
			t.Fatal("the outbox never empties")
		}
	}
}

// verifiedEmail gives name a verified address with delivery mode,
// following the link of the verification message, and returns the
// context signed in as them.
func (of *offlineFixture) verifiedEmail(t *testing.T, name, mode string) context.Context {
	t.Helper()
	ctx := of.as(t, name)
	before := len(of.mailpit.Messages(t))
	addr := name + "@example.com"
	if _, err := of.offline.UpdatePreferences(ctx, model.PreferencesPatch{Email: &addr, EmailDelivery: &mode}); err != nil {
		t.Fatal(err)
	}
	msgs := of.mailpit.WaitMessages(t, before+1, 10*time.Second)
	p, err := of.offline.VerifyEmail(context.Background(), deliverytest.Token(t, msgs[len(msgs)-1].Text))
	if err != nil {
		t.Fatal(err)
	}
	if !p.EmailVerified || p.Email != addr || p.EmailDelivery != mode {
		t.Fatalf("after verification: %+v", p)
	}
	return ctx
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
		of.clock.Advance(testDelay + time.Second)
		if of.mailOnce(t) {
			t.Fatal("an unverified address was claimed for mail")
		}
		if n := len(of.mailpit.Messages(t)); n != 1 {
			t.Fatalf("%d messages, want only the verification", n)
		}
	})
	t.Run("ErrBadToken", func(t *testing.T) {
		for _, tok := range []string{"", "nonsense", good[:len(good)-2] + "xx", strings.Replace(good, ".", "", 1)} {
			_, err := of.offline.VerifyEmail(context.Background(), tok)
			wantCode(t, err, model.EINVALID, "invalid token")
		}
	})
	t.Run("ErrUnsubscribeTokenIsNoVerifyToken", func(t *testing.T) {
		// A token signed for another purpose does not verify.
		_, err := of.offline.VerifyEmail(context.Background(), strings.Replace(good, "dmVyaWZ5", "dW5zdWJzY3JpYmU", 1))
		wantCode(t, err, model.EINVALID, "invalid token")
	})
	t.Run("ErrExpired", func(t *testing.T) {
		saved := of.clock.Now()
		defer of.clock.Set(saved)
		of.clock.Advance(25 * time.Hour)
		_, err := of.offline.VerifyEmail(context.Background(), good)
		wantCode(t, err, model.EINVALID, "token expired")
	})
	t.Run("OK", func(t *testing.T) {
		p, err := of.offline.VerifyEmail(context.Background(), good)
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
		of.clock.Advance(testDelay + time.Second)
		of.drain(t)
		if n := len(of.mailpit.Messages(t)); n != 1 {
			t.Fatalf("%d messages, want only the verification", n)
		}
	})
	t.Run("ErrReplacedAddress", func(t *testing.T) {
		other := "alice2@example.com"
		if _, err := of.offline.UpdatePreferences(alice, model.PreferencesPatch{Email: &other}); err != nil {
			t.Fatal(err)
		}
		_, err := of.offline.VerifyEmail(context.Background(), good)
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
		_, err = of.offline.UpdatePreferences(context.Background(), model.PreferencesPatch{})
		wantCode(t, err, model.EUNAUTHENTICATED, "")
	})
}

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
	if found, err := o.MailOnce(context.Background()); found || err != nil {
		t.Fatalf("MailOnce without a mailer: %v, %v", found, err)
	}
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
	of.clock.Advance(testDelay + time.Second)
	of.drain(t)
	msgs := of.mailpit.Messages(t)
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
	of.clock.Advance(time.Second)
	of.drain(t)
	if n := len(of.mailpit.Messages(t)); n != 2 {
		t.Fatalf("%d messages within the delay, want 2", n)
	}
	of.clock.Advance(testDelay)
	of.drain(t)
	msgs = of.mailpit.Messages(t)
	if len(msgs) != 3 || msgs[2].Subject != "A new notification on Discuss" || strings.Contains(msgs[2].Text, "surely the third") {
		t.Fatalf("after the next delay: %v", msgs)
	}

	// Read notifications are not mailed.
	n := of.comment(t, bob, post.ID, nil, "read at once")
	_ = n
	if _, err := of.notes.MarkRead(alice, model.ReadSelection{UpToID: 1 << 40}); err != nil {
		t.Fatal(err)
	}
	of.clock.Advance(testDelay + time.Second)
	of.drain(t)
	if n := len(of.mailpit.Messages(t)); n != 3 {
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
	ctx := context.Background()
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
	of.clock.Advance(testDelay)
	of.drain(t)
	if n := len(of.mailpit.Messages(t)); n != 1 {
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
	of.clock.Advance(testDelay + time.Second)
	of.drain(t)
	msgs := of.mailpit.Messages(t)
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
	of.drain(t)
	if n := len(of.mailpit.Messages(t)); n != 1 {
		t.Fatalf("%d messages before the daily time, want the verification only", n)
	}
	of.clock.Set(start.Add(time.Hour)) // 08:00
	of.drain(t)
	msgs := of.mailpit.Messages(t)
	if len(msgs) != 2 || msgs[1].Subject != "Your daily Discuss digest: 2 unread" {
		t.Fatalf("at the daily time: %v", msgs)
	}
	// Later that day: nothing more, whatever arrives.
	of.comment(t, bob, post.ID, nil, "third")
	of.clock.Set(start.Add(10 * time.Hour))
	of.drain(t)
	if n := len(of.mailpit.Messages(t)); n != 2 {
		t.Fatalf("%d messages later the same day, want 2", n)
	}
	// The next day's digest has only what was not mailed.
	of.clock.Set(start.Add(25 * time.Hour))
	of.drain(t)
	msgs = of.mailpit.Messages(t)
	if len(msgs) != 3 || !strings.Contains(msgs[2].Text, "third") || strings.Contains(msgs[2].Text, "second") {
		t.Fatalf("the next day: %v", msgs)
	}
}

func TestUnsubscribeLink(t *testing.T) {
	of := newOfflineFixture(t, offlineOptions{})
	alice := of.verifiedEmail(t, "alice", model.DeliveryInstant)
	_, bob, post := of.fixture.alicePost(t, "x")
	_ = bob
	of.comment(t, of.as(t, "bob"), post.ID, nil, "hello")
	_ = alice
	of.clock.Advance(testDelay + time.Second)
	of.drain(t)
	msgs := of.mailpit.Messages(t)
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
	link := strings.Trim(msgs[1].Headers["List-Unsubscribe"][0], "<>")
	tok := deliverytest.Token(t, link)

	t.Run("ErrBadToken", func(t *testing.T) {
		wantCode(t, of.offline.Unsubscribe(context.Background(), tok+"x"), model.EINVALID, "invalid token")
		// A verification token does not unsubscribe.
		wantCode(t, of.offline.Unsubscribe(context.Background(), deliverytest.Token(t, msgs[0].Text)), model.EINVALID, "invalid token")
	})
	t.Run("OK", func(t *testing.T) {
		// No user in the context: the link needs no sign-in.
		if err := of.offline.Unsubscribe(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
		p, err := of.offline.Preferences(of.as(t, "alice"))
		if err != nil || p.EmailDelivery != model.DeliveryOff {
			t.Fatalf("after unsubscribing: %+v, %v", p, err)
		}
		if err := of.offline.Unsubscribe(context.Background(), tok); err != nil {
			t.Fatalf("unsubscribing twice: %v", err)
		}
		of.comment(t, of.as(t, "bob"), post.ID, nil, "not mailed")
		of.clock.Advance(testDelay + time.Second)
		of.drain(t)
		if n := len(of.mailpit.Messages(t)); n != 2 {
			t.Fatalf("mail after unsubscribing: %d messages", n)
		}
	})
}

// TestTypeSwitches: a type switched off is neither mailed nor pushed, but
// still listed and counted.
func TestTypeSwitches(t *testing.T) {
	of := newOfflineFixture(t, offlineOptions{push: true})
	alice := of.verifiedEmail(t, "alice", model.DeliveryInstant)
	browser := of.push.NewBrowser(t)
	if err := of.offline.Subscribe(alice, model.PushSubscription{Endpoint: browser.Endpoint, P256DH: browser.P256DH, Auth: browser.Auth}); err != nil {
		t.Fatal(err)
	}
	if _, err := of.offline.UpdatePreferences(alice, model.PreferencesPatch{Types: map[string]bool{model.NotifyPostComment: false}}); err != nil {
		t.Fatal(err)
	}
	p, _ := of.offline.Preferences(alice)
	if p.Types[model.NotifyPostComment] || !p.Types[model.NotifyMention] {
		t.Fatalf("types %v", p.Types)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go of.offline.RunPush(ctx, 1)

	bob := of.as(t, "bob")
	post := of.post(t, alice, "a question")
	of.comment(t, bob, post.ID, nil, "a post_comment, switched off")
	of.comment(t, bob, post.ID, nil, "and a mention of @alice")
	waitPushes(t, of.push, 1)
	of.clock.Advance(testDelay + time.Second)
	of.drain(t)
	msgs := of.mailpit.Messages(t)
	if len(msgs) != 2 || !strings.Contains(msgs[1].Text, "The bob mentioned you") || strings.Contains(msgs[1].Text, "switched off") {
		t.Fatalf("mail with post_comment off: %v", msgs)
	}
	pushed, _ := of.push.Received()
	if len(pushed) != 1 || !strings.Contains(string(pushed[0].Payload), `"type":"mention"`) {
		t.Fatalf("pushes with post_comment off: %s", pushed)
	}
	counts, _ := of.notes.UnreadCount(alice)
	if counts.Unread != 2 {
		t.Fatalf("unread %d, want both counted", counts.Unread)
	}
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
	of.clock.Advance(testDelay + time.Second)
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
	if !strings.Contains(of.logs.String(), "mail not sent; will retry") {
		t.Fatalf("no retry logged:\n%s", of.logs)
	}
	of.comment(t, bob, post.ID, nil, "three, while it was down")
	of.mailpit.Start(t)
	// The batch that was pending goes first; what came meanwhile waits for
	// the delay after it.
	of.drain(t)
	of.clock.Advance(testDelay)
	of.drain(t)
	msgs := of.mailpit.Messages(t)
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

// waitPushes waits until the push service accepted n messages, and fails
// on any it refused.
func waitPushes(t *testing.T, p *deliverytest.PushService, n int) []deliverytest.Pushed {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, errs := p.Received()
		if len(errs) > 0 {
			t.Fatalf("the push service refused: %v", errs)
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pushes, want %d", len(got), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWebPush(t *testing.T) {
	of := newOfflineFixture(t, offlineOptions{push: true})
	alice := of.as(t, "alice")
	aliceID := model.UserFrom(alice).ID
	carol := of.as(t, "carol")
	browser, gone, carols := of.push.NewBrowser(t), of.push.NewBrowser(t), of.push.NewBrowser(t)
	for _, s := range []struct {
		ctx context.Context
		b   *deliverytest.Browser
	}{{alice, browser}, {alice, gone}, {carol, carols}} {
		if err := of.offline.Subscribe(s.ctx, model.PushSubscription{Endpoint: s.b.Endpoint, P256DH: s.b.P256DH, Auth: s.b.Auth}); err != nil {
			t.Fatal(err)
		}
	}
	of.push.SetStatus(gone, http.StatusGone)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go of.offline.RunPush(ctx, 1)

	bob := of.as(t, "bob")
	post := of.post(t, alice, "a question")
	c := of.comment(t, bob, post.ID, nil, "an answer")

	t.Run("DeliveredSignedAndDecryptable", func(t *testing.T) {
		pushed := waitPushes(t, of.push, 1)
		if pushed[0].Endpoint != browser.Endpoint || pushed[0].Subject != "mailto:ops@quiz.example.com" {
			t.Fatalf("pushed %+v", pushed[0])
		}
		var frame struct {
			Type         string `json:"type"`
			Notification struct {
				ID        int64  `json:"id"`
				Type      string `json:"type"`
				CommentID int64  `json:"comment_id"`
				Excerpt   string `json:"excerpt"`
			} `json:"notification"`
			UnreadCount int64 `json:"unread_count"`
		}
		if err := json.Unmarshal(pushed[0].Payload, &frame); err != nil {
			t.Fatal(err)
		}
		if frame.Type != "notification" || frame.Notification.Type != model.NotifyPostComment ||
			frame.Notification.CommentID != c.ID || frame.Notification.Excerpt != "an answer" || frame.UnreadCount != 1 {
			t.Fatalf("payload %s", pushed[0].Payload)
		}
	})
	t.Run("GoneDeletesTheSubscription", func(t *testing.T) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			var n int64
			if err := of.db.Model(&model.PushSubscription{}).Where("endpoint = ?", gone.Endpoint).Count(&n).Error; err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("a subscription answered 410 is still kept")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Run("NoPushWhileConnected", func(t *testing.T) {
		if err := of.offline.RecordPresence(context.Background(), "instance-1", []int64{aliceID}, nil); err != nil {
			t.Fatal(err)
		}
		of.comment(t, bob, post.ID, nil, "seen live")
		// Carol's push, queued after alice's, proves alice's was handled.
		carolPost := of.post(t, carol, "another")
		of.comment(t, bob, carolPost.ID, nil, "for carol")
		pushed := waitPushes(t, of.push, 2)
		if len(pushed) != 2 || pushed[1].Endpoint != carols.Endpoint {
			t.Fatalf("pushed while connected: %+v", pushed)
		}
		// Her connection's record runs out with its lease (an instance
		// that died): she is pushed to again.
		of.clock.Advance(2 * time.Minute)
		of.comment(t, bob, post.ID, nil, "after the lease")
		pushed = waitPushes(t, of.push, 3)
		if pushed[2].Endpoint != browser.Endpoint {
			t.Fatalf("third push %+v", pushed[2])
		}
	})
	t.Run("PushDisabled", func(t *testing.T) {
		off := false
		if _, err := of.offline.UpdatePreferences(alice, model.PreferencesPatch{PushEnabled: &off}); err != nil {
			t.Fatal(err)
		}
		of.comment(t, bob, post.ID, nil, "not pushed")
		carolPost := of.post(t, carol, "yet another")
		of.comment(t, bob, carolPost.ID, nil, "for carol again")
		pushed := waitPushes(t, of.push, 4)
		if len(pushed) != 4 || pushed[3].Endpoint != carols.Endpoint {
			t.Fatalf("pushed with push off: %+v", pushed)
		}
	})
	t.Run("Subscriptions", func(t *testing.T) {
		for _, bad := range []model.PushSubscription{
			{Endpoint: "ftp://push.example.com/x", P256DH: browser.P256DH, Auth: browser.Auth},
			{Endpoint: browser.Endpoint, P256DH: "AAAA", Auth: browser.Auth},
			{Endpoint: browser.Endpoint, P256DH: browser.P256DH, Auth: "short"},
		} {
			wantCode(t, of.offline.Subscribe(alice, bad), model.EINVALID, "")
		}
		wantCode(t, of.offline.UnsubscribePush(carol, browser.Endpoint), model.ENOTFOUND, "no such subscription")
		if err := of.offline.UnsubscribePush(alice, browser.Endpoint); err != nil {
			t.Fatal(err)
		}
		wantCode(t, of.offline.UnsubscribePush(alice, browser.Endpoint), model.ENOTFOUND, "no such subscription")
		key, err := of.offline.PushKey()
		if err != nil || key != of.push.VAPIDPublicKey {
			t.Fatalf("push key %q, %v", key, err)
		}
	})
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

// TestSpoilerNotDelivered: a spoiler's text reaches neither the mail nor
// the push; both say "[spoiler]".
func TestSpoilerNotDelivered(t *testing.T) {
	of := newOfflineFixture(t, offlineOptions{push: true})
	alice := of.verifiedEmail(t, "alice", model.DeliveryInstant)
	browser := of.push.NewBrowser(t)
	if err := of.offline.Subscribe(alice, model.PushSubscription{Endpoint: browser.Endpoint, P256DH: browser.P256DH, Auth: browser.Auth}); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go of.offline.RunPush(ctx, 1)
	post := of.post(t, alice, "which answer?")
	// A word, not a number: a number can turn up in the payload's
	// timestamps and ids by chance.
	const secret = "Zanzibar"
	if _, err := of.comments.Create(of.as(t, "bob"), post.ID, service.CommentInput{Body: "the answer is " + secret, Spoiler: true}); err != nil {
		t.Fatal(err)
	}
	pushed := waitPushes(t, of.push, 1)
	if strings.Contains(string(pushed[0].Payload), secret) || !strings.Contains(string(pushed[0].Payload), `"excerpt":"[spoiler]"`) {
		t.Fatalf("push payload %s", pushed[0].Payload)
	}
	of.clock.Advance(testDelay + time.Second)
	of.drain(t)
	msgs := of.mailpit.Messages(t)
	if len(msgs) != 2 || strings.Contains(msgs[1].Text+msgs[1].HTML, secret) || !strings.Contains(msgs[1].Text, "[spoiler]") {
		t.Fatalf("mail %v:\n%s", msgs, msgs[len(msgs)-1].Text)
	}
}
