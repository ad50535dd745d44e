/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Room versions 1-12 as data: each version is a row of the algorithms it
 * uses, so code asks "which redaction algorithm?" rather than comparing
 * version strings. SPEC: rooms/v1 .. rooms/v12
 */
#ifndef MX_EVENT_VERSION_H
#define MX_EVENT_VERSION_H

#include <stdbool.h>

enum mx_event_id_format {
	MX_EVID_V1 = 1, /* "$localpart:server", chosen by the origin (v1, v2) */
	MX_EVID_V3 = 3, /* "$" + unpadded standard base64 of the reference hash (v3) */
	MX_EVID_V4 = 4, /* "$" + unpadded URL-safe base64 of the reference hash (v4+) */
};

enum mx_redaction_algo {
	MX_REDACT_V1 = 1,  /* v1-v5 */
	MX_REDACT_V6 = 6,  /* v6, v7: m.room.aliases loses its special case */
	MX_REDACT_V8 = 8,  /* v8: m.room.join_rules keeps allow */
	MX_REDACT_V9 = 9,  /* v9, v10: keeps join_authorised_via_users_server */
	MX_REDACT_V11 = 11,/* v11, v12 */
};

enum mx_auth_rules {
	MX_AUTH_V1 = 1,   /* v1, v2 */
	MX_AUTH_V3 = 3,   /* v3-v5: redaction auth moved to handling */
	MX_AUTH_V6 = 6,   /* v6: no m.room.aliases special case, notifications PL */
	MX_AUTH_V7 = 7,   /* v7: knocking */
	MX_AUTH_V8 = 8,   /* v8, v9: restricted joins */
	MX_AUTH_V10 = 10, /* v10: knock_restricted, integer power levels */
	MX_AUTH_V11 = 11, /* v11: creator from sender, no creator in content */
	MX_AUTH_V12 = 12, /* v12: room id from create event, additional_creators */
};

enum mx_state_res {
	MX_STATE_RES_V1 = 1,  /* room v1 only */
	MX_STATE_RES_V2 = 2,  /* v2-v11 */
	MX_STATE_RES_V21 = 3, /* v12: state resolution v2.1 */
};

struct mx_room_version {
	const char *id;
	enum mx_event_id_format event_id;
	enum mx_redaction_algo redaction;
	enum mx_auth_rules auth;
	enum mx_state_res state_res;
	bool strict_canonical_json;   /* v6+: reject floats and out-of-range ints */
	bool integer_power_levels;    /* v10+: power levels must be JSON integers */
	bool knock;                   /* v7+ */
	bool restricted_join;         /* v8+ */
	bool knock_restricted;        /* v10+ */
	bool special_aliases_auth;    /* v1-v5: m.room.aliases checked by sender domain */
	bool strict_key_validity;     /* v5+: signing key valid_until_ts enforced */
	bool create_has_creator;      /* v1-v10: m.room.create content.creator */
	bool room_id_from_create;     /* v12: room id is "!" + create event's reference hash */
	bool has_event_id_field;      /* v1, v2: events carry "event_id" */
	bool auth_events_are_pairs;   /* v1, v2: [event_id, {hashes}] pairs in prev/auth events */
	bool create_in_auth_events;   /* false in v12: the create event is implied */
};

/* The version row for id, or NULL if unknown/unsupported. */
const struct mx_room_version *mx_room_version_get(const char *id);
/* The ids we support, in order, NULL-terminated. */
extern const char *const mx_room_version_ids[];

#endif
