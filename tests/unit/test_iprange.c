/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/core/iprange: CIDR parsing and matching at the edges. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "core/error.h"
#include "core/iprange.h"

/* Whether the textual address a (v4 or v6) lies in range text r. */
static bool in_range(const char *r, const char *a)
{
	struct mx_iprange range;
	assert_int_equal(mx_iprange_parse(r, &range), 0);
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	memset(&s4, 0, sizeof(s4));
	memset(&s6, 0, sizeof(s6));
	if (inet_pton(AF_INET, a, &s4.sin_addr) == 1) {
		s4.sin_family = AF_INET;
		return mx_iprange_match(&range, 1, (const struct sockaddr *)&s4);
	}
	assert_int_equal(inet_pton(AF_INET6, a, &s6.sin6_addr), 1);
	s6.sin6_family = AF_INET6;
	return mx_iprange_match(&range, 1, (const struct sockaddr *)&s6);
}

static void test_v4_zero_prefix(void **state)
{
	(void)state;
	struct mx_iprange r;
	assert_int_equal(mx_iprange_parse("0.0.0.0/0", &r), 0);
	assert_int_equal(r.prefix, 96);
	assert_true(in_range("0.0.0.0/0", "0.0.0.0"));
	assert_true(in_range("0.0.0.0/0", "255.255.255.255"));
	assert_true(in_range("0.0.0.0/0", "::ffff:8.8.8.8"));
	/* a v4 /0 covers only the mapped space, not all of IPv6 */
	assert_false(in_range("0.0.0.0/0", "2001:db8::1"));
	assert_false(in_range("0.0.0.0/0", "::1"));
}

static void test_v4_full_prefix(void **state)
{
	(void)state;
	struct mx_iprange r;
	assert_int_equal(mx_iprange_parse("192.0.2.7/32", &r), 0);
	assert_int_equal(r.prefix, 128);
	assert_true(in_range("192.0.2.7/32", "192.0.2.7"));
	assert_false(in_range("192.0.2.7/32", "192.0.2.6"));
	assert_false(in_range("192.0.2.7/32", "192.0.2.8"));
	/* a bare address is a /32 */
	assert_int_equal(mx_iprange_parse("192.0.2.7", &r), 0);
	assert_int_equal(r.prefix, 128);
	assert_true(in_range("192.0.2.7", "192.0.2.7"));
	assert_false(in_range("192.0.2.7", "192.0.2.70"));
}

static void test_v4_partial_byte(void **state)
{
	(void)state;
	assert_true(in_range("10.0.0.0/8", "10.255.255.255"));
	assert_false(in_range("10.0.0.0/8", "11.0.0.0"));
	assert_true(in_range("172.16.0.0/12", "172.31.255.255"));
	assert_false(in_range("172.16.0.0/12", "172.32.0.0"));
	assert_false(in_range("172.16.0.0/12", "172.15.255.255"));
}

static void test_v6_zero_and_full(void **state)
{
	(void)state;
	struct mx_iprange r;
	assert_int_equal(mx_iprange_parse("::/0", &r), 0);
	assert_int_equal(r.prefix, 0);
	assert_true(in_range("::/0", "::"));
	assert_true(in_range("::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_true(in_range("::/0", "203.0.113.1"));

	assert_int_equal(mx_iprange_parse("2001:db8::1/128", &r), 0);
	assert_int_equal(r.prefix, 128);
	assert_true(in_range("2001:db8::1/128", "2001:db8::1"));
	assert_false(in_range("2001:db8::1/128", "2001:db8::"));
	assert_false(in_range("2001:db8::1/128", "2001:db8::3"));
	assert_true(in_range("fe80::/10", "febf::1"));
	assert_false(in_range("fe80::/10", "fec0::1"));
}

static void test_v4_mapped(void **state)
{
	(void)state;
	/* a v4 entry catches the mapped form, and a mapped entry the v4 form */
	assert_true(in_range("127.0.0.0/8", "::ffff:127.0.0.1"));
	assert_false(in_range("127.0.0.0/8", "::ffff:128.0.0.1"));
	assert_true(in_range("::ffff:127.0.0.0/104", "127.1.2.3"));
	assert_false(in_range("::ffff:127.0.0.0/104", "126.1.2.3"));
	assert_true(in_range("::ffff:0:0/96", "8.8.8.8"));
	/* IPv4-compatible (::a.b.c.d) is not mapped */
	assert_false(in_range("127.0.0.0/8", "::127.0.0.1"));
}

static void test_malformed(void **state)
{
	(void)state;
	static const char *bad[] = {
		"", "/", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/8x",
		"10.0.0.0/8/8", "10.0.0/8", "10.0.0.256", "256.0.0.0/8", "::/129", "::/1000",
		"::/99999999999999999999999", "fe80::/x", "fe80:::1", "1:2:3:4:5:6:7:8:9",
		"example.com", "10.0.0.0 /8", " 10.0.0.0",
		"00000000000000000000000000000000000000000000000000000000000000000000"};
	struct mx_iprange r;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (mx_iprange_parse(bad[i], &r) != MX_EINVALID)
			fail_msg("accepted \"%s\"", bad[i]);
	}
}

static void test_match_list(void **state)
{
	(void)state;
	struct mx_iprange r[2];
	assert_int_equal(mx_iprange_parse("10.0.0.0/8", &r[0]), 0);
	assert_int_equal(mx_iprange_parse("fc00::/7", &r[1]), 0);
	struct sockaddr_in6 s6;
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "fd12::1", &s6.sin6_addr), 1);
	assert_true(mx_iprange_match(r, 2, (const struct sockaddr *)&s6));
	assert_false(mx_iprange_match(r, 1, (const struct sockaddr *)&s6));
	assert_false(mx_iprange_match(r, 0, (const struct sockaddr *)&s6));
	struct sockaddr sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNIX;
	assert_false(mx_iprange_match(r, 2, &sa));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_zero_prefix),   cmocka_unit_test(test_v4_full_prefix),
		cmocka_unit_test(test_v4_partial_byte),  cmocka_unit_test(test_v6_zero_and_full),
		cmocka_unit_test(test_v4_mapped),        cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_match_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
