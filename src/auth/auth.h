/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Event authorisation: the "Authorization rules" of every room version
 * (SPEC: rooms/v1#authorization-rules .. rooms/v12#authorization-rules),
 * as one function that asks the version row (event/version.h) which rules
 * apply, and the power level arithmetic the rest of the server shares.
 *
 * Everything here is pure: no I/O, no allocation that outlives a call, no
 * globals. Events are jansson objects in federation (PDU) format and are
 * never modified; every field of every event, the checked one and those of
 * the state alike, may be missing or of the wrong type, and such input is
 * denied (or treated as absent where the spec gives a default), never
 * trusted.
 *
 * What the caller does, not this module (the rest of rule 2/3, "considering
 * the event's auth_events", and the signature stage):
 *  - reject auth_events that have duplicate (type, state_key) pairs, pairs
 *    that mx_auth_event_types() does not list, rejected events, or (v12)
 *    the create event;
 *  - v12: check that room_id is the create event's id with "!" for "$"
 *    (rule 2; mx_event_room_id_from_create() in event/refhash.h), once per
 *    event rather than here on every check, which would hash the create
 *    event each time;
 *  - check the event's signatures (mx_event_check_signatures() in
 *    event/event.h), including, for a join whose content has
 *    join_authorised_via_users_server (v8+), that user's server's (rule
 *    4.2 of v8-v11, 5.2 of v12).
 * This module does check that every state event it reads has the event's
 * room_id (rule 2.5/3.5) and that a create event is present (rule 2.4).
 */
#ifndef MX_AUTH_AUTH_H
#define MX_AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "event/version.h"

/*
 * The state an event is checked against: a lookup of (type, state_key) to
 * an event, or NULL if that state is empty. Returned events are borrowed
 * and must stay valid for the duration of the call that looked them up.
 * It is typically the event's auth events indexed by (type, state_key), or
 * the room state before the event. The room's m.room.create event must be
 * reachable as ("m.room.create", "") in every room version, v12 included
 * (where it is not among the auth_events: callers supply it anyway).
 *
 * Rule 4.3.1 ("the only previous event is an m.room.create") compares the
 * event's single prev_event with the create event's id: its "event_id" in
 * v1 and v2, its reference hash (event/refhash.h) from v3 on. So in v3+
 * the create event must be given exactly as it was sent (an added
 * "event_id" or other member would change its hash; "unsigned" may be
 * there). If it cannot be hashed (a v3-v5 create event that is not
 * canonical JSON), the rule holds only when the state has no power levels, no join
 * rules and no membership for the joining user: the state after the create
 * event alone.
 */
struct mx_auth_state {
	const json_t *(*get)(void *ctx, const char *type, const char *state_key);
	void *ctx;
};

/*
 * A (type, state_key) pair that an event needs among its auth events.
 * type is a static string; state_key is borrowed from the event that was
 * given to mx_auth_event_types() (or is the static "").
 */
struct mx_auth_key {
	const char *type;
	const char *state_key;
};

/* The most pairs mx_auth_event_types() can produce for one event. */
#define MX_AUTH_KEYS_MAX 7

/*
 * Check event against the authorisation rules of room version v, given
 * state. Returns 0 if the event is allowed, or MX_EFORBIDDEN with *why
 * (if why is non-NULL) set to a static English reason. *why is set to NULL
 * on success. MX_EINVALID if v or event is NULL.
 *
 * Rules the spec leaves open, resolved here (see also the file comment):
 *  - A missing m.room.join_rules event means "invite", as in Synapse.
 *  - An m.room.create event must be a state event with state_key "".
 *  - A power level that cannot be read as an integer for this version (a
 *    string in v10+, a float in v6+, a bool, a malformed string, a value
 *    outside int64) denies any check that needs it, as Synapse fails on
 *    int() of it. An events/notifications/users member that is present but
 *    not an object is likewise denied when compared.
 *  - Third-party invites: the signed block's signatures are verified
 *    against the invite event's public_key / public_keys[].public_key
 *    (standard or URL-safe base64), trying at most 64 (key, signature)
 *    combinations; past that the invite is denied. Whether the identity
 *    server has since revoked the key is not checked (as in Synapse).
 */
int mx_auth_check(const struct mx_room_version *v, const json_t *event,
		  const struct mx_auth_state *state, const char **why);

/*
 * The (type, state_key) pairs event needs as auth events (SPEC:
 * server-server-api#auth-events-selection): the create event (unless v12),
 * the power levels, the sender's membership and, for m.room.member, the
 * target's membership, the join rules (join/invite/knock), the third-party
 * invite named by content.third_party_invite.signed.token (invite) and the
 * authorising user's membership (join with join_authorised_via_users_server,
 * v8+). Pairs whose state key would come from a missing or non-string field
 * are left out; duplicates are written once. An m.room.create event needs
 * none. Writes at most max pairs to out and returns how many it wrote;
 * MX_AUTH_KEYS_MAX is always enough.
 */
size_t mx_auth_event_types(const struct mx_room_version *v, const json_t *event,
			   struct mx_auth_key *out, size_t max);

/*
 * True if user_id is a room creator according to create_event (the room's
 * m.room.create event): content.creator in v1-v10, the sender in v11, and
 * the sender or any of content.additional_creators in v12 (SPEC:
 * rooms/v12#authorization-rules, the room creators note). False if any
 * argument is NULL or malformed.
 */
bool mx_auth_is_creator(const struct mx_room_version *v, const json_t *create_event,
			const char *user_id);

/*
 * user_id's power level. power_levels is the room's m.room.power_levels
 * event (not its content), or NULL if there is none; create_event is the
 * room's m.room.create event (may be NULL, then nobody is a creator).
 *  - v12: a creator's level is infinite: INT64_MAX.
 *  - With a power levels event: users[user_id], else users_default, else 0.
 *  - Without one: 100 for the creator (mx_auth_is_creator()), 0 otherwise.
 * Values that cannot be read as integers for this version count as absent.
 */
int64_t mx_auth_user_power(const struct mx_room_version *v, const json_t *power_levels,
			   const json_t *create_event, const char *user_id);

/*
 * The level needed to send an event of event_type: events[event_type] of
 * the power levels event (NULL: none), else state_default (50) for state
 * events or events_default (0) for others. Values that cannot be read as
 * integers count as absent.
 */
int64_t mx_auth_event_power(const struct mx_room_version *v, const json_t *power_levels,
			    const char *event_type, bool is_state);

#endif
