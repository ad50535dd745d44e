/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for http/ratelimit: token buckets keyed by (class, key). Time
 * is simulated through the now_ms argument, so nothing here sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "http/ratelimit.h"

#define T0 1700000000000LL /* a plausible wall-clock start */

static void test_burst_then_refuse(void **state)
{
	(void)state;
	struct mx_ratelimiter *rl = mx_ratelimiter_new();
	int64_t retry = -1;
	/* 0.5 per second, burst 3: three at once, then refused. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(mx_ratelimit_take(rl, 1, "1.2.3.4", 0.5, 3, T0, &retry), 0);
	assert_int_equal(retry, -1); /* untouched while allowed */
	assert_int_equal(mx_ratelimit_take(rl, 1, "1.2.3.4", 0.5, 3, T0, &retry), MX_ELIMIT);
	/* One token takes 2 s at 0.5/s. */
	assert_int_equal(retry, 2000);
	/* Half-way there: the wait shrinks accordingly. */
	assert_int_equal(mx_ratelimit_take(rl, 1, "1.2.3.4", 0.5, 3, T0 + 500, &retry), MX_ELIMIT);
	assert_int_equal(retry, 1500);
	/* Refusals do not cost tokens: at 2 s exactly one is back. */
	assert_int_equal(mx_ratelimit_take(rl, 1, "1.2.3.4", 0.5, 3, T0 + 2000, &retry), 0);
	assert_int_equal(mx_ratelimit_take(rl, 1, "1.2.3.4", 0.5, 3, T0 + 2000, &retry), MX_ELIMIT);
	assert_int_equal(retry, 2000);
	mx_ratelimiter_free(rl);
}

static void test_refill(void **state)
{
	(void)state;
	struct mx_ratelimiter *rl = mx_ratelimiter_new();
	int64_t retry = 0, now = T0;
	/* 10 per second, burst 5. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(mx_ratelimit_take(rl, 2, "@u:x", 10, 5, now, &retry), 0);
	assert_int_equal(mx_ratelimit_take(rl, 2, "@u:x", 10, 5, now, &retry), MX_ELIMIT);
	assert_int_equal(retry, 100);
	/* 350 ms later: 3.5 tokens -> three more. */
	now += 350;
	for (int i = 0; i < 3; i++)
		assert_int_equal(mx_ratelimit_take(rl, 2, "@u:x", 10, 5, now, &retry), 0);
	assert_int_equal(mx_ratelimit_take(rl, 2, "@u:x", 10, 5, now, &retry), MX_ELIMIT);
	assert_true(retry >= 50 && retry <= 51); /* half a token, give or take rounding */
	/* A long idle period refills only up to the burst. */
	now += 3600 * 1000;
	for (int i = 0; i < 5; i++)
		assert_int_equal(mx_ratelimit_take(rl, 2, "@u:x", 10, 5, now, &retry), 0);
	assert_int_equal(mx_ratelimit_take(rl, 2, "@u:x", 10, 5, now, &retry), MX_ELIMIT);
	/* A steady 10/s is sustained indefinitely; 20/s is not. */
	int refused = 0;
	for (int i = 0; i < 1000; i++) {
		now += 100;
		if (mx_ratelimit_take(rl, 2, "@u:x", 10, 5, now, &retry))
			refused++;
	}
	assert_int_equal(refused, 0);
	for (int i = 0; i < 1000; i++) {
		now += 50;
		if (mx_ratelimit_take(rl, 2, "@u:x", 10, 5, now, &retry))
			refused++;
	}
	assert_true(refused >= 490 && refused <= 510);
	/* A clock that steps backwards neither refills nor breaks anything. */
	assert_int_equal(mx_ratelimit_take(rl, 2, "@late", 1, 1, now, &retry), 0);
	assert_int_equal(mx_ratelimit_take(rl, 2, "@late", 1, 1, now - 60000, &retry), MX_ELIMIT);
	assert_true(retry > 0 && retry <= 1000);
	assert_int_equal(mx_ratelimit_take(rl, 2, "@late", 1, 1, now + 1000, &retry), 0);
	mx_ratelimiter_free(rl);
}

static void test_isolation(void **state)
{
	(void)state;
	struct mx_ratelimiter *rl = mx_ratelimiter_new();
	int64_t retry;
	assert_int_equal(mx_ratelimit_take(rl, 1, "a", 1, 1, T0, &retry), 0);
	assert_int_equal(mx_ratelimit_take(rl, 1, "a", 1, 1, T0, &retry), MX_ELIMIT);
	/* Another key, and the same key in another class, have their own buckets. */
	assert_int_equal(mx_ratelimit_take(rl, 1, "b", 1, 1, T0, &retry), 0);
	assert_int_equal(mx_ratelimit_take(rl, 2, "a", 1, 1, T0, &retry), 0);
	assert_int_equal(mx_ratelimit_take(rl, 3, "a", 1, 1, T0, &retry), 0);
	assert_int_equal(mx_ratelimit_take(rl, 1, "", 1, 1, T0, &retry), 0);
	assert_int_equal(mx_ratelimit_take(rl, 1, "", 1, 1, T0, &retry), MX_ELIMIT);
	/* Prefixes are different keys. */
	assert_int_equal(mx_ratelimit_take(rl, 1, "ab", 1, 1, T0, &retry), 0);
	assert_int_equal(mx_ratelimit_take(rl, 1, "a", 1, 1, T0, &retry), MX_ELIMIT);
	/* Long keys that differ only past any internal truncation are distinct. */
	char k1[300], k2[300];
	memset(k1, 'k', sizeof(k1) - 1);
	k1[sizeof(k1) - 1] = '\0';
	memcpy(k2, k1, sizeof(k2));
	k2[sizeof(k2) - 2] = 'z';
	assert_int_equal(mx_ratelimit_take(rl, 1, k1, 1, 1, T0, &retry), 0);
	assert_int_equal(mx_ratelimit_take(rl, 1, k2, 1, 1, T0, &retry), 0);
	assert_int_equal(mx_ratelimit_take(rl, 1, k1, 1, 1, T0, &retry), MX_ELIMIT);
	assert_int_equal(mx_ratelimit_take(rl, 1, k2, 1, 1, T0, &retry), MX_ELIMIT);
	mx_ratelimiter_free(rl);
}

