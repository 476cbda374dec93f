// Package deliverytest runs, for tests, the real parts that offline
// delivery talks to: a mailpit SMTP server (the binary, started on free
// ports as the database helpers start MariaDB) and a Web Push service
// that checks every message as a browser's push service and the browser
// would (RFC 8292 signature, RFC 8291 encryption).
package deliverytest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Mailpit is a mailpit server run for one test.
type Mailpit struct {
	// SMTPAddr is where it accepts mail, 127.0.0.1:port.
	SMTPAddr string
	// APIURL is the base of its HTTP API.
	APIURL string
	// RootCAs trusts the certificate it offers with STARTTLS, which every
	// client must use: tests go through the upgrade and authentication
	// that a production submission server requires.
	RootCAs *x509.CertPool
	// CertFile is that certificate's PEM file, for a child process's
	// SSL_CERT_FILE.
	CertFile string
	// Flags are mailpit's flags beyond the addresses and the certificate;
	// change them before Start. NewMailpit sets --smtp-require-starttls.
	Flags []string

	bin, dir string
	mu       sync.Mutex
	cmd      *exec.Cmd
}

// MailpitBinary returns the path of the mailpit binary: on $PATH, or where
// `go install github.com/axllent/mailpit@v1.33.1` puts it. It skips the
// test when there is none, unless CI is set: CI installs it (.ci/run), so
// a missing binary there is a failure, not a reason to test less.
func MailpitBinary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p
	}
	for _, dir := range goBinDirs() {
		p := filepath.Join(dir, "mailpit")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("deliverytest: no mailpit binary (go install github.com/axllent/mailpit@v1.33.1)")
	}
	t.Skip("deliverytest: no mailpit binary; go install github.com/axllent/mailpit@v1.33.1 to run this test")
	return ""
}

// goBinDirs are where go install puts binaries: $GOBIN, else $GOPATH/bin
// (each entry of GOPATH), else ~/go/bin.
func goBinDirs() []string {
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		return []string{gobin}
	}
	if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) == 2 {
			if lines[0] != "" {
				return []string{lines[0]}
			}
			var dirs []string
			for _, p := range filepath.SplitList(lines[1]) {
				dirs = append(dirs, filepath.Join(p, "bin"))
			}
			return dirs
		}
	}
	home, _ := os.UserHomeDir()
	return []string{filepath.Join(home, "go", "bin")}
}

// FreePort returns an address of 127.0.0.1 with a port nothing listens on
// at the moment (another process may take it before it is used).
func FreePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// StartMailpit starts mailpit, requiring STARTTLS and accepting any
// credentials, and stops it when the test ends.
func StartMailpit(t testing.TB) *Mailpit {
	t.Helper()
	m := NewMailpit(t, FreePort(t))
	m.Start(t)
	return m
}

// NewMailpit prepares a mailpit with SMTP on smtpAddr, its certificate
// and its ports, without starting it: a test starts it (Start) where its
// client has been failing to reach one.
func NewMailpit(t testing.TB, smtpAddr string) *Mailpit {
	t.Helper()
	bin := MailpitBinary(t)
	dir := t.TempDir()
	m := &Mailpit{
		SMTPAddr: smtpAddr, APIURL: "http://" + FreePort(t), RootCAs: selfSigned(t, dir), CertFile: filepath.Join(dir, "cert.pem"),
		Flags: []string{"--smtp-require-starttls"}, bin: bin, dir: dir,
	}
	t.Cleanup(m.Stop)
	return m
}

// Start starts the server, or starts it again after Stop with the
// messages it had.
func (m *Mailpit) Start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(m.bin, append([]string{
		"--smtp", m.SMTPAddr, "--listen", strings.TrimPrefix(m.APIURL, "http://"),
		"--database", filepath.Join(m.dir, "mailpit.db"),
		"--smtp-tls-cert", m.CertFile, "--smtp-tls-key", filepath.Join(m.dir, "key.pem"),
		"--smtp-auth-accept-any", "--smtp-disable-rdns", "--disable-version-check", "--quiet",
	}, m.Flags...)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("deliverytest: start mailpit: %v", err)
	}
	m.mu.Lock()
	m.cmd = cmd
	m.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for !m.ready() {
		if time.Now().After(deadline) {
			t.Fatal("deliverytest: mailpit did not answer within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key to dir
// (cert.pem, key.pem) and returns a pool that trusts it.
func selfSigned(t testing.TB, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("cert.pem", "CERTIFICATE", der)
	write("key.pem", "PRIVATE KEY", keyDER)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// ready reports whether both the HTTP API and the SMTP port answer.
func (m *Mailpit) ready() bool {
	resp, err := http.Get(m.APIURL + "/api/v1/info")
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	c, err := net.DialTimeout("tcp", m.SMTPAddr, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return resp.StatusCode == http.StatusOK
}

// Stop ends the server; it may be called more than once.
func (m *Mailpit) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		_ = m.cmd.Process.Kill()
		_ = m.cmd.Wait()
		m.cmd = nil
	}
}

// Address is a mailbox in mailpit's messages.
type Address struct {
	Name    string
	Address string
}

// Message is one message mailpit received, with its bodies and headers.
type Message struct {
	ID        string
	MessageID string
	From      Address
	To        []Address
	Subject   string
	Text      string
	HTML      string
	Headers   map[string][]string
}

// linkToken finds the token of a link in a message.
var linkToken = regexp.MustCompile(`token=([^\s"<>&]+)`)

// Token returns the token of the first link in text that carries one,
// unescaped as the server reads it from the link's query.
func Token(t testing.TB, text string) string {
	t.Helper()
	m := linkToken.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no token in %q", text)
	}
	tok, err := url.QueryUnescape(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Messages returns every message received, oldest first.
func (m *Mailpit) Messages(t testing.TB) []Message {
	t.Helper()
	var list struct {
		Messages []struct{ ID string }
	}
	m.get(t, "/api/v1/messages?limit=1000", &list)
	out := make([]Message, 0, len(list.Messages))
	// The list is newest first.
	for i := len(list.Messages) - 1; i >= 0; i-- {
		var msg Message
		m.get(t, "/api/v1/message/"+list.Messages[i].ID, &msg)
		m.get(t, "/api/v1/message/"+list.Messages[i].ID+"/headers", &msg.Headers)
		out = append(out, msg)
	}
	return out
}

// WaitMessages waits until at least n messages arrived and returns them.
func (m *Mailpit) WaitMessages(t testing.TB, n int, within time.Duration) []Message {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		msgs := m.Messages(t)
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliverytest: %d messages after %s, want %d", len(msgs), within, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (m *Mailpit) get(t testing.TB, path string, v any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.APIURL+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("deliverytest: mailpit %s: %v", path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("deliverytest: mailpit %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("deliverytest: mailpit %s: %v", path, err)
	}
}

// String describes a message for failure messages.
func (msg Message) String() string {
	return fmt.Sprintf("%s to %v: %q", msg.MessageID, msg.To, msg.Subject)
}
