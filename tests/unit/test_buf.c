/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for core/buf: growable buffers with a hard limit (an append
 * past the limit fails with MX_ETOOLARGE and leaves the buffer as it was),
 * printf, detach, and {ptr,len} slices.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"

static void test_empty(void **state)
{
	(void)state;
	struct mx_buf b;
	mx_buf_init(&b, 100);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 100);
	mx_buf_reset(&b); /* no data yet: must not touch it */
	assert_null(b.data);
	/* An empty append still makes the data a NUL-terminated string. */
	assert_int_equal(mx_buf_append(&b, NULL, 0), 0);
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	mx_buf_release(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	mx_buf_release(&b); /* twice is harmless */
}

static void test_append_grows(void **state)
{
	(void)state;
	struct mx_buf b;
	mx_buf_init(&b, MX_BUF_UNLIMITED);
	assert_int_equal(mx_buf_puts(&b, "hello"), 0);
	assert_int_equal(mx_buf_putc(&b, ' '), 0);
	assert_int_equal(mx_buf_append(&b, "world!!", 5), 0);
	assert_int_equal(b.len, 11);
	assert_string_equal(b.data, "hello world");
	/* Grow well past the first allocation; contents stay intact. */
	for (int i = 0; i < 10000; i++)
		assert_int_equal(mx_buf_putc(&b, (char)('a' + i % 26)), 0);
	assert_int_equal(b.len, 10011);
	assert_true(b.cap > b.len);
	assert_int_equal(b.data[b.len], '\0');
	assert_memory_equal(b.data, "hello worldabc", 14);
	assert_int_equal(b.data[10010], 'a' + 9999 % 26);
	/* Embedded NULs are data like any other byte. */
	mx_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_int_equal(mx_buf_append(&b, "a\0b", 3), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "a\0b", 4);
	mx_buf_release(&b);
}

static void test_limit(void **state)
{
	(void)state;
	struct mx_buf b;
	mx_buf_init(&b, 8);
	assert_int_equal(mx_buf_puts(&b, "12345"), 0);
	char *before = b.data;
	/* One byte too many: refused, nothing written. */
	assert_int_equal(mx_buf_puts(&b, "6789"), MX_ETOOLARGE);
	assert_int_equal(b.len, 5);
	assert_string_equal(b.data, "12345");
	assert_ptr_equal(b.data, before);
	/* Exactly up to the limit is fine. */
	assert_int_equal(mx_buf_puts(&b, "678"), 0);
	assert_int_equal(b.len, 8);
	assert_string_equal(b.data, "12345678");
	assert_int_equal(mx_buf_putc(&b, 'x'), MX_ETOOLARGE);
	assert_int_equal(mx_buf_append(&b, "", 0), 0);
	assert_string_equal(b.data, "12345678");
	/* A huge length must not overflow the size check. */
	assert_int_equal(mx_buf_append(&b, "x", SIZE_MAX), MX_ETOOLARGE);
	assert_int_equal(mx_buf_append(&b, "x", SIZE_MAX - 4), MX_ETOOLARGE);
	assert_int_equal(b.len, 8);
	assert_string_equal(b.data, "12345678");
	/* After a reset the whole limit is available again. */
	mx_buf_reset(&b);
	assert_int_equal(mx_buf_puts(&b, "abcdefgh"), 0);
	mx_buf_release(&b);

	/* A zero limit admits nothing but empty appends. */
	mx_buf_init(&b, 0);
	assert_int_equal(mx_buf_putc(&b, 'x'), MX_ETOOLARGE);
	assert_null(b.data);
	assert_int_equal(mx_buf_append(&b, "", 0), 0);
	assert_string_equal(b.data, "");
	mx_buf_release(&b);

	/* Unlimited still means "what fits in a size_t with its NUL". */
	mx_buf_init(&b, MX_BUF_UNLIMITED);
	assert_int_equal(mx_buf_append(&b, "x", SIZE_MAX), MX_ETOOLARGE);
	assert_int_equal(mx_buf_puts(&b, "ab"), 0);
	assert_int_equal(mx_buf_append(&b, "x", SIZE_MAX - 2), MX_ETOOLARGE);
	assert_int_equal(mx_buf_append(&b, "x", SIZE_MAX - 1), MX_ETOOLARGE);
	assert_string_equal(b.data, "ab");
	mx_buf_release(&b);
}

