-- Moderation and safety: see the MySQL migration of the same number.

-- +goose Up
ALTER TABLE posts ADD COLUMN spoiler BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE posts ADD COLUMN hidden BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE comments ADD COLUMN spoiler BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE comments ADD COLUMN hidden BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE report_cases (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    target_type  TEXT    NOT NULL,
    target_id    INTEGER NOT NULL,
    post_id      INTEGER NOT NULL REFERENCES posts (id),
    author_id    INTEGER NOT NULL REFERENCES users (id),
    status       TEXT    NOT NULL,
    report_count INTEGER NOT NULL DEFAULT 0,
    action       TEXT    NULL,
    resolved_by  INTEGER NULL REFERENCES users (id),
    resolved_at  DATETIME NULL,
    created_at   DATETIME NOT NULL
);
CREATE INDEX report_cases_status ON report_cases (status, id);
CREATE INDEX report_cases_resolved ON report_cases (status, resolved_at, id);
CREATE INDEX report_cases_target ON report_cases (target_type, target_id, status);

CREATE TABLE reports (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id     INTEGER NOT NULL REFERENCES report_cases (id),
    target_type TEXT    NOT NULL,
    target_id   INTEGER NOT NULL,
    post_id     INTEGER NOT NULL,
    reporter_id INTEGER NOT NULL REFERENCES users (id),
    reason      TEXT    NOT NULL,
    note        TEXT    NOT NULL DEFAULT '',
    created_at  DATETIME NOT NULL
);
CREATE UNIQUE INDEX reports_target_reporter ON reports (target_type, target_id, reporter_id);
CREATE INDEX reports_case ON reports (case_id);
CREATE INDEX reports_reporter ON reports (reporter_id, created_at);

CREATE TABLE moderation_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id      INTEGER NOT NULL REFERENCES report_cases (id),
    moderator_id INTEGER NULL REFERENCES users (id),
    action       TEXT    NOT NULL,
    target_type  TEXT    NOT NULL,
    target_id    INTEGER NOT NULL,
    post_id      INTEGER NOT NULL,
    created_at   DATETIME NOT NULL
);

CREATE TABLE user_blocks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    blocked_id INTEGER NOT NULL REFERENCES users (id),
    created_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX user_blocks_pair ON user_blocks (user_id, blocked_id);
CREATE INDEX user_blocks_blocked ON user_blocks (blocked_id, user_id);

-- +goose Down
DROP TABLE user_blocks;
DROP TABLE moderation_log;
DROP TABLE reports;
DROP TABLE report_cases;
ALTER TABLE comments DROP COLUMN hidden;
ALTER TABLE comments DROP COLUMN spoiler;
ALTER TABLE posts DROP COLUMN hidden;
ALTER TABLE posts DROP COLUMN spoiler;
