-- Notification levels per user and post (watching, normal, muted), the
-- outbox of the thread_comment fan-out, and the key that keeps that fan-out
-- from writing a row twice.
--
-- post_subscriptions holds a row for every user whose level on a post is
-- not the plain default normal: explicit ones (explicit TRUE: the user set
-- it) and the implicit watching of the post's author and of everyone who
-- commented on it (explicit FALSE). A watcher is therefore one indexed
-- range, (post_id, level), in user id order. Existing posts and comments
-- get their implicit rows, and the old mutes become explicit muted levels;
-- post_mutes goes. Down brings post_mutes back from the muted levels.
--
-- fanout_outbox holds one row per comment whose watchers are still to be
-- told: written in the comment's transaction, worked through in batches
-- (after_user_id: the watchers up to it are done, committed with their
-- rows) and deleted with the last batch.
--
-- notifications.thread_comment_id is the comment of a thread_comment row
-- and NULL for every other type, so the unique key below allows one
-- thread_comment per user and comment and constrains nothing else; the
-- fan-out also reads a batch's new ids back through it.

-- +goose Up
CREATE TABLE post_subscriptions (
    post_id    BIGINT      NOT NULL,
    user_id    BIGINT      NOT NULL,
    level      VARCHAR(16) NOT NULL,
    explicit   BOOLEAN     NOT NULL DEFAULT FALSE,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (post_id, user_id),
    KEY post_subscriptions_level (post_id, level, user_id),
    KEY post_subscriptions_user (user_id, post_id),
    CONSTRAINT post_subscriptions_post_fk FOREIGN KEY (post_id) REFERENCES posts (id),
    CONSTRAINT post_subscriptions_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB;

INSERT INTO post_subscriptions (post_id, user_id, level, explicit, updated_at)
    SELECT id, author_id, 'watching', FALSE, created_at FROM posts;
INSERT IGNORE INTO post_subscriptions (post_id, user_id, level, explicit, updated_at)
    SELECT post_id, author_id, 'watching', FALSE, MIN(created_at) FROM comments GROUP BY post_id, author_id;
INSERT INTO post_subscriptions (post_id, user_id, level, explicit, updated_at)
    SELECT post_id, user_id, 'muted', TRUE, created_at FROM post_mutes
    ON DUPLICATE KEY UPDATE level = 'muted', explicit = TRUE, updated_at = VALUES(updated_at);
DROP TABLE post_mutes;

CREATE TABLE fanout_outbox (
    id            BIGINT       NOT NULL AUTO_INCREMENT,
    post_id       BIGINT       NOT NULL,
    comment_id    BIGINT       NOT NULL,
    actor_id      BIGINT       NOT NULL,
    skip_user_ids TEXT         NOT NULL,
    after_user_id BIGINT       NOT NULL DEFAULT 0,
    created_at    DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY fanout_outbox_comment (comment_id),
    KEY fanout_outbox_post (post_id)
) ENGINE=InnoDB;

ALTER TABLE notifications
    ADD COLUMN thread_comment_id BIGINT AS (CASE WHEN type = 'thread_comment' THEN comment_id END) STORED,
    ADD UNIQUE KEY notifications_thread_comment (thread_comment_id, user_id);

-- +goose Down
ALTER TABLE notifications
    DROP INDEX notifications_thread_comment,
    DROP COLUMN thread_comment_id;
DROP TABLE fanout_outbox;
CREATE TABLE post_mutes (
    post_id    BIGINT      NOT NULL,
    user_id    BIGINT      NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (post_id, user_id),
    KEY post_mutes_user (user_id),
    CONSTRAINT post_mutes_post_fk FOREIGN KEY (post_id) REFERENCES posts (id),
    CONSTRAINT post_mutes_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB;
INSERT INTO post_mutes (post_id, user_id, created_at)
    SELECT post_id, user_id, updated_at FROM post_subscriptions WHERE level = 'muted';
DROP TABLE post_subscriptions;
