-- SPDX-License-Identifier: Apache-2.0
-- Pushers (SPEC: client-server-api#push-notifications; store/pushers.h):
-- one row per (user, app_id, pushkey), belonging to the device whose
-- access token set it (deleted with that device). data is the JSON object
-- the client gave, url included. pushkey_ts: when it was last set, ms.
-- last_nid: the event nid of the newest notification delivered to the
-- push gateway (or given up on): after a restart, delivery resumes with
-- the user's notifications after it.
CREATE TABLE pushers (
    id INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: delivery tells pushers by id
    user_id TEXT NOT NULL,
    device_id TEXT,
    kind TEXT NOT NULL,
    app_id TEXT NOT NULL,
    pushkey TEXT NOT NULL,
    app_display_name TEXT NOT NULL,
    device_display_name TEXT NOT NULL,
    profile_tag TEXT NOT NULL DEFAULT '',
    lang TEXT NOT NULL,
    data TEXT NOT NULL,
    pushkey_ts INTEGER NOT NULL,
    last_nid INTEGER NOT NULL DEFAULT 0,
    UNIQUE (user_id, app_id, pushkey)
);
-- append=false removes other users' pushers with the same app_id and pushkey.
CREATE INDEX pushers_by_key ON pushers (app_id, pushkey);
