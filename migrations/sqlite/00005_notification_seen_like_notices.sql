-- The bell's seen mark, and the record that makes like notifications once
-- per liker and target, ever: see the MySQL migration of the same number.

-- +goose Up
ALTER TABLE users ADD COLUMN notification_seen_id INTEGER NOT NULL DEFAULT 0;
UPDATE users SET notification_seen_id = COALESCE(
    (SELECT MIN(n.id) - 1 FROM notifications n WHERE n.user_id = users.id AND n.is_read = FALSE),
    (SELECT MAX(n.id) FROM notifications n WHERE n.user_id = users.id),
    0);

CREATE TABLE post_like_notices (
    post_id INTEGER NOT NULL REFERENCES posts (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    PRIMARY KEY (post_id, user_id)
);

CREATE TABLE comment_like_notices (
    comment_id INTEGER NOT NULL REFERENCES comments (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    PRIMARY KEY (comment_id, user_id)
);

INSERT INTO post_like_notices (post_id, user_id)
    SELECT l.post_id, l.user_id FROM post_likes l JOIN posts p ON p.id = l.post_id WHERE p.author_id <> l.user_id;
INSERT INTO comment_like_notices (comment_id, user_id)
    SELECT l.comment_id, l.user_id FROM comment_likes l JOIN comments c ON c.id = l.comment_id WHERE c.author_id <> l.user_id;

-- +goose Down
DROP TABLE comment_like_notices;
DROP TABLE post_like_notices;
ALTER TABLE users DROP COLUMN notification_seen_id;
