-- Exact account names (see the MySQL migration of the same number for
-- what MariaDB's collation let through). SQLite already compares exactly:
-- users.username is COLLATE NOCASE, which folds ASCII case only and keeps
-- trailing spaces and every other character significant, and issuer and
-- subject use the default BINARY collation. Only username_key is added, so
-- that the application looks users up by the same column on both
-- databases; its unique index replaces the one on username, which it
-- implies. SQLite's lower() folds ASCII only, as usernames are ASCII.

-- +goose Up
ALTER TABLE users ADD COLUMN username_key TEXT GENERATED ALWAYS AS (lower(username)) VIRTUAL;
CREATE UNIQUE INDEX users_username_key ON users (username_key);
DROP INDEX users_username;

-- +goose Down
CREATE UNIQUE INDEX users_username ON users (username);
DROP INDEX users_username_key;
ALTER TABLE users DROP COLUMN username_key;
