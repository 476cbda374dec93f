-- The live thread's order of comments within a post; see the MySQL
-- migration of the same number.

-- +goose Up
ALTER TABLE posts ADD COLUMN last_comment_id INTEGER NOT NULL DEFAULT 0;
UPDATE posts SET last_comment_id = COALESCE((SELECT MAX(c.id) FROM comments c WHERE c.post_id = posts.id), 0);
CREATE INDEX comments_post_id ON comments (post_id, id);

-- +goose Down
DROP INDEX comments_post_id;
ALTER TABLE posts DROP COLUMN last_comment_id;
