package service

import (
	"context"
	"errors"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/quizsite/discuss/model"
)

// Notification levels: each user's level on each post (watching, normal,
// muted), kept in post_subscriptions. A row is either explicit, set by the
// user, or the implicit watching that the post's author gets with the post
// and a commenter with their first comment; no row is normal. Explicit rows
// are never overwritten by implicit ones, and removing an explicit level
// puts back the default row, if any.

// subscriptionsSort names the order of the subscription list in its
// cursors: by post id, newest post first.
const subscriptionsSort = "subscriptions"

// watchImplicitly makes userID watch post postID by default, inside tx,
// unless they already have a level there (explicit or not). The insert
// share-locks the post and the user, which every caller has already locked
// for update (see the package doc).
func watchImplicitly(tx *gorm.DB, postID, userID int64) error {
	query, args := watchStatement(tx, postID, userID)
	_, err := rawInsert(tx, "post_subscriptions", query, args...)
	return err
}

// watchStatement inserts userID's watch of post postID, which they did not
// choose, leaving a level already there as it is.
func watchStatement(tx *gorm.DB, postID, userID int64) (string, []any) {
	return "INSERT INTO post_subscriptions (post_id, user_id, level, explicit, updated_at) VALUES (?, ?, ?, ?, ?)" +
		ignoreDuplicate(tx, "post_id"), []any{postID, userID, model.LevelWatching, false, Now()}
}

// Subscription returns the signed-in user's level on post id. Errors:
// EUNAUTHENTICATED, ENOTFOUND.
func (s *Posts) Subscription(ctx context.Context, id int64) (*model.Subscription, error) {
	actor, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	db := s.db.WithContext(ctx)
	if err := livePostExists(db, actor, id); err != nil {
		return nil, err
	}
	return subscriptionOf(db, id, actor.ID)
}

// SetSubscription sets the signed-in user's level on post id, explicitly:
// no default replaces it until ResetSubscription. Errors: EUNAUTHENTICATED,
// EINVALID naming level, ENOTFOUND.
func (s *Posts) SetSubscription(ctx context.Context, id int64, level string) (*model.Subscription, error) {
	actor, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	if !model.ValidLevel(level) {
		return nil, model.Errorf(model.EINVALID, "level must be watching, normal or muted")
	}
	db := s.db.WithContext(ctx)
	if err := livePostExists(db, actor, id); err != nil {
		return nil, err
	}
	if err := putLevel(db, &model.PostSubscription{PostID: id, UserID: actor.ID, Level: level, Explicit: true}); err != nil {
		return nil, err
	}
	return &model.Subscription{Level: level, Explicit: true}, nil
}

// ResetSubscription removes the signed-in user's explicit level on post id
// and returns the default that applies again: watching for the post's
// author and for whoever commented on it, else normal. Errors:
// EUNAUTHENTICATED, ENOTFOUND.
func (s *Posts) ResetSubscription(ctx context.Context, id int64) (*model.Subscription, error) {
	actor, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	var sub *model.Subscription
	err = transact(ctx, s.db, func(tx *gorm.DB) error {
		p, err := livePost(tx, actor, id)
		if err != nil {
			return err
		}
		watches := p.AuthorID == actor.ID
		if !watches {
			var commented []int64
			err := tx.Model(&model.Comment{}).Where("post_id = ? AND author_id = ?", id, actor.ID).Limit(1).Pluck("id", &commented).Error
			if err != nil {
				return dbError(err)
			}
			watches = len(commented) > 0
		}
		sub = &model.Subscription{Level: model.LevelNormal}
		if !watches {
			return dbError(tx.Where("post_id = ? AND user_id = ?", id, actor.ID).Delete(&model.PostSubscription{}).Error)
		}
		sub.Level = model.LevelWatching
		return putLevel(tx, &model.PostSubscription{PostID: id, UserID: actor.ID, Level: model.LevelWatching})
	})
	if err != nil {
		return nil, err
	}
	return sub, nil
}

// Mute sets the signed-in user's level on post id to muted: no
// post_comment, comment_reply or thread_comment from it. Errors:
// EUNAUTHENTICATED, ENOTFOUND.
func (s *Posts) Mute(ctx context.Context, id int64) error {
	_, err := s.SetSubscription(ctx, id, model.LevelMuted)
	return err
}

// Unmute puts back the default level; see ResetSubscription. Errors:
// EUNAUTHENTICATED, ENOTFOUND.
func (s *Posts) Unmute(ctx context.Context, id int64) error {
	_, err := s.ResetSubscription(ctx, id)
	return err
}

