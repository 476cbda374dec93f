package service

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/quizsite/discuss/model"
)

// Counting: each user's unread and unseen notification counts, stored in
// users.unread_notifications and users.unseen_notifications (migration
// 00011) and moved with the rows they count.
//
// Counting the rows instead cost a range scan of every unread notification
// the user had, on every publish: a user who never reads made each of their
// new notifications slower than the last (twenty watchers of a busy post
// read 1.5 million index entries a second between them).
//
// The counters are exact because every change to what they count holds
// the user's row lock, and moves them in its own transaction:
//   - a new notification (write, writeThreadComments) is written under the
//     lock its plan took, and bumpSeqs adds one to both counters with its
//     sequence. It is unseen as well as unread: ids only grow, and the
//     seen mark is the id of one of the user's earlier notifications.
//   - marking read (markRead, MarkOneRead) locks the user first and takes
//     the rows it turned read from its count of them.
//   - moving the seen mark (MarkSeen) locks the user first and takes the
//     rows it passed from the unseen count.
//   - removing rows (removeWhere, also retention's) locks their users,
//     then the rows, and takes off what each user lost.
// Plain reads in those transactions come after the user's lock, so their
// snapshot holds every change to the user's rows: any other writer of them
// has committed before the lock was granted.

// countsColumns are the unread and unseen counts of the user u, as columns
// of a statement over users u.
const countsColumns = `u.unread_notifications AS unread, u.unseen_notifications AS unseen`

// counts returns userID's unread and unseen counts; an unknown user has
// none.
func (s *notificationCore) counts(ctx context.Context, userID int64) (model.NotificationCounts, error) {
	var c model.NotificationCounts
	err := scanOne(s.db.WithContext(ctx), `SELECT `+countsColumns+` FROM users u WHERE u.id = ?`, []any{userID}, &c.Unread, &c.Unseen)
	if errors.Is(err, sql.ErrNoRows) {
		return model.NotificationCounts{}, nil
	}
	return c, err
}

// countsOf returns the unread and unseen counts of each of users that
// exists, in one statement. At most lookupChunk users at once.
func (s *notificationCore) countsOf(ctx context.Context, users []int64) (map[int64]model.NotificationCounts, error) {
	var rows []struct {
		ID     int64
		Unread int64
		Unseen int64
	}
	err := s.db.WithContext(ctx).Raw(`SELECT u.id, `+countsColumns+` FROM users u WHERE u.id IN ?`, users).
		Scan(&rows).Error
	if err != nil {
		return nil, dbError(err)
	}
	byUser := make(map[int64]model.NotificationCounts, len(rows))
	for _, r := range rows {
		byUser[r.ID] = model.NotificationCounts{Unread: r.Unread, Unseen: r.Unseen}
	}
	return byUser, nil
}

// lockSeen locks, inside tx, the rows of the users ids, ascending by id (the
// lock order), and returns the seen mark of each that exists.
func lockSeen(tx *gorm.DB, ids []int64) (map[int64]int64, error) {
	var rows []struct{ ID, NotificationSeenID int64 }
	err := tx.Table("users").Select("id", "notification_seen_id").Where("id IN ?", ids).Order("id").
		Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).Scan(&rows).Error
	if err != nil {
		return nil, dbError(err)
	}
	seen := make(map[int64]int64, len(rows))
	for _, r := range rows {
		seen[r.ID] = r.NotificationSeenID
	}
	return seen, nil
}

// uncount takes from the counters of each of users, inside tx, what they
// lost: unread and unseen notifications. The caller holds their locks.
// Users who lost alike share a statement: a deleted post's notifications
// are mostly one each of its readers'.
func uncount(tx *gorm.DB, lost map[int64]countsLost) error {
	alike := map[countsLost][]int64{}
	for u, l := range lost {
		if l != (countsLost{}) {
			alike[l] = append(alike[l], u)
		}
	}
	for l, users := range alike {
		slices.Sort(users)
		for chunk := range slices.Chunk(users, lookupChunk) {
			err := tx.Exec(`UPDATE `+usersByKey(tx)+` SET unread_notifications = unread_notifications - ?,
				unseen_notifications = unseen_notifications - ? WHERE id IN ?`, l.unread, l.unseen, chunk).Error
			if err != nil {
				return dbError(err)
			}
		}
	}
	return nil
}

// countsLost is what one user's counters lose to a removal.
type countsLost struct{ unread, unseen int64 }

// removeWhere deletes, inside tx, the notifications matching the condition,
// takes them off their users' counts, and returns the users who had unread
// ones among them and how many it deleted.
//
// It keeps the lock order: it locks the users whose notifications match,
// found by a plain read, then reads the rows with a locking read, which
// sees every committed one (the transaction's snapshot may be older). Rows
// of a user that the plain read missed, committed meanwhile, have their
// user locked after them, out of order; the rare deadlock that can cause
// is retried by transact. What it takes off is read under both locks: no
// row can be marked read, and no seen mark move, until it commits.
func removeWhere(tx *gorm.DB, cond string, args ...any) ([]int64, int, error) {
	var users []int64
	if err := tx.Model(&model.Notification{}).Where(cond, args...).Distinct().Pluck("user_id", &users).Error; err != nil {
		return nil, 0, dbError(err)
	}
	if len(users) == 0 {
		return nil, 0, nil
	}
	seen, err := lockSeen(tx, users)
	if err != nil {
		return nil, 0, err
	}
	var rows []struct {
		ID     int64
		UserID int64
		IsRead bool
	}
	err = tx.Table("notifications").Select("id", "user_id", "is_read").Where(cond, args...).Order("id").
		Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).Scan(&rows).Error
	if err != nil {
		return nil, 0, dbError(err)
	}
	var late []int64
	for _, r := range rows {
		if _, ok := seen[r.UserID]; !ok {
			late = append(late, r.UserID)
		}
	}
	if len(late) > 0 {
		more, err := lockSeen(tx, late)
		if err != nil {
			return nil, 0, err
		}
		maps.Copy(seen, more)
	}
	lost := make(map[int64]countsLost, len(seen))
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
		l := lost[r.UserID]
		if !r.IsRead {
			l.unread++
		}
		if r.ID > seen[r.UserID] {
			l.unseen++
		}
		lost[r.UserID] = l
	}
	for chunk := range slices.Chunk(ids, deleteChunk) {
		if err := tx.Where("id IN ?", chunk).Delete(&model.Notification{}).Error; err != nil {
			return nil, 0, dbError(err)
		}
	}
	if err := uncount(tx, lost); err != nil {
		return nil, 0, err
	}
	var recount []int64
	for u, l := range lost {
		if l.unread > 0 {
			recount = append(recount, u)
		}
	}
	slices.Sort(recount)
	return recount, len(rows), nil
}

// markRows marks read, inside tx, the unread notifications of userID that q
// selects (q must select only unread ones of userID's), takes them off the
// user's unread count, and returns how many it marked. The caller holds the
// user's lock.
func markRows(tx *gorm.DB, userID int64, q *gorm.DB) (int64, error) {
	res := q.Update("is_read", true)
	if res.Error != nil {
		return 0, dbError(res.Error)
	}
	return res.RowsAffected, uncount(tx, map[int64]countsLost{userID: {unread: res.RowsAffected}})
}
