/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PDUs (SPEC: server-server-api#pdus, rooms/v*#event-format): checking that
 * a JSON object is a well-formed event of its room version, checking the
 * content hash and signatures of a received event, and hashing and signing
 * the events we build ourselves (SPEC: server-server-api#signing-events).
 *
 * These are the first steps of the event pipeline (DESIGN.md): parse and
 * validate -> check signatures and content hash (remote) -> authorise ->
 * sign (local) -> persist. Events are jansson objects; nothing here keeps a
 * reference to one after returning.
 */
#ifndef MX_EVENT_EVENT_H
#define MX_EVENT_EVENT_H

#include <stdint.h>

#include <jansson.h>

#include "crypto/keys.h"
#include "event/ids.h"

struct mx_room_version;

/* SPEC: client-server-api#size-limits: canonical JSON of the whole PDU. */
#define MX_EVENT_MAX_BYTES 65536
/* SPEC: client-server-api#size-limits: type and state_key, in bytes. */
#define MX_EVENT_KEY_MAX_BYTES 255
/* SPEC: server-server-api#pdus: "Must contain less than or equal to ..." */
#define MX_EVENT_MAX_PREV_EVENTS 20
#define MX_EVENT_MAX_AUTH_EVENTS 10
/* SPEC: rooms/v1..v5 depth: below 2^63 - 1; v6+: canonical JSON's 2^53 - 1 */
#define MX_EVENT_MAX_DEPTH_V1 INT64_MAX
/* Most servers whose signatures an event needs (sender, event id, authoriser). */
#define MX_EVENT_MAX_SIGNERS 3

/*
 * Check that pdu is a well-formed event for room version v, as received
 * over federation (SPEC: server-server-api#checks-performed-on-receipt-of-a-pdu,
 * step 1: an event that fails is dropped, not rejected). Checks:
 *
 *  - v6+: strict canonical JSON everywhere (no reals, integers within
 *    +-(2^53 - 1)) (SPEC: rooms/v6#canonical-json);
 *  - the canonical JSON of the whole PDU, signatures and unsigned included,
 *    is at most MX_EVENT_MAX_BYTES (for v1-v5 events holding reals or
 *    big integers, which have no canonical form, jansson's compact sorted
 *    encoding is measured instead);
 *  - type: string of at most 255 bytes; state_key, if present, likewise;
 *  - sender: a user id (historical grammar, mx_id_user_valid());
 *  - room_id: a room id for v (mx_id_room_valid()); in v12+, absent from
 *    the m.room.create event (type "m.room.create", state_key ""), for which
 *    a room_id is left to auth rule 1.2 to reject;
 *  - content: object; origin_server_ts: integer; hashes: object with a
 *    string sha256; signatures: object of objects of strings; unsigned, if
 *    present: object;
 *  - depth: integer in [0, 2^53 - 1] (v6+) or [0, 2^63 - 1] (v1-v5);
 *  - prev_events (at most 20) and auth_events (at most 10): in v1/v2
 *    arrays of [event id, {hashes}] pairs, from v3 arrays of event ids in
 *    the version's format;
 *  - v1/v2: event_id, a "$opaque:server" event id; v3+: no event_id (the id
 *    is the reference hash; Synapse refuses such events too);
 *  - redacts, if present (top-level; v1-v10 redactions): string.
 *
 * It checks neither hashes nor signatures nor any auth rule. Strings must
 * not hold NUL (mx_json_parse_strict() ensures this for parsed input).
 *
 * Returns 0, MX_EBADJSON for a malformed event, or MX_ETOOLARGE when the
 * PDU or one of its size-limited keys is too long. *why (if why is
 * non-NULL) is set to a static English reason on error, NULL on success.
 */
int mx_event_validate_pdu(const json_t *pdu, const struct mx_room_version *v, const char **why);

/*
 * Add the content hash and this server's signature to ev (SPEC:
 * server-server-api#adding-hashes-and-signatures-to-outgoing-events):
 * hashes.sha256 becomes the content hash of ev (other entries in hashes are
 * kept), then the redacted form of ev is signed as server_name with k and
 * the signature stored in ev.signatures[server_name][k->key_id] (other
 * signatures are kept). No validation: this is the bare algorithm, which
 * the spec's test vectors exercise.
 *
 * Returns 0, or MX_EBADJSON if ev is not an object, has a "hashes" or
 * "signatures" (or signatures[server_name]) that is not an object, or
 * cannot be canonically encoded; MX_EINVALID if server_name is not valid
 * UTF-8; MX_ETOOLARGE past MX_CANONJSON_MAX_BYTES. ev is unchanged on error.
 */
int mx_event_sign(json_t *ev, const struct mx_room_version *v, const char *server_name,
		  const struct mx_signing_key *k);

/*
 * Finish an event this server built (everything but hashes, signatures and,
 * in v1/v2, event_id) for a room of version v:
 *
 *  - v1/v2: if ev has no "event_id", assign a fresh one
 *    (mx_event_generate_v1_id(server_name)); one already there is kept;
 *  - hash and sign it (mx_event_sign());
 *  - check the result with mx_event_validate_pdu(), so that we never sign
 *    and send what every other server would drop (e.g. over 64 KiB);
 *  - write its event id to event_id_out: the "event_id" member in v1/v2,
 *    the reference hash id (mx_event_compute_id()) from v3.
 *
 * Returns 0; MX_EINVALID if a v3+ ev has an "event_id" member or
 * server_name is invalid; otherwise an error of mx_event_sign() or
 * mx_event_validate_pdu() (MX_EBADJSON, MX_ETOOLARGE). On error ev may
 * have gained its hashes, signature and event_id; event_id_out is "".
 */
int mx_event_finalize_local(json_t *ev, const struct mx_room_version *v,
			    const char *server_name, const struct mx_signing_key *k,
			    char event_id_out[MX_ID_MAX_LEN + 1]);

/*
 * Check pdu's hashes.sha256 against its content hash (SPEC:
 * server-server-api#validating-hashes-and-signatures-on-received-events).
 *
 * Returns 0 if they match; MX_EFORBIDDEN if they do not, or hashes.sha256
 * is missing or not base64 of 32 bytes, or the content hash cannot be
 * computed (a v1-v5 event with reals). The spec's answer to a failure is to
 * go on with the redacted event (mx_event_redact()), not to drop it.
 */
int mx_event_verify_content_hash(const json_t *pdu);

/*
 * Public key lookup for mx_event_check_signatures(): the 32-byte ed25519
 * key key_id ("ed25519:...") of server_name, or NULL if unknown. When
 * valid_at_ts >= 0 (room versions with strict_key_validity: v5+, SPEC:
 * rooms/v5#signing-key-validity-period) it must also return NULL for a key
 * whose valid_until_ts (capped at 7 days from now, as the spec says) is
 * before valid_at_ts, the event's origin_server_ts; valid_at_ts is -1 when
 * the room version enforces no validity period. The returned memory must
 * stay valid until mx_event_check_signatures() returns.
 */
typedef const unsigned char *(*mx_event_key_lookup_fn)(const char *server_name,
							const char *key_id,
							int64_t valid_at_ts, void *ctx);

/*
 * The servers whose signatures pdu needs (SPEC: server-server-api#validating-
 * hashes-and-signatures-on-received-events), deduplicated, in this order:
 *  - the sender's server, except for an invite from a third-party invite
 *    (m.room.member, membership "invite", content.third_party_invite
 *    present), which any server may send;
 *  - v1/v2: the server of the event_id;
 *  - v8+ (restricted_join): for an m.room.member join whose content has
 *    join_authorised_via_users_server, that user's server.
 * out[i] are borrowed from pdu. Returns their number (0..3), or MX_EBADJSON
 * if pdu lacks a valid sender, a v1/v2 event_id or a string user id in
 * join_authorised_via_users_server where one is needed. For the key
 * fetcher: these are the servers whose keys to have at hand.
 */
int mx_event_signing_servers(const json_t *pdu, const struct mx_room_version *v,
			     const char *out[MX_EVENT_MAX_SIGNERS]);

/*
 * Check the signatures of pdu, over its redacted form, from each server
 * mx_event_signing_servers() names. For each such server, every signature
 * by an "ed25519:" key that lookup knows must verify, and at least one
 * must; signatures by keys lookup does not know are skipped (SPEC: "If a
 * signature is from an unknown or expired key, it is skipped").
 *
 * Returns 0; MX_EFORBIDDEN if a needed server has no signature by a known
 * key, or one of them does not verify; MX_EBADJSON if pdu is malformed
 * (see mx_event_signing_servers(), or signatures not an object of objects)
 * or cannot be canonically encoded.
 */
int mx_event_check_signatures(const json_t *pdu, const struct mx_room_version *v,
			      mx_event_key_lookup_fn lookup, void *ctx);

#endif
