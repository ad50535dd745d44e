/* SPDX-License-Identifier: Apache-2.0 */
/* argon2id password hashing on top of libsodium. */
#include "crypto/password.h"

#include <string.h>

#include "core/error.h"

static struct mx_password_cost cost_or_default(const struct mx_password_cost *cost)
{
	return cost ? *cost : MX_PASSWORD_COST_INTERACTIVE;
}

int mx_password_hash(const char *password, char out[MX_PASSWORD_HASH_MAX],
		     const struct mx_password_cost *cost)
{
	struct mx_password_cost c = cost_or_default(cost);
	size_t len = strnlen(password, MX_PASSWORD_MAX_LEN + 1);

	out[0] = '\0';
	if (len > MX_PASSWORD_MAX_LEN)
		return MX_EINVALIDPARAM;
	if (crypto_pwhash_str_alg(out, password, len, c.opslimit, c.memlimit,
				  crypto_pwhash_ALG_ARGON2ID13) != 0) {
		out[0] = '\0';
		return MX_EUNKNOWN;
	}
	return 0;
}

int mx_password_verify(const char *hash, const char *password)
{
	size_t len = strnlen(password, MX_PASSWORD_MAX_LEN + 1);

	if (len > MX_PASSWORD_MAX_LEN)
		return MX_EFORBIDDEN;
	/* Longer than any libsodium hash string: not one of ours. */
	if (strnlen(hash, MX_PASSWORD_HASH_MAX) >= MX_PASSWORD_HASH_MAX)
		return MX_EFORBIDDEN;
	return crypto_pwhash_str_verify(hash, password, len) == 0 ? 0 : MX_EFORBIDDEN;
}

bool mx_password_needs_rehash(const char *hash, const struct mx_password_cost *cost)
{
	struct mx_password_cost c = cost_or_default(cost);

	if (strnlen(hash, MX_PASSWORD_HASH_MAX) >= MX_PASSWORD_HASH_MAX)
		return true;
	if (strncmp(hash, crypto_pwhash_argon2id_STRPREFIX,
		    strlen(crypto_pwhash_argon2id_STRPREFIX)) != 0)
		return true;
	/* 0: matches; 1: different parameters; -1: not a valid hash string */
	return crypto_pwhash_str_needs_rehash(hash, c.opslimit, c.memlimit) != 0;
}
