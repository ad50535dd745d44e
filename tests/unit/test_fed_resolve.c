/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for src/federation/resolve: the server name grammar, the
 * well-known body and Cache-Control rules, SRV ordering, and the whole
 * discovery procedure of server-server-api#resolving-server-names against
 * a fake network (canned well-known answers and SRV records, a settable
 * clock).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/mem.h"
#include "federation/resolve.h"

/* ---- server names ---- */

static void expect_name(const char *s, enum mx_fed_host_kind kind, const char *host, int port)
{
	struct mx_fed_server_name sn;
	int rc = mx_fed_server_name_parse(s, &sn);
	if (rc)
		fail_msg("%s: rejected", s);
	assert_int_equal(sn.kind, kind);
	assert_string_equal(sn.host, host);
	assert_int_equal(sn.port, port);
	assert_string_equal(sn.name, s);
}

static void expect_bad_name(const char *s)
{
	struct mx_fed_server_name sn;
	if (mx_fed_server_name_parse(s, &sn) != MX_EINVALID)
		fail_msg("%s: accepted", s);
}

static void test_server_name_spec_examples(void **state)
{
	(void)state;
	/* SPEC: appendices#server-name, the examples */
	expect_name("matrix.org", MX_FED_HOST_DNS, "matrix.org", 0);
	expect_name("matrix.org:8888", MX_FED_HOST_DNS, "matrix.org", 8888);
	expect_name("1.2.3.4", MX_FED_HOST_IPV4, "1.2.3.4", 0);
	expect_name("1.2.3.4:1234", MX_FED_HOST_IPV4, "1.2.3.4", 1234);
	expect_name("[1234:5678::abcd]", MX_FED_HOST_IPV6, "[1234:5678::abcd]", 0);
	expect_name("[1234:5678::abcd]:5678", MX_FED_HOST_IPV6, "[1234:5678::abcd]", 5678);
}

static void test_server_name_edges(void **state)
{
	(void)state;
	expect_name("localhost", MX_FED_HOST_DNS, "localhost", 0);
	expect_name("a-b.example:1", MX_FED_HOST_DNS, "a-b.example", 1);
	expect_name("x.org:65535", MX_FED_HOST_DNS, "x.org", 65535);
	expect_name("MATRIX.ORG", MX_FED_HOST_DNS, "MATRIX.ORG", 0);
	expect_name("0.0.0.0", MX_FED_HOST_IPV4, "0.0.0.0", 0);
	expect_name("255.255.255.255:8448", MX_FED_HOST_IPV4, "255.255.255.255", 8448);
	expect_name("[::1]", MX_FED_HOST_IPV6, "[::1]", 0);
	expect_name("[::ffff:1.2.3.4]:80", MX_FED_HOST_IPV6, "[::ffff:1.2.3.4]", 80);
	expect_name("[ABCD::EF]", MX_FED_HOST_IPV6, "[ABCD::EF]", 0);
	expect_name("123.example", MX_FED_HOST_DNS, "123.example", 0);

	/* a 63-character label and a 255-character name are the limits */
	char name[300];
	memset(name, 'a', 63);
	memcpy(name + 63, ".org", 5);
	expect_name(name, MX_FED_HOST_DNS, name, 0);
	memset(name, 'a', 64);
	memcpy(name + 64, ".org", 5);
	expect_bad_name(name);
	size_t n = 0;
	while (n + 4 <= 251) {
		memcpy(name + n, "abc.", 4);
		n += 4;
	}
	memcpy(name + n, "abcdefg", 7);
	n += 7;
	name[n] = '\0';
	assert_int_equal(strlen(name), 255);
	expect_name(name, MX_FED_HOST_DNS, name, 0);
	memcpy(name + n, "d", 2); /* 256 characters */
	expect_bad_name(name);
}

static void test_server_name_hostile(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",           ":8448",        "host:",       "host:0",       "host:65536",
		"host:123456", "host:80x",    "host:-1",     "host:+80",     "host: 80",
		"ho st",      "host/path",    "user@host",   "host:80:90",   "a..b",
		".a",         "a.",           "a.-.",        "[::1",         "[]",
		"[:]",        "[g::1]",       "[::1]x",      "[::1]:",       "[::1%eth0]",
		"[1.2.3.4]",  "::1",          "1.2.3.256",   "1.2.3.04",     "01.2.3.4",
		"1.2.3",      "127.1",        "0x7f.0.0.1",  "0x7f000001",   "2130706433",
		"1.2.3.4.5",  "exa_mple.org", "ex\xc3\xa9.org", "host\t",    "host\n",
	};
	for (size_t i = 0; i < MX_ARRAY_LEN(bad); i++)
		expect_bad_name(bad[i]);
	/* far over the bound: rejected without reading it all */
	size_t big = 1 << 20;
	char *s = mx_xmalloc(big + 1);
	memset(s, 'a', big);
	s[big] = '\0';
	expect_bad_name(s);
	free(s);
}

