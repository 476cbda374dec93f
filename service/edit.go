package service

import (
	"context"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service/markdown"
)

// textEdit is an edit of a post's or a comment's text, the part that
// Posts.Update and Comments.Update share: the columns it sets, with the
// new body rendered, and their write under the row's lock, which rewrites
// the excerpts of the notifications that quote the row when its spoiler
// flag changes.
type textEdit struct {
	changes map[string]any // column -> new value, for UpdateColumns
	body    *string        // the new body, nil when it stays
	spoiler *bool          // the new flag, nil when it stays
}

// newTextEdit checks an edit of the body (at most bodyMax) and of the
// spoiler flag, each nil when it stays; stamp is the column that records
// when (edited_at, updated_at). Errors: EINVALID naming body.
func newTextEdit(stamp string, body *string, bodyMax int, spoiler *bool) (*textEdit, error) {
	e := &textEdit{changes: map[string]any{stamp: Now()}, spoiler: spoiler}
	if body != nil {
		text, err := model.Text("body", *body, 1, bodyMax)
		if err != nil {
			return nil, err
		}
		e.body, e.changes["body"] = &text, text
	}
	if spoiler != nil {
		e.changes["spoiler"] = *spoiler
	}
	return e, nil
}

// render renders a new body into body_html before the transaction (see
// bodies). Callers check first that the edit is allowed, so that nobody
// makes the server render what it will not store. Errors: as
// bodies.render's.
func (e *textEdit) render(ctx context.Context, html bodies) error {
	if e.body == nil {
		return nil
	}
	out, err := html.render(ctx, *e.body)
	if err != nil {
		return err
	}
	e.changes["body_html"], e.changes["body_html_version"] = out, markdown.Version
	return nil
}

// write applies the edit inside tx to row, a post or a comment that the
// caller has locked and whose body and spoiler flag are body and spoiler;
// UpdateColumns sets the new values on row too. When the flag changes, it
// rewrites the excerpts of the notifications that quote the row, which
// cond and id select (rewriteExcerpts).
func (e *textEdit) write(tx *gorm.DB, row any, body string, spoiler bool, cond string, id int64) error {
	if err := tx.Model(row).UpdateColumns(e.changes).Error; err != nil {
		return dbError(err)
	}
	if e.spoiler == nil || *e.spoiler == spoiler {
		return nil
	}
	if e.body != nil {
		body = *e.body
	}
	return rewriteExcerpts(tx, cond, id, body, *e.spoiler)
}

// rewriteExcerpts sets, inside tx, the excerpt of the notifications that
// quote a post's or comment's body (cond selects them) after its spoiler
// flag changed: "[spoiler]" from now on, or the body again. Excerpts
// written before a body edit keep the old text, as before; a spoiler is
// about what must not be read, so it reaches back.
func rewriteExcerpts(tx *gorm.DB, cond string, id int64, body string, spoiler bool) error {
	err := tx.Model(&model.Notification{}).Where(cond, id).UpdateColumn("excerpt", model.ExcerptOf(body, spoiler)).Error
	return dbError(err)
}
