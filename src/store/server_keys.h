/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Other servers' signing keys as the keyring (federation/keyring.h) has
 * verified them: one row per (server, key id) in table server_keys, with
 * the signed key response that listed it, kept so that the notary API can
 * serve it again. This layer checks nothing: only verified responses may
 * be put here.
 * SPEC: server-server-api#retrieving-server-keys
 */
#ifndef MX_STORE_SERVER_KEYS_H
#define MX_STORE_SERVER_KEYS_H

#include <stddef.h>
#include <stdint.h>

struct mx_arena;
struct mx_db;
struct mx_db_conn;

/* Longest key id kept ("ed25519:" and a version of up to 55 characters fit). */
#define MX_SERVER_KEY_ID_MAX 127

/* One key of a verified response. */
struct mx_server_key {
	char key_id[MX_SERVER_KEY_ID_MAX + 1]; /* "ed25519:abc" */
	unsigned char pk[32];                  /* ed25519 public key */
	int64_t expired_ts;                    /* old_verify_keys: expired_ts; 0: a verify_key */
};

/* A stored key (strings live in the arena passed to the reader). */
struct mx_server_key_row {
	const char *server_name, *key_id;
	unsigned char pk[32];
	int64_t valid_until_ts;  /* of the response, as published */
	int64_t expired_ts;      /* 0: a current key */
	int64_t fetched_ts;      /* when we received the response */
	const char *from_server; /* the server itself, or the notary that served it */
	const char *key_json;    /* the response, signed by server_name (canonical JSON) */
};

/*
 * Store the n keys of one verified response of server_name (key_json, its
 * canonical JSON text, valid until valid_until_ts, received at fetched_ts
 * from from_server). A key's row is replaced only by a response whose
 * valid_until_ts is not older than the one stored, so a notary's stale
 * copy never overwrites a fresher answer. Returns 0 or MX_EDB.
 */
int mx_store_server_keys_put(struct mx_db *db, const char *server_name, const char *from_server,
			     const char *key_json, int64_t valid_until_ts, int64_t fetched_ts,
			     const struct mx_server_key *keys, size_t n);

/* The row of server_name's key_id (strings in a). 0, MX_ENOTFOUND or MX_EDB. */
int mx_store_server_key_get(struct mx_db_conn *c, struct mx_arena *a, const char *server_name,
			    const char *key_id, struct mx_server_key_row *out);

/*
 * Up to max rows of server_name, the freshest responses (valid_until_ts)
 * first; *out is an array of *n rows in a (NULL when there are none).
 * Returns 0 or MX_EDB.
 */
int mx_store_server_keys_list(struct mx_db_conn *c, struct mx_arena *a, const char *server_name,
			      size_t max, struct mx_server_key_row **out, size_t *n);

#endif
