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
ALTER TABLE posts
    ADD COLUMN body_html MEDIUMTEXT NULL,
    ADD COLUMN body_html_version INT NOT NULL DEFAULT 0,
    ADD KEY posts_body_html_version (body_html_version);
ALTER TABLE comments
    ADD COLUMN body_html MEDIUMTEXT NULL,
    ADD COLUMN body_html_version INT NOT NULL DEFAULT 0,
    ADD KEY comments_body_html_version (body_html_version);

-- +goose Down
ALTER TABLE comments DROP KEY comments_body_html_version, DROP COLUMN body_html_version, DROP COLUMN body_html;
ALTER TABLE posts DROP KEY posts_body_html_version, DROP COLUMN body_html_version, DROP COLUMN body_html;
