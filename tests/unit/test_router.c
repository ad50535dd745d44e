/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for http/router: template matching of raw request paths,
 * captures, the legacy r0 alias for v3 under /_matrix/client, trailing
 * slashes, 405 detection with the allowed methods, and listener resource
 * filtering.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/config.h"
#include "core/error.h"
#include "core/mem.h"
#include "http/router.h"

/* Handlers are never called; distinct functions make routes tell-apart-able. */
static int h_a(struct mx_req *req) { (void)req; return 0; }
static int h_b(struct mx_req *req) { (void)req; return 0; }

static const struct mx_route routes[] = {
	{MX_POST, "/_matrix/client/v3/login", h_a, 0, MX_RES_CLIENT, MX_RL_LOGIN, 0},
	{MX_GET, "/_matrix/client/v3/login", h_b, 0, MX_RES_CLIENT, MX_RL_NONE, 0},
	/* literal before capture: first match wins */
	{MX_GET, "/_matrix/client/v3/profile/me", h_a, 0, MX_RES_CLIENT, MX_RL_NONE, 0},
	{MX_GET, "/_matrix/client/v3/profile/{userId}", h_b, 0, MX_RES_CLIENT, MX_RL_NONE, 0},
	{MX_PUT, "/_matrix/client/v3/profile/{userId}/{field}", h_a, 0, MX_RES_CLIENT, MX_RL_NONE, 0},
	{MX_GET, "/_matrix/client/v3/profile/{userId}/{field}", h_b, 0, MX_RES_CLIENT, MX_RL_NONE, 0},
	{MX_PUT, "/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}", h_a, 0,
	 MX_RES_CLIENT, MX_RL_MESSAGE, 0},
	/* capture before a literal it also matches: the capture wins */
	{MX_GET, "/_matrix/client/v3/rooms/{roomId}/{what}", h_a, 0, MX_RES_CLIENT, MX_RL_NONE, 0},
	{MX_GET, "/_matrix/client/v3/rooms/{roomId}/state", h_b, 0, MX_RES_CLIENT, MX_RL_NONE, 0},
	{MX_GET, "/_matrix/client/v1/media/config", h_a, 0, MX_RES_MEDIA, MX_RL_NONE, 0},
	{MX_GET, "/_matrix/client/versions", h_a, 0, MX_RES_CLIENT, MX_RL_NONE, 0},
	/* v3 outside /_matrix/client: no r0 alias */
	{MX_GET, "/_matrix/federation/v3/thing", h_a, 0, MX_RES_FEDERATION, MX_RL_NONE, 0},
	{MX_GET, "/_matrix/key/v2/server", h_a, 0, MX_RES_KEYS, MX_RL_NONE, 0},
	{MX_DELETE, "/_matrix/key/v2/server", h_b, 0, MX_RES_ADMIN, MX_RL_NONE, 0},
	/* v3 deeper than the version position: no alias either */
	{MX_GET, "/_matrix/client/v3/x/v3", h_a, 0, MX_RES_CLIENT, MX_RL_NONE, 0},
	{MX_GET, "/health", h_a, 0, MX_RES_HEALTH, MX_RL_NONE, 0},
	{MX_GET, "/", h_b, 0, MX_RES_HEALTH, MX_RL_NONE, 0},
	{MX_GET, "/deep/{a}/{b}/{c}/{d}/{e}/{f}/{g}", h_a, 0, MX_RES_CLIENT, MX_RL_NONE, 0},
	/* 16 segments: the most a template or a path may have */
	{MX_GET, "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16", h_a, 0, MX_RES_CLIENT, MX_RL_NONE, 0},
};

#define ALL_RES 0xffffffffu

struct match {
	int rc;
	const struct mx_route *route;
	struct mx_route_capture params[MX_ROUTE_MAX_PARAMS];
	int n;
	unsigned allowed;
};

static struct mx_router *g_router_new(void)
{
	struct mx_router *r = mx_router_new();
	mx_router_add(r, routes, MX_ARRAY_LEN(routes));
	return r;
}

static struct match do_match(const struct mx_router *r, unsigned method, const char *path,
			     unsigned res)
{
	struct match m;
	memset(&m, 0, sizeof(m));
	m.n = -1;
	m.allowed = 0xdead;
	m.rc = mx_router_match(r, method, path, res, &m.route, m.params, &m.n, &m.allowed);
	return m;
}

