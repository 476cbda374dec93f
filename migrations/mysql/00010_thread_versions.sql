-- Versions of a thread page, which the server's cache of thread pages
-- checks on every read (service/comments_cache.go).
--
-- posts.thread_version moves, inside the transaction, with every change to
-- what a post's comment pages show to everyone: a comment or reply created,
-- edited, deleted, hidden or shown again, a stored body rendered again.
-- Every such writer holds the post's row lock already; a new comment moves
-- it in the UPDATE that moves comment_count.
--
-- thread_like_versions.version moves with every like and unlike of one of
-- the post's comments. Likes do not lock the post (they never wait behind
-- the thread's comments), so theirs is a row of its own, the last one a
-- like's transaction writes; no other transaction locks it. It has no
-- foreign key on purpose: the key's check would share-lock the post's row
-- and put the like behind the thread's comments after all. A missing row
-- is version 0; the first like of a post inserts it.
--
-- comments_post_hidden (post_id, hidden) finds the few hidden comments of
-- a post, whose authors see the post's pages differently from everyone
-- else and are not served from the cache.

-- +goose Up
ALTER TABLE posts ADD COLUMN thread_version BIGINT NOT NULL DEFAULT 0;
CREATE TABLE thread_like_versions (
    post_id BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (post_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
ALTER TABLE comments ADD KEY comments_post_hidden (post_id, hidden);

-- +goose Down
ALTER TABLE comments DROP KEY comments_post_hidden;
DROP TABLE thread_like_versions;
ALTER TABLE posts DROP COLUMN thread_version;
