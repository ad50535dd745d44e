/* SPDX-License-Identifier: Apache-2.0 */
/* Token buckets in an open-addressed table under one mutex. */
#include "http/ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/strhash.h"
#include "core/mem.h"

#define MX_RL_SLOTS 16384 /* power of two */
#define MX_RL_PROBE 16
#define MX_RL_KEYLEN 128

struct mx_rl_bucket {
	uint64_t hash;       /* 0 = empty */
	int cls;
	char key[MX_RL_KEYLEN];
	double tokens;
	int64_t updated_ms;
	double per_second, burst;
};

struct mx_ratelimiter {
	pthread_mutex_t lock;
	struct mx_rl_bucket slots[MX_RL_SLOTS];
};

struct mx_ratelimiter *mx_ratelimiter_new(void)
{
	struct mx_ratelimiter *rl = mx_xcalloc(1, sizeof(*rl));
	pthread_mutex_init(&rl->lock, NULL);
	return rl;
}

void mx_ratelimiter_free(struct mx_ratelimiter *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

static uint64_t mx_rl_hash(int cls, const char *key)
{
	uint64_t h = mx_strhash_more(MX_STRHASH_SEED ^ (uint64_t)cls, key);
	return h ? h : 1; /* 0 marks an empty slot */
}

static void mx_rl_refill(struct mx_rl_bucket *b, int64_t now_ms)
{
	double dt = (double)(now_ms - b->updated_ms) / 1000.0;
	if (dt > 0) {
		b->tokens = fmin(b->burst, b->tokens + dt * b->per_second);
		b->updated_ms = now_ms;
	}
}

/* Find the bucket or claim a slot: empty, or one that is full again. */
static struct mx_rl_bucket *mx_rl_find(struct mx_ratelimiter *rl, int cls, const char *key,
				       double per_second, double burst, int64_t now_ms)
{
	uint64_t h = mx_rl_hash(cls, key);
	struct mx_rl_bucket *victim = NULL;
	for (int i = 0; i < MX_RL_PROBE; i++) {
		struct mx_rl_bucket *b = &rl->slots[(h + (uint64_t)i) & (MX_RL_SLOTS - 1)];
		if (b->hash == h && b->cls == cls && !strncmp(b->key, key, MX_RL_KEYLEN - 1))
			return b;
		if (!b->hash) {
			if (!victim)
				victim = b;
			continue;
		}
		mx_rl_refill(b, now_ms);
		if (!victim && b->tokens >= b->burst)
			victim = b;
	}
	if (!victim) /* table saturated: evict the home slot */
		victim = &rl->slots[h & (MX_RL_SLOTS - 1)];
	victim->hash = h;
	victim->cls = cls;
	size_t n = strnlen(key, MX_RL_KEYLEN - 1);
	memcpy(victim->key, key, n);
	victim->key[n] = '\0';
	victim->tokens = burst;
	victim->updated_ms = now_ms;
	victim->per_second = per_second;
	victim->burst = burst;
	return victim;
}

static int mx_rl_apply(struct mx_ratelimiter *rl, int cls, const char *key, double per_second,
		       double burst, int64_t now_ms, int64_t *retry_after_ms, bool take)
{
	if (per_second <= 0)
		return 0;
	if (burst < 1)
		burst = 1;
	pthread_mutex_lock(&rl->lock);
	struct mx_rl_bucket *b = mx_rl_find(rl, cls, key, per_second, burst, now_ms);
	b->per_second = per_second;
	b->burst = burst;
	mx_rl_refill(b, now_ms);
	int rc = 0;
	if (b->tokens >= 1.0) {
		if (take)
			b->tokens -= 1.0;
	} else {
		*retry_after_ms = (int64_t)ceil((1.0 - b->tokens) / per_second * 1000.0);
		rc = MX_ELIMIT;
	}
	pthread_mutex_unlock(&rl->lock);
	return rc;
}

int mx_ratelimit_take(struct mx_ratelimiter *rl, int cls, const char *key, double per_second,
		      double burst, int64_t now_ms, int64_t *retry_after_ms)
{
	return mx_rl_apply(rl, cls, key, per_second, burst, now_ms, retry_after_ms, true);
}

int mx_ratelimit_check(struct mx_ratelimiter *rl, int cls, const char *key, double per_second,
		       double burst, int64_t now_ms, int64_t *retry_after_ms)
{
	return mx_rl_apply(rl, cls, key, per_second, burst, now_ms, retry_after_ms, false);
}
