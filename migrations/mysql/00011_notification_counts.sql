-- Each user's unread and unseen notification counts, stored with the user
-- (service/notifications_counts.go). They were counted on every publish,
-- which cost a range scan of every unread notification the user had: a
-- user who never reads made each of their new notifications slower than
-- the last.
--
-- Every change to a user's notifications holds the user's row lock
-- already or takes it first (an insert moves notification_seq under it),
-- so the counters move in the same transaction, under the same lock, as
-- the rows they count.
--
-- Instances that predate this migration write notifications without
-- moving the counters: stop them before running it, not after.

-- +goose Up
ALTER TABLE users
    ADD COLUMN unread_notifications BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN unseen_notifications BIGINT NOT NULL DEFAULT 0;
UPDATE users u SET
    unread_notifications = (SELECT COUNT(*) FROM notifications n WHERE n.user_id = u.id AND n.is_read = FALSE),
    unseen_notifications = (SELECT COUNT(*) FROM notifications n WHERE n.user_id = u.id AND n.id > u.notification_seen_id);

-- +goose Down
ALTER TABLE users DROP COLUMN unseen_notifications, DROP COLUMN unread_notifications;
