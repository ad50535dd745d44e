/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for src/admin/register: Synapse's shared-secret registration
 * MAC and the nonce table. The expected MACs were computed independently
 * with Python's hmac module, building the message the way Synapse's
 * register_new_matrix_user does:
 *
 *   m = hmac.new(secret.encode(), digestmod=hashlib.sha1)
 *   m.update(nonce.encode()); m.update(b"\x00"); m.update(user.encode())
 *   m.update(b"\x00"); m.update(password.encode()); m.update(b"\x00")
 *   m.update(b"admin" if admin else b"notadmin")
 *   if user_type: m.update(b"\x00"); m.update(user_type.encode())
 *   m.hexdigest()
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "admin/register.h"
#include "core/error.h"
#include "core/rand.h"

static void check_mac(const char *secret, const char *nonce, const char *user, const char *pw,
		      bool admin, const char *user_type, const char *want)
{
	char got[41];
	memset(got, 'x', sizeof(got));
	assert_int_equal(mx_admin_register_mac(secret, nonce, user, pw, admin, user_type, got), 0);
	assert_string_equal(got, want);
}

static void test_mac_vectors(void **state)
{
	(void)state;
	check_mac("s3cr3t", "abc123", "alice", "wonderland", false, NULL,
		  "1666809c6456d71caf18f72e10401f0ffb9c4c6c");
	check_mac("s3cr3t", "abc123", "alice", "wonderland", true, NULL,
		  "7ec2485191b90a402397a70bb7a958272c028b1d");
	check_mac("s3cr3t", "abc123", "alice", "wonderland", true, "bot",
		  "557b6467656ebe74cfbe9e86eb718efe3cb7e34f");
	/* UTF-8 everywhere, upper case kept: the MAC covers the name as sent. */
	check_mac("k\xc3\xa9y", "nonce", "Bob", "p\xc3\xa4ss\xe2\x98\x83", false, "support",
		  "b2ad2ea2b1e25cdb7ab918c5c0ac579a731a8f09");
	/* An empty key is still a key (HMAC pads it). */
	check_mac("", "n", "u", "p", false, NULL, "291749f7a45c6280d6a33523593d2c0ba769e520");
}

/* Synapse appends the user type only `if user_type:`, so "" is the same as none. */
static void test_mac_empty_user_type(void **state)
{
	(void)state;
	check_mac("s3cr3t", "abc123", "alice", "wonderland", false, "",
		  "1666809c6456d71caf18f72e10401f0ffb9c4c6c");
}

/* Each field boundary is a NUL, so moving bytes across fields changes the MAC. */
static void test_mac_fields_separated(void **state)
{
	(void)state;
	char a[41], b[41];
	assert_int_equal(mx_admin_register_mac("k", "n", "ab", "c", false, NULL, a), 0);
	assert_int_equal(mx_admin_register_mac("k", "n", "a", "bc", false, NULL, b), 0);
	assert_string_not_equal(a, b);
}

static void test_nonce_single_use(void **state)
{
	(void)state;
	struct mx_admin_nonces *t = mx_admin_nonces_new();
	char a[MX_ADMIN_NONCE_LEN + 1], b[MX_ADMIN_NONCE_LEN + 1];
	mx_admin_nonces_issue(t, 1000, a);
	mx_admin_nonces_issue(t, 1000, b);
	assert_int_equal(strlen(a), MX_ADMIN_NONCE_LEN);
	assert_int_equal(strspn(a, "0123456789abcdef"), MX_ADMIN_NONCE_LEN);
	assert_string_not_equal(a, b);
	assert_int_equal(mx_admin_nonces_take(t, a, 2000), 0);
	assert_int_equal(mx_admin_nonces_take(t, a, 2000), MX_ENOTFOUND);
	assert_int_equal(mx_admin_nonces_take(t, b, 2000), 0);
	assert_int_equal(mx_admin_nonces_take(t, "", 2000), MX_ENOTFOUND);
	assert_int_equal(mx_admin_nonces_take(t, "not-a-nonce", 2000), MX_ENOTFOUND);
	mx_admin_nonces_free(t);
}

static void test_nonce_expiry(void **state)
{
	(void)state;
	struct mx_admin_nonces *t = mx_admin_nonces_new();
	char a[MX_ADMIN_NONCE_LEN + 1], b[MX_ADMIN_NONCE_LEN + 1];
	mx_admin_nonces_issue(t, 5000, a);
	mx_admin_nonces_issue(t, 5000, b);
	/* testcase: exactly at the TTL is still valid, one ms later is not. */
	assert_int_equal(mx_admin_nonces_take(t, a, 5000 + MX_ADMIN_NONCE_TTL_MS), 0);
	assert_int_equal(mx_admin_nonces_take(t, b, 5000 + MX_ADMIN_NONCE_TTL_MS + 1), MX_ENOTFOUND);
	/* An expired nonce is forgotten, not revived. */
	assert_int_equal(mx_admin_nonces_take(t, b, 5000), MX_ENOTFOUND);
	mx_admin_nonces_free(t);
}

static void test_nonce_table_bounded(void **state)
{
	(void)state;
	struct mx_admin_nonces *t = mx_admin_nonces_new();
	char first[MX_ADMIN_NONCE_LEN + 1], second[MX_ADMIN_NONCE_LEN + 1];
	char n[MX_ADMIN_NONCE_LEN + 1];
	mx_admin_nonces_issue(t, 0, first);
	mx_admin_nonces_issue(t, 1, second);
	for (int i = 2; i < MX_ADMIN_NONCE_MAX; i++)
		mx_admin_nonces_issue(t, 2, n);
	/* Full: the next one evicts the oldest, and only it. */
	mx_admin_nonces_issue(t, 3, n);
	assert_int_equal(mx_admin_nonces_take(t, first, 10), MX_ENOTFOUND);
	assert_int_equal(mx_admin_nonces_take(t, second, 10), 0);
	assert_int_equal(mx_admin_nonces_take(t, n, 10), 0);
	/* Once they expire, slots are reused without evicting anything live. */
	char late[MX_ADMIN_NONCE_LEN + 1];
	mx_admin_nonces_issue(t, 3 + MX_ADMIN_NONCE_TTL_MS + 1, late);
	assert_int_equal(mx_admin_nonces_take(t, late, 3 + MX_ADMIN_NONCE_TTL_MS + 1), 0);
	mx_admin_nonces_free(t);
}

int main(void)
{
	if (mx_rand_init())
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mac_vectors),
		cmocka_unit_test(test_mac_empty_user_type),
		cmocka_unit_test(test_mac_fields_separated),
		cmocka_unit_test(test_nonce_single_use),
		cmocka_unit_test(test_nonce_expiry),
		cmocka_unit_test(test_nonce_table_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
