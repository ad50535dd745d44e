-- SPDX-License-Identifier: Apache-2.0
-- Threads (SPEC: client-server-api#threading): one row per (room, thread
-- root) with the nid of the thread's newest live event, kept by the event
-- writer, so GET /rooms/{roomId}/threads pages roots by latest activity
-- without scanning every threaded event of the room. The root itself may
-- arrive later than its replies: readers join events for it.
CREATE TABLE threads (
    room_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    latest_nid INTEGER NOT NULL,
    PRIMARY KEY (room_id, thread_id)
);
CREATE INDEX threads_by_activity ON threads (room_id, latest_nid);

INSERT INTO threads (room_id, thread_id, latest_nid)
    SELECT room_id, thread_id, MAX(nid) FROM events
    WHERE thread_id IS NOT NULL AND redacted_by IS NULL AND outlier = 0
      AND rejected IS NULL AND soft_failed = 0
    GROUP BY room_id, thread_id;