/* Expect a match on routes[idx]. */
static struct match expect_route(const struct mx_router *r, unsigned method, const char *path,
				 size_t idx)
{
	struct match m = do_match(r, method, path, ALL_RES);
	if (m.rc != 0)
		fail_msg("%s: expected route %zu, got rc %d", path, idx, m.rc);
	if (m.route != &routes[idx])
		fail_msg("%s: expected route %zu (%s), got %s", path, idx, routes[idx].path,
			 m.route->path);
	return m;
}

static void expect_param(const struct match *m, int i, const char *want)
{
	assert_true(i < m->n);
	size_t n = strlen(want);
	if (m->params[i].len != n || memcmp(m->params[i].ptr, want, n) != 0)
		fail_msg("param %d: got '%.*s', want '%s'", i, (int)m->params[i].len,
			 m->params[i].ptr, want);
}

static void expect_unrecognized(const struct mx_router *r, unsigned method, const char *path)
{
	struct match m = do_match(r, method, path, ALL_RES);
	if (m.rc != MX_EUNRECOGNIZED)
		fail_msg("%s: expected MX_EUNRECOGNIZED, got %d", path, m.rc);
	assert_int_equal(m.allowed, 0);
}

static void test_literal_and_capture(void **state)
{
	(void)state;
	struct mx_router *r = g_router_new();
	struct match m = expect_route(r, MX_POST, "/_matrix/client/v3/login", 0);
	assert_int_equal(m.n, 0);
	m = expect_route(r, MX_GET, "/_matrix/client/v3/login", 1);
	assert_int_equal(m.n, 0);
	/* Literal listed first wins over the capture that would also match. */
	m = expect_route(r, MX_GET, "/_matrix/client/v3/profile/me", 2);
	assert_int_equal(m.n, 0);
	m = expect_route(r, MX_GET, "/_matrix/client/v3/profile/@alice:example.org", 3);
	assert_int_equal(m.n, 1);
	expect_param(&m, 0, "@alice:example.org");
	m = expect_route(r, MX_PUT, "/_matrix/client/v3/profile/@a:b/displayname", 4);
	assert_int_equal(m.n, 2);
	expect_param(&m, 0, "@a:b");
	expect_param(&m, 1, "displayname");
	m = expect_route(r, MX_GET, "/_matrix/client/v3/profile/@a:b/displayname", 5);
	/* Capture listed first wins over a literal listed after it. */
	m = expect_route(r, MX_GET, "/_matrix/client/v3/rooms/!r:x/state", 7);
	expect_param(&m, 0, "!r:x");
	expect_param(&m, 1, "state");
	/* Literals compare whole segments, case-sensitively. */
	expect_unrecognized(r, MX_GET, "/_matrix/client/v3/logi");
	expect_unrecognized(r, MX_GET, "/_matrix/client/v3/loginx");
	expect_unrecognized(r, MX_GET, "/_matrix/client/v3/LOGIN");
	expect_unrecognized(r, MX_GET, "/_matrix/client/v3");
	expect_unrecognized(r, MX_GET, "/_matrix/client/v3/login/extra");
	expect_unrecognized(r, MX_GET, "/nowhere");
	expect_unrecognized(r, MX_GET, "");
	expect_unrecognized(r, MX_GET, "_matrix/client/v3/login"); /* no leading slash */
	m = expect_route(r, MX_GET, "/", 16);
	mx_router_free(r);
}

/* Captures are raw (percent-encoded) slices pointing into the caller's path. */
static void test_captures_point_into_path(void **state)
{
	(void)state;
	struct mx_router *r = g_router_new();
	const char *path = "/_matrix/client/v3/rooms/%21room%3Aexample.org/send/m.room.message/t%2F1";
	struct match m = expect_route(r, MX_PUT, path, 6);
	assert_int_equal(m.n, 3);
	expect_param(&m, 0, "%21room%3Aexample.org");
	expect_param(&m, 1, "m.room.message");
	expect_param(&m, 2, "t%2F1");
	size_t plen = strlen(path);
	for (int i = 0; i < m.n; i++) {
		assert_true(m.params[i].ptr >= path);
		assert_true(m.params[i].ptr + m.params[i].len <= path + plen);
	}
	assert_ptr_equal(m.params[0].ptr, strstr(path, "%21room"));
	assert_ptr_equal(m.params[2].ptr, path + plen - 5);
	mx_router_free(r);
}

