-- The bell's seen mark, and the record that makes like notifications once
-- per liker and target, ever.
--
-- users.notification_seen_id is the id up to which the user has seen their
-- notifications (opened the bell): the badge counts those above it. It
-- only moves up. Existing users start just below their oldest unread
-- notification (or at their newest when none is unread), so the badge
-- shows after the upgrade what it showed before, the unread ones.
--
-- post_like_notices and comment_like_notices hold one row per liker and
-- item whose author has been told of the like. A like inserts its row with
-- the notification, ignoring a duplicate, and notifies only when the row is
-- new; unliking keeps it, so liking again notifies nobody. The likes that
-- exist already count as told: their authors saw them in the counts, and
-- liking again after an unlike must stay silent for them too.

-- +goose Up
ALTER TABLE users ADD COLUMN notification_seen_id BIGINT NOT NULL DEFAULT 0;
UPDATE users SET notification_seen_id = COALESCE(
    (SELECT MIN(n.id) - 1 FROM notifications n WHERE n.user_id = users.id AND n.is_read = FALSE),
    (SELECT MAX(n.id) FROM notifications n WHERE n.user_id = users.id),
    0);

CREATE TABLE post_like_notices (
    post_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    PRIMARY KEY (post_id, user_id),
    CONSTRAINT post_like_notices_post_fk FOREIGN KEY (post_id) REFERENCES posts (id),
    CONSTRAINT post_like_notices_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB;

CREATE TABLE comment_like_notices (
    comment_id BIGINT NOT NULL,
    user_id    BIGINT NOT NULL,
    PRIMARY KEY (comment_id, user_id),
    CONSTRAINT comment_like_notices_comment_fk FOREIGN KEY (comment_id) REFERENCES comments (id),
    CONSTRAINT comment_like_notices_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB;

INSERT INTO post_like_notices (post_id, user_id)
    SELECT l.post_id, l.user_id FROM post_likes l JOIN posts p ON p.id = l.post_id WHERE p.author_id <> l.user_id;
INSERT INTO comment_like_notices (comment_id, user_id)
    SELECT l.comment_id, l.user_id FROM comment_likes l JOIN comments c ON c.id = l.comment_id WHERE c.author_id <> l.user_id;

-- +goose Down
DROP TABLE comment_like_notices;
DROP TABLE post_like_notices;
ALTER TABLE users DROP COLUMN notification_seen_id;