static void test_check_vs_take(void **state)
{
	(void)state;
	struct mx_ratelimiter *rl = mx_ratelimiter_new();
	int64_t retry = 0;
	/* check never consumes. */
	for (int i = 0; i < 100; i++)
		assert_int_equal(mx_ratelimit_check(rl, 1, "login", 1, 2, T0, &retry), 0);
	assert_int_equal(mx_ratelimit_take(rl, 1, "login", 1, 2, T0, &retry), 0);
	assert_int_equal(mx_ratelimit_check(rl, 1, "login", 1, 2, T0, &retry), 0);
	assert_int_equal(mx_ratelimit_take(rl, 1, "login", 1, 2, T0, &retry), 0);
	/* Empty: check refuses with the same wait that take would. */
	assert_int_equal(mx_ratelimit_check(rl, 1, "login", 1, 2, T0 + 250, &retry), MX_ELIMIT);
	assert_int_equal(retry, 750);
	retry = 0;
	assert_int_equal(mx_ratelimit_take(rl, 1, "login", 1, 2, T0 + 250, &retry), MX_ELIMIT);
	assert_int_equal(retry, 750);
	assert_int_equal(mx_ratelimit_check(rl, 1, "login", 1, 2, T0 + 1000, &retry), 0);
	assert_int_equal(mx_ratelimit_check(rl, 1, "login", 1, 2, T0 + 1000, &retry), 0);
	assert_int_equal(mx_ratelimit_take(rl, 1, "login", 1, 2, T0 + 1000, &retry), 0);
	assert_int_equal(mx_ratelimit_check(rl, 1, "login", 1, 2, T0 + 1000, &retry), MX_ELIMIT);
	mx_ratelimiter_free(rl);
}

static void test_disabled(void **state)
{
	(void)state;
	struct mx_ratelimiter *rl = mx_ratelimiter_new();
	int64_t retry = 12345;
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(mx_ratelimit_take(rl, 1, "x", 0, 1, T0, &retry), 0);
		assert_int_equal(mx_ratelimit_take(rl, 1, "x", -1, 0, T0, &retry), 0);
		assert_int_equal(mx_ratelimit_check(rl, 1, "x", 0, 0, T0, &retry), 0);
	}
	assert_int_equal(retry, 12345);
	/* A burst below one still admits one request. */
	assert_int_equal(mx_ratelimit_take(rl, 1, "y", 1, 0, T0, &retry), 0);
	assert_int_equal(mx_ratelimit_take(rl, 1, "y", 1, 0, T0, &retry), MX_ELIMIT);
	assert_int_equal(retry, 1000);
	/* Changing a bucket's rate takes effect at once. */
	assert_int_equal(mx_ratelimit_take(rl, 1, "y", 1000, 1, T0, &retry), MX_ELIMIT);
	assert_true(retry >= 1 && retry <= 2);
	assert_int_equal(mx_ratelimit_take(rl, 1, "y", 0, 1, T0, &retry), 0);
	mx_ratelimiter_free(rl);
	mx_ratelimiter_free(NULL);
}

/* Far more keys than the table has slots: buckets are recycled and
 * nothing crashes or refuses a key it has never seen. */
static void test_saturation(void **state)
{
	(void)state;
	struct mx_ratelimiter *rl = mx_ratelimiter_new();
	int64_t retry;
	char key[32];
	/* Slow refill so that buckets in use are never "full again". */
	for (int i = 0; i < 100000; i++) {
		snprintf(key, sizeof(key), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		assert_int_equal(mx_ratelimit_take(rl, 1, key, 0.001, 1, T0, &retry), 0);
	}
	/* And with buckets that refill quickly (reusable slots). */
	for (int i = 0; i < 100000; i++) {
		snprintf(key, sizeof(key), "u%d", i);
		assert_int_equal(mx_ratelimit_take(rl, 2, key, 1000, 1, T0 + 10000 + i, &retry), 0);
	}
	/* The limiter still works afterwards. */
	assert_int_equal(mx_ratelimit_take(rl, 3, "fresh", 1, 1, T0 + 500000, &retry), 0);
	assert_int_equal(mx_ratelimit_take(rl, 3, "fresh", 1, 1, T0 + 500000, &retry), MX_ELIMIT);
	assert_int_equal(retry, 1000);
	mx_ratelimiter_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_refuse), cmocka_unit_test(test_refill),
		cmocka_unit_test(test_isolation),         cmocka_unit_test(test_check_vs_take),
		cmocka_unit_test(test_disabled),          cmocka_unit_test(test_saturation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
