/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Identifier grammars (SPEC: appendices#identifier-grammar): server names,
 * user ids, room ids, event ids and room aliases, as events and the APIs
 * carry them. Pure string checks: no allocation, nothing looked up.
 *
 * Every function takes a NUL-terminated string (a string with an embedded
 * NUL cannot be checked this way: callers holding jansson strings compare
 * strlen() with json_string_length() first) and accepts NULL as "invalid".
 * All of them require valid UTF-8 (no surrogates, no overlong forms), so a
 * string that passes can be put in JSON and signed.
 */
#ifndef MX_EVENT_IDS_H
#define MX_EVENT_IDS_H

#include <stdbool.h>

struct mx_room_version;

/*
 * Longest user id, room id, event id or room alias, in bytes, sigil and
 * server name included (SPEC: appendices#user-identifiers, #room-ids,
 * #room-aliases, #event-ids). Buffers that hold one are MX_ID_MAX_LEN + 1.
 */
#define MX_ID_MAX_LEN 255

/* Characters of unpadded base64 for a SHA-256 digest (hash-based ids). */
#define MX_ID_HASH_B64_LEN 43

/*
 * SPEC: appendices#server-name: hostname [":" port], where hostname is an
 * IPv6 literal in brackets (2..45 of [0-9A-Fa-f:.]) or a DNS name / IPv4
 * literal (1..255 of [A-Za-z0-9-.]) and port is 1..5 digits. This is the
 * spec's grammar exactly; it does not check label structure or IPv4 octet
 * ranges (the spec's own ABNF accepts what those would refuse).
 */
bool mx_id_server_name_valid(const char *s);

/*
 * A user id as events must accept it (SPEC: appendices#historical-user-ids):
 * "@" localpart ":" server_name, where the localpart is any UTF-8 without
 * ':' (possibly empty), and the whole is at most MX_ID_MAX_LEN bytes.
 */
bool mx_id_user_valid(const char *s);

/*
 * A user id in the current grammar (SPEC: appendices#user-identifiers):
 * the localpart is 1+ of [a-z0-9._=/+-]. What new accounts must use.
 */
bool mx_id_user_compliant(const char *s);

/*
 * A room id for room version v (SPEC: appendices#room-ids):
 *  - room versions with room_id_from_create (v12+): "!" followed by
 *    exactly MX_ID_HASH_B64_LEN characters of URL-safe base64;
 *  - earlier versions: "!" opaque ":" server_name, opaque any UTF-8
 *    without ':', at most MX_ID_MAX_LEN bytes in all.
 * With v NULL, either form is accepted (for APIs that see a room id before
 * they know its version).
 */
bool mx_id_room_valid(const char *s, const struct mx_room_version *v);

/*
 * An event id for room version v (SPEC: rooms/v1#event-ids, rooms/v3,
 * rooms/v4#event-ids):
 *  - MX_EVID_V1 (v1, v2): "$" opaque ":" server_name, at most
 *    MX_ID_MAX_LEN bytes;
 *  - MX_EVID_V3 (v3): "$" + 43 characters of standard base64;
 *  - MX_EVID_V4 (v4+): "$" + 43 characters of URL-safe base64.
 * With v NULL, any of the three forms is accepted.
 */
bool mx_id_event_valid(const char *s, const struct mx_room_version *v);

/*
 * SPEC: appendices#room-aliases: "#" localpart ":" server_name, localpart
 * any UTF-8 without ':', at most MX_ID_MAX_LEN bytes in all.
 */
bool mx_id_alias_valid(const char *s);

/*
 * The server name of a "&localpart:server" id: the part after the first
 * ':' (localparts cannot contain ':'), borrowed from id; NULL if id is NULL
 * or has no ':'. Not a validity check.
 */
const char *mx_id_server(const char *id);

#endif
