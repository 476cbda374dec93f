-- Per-user notification sequence numbers. users.notification_seq counts
-- the notifications ever written to the user; each notification carries
-- the value it was given. Both are written under the user row's lock, in
-- the transaction that inserts the notification, so one user's
-- notifications commit in seq order with no number skipped, and a hub that
-- receives seq N after N-2 knows that N-1 exists (or was deleted) and reads
-- it from the database before it sends N.
--
-- Existing rows take their id as their seq: ids already commit in order
-- per user, and the gaps between them only cost a hub one database read.

-- +goose Up
ALTER TABLE users ADD COLUMN notification_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE notifications ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE notifications SET seq = id;
UPDATE users SET notification_seq = COALESCE((SELECT MAX(n.id) FROM notifications n WHERE n.user_id = users.id), 0);

-- +goose Down
ALTER TABLE notifications DROP COLUMN seq;
ALTER TABLE users DROP COLUMN notification_seq;
