package notify

import (
	"context"

	"github.com/quizsite/discuss/model"
)

// Store is what the hub reads missed notifications through; the service
// implements it over the database, and cmd proves the fit with
// var _ notify.Store = (*service.NotificationStore)(nil) or similar.
//
// Notifications returned carry Actor and Seq filled in. For one user,
// notifications must commit in id order and in seq order, with no seq
// skipped (see model.Notification): the hub's ordered, exactly-once
// delivery rests on it. A read need not see them so: one that starts while
// a notification commits may miss it yet hold the user's next (MariaDB
// does this), but everything that had committed when an earlier read
// returned must be in a later one. The hub relies on no more (see
// upToHead).
type Store interface {
	// NotificationHead returns where the user's notifications stand now,
	// its figures taken at one instant; an ENOTFOUND error (model.Error)
	// when there is no such user, which refuses a connect (see
	// Admission.UnknownUser).
	NotificationHead(ctx context.Context, userID int64) (model.NotificationHead, error)
	// NotificationSeqs returns the current sequence number of each user.
	NotificationSeqs(ctx context.Context, userIDs []int64) (map[int64]int64, error)
	// MissedNotifications reads many users' ranges at once, in a few
	// statements: for each range with notifications or not, the user's
	// notifications in it, oldest first, with the user's unread and unseen
	// counts.
	MissedNotifications(ctx context.Context, ranges []model.NotificationRange) ([]model.MissedNotifications, error)
	// NotificationsAfter returns the user's notifications with id > afterID, oldest first, at most limit.
	NotificationsAfter(ctx context.Context, userID, afterID int64, limit int) ([]*model.Notification, error)
	// UnreadNotifications returns the user's unread notifications, oldest first, at most limit.
	UnreadNotifications(ctx context.Context, userID int64, limit int) ([]*model.Notification, error)
	// UnreadCount returns the user's unread count.
	UnreadCount(ctx context.Context, userID int64) (int64, error)
	// MarkRead marks the user's notifications read, by ids or (when upToID > 0) every one with id <= upToID;
	// it publishes the new unread count itself and returns it.
	MarkRead(ctx context.Context, userID int64, ids []int64, upToID int64) (int64, error)

	ThreadStore
}

// ThreadStore is what the live thread reads a post's comments through.
// The comments of one post commit in id order (see
// model.ThreadEvent.PrevCommentID), but a read need not see them so, as
// for notifications: what had committed when an earlier read returned
// must be in a later one, and no more is relied on.
type ThreadStore interface {
	// ThreadHead returns the id of the post's newest comment or reply,
	// deleted or not (0 for none), or an ENOTFOUND error when the post is
	// missing or not visible to readers.
	ThreadHead(ctx context.Context, postID int64) (int64, error)
	// ThreadComments returns the comments and replies of the post with
	// afterID < id <= upToID that readers see, oldest first, at most
	// limit, as REST shows them to a reader who has liked nothing.
	ThreadComments(ctx context.Context, postID, afterID, upToID int64, limit int) ([]*model.Comment, error)
}
