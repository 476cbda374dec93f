package service

import (
	"strconv"
	"testing"
	"time"
)

func TestTokenCache(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	exp := now.Add(time.Hour)
	c := newTokenCache()
	if _, _, ok := c.get("a.b.c", now); ok {
		t.Fatal("an empty cache answered")
	}
	c.put("a.b.c", 7, exp, now)

	t.Run("OK", func(t *testing.T) {
		id, expires, ok := c.get("a.b.c", now)
		if !ok || id != 7 || !expires.Equal(exp) {
			t.Fatalf("got %d, %v, %v", id, expires, ok)
		}
		if _, _, ok := c.get("a.b.d", now); ok {
			t.Fatal("another token answered")
		}
	})
	// As the parser: accepted until exp plus the leeway, not from then on.
	t.Run("ExpiresWithLeeway", func(t *testing.T) {
		if _, _, ok := c.get("a.b.c", exp.Add(tokenLeeway-time.Nanosecond)); !ok {
			t.Error("refused within the leeway")
		}
		if _, _, ok := c.get("a.b.c", exp.Add(tokenLeeway)); ok {
			t.Error("accepted at exp + leeway")
		}
	})
	// Full, it sweeps the expired; when that is not enough it starts
	// again, so it never holds more than its bound.
	t.Run("Bounded", func(t *testing.T) {
		c := newTokenCache()
		for i := range maxCachedTokens {
			expires := exp
			if i%2 == 0 {
				expires = now.Add(-time.Hour)
			}
			c.put(strconv.Itoa(i), int64(i), expires, now)
		}
		c.put("swept", 1, exp, now)
		if n := len(c.tokens); n != maxCachedTokens/2+1 {
			t.Fatalf("%d tokens after the sweep, want %d", n, maxCachedTokens/2+1)
		}
		for i := len(c.tokens); i < maxCachedTokens; i++ {
			c.put("more"+strconv.Itoa(i), 1, exp, now)
		}
		c.put("cleared", 2, exp, now)
		if n := len(c.tokens); n != 1 {
			t.Fatalf("%d tokens after a full cache of valid ones, want 1", n)
		}
		if id, _, ok := c.get("cleared", now); !ok || id != 2 {
			t.Fatalf("the token put last: %d, %v", id, ok)
		}
	})
}
