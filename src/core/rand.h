/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cryptographically secure randomness (libsodium's randombytes, i.e. the
 * kernel CSPRNG) for tokens, key ids, transaction ids and anything else an
 * attacker must not guess. There is no seeded or "fast" variant on purpose.
 */
#ifndef MX_CORE_RAND_H
#define MX_CORE_RAND_H

#include <stddef.h>
#include <stdint.h>

/*
 * Initialise libsodium. Call once at start-up (main, each test program)
 * before any mx_rand_* or crypto/ function. Idempotent and thread-safe.
 * Returns 0, or MX_EUNKNOWN if libsodium cannot initialise.
 */
int mx_rand_init(void);

/* Fill p with n random bytes. */
void mx_rand_bytes(void *p, size_t n);

/*
 * Write n-1 characters drawn uniformly from [A-Za-z0-9] followed by a NUL
 * into out (n bytes). n == 0 writes nothing. Each character carries
 * log2(62) ~ 5.95 bits, so 32 characters are ~190 bits.
 */
void mx_rand_token(char *out, size_t n);

/* A uniformly random 64-bit value. */
uint64_t mx_rand_u64(void);

#endif
