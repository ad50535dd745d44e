-- SPDX-License-Identifier: Apache-2.0
-- Push (SPEC: client-server-api#push-notifications): what push rules gave
-- each event for the room's local users, one row per event, from which
-- /sync counts unread notifications and GET /notifications lists them.
-- Only events that notify or highlight someone, or that a local user sent,
-- get a row. Clustered by room: a message appends to its room's end of
-- this one B-tree (store/push.h tells why not one row per user).
CREATE TABLE event_push_actions (
    room_id TEXT NOT NULL,
    event_nid INTEGER NOT NULL,
    -- 'main' or the thread root's event id, as receipts name threads
    thread_id TEXT NOT NULL,
    -- the sender's localpart if local, else NULL: sending an event reads
    -- its thread for the sender
    sender TEXT,
    -- the localparts of the users notified / highlighted, each one
    -- preceded and the last one followed by U+001F ('' for none)
    notify TEXT NOT NULL,
    highlight TEXT NOT NULL,
    -- the rule's actions (JSON) of most notified users, for GET
    -- /notifications, NULL if nobody was; actions_other: a JSON object
    -- {localpart: actions} for those whose actions differ, or NULL
    actions TEXT,
    actions_other TEXT,
    ts INTEGER NOT NULL,
    PRIMARY KEY (room_id, event_nid)
) WITHOUT ROWID;
