package api

// Hostile input: hand-made cursors and text that is not text.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/quizsite/discuss/model"
)

// TestTamperedCursors writes cursors as an attacker would, base64url over
// the JSON inside, for every list that takes one, and checks every field is
// range-checked: an impossible key or id is a 400 naming cursor (on MariaDB
// a time outside years 1 to 9999 was a 500 and an ERROR line in the log),
// and the extremes a real cursor may hold answer 200.
func TestTamperedCursors(t *testing.T) {
	t.Parallel()
	ts, alice, _, post := newServerWithPost(t)
	top := ts.createComment(t, alice.Token, post.ID, nil)

	// The keys of each kind of order that a cursor may and may not hold.
	firstTime := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	lastTime := time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()
	type keys struct{ good, bad []int64 }
	noKey := keys{good: []int64{0}, bad: []int64{1, -1, math.MinInt64, math.MaxInt64}}
	countKey := keys{good: []int64{0, math.MaxInt64}, bad: []int64{-1, math.MinInt64}}
	timeKey := keys{
		good: []int64{firstTime, lastTime, 0},
		bad:  []int64{firstTime - 1, lastTime + 1, math.MinInt64, math.MaxInt64},
	}
	lists := []struct {
		path, sort string
		keys       keys
	}{
		{"/api/v1/posts?sort=new", "new", noKey},
		{"/api/v1/posts?sort=active", "active", timeKey},
		{"/api/v1/posts?sort=top", "top", countKey},
		{fmt.Sprintf("/api/v1/posts/%d/comments?sort=old", post.ID), "old", noKey},
		{fmt.Sprintf("/api/v1/posts/%d/comments?sort=new", post.ID), "new", noKey},
		{fmt.Sprintf("/api/v1/posts/%d/comments?sort=top", post.ID), "top", countKey},
		{fmt.Sprintf("/api/v1/comments/%d/replies?limit=20", top.ID), "old", noKey},
		{"/api/v1/notifications?unread_only=false", "notifications", noKey},
		{"/api/v1/announcements?limit=20", "announcements", noKey},
	}
	goodIDs := []int64{1, math.MaxInt64}
	badIDs := []int64{0, -1, math.MinInt64}
	get := func(t *testing.T, path, inside string) response {
		t.Helper()
		c := base64.RawURLEncoding.EncodeToString([]byte(inside))
		return ts.doChecked(t, "GET", path+"&cursor="+url.QueryEscape(c), alice.Token, nil)
	}
	for _, l := range lists {
		t.Run(strings.TrimPrefix(l.path, "/api/v1/"), func(t *testing.T) {
			var ok, bad []string
			for _, k := range l.keys.good {
				for _, id := range goodIDs {
					ok = append(ok, fmt.Sprintf(`{"s":%q,"k":%d,"i":%d}`, l.sort, k, id))
				}
				for _, id := range badIDs {
					bad = append(bad, fmt.Sprintf(`{"s":%q,"k":%d,"i":%d}`, l.sort, k, id))
				}
			}
			for _, k := range l.keys.bad {
				bad = append(bad, fmt.Sprintf(`{"s":%q,"k":%d,"i":1}`, l.sort, k))
			}
			bad = append(bad,
				fmt.Sprintf(`{"s":%q,"i":9223372036854775808}`, l.sort), // past int64
				fmt.Sprintf(`{"s":%q,"k":-9223372036854775809,"i":1}`, l.sort),
				fmt.Sprintf(`{"s":%q,"k":1.5,"i":1}`, l.sort),
				fmt.Sprintf(`{"s":%q,"k":"0","i":1}`, l.sort),
				fmt.Sprintf(`{"s":%q}`, l.sort),
			)
			for _, inside := range ok {
				if res := get(t, l.path, inside); res.Status != http.StatusOK {
					t.Errorf("cursor %s: %d %s, want 200", inside, res.Status, res.Body)
				}
			}
			for _, inside := range bad {
				res := get(t, l.path, inside)
				var e ErrorBody
				if err := json.Unmarshal(res.Body, &e); res.Status != http.StatusBadRequest || err != nil ||
					e.Error.Code != model.EINVALID || !strings.Contains(e.Error.Message, "cursor") {
					t.Errorf("cursor %s: %d %s, want 400 invalid_argument naming cursor", inside, res.Status, res.Body)
				}
			}
		})
	}
	for _, line := range strings.Split(ts.Logs.String(), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) {
			t.Errorf("a tampered cursor was logged as an error: %s", line)
		}
	}
}

