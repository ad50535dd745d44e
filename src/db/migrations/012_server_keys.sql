-- SPDX-License-Identifier: Apache-2.0
-- Other servers' signing keys (SPEC: server-server-api#retrieving-server-keys),
-- one row per (server, key id) that a verified key response listed: the
-- public key for verifying signatures, and the response itself, as the
-- server signed it (other notaries' signatures stripped), so that our
-- notary API (/_matrix/key/v2/query) can serve it again with our own
-- signature added. A newer response (by valid_until_ts) replaces an older
-- one's rows; keys no longer listed stay, for old events.
CREATE TABLE server_keys (
    server_name TEXT NOT NULL,
    key_id TEXT NOT NULL,
    -- the 32-byte ed25519 public key
    verify_key BLOB NOT NULL,
    -- valid_until_ts of the response, as published (the 7-day cap on
    -- believing it is applied when reading, against fetched_ts)
    valid_until_ts INTEGER NOT NULL,
    -- old_verify_keys: when the key stopped being used; NULL for a key in
    -- verify_keys
    expired_ts INTEGER,
    fetched_ts INTEGER NOT NULL,
    -- who gave us the response: the server itself or a notary
    from_server TEXT NOT NULL,
    -- the signed response (canonical JSON)
    key_json TEXT NOT NULL,
    PRIMARY KEY (server_name, key_id)
);
