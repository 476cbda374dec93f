-- Offline delivery: email and Web Push for users who are not connected.
--
-- users.locale is the language of the mail a user is sent (zh-CN or en),
-- taken from the locale claim of the quiz site's tokens; '' means en.
--
-- delivery_preferences holds a row for every user who set a preference
-- (no row: no email, push on, every type on). types_off lists, comma-
-- separated, the notification types neither mailed nor pushed. The rest is
-- the mail outbox of the user, decided from the notifications themselves:
-- mailed_up_to_id is the largest notification id the user has been mailed
-- about (or passed over: read, seen live, switched off), mailed_at when the
-- last message went out. A worker claims a row (FOR UPDATE SKIP LOCKED),
-- writes the batch it is about to send (pending_up_to_id) and the
-- Message-ID it sends it under (pending_message_id), with claimed_until
-- keeping other workers off it while it talks to the SMTP server; once the
-- server accepted the message the mark moves to pending_up_to_id. A
-- process killed between the two sends the same batch again under the same
-- Message-ID. attempts and retry_at pace retries while the server fails.
--
-- user_presence records, per user and instance, whether the user has a
-- connection open there (connected) and when that was last known
-- (seen_at): refreshed while connected, set when the last connection
-- closed. A notification created after every seen_at of its user was
-- created while they had no connection; a connected row not refreshed for
-- a while belongs to an instance that died.
--
-- push_subscriptions holds the browsers' Web Push subscriptions, one row
-- per endpoint (a browser that signs in as someone else moves its row).
--
-- push_vapid_keys holds the one VAPID key pair of a MySQL deployment, so
-- that every instance signs with the key the browsers subscribed with.

-- +goose Up
ALTER TABLE users ADD COLUMN locale VARCHAR(16) NOT NULL DEFAULT '';

CREATE TABLE delivery_preferences (
    user_id            BIGINT       NOT NULL,
    email              VARCHAR(254) NOT NULL DEFAULT '',
    email_verified     BOOLEAN      NOT NULL DEFAULT FALSE,
    email_delivery     VARCHAR(8)   NOT NULL DEFAULT 'instant',
    push_enabled       BOOLEAN      NOT NULL DEFAULT TRUE,
    types_off          VARCHAR(255) NOT NULL DEFAULT '',
    mailed_up_to_id    BIGINT       NOT NULL DEFAULT 0,
    mailed_at          DATETIME(6)  NULL,
    pending_up_to_id   BIGINT       NOT NULL DEFAULT 0,
    pending_message_id VARCHAR(128) NOT NULL DEFAULT '',
    claimed_until      DATETIME(6)  NULL,
    attempts           INT          NOT NULL DEFAULT 0,
    retry_at           DATETIME(6)  NULL,
    updated_at         DATETIME(6)  NOT NULL,
    PRIMARY KEY (user_id),
    KEY delivery_preferences_mail (email_verified, email_delivery, user_id),
    CONSTRAINT delivery_preferences_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE user_presence (
    user_id   BIGINT      NOT NULL,
    instance  VARCHAR(64) NOT NULL,
    connected BOOLEAN     NOT NULL,
    seen_at   DATETIME(6) NOT NULL,
    PRIMARY KEY (user_id, instance),
    KEY user_presence_seen (seen_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE push_subscriptions (
    id         BIGINT       NOT NULL AUTO_INCREMENT,
    user_id    BIGINT       NOT NULL,
    endpoint   VARCHAR(512) NOT NULL,
    p256dh     VARCHAR(128) NOT NULL,
    auth       VARCHAR(64)  NOT NULL,
    created_at DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY push_subscriptions_endpoint (endpoint),
    KEY push_subscriptions_user (user_id),
    CONSTRAINT push_subscriptions_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE push_vapid_keys (
    id          INT          NOT NULL,
    private_key VARCHAR(128) NOT NULL,
    public_key  VARCHAR(128) NOT NULL,
    created_at  DATETIME(6)  NOT NULL,
    PRIMARY KEY (id)
) ENGINE=InnoDB;

-- +goose Down
DROP TABLE push_vapid_keys;
DROP TABLE push_subscriptions;
DROP TABLE user_presence;
DROP TABLE delivery_preferences;
ALTER TABLE users DROP COLUMN locale;
