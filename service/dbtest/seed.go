package dbtest

import (
	"fmt"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/service"
)

// SeedWatchers inserts n users named watcher_00000 and on straight into
// the database, 1,000 to a statement, all explicitly watching post postID:
// a popular thread in seconds, where signing each up would take minutes.
func SeedWatchers(t testing.TB, db *gorm.DB, postID int64, n int) {
	t.Helper()
	now := service.Now()
	for start := 0; start < n; start += 1000 {
		var values []string
		var args []any
		for i := start; i < min(start+1000, n); i++ {
			values = append(values, "(?, ?, 'user', ?)")
			args = append(args, fmt.Sprintf("watcher_%05d", i), "Watcher", now)
		}
		err := db.Exec("INSERT INTO users (username, display_name, role, created_at) VALUES "+strings.Join(values, ", "), args...).Error
		if err != nil {
			t.Fatal(err)
		}
	}
	err := db.Exec("INSERT INTO post_subscriptions (post_id, user_id, level, explicit, updated_at) "+
		"SELECT ?, id, 'watching', TRUE, ? FROM users WHERE username LIKE 'watcher!_%' ESCAPE '!'", postID, now).Error
	if err != nil {
		t.Fatal(err)
	}
}
