/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared-secret registration (Synapse's admin API "Shared-Secret
 * Registration", /_synapse/admin/v1/register): whoever knows the config's
 * registration_shared_secret can create accounts, admins included, without
 * an access token. The client fetches a single-use nonce, then POSTs the
 * account with an HMAC over it, so a captured request cannot be replayed.
 *
 * The wire format is Synapse's, byte for byte, so that existing tooling
 * (register_new_matrix_user, Ansible roles, ...) and `myelin register-user`
 * both work against either server.
 */
#ifndef MX_ADMIN_REGISTER_H
#define MX_ADMIN_REGISTER_H

#include <stdbool.h>
#include <stdint.h>

/* Seconds a nonce stays valid after GET (Synapse: NONCE_TIMEOUT = 60). */
#define MX_ADMIN_NONCE_TTL_MS 60000
/* Live nonces kept at most; past this the oldest is dropped (STYLE rule 6). */
#define MX_ADMIN_NONCE_MAX 1024
/* A nonce is 32 random bytes in lowercase hex. */
#define MX_ADMIN_NONCE_LEN 64

/*
 * The table of issued, not yet used nonces. It is the one piece of mutable
 * state of the admin API, so it hangs off struct mx_server (created by
 * main.c) and carries its own mutex; every function below is thread-safe.
 */
struct mx_admin_nonces;

/* A new, empty table. Caller frees with mx_admin_nonces_free(). */
struct mx_admin_nonces *mx_admin_nonces_new(void);
/* Free the table (NULL is fine). No call may be in flight. */
void mx_admin_nonces_free(struct mx_admin_nonces *t);

/*
 * Issue a fresh random nonce, valid for MX_ADMIN_NONCE_TTL_MS from now_ms
 * (a monotonic clock), into out (NUL-terminated). Expired entries are
 * dropped first; if the table is still full the oldest live nonce is
 * evicted, so a flood of GETs costs bounded memory.
 */
void mx_admin_nonces_issue(struct mx_admin_nonces *t, int64_t now_ms,
			   char out[MX_ADMIN_NONCE_LEN + 1]);

/*
 * Consume nonce: returns 0 and forgets it if it was issued and is at most
 * MX_ADMIN_NONCE_TTL_MS old at now_ms, else MX_ENOTFOUND. A nonce can be
 * taken once, whatever happens to the request afterwards (as in Synapse,
 * which deletes it before checking the MAC).
 */
int mx_admin_nonces_take(struct mx_admin_nonces *t, const char *nonce, int64_t now_ms);

/*
 * Synapse's registration MAC: lowercase hex HMAC-SHA1 keyed by secret over
 *   nonce NUL user NUL password NUL ("admin" | "notadmin") [NUL user_type]
 * where the last part is present only if user_type is non-NULL and
 * non-empty (Synapse tests `if user_type:`). All strings are taken as
 * their UTF-8 bytes up to the NUL. Writes 40 hex digits and a NUL into
 * out_hex. Returns 0, or MX_EUNKNOWN if libcrypto fails (out_hex is then "").
 */
int mx_admin_register_mac(const char *secret, const char *nonce, const char *user,
			  const char *password, bool admin, const char *user_type,
			  char out_hex[41]);

#endif
