-- SPDX-License-Identifier: Apache-2.0
-- End-to-end encryption: device keys, one-time and fallback keys, the
-- device-list change stream and the to-device inbox.

-- The signed device_keys object of each device, as uploaded (minus "unsigned").
CREATE TABLE e2e_device_keys (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    key_json TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id)
);

-- One-time keys: each is handed out once (deleted when claimed).
CREATE TABLE e2e_one_time_keys (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    key_id TEXT NOT NULL,
    key_json TEXT NOT NULL,
    UNIQUE (user_id, device_id, algorithm, key_id)
);

-- One fallback key per device and algorithm; used once claimed.
CREATE TABLE e2e_fallback_keys (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    key_id TEXT NOT NULL,
    key_json TEXT NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, device_id, algorithm)
);

-- The device-list stream: one row per change of a user's devices or keys,
-- stream_id from stream_positions 'device_lists'.
CREATE TABLE device_list_changes (
    stream_id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL
);
CREATE INDEX device_list_changes_by_user ON device_list_changes (user_id, stream_id);

-- Pending to-device messages, stream_id from stream_positions 'to_device';
-- deleted once the device syncs with a token past them.
CREATE TABLE to_device_inbox (
    stream_id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    type TEXT NOT NULL,
    content TEXT NOT NULL
);
CREATE INDEX to_device_inbox_by_device ON to_device_inbox (user_id, device_id, stream_id);

-- sendToDevice transaction ids, per sending device: idempotency.
CREATE TABLE to_device_txns (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    created_ts INTEGER NOT NULL,
    PRIMARY KEY (user_id, device_id, txn_id)
);
