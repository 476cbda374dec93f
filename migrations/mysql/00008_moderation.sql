-- Moderation and safety: spoiler and hidden flags on posts and comments,
-- reports and the moderators' queue, the moderation log, and blocks.
--
-- hidden marks content held for review: seen only by its author and by
-- moderators, out of every list and count (comment_count and reply_count
-- count live content that is not hidden), its notifications withdrawn.
-- spoiler marks content whose text notifications never show.
--
-- report_cases is the queue: one row per target while its reports are
-- open, resolved by a moderator (action, resolved_by, resolved_at); a
-- target reported after that opens a new case. reports holds each user's
-- report, once per user and target ever (reports_target_reporter), and
-- reports_reporter counts a user's reports of the last day.
--
-- moderation_log records every resolution and every hiding by reports.
--
-- user_blocks: user_id has blocked blocked_id. user_blocks_blocked finds
-- who blocked an actor, which every notification plan asks.

-- +goose Up
ALTER TABLE posts
    ADD COLUMN spoiler BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN hidden  BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE comments
    ADD COLUMN spoiler BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN hidden  BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE report_cases (
    id           BIGINT      NOT NULL AUTO_INCREMENT,
    target_type  VARCHAR(16) NOT NULL,
    target_id    BIGINT      NOT NULL,
    post_id      BIGINT      NOT NULL,
    author_id    BIGINT      NOT NULL,
    status       VARCHAR(16) NOT NULL,
    report_count BIGINT      NOT NULL DEFAULT 0,
    action       VARCHAR(16) NULL,
    resolved_by  BIGINT      NULL,
    resolved_at  DATETIME(6) NULL,
    created_at   DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY report_cases_status (status, id),
    KEY report_cases_resolved (status, resolved_at, id),
    KEY report_cases_target (target_type, target_id, status),
    CONSTRAINT report_cases_post_fk FOREIGN KEY (post_id) REFERENCES posts (id),
    CONSTRAINT report_cases_author_fk FOREIGN KEY (author_id) REFERENCES users (id),
    CONSTRAINT report_cases_resolver_fk FOREIGN KEY (resolved_by) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE reports (
    id          BIGINT       NOT NULL AUTO_INCREMENT,
    case_id     BIGINT       NOT NULL,
    target_type VARCHAR(16)  NOT NULL,
    target_id   BIGINT       NOT NULL,
    post_id     BIGINT       NOT NULL,
    reporter_id BIGINT       NOT NULL,
    reason      VARCHAR(16)  NOT NULL,
    note        VARCHAR(500) NOT NULL DEFAULT '',
    created_at  DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY reports_target_reporter (target_type, target_id, reporter_id),
    KEY reports_case (case_id),
    KEY reports_reporter (reporter_id, created_at),
    CONSTRAINT reports_case_fk FOREIGN KEY (case_id) REFERENCES report_cases (id),
    CONSTRAINT reports_reporter_fk FOREIGN KEY (reporter_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE moderation_log (
    id           BIGINT      NOT NULL AUTO_INCREMENT,
    case_id      BIGINT      NOT NULL,
    moderator_id BIGINT      NULL,
    action       VARCHAR(16) NOT NULL,
    target_type  VARCHAR(16) NOT NULL,
    target_id    BIGINT      NOT NULL,
    post_id      BIGINT      NOT NULL,
    created_at   DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT moderation_log_case_fk FOREIGN KEY (case_id) REFERENCES report_cases (id),
    CONSTRAINT moderation_log_moderator_fk FOREIGN KEY (moderator_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE user_blocks (
    id         BIGINT      NOT NULL AUTO_INCREMENT,
    user_id    BIGINT      NOT NULL,
    blocked_id BIGINT      NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY user_blocks_pair (user_id, blocked_id),
    KEY user_blocks_blocked (blocked_id, user_id),
    CONSTRAINT user_blocks_user_fk FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT user_blocks_blocked_fk FOREIGN KEY (blocked_id) REFERENCES users (id)
) ENGINE=InnoDB;

-- +goose Down
DROP TABLE user_blocks;
DROP TABLE moderation_log;
DROP TABLE reports;
DROP TABLE report_cases;
ALTER TABLE comments DROP COLUMN hidden, DROP COLUMN spoiler;
ALTER TABLE posts DROP COLUMN hidden, DROP COLUMN spoiler;
