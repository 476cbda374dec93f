package service

import (
	"context"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
)

// likes is Like and Unlike for one kind of item, posts or comments, which
// Posts and Comments embed: one transaction that takes the item's locks,
// makes the like row exist or not, and moves the item's counter with it.
type likes struct {
	db      *gorm.DB
	counter counter
	// row returns the like of item id by userID.
	row func(id, userID int64) any
	// lock runs first in the transaction: it takes the locks a like of
	// item id by actor needs, in the lock order, and returns the item's
	// like count before the change. Errors: ENOTFOUND for an item that
	// cannot be liked.
	lock func(tx *gorm.DB, id int64, actor *model.User) (int64, error)
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
	err = transact(ctx, l.db, func(tx *gorm.DB) error {
		count, err := l.lock(tx, id, actor)
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
		state = model.LikeState{LikeCount: max(count+delta, 0), Liked: like}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &state, nil
}
