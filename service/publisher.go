package service

import (
	"context"

	"github.com/quizsite/discuss/model"
)

// Publisher is told about changes after they commit, so that connected
// clients hear of them at once. The database stays the truth: a publish that
// fails is logged and never fails the request, because clients recover
// anything they missed from the database by notification id.
type Publisher interface {
	// PublishNotification tells the connections of n.UserID about n; counts
	// are that user's unread and unseen counts with n included, or have an
	// Unread of -1 when they could not be taken, in which case the
	// connections read n from the database.
	PublishNotification(ctx context.Context, n *model.Notification, counts model.NotificationCounts) error
	// PublishUnreadCount tells every connection of a user their counts after
	// they changed (marked read or seen on some device, or a notification
	// removed).
	PublishUnreadCount(ctx context.Context, userID int64, counts model.NotificationCounts) error
	// PublishBroadcast sends an announcement to every connection everywhere.
	PublishBroadcast(ctx context.Context, a *model.Announcement) error
	// PublishUserChanged tells every instance, this one included, that a
	// user's row changed (their role), so that none goes on using a copy.
	PublishUserChanged(ctx context.Context, userID int64) error
	// PublishThread tells the pages following e.PostID, on every instance,
	// about a change to its discussion (the live thread).
	PublishThread(ctx context.Context, e *model.ThreadEvent) error
}

// NopPublisher publishes nothing; clients then learn of changes when they
// next load or reconnect.
type NopPublisher struct{}

var _ Publisher = NopPublisher{}

func (NopPublisher) PublishNotification(context.Context, *model.Notification, model.NotificationCounts) error {
	return nil
}
func (NopPublisher) PublishUnreadCount(context.Context, int64, model.NotificationCounts) error {
	return nil
}
func (NopPublisher) PublishBroadcast(context.Context, *model.Announcement) error { return nil }
func (NopPublisher) PublishUserChanged(context.Context, int64) error             { return nil }
func (NopPublisher) PublishThread(context.Context, *model.ThreadEvent) error     { return nil }
