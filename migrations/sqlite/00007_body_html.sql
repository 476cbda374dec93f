-- The rendered HTML of post and comment bodies (Markdown, highlighted and
-- sanitised), stored with the row so that reads serve it as it is.
--
-- body_html_version is the version of the renderer that made body_html; 0
-- is "not rendered yet", which every existing row is after this migration.
-- SQL cannot render Markdown, so the rows are rendered by the binary: by
-- `discuss migrate up` right after it applies this, and by `discuss serve`
-- before it listens, each time taking every row whose version is below
-- the renderer's (rows written meanwhile by an older binary, or all of
-- them after a renderer change). The index makes "is there any?" one
-- look-up at every start.

-- +goose Up
ALTER TABLE posts ADD COLUMN body_html TEXT NULL;
ALTER TABLE posts ADD COLUMN body_html_version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX posts_body_html_version ON posts (body_html_version);
ALTER TABLE comments ADD COLUMN body_html TEXT NULL;
ALTER TABLE comments ADD COLUMN body_html_version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX comments_body_html_version ON comments (body_html_version);

-- +goose Down
DROP INDEX comments_body_html_version;
ALTER TABLE comments DROP COLUMN body_html_version;
ALTER TABLE comments DROP COLUMN body_html;
DROP INDEX posts_body_html_version;
ALTER TABLE posts DROP COLUMN body_html_version;
ALTER TABLE posts DROP COLUMN body_html;
