/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for client/util: the identifier grammar of the spec appendices
 * (user id localparts, historical user ids, server names with ports and IP
 * literals, the 255-byte limits), qualifying login names, device ids, and
 * the typed body-field helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/util.h"
#include "core/config.h"
#include "core/error.h"
#include "core/rand.h"
#include "http/request.h"

/* A request with just what these helpers read: an arena and a server whose
 * config names the server. */
struct fake {
	struct mx_config cfg;
	struct mx_server srv;
	struct mx_req req;
};

static void fake_init(struct fake *f, const char *server_name)
{
	memset(f, 0, sizeof(*f));
	f->cfg.server_name = (char *)server_name;
	f->srv.cfg = &f->cfg;
	f->req.srv = &f->srv;
	mx_arena_init(&f->req.arena);
}

static void fake_release(struct fake *f)
{
	mx_arena_release(&f->req.arena);
	free(f->req.resp);
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* SPEC: appendices#user-identifiers */
static void test_localpart(void **state)
{
	(void)state;
	static const char *const good[] = {
		"alice", "a", "0", "a.b_c=d-e/f+g", "0123456789", "abcdefghijklmnopqrstuvwxyz",
		"._=-/+",
	};
	static const char *const bad[] = {
		"", "Alice", "aLICE", "a:b", "a b", " a", "a\t", "a*b", "a#b", "a@b", "a!b",
		"a~b", "a'b", "a\"b", "a\\b", "\xc3\xa9", "caf\xc3\xa9", "a\x7f", "@alice",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!mx_client_localpart_valid(good[i]))
			fail_msg("localpart '%s' should be valid", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (mx_client_localpart_valid(bad[i]))
			fail_msg("localpart '%s' should be invalid", bad[i]);
	char *s = repeat('a', 255);
	assert_true(mx_client_localpart_valid(s));
	free(s);
	s = repeat('a', 256);
	assert_false(mx_client_localpart_valid(s));
	free(s);
}

static void test_user_id(void **state)
{
	(void)state;
	static const char *const good[] = {
		"@alice:example.org",
		"@a:b",
		"@a.b_c=d-e/f+g:matrix.org",
		"@alice:matrix.org:8888",
		"@alice:1.2.3.4",
		"@alice:1.2.3.4:1234",
		"@alice:[1234:5678::abcd]",
		"@alice:[1234:5678::abcd]:5678",
		"@alice:[::1]",
		"@alice:[::ffff:1.2.3.4]:8448",
		"@alice:[ABCD::ef01]",
		"@alice:localhost",
		"@alice:my-server.example",
		"@alice:MATRIX.ORG", /* upper case is discouraged, not invalid */
		"@alice:example.org:1",
		"@alice:example.org:65535",
		"@alice:example.org:99999", /* 1*5DIGIT: the grammar does not bound the value */
		/* SPEC: appendices#historical-user-ids: printable ASCII but ':' */
		"@Alice:example.org",
		"@!#$%&'()*,;<>?[]^`{|}~\"\\:example.org",
		"@a@b:example.org",
	};
	static const char *const bad[] = {
		"",
		"@",
		"alice:example.org",  /* no sigil */
		"#alice:example.org", /* a room alias */
		"@alice",             /* no server */
		"@:example.org",      /* empty localpart */
		"@alice:",            /* empty server name */
		"@al ice:example.org",
		"@al\tice:example.org",
		"@al\x7fice:example.org", /* \x7f then "ice" (hex escapes stop at non-hex) */
		"@caf\xc3\xa9:example.org", /* non-ASCII: non-compliant, refused here */
		"@alice:exa mple.org",
		"@alice:example_org",
		"@alice:example.org/",
		"@alice:example.org:",       /* empty port */
		"@alice:example.org:123456", /* six digits */
		"@alice:example.org:80a",
		"@alice:example.org:-1",
		"@alice:example.org:80:90",
		"@alice::8448",              /* empty hostname */
		"@alice:[::1",               /* unclosed IPv6 literal */
		"@alice:[::1]x",
		"@alice:[::1]:",
		"@alice:[g::1]",
		"@alice:[::1]]",
		"@alice:[]",                 /* IPv6address = 2*45IPv6char */
		"@alice:[1]",
		"@alice:\xc3\xa9.org",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!mx_client_user_id_valid(good[i]))
			fail_msg("user id '%s' should be valid", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (mx_client_user_id_valid(bad[i]))
			fail_msg("user id '%s' should be invalid", bad[i]);
	assert_false(mx_client_user_id_valid(NULL));

	/* An IPv6 literal of at most 45 characters. */
	char v6[64] = "@a:[";
	memset(v6 + 4, '1', 45);
	v6[49] = ']';
	v6[50] = '\0';
	assert_true(mx_client_user_id_valid(v6));
	v6[49] = '1';
	v6[50] = ']';
	v6[51] = '\0';
	assert_false(mx_client_user_id_valid(v6));
}

/* SPEC: appendices#user-identifiers: "The length of a user ID, including
 * the @ sigil and the domain, MUST NOT exceed 255 bytes." */
static void test_user_id_length(void **state)
{
	(void)state;
	const char *server = ":example.org";
	size_t fixed = 1 + strlen(server);
	char *lp = repeat('a', 255 - fixed);
	char id[512];
	snprintf(id, sizeof(id), "@%s%s", lp, server);
	assert_int_equal(strlen(id), 255);
	assert_true(mx_client_user_id_valid(id));
	snprintf(id, sizeof(id), "@%sa%s", lp, server);
	assert_int_equal(strlen(id), 256);
	assert_false(mx_client_user_id_valid(id));
	free(lp);

	/* A long server name counts too. */
	char *host = repeat('h', 250);
	snprintf(id, sizeof(id), "@ab:%s", host);
	assert_int_equal(strlen(id), 254);
	assert_true(mx_client_user_id_valid(id));
	snprintf(id, sizeof(id), "@abc:%s:1", host);
	assert_false(mx_client_user_id_valid(id));
	free(host);
}

static void test_id_server(void **state)
{
	(void)state;
	assert_string_equal(mx_client_id_server("@a:example.org"), "example.org");
	assert_string_equal(mx_client_id_server("@a:example.org:8448"), "example.org:8448");
	assert_string_equal(mx_client_id_server("!room:[::1]:80"), "[::1]:80");
	assert_string_equal(mx_client_id_server("$event:"), "");
	assert_null(mx_client_id_server("@nocolon"));
	assert_null(mx_client_id_server(""));
}

static void test_is_local(void **state)
{
	(void)state;
	struct fake f;
	fake_init(&f, "example.org");
	assert_true(mx_client_is_local(&f.req, "@a:example.org"));
	assert_false(mx_client_is_local(&f.req, "@a:example.org:8448"));
	assert_false(mx_client_is_local(&f.req, "@a:EXAMPLE.ORG")); /* case-sensitive */
	assert_false(mx_client_is_local(&f.req, "@a:other.org"));
	assert_false(mx_client_is_local(&f.req, "@a:sub.example.org"));
	assert_false(mx_client_is_local(&f.req, "@a"));
	fake_release(&f);
}

static void test_qualify_user(void **state)
{
	(void)state;
	struct fake f;
	fake_init(&f, "example.org");
	struct mx_req *req = &f.req;
	assert_string_equal(mx_client_qualify_user(req, "alice"), "@alice:example.org");
	assert_string_equal(mx_client_qualify_user(req, "Alice"), "@alice:example.org");
	assert_string_equal(mx_client_qualify_user(req, "@alice:example.org"), "@alice:example.org");
	assert_string_equal(mx_client_qualify_user(req, "@ALICE:example.org"), "@alice:example.org");
	/* Historical localparts still qualify (for logging in to old accounts). */
	assert_string_equal(mx_client_qualify_user(req, "@Al!ce:example.org"), "@al!ce:example.org");
	/* Another server, or ours spelt differently: not ours. */
	assert_null(mx_client_qualify_user(req, "@alice:other.org"));
	assert_null(mx_client_qualify_user(req, "@alice:EXAMPLE.ORG"));
	assert_null(mx_client_qualify_user(req, "@alice:example.org:8448"));
	assert_null(mx_client_qualify_user(req, "@alice"));
	/* Malformed. */
	assert_null(mx_client_qualify_user(req, ""));
	assert_null(mx_client_qualify_user(req, "@:example.org"));
	assert_null(mx_client_qualify_user(req, "al ice"));
	assert_null(mx_client_qualify_user(req, "alice:example.org"));
	assert_null(mx_client_qualify_user(req, "caf\xc3\xa9"));
	/* The whole id must fit in 255 bytes. */
	size_t max_lp = 255 - strlen("@:example.org");
	char *lp = repeat('b', max_lp);
	const char *q = mx_client_qualify_user(req, lp);
	assert_non_null(q);
	assert_int_equal(strlen(q), 255);
	free(lp);
	lp = repeat('b', max_lp + 1);
	assert_null(mx_client_qualify_user(req, lp));
	free(lp);
	lp = repeat('b', 300);
	assert_null(mx_client_qualify_user(req, lp));
	free(lp);
	fake_release(&f);

	/* A server name with a port. */
	fake_init(&f, "localhost:8448");
	req = &f.req;
	assert_string_equal(mx_client_qualify_user(req, "bob"), "@bob:localhost:8448");
	assert_string_equal(mx_client_qualify_user(req, "@Bob:localhost:8448"),
			    "@bob:localhost:8448");
	assert_null(mx_client_qualify_user(req, "@bob:localhost"));
	fake_release(&f);

	/* An IPv6 literal. */
	fake_init(&f, "[::1]:8008");
	assert_string_equal(mx_client_qualify_user(&f.req, "Carol"), "@carol:[::1]:8008");
	fake_release(&f);
}

static void test_device_id(void **state)
{
	(void)state;
	struct fake f;
	fake_init(&f, "example.org");
	const char *a = mx_client_new_device_id(&f.req);
	const char *b = mx_client_new_device_id(&f.req);
	assert_int_equal(strlen(a), 10);
	for (const char *p = a; *p; p++)
		assert_true(*p >= 'A' && *p <= 'Z');
	assert_string_not_equal(a, b); /* 26^10 ids: a collision here is a bug */
	fake_release(&f);
}

static void test_opt_fields(void **state)
{
	(void)state;
	struct fake f;
	fake_init(&f, "example.org");
	json_t *body = json_pack("{s:s, s:b, s:i, s:n, s:s}", "name", "x", "flag", 1, "num", 3,
				 "nul", "str", "true");
	const char *s = "unset";
	bool b = false;
	assert_int_equal(mx_client_opt_string(&f.req, body, "name", &s), 0);
	assert_string_equal(s, "x");
	assert_int_equal(mx_client_opt_string(&f.req, body, "missing", &s), 0);
	assert_null(s);
	assert_int_equal(mx_client_opt_string(&f.req, body, "nul", &s), 0); /* null = absent */
	assert_null(s);
	assert_int_equal(mx_client_opt_bool(&f.req, body, "flag", false, &b), 0);
	assert_true(b);
	assert_int_equal(mx_client_opt_bool(&f.req, body, "missing", true, &b), 0);
	assert_true(b);
	assert_int_equal(mx_client_opt_bool(&f.req, body, "missing", false, &b), 0);
	assert_false(b);
	assert_false(f.req.replied);

	/* Wrong types reply M_BAD_JSON naming the field. */
	assert_int_equal(mx_client_opt_string(&f.req, body, "num", &s), MX_EBADJSON);
	assert_true(f.req.replied);
	assert_int_equal(f.req.status, 400);
	assert_non_null(strstr(f.req.resp, "M_BAD_JSON"));
	assert_non_null(strstr(f.req.resp, "num"));
	fake_release(&f);

	fake_init(&f, "example.org");
	assert_int_equal(mx_client_opt_bool(&f.req, body, "str", false, &b), MX_EBADJSON);
	assert_non_null(strstr(f.req.resp, "str"));
	fake_release(&f);
	json_decref(body);
}

int main(void)
{
	if (mx_rand_init())
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_localpart),      cmocka_unit_test(test_user_id),
		cmocka_unit_test(test_user_id_length), cmocka_unit_test(test_id_server),
		cmocka_unit_test(test_is_local),       cmocka_unit_test(test_qualify_user),
		cmocka_unit_test(test_device_id),      cmocka_unit_test(test_opt_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
