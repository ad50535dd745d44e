/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Password hashing: argon2id through libsodium's crypto_pwhash_str(), whose
 * self-describing "$argon2id$v=19$m=...,t=...,p=1$salt$hash" strings carry
 * their own parameters, so the cost can be raised later without breaking
 * stored hashes (see mx_password_needs_rehash()).
 *
 * The cost is passed in, not kept in a global: the server uses
 * MX_PASSWORD_COST_INTERACTIVE, tests use MX_PASSWORD_COST_MIN.
 */
#ifndef MX_CRYPTO_PASSWORD_H
#define MX_CRYPTO_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#include <sodium.h>

/* Longest password accepted, in bytes (as Synapse: 512). */
#define MX_PASSWORD_MAX_LEN 512
/* Size of a hash string buffer, NUL included. */
#define MX_PASSWORD_HASH_MAX crypto_pwhash_STRBYTES

struct mx_password_cost {
	unsigned long long opslimit;
	size_t memlimit;
};

/* libsodium's "interactive" argon2id cost: ~64 MiB, 2 passes. The default. */
#define MX_PASSWORD_COST_INTERACTIVE \
	((struct mx_password_cost){crypto_pwhash_OPSLIMIT_INTERACTIVE, \
				   crypto_pwhash_MEMLIMIT_INTERACTIVE})
/* The cheapest cost libsodium allows. For tests only. */
#define MX_PASSWORD_COST_MIN \
	((struct mx_password_cost){crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN})

/*
 * Hash password into out (NUL-terminated) with a fresh random salt at the
 * given cost (NULL means MX_PASSWORD_COST_INTERACTIVE). Returns 0,
 * MX_EINVALIDPARAM if the password is longer than MX_PASSWORD_MAX_LEN, or
 * MX_EUNKNOWN if hashing failed (the cost is out of libsodium's range, or
 * memlimit bytes could not be had).
 */
int mx_password_hash(const char *password, char out[MX_PASSWORD_HASH_MAX],
		     const struct mx_password_cost *cost);

/*
 * Check password against a hash from mx_password_hash(), in time that does
 * not depend on where they differ. Returns 0 on a match, MX_EFORBIDDEN
 * otherwise, including for a password over MX_PASSWORD_MAX_LEN and a hash
 * that is not an argon2 string (e.g. a bcrypt hash imported from Synapse).
 */
int mx_password_verify(const char *hash, const char *password);

/*
 * True if hash was made at a cost other than cost (NULL means
 * MX_PASSWORD_COST_INTERACTIVE) or is not an argon2id string, so that it
 * should be replaced after the next successful login.
 */
bool mx_password_needs_rehash(const char *hash, const struct mx_password_cost *cost);

#endif
