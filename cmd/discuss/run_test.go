package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quizsite/discuss/configs"
	"github.com/quizsite/discuss/service"
	"github.com/quizsite/discuss/service/dbtest"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// freeAddr returns a loopback address that nothing listens on, for a
// server started next (often a child process, which binds it itself). Its
// port is below Linux's ephemeral range (32768 and up): a port the kernel
// chose for a listener (":0") is handed out again to any outgoing
// connection, to MariaDB, Redis or the server under test, and one such
// connection taking it between here and the server's bind failed tests
// with "address already in use".
func freeAddr(t *testing.T) string {
	t.Helper()
	const low, high = 20000, 32768
	for range 100 {
		addr := fmt.Sprintf("127.0.0.1:%d", low+rand.IntN(high-low))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue // taken: another test's, or anyone's
		}
		_ = ln.Close()
		return addr
	}
	t.Fatalf("no free port in [%d, %d) after 100 tries", low, high)
	return ""
}

// server is a running `discuss serve`: in the test's process, where done
// is closed once run has returned err, or a child process
// (process_test.go), where done is nil.
type server struct {
	base   string
	stderr *dbtest.SyncBuffer
	done   chan struct{}
	err    error
	cancel context.CancelFunc
}

// startServe runs `discuss serve` with env until the test ends, and waits
// until /healthz answers (on the internal listener when env sets one). It
// serves on env's DISCUSS_SERVER_ADDR when set (a restart on the same
// address), else on a free port it records there; freeAddr's port is free
// only until it is closed, and an outgoing connection (to MySQL, say) may
// take it as its own first, so a port taken so is chosen again.
func startServe(t *testing.T, env map[string]string) *server {
	t.Helper()
	pick := env["DISCUSS_SERVER_ADDR"] == ""
	for tries := 1; ; tries++ {
		if pick {
			env["DISCUSS_SERVER_ADDR"] = freeAddr(t)
		}
		ctx, cancel := context.WithCancel(context.Background())
		s := &server{base: "http://" + env["DISCUSS_SERVER_ADDR"], stderr: &dbtest.SyncBuffer{}, done: make(chan struct{}), cancel: cancel}
		go func() {
			defer close(s.done)
			s.err = run(ctx, []string{"serve"}, envOf(env), &dbtest.SyncBuffer{}, s.stderr)
		}()
		health := s.base
		if internal := env["DISCUSS_SERVER_INTERNAL_ADDR"]; internal != "" {
			health = "http://" + internal
		}
		err := waitHealthy(health, 20*time.Second, s)
		if pick && tries < 3 && errors.Is(s.err, syscall.EADDRINUSE) {
			cancel()
			continue
		}
		t.Cleanup(func() { s.stop(t) })
		if err != nil {
			t.Fatalf("serve %v:\n%s", err, s.stderr)
		}
		return s
	}
}

// waitHealthy polls health's /healthz until it answers 200. It returns an
// error when within passes first, or when s, a serve in the test's
// process, returns first.
func waitHealthy(health string, within time.Duration, s *server) error {
	var exited error
	healthy := poll(within, func() bool {
		select {
		case <-s.done: // never, for a child process
			exited = fmt.Errorf("exited before it was healthy: %v", s.err)
			return true
		default:
		}
		// Bounded: what listens there may not be the server yet.
		res, err := (&http.Client{Timeout: time.Second}).Get(health + "/healthz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	if exited != nil {
		return exited
	}
	if !healthy {
		return fmt.Errorf("not healthy within %s", within)
	}
	return nil
}

// stop cancels the server's context, as SIGTERM does, and checks that it
// shuts down cleanly and promptly.
func (s *server) stop(t *testing.T) {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case <-s.done:
		if s.err != nil {
			t.Errorf("serve returned %v", s.err)
		}
	case <-time.After(45 * time.Second):
		// A hang detector, not a measure: shutdown may take the HTTP
		// drain (server.shutdown_timeout, 15 s) and the sockets' close
		// (websocket.write_timeout and the close grace) under -race on
		// a busy machine.
		t.Errorf("serve did not stop within 45s")
	}
}

func (s *server) call(t *testing.T, method, path, token string, body any, out any) int {
	t.Helper()
	code, err := callJSON(s.base, method, path, token, body, out)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return code
}

// callJSON sends body, when not nil, as JSON to base+path and decodes the
// answer into out, when not nil.
func callJSON(base, method, path, token string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			return res.StatusCode, err
		}
	}
	return res.StatusCode, nil
}

