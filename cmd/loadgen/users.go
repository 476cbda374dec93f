package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// user is one line of the file `discuss seed` writes:
// "id username token post_id", post_id 0 when the user has no post.
type user struct {
	id     int64
	name   string
	token  string
	postID int64
}

// readUsers parses a seed file. Blank lines and lines starting with # are
// skipped; the post column may be missing (older files).
func readUsers(r io.Reader) ([]user, error) {
	var users []user
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 64*1024)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Fields(text)
		if len(f) < 3 || len(f) > 4 {
			return nil, fmt.Errorf("line %d: want \"id username token [post_id]\", got %d fields", line, len(f))
		}
		u := user{name: f[1], token: f[2]}
		var err error
		if u.id, err = strconv.ParseInt(f[0], 10, 64); err != nil || u.id <= 0 {
			return nil, fmt.Errorf("line %d: bad user id %q", line, f[0])
		}
		if len(f) == 4 {
			if u.postID, err = strconv.ParseInt(f[3], 10, 64); err != nil || u.postID < 0 {
				return nil, fmt.Errorf("line %d: bad post id %q", line, f[3])
			}
		}
		users = append(users, u)
	}
	return users, sc.Err()
}

// parseShard reads "i/n" (1 <= i <= n): this process is the i-th of n.
func parseShard(s string) (i, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	if ok {
		i, err = strconv.Atoi(a)
		if err == nil {
			n, err = strconv.Atoi(b)
		}
	}
	if !ok || err != nil || n < 1 || i < 1 || i > n {
		return 0, 0, fmt.Errorf("--shard %q: want i/n with 1 <= i <= n", s)
	}
	return i, n, nil
}

// shardOf returns the i-th of n contiguous, disjoint slices of users, so
// that n processes started with --shard 1/n .. n/n connect every user once.
func shardOf(users []user, i, n int) []user {
	lo := (i - 1) * len(users) / n
	hi := i * len(users) / n
	return users[lo:hi]
}
