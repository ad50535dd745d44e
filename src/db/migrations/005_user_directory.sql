-- SPDX-License-Identifier: Apache-2.0
-- The user directory (store/user_directory.c): one searchable entry per
-- user, and which rooms make their members findable by everyone. Who shares
-- a room with whom is not stored: searches read it from current_state.

-- Folded text: NFKD, case folding, marks stripped, cut into words of
-- letters and digits. local_text and name_text are the words of the
-- localpart and of the display name separated by single spaces (for
-- ranking); search_text is the words of localpart, server name and display
-- name each with a space before and after (" alice example org alice
-- liddell "), so that "some word starts with w" is LIKE '% w%'.
CREATE TABLE user_directory (
    user_id TEXT PRIMARY KEY NOT NULL,
    display_name TEXT,
    avatar_url TEXT,
    search_text TEXT NOT NULL,
    local_text TEXT NOT NULL,
    name_text TEXT
);

-- Rooms whose members everyone may find (Synapse's
-- is_room_world_readable_or_publicly_joinable), from current state. A room
-- without a row is not public; start-up adds rows (zeros too) for rooms it
-- has not looked at yet.
CREATE TABLE user_directory_rooms (
    room_id TEXT PRIMARY KEY NOT NULL,
    join_public INTEGER NOT NULL DEFAULT 0,
    world_readable INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX user_directory_rooms_public ON user_directory_rooms (room_id)
    WHERE join_public <> 0 OR world_readable <> 0;
-- Rooms published in the room directory count as public too.
CREATE INDEX user_directory_published_rooms ON rooms (room_id) WHERE published <> 0;