/* ---- well-known bodies ---- */

static void test_wellknown_parse(void **state)
{
	(void)state;
	struct mx_fed_server_name to;
	const char *ok = "{\"m.server\": \"delegated.example.com:1234\"}";
	assert_int_equal(mx_fed_wellknown_parse(ok, strlen(ok), &to), 0);
	assert_string_equal(to.name, "delegated.example.com:1234");
	assert_string_equal(to.host, "delegated.example.com");
	assert_int_equal(to.port, 1234);
	const char *extra = "{\"m.server\":\"[::1]\",\"other\":[1,2,{}]}";
	assert_int_equal(mx_fed_wellknown_parse(extra, strlen(extra), &to), 0);
	assert_int_equal(to.kind, MX_FED_HOST_IPV6);

	static const char *const bad[] = {
		"",
		"null",
		"[]",
		"\"m.server\"",
		"{}",
		"{\"m.server\": 1}",
		"{\"m.server\": null}",
		"{\"m.server\": \"\"}",
		"{\"m.server\": \"bad name\"}",
		"{\"m.server\": \"https://x.org\"}",
		"{\"m.server\": \"x.org\\u0000y\"}",
		"{\"m.server\": \"a.org\", \"m.server\": \"b.org\"}",
		"{\"m.server\": \"x.org\"",
		"<html>x.org</html>",
	};
	for (size_t i = 0; i < MX_ARRAY_LEN(bad); i++)
		if (mx_fed_wellknown_parse(bad[i], strlen(bad[i]), &to) != MX_EINVALID)
			fail_msg("accepted: %s", bad[i]);
	assert_int_equal(mx_fed_wellknown_parse(NULL, 0, &to), MX_EINVALID);

	/* the size limit holds even for an otherwise valid body */
	size_t n = MX_FED_WELLKNOWN_MAX + 1;
	char *big = mx_xmalloc(n + 1);
	memset(big, ' ', n);
	memcpy(big, ok, strlen(ok));
	big[n] = '\0';
	assert_int_equal(mx_fed_wellknown_parse(big, n, &to), MX_EINVALID);
	assert_int_equal(mx_fed_wellknown_parse(big, MX_FED_WELLKNOWN_MAX, &to), 0);
	free(big);
}

static void test_wellknown_cache_control(void **state)
{
	(void)state;
	const int64_t s = 1000, h = 3600 * 1000;
	assert_int_equal(mx_fed_wellknown_cache_ms(NULL), 24 * h);
	assert_int_equal(mx_fed_wellknown_cache_ms(""), 24 * h);
	assert_int_equal(mx_fed_wellknown_cache_ms("max-age=3600"), h);
	assert_int_equal(mx_fed_wellknown_cache_ms("public, max-age=7200"), 2 * h);
	assert_int_equal(mx_fed_wellknown_cache_ms("Max-Age=\"600\", public"), 600 * s);
	assert_int_equal(mx_fed_wellknown_cache_ms("max-age=10"), 5 * 60 * s); /* floor */
	assert_int_equal(mx_fed_wellknown_cache_ms("max-age=0"), 5 * 60 * s);
	assert_int_equal(mx_fed_wellknown_cache_ms("max-age=999999999"), 48 * h); /* cap */
	assert_int_equal(mx_fed_wellknown_cache_ms("max-age=99999999999999999999999"), 48 * h);
	assert_int_equal(mx_fed_wellknown_cache_ms("no-store"), 5 * 60 * s);
	assert_int_equal(mx_fed_wellknown_cache_ms("max-age=3600, no-cache"), 5 * 60 * s);
	assert_int_equal(mx_fed_wellknown_cache_ms("s-maxage=60"), 24 * h);
	assert_int_equal(mx_fed_wellknown_cache_ms("max-age="), 24 * h);
	assert_int_equal(mx_fed_wellknown_cache_ms("max-age=abc"), 24 * h);
	assert_int_equal(mx_fed_wellknown_cache_ms("max-age=\"60"), 24 * h);
	assert_int_equal(mx_fed_wellknown_cache_ms(",,, ,"), 24 * h);
}

