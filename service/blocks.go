package service

import (
	"context"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/quizsite/discuss/model"
)

// Blocks keeps each user's blocks. A user who blocks another hears of
// nothing the other does: every notification plan leaves out the users who
// blocked its actor (lockPlan), the fan-out too, and the reads of
// notifications leave out those whose actor the recipient has blocked
// since they were written (shownNotifications). The blocked user's posts
// and comments carry author_blocked in the blocker's views, for the client
// to collapse. System notifications are not a user's doing: a block of an
// admin does not silence them.
type Blocks struct {
	db    *gorm.DB
	notes *Notifications
}

// NewBlocks returns the blocks service; notes withdraws the notifications
// a block makes unwanted and publishes the new counts.
func NewBlocks(db *gorm.DB, notes *Notifications) *Blocks {
	return &Blocks{db: db, notes: notes}
}

// blocksSort names the order of a user's list of blocks in its cursors.
const blocksSort = "blocks"

// Block makes the signed-in user block user id; blocking twice changes
// nothing. In the same transaction the blocker's notifications caused by
// that user are withdrawn, and the blocker hears their new counts after
// commit. Unblocking brings none of them back.
//
// The transaction holds the blocker's user row, which every writer of the
// blocker's notifications locks before it reads the blocks (see
// lockPlan): a writer that locked it first has committed when the
// withdrawal runs, and one that locks it after sees the block.
// Errors: EUNAUTHENTICATED; EINVALID for oneself; ENOTFOUND for an unknown
// user.
func (s *Blocks) Block(ctx context.Context, id int64) error {
	actor, err := blocker(ctx, s.db.WithContext(ctx), id)
	if err != nil {
		return err
	}
	var out Outbox
	err = transact(ctx, s.db, func(tx *gorm.DB) error {
		out = Outbox{}
		// Both rows, in id order: the block row's foreign keys would
		// share-lock the blocked user's out of order.
		if _, err := lockUsers(tx, []int64{actor.ID, id}); err != nil {
			return err
		}
		row := &model.UserBlock{UserID: actor.ID, BlockedID: id, CreatedAt: Now()}
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(row).Error; err != nil {
			return dbError(err)
		}
		users, _, err := removeWhere(tx, "user_id = ? AND actor_id = ? AND type <> ?", actor.ID, id, model.NotifySystem)
		out.recounts = users
		return err
	})
	if err != nil {
		return err
	}
	s.notes.publish(ctx, out)
	return nil
}

// Unblock removes the signed-in user's block of user id, if any.
// Errors: EUNAUTHENTICATED; EINVALID for oneself; ENOTFOUND for an unknown
// user.
func (s *Blocks) Unblock(ctx context.Context, id int64) error {
	db := s.db.WithContext(ctx)
	actor, err := blocker(ctx, db, id)
	if err != nil {
		return err
	}
	return dbError(db.Where("user_id = ? AND blocked_id = ?", actor.ID, id).Delete(&model.UserBlock{}).Error)
}

// List returns a page of the users the signed-in user blocks, the latest
// block first. Errors: EUNAUTHENTICATED, EINVALID for a bad limit or
// cursor.
func (s *Blocks) List(ctx context.Context, limit int, cursorText string) (*Page[*model.BlockedUser], error) {
	actor, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	limit, after, err := pageStart(limit, cursorText, blocksSort, noKey)
	if err != nil {
		return nil, err
	}
	db := s.db.WithContext(ctx)
	q := db.Where("user_id = ?", actor.ID).Order("id DESC").Limit(limit + 1)
	if after != nil {
		q = q.Where("id < ?", after.ID)
	}
	var rows []*model.UserBlock
	if err := q.Find(&rows).Error; err != nil {
		return nil, dbError(err)
	}
	blocks := newPage(rows, limit, func(b *model.UserBlock) cursor { return cursor{Sort: blocksSort, ID: b.ID} })
	ids := make([]int64, len(blocks.Items))
	for i, b := range blocks.Items {
		ids[i] = b.BlockedID
	}
	authors, err := fetchAuthors(db, ids)
	if err != nil {
		return nil, err
	}
	page := &Page[*model.BlockedUser]{Items: make([]*model.BlockedUser, len(blocks.Items)), NextCursor: blocks.NextCursor}
	for i, b := range blocks.Items {
		page.Items[i] = &model.BlockedUser{User: authors[b.BlockedID], CreatedAt: b.CreatedAt}
	}
	return page, nil
}

// blocker returns the signed-in user, who blocks or unblocks user id,
// once both may: not oneself, and a user that exists.
// Errors: EUNAUTHENTICATED, EINVALID, ENOTFOUND.
func blocker(ctx context.Context, db *gorm.DB, id int64) (*model.User, error) {
	actor, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	if id == actor.ID {
		return nil, model.Errorf(model.EINVALID, "id: you cannot block yourself")
	}
	return actor, userExists(db, id)
}

// userExists returns ENOTFOUND unless user id exists.
func userExists(db *gorm.DB, id int64) error {
	var n int64
	if err := db.Model(&model.User{}).Where("id = ?", id).Count(&n).Error; err != nil {
		return dbError(err)
	}
	if n == 0 {
		return model.Errorf(model.ENOTFOUND, "user %d not found", id)
	}
	return nil
}

// blockedBy returns which of authors viewer has blocked, for the
// author_blocked flags of a page; none for no viewer.
func blockedBy(db *gorm.DB, viewer *model.User, authors []int64) (map[int64]bool, error) {
	out := map[int64]bool{}
	if viewer == nil || len(authors) == 0 {
		return out, nil
	}
	var ids []int64
	err := db.Model(&model.UserBlock{}).Where("user_id = ? AND blocked_id IN ?", viewer.ID, uniqueIDs(authors)).
		Pluck("blocked_id", &ids).Error
	if err != nil {
		return nil, dbError(err)
	}
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}
