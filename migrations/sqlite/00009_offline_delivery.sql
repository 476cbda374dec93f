-- Offline delivery: email and Web Push for users who are not connected;
-- see the MySQL migration of the same number. SQLite keeps the VAPID key
-- pair in a file beside the database instead of push_vapid_keys, which
-- exists here only so that both schemas hold the same tables.

-- +goose Up
ALTER TABLE users ADD COLUMN locale TEXT NOT NULL DEFAULT '';

CREATE TABLE delivery_preferences (
    user_id            INTEGER  NOT NULL PRIMARY KEY REFERENCES users (id),
    email              TEXT     NOT NULL DEFAULT '',
    email_verified     BOOLEAN  NOT NULL DEFAULT FALSE,
    email_delivery     TEXT     NOT NULL DEFAULT 'instant',
    push_enabled       BOOLEAN  NOT NULL DEFAULT TRUE,
    types_off          TEXT     NOT NULL DEFAULT '',
    mailed_up_to_id    INTEGER  NOT NULL DEFAULT 0,
    mailed_at          DATETIME NULL,
    pending_up_to_id   INTEGER  NOT NULL DEFAULT 0,
    pending_message_id TEXT     NOT NULL DEFAULT '',
    claimed_until      DATETIME NULL,
    attempts           INTEGER  NOT NULL DEFAULT 0,
    retry_at           DATETIME NULL,
    updated_at         DATETIME NOT NULL
);
CREATE INDEX delivery_preferences_mail ON delivery_preferences (email_verified, email_delivery, user_id);

CREATE TABLE user_presence (
    user_id   INTEGER  NOT NULL,
    instance  TEXT     NOT NULL,
    connected BOOLEAN  NOT NULL,
    seen_at   DATETIME NOT NULL,
    PRIMARY KEY (user_id, instance)
);
CREATE INDEX user_presence_seen ON user_presence (seen_at);

CREATE TABLE push_subscriptions (
    id         INTEGER  PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER  NOT NULL REFERENCES users (id),
    endpoint   TEXT     NOT NULL,
    p256dh     TEXT     NOT NULL,
    auth       TEXT     NOT NULL,
    created_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX push_subscriptions_endpoint ON push_subscriptions (endpoint);
CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id);

CREATE TABLE push_vapid_keys (
    id          INTEGER  NOT NULL PRIMARY KEY,
    private_key TEXT     NOT NULL,
    public_key  TEXT     NOT NULL,
    created_at  DATETIME NOT NULL
);

-- +goose Down
DROP TABLE push_vapid_keys;
DROP TABLE push_subscriptions;
DROP TABLE user_presence;
DROP TABLE delivery_preferences;
ALTER TABLE users DROP COLUMN locale;
