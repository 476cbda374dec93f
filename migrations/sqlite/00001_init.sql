-- +goose Up
-- AUTOINCREMENT keeps ids from ever being reused, which notification ids
-- rely on: clients resume from the largest id they have seen.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL COLLATE NOCASE,
    display_name  TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NULL,
    role          TEXT    NOT NULL DEFAULT 'user',
    issuer        TEXT    NULL,
    subject       TEXT    NULL,
    created_at    DATETIME NOT NULL
);
CREATE UNIQUE INDEX users_username ON users (username);
CREATE UNIQUE INDEX users_issuer_subject ON users (issuer, subject);

CREATE TABLE posts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    author_id        INTEGER NOT NULL REFERENCES users (id),
    problem_id       INTEGER NULL,
    title            TEXT    NOT NULL,
    body             TEXT    NOT NULL,
    comment_count    INTEGER NOT NULL DEFAULT 0,
    like_count       INTEGER NOT NULL DEFAULT 0,
    created_at       DATETIME NOT NULL,
    updated_at       DATETIME NOT NULL,
    last_activity_at DATETIME NOT NULL,
    deleted_at       DATETIME NULL
);
CREATE INDEX posts_author ON posts (author_id, id);
CREATE INDEX posts_active ON posts (last_activity_at, id);
CREATE INDEX posts_top ON posts (like_count, id);
CREATE INDEX posts_problem_new ON posts (problem_id, id);
CREATE INDEX posts_problem_active ON posts (problem_id, last_activity_at, id);
CREATE INDEX posts_problem_top ON posts (problem_id, like_count, id);

CREATE TABLE comments (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    post_id          INTEGER NOT NULL REFERENCES posts (id),
    parent_id        INTEGER NULL REFERENCES comments (id),
    root_id          INTEGER NULL REFERENCES comments (id),
    author_id        INTEGER NOT NULL REFERENCES users (id),
    reply_to_user_id INTEGER NULL,
    body             TEXT    NOT NULL,
    like_count       INTEGER NOT NULL DEFAULT 0,
    reply_count      INTEGER NOT NULL DEFAULT 0,
    created_at       DATETIME NOT NULL,
    edited_at        DATETIME NULL,
    deleted_at       DATETIME NULL
);
CREATE INDEX comments_post_root ON comments (post_id, root_id, id);
CREATE INDEX comments_post_root_top ON comments (post_id, root_id, like_count, id);
CREATE INDEX comments_root ON comments (root_id, id);
CREATE INDEX comments_parent ON comments (parent_id);
CREATE INDEX comments_author ON comments (author_id);

CREATE TABLE post_likes (
    post_id    INTEGER NOT NULL REFERENCES posts (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    created_at DATETIME NOT NULL,
    PRIMARY KEY (post_id, user_id)
);
CREATE INDEX post_likes_user ON post_likes (user_id);

CREATE TABLE comment_likes (
    comment_id INTEGER NOT NULL REFERENCES comments (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    created_at DATETIME NOT NULL,
    PRIMARY KEY (comment_id, user_id)
);
CREATE INDEX comment_likes_user ON comment_likes (user_id);

CREATE TABLE post_mutes (
    post_id    INTEGER NOT NULL REFERENCES posts (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    created_at DATETIME NOT NULL,
    PRIMARY KEY (post_id, user_id)
);
CREATE INDEX post_mutes_user ON post_mutes (user_id);

-- No foreign keys to posts and comments: see the MySQL migration.
CREATE TABLE notifications (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    type       TEXT    NOT NULL,
    actor_id   INTEGER NULL,
    post_id    INTEGER NULL,
    comment_id INTEGER NULL,
    excerpt    TEXT    NOT NULL DEFAULT '',
    is_read    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at DATETIME NOT NULL
);
CREATE INDEX notifications_user ON notifications (user_id, id);
CREATE INDEX notifications_user_unread ON notifications (user_id, is_read, id);
CREATE INDEX notifications_comment ON notifications (comment_id);
CREATE INDEX notifications_post ON notifications (post_id);
CREATE INDEX notifications_created ON notifications (created_at);

CREATE TABLE announcements (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    author_id  INTEGER NOT NULL REFERENCES users (id),
    message    TEXT    NOT NULL,
    created_at DATETIME NOT NULL
);

-- +goose Down
DROP TABLE announcements;
DROP TABLE notifications;
DROP TABLE post_mutes;
DROP TABLE comment_likes;
DROP TABLE post_likes;
DROP TABLE comments;
DROP TABLE posts;
DROP TABLE users;