/* ---- SRV ordering ---- */

static void test_srv_sort(void **state)
{
	(void)state;
	struct mx_fed_srv r[] = {
		{20, 0, 1, "d"}, {10, 5, 2, "b"}, {10, 50, 3, "a"}, {10, 5, 4, "c"}, {0, 0, 5, "first"},
	};
	mx_fed_srv_sort(r, MX_ARRAY_LEN(r));
	assert_string_equal(r[0].target, "first");
	assert_string_equal(r[1].target, "a"); /* heavier first within a priority */
	assert_string_equal(r[2].target, "b"); /* equal weights keep their order */
	assert_string_equal(r[3].target, "c");
	assert_string_equal(r[4].target, "d");
	mx_fed_srv_sort(r, 0);
	mx_fed_srv_sort(r, 1);
	assert_string_equal(r[0].target, "first");
}

/* ---- the procedure, against a fake network ---- */

#define FAKE_MAX 8

struct fake_wk {
	const char *host;
	int rc;
	long status;
	const char *body;
	const char *cache_control;
};

struct fake_srv {
	const char *qname;
	int rc;
	struct mx_fed_srv recs[4];
	size_t n;
};

struct fake_net {
	struct fake_wk wk[FAKE_MAX];
	size_t n_wk;
	struct fake_srv srv[FAKE_MAX];
	size_t n_srv;
	int wk_calls, srv_calls;
	int64_t now;
};

static int fake_fetch(void *ctx, const char *host, struct mx_fed_wellknown_resp *out)
{
	struct fake_net *f = ctx;
	f->wk_calls++;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < f->n_wk; i++) {
		struct fake_wk *w = &f->wk[i];
		if (strcmp(w->host, host))
			continue;
		if (w->rc)
			return w->rc;
		out->status = w->status;
		if (w->body) {
			out->body = mx_xstrdup(w->body);
			out->len = strlen(w->body);
		}
		out->cache_control = w->cache_control ? mx_xstrdup(w->cache_control) : NULL;
		return 0;
	}
	return MX_EREMOTE; /* nothing listens */
}

static int fake_srv(void *ctx, const char *qname, struct mx_fed_srv *out, size_t max, size_t *n)
{
	struct fake_net *f = ctx;
	f->srv_calls++;
	*n = 0;
	for (size_t i = 0; i < f->n_srv; i++) {
		struct fake_srv *s = &f->srv[i];
		if (strcmp(s->qname, qname))
			continue;
		if (s->rc)
			return s->rc;
		for (size_t j = 0; j < s->n && j < max; j++)
			out[(*n)++] = s->recs[j];
		return 0;
	}
	return MX_ENOTFOUND;
}

static int64_t fake_now(void *ctx)
{
	return ((struct fake_net *)ctx)->now;
}

static struct mx_fed_resolver *fake_resolver(struct fake_net *f)
{
	f->now = 1700000000000;
	struct mx_fed_resolver_ops ops = {
		.fetch_wellknown = fake_fetch, .lookup_srv = fake_srv, .now_ms = fake_now, .ctx = f};
	return mx_fed_resolver_new(&ops);
}

static void add_wk(struct fake_net *f, const char *host, long status, const char *body,
		   const char *cc)
{
	f->wk[f->n_wk++] = (struct fake_wk){host, 0, status, body, cc};
}

static void add_srv(struct fake_net *f, const char *qname, int rc, const struct mx_fed_srv *recs,
		    size_t n)
{
	struct fake_srv *s = &f->srv[f->n_srv++];
	s->qname = qname;
	s->rc = rc;
	s->n = n;
	for (size_t i = 0; i < n; i++)
		s->recs[i] = recs[i];
}

static void expect_target(const struct mx_fed_target *t, const char *host_header,
			  const char *tls_name, const char *addr, int port)
{
	assert_string_equal(t->host_header, host_header);
	assert_string_equal(t->tls_name, tls_name);
	assert_true(t->n_addrs >= 1);
	assert_string_equal(t->addrs[0].host, addr);
	assert_int_equal(t->addrs[0].port, port);
}

