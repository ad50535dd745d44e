-- SPDX-License-Identifier: Apache-2.0
-- Server-side key backups (SPEC: client-server-api#server-side-key-backups)
-- and cross-signing keys and signatures (SPEC: client-server-api#cross-signing).

-- One row per backup version a user ever created. Versions are numbered per
-- user and never reused: a deleted version keeps its row (deleted = 1).
-- The current version is the highest one not deleted. etag changes with
-- every change to the version's keys.
CREATE TABLE room_key_versions (
    user_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    algorithm TEXT NOT NULL,
    auth_data TEXT NOT NULL,
    etag INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, version)
);

-- The backed-up session keys of one version (KeyBackupData).
CREATE TABLE room_keys (
    user_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    room_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    first_message_index INTEGER NOT NULL,
    forwarded_count INTEGER NOT NULL,
    is_verified INTEGER NOT NULL,
    session_data TEXT NOT NULL,
    PRIMARY KEY (user_id, version, room_id, session_id)
);

-- A user's cross-signing keys: usage is 'master', 'self_signing' or
-- 'user_signing'; key_json the CrossSigningKey as uploaded (with the
-- uploader's signatures); stream_id orders changes.
CREATE TABLE cross_signing_keys (
    user_id TEXT NOT NULL,
    usage TEXT NOT NULL,
    key_id TEXT NOT NULL,
    key_json TEXT NOT NULL,
    stream_id INTEGER NOT NULL,
    PRIMARY KEY (user_id, usage)
);

-- Signatures uploaded through /keys/signatures/upload: signer (user, key
-- id) signed the target (user, key): a device id, or the base64 public key
-- of a master key. Merged into device and master keys by keys/query.
CREATE TABLE cross_signing_signatures (
    target_user_id TEXT NOT NULL,
    target_key_id TEXT NOT NULL,
    signer_user_id TEXT NOT NULL,
    signer_key_id TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (target_user_id, target_key_id, signer_user_id, signer_key_id)
);
