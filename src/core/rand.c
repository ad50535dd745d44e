/* SPDX-License-Identifier: Apache-2.0 */
/* Secure randomness on top of libsodium. */
#include "core/rand.h"

#include <sodium.h>

#include "core/error.h"

static const char mx_rand_alnum[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

int mx_rand_init(void)
{
	/* 1 means "already initialised", which is fine. */
	return sodium_init() < 0 ? MX_EUNKNOWN : 0;
}

void mx_rand_bytes(void *p, size_t n)
{
	randombytes_buf(p, n);
}

void mx_rand_token(char *out, size_t n)
{
	unsigned char pool[64];
	size_t have = 0, used = 0, i = 0;

	if (n == 0)
		return;
	while (i < n - 1) {
		if (used == have) {
			randombytes_buf(pool, sizeof(pool));
			have = sizeof(pool);
			used = 0;
		}
		unsigned char c = pool[used++];
		/*
		 * Rejection sampling: 248 = 4 * 62, so bytes below it map onto
		 * the alphabet evenly and the 8 above it are thrown away.
		 */
		if (c >= 248)
			continue;
		out[i++] = mx_rand_alnum[c % 62];
	}
	out[i] = '\0';
	sodium_memzero(pool, sizeof(pool));
}

uint64_t mx_rand_u64(void)
{
	uint64_t v;
	randombytes_buf(&v, sizeof(v));
	return v;
}
