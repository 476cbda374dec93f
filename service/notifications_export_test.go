package service

import (
	"context"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
)

// Test access to what only the posts and comments services call.

// CommentCreatedHook drafts, plans and writes, in tx, the notifications of comment
// c, as Comments.Create does around its insert, on a post where nobody has
// a level.
func (s *Notifications) CommentCreatedHook(tx *gorm.DB, actor *model.User, post *model.Post, parent, c *model.Comment) (Outbox, error) {
	users, err := mentionedUsers(tx, c.Body)
	if err != nil {
		return Outbox{}, err
	}
	var mentioned []int64
	for _, u := range users {
		mentioned = append(mentioned, u.ID)
	}
	draft := draftComment(actor, &commentTarget{post: post, parent: parent}, mentioned)
	plan, err := lockPlan(tx, actor, draft.to)
	if err != nil {
		return Outbox{}, err
	}
	return s.commentCreated(tx, plan, actor, post, c, draft.watched)
}

// PostDeletedHook runs the postDeleted hook in tx.
func (s *Notifications) PostDeletedHook(tx *gorm.DB, postID int64) (Outbox, error) {
	return s.postDeleted(tx, postID)
}

// Publish publishes out, as the services do after commit.
func (s *Notifications) Publish(ctx context.Context, out Outbox) { s.publish(ctx, out) }

// SetRetentionBatch makes retention delete n rows per statement.
func (s *Notifications) SetRetentionBatch(n int) { s.retentionBatch = n }