static void test_resolve_ip_literals(void **state)
{
	(void)state;
	struct fake_net f = {0};
	struct mx_fed_resolver *r = fake_resolver(&f);
	struct mx_fed_target t;
	/* step 1: an IP literal is used as is, 8448 by default, Host = name */
	assert_int_equal(mx_fed_resolve(r, "1.2.3.4", &t), 0);
	expect_target(&t, "1.2.3.4", "1.2.3.4", "1.2.3.4", 8448);
	assert_int_equal(t.n_addrs, 1);
	assert_int_equal(mx_fed_resolve(r, "1.2.3.4:1234", &t), 0);
	expect_target(&t, "1.2.3.4:1234", "1.2.3.4", "1.2.3.4", 1234);
	assert_int_equal(mx_fed_resolve(r, "[2001:db8::1]:9000", &t), 0);
	expect_target(&t, "[2001:db8::1]:9000", "[2001:db8::1]", "[2001:db8::1]", 9000);
	/* step 2: a hostname with a port goes straight there */
	assert_int_equal(mx_fed_resolve(r, "example.org:8888", &t), 0);
	expect_target(&t, "example.org:8888", "example.org", "example.org", 8888);
	assert_int_equal(f.wk_calls, 0);
	assert_int_equal(f.srv_calls, 0);
	assert_int_equal(mx_fed_resolve(r, "not a name", &t), MX_EINVALIDPARAM);
	mx_fed_resolver_free(r);
}

static void test_resolve_delegation(void **state)
{
	(void)state;
	struct fake_net f = {0};
	struct mx_fed_resolver *r = fake_resolver(&f);
	struct mx_fed_target t;
	/* 3.2: delegated name with a port: no SRV, Host and TLS name the delegate */
	add_wk(&f, "a.org", 200, "{\"m.server\":\"matrix.a.org:443\"}", NULL);
	assert_int_equal(mx_fed_resolve(r, "a.org", &t), 0);
	expect_target(&t, "matrix.a.org:443", "matrix.a.org", "matrix.a.org", 443);
	assert_int_equal(f.srv_calls, 0);

	/* 3.1: delegated IP literal */
	add_wk(&f, "b.org", 200, "{\"m.server\":\"[2001:db8::5]\"}", NULL);
	assert_int_equal(mx_fed_resolve(r, "b.org", &t), 0);
	expect_target(&t, "[2001:db8::5]", "[2001:db8::5]", "[2001:db8::5]", 8448);

	/* 3.3: delegated name without a port: its _matrix-fed SRV records, the
	 * certificate still for the delegated name, never the SRV target */
	add_wk(&f, "c.org", 200, "{\"m.server\":\"hs.c.org\"}", NULL);
	struct mx_fed_srv recs[] = {{10, 0, 8449, "backup.c.net"}, {5, 0, 8450, "main.c.net"}};
	add_srv(&f, "_matrix-fed._tcp.hs.c.org", 0, recs, 2);
	assert_int_equal(mx_fed_resolve(r, "c.org", &t), 0);
	expect_target(&t, "hs.c.org", "hs.c.org", "main.c.net", 8450);
	assert_int_equal(t.n_addrs, 2);
	assert_string_equal(t.addrs[1].host, "backup.c.net");
	assert_int_equal(t.addrs[1].port, 8449);

	/* 3.4: only the deprecated _matrix._tcp record */
	add_wk(&f, "d.org", 200, "{\"m.server\":\"hs.d.org\"}", NULL);
	struct mx_fed_srv legacy[] = {{0, 0, 8443, "old.d.org"}};
	add_srv(&f, "_matrix._tcp.hs.d.org", 0, legacy, 1);
	assert_int_equal(mx_fed_resolve(r, "d.org", &t), 0);
	expect_target(&t, "hs.d.org", "hs.d.org", "old.d.org", 8443);

	/* 3.5: no SRV at all: the delegated name on 8448 */
	add_wk(&f, "e.org", 200, "{\"m.server\":\"hs.e.org\"}", "max-age=600");
	assert_int_equal(mx_fed_resolve(r, "e.org", &t), 0);
	expect_target(&t, "hs.e.org", "hs.e.org", "hs.e.org", 8448);
	mx_fed_resolver_free(r);
}

