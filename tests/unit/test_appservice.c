/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/appservice: registration parsing, checks and namespace matching. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "appservice/registration.h"
#include "appservice/sender.h"
#include "core/error.h"

static const char good[] = "id: irc\n"
			   "url: http://localhost:9000\n"
			   "as_token: ast\n"
			   "hs_token: hst\n"
			   "sender_localpart: ircbot\n"
			   "rate_limited: false\n"
			   "namespaces:\n"
			   "  users:\n"
			   "    - exclusive: true\n"
			   "      regex: '@irc_.*:example\\.org'\n"
			   "    - exclusive: false\n"
			   "      regex: '@shared_.*'\n"
			   "  aliases:\n"
			   "    - exclusive: true\n"
			   "      regex: '#irc_.*'\n"
			   "  rooms: []\n"
			   "protocols: [irc]\n";

static int parse(struct mx_appservice *as, const char *text, char *err, size_t errlen)
{
	memset(as, 0, sizeof(*as));
	return mx_appservice_parse(as, text, strlen(text), "as.yaml", "example.org", err, errlen);
}

static void test_parse_good(void **state)
{
	(void)state;
	struct mx_appservice as;
	char err[256] = "";
	assert_int_equal(parse(&as, good, err, sizeof(err)), 0);
	assert_string_equal(as.id, "irc");
	assert_string_equal(as.url, "http://localhost:9000");
	assert_string_equal(as.sender, "@ircbot:example.org");
	assert_false(as.rate_limited);
	assert_int_equal(as.users.n, 2);
	assert_true(as.users.v[0].exclusive);
	assert_false(as.users.v[1].exclusive);
	assert_int_equal(as.aliases.n, 1);
	assert_int_equal(as.rooms.n, 0);
	assert_int_equal(as.n_protocols, 1);
	assert_string_equal(as.protocols[0], "irc");
	mx_appservice_release(&as);
}

static void test_match(void **state)
{
	(void)state;
	struct mx_appservice as;
	char err[256];
	assert_int_equal(parse(&as, good, err, sizeof(err)), 0);
	assert_true(mx_as_namespaces_match(&as.users, "@irc_bob:example.org", true));
	assert_true(mx_as_namespaces_match(&as.users, "@shared_x:example.org", false));
	assert_false(mx_as_namespaces_match(&as.users, "@shared_x:example.org", true));
	/* Anchored at the start, as Python's re.match. */
	assert_false(mx_as_namespaces_match(&as.users, "@bob_irc_x:example.org", false));
	assert_true(mx_appservice_owns_user(&as, "@ircbot:example.org"));
	assert_true(mx_appservice_owns_user(&as, "@irc_a:example.org"));
	assert_false(mx_appservice_owns_user(&as, "@alice:example.org"));
	assert_true(mx_as_namespaces_match(&as.aliases, "#irc_chan:example.org", true));
	assert_false(mx_as_namespaces_match(&as.aliases, "#other:example.org", false));
	assert_false(mx_as_namespaces_match(&as.rooms, "!a:example.org", false));
	mx_appservice_release(&as);
}

static void test_null_url_and_defaults(void **state)
{
	(void)state;
	struct mx_appservice as;
	char err[256];
	const char *t = "id: x\nurl: null\nas_token: a\nhs_token: h\nsender_localpart: bot\n";
	assert_int_equal(parse(&as, t, err, sizeof(err)), 0);
	assert_null(as.url);
	assert_true(as.rate_limited);
	assert_int_equal(as.users.n, 0);
	mx_appservice_release(&as);
}

static void expect_error(const char *text, const char *needle)
{
	struct mx_appservice as;
	char err[256] = "";
	assert_int_equal(parse(&as, text, err, sizeof(err)), MX_EINVALID);
	if (!strstr(err, needle))
		fail_msg("error '%s' lacks '%s'", err, needle);
	assert_non_null(strstr(err, "as.yaml"));
	mx_appservice_release(&as);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("url: null\nas_token: a\nhs_token: h\nsender_localpart: b\n", "id: required");
	expect_error("id: x\nas_token: a\nsender_localpart: b\n", "hs_token");
	expect_error("id: x\nas_token: a\nhs_token: h\nsender_localpart: b\n"
		     "namespaces:\n  users:\n    - exclusive: true\n      regex: '@a(:'\n",
		     "namespaces.users[0].regex");
	expect_error("id: x\nas_token: a\nhs_token: h\nsender_localpart: b\n"
		     "namespaces:\n  users:\n    - exclusive: maybe\n      regex: '@a'\n",
		     "namespaces.users[0].exclusive");
	expect_error("id: x\nas_token: a\nhs_token: h\nsender_localpart: b\nurl: ftp://x\n", "url");
	expect_error("id: x\nas_token: a\nhs_token: h\nsender_localpart: B!\n", "sender_localpart");
	expect_error("id: [x\n", "as.yaml:");
}

static void test_unique(void **state)
{
	(void)state;
	struct mx_appservice v[2];
	char err[256] = "";
	assert_int_equal(parse(&v[0], good, err, sizeof(err)), 0);
	assert_int_equal(parse(&v[1], "id: other\nas_token: ast\nhs_token: h\nsender_localpart: b\n",
			       err, sizeof(err)),
			 0);
	struct mx_appservices set = {v, 2};
	assert_int_equal(mx_appservices_check(&set, err, sizeof(err)), MX_EINVALID);
	assert_non_null(strstr(err, "as_token"));
	assert_ptr_equal(mx_appservices_by_token(&set, "ast"), &v[0]);
	assert_null(mx_appservices_by_token(&set, "as"));
	assert_ptr_equal(mx_appservices_by_id(&set, "other"), &v[1]);
	/* Exclusive claims of others, not one's own. */
	assert_ptr_equal(mx_appservices_exclusive_user(&set, NULL, "@irc_z:example.org"), &v[0]);
	assert_null(mx_appservices_exclusive_user(&set, &v[0], "@irc_z:example.org"));
	assert_null(mx_appservices_exclusive_user(&set, NULL, "@shared_z:example.org"));
	assert_ptr_equal(mx_appservices_exclusive_alias(&set, &v[1], "#irc_c:example.org"), &v[0]);
	mx_appservice_release(&v[0]);
	mx_appservice_release(&v[1]);
}

static void test_backoff(void **state)
{
	(void)state;
	assert_int_equal(mx_as_backoff_next(0), MX_AS_BACKOFF_FIRST_MS);
	assert_int_equal(mx_as_backoff_next(1000), 2000);
	assert_int_equal(mx_as_backoff_next(MX_AS_BACKOFF_MAX_MS), MX_AS_BACKOFF_MAX_MS);
	assert_int_equal(mx_as_backoff_next(MX_AS_BACKOFF_MAX_MS / 2 + 1), MX_AS_BACKOFF_MAX_MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good), cmocka_unit_test(test_match),
		cmocka_unit_test(test_null_url_and_defaults), cmocka_unit_test(test_errors),
		cmocka_unit_test(test_unique), cmocka_unit_test(test_backoff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
