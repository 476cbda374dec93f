package service

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"gorm.io/gorm"

	"github.com/quizsite/discuss/model"
)

// Reading and marking one user's notifications: the hub's
// NotificationStore, and the per-user core that it and the signed-in calls
// of Notifications share.

// lookupChunk bounds the IN lists of lookups by user id.
const lookupChunk = 500

// NotificationStore is what the hub reads and marks notifications through,
// for any user it names (it implements notify.Store; cmd proves the fit).
// Get it from Notifications.Store: the two share one publisher, so the
// counts each publishes for a user reach clients in the order they were
// taken.
type NotificationStore struct {
	*notificationCore
	// prep runs the hub's reads on connect as prepared statements.
	prep *gorm.DB
}

// NotificationsAfter returns userID's notifications with an id above
// afterID, oldest first, at most limit, with their actors. It is how a
// client resumes from the largest id it has seen. Errors: EINVALID for a
// limit below 1.
func (s *NotificationStore) NotificationsAfter(ctx context.Context, userID, afterID int64, limit int) ([]*model.Notification, error) {
	return s.oldestFirst(ctx, notificationsAfterSQL, limit, userID, afterID)
}

// UnreadNotifications returns userID's unread notifications, oldest first,
// at most limit, with their actors. Errors: EINVALID for a limit below 1.
func (s *NotificationStore) UnreadNotifications(ctx context.Context, userID int64, limit int) ([]*model.Notification, error) {
	return s.oldestFirst(ctx, unreadNotificationsSQL, limit, userID, false)
}

// The hub's reads of one user's notifications, on every connect and
// catch-up: notifications n with their actors a, less those the recipient
// is not shown (shownNotifications), tested here as outer joins that find
// nothing (each a lookup by key, as there), which MariaDB plans as plainly
// as the join of the actor, where the NOT EXISTS subqueries are planned
// and run one by one per row. Their arguments: the user, the condition's,
// then model.NotifySystem, true, true, and the limit.
const (
	shownNotificationsFrom = `SELECT n.id, n.user_id, n.seq, n.type, n.actor_id, n.post_id, n.comment_id, n.excerpt, n.is_read, n.created_at,
		a.username, a.display_name
		FROM notifications n
		LEFT JOIN users a ON a.id = n.actor_id
		LEFT JOIN user_blocks sb ON sb.user_id = n.user_id AND sb.blocked_id = n.actor_id AND n.type <> ?
		LEFT JOIN posts sp ON sp.id = n.post_id AND sp.hidden = ?
		LEFT JOIN comments sc ON sc.id = n.comment_id AND sc.hidden = ?
		WHERE sb.id IS NULL AND sp.id IS NULL AND sc.id IS NULL AND n.user_id = ?`
	notificationsAfterSQL  = shownNotificationsFrom + ` AND n.id > ? ORDER BY n.id LIMIT ?`
	unreadNotificationsSQL = shownNotificationsFrom + ` AND n.is_read = ? ORDER BY n.id LIMIT ?`
)

// oldestFirst runs query, one of the statements above, for userID and
// cond, and returns at most limit notifications, oldest first, scanned by
// hand: GORM's reflective scan cost more than the query on connect.
func (s *NotificationStore) oldestFirst(ctx context.Context, query string, limit int, userID int64, cond any) ([]*model.Notification, error) {
	if limit <= 0 {
		return nil, model.Errorf(model.EINVALID, "limit must be positive")
	}
	rows, err := rawRows(s.prep.WithContext(ctx), query, model.NotifySystem, true, true, userID, cond, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []*model.Notification{}
	for rows.Next() {
		var n model.Notification
		var username, displayName sql.NullString
		if err := rows.Scan(&n.ID, &n.UserID, &n.Seq, &n.Type, &n.ActorID, &n.PostID, &n.CommentID, &n.Excerpt, &n.Read, &n.CreatedAt,
			&username, &displayName); err != nil {
			return nil, dbError(err)
		}
		if n.ActorID != nil && username.Valid {
			n.Actor = &model.Author{ID: *n.ActorID, Username: username.String, DisplayName: displayName.String}
		}
		list = append(list, &n)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err)
	}
	return list, nil
}

