/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The redaction algorithm (SPEC: client-server-api#redactions, and each
 * room version's "Redactions" section: rooms/v1, v6, v8, v9, v11).
 *
 * Redaction is not only what happens when someone redacts a message: the
 * redacted form of an event is what its signatures and its reference hash
 * (and so, from room version 3, its event id) cover, so this must match
 * every other server bit for bit, version by version.
 */
#ifndef MX_EVENT_REDACT_H
#define MX_EVENT_REDACT_H

#include <jansson.h>

struct mx_room_version;

/*
 * A new, redacted copy of event (an object) under v's redaction algorithm:
 *
 *  - top-level keys other than event_id, type, room_id, sender, state_key,
 *    content, hashes, signatures, depth, prev_events, auth_events and
 *    origin_server_ts are dropped; before MX_REDACT_V11 prev_state, origin
 *    and membership are kept too. "unsigned" is always dropped: callers
 *    that serve a redacted event add unsigned.redacted_because themselves;
 *  - content keeps only the keys the version protects for the event's
 *    type (m.room.member, m.room.create, m.room.join_rules,
 *    m.room.power_levels, m.room.history_visibility, m.room.aliases before
 *    v6, m.room.redaction from v11). A "content" member is always present
 *    in the result, {} when the event had none or it was not an object,
 *    as Synapse does.
 *
 * The copy is deep: it shares nothing with event, so callers may modify it
 * (signing does). Returns a new reference (caller decrefs), or NULL if
 * event is not an object or v is NULL.
 */
json_t *mx_event_redact(const json_t *event, const struct mx_room_version *v);

#endif