static void test_r0_alias(void **state)
{
	(void)state;
	struct mx_router *r = g_router_new();
	expect_route(r, MX_POST, "/_matrix/client/r0/login", 0);
	struct match m = expect_route(r, MX_GET, "/_matrix/client/r0/profile/@a:b", 3);
	expect_param(&m, 0, "@a:b");
	/* Only r0: not other versions, and only in the version position. */
	expect_unrecognized(r, MX_POST, "/_matrix/client/r1/login");
	expect_unrecognized(r, MX_POST, "/_matrix/client/v2/login");
	expect_unrecognized(r, MX_POST, "/_matrix/client/R0/login");
	expect_route(r, MX_GET, "/_matrix/client/v3/x/v3", 14);
	expect_route(r, MX_GET, "/_matrix/client/r0/x/v3", 14);
	expect_unrecognized(r, MX_GET, "/_matrix/client/v3/x/r0");
	/* Not outside /_matrix/client. */
	expect_route(r, MX_GET, "/_matrix/federation/v3/thing", 11);
	expect_unrecognized(r, MX_GET, "/_matrix/federation/r0/thing");
	/* v1 routes under /_matrix/client have no alias. */
	expect_route(r, MX_GET, "/_matrix/client/v1/media/config", 9);
	expect_unrecognized(r, MX_GET, "/_matrix/client/r0/media/config");
	mx_router_free(r);
}

static void test_trailing_slash(void **state)
{
	(void)state;
	struct mx_router *r = g_router_new();
	expect_route(r, MX_POST, "/_matrix/client/v3/login/", 0);
	expect_route(r, MX_GET, "/health/", 15);
	struct match m = expect_route(r, MX_GET, "/_matrix/client/v3/profile/@a:b/", 3);
	assert_int_equal(m.n, 1);
	expect_param(&m, 0, "@a:b");
	/* Only one trailing slash is forgiven. */
	expect_unrecognized(r, MX_POST, "/_matrix/client/v3/login//");
	/* A full-depth path with a trailing slash is still that path. */
	expect_route(r, MX_GET, "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16", 18);
	expect_route(r, MX_GET, "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/", 18);
	mx_router_free(r);
}

static void test_empty_segments(void **state)
{
	(void)state;
	struct mx_router *r = g_router_new();
	/* An empty segment is not a capture. */
	expect_unrecognized(r, MX_PUT, "/_matrix/client/v3/profile//displayname");
	expect_unrecognized(r, MX_GET, "/_matrix/client/v3/rooms//state");
	expect_unrecognized(r, MX_PUT, "/_matrix/client/v3/rooms/!r/send//txn");
	/* "/profile/" loses its trailing slash, so it is not /profile/{userId}. */
	expect_unrecognized(r, MX_GET, "/_matrix/client/v3/profile/");
	/* And an empty segment does not match a literal. */
	expect_unrecognized(r, MX_GET, "/_matrix//v3/login");
	expect_unrecognized(r, MX_GET, "//_matrix/client/v3/login");
	mx_router_free(r);
}

static void test_method_not_allowed(void **state)
{
	(void)state;
	struct mx_router *r = g_router_new();
	struct match m = do_match(r, MX_DELETE, "/_matrix/client/v3/login", ALL_RES);
	assert_int_equal(m.rc, MX_EBADMETHOD);
	assert_int_equal(m.allowed, MX_GET | MX_POST);
	m = do_match(r, MX_PUT, "/_matrix/client/r0/login/", ALL_RES);
	assert_int_equal(m.rc, MX_EBADMETHOD);
	assert_int_equal(m.allowed, MX_GET | MX_POST);
	/* A later route with the right method still matches. */
	expect_route(r, MX_GET, "/_matrix/client/v3/login", 1);
	m = do_match(r, MX_POST, "/_matrix/client/v3/profile/@a:b/displayname", ALL_RES);
	assert_int_equal(m.rc, MX_EBADMETHOD);
	assert_int_equal(m.allowed, MX_PUT | MX_GET);
	/* The allowed set counts only routes of the given resources. */
	m = do_match(r, MX_POST, "/_matrix/key/v2/server", MX_RES_KEYS);
	assert_int_equal(m.rc, MX_EBADMETHOD);
	assert_int_equal(m.allowed, MX_GET);
	m = do_match(r, MX_POST, "/_matrix/key/v2/server", MX_RES_KEYS | MX_RES_ADMIN);
	assert_int_equal(m.allowed, MX_GET | MX_DELETE);
	/* Unknown paths report nothing allowed. */
	m = do_match(r, MX_GET, "/_matrix/client/v3/nope", ALL_RES);
	assert_int_equal(m.rc, MX_EUNRECOGNIZED);
	assert_int_equal(m.allowed, 0);
	mx_router_free(r);
}

