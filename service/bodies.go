package service

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service/markdown"
)

// bodies renders the Markdown bodies of posts and comments into the
// body_html stored with them (package markdown), linking the mentions of
// users that exist when the body is written. Posts and Comments render
// before their transactions: highlighting a long code block takes
// milliseconds, which no row lock should wait for.
type bodies struct {
	db *gorm.DB
	md *markdown.Renderer
}

func newBodies(db *gorm.DB) bodies { return bodies{db: db, md: markdown.New()} }

// render returns the HTML of body. Errors: EUNAVAILABLE, or internal.
func (b bodies) render(ctx context.Context, body string) (string, error) {
	html, _, err := renderBody(b.db.WithContext(ctx), b.md, body)
	return html, err
}

// renderMentions is render that also returns the ids of the users body
// mentions, whom a new comment notifies: one lookup serves both.
func (b bodies) renderMentions(ctx context.Context, body string) (string, []int64, error) {
	html, users, err := renderBody(b.db.WithContext(ctx), b.md, body)
	if err != nil {
		return "", nil, err
	}
	ids := make([]int64, 0, len(users))
	for _, u := range users {
		ids = append(ids, u.ID)
	}
	return html, ids, nil
}

// renderBody returns the HTML of body and the existing users it mentions.
func renderBody(db *gorm.DB, md *markdown.Renderer, body string) (string, map[string]markdown.User, error) {
	users, err := mentionedUsers(db, body)
	if err != nil {
		return "", nil, err
	}
	html, err := md.Render(body, users)
	return html, users, err
}

// mentionedUsers returns the users that body mentions (ParseMentions) who
// exist, by username key; no query when it mentions nobody.
func mentionedUsers(db *gorm.DB, body string) (map[string]markdown.User, error) {
	names := ParseMentions(body)
	if len(names) == 0 {
		return nil, nil
	}
	keys := make([]string, len(names))
	for i, name := range names {
		keys[i] = model.UsernameKey(name)
	}
	var found []model.User
	if err := db.Select("id", "username").Where("username_key IN ?", keys).Find(&found).Error; err != nil {
		return nil, dbError(err)
	}
	users := make(map[string]markdown.User, len(found))
	for _, u := range found {
		users[model.UsernameKey(u.Username)] = markdown.User{ID: u.ID, Username: u.Username}
	}
	return users, nil
}

// renderBatch is how many rows RenderStoredBodies reads at a time.
const renderBatch = 200

// RenderStoredBodies renders the body_html of every post and comment whose
// body_html_version is below markdown.Version: all of them after migration
// 00007 adds the column, rows an older binary wrote since, and all of them
// again after a change of the renderer. `discuss migrate up` and `discuss
// serve` call it; it returns how many rows it rendered.
//
// It is idempotent and safe to run on several instances at once: each row
// is written only while its version is still old and its body is the one
// rendered, so a row edited meanwhile keeps the edit's HTML, and two
// instances rendering the same row write the same thing. Rows are read in
// id order through the version index, renderBatch at a time, so memory
// stays flat whatever the table size. A deleted row is rendered too: it
// costs little, and leaves no row behind to be found at every start.
func RenderStoredBodies(ctx context.Context, db *gorm.DB) (int, error) {
	md := markdown.New()
	total := 0
	for _, table := range []string{"posts", "comments"} {
		n, err := renderTable(ctx, db.WithContext(ctx), md, table)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func renderTable(ctx context.Context, db *gorm.DB, md *markdown.Renderer, table string) (int, error) {
	type row struct {
		ID     int64
		PostID int64
		Body   string
	}
	cols := []string{"id", "body"}
	if table == "comments" {
		// A comment rendered again changes its post's thread pages,
		// which the page caches of every instance then read again
		// (comments_cache.go).
		cols = append(cols, "post_id")
	}
	done := 0
	var after int64
	for {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		var rows []row
		err := db.Table(table).Select(cols).Where("body_html_version < ? AND id > ?", markdown.Version, after).
			Order("id").Limit(renderBatch).Find(&rows).Error
		if err != nil {
			return done, dbError(err)
		}
		var posts []int64
		for _, r := range rows {
			html, _, err := renderBody(db, md, r.Body)
			if err != nil {
				return done, fmt.Errorf("render %s %d: %w", table, r.ID, err)
			}
			err = db.Table(table).Where("id = ? AND body_html_version < ? AND body = ?", r.ID, markdown.Version, r.Body).
				UpdateColumns(map[string]any{"body_html": html, "body_html_version": markdown.Version}).Error
			if err != nil {
				return done, dbError(err)
			}
			if r.PostID != 0 {
				posts = append(posts, r.PostID)
			}
			done++
		}
		if len(posts) > 0 {
			if err := threadChanged(db, uniqueIDs(posts)...); err != nil {
				return done, err
			}
		}
		if len(rows) < renderBatch {
			return done, nil
		}
		after = rows[len(rows)-1].ID
	}
}
