-- SPDX-License-Identifier: Apache-2.0
-- Server-side search (SPEC: client-server-api#server-side-search): an FTS5
-- index of the searchable text of events, one row per event, rowid =
-- events.nid. Three columns, one per search key: content.body of
-- m.room.message, content.name of m.room.name, content.topic of
-- m.room.topic (or, without one, the text/plain body of content.m.topic,
-- which the spec says the topic duplicates).
-- An event has at most one of them; "keys" becomes an FTS5 column filter.
--
-- The index keeps no copy of the text: it is an external-content table
-- whose content is the view below, computed from events.json. The view is
-- what is indexed, so it must stay deterministic: FTS5 removes a row by
-- being handed the very values it indexed (store/search.c takes them from
-- the view before the redaction mark hides the row). Redacted events are
-- not in the view, hence not in the index. Encrypted events have no
-- plaintext and are not in it either.
--
-- json_valid() guards the JSON functions: an event nested deeper than
-- SQLite's JSON parser allows is left unindexed rather than failing its
-- write. No table-valued function (json_each) in the view: FTS5 reads it
-- with virtual tables forbidden for 'rebuild', which must keep working. So
-- the text/plain body of m.topic is looked for in its first three
-- representations only. unicode61 with remove_diacritics 2: case- and
-- accent-insensitive ("cafe" finds "café").
CREATE VIEW event_search_content AS
SELECT nid, body, name, topic FROM (
    SELECT nid,
        CASE WHEN type = 'm.room.message' AND state_key IS NULL AND json_valid(json)
            THEN CASE WHEN json_type(json, '$.content.body') = 'text'
                THEN json_extract(json, '$.content.body') END END AS body,
        CASE WHEN type = 'm.room.name' AND state_key = '' AND json_valid(json)
            THEN CASE WHEN json_type(json, '$.content.name') = 'text'
                THEN json_extract(json, '$.content.name') END END AS name,
        CASE WHEN type = 'm.room.topic' AND state_key = '' AND json_valid(json)
            THEN COALESCE(
                CASE WHEN json_type(json, '$.content.topic') = 'text'
                    THEN NULLIF(json_extract(json, '$.content.topic'), '') END,
                CASE WHEN json_type(json, '$.content."m.topic"."m.text"[0].body') = 'text'
                    AND COALESCE(json_extract(json, '$.content."m.topic"."m.text"[0].mimetype'),
                                 'text/plain') = 'text/plain'
                    THEN json_extract(json, '$.content."m.topic"."m.text"[0].body') END,
                CASE WHEN json_type(json, '$.content."m.topic"."m.text"[1].body') = 'text'
                    AND COALESCE(json_extract(json, '$.content."m.topic"."m.text"[1].mimetype'),
                                 'text/plain') = 'text/plain'
                    THEN json_extract(json, '$.content."m.topic"."m.text"[1].body') END,
                CASE WHEN json_type(json, '$.content."m.topic"."m.text"[2].body') = 'text'
                    AND COALESCE(json_extract(json, '$.content."m.topic"."m.text"[2].mimetype'),
                                 'text/plain') = 'text/plain'
                    THEN json_extract(json, '$.content."m.topic"."m.text"[2].body') END)
            END AS topic
    FROM events
    WHERE type IN ('m.room.message', 'm.room.name', 'm.room.topic') AND redacted_by IS NULL)
WHERE body IS NOT NULL OR name IS NOT NULL OR topic IS NOT NULL;

CREATE VIRTUAL TABLE event_search USING fts5 (
    body, name, topic,
    content = 'event_search_content',
    content_rowid = 'nid',
    tokenize = 'unicode61 remove_diacritics 2'
);

-- What is already stored, so that an upgraded server searches its history.
INSERT INTO event_search (rowid, body, name, topic)
    SELECT nid, body, name, topic FROM event_search_content;
