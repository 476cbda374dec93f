package service

import (
	"context"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
)

// Notifications writes notifications in the transactions of the changes
// that cause them, lists them and marks them read.
type Notifications struct {
	db  *gorm.DB
	pub Publisher
}

// NewNotifications returns the notifications service; pub is told about
// every change after it commits.
func NewNotifications(db *gorm.DB, pub Publisher) *Notifications {
	return &Notifications{db: db, pub: pub}
}

// Outbox is what a transaction wrote that clients must hear of once it
// commits. The caller passes it to Notifications.Publish after commit and
// drops it on rollback.
type Outbox struct {
	notifications []*model.Notification
}

// postCreated writes, inside tx, the mention notifications of a new post.
func (s *Notifications) postCreated(tx *gorm.DB, actor *model.User, p *model.Post) (Outbox, error) {
	return Outbox{}, nil
}

// commentCreated writes, inside tx, the notifications that the new comment c
// causes. post is c's post, parent the comment c replies to (nil for a
// top-level comment).
func (s *Notifications) commentCreated(tx *gorm.DB, actor *model.User, post *model.Post, parent, c *model.Comment) (Outbox, error) {
	return Outbox{}, nil
}

// commentsDeleted removes, inside tx, the notifications of the deleted
// comments, so they leave every list and unread count.
func (s *Notifications) commentsDeleted(tx *gorm.DB, commentIDs []int64) (Outbox, error) {
	return Outbox{}, nil
}

// Publish tells clients about what a committed transaction wrote. Publish
// errors are logged, never returned: the rows are the truth.
func (s *Notifications) Publish(ctx context.Context, out Outbox) {}