// databaseEnv is serveEnv on a fresh empty database: MySQL when one is
// available, else SQLite in a temporary folder.
func databaseEnv(t *testing.T) map[string]string {
	t.Helper()
	return serveEnv(dbtest.OpenEmpty(t), nil)
}

func TestServeEndToEnd(t *testing.T) {
	s := startServe(t, databaseEnv(t))
	_, aliceID := registerUser(t, s, "alice")
	var login struct {
		Token string `json:"token"`
	}
	if code := s.call(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "alice", "password": "password123"}, &login); code != 200 || login.Token == "" {
		t.Fatalf("login: %d", code)
	}
	var me struct {
		ID       int64  `json:"id"`
		Username string `json:"username"`
	}
	if code := s.call(t, "GET", "/api/v1/me", login.Token, nil, &me); code != 200 || me.ID != aliceID || me.Username != "alice" {
		t.Fatalf("me: %d %+v", code, me)
	}
	if code := s.call(t, "GET", "/readyz", "", nil, nil); code != 200 {
		t.Fatalf("readyz: %d", code)
	}
	s.stop(t)
	if _, err := http.Get(s.base + "/healthz"); err == nil {
		t.Fatal("server still answers after shutdown")
	}
}

// TestZeroConfiguration runs serve with no configuration at all, as
// `make run` does: SQLite in ./data, migrated, with a kept signing secret.
func TestZeroConfiguration(t *testing.T) {
	t.Chdir(t.TempDir())
	env := map[string]string{"DISCUSS_AUTH_BCRYPT_COST": "4"}
	s := startServe(t, env)
	token, _ := registerUser(t, s, "alice")
	s.stop(t)
	for _, f := range []string{"data/discuss.db", "data/discuss.db.jwt-secret"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if !strings.Contains(s.stderr.String(), "generated a signing secret") {
		t.Errorf("the log does not say a secret was generated:\n%s", s.stderr)
	}
	// The kept secret signs the next run's tokens too: the old token works.
	s2 := startServe(t, env)
	if code := s2.call(t, "GET", "/api/v1/me", token, nil, nil); code != 200 {
		t.Fatalf("token from the first run: %d", code)
	}
}

// TestReadyzFollowsSchema: a schema rolled back under a running server
// makes /readyz answer 503 naming the cause, and migrating up again makes
// it ready.
func TestReadyzFollowsSchema(t *testing.T) {
	t.Chdir(t.TempDir())
	env := map[string]string{"DISCUSS_AUTH_BCRYPT_COST": "4"}
	s := startServe(t, env)
	migrate := func(args ...string) {
		t.Helper()
		if _, _, err := discuss(env, append([]string{"migrate"}, args...)...); err != nil {
			t.Fatalf("migrate %v: %v", args, err)
		}
	}
	var body struct {
		Error struct{ Code, Message string }
	}
	if code := s.call(t, "HEAD", "/readyz", "", nil, nil); code != 200 {
		t.Fatalf("HEAD /readyz: %d", code)
	}
	migrate("down", "--yes")
	if code := s.call(t, "GET", "/readyz", "", nil, &body); code != 503 || body.Error.Code != "unavailable" || !strings.Contains(body.Error.Message, "schema is behind") {
		t.Fatalf("readyz after migrate down: %d %+v", code, body)
	}
	migrate("up")
	if code := s.call(t, "GET", "/readyz", "", nil, nil); code != 200 {
		t.Fatalf("readyz after migrate up: %d", code)
	}
}

// TestSecretPerDatabase: two SQLite databases in one folder get a secret
// each, kept beside each file; the folder-wide secret of earlier versions
// moves to the first database that starts, so its tokens keep working.
func TestSecretPerDatabase(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	secretOf := func(dsn string) string {
		t.Helper()
		cfg := configs.Default()
		cfg.Database.DSN = dsn
		secret, err := signingSecret(cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		return string(secret)
	}
	shared := strings.Repeat("s", 64)
	if err := os.WriteFile(filepath.Join(dir, "jwt-secret"), []byte(shared+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	if got := secretOf(a); got != shared {
		t.Fatalf("the first database did not take the folder's secret: %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "jwt-secret")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the folder's secret is still there: %v", err)
	}
	other := secretOf("file:" + b + "?_pragma=busy_timeout(5000)")
	if other == shared || len(other) != 64 {
		t.Fatalf("the second database's secret %q", other)
	}
	if secretOf(a) != shared || secretOf(b) != other {
		t.Fatal("a kept secret changed on the next start")
	}
	for _, f := range []string{a + ".jwt-secret", b + ".jwt-secret"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if m1, m2 := secretOf(":memory:"), secretOf(":memory:"); m1 == m2 {
		t.Error("in-memory databases share a secret")
	}
}

func TestServeRefusesUnmigratedMySQL(t *testing.T) {
	needMySQL(t)
	env := serveEnv(dbtest.OpenEmpty(t), map[string]string{"DISCUSS_DATABASE_AUTO_MIGRATE": "false"})
	if err := serveFails(t, env, "discuss migrate up"); exitCode(err) != 1 {
		t.Fatalf("got %v (exit %d), want a refusal that exits 1", err, exitCode(err))
	}
}

func TestMigrateCommands(t *testing.T) {
	env := databaseEnv(t)
	migrate := func(action string) string {
		t.Helper()
		out, _, err := discuss(env, append([]string{"migrate"}, strings.Fields(action)...)...)
		if err != nil {
			t.Fatalf("migrate %s: %v", action, err)
		}
		return out
	}
	steps := []struct{ action, want string }{
		{"status", "00001 00001_init.sql pending"},
		{"up", "applied 00001 00001_init.sql"},
		{"status", "00001 00001_init.sql applied"},
		{"status", "00011 00011_notification_counts.sql applied"},
		{"up", "schema is up to date"},
		{"down --yes", "rolled back 00011 00011_notification_counts.sql"},
		{"down --yes", "rolled back 00010 00010_thread_versions.sql"},
		{"down --yes", "rolled back 00009 00009_offline_delivery.sql"},
		{"down --yes", "rolled back 00008 00008_moderation.sql"},
		{"down --yes", "rolled back 00007 00007_body_html.sql"},
		{"down --yes", "rolled back 00006 00006_post_last_comment.sql"},
		{"down --yes", "rolled back 00005 00005_notification_seen_like_notices.sql"},
		{"down --yes", "rolled back 00004 00004_post_subscriptions.sql"},
		{"down --yes", "rolled back 00003 00003_username_binary.sql"},
		{"down --yes", "rolled back 00002 00002_notification_seq.sql"},
		{"down --yes", "rolled back 00001 00001_init.sql"},
	}
	for _, s := range steps {
		// Compare with the table's padding folded to single spaces.
		if got := strings.Join(strings.Fields(migrate(s.action)), " "); !strings.Contains(got, s.want) {
			t.Fatalf("migrate %s printed %q, want %q", s.action, got, s.want)
		}
	}
	// Past the first migration, down has nothing to do: it fails, so that
	// a script that meant to roll one back does not go on as if it had.
	for _, action := range []string{"down --yes", "down"} {
		_, _, err := discuss(env, append([]string{"migrate"}, strings.Fields(action)...)...)
		if err == nil || exitCode(err) != 1 || err.Error() != "nothing to roll back: no migration is applied" {
			t.Fatalf("migrate %s with none applied: %v (exit %d), want exit 1, nothing to roll back", action, err, exitCode(err))
		}
	}
	if got := migrate("up"); !strings.Contains(got, "applied 00001 00001_init.sql") {
		t.Fatalf("migrate up printed %q", got)
	}

	// Without --yes, down says what it would run and runs nothing.
	out, _, err := discuss(env, "migrate", "down")
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "--yes") {
		t.Fatalf("migrate down without --yes: %v (exit %d), want exit 2 naming --yes", err, exitCode(err))
	}
	for _, want := range []string{"would roll back 00011 00011_notification_counts.sql", "DROP COLUMN unseen_notifications"} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate down without --yes printed %q, want %q in it", out, want)
		}
	}
	if got := strings.Join(strings.Fields(migrate("status")), " "); !strings.Contains(got, "00011 00011_notification_counts.sql applied") {
		t.Fatalf("after migrate down without --yes: %q", got)
	}
}

// TestMigrateUpRendersBodies: `migrate up` over rows written before
// 00007 renders their body_html, and says so; run again, it has nothing
// to render.
func TestMigrateUpRendersBodies(t *testing.T) {
	db := dbtest.OpenEmpty(t)
	const at = "2026-01-02 03:04:05"
	db.MigrateTo(t, 5,
		"INSERT INTO users (id, username, display_name, role, created_at) VALUES (1, 'alice', '', 'user', '"+at+"')",
		"INSERT INTO posts (id, author_id, title, body, created_at, updated_at, last_activity_at) VALUES (1, 1, 't', '*old*', '"+at+"', '"+at+"', '"+at+"')",
		"INSERT INTO comments (id, post_id, author_id, body, created_at) VALUES (1, 1, 1, '`c`', '"+at+"')",
	)
	env := map[string]string{"DISCUSS_DATABASE_DRIVER": db.Driver, "DISCUSS_DATABASE_DSN": db.DSN}
	for _, want := range []string{"rendered body_html: 2 rows of posts and comments", "schema is up to date"} {
		out, _, err := discuss(env, "migrate", "up")
		if err != nil {
			t.Fatalf("migrate up: %v", err)
		}
		if !strings.Contains(out, want) {
			t.Fatalf("migrate up printed %q, want %q", out, want)
		}
		if want == "schema is up to date" && strings.Contains(out, "rendered") {
			t.Fatalf("the second migrate up rendered again: %q", out)
		}
	}
	var html []string
	if err := db.Raw("SELECT body_html FROM posts UNION ALL SELECT body_html FROM comments").Scan(&html).Error; err != nil {
		t.Fatal(err)
	}
	slices.Sort(html)
	if len(html) != 2 || html[0] != "<p><code>c</code></p>\n" || html[1] != "<p><em>old</em></p>\n" {
		t.Fatalf("stored body_html %q", html)
	}
}

// TestHelp: every command's -h and --help print its usage and succeed.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"help"}, {"serve", "--help"}, {"serve", "-h"}, {"migrate", "--help"}, {"migrate", "-h"}, {"user", "create", "--help"}, {"user", "--help"}, {"user", "-h"}, {"version", "--help"}, {"version", "-h"}} {
		stdout, stderr, err := discuss(nil, args...)
		if err != nil {
			t.Errorf("%v: %v (exit %d)", args, err, exitCode(err))
		}
		if !strings.Contains(stdout+stderr, "usage") && !strings.Contains(stderr, "Usage") {
			t.Errorf("%v printed no usage:\n%s%s", args, stdout, stderr)
		}
	}
}

