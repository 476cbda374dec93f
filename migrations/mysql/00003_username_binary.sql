-- Exact account names. Under utf8mb4_unicode_ci "bob_vict2 ", "bób_vict2"
-- and the fullwidth "ｂｏｂ_vict2" all equal "bob_vict2", so each of them
-- signed in as that user while the login limiter counted it as another
-- name. utf8mb4_bin would not do: like every PAD SPACE collation (all of
-- MariaDB's but the _nopad_ ones, and MySQL's but the 0900 ones) it still
-- ignores trailing spaces. VARBINARY compares bytes, on MySQL and MariaDB.
--
-- Usernames stay unique regardless of ASCII case ("Bob" cannot register
-- beside "bob", who he could pass for), through username_key, which the
-- database computes as LOWER(username); the application looks users up by
-- it. The old 32-character columns held up to 4 bytes a character, hence
-- 128 and 1020 bytes, so that no existing value can fail to convert.
--
-- The external issuer's (issuer, subject) identify a person there and are
-- compared exactly too: a JWT's sub is case-sensitive, and "abc" and "ABC"
-- may be two people.

-- +goose Up
ALTER TABLE users
    MODIFY username VARBINARY(128) NOT NULL,
    ADD COLUMN username_key VARBINARY(128) AS (LOWER(CONVERT(username USING utf8mb4))) STORED,
    MODIFY issuer VARBINARY(1020) NULL,
    MODIFY subject VARBINARY(1020) NULL,
    DROP INDEX users_username,
    ADD UNIQUE KEY users_username_key (username_key);

-- +goose Down
-- Fails when two external subjects differ only in case or trailing spaces,
-- which the old collation cannot hold apart.
ALTER TABLE users
    DROP COLUMN username_key,
    MODIFY username VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL,
    MODIFY issuer VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL,
    MODIFY subject VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL,
    ADD UNIQUE KEY users_username (username);
