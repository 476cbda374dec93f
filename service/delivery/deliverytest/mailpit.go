// Package deliverytest runs, for tests, the real parts that offline
// delivery talks to: a mailpit SMTP server (the binary, started on free
// ports as the database helpers start MariaDB) and a Web Push service
// that checks every message as a browser's push service and the browser
// would (RFC 8292 signature, RFC 8291 encryption).
package deliverytest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Mailpit is a mailpit server run for one test.
type Mailpit struct {
	// SMTPAddr is where it accepts mail, 127.0.0.1:port.
	SMTPAddr string
	// APIURL is the base of its HTTP API.
	APIURL string
	cmd    *exec.Cmd
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

// StartMailpit starts mailpit, accepting any SMTP credentials (also over a
// plain connection), with extra flags added, and stops it when the test
// ends.
func StartMailpit(t testing.TB, extra ...string) *Mailpit {
	t.Helper()
	return StartMailpitAt(t, FreePort(t), extra...)
}

// StartMailpitAt is StartMailpit with SMTP on smtpAddr: a test starts
// the server where its client has been failing to reach one.
func StartMailpitAt(t testing.TB, smtpAddr string, extra ...string) *Mailpit {
	t.Helper()
	bin := MailpitBinary(t)
	httpAddr := FreePort(t)
	args := append([]string{
		"--smtp", smtpAddr, "--listen", httpAddr,
		"--database", filepath.Join(t.TempDir(), "mailpit.db"),
		"--smtp-auth-accept-any", "--smtp-auth-allow-insecure", "--smtp-disable-rdns",
		"--disable-version-check", "--quiet",
	}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("deliverytest: start mailpit: %v", err)
	}
	m := &Mailpit{SMTPAddr: smtpAddr, APIURL: "http://" + httpAddr, cmd: cmd}
	t.Cleanup(m.Stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m.ready() {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatal("deliverytest: mailpit did not answer within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
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
	if m.cmd.Process != nil && m.cmd.ProcessState == nil {
		_ = m.cmd.Process.Kill()
		_ = m.cmd.Wait()
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
