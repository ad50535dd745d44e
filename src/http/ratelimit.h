/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Token-bucket rate limiting keyed by (class, key): the key is a client
 * address or a user id. Buckets live in a fixed-size table; idle buckets
 * that have refilled are reused, so memory is bounded whatever the traffic.
 */
#ifndef MX_HTTP_RATELIMIT_H
#define MX_HTTP_RATELIMIT_H

#include <stdint.h>

struct mx_ratelimiter;

struct mx_ratelimiter *mx_ratelimiter_new(void);
void mx_ratelimiter_free(struct mx_ratelimiter *rl);
/*
 * Take one token from bucket (cls, key) that refills at per_second up to
 * burst. Returns 0 if allowed, else MX_ELIMIT and *retry_after_ms.
 * per_second <= 0 disables the limit.
 */
int mx_ratelimit_take(struct mx_ratelimiter *rl, int cls, const char *key, double per_second,
		      double burst, int64_t now_ms, int64_t *retry_after_ms);
/* Test without taking (for failed-attempt limits): as mx_ratelimit_take. */
int mx_ratelimit_check(struct mx_ratelimiter *rl, int cls, const char *key, double per_second,
		       double burst, int64_t now_ms, int64_t *retry_after_ms);

#endif