static void test_resources(void **state)
{
	(void)state;
	struct mx_router *r = g_router_new();
	struct match m = do_match(r, MX_GET, "/_matrix/client/v1/media/config", MX_RES_CLIENT);
	assert_int_equal(m.rc, MX_EUNRECOGNIZED);
	m = do_match(r, MX_GET, "/_matrix/client/v1/media/config", MX_RES_MEDIA);
	assert_int_equal(m.rc, 0);
	assert_ptr_equal(m.route, &routes[9]);
	m = do_match(r, MX_GET, "/_matrix/client/v3/login", MX_RES_FEDERATION | MX_RES_KEYS);
	assert_int_equal(m.rc, MX_EUNRECOGNIZED);
	m = do_match(r, MX_GET, "/_matrix/client/v3/login", 0);
	assert_int_equal(m.rc, MX_EUNRECOGNIZED);
	m = do_match(r, MX_DELETE, "/_matrix/key/v2/server", MX_RES_KEYS);
	assert_int_equal(m.rc, MX_EBADMETHOD);
	m = do_match(r, MX_DELETE, "/_matrix/key/v2/server", MX_RES_ADMIN);
	assert_int_equal(m.rc, 0);
	assert_ptr_equal(m.route, &routes[13]);
	m = do_match(r, MX_GET, "/health", MX_RES_HEALTH);
	assert_int_equal(m.rc, 0);
	mx_router_free(r);
}

static void test_limits(void **state)
{
	(void)state;
	struct mx_router *r = g_router_new();
	/* 17 segments: refused outright, however it would have matched. */
	expect_unrecognized(r, MX_GET, "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17");
	expect_unrecognized(r, MX_GET, "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17/");
	char path[4096] = "";
	size_t off = 0;
	for (int i = 0; i < 500; i++)
		off += (size_t)snprintf(path + off, sizeof(path) - off, "/s");
	expect_unrecognized(r, MX_GET, path);
	/* A template with more captures than MX_ROUTE_MAX_PARAMS never matches. */
	expect_unrecognized(r, MX_GET, "/deep/a/b/c/d/e/f/g");
	mx_router_free(r);

	/* An empty router matches nothing; freeing NULL is fine. */
	r = mx_router_new();
	expect_unrecognized(r, MX_GET, "/");
	mx_router_free(r);
	mx_router_free(NULL);
}

/* Tables are added in order across calls; the router grows past its first
 * allocation. */
static void test_many_routes(void **state)
{
	(void)state;
	enum { N = 300 };
	static char paths[N][32];
	static struct mx_route many[N];
	for (int i = 0; i < N; i++) {
		snprintf(paths[i], sizeof(paths[i]), "/r/%d/{x}", i);
		many[i] = (struct mx_route){MX_GET, paths[i], h_a, 0, MX_RES_CLIENT, MX_RL_NONE, 0};
	}
	struct mx_router *r = mx_router_new();
	mx_router_add(r, many, 100);
	mx_router_add(r, many + 100, N - 100);
	for (int i = 0; i < N; i += 37) {
		char p[64];
		snprintf(p, sizeof(p), "/r/%d/v%d", i, i);
		struct match m = do_match(r, MX_GET, p, ALL_RES);
		assert_int_equal(m.rc, 0);
		assert_ptr_equal(m.route, &many[i]);
	}
	mx_router_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal_and_capture),
		cmocka_unit_test(test_captures_point_into_path),
		cmocka_unit_test(test_r0_alias),
		cmocka_unit_test(test_trailing_slash),
		cmocka_unit_test(test_empty_segments),
		cmocka_unit_test(test_method_not_allowed),
		cmocka_unit_test(test_resources),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_many_routes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
