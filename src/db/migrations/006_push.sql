-- SPDX-License-Identifier: Apache-2.0
-- Push (SPEC: client-server-api#push-notifications): the actions push
-- rules gave each event for each local user, from which /sync counts
-- unread notifications and GET /notifications lists them. Only events
-- that notify or highlight get a row.
CREATE TABLE event_push_actions (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    -- 'main' or the thread root's event id, as receipts name threads
    thread_id TEXT NOT NULL,
    event_nid INTEGER NOT NULL,
    notif INTEGER NOT NULL,
    highlight INTEGER NOT NULL,
    -- the matching rule's actions (JSON), for GET /notifications
    actions TEXT NOT NULL,
    ts INTEGER NOT NULL,
    PRIMARY KEY (user_id, room_id, thread_id, event_nid)
);
CREATE INDEX event_push_actions_by_user ON event_push_actions (user_id, event_nid);

-- Per (user, room, thread): the newest action, so that counting visits
-- only threads with something after the user's read point, and the
-- user's own newest event there, which reads everything before it
-- ("When the user updates their read receipt (either by using the API or
-- by sending an event)").
CREATE TABLE push_threads (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    latest_nid INTEGER NOT NULL,
    sent_nid INTEGER NOT NULL,
    PRIMARY KEY (user_id, room_id, thread_id)
);