static void test_printf(void **state)
{
	(void)state;
	struct mx_buf b;
	mx_buf_init(&b, MX_BUF_UNLIMITED);
	assert_int_equal(mx_buf_printf(&b, "%d-%s", 42, "x"), 0);
	assert_int_equal(mx_buf_printf(&b, "/%05.1f/%c", 3.5, 'z'), 0);
	assert_string_equal(b.data, "42-x/003.5/z");
	assert_int_equal(b.len, strlen("42-x/003.5/z"));
	assert_int_equal(mx_buf_printf(&b, "%s", ""), 0);
	assert_int_equal(b.len, strlen("42-x/003.5/z"));
	/* Longer than any first allocation. */
	char big[1000];
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	mx_buf_reset(&b);
	assert_int_equal(mx_buf_printf(&b, "<%s>", big), 0);
	assert_int_equal(b.len, 1001);
	assert_int_equal(b.data[0], '<');
	assert_int_equal(b.data[1000], '>');
	assert_int_equal(b.data[1001], '\0');
	mx_buf_release(&b);

	/* printf respects the limit too, and leaves the contents alone. */
	mx_buf_init(&b, 6);
	assert_int_equal(mx_buf_printf(&b, "%s", "abc"), 0);
	assert_int_equal(mx_buf_printf(&b, "%d", 1234), MX_ETOOLARGE);
	assert_int_equal(b.len, 3);
	assert_string_equal(b.data, "abc");
	assert_int_equal(mx_buf_printf(&b, "%d", 123), 0);
	assert_string_equal(b.data, "abc123");
	mx_buf_release(&b);

	/* An empty printf on a fresh buffer still yields a string. */
	mx_buf_init(&b, 10);
	assert_int_equal(mx_buf_printf(&b, "%s", ""), 0);
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	mx_buf_release(&b);
}

static void test_detach(void **state)
{
	(void)state;
	struct mx_buf b;
	size_t len = 99;
	/* Detaching a buffer that never allocated returns "", not NULL. */
	mx_buf_init(&b, 16);
	char *p = mx_buf_detach(&b, &len);
	assert_non_null(p);
	assert_int_equal(len, 0);
	assert_string_equal(p, "");
	free(p);
	assert_null(b.data);

	/* With contents: the caller owns them and the buffer starts over. */
	assert_int_equal(mx_buf_puts(&b, "payload"), 0);
	p = mx_buf_detach(&b, &len);
	assert_int_equal(len, 7);
	assert_string_equal(p, "payload");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_int_equal(b.max, 16); /* the limit survives */
	assert_int_equal(mx_buf_puts(&b, "again"), 0);
	assert_string_equal(b.data, "again");
	free(p);
	/* len may be NULL. */
	p = mx_buf_detach(&b, NULL);
	assert_string_equal(p, "again");
	free(p);
	mx_buf_release(&b);

	/* After a reset the detached string is "" even though memory exists. */
	mx_buf_init(&b, 16);
	assert_int_equal(mx_buf_puts(&b, "gone"), 0);
	mx_buf_reset(&b);
	p = mx_buf_detach(&b, &len);
	assert_int_equal(len, 0);
	assert_string_equal(p, "");
	free(p);
	mx_buf_release(&b);
}

static void test_slices(void **state)
{
	(void)state;
	struct mx_slice s = mx_slice_from("hello");
	assert_int_equal(s.len, 5);
	assert_true(mx_slice_eq(s, "hello"));
	assert_false(mx_slice_eq(s, "hell"));
	assert_false(mx_slice_eq(s, "hello!"));
	assert_true(mx_slice_has_prefix(s, ""));
	assert_true(mx_slice_has_prefix(s, "he"));
	assert_true(mx_slice_has_prefix(s, "hello"));
	assert_false(mx_slice_has_prefix(s, "hello!"));
	assert_false(mx_slice_has_prefix(s, "x"));

	struct mx_slice n = mx_slice_from(NULL);
	assert_null(n.ptr);
	assert_int_equal(n.len, 0);

	/* A slice of the middle of a string: no NUL at its end. */
	const char *text = "abcdef";
	struct mx_slice mid = {text + 1, 3};
	assert_true(mx_slice_eq(mid, "bcd"));
	assert_false(mx_slice_eq(mid, "bcde"));
	assert_true(mx_slice_has_prefix(mid, "bc"));
	assert_false(mx_slice_has_prefix(mid, "bcde"));

	struct mx_slice lit = MX_SLICE_LIT("lit");
	assert_int_equal(lit.len, 3);
	assert_true(mx_slice_eq(lit, "lit"));
	struct mx_slice empty = MX_SLICE_LIT("");
	assert_true(mx_slice_eq(empty, ""));
	assert_false(mx_slice_eq(empty, "a"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),  cmocka_unit_test(test_append_grows),
		cmocka_unit_test(test_limit),  cmocka_unit_test(test_printf),
		cmocka_unit_test(test_detach), cmocka_unit_test(test_slices),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
