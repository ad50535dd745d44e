/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The expiring string cache: answers until the ttl passes, replacement,
 * eviction of the entry closest to expiry when the entry or byte budget
 * is full, oversize pairs refused, and a NULL cache that holds nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/ttlcache.h"

static void test_expiry_and_replace(void **state)
{
	struct mx_arena a;
	mx_arena_init(&a);
	struct mx_ttlcache *c = mx_ttlcache_new(8, 4096, 100);
	assert_null(mx_ttlcache_get(c, &a, "k", 0));
	mx_ttlcache_put(c, "k", "v1", 1000);
	assert_string_equal(mx_ttlcache_get(c, &a, "k", 1000), "v1");
	assert_string_equal(mx_ttlcache_get(c, &a, "k", 1099), "v1");
	assert_null(mx_ttlcache_get(c, &a, "k", 1100)); /* the ttl is over */
	assert_int_equal(mx_ttlcache_count(c), 0);      /* and the entry gone */
	mx_ttlcache_put(c, "k", "v2", 2000);
	mx_ttlcache_put(c, "k", "v3", 2050); /* replaced, with a new expiry */
	assert_int_equal(mx_ttlcache_count(c), 1);
	assert_string_equal(mx_ttlcache_get(c, &a, "k", 2120), "v3");
	/* A clock that went back does not revive an expired answer. */
	assert_null(mx_ttlcache_get(c, &a, "k", 3000));
	mx_ttlcache_put(c, "k", "v4", 5000);
	assert_null(mx_ttlcache_get(c, &a, "other", 5000));
	mx_ttlcache_free(c);
	mx_arena_release(&a);
}

static void test_bounds(void **state)
{
	struct mx_arena a;
	mx_arena_init(&a);
	/* At most 3 entries. */
	struct mx_ttlcache *c = mx_ttlcache_new(3, 1 << 20, 1000);
	mx_ttlcache_put(c, "a", "1", 0);
	mx_ttlcache_put(c, "b", "2", 1);
	mx_ttlcache_put(c, "c", "3", 2);
	mx_ttlcache_put(c, "d", "4", 3);
	assert_int_equal(mx_ttlcache_count(c), 3);
	assert_null(mx_ttlcache_get(c, &a, "a", 10)); /* the oldest went */
	assert_string_equal(mx_ttlcache_get(c, &a, "b", 10), "2");
	assert_string_equal(mx_ttlcache_get(c, &a, "d", 10), "4");
	mx_ttlcache_free(c);

	/* At most 400 bytes; a pair over a quarter of that is not kept. */
	c = mx_ttlcache_new(100, 400, 1000);
	char big[120];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	mx_ttlcache_put(c, "big", big, 0);
	assert_int_equal(mx_ttlcache_count(c), 0);
	char v[80];
	memset(v, 'y', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	const char *keys[] = {"k1", "k2", "k3", "k4", "k5", "k6"};
	for (int i = 0; i < 6; i++)
		mx_ttlcache_put(c, keys[i], v, i);
	/* 83 bytes each: four fit in 400. */
	assert_int_equal(mx_ttlcache_count(c), 4);
	assert_null(mx_ttlcache_get(c, &a, "k2", 10));
	assert_non_null(mx_ttlcache_get(c, &a, "k3", 10));
	assert_non_null(mx_ttlcache_get(c, &a, "k6", 10));
	mx_ttlcache_free(c);

	/* Many keys through a small table: chains stay right. */
	c = mx_ttlcache_new(1000, 1 << 20, 1000);
	for (int i = 0; i < 1500; i++)
		mx_ttlcache_put(c, mx_arena_printf(&a, "key%d", i), mx_arena_printf(&a, "%d", i), i);
	assert_int_equal(mx_ttlcache_count(c), 1000);
	assert_null(mx_ttlcache_get(c, &a, "key499", 1499));
	assert_string_equal(mx_ttlcache_get(c, &a, "key500", 1400), "500");
	assert_string_equal(mx_ttlcache_get(c, &a, "key1499", 1499), "1499");
	mx_ttlcache_free(c);
	mx_arena_release(&a);
}

static void test_null_cache(void **state)
{
	struct mx_arena a;
	mx_arena_init(&a);
	mx_ttlcache_put(NULL, "k", "v", 0);
	assert_null(mx_ttlcache_get(NULL, &a, "k", 0));
	assert_int_equal(mx_ttlcache_count(NULL), 0);
	mx_ttlcache_free(NULL);
	mx_arena_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expiry_and_replace),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_null_cache),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
