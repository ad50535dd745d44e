/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for core/arena: the request pool. Allocations are zeroed and
 * 16-byte aligned, large blocks do not waste the current chunk, deferred
 * cleanups run last-registered-first, and jansson values and heap blocks
 * handed to the arena are released with it (the sanitizer build's leak
 * checker confirms nothing is left behind).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/arena.h"
#include "core/mem.h"

static bool all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void test_alignment(void **state)
{
	(void)state;
	struct mx_arena a;
	mx_arena_init(&a);
	static const size_t sizes[] = {1, 3, 7, 15, 16, 17, 31, 33, 100, 1000, 4095, 4096,
				       4097, 8191, 8192, 8193, 0, 2};
	for (int round = 0; round < 50; round++) {
		for (size_t i = 0; i < MX_ARRAY_LEN(sizes); i++) {
			unsigned char *p = mx_arena_alloc(&a, sizes[i]);
			assert_non_null(p);
			assert_int_equal((uintptr_t)p % 16, 0);
			assert_true(all_zero(p, sizes[i]));
			/* Dirty it so a later zero check means something. */
			memset(p, 0xa5, sizes[i]);
		}
	}
	/* Consecutive small allocations never overlap. */
	char *prev = mx_arena_alloc(&a, 1);
	size_t prev_len = 1;
	for (int i = 0; i < 2000; i++) {
		char *p = mx_arena_alloc(&a, 24);
		assert_true(p >= prev + prev_len || p + 24 <= prev);
		prev = p;
		prev_len = 24;
	}
	mx_arena_release(&a);
	assert_null(a.chunks);
	assert_null(a.defers);
}

static void test_large(void **state)
{
	(void)state;
	struct mx_arena a;
	mx_arena_init(&a);
	/* A large first allocation. */
	unsigned char *big = mx_arena_alloc(&a, 1 << 20);
	assert_int_equal((uintptr_t)big % 16, 0);
	assert_true(all_zero(big, 1 << 20));
	memset(big, 1, 1 << 20);

	/* A large block between two small ones leaves the small ones in the
	 * same chunk, back to back. */
	char *s1 = mx_arena_alloc(&a, 16);
	unsigned char *big2 = mx_arena_alloc(&a, 100000);
	char *s2 = mx_arena_alloc(&a, 16);
	assert_ptr_equal(s2, s1 + 16);
	assert_true(all_zero(big2, 100000));
	memset(big2, 2, 100000);
	/* Neither large block was disturbed by the other allocations. */
	assert_int_equal(big[0], 1);
	assert_int_equal(big[(1 << 20) - 1], 1);
	assert_int_equal(big2[99999], 2);

	/* Many large blocks in a row. */
	for (int i = 0; i < 64; i++) {
		unsigned char *p = mx_arena_alloc(&a, 5000 + (size_t)i);
		assert_int_equal((uintptr_t)p % 16, 0);
		assert_true(all_zero(p, 5000 + (size_t)i));
		memset(p, 3, 5000 + (size_t)i);
	}
	mx_arena_release(&a);

	/* A released arena can be used again. */
	char *p = mx_arena_alloc(&a, 10);
	assert_non_null(p);
	mx_arena_release(&a);
	/* Releasing an empty arena is fine, twice. */
	mx_arena_release(&a);
}

/* A size so large that rounding it up would wrap must abort like an
 * out-of-memory, never hand back a tiny block. */
static void test_size_overflow(void **state)
{
	(void)state;
	static const size_t huge[] = {SIZE_MAX, SIZE_MAX - 7, SIZE_MAX - 15, SIZE_MAX - 40};
	for (size_t i = 0; i < MX_ARRAY_LEN(huge); i++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			/* Quiet the abort message in the child. */
			FILE *devnull = freopen("/dev/null", "w", stderr);
			(void)devnull;
			struct mx_arena a;
			mx_arena_init(&a);
			void *p = mx_arena_alloc(&a, huge[i]);
			(void)p;
			_exit(0); /* reached only if the allocation "succeeded" */
		}
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			fail_msg("mx_arena_alloc(%zu) returned instead of aborting", huge[i]);
	}
}