static void test_resolve_no_delegation(void **state)
{
	(void)state;
	struct fake_net f = {0};
	struct mx_fed_resolver *r = fake_resolver(&f);
	struct mx_fed_target t;
	/* steps 4-6 after an error answer, a bad body, no answer at all */
	add_wk(&f, "a.org", 404, "not found", NULL);
	struct mx_fed_srv recs[] = {{0, 0, 8008, "srv.a.org"}};
	add_srv(&f, "_matrix-fed._tcp.a.org", 0, recs, 1);
	assert_int_equal(mx_fed_resolve(r, "a.org", &t), 0);
	expect_target(&t, "a.org", "a.org", "srv.a.org", 8008);

	add_wk(&f, "b.org", 200, "{\"m.server\": 42}", NULL);
	struct mx_fed_srv legacy[] = {{0, 0, 8009, "legacy.b.org"}};
	add_srv(&f, "_matrix._tcp.b.org", 0, legacy, 1);
	assert_int_equal(mx_fed_resolve(r, "b.org", &t), 0);
	expect_target(&t, "b.org", "b.org", "legacy.b.org", 8009);

	assert_int_equal(mx_fed_resolve(r, "c.org", &t), 0); /* nothing anywhere */
	expect_target(&t, "c.org", "c.org", "c.org", 8448);

	/* a DNS failure is not a verdict: fall back to A/AAAA on 8448 */
	add_srv(&f, "_matrix-fed._tcp.d.org", MX_EREMOTE, NULL, 0);
	assert_int_equal(mx_fed_resolve(r, "d.org", &t), 0);
	expect_target(&t, "d.org", "d.org", "d.org", 8448);

	/* RFC 2782: a lone "." target says there is no service */
	struct mx_fed_srv none[] = {{0, 0, 0, "."}};
	add_srv(&f, "_matrix-fed._tcp.e.org", 0, none, 1);
	assert_int_equal(mx_fed_resolve(r, "e.org", &t), MX_EREMOTE);

	/* invalid SRV targets are skipped */
	struct mx_fed_srv mixed[] = {{0, 0, 1, "bad name"}, {1, 0, 2, "good.f.org"}};
	add_srv(&f, "_matrix-fed._tcp.f.org", 0, mixed, 2);
	assert_int_equal(mx_fed_resolve(r, "f.org", &t), 0);
	expect_target(&t, "f.org", "f.org", "good.f.org", 2);
	assert_int_equal(t.n_addrs, 1);
	mx_fed_resolver_free(r);
}

static void test_resolve_caching(void **state)
{
	(void)state;
	struct fake_net f = {0};
	struct mx_fed_resolver *r = fake_resolver(&f);
	struct mx_fed_target t;
	const int64_t min = 60 * 1000, hour = 60 * min;
	add_wk(&f, "a.org", 200, "{\"m.server\":\"hs.a.org:443\"}", NULL);
	add_wk(&f, "b.org", 200, "{\"m.server\":\"hs.b.org:443\"}", "max-age=600");
	add_wk(&f, "c.org", 404, "", NULL);

	/* default: 24 hours */
	assert_int_equal(mx_fed_resolve(r, "a.org", &t), 0);
	assert_int_equal(f.wk_calls, 1);
	f.now += 23 * hour;
	assert_int_equal(mx_fed_resolve(r, "a.org", &t), 0);
	assert_int_equal(f.wk_calls, 1);
	f.now += 2 * hour;
	assert_int_equal(mx_fed_resolve(r, "a.org", &t), 0);
	assert_int_equal(f.wk_calls, 2);

	/* max-age */
	f.wk_calls = 0;
	assert_int_equal(mx_fed_resolve(r, "b.org", &t), 0);
	f.now += 9 * min;
	assert_int_equal(mx_fed_resolve(r, "b.org", &t), 0);
	assert_int_equal(f.wk_calls, 1);
	f.now += 2 * min;
	assert_int_equal(mx_fed_resolve(r, "b.org", &t), 0);
	assert_int_equal(f.wk_calls, 2);

	/* failures: an hour; the SRV answer (none) is cached too */
	f.wk_calls = f.srv_calls = 0;
	assert_int_equal(mx_fed_resolve(r, "c.org", &t), 0);
	expect_target(&t, "c.org", "c.org", "c.org", 8448);
	assert_int_equal(f.wk_calls, 1);
	assert_int_equal(f.srv_calls, 2);
	f.now += 50 * min;
	assert_int_equal(mx_fed_resolve(r, "c.org", &t), 0);
	assert_int_equal(f.wk_calls, 1);
	assert_int_equal(f.srv_calls, 2);
	f.now += 20 * min;
	assert_int_equal(mx_fed_resolve(r, "c.org", &t), 0);
	assert_int_equal(f.wk_calls, 2);
	assert_int_equal(f.srv_calls, 4);

	/* a server that starts delegating is noticed after the failure period */
	f.wk[2] = (struct fake_wk){"c.org", 0, 200, "{\"m.server\":\"new.c.org:1\"}", NULL};
	f.now += 61 * min;
	assert_int_equal(mx_fed_resolve(r, "c.org", &t), 0);
	expect_target(&t, "new.c.org:1", "new.c.org", "new.c.org", 1);
	mx_fed_resolver_free(r);
}

