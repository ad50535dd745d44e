/* SPDX-License-Identifier: Apache-2.0 */
/*
 * End-to-end encryption keys as both APIs hand them out. The client API's
 * /keys/query and /keys/claim and the federation API's /user/keys/query,
 * /user/keys/claim and /user/devices answer for local users through the
 * same functions here (store/e2ee.h and store/cross_signing.h underneath);
 * their request bodies are checked by the same code; and what another
 * server answers to our queries goes through the filters here before a
 * client sees it, so that a server can only speak for its own users' own
 * self-signed keys.
 *
 * Signatures: a key answered for user U as seen by viewer V carries only
 * the signatures made by U and by V (SPEC: client-server-api
 * #post_matrixclientv3keysquery, master_keys: "along with the signatures
 * uploaded via /keys/signatures/upload that the user is allowed to see").
 * Another server is no user: it sees U's own signatures only.
 *
 * Strings and json_t values placed in caller objects are new references
 * owned by those objects; *msg strings are static or live in the arena.
 * SPEC: client-server-api#end-to-end-encryption,
 * server-server-api#end-to-end-encryption
 */
#ifndef MX_E2EE_KEYS_H
#define MX_E2EE_KEYS_H

#include <jansson.h>
#include <stddef.h>

struct mx_arena;
struct mx_db;
struct mx_db_conn;
struct mx_e2ee_claim;

/* Keys claimed by one request, over all users and devices. */
#define MX_E2EE_MAX_CLAIMS 10000

/*
 * Check a device_keys query map: an object from user id (valid, any
 * server) to an array of device id strings. Returns 0, or MX_EBADJSON
 * (wrong type) / MX_EINVALIDPARAM (bad user id) with *msg saying which.
 */
int mx_e2ee_query_check(struct mx_arena *a, const json_t *want, const char **msg);

/*
 * Check a one_time_keys claim map: an object from user id to an object
 * from device id to an algorithm name, at most MX_E2EE_MAX_CLAIMS pairs
 * (*total: how many). Errors as mx_e2ee_query_check().
 */
int mx_e2ee_claim_check(struct mx_arena *a, const json_t *want, size_t *total, const char **msg);

/*
 * Add local user_id's keys to a query answer as viewer sees them (viewer:
 * the local user asking, or NULL for another server):
 *  - devs[device_id]: the device keys of every device with keys (only the
 *    ids in the array device_ids when it is not empty), the stored
 *    cross-signatures merged in, "unsigned": {"device_display_name"} when
 *    the device has a name;
 *  - master[user_id], self_signing[user_id]: the keys, if uploaded;
 *  - user_signing[user_id] (user_signing may be NULL): only when viewer is
 *    user_id. SPEC: "user_signing_keys: ... only present for the user
 *    making the request" (and never sent to another server).
 * A device whose stored keys are unreadable is left out. Returns 0 or an
 * MX_E* from the database (the objects may then hold part of the answer).
 */
int mx_e2ee_query_local(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			const json_t *device_ids, const char *viewer, json_t *devs, json_t *master,
			json_t *self_signing, json_t *user_signing);

/*
 * Claim claims[0..n) (local devices) in one write: each gets the device's
 * oldest one-time key of its algorithm, or else its fallback key (SPEC:
 * client-server-api#post_matrixclientv3keysclaim), added to out as
 * out[user][device]["algorithm:key_id"] = key. Devices with nothing left
 * are absent. Returns 0 or an MX_E* (nothing claimed).
 */
int mx_e2ee_claim_local(struct mx_db *db, struct mx_arena *a, struct mx_e2ee_claim *claims,
			size_t n, json_t *out);

/*
 * Check device keys dk as user_id's device device_id (SPEC:
 * client-server-api DeviceKeys): an object whose "user_id" and
 * "device_id" are those, with "algorithms" an array of strings, "keys" an
 * object of strings holding "ed25519:<device_id>" (base64 of 32 bytes),
 * and "signatures" an object in which that key has signed dk. On success
 * returns 0 and points *pub at the ed25519 key (borrowed from dk); else
 * MX_EBADJSON (wrong type) or MX_EINVALIDPARAM (wrong value, bad
 * signature) with *msg a static explanation.
 */
int mx_e2ee_device_keys_check(const json_t *dk, const char *user_id, const char *device_id,
			      const char **pub, const char **msg);

/*
 * What another server answered to our /user/keys/query with asked (the
 * device_keys map we sent: its users -> device ids, empty for all), kept
 * only where valid, as a new object {"device_keys", "master_keys",
 * "self_signing_keys"}:
 *  - device_keys[user] for each asked user the answer has (an object);
 *    in it each device that was asked for and passes
 *    mx_e2ee_device_keys_check() for that user and id;
 *  - master_keys[user] of asked users that are master CrossSigningKeys of
 *    that user;
 *  - self_signing_keys[user] that are self-signing keys of that user
 *    signed by the master key kept for them.
 * Anything else (other users, user_signing_keys, malformed entries) is
 * dropped. Never fails; answer may be anything.
 */
json_t *mx_e2ee_remote_query_filter(const json_t *asked, const json_t *answer);

/*
 * What another server answered to our /user/keys/claim with asked (the
 * one_time_keys map we sent), kept only where it answers the question, as
 * a new object {"one_time_keys": {user: {device: {"alg:id": key}}}}: asked
 * users and devices only, one key per device, named with the algorithm
 * asked for, a string or an object with a "key" string. The signatures of
 * the keys are the claiming client's to check (it has the device keys).
 */
json_t *mx_e2ee_remote_claim_filter(const json_t *asked, const json_t *answer);

#endif
