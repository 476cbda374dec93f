-- The live thread's order of comments within a post.
--
-- posts.last_comment_id is the id of the post's newest comment or reply
-- (deleted or not), 0 for a post without any. A new comment reads it under
-- the post's row lock, which every comment of the post takes, and moves it
-- to its own id in the same UPDATE as comment_count: so each comment knows
-- its predecessor in the post, and a page following the post (the hub)
-- can tell a comment that arrives before its predecessor from one that
-- follows it, and can read "every comment up to here" in one row. Comment
-- ids are shared by all posts, so the ids alone cannot tell that.
--
-- comments_post_id (post_id, id) serves the live thread's reads of a
-- post's comments after an id, whatever their root.

-- +goose Up
ALTER TABLE posts ADD COLUMN last_comment_id BIGINT NOT NULL DEFAULT 0;
UPDATE posts SET last_comment_id = COALESCE((SELECT MAX(c.id) FROM comments c WHERE c.post_id = posts.id), 0);
ALTER TABLE comments ADD KEY comments_post_id (post_id, id);

-- +goose Down
ALTER TABLE comments DROP KEY comments_post_id;
ALTER TABLE posts DROP COLUMN last_comment_id;
