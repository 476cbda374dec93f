package service

import (
	"context"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
)

// likes is Like and Unlike for one kind of item, posts or comments, which
// Posts and Comments embed: one transaction that takes the item's locks,
// makes the like row exist or not, moves the item's counter with it and,
// for a new like, tells the item's author (once per liker and item, ever);
// the notification is published after commit.
type likes struct {
	db      *gorm.DB
	notes   *Notifications
	counter counter
	// row returns the like of item id by userID.
	row func(id, userID int64) any
	// lock runs first in the transaction: it takes the locks a like (liking
	// true) or unlike of item id by actor needs, in the lock order, and
	// returns what the change needs of the item. Errors: ENOTFOUND for an
	// item that cannot be liked.
	lock func(tx *gorm.DB, id int64, actor *model.User, liking bool) (likeTarget, error)
}

// likeTarget is what a like needs of the liked item, read under its lock.
type likeTarget struct {
	// count is the item's like count before the change.
	count int64
	// plan is the author to tell of a new like, their user row locked
	// (planLike); empty on unlike and for one's own item.
	plan notifyPlan
	// notice records that the like was told (a *model.PostLikeNotice or
	// *model.CommentLikeNotice); liked inserts it.
	notice any
	// postID, commentID (nil for a post) and excerpt make the notification;
	// postID and commentID also address the live thread's like_count.
	postID    int64
	commentID *int64
	excerpt   string
}

// Like records that the signed-in user likes item id; liking twice changes
// nothing. Errors: EUNAUTHENTICATED, ENOTFOUND.
func (l *likes) Like(ctx context.Context, id int64) (*model.LikeState, error) {
	return l.set(ctx, id, true)
}

// Unlike removes the signed-in user's like of item id, if any.
// Errors: EUNAUTHENTICATED, ENOTFOUND.
func (l *likes) Unlike(ctx context.Context, id int64) (*model.LikeState, error) {
	return l.set(ctx, id, false)
}

func (l *likes) set(ctx context.Context, id int64, like bool) (*model.LikeState, error) {
	actor, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	row := l.row(id, actor.ID)
	var state model.LikeState
	var out Outbox
	var moved *model.ThreadEvent
	err = transact(ctx, l.db, func(tx *gorm.DB) error {
		out, moved = Outbox{}, nil
		target, err := l.lock(tx, id, actor, like)
		if err != nil {
			return err
		}
		delta, err := setRow(tx, row, like)
		if err != nil {
			return err
		}
		if err := bumpCounter(tx, l.counter, id, delta); err != nil {
			return err
		}
		if delta > 0 {
			if out, err = l.notes.liked(tx, actor, target); err != nil {
				return err
			}
		}
		// A comment's like count shows in its thread's pages
		// (comments_cache.go): the last lock the transaction takes.
		if delta != 0 && target.commentID != nil {
			if err := threadLikesChanged(tx, target.postID); err != nil {
				return err
			}
		}
		state = model.LikeState{LikeCount: max(target.count+delta, 0), Liked: like}
		if delta != 0 {
			moved = &model.ThreadEvent{Type: model.ThreadLikeCount, PostID: target.postID, CommentID: target.commentID, LikeCount: state.LikeCount}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	l.notes.publish(ctx, out)
	if moved != nil {
		l.notes.publishThread(ctx, moved)
	}
	return &state, nil
}
