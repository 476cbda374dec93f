-- +goose Up
CREATE TABLE users (
    id            BIGINT       NOT NULL AUTO_INCREMENT,
    username      VARCHAR(32)  NOT NULL,
    display_name  VARCHAR(64)  NOT NULL DEFAULT '',
    password_hash VARCHAR(100) NULL,
    role          VARCHAR(16)  NOT NULL DEFAULT 'user',
    issuer        VARCHAR(255) NULL,
    subject       VARCHAR(255) NULL,
    created_at    DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY users_username (username),
    UNIQUE KEY users_issuer_subject (issuer, subject)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE posts (
    id               BIGINT       NOT NULL AUTO_INCREMENT,
    author_id        BIGINT       NOT NULL,
    problem_id       BIGINT       NULL,
    title            VARCHAR(255) NOT NULL,
    body             MEDIUMTEXT   NOT NULL,
    comment_count    BIGINT       NOT NULL DEFAULT 0,
    like_count       BIGINT       NOT NULL DEFAULT 0,
    created_at       DATETIME(6)  NOT NULL,
    updated_at       DATETIME(6)  NOT NULL,
    last_activity_at DATETIME(6)  NOT NULL,
    deleted_at       DATETIME(6)  NULL,
    PRIMARY KEY (id),
    KEY posts_author (author_id, id),
    KEY posts_active (last_activity_at, id),
    KEY posts_top (like_count, id),
    KEY posts_problem_new (problem_id, id),
    KEY posts_problem_active (problem_id, last_activity_at, id),
    KEY posts_problem_top (problem_id, like_count, id),
    CONSTRAINT posts_author_fk FOREIGN KEY (author_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE comments (
    id               BIGINT      NOT NULL AUTO_INCREMENT,
    post_id          BIGINT      NOT NULL,
    parent_id        BIGINT      NULL,
    root_id          BIGINT      NULL,
    author_id        BIGINT      NOT NULL,
    reply_to_user_id BIGINT      NULL,
    body             TEXT        NOT NULL,
    like_count       BIGINT      NOT NULL DEFAULT 0,
    reply_count      BIGINT      NOT NULL DEFAULT 0,
    created_at       DATETIME(6) NOT NULL,
    edited_at        DATETIME(6) NULL,
    deleted_at       DATETIME(6) NULL,
    PRIMARY KEY (id),
    KEY comments_post_root (post_id, root_id, id),
    KEY comments_post_root_top (post_id, root_id, like_count, id),
    KEY comments_root (root_id, id),
    KEY comments_parent (parent_id),
    KEY comments_author (author_id),
    CONSTRAINT comments_post_fk FOREIGN KEY (post_id) REFERENCES posts (id),
    CONSTRAINT comments_parent_fk FOREIGN KEY (parent_id) REFERENCES comments (id),
    CONSTRAINT comments_root_fk FOREIGN KEY (root_id) REFERENCES comments (id),
    CONSTRAINT comments_author_fk FOREIGN KEY (author_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE post_likes (
    post_id    BIGINT      NOT NULL,
    user_id    BIGINT      NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (post_id, user_id),
    KEY post_likes_user (user_id),
    CONSTRAINT post_likes_post_fk FOREIGN KEY (post_id) REFERENCES posts (id),
    CONSTRAINT post_likes_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB;

CREATE TABLE comment_likes (
    comment_id BIGINT      NOT NULL,
    user_id    BIGINT      NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (comment_id, user_id),
    KEY comment_likes_user (user_id),
    CONSTRAINT comment_likes_comment_fk FOREIGN KEY (comment_id) REFERENCES comments (id),
    CONSTRAINT comment_likes_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB;

CREATE TABLE post_mutes (
    post_id    BIGINT      NOT NULL,
    user_id    BIGINT      NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (post_id, user_id),
    KEY post_mutes_user (user_id),
    CONSTRAINT post_mutes_post_fk FOREIGN KEY (post_id) REFERENCES posts (id),
    CONSTRAINT post_mutes_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB;

-- Notifications reference their post and comment without foreign keys:
-- deleting a comment deletes its notifications in the same transaction, and
-- retention deletes old rows in bulk without touching the referenced tables.
CREATE TABLE notifications (
    id         BIGINT       NOT NULL AUTO_INCREMENT,
    user_id    BIGINT       NOT NULL,
    type       VARCHAR(32)  NOT NULL,
    actor_id   BIGINT       NULL,
    post_id    BIGINT       NULL,
    comment_id BIGINT       NULL,
    excerpt    VARCHAR(2000) NOT NULL DEFAULT '',
    is_read    BOOLEAN      NOT NULL DEFAULT FALSE,
    created_at DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    KEY notifications_user (user_id, id),
    KEY notifications_user_unread (user_id, is_read, id),
    KEY notifications_comment (comment_id),
    KEY notifications_post (post_id),
    KEY notifications_created (created_at),
    CONSTRAINT notifications_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE announcements (
    id         BIGINT      NOT NULL AUTO_INCREMENT,
    author_id  BIGINT      NOT NULL,
    message    TEXT        NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT announcements_author_fk FOREIGN KEY (author_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE announcements;
DROP TABLE notifications;
DROP TABLE post_mutes;
DROP TABLE comment_likes;
DROP TABLE post_likes;
DROP TABLE comments;
DROP TABLE posts;
DROP TABLE users;
