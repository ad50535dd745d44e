-- SPDX-License-Identifier: Apache-2.0
-- Content reports (SPEC: client-server-api#reporting-content). Event and
-- room reports go to event_reports (event_id NULL for a room report); user
-- reports (v1.14) name no room, so they get their own table. The published
-- room directory lists rooms with rooms.published set: a partial index keeps
-- that scan off the rest of the rooms table.
CREATE TABLE user_reports (
    id INTEGER PRIMARY KEY,
    target_user_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    ts INTEGER NOT NULL
);
CREATE INDEX user_reports_by_target ON user_reports (target_user_id);
CREATE INDEX rooms_published ON rooms (room_id) WHERE published = 1;