// SubscriptionQuery selects a page of the signed-in user's subscriptions.
type SubscriptionQuery struct {
	Limit  int // 1 to MaxPageSize; 0 means DefaultPageSize
	Cursor string
}

// Subscriptions lists the live posts the signed-in user watches or has set
// a level on and may see (a hidden post is gone from its readers' lists),
// newest post first. Errors: EUNAUTHENTICATED, EINVALID naming limit or
// cursor.
func (s *Posts) Subscriptions(ctx context.Context, q SubscriptionQuery) (*Page[*model.SubscriptionItem], error) {
	actor, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	limit, after, err := pageStart(q.Limit, q.Cursor, subscriptionsSort, noKey)
	if err != nil {
		return nil, err
	}
	// A row is either watching or explicit, so every row is listed. The
	// walk follows post_subscriptions_user backwards.
	shown, shownArgs := shownTo(actor, "p")
	query := s.db.WithContext(ctx).Table("post_subscriptions AS s").
		Select("s.post_id, p.title, s.level, s.explicit").
		Joins("JOIN posts AS p ON p.id = s.post_id").
		Where("s.user_id = ? AND p.deleted_at IS NULL", actor.ID).Where(shown, shownArgs...).
		Order("s.post_id DESC").Limit(limit + 1)
	if after != nil {
		query = query.Where("s.post_id < ?", after.ID)
	}
	var rows []struct {
		PostID   int64
		Title    string
		Level    string
		Explicit bool
	}
	if err := query.Scan(&rows).Error; err != nil {
		return nil, dbError(err)
	}
	items := make([]*model.SubscriptionItem, len(rows))
	for i, r := range rows {
		items[i] = &model.SubscriptionItem{
			Post:         model.PostRef{ID: r.PostID, Title: r.Title},
			Subscription: model.Subscription{Level: r.Level, Explicit: r.Explicit},
		}
	}
	return newPage(items, limit, func(it *model.SubscriptionItem) cursor {
		return cursor{Sort: subscriptionsSort, ID: it.Post.ID}
	}), nil
}

// putLevel writes row, replacing the user's level on the post whatever it
// was, explicit or not.
func putLevel(db *gorm.DB, row *model.PostSubscription) error {
	row.UpdatedAt = Now()
	return dbError(db.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "post_id"}, {Name: "user_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"level", "explicit", "updated_at"}),
	}).Create(row).Error)
}

// livePostExists returns nil when post id exists, is not deleted and is visible
// to viewer (a hidden post to its author and moderators alone).
// Errors: ENOTFOUND.
func livePostExists(db *gorm.DB, viewer *model.User, id int64) error {
	_, err := livePost(db, viewer, id)
	return err
}

// livePost reads the id, author_id and hidden of post id, unlocked, when
// it is live and visible to viewer, as livePostExists checks it.
// Errors: ENOTFOUND.
func livePost(db *gorm.DB, viewer *model.User, id int64) (*model.Post, error) {
	var p model.Post
	if err := db.Select("id", "author_id", "hidden").Where("deleted_at IS NULL").Take(&p, id).Error; err != nil {
		return nil, notFound(err, "post %d not found", id)
	}
	if !p.VisibleTo(viewer) {
		return nil, model.Errorf(model.ENOTFOUND, "post %d not found", id)
	}
	return &p, nil
}

// subscriptionOf returns userID's level on post postID: its row, or normal.
func subscriptionOf(db *gorm.DB, postID, userID int64) (*model.Subscription, error) {
	var row model.PostSubscription
	err := db.Where("post_id = ? AND user_id = ?", postID, userID).Take(&row).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return &model.Subscription{Level: model.LevelNormal}, nil
	case err != nil:
		return nil, dbError(err)
	}
	return &model.Subscription{Level: row.Level, Explicit: row.Explicit}, nil
}

// viewerLevels returns userID's level on each of posts ids that has a row;
// the others are normal.
func viewerLevels(db *gorm.DB, userID int64, ids []int64) (map[int64]string, error) {
	var rows []model.PostSubscription
	err := db.Select("post_id", "level").Where("user_id = ? AND post_id IN ?", userID, uniqueIDs(ids)).Find(&rows).Error
	if err != nil {
		return nil, dbError(err)
	}
	levels := make(map[int64]string, len(rows))
	for _, r := range rows {
		levels[r.PostID] = r.Level
	}
	return levels, nil
}
