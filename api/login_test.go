package api

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/quizsite/discuss/configs"
	"github.com/quizsite/discuss/model"
)

// loginFrom signs in from the loopback address ip (any of 127.0.0.0/8),
// so that the server sees the attempt as that client's.
func (ts *testServer) loginFrom(t *testing.T, ip, username, password string) response {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	defer client.CloseIdleConnections()
	return send(t, client, ts.newRequest(t, "POST", "/api/v1/auth/login", nil, map[string]string{"username": username, "password": password}))
}

// loginLimit is the login limit of these tests, the default.
const loginLimit = 10

func withLoginLimit(cfg *configs.Config) { cfg.Limits.LoginPerMinute = loginLimit }

// failLogins makes n failed logins for username, spread over the loopback
// addresses from 127.0.0.2 on, two per address, so that no address
// reaches its own limit; each must answer 401.
func (ts *testServer) failLogins(t *testing.T, username string, n int) {
	t.Helper()
	for i := range n {
		ip := net.IPv4(127, 0, 0, byte(2+i/2)).String()
		if res := ts.loginFrom(t, ip, username, "wrong-password"); res.Status != http.StatusUnauthorized {
			t.Fatalf("failed login %d from %s: %d %s", i, ip, res.Status, res.Body)
		}
	}
}

// TestLoginNameVariants: a name that differs from a user's only in
// accents, width, trailing spaces or case is not another account. On
// MariaDB's utf8mb4_unicode_ci, "bob_vict2 ", "bób_vict2" and the
// fullwidth form each signed in as bob_vict2 and each had a login budget
// of its own. Now a name that cannot be a username never signs in, and one
// that normalises to the user's name (trimmed, any case) shares the user's
// budget.
func TestLoginNameVariants(t *testing.T) {
	ts := newTestServer(t, withLoginLimit)
	victim := ts.register(t, "bob_vict2")
	ts.failLogins(t, "bob_vict2", loginLimit)

	t.Run("ErrNotAUsername", func(t *testing.T) {
		for _, name := range []string{"bób_vict2", "ｂｏｂ_ｖｉｃｔ２", "bob_vict2\u200b", "bob_vict2\x00", strings.Repeat("b", 60000)} {
			res := ts.loginFrom(t, "127.0.0.50", name, "password123")
			if res.Status != http.StatusUnauthorized || res.ErrorCode(t) != model.EUNAUTHENTICATED {
				t.Errorf("login as %.40q with bob_vict2's password: %d %s", name, res.Status, res.Body)
			}
		}
	})
	t.Run("ErrSharesTheBudget", func(t *testing.T) {
		// 127.0.0.2 failed for bob_vict2: the same name in another form
		// is refused with it, however right the password.
		for _, name := range []string{"bob_vict2 ", " bob_vict2", "BOB_VICT2", "Bob_Vict2\t"} {
			res := ts.loginFrom(t, "127.0.0.2", name, "password123")
			if res.Status != http.StatusTooManyRequests || res.ErrorCode(t) != model.ERATELIMITED {
				t.Errorf("login as %q from a failed address: %d %s", name, res.Status, res.Body)
			}
		}
	})
	t.Run("OKNormalisedName", func(t *testing.T) {
		// Logins trim and ignore case as registration does: the owner,
		// from an address that has not failed, is bob_vict2 however typed.
		res := ts.loginFrom(t, "127.0.0.51", " BOB_vict2 ", "password123")
		var s session
		if res.Status != http.StatusOK {
			t.Fatalf("login: %d %s", res.Status, res.Body)
		}
		res.JSON(t, &s)
		if s.User.ID != victim.User.ID || s.User.Username != "bob_vict2" {
			t.Fatalf("signed in as %+v, want bob_vict2", s.User)
		}
	})
	t.Run("RegisterVariants", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			status int
		}{
			{"Bob_Vict2", http.StatusConflict},
			{" bob_vict2 ", http.StatusConflict},
			{"BOB_VICT2", http.StatusConflict},
			{"bób_vict2", http.StatusBadRequest},
			{"ｂｏｂ_ｖｉｃｔ２", http.StatusBadRequest},
		} {
			res := ts.do(t, "POST", "/api/v1/auth/register", "", map[string]string{"username": tc.name, "password": "password123"})
			if res.Status != tc.status {
				t.Errorf("register %q: %d %s, want %d", tc.name, res.Status, res.Body, tc.status)
				continue
			}
			res.ErrorCode(t)
		}
	})
}

