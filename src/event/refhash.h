/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reference hashes and the ids made from them: event ids in room versions
 * 3+ (SPEC: rooms/v3#event-ids, rooms/v4#event-ids) and room ids in room
 * version 12 (SPEC: rooms/v12, appendices#room-ids); and the random event
 * ids that origins assign in room versions 1 and 2 (SPEC: rooms/v1#event-ids).
 *
 * (Content hashes, which cover the unredacted event, are in crypto/hash.h.)
 */
#ifndef MX_EVENT_REFHASH_H
#define MX_EVENT_REFHASH_H

#include <jansson.h>

#include "event/ids.h"

struct mx_room_version;

/* Characters of random opaque id in the event ids we assign in v1/v2 rooms. */
#define MX_EVENT_V1_ID_RANDOM_LEN 18

/*
 * The reference hash of event under v (SPEC: server-server-api#calculating-
 * the-reference-hash-for-an-event): SHA-256 of the canonical JSON of the
 * redacted event without "signatures", "unsigned" (and "age_ts", which
 * redaction already drops, as Synapse also removes it).
 *
 * The hash covers whatever the event holds, so an "event_id" member in a
 * v3+ event (which the format does not have) changes it.
 *
 * Returns 0, or MX_EBADJSON if event is not an object or cannot be
 * canonically encoded (reals, out-of-range integers: possible in v1-v5
 * events), MX_ETOOLARGE past MX_CANONJSON_MAX_BYTES.
 */
int mx_event_reference_hash(const json_t *event, const struct mx_room_version *v,
			    unsigned char out[32]);

/*
 * The event id of event in a room of version v: "$" + unpadded base64 of
 * its reference hash, standard alphabet for MX_EVID_V3 (room v3), URL-safe
 * for MX_EVID_V4 (v4+). out receives the NUL-terminated id (44 characters).
 *
 * Returns 0, MX_EINVALID for v1/v2 rooms (whose ids the origin chooses and
 * the event carries in "event_id"), or an error of mx_event_reference_hash().
 * out is "" on error.
 */
int mx_event_compute_id(const json_t *event, const struct mx_room_version *v, char out[64]);

/*
 * The room id that the m.room.create event create gives its room in
 * versions with room_id_from_create (v12+): "!" + URL-safe unpadded base64
 * of its reference hash, i.e. its event id with "!" for "$"
 * (SPEC: appendices#room-ids).
 *
 * Returns 0, MX_EINVALID if v does not derive room ids from the create
 * event or create is not an object of type "m.room.create", or an error of
 * mx_event_reference_hash(). out is "" on error.
 */
int mx_event_room_id_from_create(const json_t *create, const struct mx_room_version *v,
				 char out[64]);

/*
 * A fresh event id for a v1/v2 room created by server_name:
 * "$" + MX_EVENT_V1_ID_RANDOM_LEN random [A-Za-z0-9] + ":" + server_name
 * (SPEC: rooms/v1#event-ids; ~107 bits of randomness).
 *
 * Returns 0, or MX_EINVALID if server_name is not a valid server name or
 * the id would be longer than MX_ID_MAX_LEN bytes. out is "" on error.
 */
int mx_event_generate_v1_id(const char *server_name, char out[MX_ID_MAX_LEN + 1]);

#endif