func TestUserCreate(t *testing.T) {
	db := dbtest.Open(t)
	env := serveEnv(db, nil)
	out, _, err := discuss(withUserPassword(env, "password123"), "user", "create", "--username", "root_admin", "--role", "admin")
	if err != nil || !strings.Contains(out, "root_admin (admin)") {
		t.Fatalf("user create: %v %q", err, out)
	}
	var role string
	db.Raw("SELECT role FROM users WHERE username = ?", "root_admin").Scan(&role)
	if role != "admin" {
		t.Fatalf("role %q", role)
	}
	_, _, err = discuss(withUserPassword(env, "password123"), "user", "create", "--username", "root_admin")
	if err == nil || !strings.Contains(err.Error(), "taken") {
		t.Fatalf("duplicate user: %v", err)
	}
}

// TestUserCreatePasswordFromStdin runs the binary as an operator would,
// with the password piped in: it keeps the line's spaces, drops its line
// ending, and the user signs in with it. Nothing on standard input is a
// usage error.
func TestUserCreatePasswordFromStdin(t *testing.T) {
	bin := buildBinary(t)
	db := dbtest.Open(t)
	create := func(username, stdin string) (string, error) {
		cmd := command(bin, withUserPassword(serveEnv(db, nil), ""), "user", "create", "--username", username, "--role", "admin")
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := create("root_admin", " pass word 123 \r\nnot the password\n"); err != nil || !strings.Contains(out, "root_admin (admin)") {
		t.Fatalf("user create: %v\n%s", err, out)
	}
	auth, err := service.NewAuth(db.DB, service.AuthConfig{Secret: []byte(testSecret), Issuer: "discuss", TokenTTL: time.Hour, BcryptCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Login(context.Background(), "root_admin", " pass word 123 ", "127.0.0.1"); err != nil {
		t.Fatalf("login with the piped password: %v", err)
	}
	out, err := create("other_admin", "")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(out, "no password: pipe it on standard input or set DISCUSS_USER_PASSWORD") {
		t.Fatalf("empty standard input: %v\n%s", err, out)
	}
}

func TestCommandErrors(t *testing.T) {
	closed := freeAddr(t)
	unreachable := map[string]string{"DISCUSS_DATABASE_DRIVER": "mysql", "DISCUSS_DATABASE_DSN": "root@tcp(" + closed + ")/x"}
	// server.debug_addr is gone: a file still setting it names the key, in
	// one line as every error here.
	oldKey := filepath.Join(t.TempDir(), "old.yaml")
	if err := os.WriteFile(oldKey, []byte("server:\n  debug_addr: 127.0.0.1:9090\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		exit int
		want string
	}{
		{"ErrNoCommand", nil, nil, 2, "no command"},
		{"ErrUnknownCommand", []string{"frobnicate"}, nil, 2, `unknown command "frobnicate"`},
		{"ErrBadFlag", []string{"serve", "--nope"}, nil, 2, "flag provided but not defined"},
		{"ErrInvalidSetting", []string{"serve"}, map[string]string{"DISCUSS_LOG_LEVEL": "loud"}, 2, "log.level"},
		{"ErrBadEnvValue", []string{"serve"}, map[string]string{"DISCUSS_SERVER_SHUTDOWN_TIMEOUT": "later"}, 2, "DISCUSS_SERVER_SHUTDOWN_TIMEOUT"},
		{"ErrMissingConfigFile", []string{"serve", "--config", "/nonexistent/discuss.yaml"}, nil, 2, "/nonexistent/discuss.yaml"},
		{"ErrJWKSURL", []string{"serve"}, map[string]string{
			"DISCUSS_AUTH_EXTERNAL_ISSUER": "https://quiz.example.com", "DISCUSS_AUTH_EXTERNAL_JWKS_URL": "http://quiz.example.com/jwks.json",
		}, 2, "auth.external.jwks_url must be an https URL"},
		{"ErrMySQLWithoutSecret", []string{"serve"}, map[string]string{"DISCUSS_DATABASE_DRIVER": "mysql", "DISCUSS_DATABASE_DSN": "root@tcp(" + closed + ")/x"}, 2, "auth.secret"},
		// migrate signs nothing: it goes as far as the database without
		// auth.secret.
		{"ErrUnreachableDatabase", []string{"migrate", "status"}, map[string]string{
			"DISCUSS_DATABASE_DRIVER": "mysql", "DISCUSS_DATABASE_DSN": "root@tcp(" + closed + ")/x",
		}, 1, "database mysql unreachable"},
		{"ErrMalformedDSN", []string{"migrate", "status"}, map[string]string{
			"DISCUSS_DATABASE_DRIVER": "mysql", "DISCUSS_DATABASE_DSN": "root@tcp(" + closed + "/x",
		}, 2, "database.dsn is not a MySQL DSN"},
		{"ErrMigrateAction", []string{"migrate", "sideways"}, nil, 2, `unknown migrate action "sideways"`},
		// A flag before the action is not taken for one.
		{"ErrMigrateFlagFirst", []string{"migrate", "--yes", "down"}, nil, 2, "migrate takes up, down or status before its flags"},
		// `migrate down --yes 3` rolls back one migration, not three:
		// what the command does not read is refused, not ignored.
		{"ErrMigrateExtraArgument", []string{"migrate", "down", "--yes", "3"}, unreachable, 2, `unexpected argument "3"`},
		{"ErrVersionExtraArgument", []string{"version", "now"}, nil, 2, `unexpected argument "now"`},
		{"ErrVersionBadFlag", []string{"version", "--short"}, nil, 2, "flag provided but not defined"},
		{"ErrUnknownConfigKey", []string{"migrate", "status", "--config", oldKey}, nil, 2, "line 2: field debug_addr not found"},
		{"ErrUserCreateFlags", []string{"user", "create"}, nil, 2, "--username is required"},
		// The password given on the command line is refused, and not
		// repeated in the message.
		{"ErrUserCreatePasswordFlag", []string{"user", "create", "--username", "root_admin", "--password", "hunter2hunter2"}, nil, 2, "--password is refused: the command line shows in ps and shell history; pipe the password on standard input or set DISCUSS_USER_PASSWORD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := discuss(tt.env, tt.args...)
			if err == nil || exitCode(err) != tt.exit || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v (exit %d), want exit %d naming %q", err, exitCode(err), tt.exit, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	if out, _, err := discuss(nil, "version"); err != nil || !strings.HasPrefix(out, "discuss ") {
		t.Fatalf("version: %v %q", err, out)
	}
	if code := exitCode(fmt.Errorf("wrapped: %w", usagef("bad flag"))); code != 2 {
		t.Fatalf("a wrapped usage error exits %d, want 2", code)
	}
	if code := exitCode(errors.New("other")); code != 1 {
		t.Fatalf("another error exits %d, want 1", code)
	}
}

// TestNewerDatabaseRefused: a database that a newer binary migrated past
// this binary's last migration is refused by `migrate up` and `migrate
// down`, in one line that says so and exits 1; goose alone called it up to
// date, and its down failed with "version not found". status still lists
// it, and says so; serve serves on it, as an older instance does during a
// rollout, with a warning.
func TestNewerDatabaseRefused(t *testing.T) {
	db := dbtest.OpenEmpty(t)
	env := serveEnv(db, nil)
	if _, _, err := discuss(env, "migrate", "up"); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	if err := db.Exec("INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, ?)", true).Error; err != nil {
		t.Fatal(err)
	}
	const want = "the database is at version 99999, past this binary's last migration"
	for _, action := range []string{"up", "down", "down --yes"} {
		_, _, err := discuss(env, append([]string{"migrate"}, strings.Fields(action)...)...)
		if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Fatalf("migrate %s: %v (exit %d), want one line and exit 1 naming %q", action, err, exitCode(err), want)
		}
	}
	out, _, err := discuss(env, "migrate", "status")
	if err != nil || !strings.Contains(out, "the database is at version 99999, which a newer binary applied") {
		t.Fatalf("migrate status: %v\n%s", err, out)
	}
	s := startServe(t, env)
	if !strings.Contains(s.stderr.String(), "the database was migrated by a newer binary") {
		t.Fatalf("serve did not warn of the newer schema:\n%s", s.stderr)
	}
}
