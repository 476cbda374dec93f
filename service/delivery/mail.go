package delivery

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"net"
	"strconv"
	texttemplate "text/template"
	"time"

	mail "github.com/wneessen/go-mail"

	"github.com/quizsite/discuss/model"
)

//go:embed templates
var templateFiles embed.FS

// SMTPConfig says how to reach the submission server.
type SMTPConfig struct {
	Addr     string // host:port
	Username string // empty: no authentication
	Password string
	// TLS is "starttls" (required), "opportunistic" or "none".
	TLS  string
	From string
	// RootCAs, when set, replaces the system's roots in checking the
	// server's certificate (a private CA; tests).
	RootCAs *x509.CertPool
}

// SMTP sends mail through one SMTP server, one connection per message.
type SMTP struct {
	cfg  SMTPConfig
	host string
	port int
	tls  mail.TLSPolicy
	text *texttemplate.Template
	html *htmltemplate.Template
}

// NewSMTP checks cfg and parses the templates.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	host, portText, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("delivery: smtp address: %w", err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("delivery: smtp port %q", portText)
	}
	s := &SMTP{cfg: cfg, host: host, port: port}
	switch cfg.TLS {
	case "starttls", "":
		s.tls = mail.TLSMandatory
	case "opportunistic":
		s.tls = mail.TLSOpportunistic
	case "none":
		s.tls = mail.NoTLS
	default:
		return nil, fmt.Errorf("delivery: unknown TLS policy %q", cfg.TLS)
	}
	funcs := map[string]any{"say": say, "subject": subjectOf, "when": when, "headline": headline, "name": nameOf, "lang": lang}
	if s.text, err = texttemplate.New("mail").Funcs(funcs).ParseFS(templateFiles, "templates/*.txt"); err != nil {
		return nil, err
	}
	if s.html, err = htmltemplate.New("mail").Funcs(funcs).ParseFS(templateFiles, "templates/*.html"); err != nil {
		return nil, err
	}
	return s, nil
}

// Render returns the subject, plain text and HTML of m, in m's language.
func (s *SMTP) Render(m *model.Mail) (subject, text, html string, err error) {
	var tb, hb bytes.Buffer
	name := "digest" // instant and daily differ in their words only
	if m.Kind == model.MailVerify {
		name = "verify"
	}
	if err := s.text.ExecuteTemplate(&tb, name+".txt", m); err != nil {
		return "", "", "", fmt.Errorf("delivery: render %s: %w", m.Kind, err)
	}
	if err := s.html.ExecuteTemplate(&hb, name+".html", m); err != nil {
		return "", "", "", fmt.Errorf("delivery: render %s: %w", m.Kind, err)
	}
	return subjectOf(m), tb.String(), hb.String(), nil
}

// Send renders m and hands it to the SMTP server; it returns once the
// server accepted the message, or with the reason it did not.
func (s *SMTP) Send(ctx context.Context, m *model.Mail) error {
	subject, text, html, err := s.Render(m)
	if err != nil {
		return err
	}
	msg := mail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return fmt.Errorf("delivery: from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("delivery: to: %w", err)
	}
	msg.Subject(subject)
	msg.SetMessageIDWithValue(m.MessageID)
	msg.SetDate()
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	if m.UnsubscribeURL != "" {
		// RFC 8058: a mail client offers "unsubscribe" and POSTs
		// List-Unsubscribe=One-Click to the link, which needs no sign-in.
		msg.SetGenHeader("List-Unsubscribe", "<"+m.UnsubscribeURL+">")
		msg.SetGenHeader("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	}
	msg.SetBodyString(mail.TypeTextPlain, text)
	msg.AddAlternativeString(mail.TypeTextHTML, html)

	deadline, ok := ctx.Deadline()
	timeout := 30 * time.Second
	if ok {
		timeout = max(time.Until(deadline), time.Millisecond)
	}
	opts := []mail.Option{mail.WithPort(s.port), mail.WithTLSPolicy(s.tls), mail.WithTimeout(timeout)}
	if s.cfg.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(s.cfg.Username), mail.WithPassword(s.cfg.Password))
	}
	if s.cfg.RootCAs != nil {
		opts = append(opts, mail.WithTLSConfig(&tls.Config{ServerName: s.host, RootCAs: s.cfg.RootCAs, MinVersion: tls.VersionTLS12}))
	}
	client, err := mail.NewClient(s.host, opts...)
	if err != nil {
		return fmt.Errorf("delivery: smtp client: %w", err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("delivery: smtp %s: %w", s.cfg.Addr, err)
	}
	return nil
}
