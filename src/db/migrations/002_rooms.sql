-- SPDX-License-Identifier: Apache-2.0
-- Tables keyed by a composite primary key are WITHOUT ROWID: one b-tree
-- instead of a table plus an index, so fewer pages written per event.
-- Rooms, the event graph, state groups and the per-room tables that hang
-- off events. Event ids and (type, state_key) pairs get 64-bit short ids
-- (events.nid, state_keys.id) so that state groups store integers.

CREATE TABLE rooms (
    room_id TEXT PRIMARY KEY NOT NULL,
    room_version TEXT NOT NULL,
    creator TEXT,
    created_ts INTEGER NOT NULL,
    published INTEGER NOT NULL DEFAULT 0,
    -- the state group of the current (resolved) state
    current_state_group INTEGER
);

-- Every event we hold. nid orders persistence: it is the position of the
-- event in the "events" stream that /sync follows.
CREATE TABLE events (
    nid INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    room_id TEXT NOT NULL,
    type TEXT NOT NULL,
    state_key TEXT,
    sender TEXT NOT NULL,
    depth INTEGER NOT NULL,
    origin_server_ts INTEGER NOT NULL,
    json TEXT NOT NULL,
    outlier INTEGER NOT NULL DEFAULT 0,
    rejected TEXT,
    soft_failed INTEGER NOT NULL DEFAULT 0,
    -- the state group of the state *after* this event
    state_group INTEGER,
    redacted_by TEXT,
    -- the state event this one replaced (unsigned.replaces_state, prev_content)
    replaces_state TEXT,
    -- m.relates_to, for relations and aggregations
    relates_to TEXT,
    rel_type TEXT,
    thread_id TEXT,
    -- the sender's transaction, to echo transaction_id to that device
    txn_device TEXT,
    txn_id TEXT
);
CREATE INDEX events_by_room ON events (room_id, nid);
-- Partial indexes: plain messages (most events) add no entry to them.
CREATE INDEX events_by_relation ON events (relates_to, rel_type) WHERE relates_to IS NOT NULL;
CREATE INDEX events_by_thread ON events (room_id, thread_id, nid) WHERE thread_id IS NOT NULL;
CREATE INDEX events_by_ts ON events (room_id, origin_server_ts);

CREATE TABLE event_edges (
    event_nid INTEGER NOT NULL,
    prev_event_id TEXT NOT NULL,
    PRIMARY KEY (event_nid, prev_event_id)
) WITHOUT ROWID;

-- Forward extremities: the events with no children yet, per room.
CREATE TABLE room_extremities (
    room_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (room_id, event_id)
) WITHOUT ROWID;

CREATE TABLE state_keys (
    id INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    state_key TEXT NOT NULL,
    UNIQUE (type, state_key)
);

-- A state group is its parent's state plus a delta; every K deltas a full
-- snapshot (prev_group NULL). Identical states share a group (hash).
CREATE TABLE state_groups (
    id INTEGER PRIMARY KEY,
    room_id TEXT NOT NULL,
    prev_group INTEGER,
    chain_len INTEGER NOT NULL,
    hash BLOB NOT NULL
);
CREATE INDEX state_groups_by_hash ON state_groups (room_id, hash);

-- event_nid 0 in a delta means "removed" (cannot happen in Matrix state,
-- kept for completeness of the encoding).
CREATE TABLE state_group_entries (
    group_id INTEGER NOT NULL,
    key_id INTEGER NOT NULL,
    event_nid INTEGER NOT NULL,
    PRIMARY KEY (group_id, key_id)
) WITHOUT ROWID;

-- The resolved current state of each room, for fast membership queries.
CREATE TABLE current_state (
    room_id TEXT NOT NULL,
    type TEXT NOT NULL,
    state_key TEXT NOT NULL,
    event_nid INTEGER NOT NULL,
    membership TEXT,
    PRIMARY KEY (room_id, type, state_key)
) WITHOUT ROWID;
CREATE INDEX current_state_members ON current_state (state_key, type, membership);

-- Each membership change of a user, in stream order: what /sync needs to
-- know which rooms a user was in between two tokens.
CREATE TABLE membership_changes (
    nid INTEGER PRIMARY KEY,
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    membership TEXT NOT NULL,
    sender TEXT NOT NULL
);
CREATE INDEX membership_changes_by_user ON membership_changes (user_id, nid);

-- PUT /send and /state transaction ids, per device: idempotency.
CREATE TABLE event_txns (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    created_ts INTEGER NOT NULL,
    PRIMARY KEY (user_id, device_id, txn_id)
) WITHOUT ROWID;

CREATE TABLE room_aliases (
    alias TEXT PRIMARY KEY NOT NULL,
    room_id TEXT NOT NULL,
    creator TEXT NOT NULL
);
CREATE INDEX room_aliases_by_room ON room_aliases (room_id);

-- Rooms a user has forgotten after leaving.
CREATE TABLE room_forgotten (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    PRIMARY KEY (user_id, room_id)
) WITHOUT ROWID;

CREATE TABLE receipts (
    room_id TEXT NOT NULL,
    receipt_type TEXT NOT NULL,
    user_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    stream_id INTEGER NOT NULL,
    PRIMARY KEY (room_id, receipt_type, user_id, thread_id)
) WITHOUT ROWID;
CREATE INDEX receipts_by_stream ON receipts (stream_id);

CREATE TABLE event_reports (
    id INTEGER PRIMARY KEY,
    room_id TEXT NOT NULL,
    event_id TEXT,
    user_id TEXT NOT NULL,
    reason TEXT,
    score INTEGER,
    ts INTEGER NOT NULL
);