static void test_strings(void **state)
{
	(void)state;
	struct mx_arena a;
	mx_arena_init(&a);
	const char *src = "hello, world";
	char *d = mx_arena_strdup(&a, src);
	assert_ptr_not_equal(d, src);
	assert_string_equal(d, src);
	char *n = mx_arena_strndup(&a, src, 5);
	assert_string_equal(n, "hello");
	n = mx_arena_strndup(&a, "ab\0cd", 5); /* copies n bytes, NUL-terminates */
	assert_memory_equal(n, "ab\0cd", 6);
	assert_string_equal(mx_arena_strdup(&a, ""), "");
	assert_string_equal(mx_arena_printf(&a, "%s-%d-%03x", "id", -7, 255), "id--7-0ff");
	assert_string_equal(mx_arena_printf(&a, "%s", ""), "");
	char big[10000];
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	char *p = mx_arena_printf(&a, "[%s]", big);
	assert_int_equal(strlen(p), sizeof(big) + 1);
	assert_int_equal(p[0], '[');
	assert_int_equal(p[sizeof(big)], ']');
	mx_arena_release(&a);
}

struct order {
	int seen[8];
	int n;
};

struct mark {
	struct order *o;
	int id;
};

static void record(void *p)
{
	struct mark *m = p;
	assert_true(m->o->n < 8);
	m->o->seen[m->o->n++] = m->id;
}

static void test_defer_order(void **state)
{
	(void)state;
	struct mx_arena a;
	mx_arena_init(&a);
	struct order o = {.n = 0};
	struct mark m[4] = {{&o, 1}, {&o, 2}, {&o, 3}, {&o, 4}};
	mx_arena_defer(&a, record, &m[0]);
	/* Interleave allocations, including ones that start new chunks. */
	mx_arena_alloc(&a, 9000);
	mx_arena_defer(&a, record, &m[1]);
	for (int i = 0; i < 100; i++)
		mx_arena_alloc(&a, 200);
	mx_arena_defer(&a, record, &m[2]);
	mx_arena_defer(&a, record, &m[3]);
	assert_int_equal(o.n, 0); /* nothing runs before release */
	mx_arena_release(&a);
	assert_int_equal(o.n, 4);
	assert_int_equal(o.seen[0], 4);
	assert_int_equal(o.seen[1], 3);
	assert_int_equal(o.seen[2], 2);
	assert_int_equal(o.seen[3], 1);
	/* The list is gone: a second release runs nothing. */
	mx_arena_release(&a);
	assert_int_equal(o.n, 4);
}

static void test_json_and_own(void **state)
{
	(void)state;
	struct mx_arena a;
	mx_arena_init(&a);
	json_t *obj = json_pack("{s:s, s:[i,i]}", "k", "v", "list", 1, 2);
	assert_non_null(obj);
	json_incref(obj); /* keep our own reference to watch the count */
	assert_int_equal(obj->refcount, 2);
	assert_ptr_equal(mx_arena_json(&a, obj), obj);
	assert_int_equal(obj->refcount, 2); /* the arena takes the caller's ref */
	/* A value the arena solely owns: freed at release (leak checker). */
	json_t *owned = mx_arena_json(&a, json_string("temporary"));
	assert_string_equal(json_string_value(owned), "temporary");
	/* NULL passes through and registers nothing. */
	assert_null(mx_arena_json(&a, NULL));
	assert_null(mx_arena_own(&a, NULL));
	char *heap = mx_arena_own(&a, mx_xstrdup("heap string"));
	assert_string_equal(heap, "heap string");
	mx_arena_release(&a);
	assert_int_equal(obj->refcount, 1);
	json_decref(obj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alignment),   cmocka_unit_test(test_large),
		cmocka_unit_test(test_size_overflow), cmocka_unit_test(test_strings),
		cmocka_unit_test(test_defer_order), cmocka_unit_test(test_json_and_own),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
