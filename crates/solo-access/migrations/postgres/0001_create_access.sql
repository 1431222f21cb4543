-- Users, their sessions, API tokens, recovery codes and login throttles.
-- Times are unix milliseconds. Secrets are never stored: tokens and
-- recovery codes as SHA-256, passwords as argon2id PHC strings.
CREATE TABLE access_users (
    id              TEXT    PRIMARY KEY,
    name            TEXT    NOT NULL,
    name_key        TEXT    NOT NULL UNIQUE,   -- lower-cased name
    role            TEXT    NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    password_hash   TEXT    NOT NULL,
    totp_secret     TEXT,                      -- base32, set once enrolment is confirmed
    totp_pending    TEXT,                      -- base32, while enrolling
    totp_last_step  BIGINT,                   -- the last accepted step: no replay
    disabled_at     BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE access_sessions (
    id            TEXT    PRIMARY KEY,
    token_hash    TEXT    NOT NULL UNIQUE,
    user_id       TEXT    NOT NULL REFERENCES access_users (id),
    stage         TEXT    NOT NULL CHECK (stage IN ('mfa', 'active')),
    csrf_token    TEXT    NOT NULL,
    client        TEXT,
    user_agent    TEXT,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,            -- absolute lifetime
    revoked_at    BIGINT
);
CREATE INDEX access_sessions_user ON access_sessions (user_id);

CREATE TABLE access_tokens (
    id            TEXT    PRIMARY KEY,
    name          TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    token_hash    TEXT    NOT NULL UNIQUE,
    created_by    TEXT    NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);

CREATE TABLE access_recovery_codes (
    user_id    TEXT    NOT NULL REFERENCES access_users (id),
    code_hash  TEXT    NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE access_login_throttle (
    key           TEXT    PRIMARY KEY,         -- 'client:<ip>' or 'user:<name_key>'
    failures      BIGINT NOT NULL,
    locked_until  BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
