-- Versions of a thread page, which the server's cache of thread pages
-- checks on every read; see the MySQL migration of the same number.

-- +goose Up
ALTER TABLE posts ADD COLUMN thread_version INTEGER NOT NULL DEFAULT 0;
CREATE TABLE thread_like_versions (
    post_id INTEGER NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX comments_post_hidden ON comments (post_id, hidden);

-- +goose Down
DROP INDEX comments_post_hidden;
DROP TABLE thread_like_versions;
ALTER TABLE posts DROP COLUMN thread_version;