// findWithActors runs q, a query of notifications n, and returns them with
// their actors, read in the same statement: a join costs less than a second
// round trip for the actors, on the hub's reads for every socket that
// connects or catches up as on the REST list.
func (s *notificationCore) findWithActors(ctx context.Context, q *gorm.DB) ([]*model.Notification, error) {
	var rows []notificationRow
	if err := withActors(q).Scan(&rows).Error; err != nil {
		return nil, dbError(err)
	}
	list := make([]*model.Notification, len(rows))
	for i := range rows {
		list[i] = rows[i].notification()
	}
	return list, nil
}

// withActors makes q, a query of notifications n, select them with their
// actors' names (a notificationRow per row) and the columns also, leaving
// out those the recipient is not shown (shownNotifications). Every read of
// a user's notifications, the hub's and the REST lists, goes through it.
func withActors(q *gorm.DB, also ...string) *gorm.DB {
	cols := append([]string{"n.*", "a.username AS actor_username", "a.display_name AS actor_display_name"}, also...)
	return q.Table("notifications AS n").Select(strings.Join(cols, ", ")).
		Joins("LEFT JOIN users AS a ON a.id = n.actor_id").
		Where(shownNotifications, model.NotifySystem, true, true)
}

// shownNotifications is the condition on notifications n that leaves out
// those the recipient must no longer be shown: caused by a user they have
// blocked since (system notifications aside), or pointing into content
// hidden since. Blocking and hiding withdraw such rows in their own
// transactions, serialised with the writers on the blocker's row and the
// post's; this re-check of the blocks and hides of now is what replay and
// lists rest on all the same, whatever wrote the rows. The hub's reads stay bounded by a head read
// first (notify.upToHead): rows left out below the head are simply not
// sent, and the cursor moves past them to the head as before. Each test
// is a lookup by key: user_blocks_pair, and the posts' and comments'
// primary keys.
const shownNotifications = `NOT EXISTS (SELECT 1 FROM user_blocks sb WHERE sb.user_id = n.user_id AND sb.blocked_id = n.actor_id AND n.type <> ?)
		AND NOT EXISTS (SELECT 1 FROM posts sp WHERE sp.id = n.post_id AND sp.hidden = ?)
		AND NOT EXISTS (SELECT 1 FROM comments sc WHERE sc.id = n.comment_id AND sc.hidden = ?)`

// notificationRow is a notification read with its actor's names.
type notificationRow struct {
	model.Notification `gorm:"embedded"`
	ActorUsername      *string
	ActorDisplayName   *string
}

// notification returns the row's notification with its actor, or with a
// nil actor when it has none (or the user is gone).
func (r *notificationRow) notification() *model.Notification {
	n := r.Notification
	if n.ActorID != nil && r.ActorUsername != nil {
		n.Actor = &model.Author{ID: *n.ActorID, Username: *r.ActorUsername}
		if r.ActorDisplayName != nil {
			n.Actor.DisplayName = *r.ActorDisplayName
		}
	}
	return &n
}

// NotificationHead returns where userID's notifications stand, in one
// statement so that its four figures agree with each other: the hub
// starts a connection's cursor from it. It is the one read of a connect
// whose token the hub took on trust (Auth.VerifyID), so it also tells
// that the user exists: ENOTFOUND when not.
func (s *NotificationStore) NotificationHead(ctx context.Context, userID int64) (model.NotificationHead, error) {
	var head model.NotificationHead
	err := scanOne(s.prep.WithContext(ctx), `SELECT u.notification_seq,
		(SELECT COALESCE(MAX(n.id), 0) FROM notifications n WHERE n.user_id = u.id),
		u.unread_notifications, u.unseen_notifications
		FROM users u WHERE u.id = ?`, []any{userID}, &head.Seq, &head.LastID, &head.Unread, &head.Unseen)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return model.NotificationHead{}, model.Errorf(model.ENOTFOUND, "user %d does not exist", userID)
	case err != nil:
		return model.NotificationHead{}, err
	}
	return head, nil
}

// NotificationSeqs returns the notification_seq of each of the users that
// exists: the hub compares them with what its connections have sent to
// find, after a broker outage, the few that missed something.
func (s *NotificationStore) NotificationSeqs(ctx context.Context, userIDs []int64) (map[int64]int64, error) {
	seqs := make(map[int64]int64, len(userIDs))
	for chunk := range slices.Chunk(userIDs, lookupChunk) {
		var rows []struct {
			ID              int64
			NotificationSeq int64
		}
		err := s.db.WithContext(ctx).Model(&model.User{}).Select("id", "notification_seq").
			Where("id IN ?", chunk).Find(&rows).Error
		if err != nil {
			return nil, dbError(err)
		}
		for _, r := range rows {
			seqs[r.ID] = r.NotificationSeq
		}
	}
	return seqs, nil
}