// TestSurrogateEscapes: a \u escape of half a UTF-16 surrogate pair is not
// text, and encoding/json would store it as U+FFFD; it is refused with a
// 400 naming the field. Valid pairs, escaped backslashes that only look
// like such an escape, and U+FFFD itself, sent or escaped, are text and are
// stored as sent.
func TestSurrogateEscapes(t *testing.T) {
	t.Parallel()
	ts, alice, _, post := newServerWithPost(t)
	comments := fmt.Sprintf("/api/v1/posts/%d/comments", post.ID)

	t.Run("ErrInvalid", func(t *testing.T) {
		for _, tc := range []struct {
			name, path, body, field string
		}{
			{"LoneHigh", "/api/v1/posts", `{"title":"t","body":"a\ud800b"}`, "body"},
			{"LoneLow", "/api/v1/posts", `{"title":"\udc00","body":"b"}`, "title"},
			{"ReversedPair", "/api/v1/posts", `{"title":"t","body":"\ude00\ud83d"}`, "body"},
			{"HighAtEnd", "/api/v1/posts", `{"title":"t","body":"x\uD83D"}`, "body"},
			{"HighThenOtherEscape", "/api/v1/posts", `{"title":"t","body":"\ud83d\u0041"}`, "body"},
			{"HighThenPair", "/api/v1/posts", `{"title":"t","body":"\ud800\ud83d\ude00"}`, "body"},
			{"AfterEscapedBackslash", "/api/v1/posts", `{"title":"t","body":"\\\ud800"}`, "body"},
			{"UnknownField", "/api/v1/posts", `{"title":"t","body":"b","note":"\udfff"}`, "note"},
			{"InKey", "/api/v1/posts", `{"\ud800":1,"title":"t","body":"b"}`, "request body"},
			{"Comment", comments, `{"body":"\ud800"}`, "body"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := ts.doChecked(t, "POST", tc.path, alice.Token, tc.body)
				wantError(t, res, http.StatusBadRequest, model.EINVALID, tc.field+" is not valid text")
			})
		}
	})
	t.Run("OK", func(t *testing.T) {
		for _, tc := range []struct {
			name, sent, stored string
		}{
			{"Pair", `\ud83d\ude00`, "😀"},
			{"PairUpperCase", `\uD83D\uDE00`, "😀"},
			{"EscapedBackslash", `\\ud800`, `\ud800`},
			{"EscapedBackslashThenPair", `\\\ud83d\ude00`, `\😀`},
			{"EscapedQuote", `\"\\udc00\"`, `"\udc00"`},
			{"ReplacementCharacter", "\uFFFD", "\uFFFD"},
			{"EscapedReplacementCharacter", `\ufffd`, "\uFFFD"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := ts.doChecked(t, "POST", "/api/v1/posts", alice.Token, `{"title":"t","body":"x`+tc.sent+`"}`)
				p := decodeAs[model.Post](t, res, http.StatusCreated, "create")
				ts.doChecked(t, "GET", fmt.Sprintf("/api/v1/posts/%d", p.ID), alice.Token, nil).JSON(t, &p)
				if p.Body != "x"+tc.stored {
					t.Fatalf("stored %q, want %q", p.Body, "x"+tc.stored)
				}
			})
		}
	})
}
