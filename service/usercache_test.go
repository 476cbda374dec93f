package service

import (
	"testing"
	"time"

	"github.com/quizsite/discuss/model"
)

func TestUserCache(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newUserCache(5*time.Second, func() time.Time { return now })
	alice := &model.User{ID: 1, Username: "alice", Role: model.RoleAdmin}

	t.Run("OK", func(t *testing.T) {
		u, gen := c.get(1)
		if u != nil {
			t.Fatalf("empty cache answered %+v", u)
		}
		c.put(alice, gen)
		u, _ = c.get(1)
		if u == nil || *u != *alice {
			t.Fatalf("got %+v, want %+v", u, alice)
		}
		u.Role = model.RoleUser // the caller's copy, not the cache's
		if again, _ := c.get(1); again.Role != model.RoleAdmin {
			t.Fatalf("a caller changed the cached user: %+v", again)
		}
	})
	t.Run("Expires", func(t *testing.T) {
		now = now.Add(5 * time.Second)
		if u, _ := c.get(1); u != nil {
			t.Fatalf("expired entry answered %+v", u)
		}
	})
	t.Run("Forget", func(t *testing.T) {
		_, gen := c.get(1)
		c.put(alice, gen)
		c.forget(1)
		if u, _ := c.get(1); u != nil {
			t.Fatalf("forgotten entry answered %+v", u)
		}
		c.put(alice, gen)
		c.forgetAll()
		if u, _ := c.get(1); u != nil {
			t.Fatalf("entry answered after forgetAll: %+v", u)
		}
	})
	t.Run("ReadRacingForget", func(t *testing.T) {
		// A read that began before a change was announced must not put
		// the old row back after it.
		_, gen := c.get(1)
		c.forget(1) // the change arrives while the row is being read
		c.put(alice, gen)
		if u, _ := c.get(1); u != nil {
			t.Fatalf("a row read before the change was kept: %+v", u)
		}
	})
	t.Run("Subjects", func(t *testing.T) {
		if _, ok := c.idOf("https://quiz.example.com", "u-1"); ok {
			t.Fatal("an unknown subject has an id")
		}
		c.setSubject("https://quiz.example.com", "u-1", 7)
		c.forgetAll() // forgets users, not who a subject is
		for _, tt := range []struct {
			issuer, subject string
			id              int64
			ok              bool
		}{
			{"https://quiz.example.com", "u-1", 7, true},
			{"https://quiz.example.com", "U-1", 0, false},
			{"https://other.example.com", "u-1", 0, false},
		} {
			if id, ok := c.idOf(tt.issuer, tt.subject); id != tt.id || ok != tt.ok {
				t.Errorf("idOf(%q, %q) = %d, %v; want %d, %v", tt.issuer, tt.subject, id, ok, tt.id, tt.ok)
			}
		}
	})
	t.Run("Bounded", func(t *testing.T) {
		b := newUserCache(time.Second, func() time.Time { return now })
		for id := range int64(maxCachedUsers + 10) {
			_, gen := b.get(id + 1)
			b.put(&model.User{ID: id + 1}, gen)
		}
		if n := len(b.users); n > maxCachedUsers {
			t.Fatalf("%d users cached, bound %d", n, maxCachedUsers)
		}
	})
}
