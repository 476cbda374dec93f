-- Each user's unread and unseen notification counts, stored with the
-- user: see the MySQL migration of the same number.

-- +goose Up
ALTER TABLE users ADD COLUMN unread_notifications INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN unseen_notifications INTEGER NOT NULL DEFAULT 0;
UPDATE users SET
    unread_notifications = (SELECT COUNT(*) FROM notifications n WHERE n.user_id = users.id AND n.is_read = FALSE),
    unseen_notifications = (SELECT COUNT(*) FROM notifications n WHERE n.user_id = users.id AND n.id > users.notification_seen_id);

-- +goose Down
ALTER TABLE users DROP COLUMN unseen_notifications;
ALTER TABLE users DROP COLUMN unread_notifications;
