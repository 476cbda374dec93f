-- Notification levels, the fan-out outbox and the one-thread_comment-per-
-- user-and-comment key; see the MySQL migration of the same number.

-- +goose Up
CREATE TABLE post_subscriptions (
    post_id    INTEGER NOT NULL REFERENCES posts (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    level      TEXT    NOT NULL,
    explicit   BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at DATETIME NOT NULL,
    PRIMARY KEY (post_id, user_id)
);
CREATE INDEX post_subscriptions_level ON post_subscriptions (post_id, level, user_id);
CREATE INDEX post_subscriptions_user ON post_subscriptions (user_id, post_id);

INSERT INTO post_subscriptions (post_id, user_id, level, explicit, updated_at)
    SELECT id, author_id, 'watching', FALSE, created_at FROM posts;
INSERT OR IGNORE INTO post_subscriptions (post_id, user_id, level, explicit, updated_at)
    SELECT post_id, author_id, 'watching', FALSE, MIN(created_at) FROM comments GROUP BY post_id, author_id;
INSERT INTO post_subscriptions (post_id, user_id, level, explicit, updated_at)
    SELECT post_id, user_id, 'muted', TRUE, created_at FROM post_mutes WHERE TRUE
    ON CONFLICT (post_id, user_id) DO UPDATE SET level = 'muted', explicit = TRUE, updated_at = excluded.updated_at;
DROP TABLE post_mutes;

CREATE TABLE fanout_outbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    post_id       INTEGER NOT NULL,
    comment_id    INTEGER NOT NULL,
    actor_id      INTEGER NOT NULL,
    skip_user_ids TEXT    NOT NULL,
    after_user_id INTEGER NOT NULL DEFAULT 0,
    created_at    DATETIME NOT NULL
);
CREATE UNIQUE INDEX fanout_outbox_comment ON fanout_outbox (comment_id);
CREATE INDEX fanout_outbox_post ON fanout_outbox (post_id);

ALTER TABLE notifications ADD COLUMN thread_comment_id INTEGER
    GENERATED ALWAYS AS (CASE WHEN type = 'thread_comment' THEN comment_id END) VIRTUAL;
CREATE UNIQUE INDEX notifications_thread_comment ON notifications (thread_comment_id, user_id);

-- +goose Down
DROP INDEX notifications_thread_comment;
ALTER TABLE notifications DROP COLUMN thread_comment_id;
DROP TABLE fanout_outbox;
CREATE TABLE post_mutes (
    post_id    INTEGER NOT NULL REFERENCES posts (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    created_at DATETIME NOT NULL,
    PRIMARY KEY (post_id, user_id)
);
CREATE INDEX post_mutes_user ON post_mutes (user_id);
INSERT INTO post_mutes (post_id, user_id, created_at)
    SELECT post_id, user_id, updated_at FROM post_subscriptions WHERE level = 'muted';
DROP TABLE post_subscriptions;
