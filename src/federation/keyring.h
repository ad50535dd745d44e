/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Other servers' signing keys: an in-memory cache over the server_keys
 * table, filled by fetching /_matrix/key/v2/server from the server itself
 * and, when that fails, from the configured trusted_key_servers (notaries).
 * Every key response is checked (server_name, self-signatures, notary
 * signatures, valid_until_ts) before a key is believed. Also serves the
 * notary API (GET/POST /_matrix/key/v2/query) from what it has verified.
 * SPEC: server-server-api#retrieving-server-keys
 */
#ifndef MX_FEDERATION_KEYRING_H
#define MX_FEDERATION_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/server_keys.h"

struct mx_server;
struct mx_worker;
struct mx_keyring;
struct mx_config_key_server;

/*
 * SPEC: server-server-api (keys "valid_until_ts"): "Servers MUST use the
 * lesser of this field and 7 days into the future when determining if a
 * key is valid": a key is believed at most this long after it was fetched.
 */
#define MX_KEYRING_MAX_VALIDITY_MS (7LL * 24 * 3600 * 1000)

/* Most keys (verify_keys and old_verify_keys together) one response may list. */
#define MX_KEYRING_MAX_KEYS 16

/*
 * Create the keyring of srv: reads srv->cfg (server_name,
 * trusted_key_servers), srv->key (our own key, always known) and srv->db,
 * and fetches through srv->fed when it is set (without it every fetch
 * fails with MX_EREMOTE). All of them must outlive the keyring. Returns 0.
 */
int mx_keyring_new(struct mx_server *srv, struct mx_keyring **out);
/* Free the keyring (NULL is fine); no call may be in progress. */
void mx_keyring_free(struct mx_keyring *kr);

/*
 * The public key server:key_id valid at at_ts (ms), from memory only: never
 * blocks on the network or the database. Returns 0 and fills pk, or
 * MX_ENOTFOUND. Our own server's current key is always found.
 */
int mx_keyring_lookup_cached(struct mx_keyring *kr, const char *server, const char *key_id,
			     int64_t at_ts, unsigned char pk[32]);

/*
 * The same, falling back to the database and then to the network (blocking:
 * call from a job thread). Returns 0, MX_ENOTFOUND when no source knows a key
 * valid at at_ts, or MX_EREMOTE when the server could not be asked.
 * The server is asked directly, then each trusted_key_servers notary;
 * concurrent calls for one server share a fetch, and a server whose keys
 * were fetched (or could not be) less than a minute ago is not asked again,
 * so forged key ids cannot make us flood it. w may be NULL (a read
 * connection is then opened for the call).
 */
int mx_keyring_get(struct mx_keyring *kr, struct mx_worker *w, const char *server,
		   const char *key_id, int64_t at_ts, unsigned char pk[32]);

/* ---- added: the parts the notary API, the tests and the docs use ---- */

/* What a valid key response says (see mx_keyring_check_response). */
struct mx_key_response {
	int64_t valid_until_ts;                        /* as published */
	size_t n_keys;
	struct mx_server_key keys[MX_KEYRING_MAX_KEYS]; /* ed25519 keys only */
};

/*
 * Check a key response (the body of /_matrix/key/v2/server, or one entry of
 * a notary's server_keys) claimed to be server's: an object whose
 * server_name is server, with an integer valid_until_ts of at least
 * min_valid_until_ts, at least one ed25519 key in verify_keys, every
 * ed25519 verify_key decodable (32 bytes) and self-signing the response
 * (signatures[server][key_id]), and old_verify_keys, if any, well formed
 * ({key, expired_ts}). A negative valid_until_ts is malformed. Keys of other algorithms are skipped. Signatures by
 * other servers (notaries) are allowed and ignored. Pure: no I/O.
 *
 * Returns 0 with *out filled; MX_EBADJSON for a malformed response;
 * MX_EFORBIDDEN for the wrong server_name, a missing or bad self-signature,
 * no ed25519 verify_key, or valid_until_ts before min_valid_until_ts;
 * MX_ETOOLARGE for more than MX_KEYRING_MAX_KEYS keys.
 */
int mx_keyring_check_response(const json_t *resp, const char *server,
			      int64_t min_valid_until_ts, struct mx_key_response *out);

/*
 * Check a notary's signature on one of its server_keys entries against the
 * keys pinned for it in trusted_key_servers: when keys are pinned, at least
 * one of them must have signed and every pinned key that signed must
 * verify. Unpinned notaries are trusted on their TLS certificate: 0.
 * Returns 0 or MX_EFORBIDDEN.
 */
int mx_keyring_check_notary(const json_t *resp, const struct mx_config_key_server *notary);

/*
 * Whether a key can verify a signature made at at_ts: an old key
 * (expired_ts > 0) before expired_ts, a current key up to the lesser of
 * valid_until_ts and fetched_ts + MX_KEYRING_MAX_VALIDITY_MS. at_ts 0
 * accepts any key ever seen (room versions 1-4 ignore valid_until_ts).
 */
bool mx_keyring_key_usable(int64_t valid_until_ts, int64_t fetched_ts, int64_t expired_ts,
			   int64_t at_ts);

/*
 * Check resp as mx_keyring_check_response does and, if it is valid, store
 * it (other servers' signatures stripped) as received from from_server at
 * now, and cache its keys. Blocks on a database write. Returns the check's
 * error, or 0.
 */
int mx_keyring_add_response(struct mx_keyring *kr, const json_t *resp, const char *server,
			    const char *from_server, int64_t min_valid_until_ts, int64_t now);

/*
 * For the notary API: fetch server's keys from the server itself (never
 * through notaries, so that notaries cannot ask one another in circles)
 * unless another thread just did. Concurrent calls for one server share a
 * fetch, and a server is asked at most once a minute. Blocking: call from
 * a job thread. Returns 0 when a valid response valid until at least
 * min_valid_until_ts was stored, MX_EREMOTE when the server could not be
 * asked or gave no such response, MX_EINVALID for a bad server name or our
 * own.
 */
int mx_keyring_refresh(struct mx_keyring *kr, struct mx_worker *w, const char *server,
		       int64_t min_valid_until_ts);

#endif
