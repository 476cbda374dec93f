package delivery

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/quizsite/discuss/model"
)

// TestRenderLanguages: a digest is written in the user's language, the
// same facts in both, with every excerpt escaped in the HTML.
func TestRenderLanguages(t *testing.T) {
	s, err := NewSMTP(SMTPConfig{Addr: "127.0.0.1:25", From: "d@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	m := &model.Mail{
		Kind: model.MailInstant, Recipient: &model.Author{Username: "alice", DisplayName: "Alice"},
		Items: []model.MailItem{
			{Type: model.NotifyCommentReply, Actor: &model.Author{Username: "bob"}, Excerpt: "<script>x</script>", URL: "https://d.example.com/#/posts/1", CreatedAt: time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)},
			{Type: model.NotifySystem, Excerpt: "maintenance", URL: "https://d.example.com/"},
		},
		UnsubscribeURL: "https://d.example.com/api/v1/email/unsubscribe?token=t", PreferencesURL: "https://d.example.com/#preferences",
	}
	for _, tc := range []struct {
		locale, subject string
		words           []string
	}{
		{"", "2 new notifications on Discuss", []string{"Hi Alice,", "bob replied to your comment", "A message from the administrators", "Unsubscribe from these emails"}},
		{model.LocaleZhCN, "讨论区：你有 2 条新通知", []string{"Alice，你好：", "bob 回复了你的评论", "管理员消息", "退订此类邮件"}},
	} {
		t.Run("locale="+tc.locale, func(t *testing.T) {
			m.Locale = tc.locale
			subject, text, html, err := s.Render(m)
			if err != nil {
				t.Fatal(err)
			}
			if subject != tc.subject {
				t.Errorf("subject %q, want %q", subject, tc.subject)
			}
			for _, w := range append(tc.words, "2026-12-03 08:00 UTC", m.UnsubscribeURL) {
				if !strings.Contains(text, w) {
					t.Errorf("text lacks %q:\n%s", w, text)
				}
				if !strings.Contains(html, strings.ReplaceAll(w, "&", "&amp;")) {
					t.Errorf("HTML lacks %q:\n%s", w, html)
				}
			}
			if strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;") {
				t.Errorf("HTML does not escape the excerpt:\n%s", html)
			}
		})
	}
	// The verification message.
	v := &model.Mail{Kind: model.MailVerify, Locale: model.LocaleZhCN, Recipient: &model.Author{Username: "alice"}, VerifyURL: "https://d.example.com/verify-email?token=v"}
	subject, text, _, err := s.Render(v)
	if err != nil || subject != "请确认你在讨论区的邮箱地址" || !strings.Contains(text, v.VerifyURL) {
		t.Fatalf("verification: %q %q %v", subject, text, err)
	}
}

// TestKeyFile: a key pair is made once and read back the same; a damaged
// file is refused rather than replaced.
func TestKeyFile(t *testing.T) {
	path := t.TempDir() + "/data/vapid-key"
	priv, pub, created, err := KeyFile(path)
	if err != nil || !created {
		t.Fatalf("first: %v %v", created, err)
	}
	priv2, pub2, created, err := KeyFile(path)
	if err != nil || created || priv2 != priv || pub2 != pub {
		t.Fatalf("second: %v %v", created, err)
	}
	if p, err := PublicKeyOf(priv); err != nil || p != pub {
		t.Fatalf("public key of the private: %q %v", p, err)
	}
	if err := os.WriteFile(path, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := KeyFile(path); err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Fatalf("damaged key file: %v", err)
	}
}