// MissedNotifications reads what many users' connections missed while the
// hub's broker was away: for each range, the user's notifications with an
// id above AfterID and a seq up to UpToSeq, oldest first, and the user's
// unread and unseen counts; one range per user. It makes two statements however many
// ranges there are (the counts, the rows with their actors), where reading
// each user's on its own would make thousands after one broker blip. The
// hub keeps ranges few and short (see notify.Hub.catchUpAll).
func (s *NotificationStore) MissedNotifications(ctx context.Context, ranges []model.NotificationRange) ([]model.MissedNotifications, error) {
	if len(ranges) == 0 {
		return nil, nil
	}
	if len(ranges) > lookupChunk {
		return nil, model.Errorf(model.EINVALID, "at most %d ranges at once", lookupChunk)
	}
	users := make([]int64, len(ranges))
	var where strings.Builder
	args := make([]any, 0, 3*len(ranges))
	for i, r := range ranges {
		users[i] = r.UserID
		if i > 0 {
			where.WriteString(" OR ")
		}
		// Each disjunct is a range of the (user_id, id) index.
		where.WriteString("(n.user_id = ? AND n.id > ? AND n.seq <= ?)")
		args = append(args, r.UserID, r.AfterID, r.UpToSeq)
	}
	counts, err := s.countsOf(ctx, users)
	if err != nil {
		return nil, err
	}
	list, err := s.findWithActors(ctx, s.db.WithContext(ctx).Where(where.String(), args...).Order("n.user_id, n.id"))
	if err != nil {
		return nil, err
	}

	out := make([]model.MissedNotifications, len(ranges))
	at := make(map[int64]*model.MissedNotifications, len(ranges))
	for i, r := range ranges {
		out[i] = model.MissedNotifications{UserID: r.UserID, Head: model.NotificationHead{Seq: r.UpToSeq}}
		at[r.UserID] = &out[i]
	}
	for u, c := range counts {
		at[u].Head.Unread, at[u].Head.Unseen = c.Unread, c.Unseen
	}
	for _, n := range list {
		m := at[n.UserID]
		m.List = append(m.List, n)
		m.Head.LastID = n.ID
	}
	return out, nil
}

// UnreadCount returns how many of userID's notifications are unread.
func (s *NotificationStore) UnreadCount(ctx context.Context, userID int64) (int64, error) {
	counts, err := s.counts(ctx, userID)
	return counts.Unread, err
}

// MarkRead marks read the notifications of userID that ids or upToID
// select, the fields of a model.ReadSelection (the hub's read frame), and
// returns the unread count; see markRead. Errors: EINVALID for a bad
// selection.
func (s *NotificationStore) MarkRead(ctx context.Context, userID int64, ids []int64, upToID int64) (int64, error) {
	counts, err := s.markRead(ctx, userID, model.ReadSelection{IDs: ids, UpToID: upToID})
	return counts.Unread, err
}

// markRead marks read userID's notifications with the ids of sel, or, with
// its UpToID, every one with an id up to it (never a newer one, which the
// client has not seen). Ids that are not userID's, or no longer exist, are
// ignored: notifications vanish when their comment is deleted, and one
// vanished id must not stop the rest being marked; ignoring them also tells
// nothing about other users' ids. It publishes and returns the new counts.
// Errors: EINVALID for a bad selection (model.ReadSelection.Validate).
func (s *notificationCore) markRead(ctx context.Context, userID int64, sel model.ReadSelection) (model.NotificationCounts, error) {
	if err := sel.Validate(); err != nil {
		return model.NotificationCounts{}, err
	}
	var marked int64
	err := transact(ctx, s.db, func(tx *gorm.DB) error {
		if _, err := lockUsers(tx, []int64{userID}); err != nil {
			return err
		}
		q := tx.Model(&model.Notification{}).Where("user_id = ? AND is_read = ?", userID, false)
		if sel.UpToID > 0 {
			q = q.Where("id <= ?", sel.UpToID)
		} else {
			q = q.Where("id IN ?", sel.IDs)
		}
		var err error
		marked, err = markRows(tx, userID, q)
		return err
	})
	if err != nil {
		return model.NotificationCounts{}, err
	}
	if marked == 0 {
		return s.counts(ctx, userID) // nothing changed, nothing to tell
	}
	return s.countsChanged(ctx, userID)
}
