package service

import (
	"context"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
)

// Delete soft-deletes a comment; its author, moderators and admins may. In
// the same transaction it moves the counters and removes the comment's
// notifications. Errors: ENOTFOUND, EPERMISSION.
func (s *Comments) Delete(ctx context.Context, id int64) error {
	actor, err := signedIn(ctx)
	if err != nil {
		return err
	}
	// A comment never changes post; reading which one first lets the
	// transaction lock the post before the comment, in the order of every
	// other writer of the thread.
	c, err := commentOfLivePost(s.db.WithContext(ctx), actor, id, commentsLiveTo)
	if err != nil {
		return err
	}
	if c.AuthorID != actor.ID && !actor.CanModerate() {
		return model.Errorf(model.EPERMISSION, "only the author, a moderator or an admin may delete comment %d", id)
	}
	var out Outbox
	err = transact(ctx, s.db, func(tx *gorm.DB) error {
		// The post went away since the read above, and the comment with
		// it, or a concurrent delete won: both are ENOTFOUND. Any other
		// error is the database's, and a deadlock must reach transact to
		// be retried.
		locked, err := lockLiveComment(tx, id, c.PostID)
		if err != nil {
			return err
		}
		out, err = s.notes.removeComment(tx, locked)
		return err
	})
	if err != nil {
		return err
	}
	s.notes.publish(ctx, out)
	return nil
}

// lockLiveComment locks, inside tx, post postID and then comment id of it
// (lockPostOf and lockTarget, the package's lock order) and returns the
// comment. Update and Delete read the comment before their transaction; a
// delete of it or of its post since then is ENOTFOUND. Errors: ENOTFOUND.
func lockLiveComment(tx *gorm.DB, id, postID int64) (*model.Comment, error) {
	post, err := lockPostOf(tx, model.TargetComment, id, postID)
	if err != nil {
		return nil, err
	}
	t, err := lockTarget(tx, post, model.TargetComment, id)
	if err != nil {
		return nil, err
	}
	if t.deleted() {
		return nil, model.Errorf(model.ENOTFOUND, "comment %d not found", id)
	}
	return t.comment, nil
}

// removeComment soft-deletes the live comment c, locked after its post
// (lockTarget), inside tx: it moves the counters that count c (none when
// it is hidden, which took it off them) and removes its notifications.
func (s *Notifications) removeComment(tx *gorm.DB, c *model.Comment) (Outbox, error) {
	if err := tx.Model(c).UpdateColumn("deleted_at", Now()).Error; err != nil {
		return Outbox{}, dbError(err)
	}
	// Even a hidden one: its author saw it, and the cache's list of the
	// post's hidden comments changes.
	if err := threadChanged(tx, c.PostID); err != nil {
		return Outbox{}, err
	}
	if !c.Hidden {
		if err := moveCommentCounters(tx, c, -1); err != nil {
			return Outbox{}, err
		}
	}
	out, err := s.commentsDeleted(tx, []int64{c.ID})
	if err == nil && !c.Hidden { // readers never saw a hidden one
		out.threads = append(out.threads, commentGone(c))
	}
	return out, err
}

// commentGone is the live-thread event of comment c deleted or hidden.
func commentGone(c *model.Comment) *model.ThreadEvent {
	id := c.ID
	return &model.ThreadEvent{Type: model.ThreadCommentDeleted, PostID: c.PostID, CommentID: &id}
}