static void test_resolve_grace(void **state)
{
	(void)state;
	struct fake_net f = {0};
	struct mx_fed_resolver *r = fake_resolver(&f);
	struct mx_fed_target t;
	const int64_t hour = 3600 * 1000;
	add_wk(&f, "a.org", 200, "{\"m.server\":\"hs.a.org:443\"}", "max-age=7200");
	assert_int_equal(mx_fed_resolve(r, "a.org", &t), 0);
	/* the web server goes down: the delegation survives a transient failure */
	f.wk[0].rc = MX_EREMOTE;
	f.now += 3 * hour;
	assert_int_equal(mx_fed_resolve(r, "a.org", &t), 0);
	expect_target(&t, "hs.a.org:443", "hs.a.org", "hs.a.org", 443);
	assert_int_equal(f.wk_calls, 2);
	/* ... for one more cache period, then the answer is "no delegation" */
	f.now += 2 * hour;
	assert_int_equal(mx_fed_resolve(r, "a.org", &t), 0);
	expect_target(&t, "a.org", "a.org", "a.org", 8448);

	/* a definite answer (404) drops the delegation at once */
	add_wk(&f, "b.org", 200, "{\"m.server\":\"hs.b.org:443\"}", "max-age=3600");
	assert_int_equal(mx_fed_resolve(r, "b.org", &t), 0);
	f.wk[1].status = 404;
	f.now += 2 * hour;
	assert_int_equal(mx_fed_resolve(r, "b.org", &t), 0);
	expect_target(&t, "b.org", "b.org", "b.org", 8448);
	mx_fed_resolver_free(r);
}

/* ---- c-ares against a fake name server ---- */

struct fake_dns {
	int fd;
	unsigned port;
	volatile int stop;
	pthread_t th;
};

static size_t put_name(uint8_t *p, const char *name)
{
	size_t n = 0;
	while (*name && strcmp(name, ".")) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);
		p[n++] = (uint8_t)l;
		memcpy(p + n, name, l);
		n += l;
		name += l + (dot ? 1 : 0);
	}
	p[n++] = 0;
	return n;
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Answer one query in q (len bytes) into r; returns the answer's length. */
static size_t dns_answer(const uint8_t *q, size_t len, uint8_t *r)
{
	char name[256];
	size_t i = 12, o = 0;
	while (i < len && q[i] && o < 200) {
		size_t l = q[i++];
		if (o)
			name[o++] = '.';
		memcpy(name + o, q + i, l);
		o += l;
		i += l;
	}
	name[o] = '\0';
	size_t qend = i + 1 + 4; /* the root label, type, class */
	memcpy(r, q, qend);
	static const struct {
		const char *name;
		struct mx_fed_srv recs[2];
		size_t n;
	} zone[] = {
		{"_matrix-fed._tcp.srv.test", {{10, 5, 8448, "b.srv.test"}, {5, 0, 8449, "a.srv.test"}}, 2},
		{"_matrix._tcp.old.test", {{0, 0, 8000, "legacy.old.test"}}, 1},
		{"_matrix-fed._tcp.dot.test", {{0, 0, 0, "."}}, 1},
	};
	size_t z;
	for (z = 0; z < MX_ARRAY_LEN(zone); z++)
		if (!strcasecmp(zone[z].name, name))
			break;
	r[2] = 0x81; /* QR, RD */
	r[3] = z < MX_ARRAY_LEN(zone) ? 0x80 : 0x83; /* RA; NXDOMAIN when unknown */
	put16(r + 4, 1);
	put16(r + 6, z < MX_ARRAY_LEN(zone) ? (unsigned)zone[z].n : 0);
	put16(r + 8, 0);
	put16(r + 10, 0);
	size_t n = qend;
	for (size_t k = 0; z < MX_ARRAY_LEN(zone) && k < zone[z].n; k++) {
		const struct mx_fed_srv *s = &zone[z].recs[k];
		r[n++] = 0xc0; /* the name: a pointer to the question's */
		r[n++] = 12;
		put16(r + n, 33); /* SRV */
		put16(r + n + 2, 1);
		memset(r + n + 4, 0, 2);
		put16(r + n + 6, 300); /* TTL */
		size_t rdlen_at = n + 8;
		n += 10;
		put16(r + n, s->priority);
		put16(r + n + 2, s->weight);
		put16(r + n + 4, s->port);
		n += 6;
		size_t tl = put_name(r + n, s->target);
		n += tl;
		put16(r + rdlen_at, (unsigned)(6 + tl));
	}
	return n;
}

