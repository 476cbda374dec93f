package main

// What a run is given: its flags, its users and shards, and the addresses
// it may reach.

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestReadUsers(t *testing.T) {
	in := "# seeded\n12 load_1 tok1 40\n\n13 load_2 tok2 0\n14 load_3 tok3\n"
	users, err := readUsers(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []user{{12, "load_1", "tok1", 40}, {13, "load_2", "tok2", 0}, {14, "load_3", "tok3", 0}}
	if !slices.Equal(users, want) {
		t.Fatalf("got %+v", users)
	}
	for _, bad := range []string{"12 load_1\n", "x load_1 tok\n", "12 load_1 tok -3\n", "1 a b c d\n"} {
		if _, err := readUsers(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestShards(t *testing.T) {
	users := make([]user, 10)
	for i := range users {
		users[i].id = int64(i + 1)
	}
	var all []user
	for i := 1; i <= 3; i++ {
		all = append(all, shardOf(users, i, 3)...)
	}
	if !slices.Equal(all, users) {
		t.Fatalf("shards do not cover the users once: %v", all)
	}
	if i, n, err := parseShard("2/3"); err != nil || i != 2 || n != 3 {
		t.Fatalf("2/3: %d %d %v", i, n, err)
	}
	for _, bad := range []string{"0/3", "4/3", "3", "a/b", "1/0"} {
		if _, _, err := parseShard(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestLoopbackURL(t *testing.T) {
	for raw, want := range map[string]string{
		"http://127.0.0.1:8080":     "http://127.0.0.1:8080",
		"http://localhost:9/x?y=1":  "http://127.0.0.1:9",
		"https://127.0.0.9:443/api": "https://127.0.0.9:443",
	} {
		u, err := loopbackURL(raw)
		if err != nil || u.String() != want {
			t.Errorf("%s: %v %v, want %s", raw, u, err, want)
		}
	}
	for _, bad := range []string{"http://10.0.0.1:80", "http://example.com", "http://[::1]:80", "ftp://127.0.0.1", "127.0.0.1:80"} {
		if _, err := loopbackURL(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestOpenCeilingDB(t *testing.T) {
	for _, bad := range []string{"root@tcp(10.0.0.1:3306)/x", "root@tcp(db.example.com:3306)/x", "root@udp(127.0.0.1:3306)/x", "not a dsn("} {
		if db, err := openCeilingDB(bad, 1); err == nil {
			_ = db.Close()
			t.Errorf("%q: no error", bad)
		}
	}
	db, err := openCeilingDB("root@tcp(127.0.0.1:3306)/test", 1)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Close() // opening does not connect
	if got := placeholders(3); got != "?,?,?" {
		t.Errorf("placeholders(3) = %q", got)
	}
}

// TestFanoutConfig: the fanout scenario takes --watchers and runs in one
// process, where every watcher's frames are counted.
func TestFanoutConfig(t *testing.T) {
	c, err := parseConfig([]string{"-scenario", "fanout", "-users", "u.txt", "-watchers", "500"}, io.Discard)
	if err != nil || c.watchers != 500 {
		t.Fatalf("fanout config %+v, %v", c, err)
	}
	for _, args := range [][]string{{"-watchers", "0"}, {"-shard", "1/2"}} {
		if _, err := parseConfig(append([]string{"-scenario", "fanout", "-users", "u.txt"}, args...), io.Discard); err == nil {
			t.Errorf("fanout accepts %v", args)
		}
	}
}

// TestThreadLiveConfig: thread-live takes --subscribers and --commenters,
// needs the admin's token and runs in one process.
func TestThreadLiveConfig(t *testing.T) {
	c, err := parseConfig([]string{"-scenario", "thread-live", "-users", "u.txt", "-admin-token", "t", "-subscribers", "500", "-commenters", "5"}, io.Discard)
	if err != nil || c.subscribers != 500 || c.commenters != 5 {
		t.Fatalf("thread-live config %+v, %v", c, err)
	}
	for _, args := range [][]string{{"-subscribers", "0"}, {"-commenters", "0"}, {"-shard", "1/2"}} {
		if _, err := parseConfig(append([]string{"-scenario", "thread-live", "-users", "u.txt", "-admin-token", "t"}, args...), io.Discard); err == nil {
			t.Errorf("thread-live accepts %v", args)
		}
	}
	if _, err := parseConfig([]string{"-scenario", "thread-live", "-users", "u.txt"}, io.Discard); err == nil {
		t.Error("thread-live runs without --admin-token")
	}
}

// TestStartAtConfig: --start-at takes an RFC 3339 time and nothing else.
func TestStartAtConfig(t *testing.T) {
	base := []string{"-scenario", "push", "-users", "u.txt", "-admin-token", "t"}
	c, err := parseConfig(append(base, "-start-at", "2026-12-05T03:30:00Z"), io.Discard)
	if err != nil || !c.startAt.Equal(time.Date(2026, 12, 5, 3, 30, 0, 0, time.UTC)) {
		t.Fatalf("start-at: %v, %v", c, err)
	}
	for _, v := range []string{"03:30", "1796527800", "2026-12-05 03:30:00"} {
		if _, err := parseConfig(append(base, "-start-at", v), io.Discard); err == nil {
			t.Errorf("--start-at %q accepted", v)
		}
	}
}

// TestDatabaseScenariosConfig: the scenarios that talk to MariaDB alone
// need its DSN and at least one worker.
func TestDatabaseScenariosConfig(t *testing.T) {
	for _, name := range []string{"db-ceiling", "db-push", "snapshot"} {
		base := []string{"-scenario", name, "-users", "u.txt"}
		if c, err := parseConfig(append(base, "-dsn", "root@tcp(127.0.0.1:3306)/x"), io.Discard); err != nil || c.workers != 8 {
			t.Errorf("%s: %+v, %v", name, c, err)
		}
		for _, args := range [][]string{{}, {"-dsn", "root@tcp(127.0.0.1:3306)/x", "-workers", "0"}} {
			if _, err := parseConfig(append(base, args...), io.Discard); err == nil {
				t.Errorf("%s accepts %v", name, args)
			}
		}
	}
}
