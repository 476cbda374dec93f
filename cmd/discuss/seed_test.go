//go:build loadtest

package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/quizsite/discuss/service/dbtest"
)

// seedLine is one line of `discuss seed` output.
type seedLine struct {
	id, postID int64
	username   string
	token      string
}

func parseSeedLines(t *testing.T, out string) []seedLine {
	t.Helper()
	var lines []seedLine
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		if len(f) != 4 {
			t.Fatalf("line %q has %d fields, want 4", l, len(f))
		}
		id, err1 := strconv.ParseInt(f[0], 10, 64)
		post, err2 := strconv.ParseInt(f[3], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("line %q: bad ids", l)
		}
		lines = append(lines, seedLine{id: id, username: f[1], token: f[2], postID: post})
	}
	return lines
}

func TestSeed(t *testing.T) {
	db := dbtest.Open(t)
	env := serveEnv(db, nil)
	seed := func(args ...string) string {
		t.Helper()
		out, stderr, err := discuss(env, append([]string{"seed"}, args...)...)
		if err != nil {
			t.Fatalf("seed %v: %v\n%s", args, err, stderr)
		}
		return out
	}

	first := parseSeedLines(t, seed("--users", "5", "--prefix", "lt", "--posts", "4", "--thread-comments", "10"))
	if len(first) != 5 {
		t.Fatalf("%d lines, want 5", len(first))
	}
	for i, l := range first {
		if want := "lt_" + strconv.Itoa(i+1); l.username != want {
			t.Errorf("line %d: username %q, want %q", i, l.username, want)
		}
	}
	// Four posts in turn, then the thread post by the first user: the fifth
	// user has none, the first user's newest is the thread.
	if first[4].postID != 0 || first[1].postID == 0 || first[0].postID <= first[3].postID {
		t.Errorf("post ids %+v", first)
	}
	thread := first[0].postID
	var count, roots, replies, replyCounts, postCount int64
	db.Raw("SELECT COUNT(*) FROM comments WHERE post_id = ?", thread).Scan(&count)
	db.Raw("SELECT COUNT(*) FROM comments WHERE post_id = ? AND root_id IS NULL", thread).Scan(&roots)
	db.Raw("SELECT COUNT(*) FROM comments WHERE post_id = ? AND root_id IS NOT NULL", thread).Scan(&replies)
	db.Raw("SELECT COALESCE(SUM(reply_count), 0) FROM comments WHERE post_id = ?", thread).Scan(&replyCounts)
	db.Raw("SELECT comment_count FROM posts WHERE id = ?", thread).Scan(&postCount)
	if count != 10 || roots != 3 || replies != 7 || replyCounts != 7 || postCount != 10 {
		t.Errorf("thread: %d comments (%d top-level, %d replies), reply_count sum %d, comment_count %d; want 10 (3, 7), 7, 10",
			count, roots, replies, replyCounts, postCount)
	}

	// Seeding again finds the same users and writes to --out.
	path := filepath.Join(t.TempDir(), "users.txt")
	if out := seed("--users", "6", "--prefix", "lt", "--out", path); out != "" {
		t.Errorf("stdout %q with --out", out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	again := parseSeedLines(t, string(data))
	if len(again) != 6 {
		t.Fatalf("%d lines, want 6", len(again))
	}
	for i := range first {
		if again[i].id != first[i].id {
			t.Errorf("user %d: id %d on the second run, %d on the first", i, again[i].id, first[i].id)
		}
	}

	// The tokens and the shared password work against the server.
	s := startServe(t, env)
	var me struct {
		ID int64 `json:"id"`
	}
	if code := s.call(t, "GET", "/api/v1/me", again[5].token, nil, &me); code != 200 || me.ID != again[5].id {
		t.Fatalf("me with a seeded token: %d %+v", code, me)
	}
	login := map[string]string{"username": "lt_2", "password": seedPassword}
	if code := s.call(t, "POST", "/api/v1/auth/login", "", login, nil); code != 200 {
		t.Fatalf("login with the shared password: %d", code)
	}
}

func TestSeedErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"ErrNoUsers", nil, "--users"},
		{"ErrBadPrefix", []string{"--users", "3", "--prefix", "no-dash"}, "--prefix"},
		{"ErrLongPrefix", []string{"--users", "3", "--prefix", strings.Repeat("p", 31)}, "--prefix"},
		{"ErrShortPassword", []string{"--users", "3", "--password", "short"}, "password"},
		{"ErrNegativePosts", []string{"--users", "3", "--posts", "-1"}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := discuss(nil, append([]string{"seed"}, tt.args...)...)
			if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v (exit %d), want a usage error naming %q", err, exitCode(err), tt.want)
			}
		})
	}
}