// TestLoginLockout: someone guessing a user's password from a few
// addresses spends the user's budget of failures, but does not lock the
// owner out: a right password from an address that has not failed for the
// user signs in, while the guessing addresses stay refused, and an address
// that fails once joins them.
func TestLoginLockout(t *testing.T) {
	ts := newTestServer(t, withLoginLimit)
	victim := ts.register(t, "victim")
	ts.failLogins(t, "victim", loginLimit)

	steps := []struct {
		name, ip, password string
		status             int
	}{
		{"ErrGuesserStillLimited", "127.0.0.2", "another-guess", http.StatusTooManyRequests},
		{"ErrGuesserEvenWithRightPassword", "127.0.0.3", "password123", http.StatusTooManyRequests},
		{"OKOwnerElsewhere", "127.0.0.60", "password123", http.StatusOK},
		{"OKOwnerAgain", "127.0.0.60", "password123", http.StatusOK},
		// A new address's wrong password is refused like the others...
		{"ErrNewAddressWrongPassword", "127.0.0.61", "yet-another-guess", http.StatusTooManyRequests},
		// ...and that address has had its try.
		{"ErrNewAddressAfterItsTry", "127.0.0.61", "password123", http.StatusTooManyRequests},
	}
	for _, st := range steps {
		res := ts.loginFrom(t, st.ip, "victim", st.password)
		if res.Status != st.status {
			t.Fatalf("%s: %d %s, want %d", st.name, res.Status, res.Body, st.status)
		}
		switch st.status {
		case http.StatusOK:
			var s session
			res.JSON(t, &s)
			if s.User.ID != victim.User.ID || s.Token == "" {
				t.Fatalf("%s: signed in as %+v", st.name, s.User)
			}
		case http.StatusTooManyRequests:
			if res.ErrorCode(t) != model.ERATELIMITED || res.Header.Get("Retry-After") == "" {
				t.Fatalf("%s: %s without Retry-After %q", st.name, res.Body, res.Header.Get("Retry-After"))
			}
		}
	}
}

// TestLongPasswords: every password the contract allows (8 to 128 runes)
// registers and signs in, though bcrypt takes at most 72 bytes; one that
// differs from it only past byte 72 is refused.
func TestLongPasswords(t *testing.T) {
	ts := newTestServer(t)
	const emoji = "😀" // 4 bytes
	tests := []struct {
		name     string
		password string
	}{
		{"ASCII72", strings.Repeat("a", 72)},
		{"ASCII73", strings.Repeat("a", 73)},
		{"ASCII128", strings.Repeat("a", 128)},
		{"Emoji18", strings.Repeat(emoji, 18)}, // exactly 72 bytes
		{"Emoji20", strings.Repeat(emoji, 20)},
		{"Emoji72", strings.Repeat(emoji, 72)},
		{"Emoji73", strings.Repeat(emoji, 73)},
		{"Emoji128", strings.Repeat(emoji, 128)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			username := "long_pw_" + string(rune('a'+i))
			res := ts.do(t, "POST", "/api/v1/auth/register", "", map[string]string{"username": username, "password": tt.password})
			if res.Status != http.StatusCreated {
				t.Fatalf("register: %d %s", res.Status, res.Body)
			}
			if res := ts.loginFrom(t, "127.0.0.1", username, tt.password); res.Status != http.StatusOK {
				t.Fatalf("login: %d %s", res.Status, res.Body)
			}
			// The same length, the last rune changed: past byte 72 for
			// every password over 72 bytes.
			last := []rune(tt.password)
			last[len(last)-1]++
			if res := ts.loginFrom(t, "127.0.0.1", username, string(last)); res.Status != http.StatusUnauthorized {
				t.Fatalf("login with the last rune changed: %d %s", res.Status, res.Body)
			}
			// The first 72 bytes alone are not the password either.
			if len(tt.password) > 72 {
				if res := ts.loginFrom(t, "127.0.0.1", username, tt.password[:72]); res.Status != http.StatusUnauthorized {
					t.Fatalf("login with the first 72 bytes: %d %s", res.Status, res.Body)
				}
			}
		})
	}
}

