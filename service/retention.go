package service

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
)

// Retention says which notifications are kept: none older than MaxAge, and
// no more than the newest KeepPerUser of each user. A zero field keeps
// everything on its account.
type Retention struct {
	MaxAge      time.Duration
	KeepPerUser int
}

// RunRetention applies the retention policy at once and then every every
// until ctx ends, so the notifications table cannot grow without bound.
// Failures are logged and retried at the next tick.
func (s *Notifications) RunRetention(ctx context.Context, every time.Duration, policy Retention) {
	if every <= 0 {
		s.log.ErrorContext(ctx, "notifications: retention disabled: the interval must be positive", "every", every.String())
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		deleted, err := s.Prune(ctx, policy)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.ErrorContext(ctx, "notifications: retention", "deleted", deleted, "error", err.Error())
		case deleted > 0:
			s.log.InfoContext(ctx, "notifications: retention", "deleted", deleted)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Prune deletes the notifications the policy does not keep and returns how
// many it deleted. It works in statements of at most retentionBatch rows,
// each its own short transaction, so that it never holds many locks or
// builds a large undo log while comments are being written. Users who lose
// unread notifications hear their new count.
func (s *Notifications) Prune(ctx context.Context, policy Retention) (int64, error) {
	var deleted int64
	recount := map[int64]bool{}
	defer func() {
		var out Outbox
		for u := range recount {
			out.recounts = append(out.recounts, u)
		}
		s.publish(ctx, out)
	}()

	if policy.MaxAge > 0 {
		n, err := s.pruneOlder(ctx, Now().Add(-policy.MaxAge), recount)
		deleted += n
		if err != nil {
			return deleted, err
		}
	}
	if policy.KeepPerUser > 0 {
		n, err := s.pruneOverflow(ctx, policy.KeepPerUser, recount)
		deleted += n
		if err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}

// pruneOlder deletes the notifications created before cutoff, a batch at a
// time, through the created_at index.
func (s *Notifications) pruneOlder(ctx context.Context, cutoff time.Time, recount map[int64]bool) (int64, error) {
	var deleted int64
	for {
		var rows []*model.Notification
		err := s.db.WithContext(ctx).Select("id").
			Where("created_at < ?", cutoff).Limit(s.retentionBatch).Find(&rows).Error
		if err != nil {
			return deleted, dbError(err)
		}
		n, err := s.deleteRows(ctx, rows, recount)
		deleted += n
		if err != nil || len(rows) < s.retentionBatch {
			return deleted, err
		}
	}
}

// pruneOverflow deletes, for every user with more than keep notifications,
// all but the newest keep. Users are visited in id order, a batch at a time.
func (s *Notifications) pruneOverflow(ctx context.Context, keep int, recount map[int64]bool) (int64, error) {
	var deleted int64
	var lastUser int64
	for {
		var users []int64
		err := s.db.WithContext(ctx).Model(&model.Notification{}).Where("user_id > ?", lastUser).
			Group("user_id").Having("COUNT(*) > ?", keep).Order("user_id").Limit(s.retentionBatch).
			Pluck("user_id", &users).Error
		if err != nil {
			return deleted, dbError(err)
		}
		for _, u := range users {
			// The id of the oldest notification kept.
			var kept []int64
			err := s.db.WithContext(ctx).Model(&model.Notification{}).Where("user_id = ?", u).
				Order("id DESC").Offset(keep-1).Limit(1).Pluck("id", &kept).Error
			if err != nil {
				return deleted, dbError(err)
			}
			if len(kept) == 0 {
				continue // pruned meanwhile, by another instance
			}
			boundary := kept[0]
			for {
				var rows []*model.Notification
				err := s.db.WithContext(ctx).Select("id").
					Where("user_id = ? AND id < ?", u, boundary).Limit(s.retentionBatch).Find(&rows).Error
				if err != nil {
					return deleted, dbError(err)
				}
				n, err := s.deleteRows(ctx, rows, recount)
				deleted += n
				if err != nil {
					return deleted, err
				}
				if len(rows) < s.retentionBatch {
					break
				}
			}
		}
		if len(users) < s.retentionBatch {
			return deleted, nil
		}
		lastUser = users[len(users)-1]
	}
}

// deleteRows deletes the given notifications, in a transaction that takes
// them off their users' counts, and notes in recount the users who lost
// unread ones.
func (s *Notifications) deleteRows(ctx context.Context, rows []*model.Notification, recount map[int64]bool) (int64, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	ids := make([]int64, len(rows))
	for i, n := range rows {
		ids[i] = n.ID
	}
	var users []int64
	var deleted int
	err := transact(ctx, s.db, func(tx *gorm.DB) error {
		var err error
		users, deleted, err = removeWhere(tx, "id IN ?", ids)
		return err
	})
	if err != nil {
		return 0, err
	}
	for _, u := range users {
		recount[u] = true
	}
	return int64(deleted), nil
}