static void *dns_main(void *arg)
{
	struct fake_dns *d = arg;
	while (!d->stop) {
		struct pollfd p = {.fd = d->fd, .events = POLLIN};
		if (poll(&p, 1, 50) <= 0)
			continue;
		uint8_t q[512], r[1024];
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t len = recvfrom(d->fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
		if (len < 17)
			continue;
		if (len > 12 + 5 && memmem(q, (size_t)len, "\4slow", 5))
			continue; /* never answered */
		size_t n = dns_answer(q, (size_t)len, r);
		sendto(d->fd, r, n, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

static void test_srv_lookup_cares(void **state)
{
	(void)state;
	struct fake_dns d = {0};
	d.fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(d.fd >= 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(d.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t al = sizeof(a);
	assert_int_equal(getsockname(d.fd, (struct sockaddr *)&a, &al), 0);
	d.port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&d.th, NULL, dns_main, &d), 0);
	char servers[64];
	snprintf(servers, sizeof(servers), "127.0.0.1:%u", d.port);

	struct mx_fed_srv r[MX_FED_MAX_ADDRS];
	size_t n = 99;
	assert_int_equal(mx_fed_srv_lookup_via(servers, "_matrix-fed._tcp.srv.test", 3000, r,
					       MX_FED_MAX_ADDRS, &n),
			 0);
	assert_int_equal(n, 2);
	mx_fed_srv_sort(r, n);
	assert_string_equal(r[0].target, "a.srv.test");
	assert_int_equal(r[0].port, 8449);
	assert_int_equal(r[0].priority, 5);
	assert_string_equal(r[1].target, "b.srv.test");
	assert_int_equal(r[1].weight, 5);
	assert_int_equal(mx_fed_srv_lookup_via(servers, "_matrix-fed._tcp.none.test", 3000, r,
					       MX_FED_MAX_ADDRS, &n),
			 MX_ENOTFOUND);
	assert_int_equal(n, 0);
	assert_int_equal(mx_fed_srv_lookup_via(servers, "_matrix-fed._tcp.dot.test", 3000, r,
					       MX_FED_MAX_ADDRS, &n),
			 0);
	assert_int_equal(n, 1);
	assert_string_equal(r[0].target, ".");
	/* at most max records */
	assert_int_equal(mx_fed_srv_lookup_via(servers, "_matrix-fed._tcp.srv.test", 3000, r, 1, &n),
			 0);
	assert_int_equal(n, 1);
	/* a server that never answers: a DNS failure, within the timeout */
	int64_t t0 = mx_clock_mono_ms();
	assert_int_equal(mx_fed_srv_lookup_via(servers, "_matrix-fed._tcp.slow.test", 400, r,
					       MX_FED_MAX_ADDRS, &n),
			 MX_EREMOTE);
	assert_true(mx_clock_mono_ms() - t0 < 2000);
	assert_int_equal(mx_fed_srv_lookup_via("not a server list", "x.test", 100, r, 1, &n),
			 MX_EINVALID);
	d.stop = 1;
	pthread_join(d.th, NULL);
	close(d.fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_name_spec_examples),
		cmocka_unit_test(test_server_name_edges),
		cmocka_unit_test(test_server_name_hostile),
		cmocka_unit_test(test_wellknown_parse),
		cmocka_unit_test(test_wellknown_cache_control),
		cmocka_unit_test(test_srv_sort),
		cmocka_unit_test(test_resolve_ip_literals),
		cmocka_unit_test(test_resolve_delegation),
		cmocka_unit_test(test_resolve_no_delegation),
		cmocka_unit_test(test_resolve_caching),
		cmocka_unit_test(test_resolve_grace),
		cmocka_unit_test(test_srv_lookup_cares),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