// TestPasswordLengthAfterTrimming: the contract's 8 to 128 runes are
// counted after trimming, like every text limit; the password itself is
// kept as typed, its spaces part of the secret.
func TestPasswordLengthAfterTrimming(t *testing.T) {
	ts := newTestServer(t)
	for name, password := range map[string]string{
		"ErrOnlySpaces":   strings.Repeat(" ", 8),
		"ErrShortPadded":  "  seven77  ",
		"ErrLongerPadded": " " + strings.Repeat("p", 129) + " ",
	} {
		t.Run(name, func(t *testing.T) {
			res := ts.do(t, "POST", "/api/v1/auth/register", "", map[string]string{"username": strings.ToLower(name[3:]), "password": password})
			wantError(t, res, http.StatusBadRequest, model.EINVALID, "password")
		})
	}
	t.Run("OKPadded", func(t *testing.T) {
		password := "  " + strings.Repeat("p", 128) + "\t"
		res := ts.do(t, "POST", "/api/v1/auth/register", "", map[string]string{"username": "padded", "password": password})
		if res.Status != http.StatusCreated {
			t.Fatalf("register: %d %s", res.Status, res.Body)
		}
		if res := ts.loginFrom(t, "127.0.0.1", "padded", password); res.Status != http.StatusOK {
			t.Fatalf("login as typed: %d %s", res.Status, res.Body)
		}
		if res := ts.loginFrom(t, "127.0.0.1", "padded", strings.TrimSpace(password)); res.Status != http.StatusUnauthorized {
			t.Fatalf("login trimmed: %d %s", res.Status, res.Body)
		}
	})
}

// TestDisplayNameCharacters: a display name may not hold control
// characters or the invisible formatting characters that reorder or hide
// text; the joiners that emoji and some scripts need are kept.
func TestDisplayNameCharacters(t *testing.T) {
	ts := newTestServer(t)
	refused := map[string]string{
		"ErrNUL":              "Ann\x00",
		"ErrBEL":              "Ann\a",
		"ErrNewline":          "Ann\nAdmin",
		"ErrRightToLeftOver":  "Ann\u202Egnp.exe",
		"ErrIsolate":          "\u2066Ann\u2069",
		"ErrRightToLeftMark":  "Ann\u200F",
		"ErrZeroWidthSpace":   "b\u200Bob",
		"ErrByteOrderMark":    "\uFEFFbob",
		"ErrLineSeparator":    "Ann\u2028Admin",
		"ErrTagCharacters":    "Ann\U000E0041",
		"ErrArabicLetterMark": "Ann\u061C",
	}
	for name, display := range refused {
		t.Run(name, func(t *testing.T) {
			res := ts.do(t, "POST", "/api/v1/auth/register", "", map[string]string{
				"username": "ann_" + strings.ToLower(name[3:]), "password": "password123", "display_name": display,
			})
			wantError(t, res, http.StatusBadRequest, model.EINVALID, "display_name")
		})
	}
	t.Run("OKJoinersAndScripts", func(t *testing.T) {
		for i, display := range []string{"👩\u200d💻 Ada", "می\u200cخواهم", "Zoë 🏳\ufe0f\u200d🌈", "עִברִית"} {
			username := "joiner_" + string(rune('a'+i))
			res := ts.do(t, "POST", "/api/v1/auth/register", "", map[string]string{"username": username, "password": "password123", "display_name": display})
			s := decodeAs[session](t, res, http.StatusCreated, "register "+display)
			if s.User.DisplayName != display {
				t.Fatalf("display name %q, want %q", s.User.DisplayName, display)
			}
		}
	})
}
