-- SPDX-License-Identifier: Apache-2.0
-- Accounts, devices, tokens, profiles, account data, filters, UIA sessions.
CREATE TABLE users (
    user_id TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT,
    created_ts INTEGER NOT NULL,
    is_guest INTEGER NOT NULL DEFAULT 0,
    admin INTEGER NOT NULL DEFAULT 0,
    deactivated INTEGER NOT NULL DEFAULT 0,
    displayname TEXT,
    avatar_url TEXT
);

-- Extended profile fields other than displayname/avatar_url; value is JSON.
CREATE TABLE profile_fields (
    user_id TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (user_id, field)
);

CREATE TABLE devices (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    display_name TEXT,
    created_ts INTEGER NOT NULL,
    last_seen_ts INTEGER,
    last_seen_ip TEXT,
    PRIMARY KEY (user_id, device_id)
);

-- Tokens are stored as SHA-256 hex digests, never in clear.
CREATE TABLE access_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    created_ts INTEGER NOT NULL,
    expires_ts INTEGER,
    refresh_id INTEGER,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX access_tokens_by_device ON access_tokens (user_id, device_id);
CREATE INDEX access_tokens_by_refresh ON access_tokens (refresh_id);

-- A refresh token stays valid after use until its successor (prev_id points
-- back to it) or the successor's access token is first used.
CREATE TABLE refresh_tokens (
    id INTEGER PRIMARY KEY,
    token_hash TEXT UNIQUE NOT NULL,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    created_ts INTEGER NOT NULL,
    expires_ts INTEGER,
    prev_id INTEGER
);
CREATE INDEX refresh_tokens_by_device ON refresh_tokens (user_id, device_id);

-- Global account data has room_id ''.
CREATE TABLE account_data (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    type TEXT NOT NULL,
    content TEXT NOT NULL,
    stream_id INTEGER NOT NULL,
    PRIMARY KEY (user_id, room_id, type)
);

CREATE TABLE filters (
    user_id TEXT NOT NULL,
    filter_id INTEGER NOT NULL,
    filter_json TEXT NOT NULL,
    PRIMARY KEY (user_id, filter_id)
);

-- User-interactive auth sessions: completed stages and the request they
-- authorise are pinned at the first call.
CREATE TABLE uia_sessions (
    session_id TEXT PRIMARY KEY NOT NULL,
    created_ts INTEGER NOT NULL,
    purpose TEXT NOT NULL,
    user_id TEXT,
    completed TEXT NOT NULL DEFAULT '[]',
    params TEXT
);

CREATE TABLE registration_tokens (
    token TEXT PRIMARY KEY NOT NULL,
    uses_allowed INTEGER,
    pending INTEGER NOT NULL DEFAULT 0,
    completed INTEGER NOT NULL DEFAULT 0,
    expiry_time INTEGER
);

-- Every action an administrator or the server takes on a user's behalf.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT
);

-- Monotonic stream positions, one row per stream.
CREATE TABLE stream_positions (
    stream TEXT PRIMARY KEY NOT NULL,
    position INTEGER NOT NULL
);
