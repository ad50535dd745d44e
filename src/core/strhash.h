/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FNV-1a over a NUL-terminated string: the hash of the in-memory tables
 * keyed by ids (rooms, users, rate-limit buckets). Not for tables whose
 * keys an attacker chooses in bulk (state keys use SipHash in state/map.c).
 */
#ifndef MX_CORE_STRHASH_H
#define MX_CORE_STRHASH_H

#include <stdint.h>

#define MX_STRHASH_SEED 1469598103934665603ull

/* Continue an FNV-1a hash h over s. */
static inline uint64_t mx_strhash_more(uint64_t h, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return h;
}

static inline uint64_t mx_strhash(const char *s)
{
	return mx_strhash_more(MX_STRHASH_SEED, s);
}

#endif
