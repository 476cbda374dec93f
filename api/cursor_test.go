package api

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
