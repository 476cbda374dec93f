package service_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/notify"
	"github.com/quizsite/discuss/service"
	"github.com/quizsite/discuss/service/dbtest"
	"github.com/quizsite/discuss/service/delivery"
	"github.com/quizsite/discuss/service/delivery/deliverytest"
)

// The offline delivery against real parts: mail goes through a real
// mailpit, pushes to a push service that checks their signature and
// decrypts them. The outbox's clock is the test's. These tests do not run
// in parallel: mailpit listens on ports picked before it starts.

const testDelay = 10 * time.Minute

// pastDelay is how far the clock moves for what waits for the delay to be
// due.
const pastDelay = testDelay + time.Second

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

// catchUp moves the clock on to the real time if it is behind it.
func (c *clock) catchUp() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := service.Now(); now.After(c.t) {
		c.t = now
	}
}

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
	f := fixtureOn(t, dbtest.Open(t))
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
		cfg.Pusher = delivery.NewWebPush(private, public, "mailto:ops@quiz.example.com", delivery.NewPushClient(true))
		cfg.VAPIDPublicKey, cfg.AllowInsecureEndpoints = public, true
	}
	of.offline = service.NewOffline(f.db.DB, cfg)
	// Notifications publish through the offline delivery, as in cmd.
	f.wire(of.offline.Publisher(f.pub))
	return of
}

// mailOnce runs one claim and fails the test on an error.
func (of *offlineFixture) mailOnce(t *testing.T) bool {
	t.Helper()
	found, err := of.offline.MailOnce(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// drain runs claims until none is found and returns every message mailpit
// has received, oldest first.
func (of *offlineFixture) drain(t *testing.T) []deliverytest.Message {
	t.Helper()
	for i := 0; of.mailOnce(t); i++ {
		if i > 100 {
			t.Fatal("the outbox never empties")
		}
	}
	return of.mailpit.Messages(t)
}

// mailAfter moves the clock on by d, then drains. Notifications are
// stamped by the real clock and the outbox reads the test's, so the test's
// first catches up with the real one: on a loaded machine the writes before
// a mailAfter(pastDelay) can take longer than its second to spare, and the
// last of them would not be due yet.
func (of *offlineFixture) mailAfter(t *testing.T, d time.Duration) []deliverytest.Message {
	t.Helper()
	of.clock.catchUp()
	of.clock.Advance(d)
	return of.drain(t)
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
	p, err := of.offline.VerifyEmail(t.Context(), deliverytest.Token(t, msgs[len(msgs)-1].Text))
	if err != nil {
		t.Fatal(err)
	}
	if !p.EmailVerified || p.Email != addr || p.EmailDelivery != mode {
		t.Fatalf("after verification: %+v", p)
	}
	return ctx
}

// browser subscribes a new browser of the push service to ctx's
// notifications.
func (of *offlineFixture) browser(t *testing.T, ctx context.Context) *deliverytest.Browser {
	t.Helper()
	b := of.push.NewBrowser(t)
	if err := of.offline.Subscribe(ctx, model.PushSubscription{Endpoint: b.Endpoint, P256DH: b.P256DH, Auth: b.Auth}); err != nil {
		t.Fatal(err)
	}
	return b
}

// runPush runs the push worker until the test ends.
func (of *offlineFixture) runPush(t *testing.T) {
	t.Helper()
	startWorker(t, "RunPush", func(ctx context.Context) { of.offline.RunPush(ctx, 1) })
}

// waitPushes waits until the push service accepted n messages, and fails
// on any it refused.
func waitPushes(t *testing.T, p *deliverytest.PushService, n int) []deliverytest.Pushed {
	t.Helper()
	var got []deliverytest.Pushed
	waitFor(t, testTimeout, fmt.Sprintf("%d pushes", n), func() bool {
		var errs []error
		if got, errs = p.Received(); len(errs) > 0 {
			t.Fatalf("the push service refused: %v", errs)
		}
		return len(got) >= n
	})
	return got
}
