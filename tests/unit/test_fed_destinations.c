/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for src/federation/destinations (the backoff arithmetic and
 * the probe rule, with explicit times), store/destinations and the
 * database's fire-and-forget writes they use, the outbound federation
 * config keys, and the federation client's refusals that need no remote
 * server: own name, domain whitelist, blacklisted addresses after DNS,
 * backoff failing fast, and a refused connection backing a destination off
 * across a restart.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/mem.h"
#include "core/rand.h"
#include "core/server.h"
#include "db/db.h"
#include "federation/client.h"
#include "federation/destinations.h"
#include "store/destinations.h"
#include "testdb.h"

#define MIN_MS (10 * 60 * 1000LL)
#define MAX_MS (7 * 86400 * 1000LL)
#define T0 1700000000000LL

static const struct mx_fed_backoff policy = {MIN_MS, MAX_MS, 2.0, 0};

/* ---- the arithmetic ---- */

static void test_backoff_math(void **state)
{
	(void)state;
	struct mx_fed_dest_state s = {0};
	mx_fed_backoff_fail(&policy, &s, T0, 0);
	assert_int_equal(s.failures, 1);
	assert_int_equal(s.retry_interval_ms, MIN_MS);
	assert_int_equal(s.retry_at_ms, T0 + MIN_MS);
	mx_fed_backoff_fail(&policy, &s, T0 + MIN_MS, 0);
	assert_int_equal(s.failures, 2);
	assert_int_equal(s.retry_interval_ms, 2 * MIN_MS);
	assert_int_equal(s.retry_at_ms, T0 + 3 * MIN_MS);
	/* doubling up to the cap, never past it */
	int64_t prev = s.retry_interval_ms;
	for (int i = 0; i < 20; i++) {
		mx_fed_backoff_fail(&policy, &s, T0, 0);
		assert_true(s.retry_interval_ms >= prev);
		assert_true(s.retry_interval_ms <= MAX_MS);
		prev = s.retry_interval_ms;
	}
	assert_int_equal(s.retry_interval_ms, MAX_MS);
	assert_int_equal(s.retry_at_ms, T0 + MAX_MS);
	assert_int_equal(s.failures, 22);

	mx_fed_backoff_reset(&s, T0 + 5);
	assert_int_equal(s.failures, 0);
	assert_int_equal(s.retry_interval_ms, 0);
	assert_int_equal(s.retry_at_ms, 0);
	assert_int_equal(s.last_success_ms, T0 + 5);
	/* after a reset the next failure starts from the minimum again */
	mx_fed_backoff_fail(&policy, &s, T0, 0);
	assert_int_equal(s.retry_interval_ms, MIN_MS);
}

static void test_backoff_jitter_and_limits(void **state)
{
	(void)state;
	struct mx_fed_backoff p = {1000, 100000, 3.0, 0.1};
	struct mx_fed_dest_state s = {0};
	mx_fed_backoff_fail(&p, &s, 0, 0.5);
	assert_int_equal(s.retry_interval_ms, 1000);
	assert_int_equal(s.retry_at_ms, 1050); /* the wait stretches, the interval does not */
	mx_fed_backoff_fail(&p, &s, 0, 0.999);
	assert_int_equal(s.retry_interval_ms, 3000);
	assert_true(s.retry_at_ms >= 3000 && s.retry_at_ms < 3300);
	mx_fed_backoff_fail(&p, &s, 0, 7.0); /* out of range: no jitter */
	assert_int_equal(s.retry_at_ms, 9000);

	/* absurd configurations stay finite and ordered */
	struct mx_fed_backoff huge = {INT64_MAX / 2, INT64_MAX, 1000.0, 0.1};
	struct mx_fed_dest_state h = {0};
	for (int i = 0; i < 5; i++) {
		mx_fed_backoff_fail(&huge, &h, T0, 0.99);
		assert_true(h.retry_interval_ms > 0);
		assert_true(h.retry_at_ms > T0);
	}
	struct mx_fed_backoff inverted = {5000, 10, 2.0, 0}; /* max < min: min wins */
	struct mx_fed_dest_state v = {0};
	mx_fed_backoff_fail(&inverted, &v, 0, 0);
	mx_fed_backoff_fail(&inverted, &v, 0, 0);
	assert_int_equal(v.retry_interval_ms, 5000);
}

/* ---- the probe rule ---- */

static void test_probe_rule(void **state)
{
	(void)state;
	struct mx_fed_dests *d = mx_fed_dests_new(&policy, NULL);
	const char *x = "x.org";
	struct mx_fed_dest_state st;

	/* unknown and healthy: go */
	assert_int_equal(mx_fed_dests_begin(d, x, T0), MX_FED_DEST_GO);
	assert_int_equal(mx_fed_dests_end(d, x, false, MX_FED_DEST_OK, T0), MX_FED_DEST_UNCHANGED);
	assert_int_equal(mx_fed_dests_get(d, x, &st), 0);
	assert_int_equal(st.last_success_ms, T0);
	assert_false(mx_fed_dests_backed_off(d, x, T0));

	/* a failure backs it off (once: warn), then everything fails fast */
	assert_int_equal(mx_fed_dests_begin(d, x, T0), MX_FED_DEST_GO);
	assert_int_equal(mx_fed_dests_end(d, x, false, MX_FED_DEST_FAILED, T0),
			 MX_FED_DEST_NOW_BACKED_OFF);
	assert_true(mx_fed_dests_backed_off(d, x, T0));
	assert_int_equal(mx_fed_dests_begin(d, x, T0 + MIN_MS - 1), MX_FED_DEST_BACKED_OFF);

	/* a request that started before and fails late is not counted again */
	assert_int_equal(mx_fed_dests_end(d, x, false, MX_FED_DEST_FAILED, T0 + 1),
			 MX_FED_DEST_UNCHANGED);
	assert_int_equal(mx_fed_dests_get(d, x, &st), 0);
	assert_int_equal(st.failures, 1);

	/* retry time reached: exactly one probe at a time */
	int64_t t = T0 + MIN_MS;
	assert_false(mx_fed_dests_backed_off(d, x, t));
	assert_int_equal(mx_fed_dests_begin(d, x, t), MX_FED_DEST_PROBE);
	assert_int_equal(mx_fed_dests_begin(d, x, t), MX_FED_DEST_BACKED_OFF);
	assert_int_equal(mx_fed_dests_begin(d, x, t + 1000), MX_FED_DEST_BACKED_OFF);
	/* the probe fails: longer interval, the probe slot is free again later */
	assert_int_equal(mx_fed_dests_end(d, x, true, MX_FED_DEST_FAILED, t + 1000),
			 MX_FED_DEST_STILL_FAILING);
	assert_int_equal(mx_fed_dests_get(d, x, &st), 0);
	assert_int_equal(st.failures, 2);
	assert_int_equal(st.retry_interval_ms, 2 * MIN_MS);
	assert_int_equal(st.retry_at_ms, t + 1000 + 2 * MIN_MS);
	assert_int_equal(mx_fed_dests_begin(d, x, t + 2000), MX_FED_DEST_BACKED_OFF);

	/* a neutral end (refused locally) frees the probe without a verdict */
	t = st.retry_at_ms;
	assert_int_equal(mx_fed_dests_begin(d, x, t), MX_FED_DEST_PROBE);
	assert_int_equal(mx_fed_dests_end(d, x, true, MX_FED_DEST_NEUTRAL, t),
			 MX_FED_DEST_UNCHANGED);
	assert_int_equal(mx_fed_dests_get(d, x, &st), 0);
	assert_int_equal(st.failures, 2);

	/* a lost probe does not block the destination for ever */
	assert_int_equal(mx_fed_dests_begin(d, x, t), MX_FED_DEST_PROBE);
	assert_int_equal(mx_fed_dests_begin(d, x, t + MX_FED_DEST_PROBE_STALE_MS - 1),
			 MX_FED_DEST_BACKED_OFF);
	assert_int_equal(mx_fed_dests_begin(d, x, t + MX_FED_DEST_PROBE_STALE_MS),
			 MX_FED_DEST_PROBE);

	/* the probe succeeds: healthy, everything goes */
	int64_t t2 = t + MX_FED_DEST_PROBE_STALE_MS + 5;
	assert_int_equal(mx_fed_dests_end(d, x, true, MX_FED_DEST_OK, t2), MX_FED_DEST_RECOVERED);
	assert_int_equal(mx_fed_dests_begin(d, x, t2), MX_FED_DEST_GO);
	assert_int_equal(mx_fed_dests_begin(d, x, t2), MX_FED_DEST_GO);
	assert_int_equal(mx_fed_dests_get(d, x, &st), 0);
	assert_int_equal(st.failures, 0);
	assert_int_equal(st.last_success_ms, t2);

	/* an inbound request resets a backed-off destination at once */
	assert_int_equal(mx_fed_dests_end(d, "y.org", false, MX_FED_DEST_FAILED, T0),
			 MX_FED_DEST_NOW_BACKED_OFF);
	assert_int_equal(mx_fed_dests_begin(d, "y.org", T0 + 1), MX_FED_DEST_BACKED_OFF);
	assert_true(mx_fed_dests_seen(d, "y.org"));
	assert_false(mx_fed_dests_seen(d, "y.org"));
	assert_false(mx_fed_dests_seen(d, "never.org"));
	assert_int_equal(mx_fed_dests_begin(d, "y.org", T0 + 1), MX_FED_DEST_GO);
	/* and the next failure starts from the minimum again */
	mx_fed_dests_end(d, "y.org", false, MX_FED_DEST_FAILED, T0 + 2);
	assert_int_equal(mx_fed_dests_get(d, "y.org", &st), 0);
	assert_int_equal(st.retry_interval_ms, MIN_MS);
	assert_int_equal(mx_fed_dests_get(d, "z.org", &st), MX_ENOTFOUND);
	mx_fed_dests_free(d);
}

static void test_many_destinations(void **state)
{
	(void)state;
	struct mx_fed_dests *d = mx_fed_dests_new(&policy, NULL);
	char name[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "s%d.org", i);
		mx_fed_dests_end(d, name, false, i % 2 ? MX_FED_DEST_FAILED : MX_FED_DEST_OK, T0);
	}
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "s%d.org", i);
		assert_int_equal(mx_fed_dests_begin(d, name, T0 + 1),
				 i % 2 ? MX_FED_DEST_BACKED_OFF : MX_FED_DEST_GO);
	}
	mx_fed_dests_free(d);
}

/* ---- persistence ---- */

static int noop_job(struct mx_db_conn *c, void *arg)
{
	(void)c;
	(void)arg;
	return 0;
}

/* Jobs run in order: once this returns, every earlier async write is in. */
static void flush_writes(struct mx_db *db)
{
	assert_int_equal(mx_db_write(db, noop_job, NULL), 0);
}

struct async_probe {
	int runs, releases, result;
};

static int async_job(struct mx_db_conn *c, void *arg)
{
	(void)c;
	((struct async_probe *)arg)->runs++;
	return 7;
}

static void async_release(void *arg, int result)
{
	struct async_probe *p = arg;
	p->releases++;
	p->result = result;
}

static void test_db_write_async(void **state)
{
	(void)state;
	struct mx_test_db t;
	assert_int_equal(mx_test_db_open(&t, "fed-async"), 0);
	struct async_probe p = {0};
	mx_db_write_async(t.db, async_job, &p, async_release);
	flush_writes(t.db);
	assert_int_equal(p.runs, 1);
	assert_int_equal(p.releases, 1);
	assert_int_equal(p.result, 7);
	mx_db_write_async(t.db, async_job, &p, NULL); /* no release: still freed */
	flush_writes(t.db);
	assert_int_equal(p.runs, 2);
	mx_test_db_close(&t);
}

static void test_persistence(void **state)
{
	(void)state;
	struct mx_test_db t;
	assert_int_equal(mx_test_db_open(&t, "fed-dests"), 0);
	struct mx_fed_dests *d = mx_fed_dests_new(&policy, t.db);
	mx_fed_dests_end(d, "dead.org", false, MX_FED_DEST_FAILED, T0);
	mx_fed_dests_end(d, "dead.org", true, MX_FED_DEST_FAILED, T0 + MIN_MS);
	mx_fed_dests_end(d, "alive.org", false, MX_FED_DEST_OK, T0);
	mx_fed_dests_end(d, "back.org", false, MX_FED_DEST_FAILED, T0);
	mx_fed_dests_seen(d, "back.org");
	flush_writes(t.db);

	struct mx_fed_dests *d2 = mx_fed_dests_new(&policy, NULL);
	assert_int_equal(mx_fed_dests_load(d2, t.rc), 0);
	struct mx_fed_dest_state a, b;
	assert_int_equal(mx_fed_dests_get(d, "dead.org", &a), 0);
	assert_int_equal(mx_fed_dests_get(d2, "dead.org", &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(b.failures, 2);
	assert_int_equal(b.retry_at_ms, T0 + 3 * MIN_MS);
	assert_int_equal(mx_fed_dests_get(d2, "alive.org", &b), 0);
	assert_int_equal(b.last_success_ms, T0);
	assert_int_equal(b.failures, 0);
	assert_int_equal(mx_fed_dests_get(d2, "back.org", &b), 0);
	assert_int_equal(b.failures, 0);
	assert_int_equal(b.retry_at_ms, 0);
	/* a restart does not forget a backoff */
	assert_int_equal(mx_fed_dests_begin(d2, "dead.org", T0 + 2 * MIN_MS),
			 MX_FED_DEST_BACKED_OFF);
	assert_int_equal(mx_fed_dests_begin(d2, "dead.org", T0 + 3 * MIN_MS), MX_FED_DEST_PROBE);

	/* healthy destinations write their last success at most hourly */
	uint64_t b0, j0, b1, j1;
	mx_db_write_stats(t.db, &b0, &j0);
	for (int i = 1; i <= 10; i++)
		mx_fed_dests_end(d, "alive.org", false, MX_FED_DEST_OK, T0 + i * 1000);
	flush_writes(t.db);
	mx_db_write_stats(t.db, &b1, &j1);
	assert_int_equal(j1 - j0, 1); /* only the flush itself */

	/* a stored row is replaced, not duplicated */
	struct mx_destination_row row = {"dead.org", 0, 0, 0, 42};
	mx_store_destination_save_async(t.db, &row);
	flush_writes(t.db);
	struct mx_fed_dests *d3 = mx_fed_dests_new(&policy, NULL);
	assert_int_equal(mx_fed_dests_load(d3, t.rc), 0);
	assert_int_equal(mx_fed_dests_get(d3, "dead.org", &b), 0);
	assert_int_equal(b.failures, 0);
	assert_int_equal(b.last_success_ms, 42);
	mx_fed_dests_free(d3);
	mx_fed_dests_free(d2);
	mx_fed_dests_free(d);
	mx_test_db_close(&t);
}

/* ---- config ---- */

static int load_yaml(struct mx_config *cfg, const char *yaml, char *err, size_t errlen)
{
	char path[] = "/tmp/myelin-test-fedcfg-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t len = strlen(yaml);
	assert_int_equal(write(fd, yaml, len), (ssize_t)len);
	close(fd);
	int rc = mx_config_load(cfg, path, err, errlen);
	unlink(path);
	return rc;
}

static bool blocked(const struct mx_iprange *r, size_t n, const char *addr)
{
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	memset(&s4, 0, sizeof(s4));
	memset(&s6, 0, sizeof(s6));
	if (inet_pton(AF_INET, addr, &s4.sin_addr) == 1) {
		s4.sin_family = AF_INET;
		return mx_iprange_match(r, n, (const struct sockaddr *)&s4);
	}
	assert_int_equal(inet_pton(AF_INET6, addr, &s6.sin6_addr), 1);
	s6.sin6_family = AF_INET6;
	return mx_iprange_match(r, n, (const struct sockaddr *)&s6);
}

static void test_config_defaults(void **state)
{
	(void)state;
	struct mx_config cfg;
	char err[256];
	assert_int_equal(load_yaml(&cfg, "server_name: a.org\n", err, sizeof(err)), 0);
	assert_true(cfg.federation_verify_certificates);
	assert_null(cfg.federation_custom_ca_list);
	assert_null(cfg.federation_domain_whitelist);
	assert_null(cfg.federation_ip_range_blacklist);
	assert_int_equal(cfg.n_ip_range_whitelist, 0);
	assert_int_equal(cfg.destination_min_retry_interval_ms, MIN_MS);
	assert_int_equal(cfg.destination_max_retry_interval_ms, MAX_MS);
	assert_true(cfg.destination_retry_multiplier == 2.0);
	static const char *const bad[] = {
		"127.0.0.1",   "10.1.2.3",   "172.31.255.255", "192.168.1.1", "100.64.0.1",
		"169.254.1.1", "192.0.2.1",  "198.51.100.7",   "203.0.113.9", "224.0.0.1",
		"0.0.0.0",     "198.18.0.1", "::1",            "fe80::1",     "fd00::1",
		"2001:db8::1", "ff02::1",    "::",             "::ffff:127.0.0.1", "fec0::1",
	};
	for (size_t i = 0; i < MX_ARRAY_LEN(bad); i++)
		if (!blocked(cfg.ip_range_blacklist, cfg.n_ip_range_blacklist, bad[i]))
			fail_msg("%s not blocked by default", bad[i]);
	static const char *const good[] = {"1.1.1.1", "8.8.8.8", "172.32.0.1", "2606:4700::1111"};
	for (size_t i = 0; i < MX_ARRAY_LEN(good); i++)
		if (blocked(cfg.ip_range_blacklist, cfg.n_ip_range_blacklist, good[i]))
			fail_msg("%s blocked by default", good[i]);
	mx_config_release(&cfg);
}

static void test_config_keys(void **state)
{
	(void)state;
	struct mx_config cfg;
	char err[256];
	assert_int_equal(load_yaml(&cfg,
				   "server_name: a.org\n"
				   "ip_range_blacklist: ['9.9.9.0/24']\n"
				   "ip_range_blocklist: ['1.2.3.0/24']\n"
				   "ip_range_whitelist: ['1.2.3.4']\n"
				   "federation_verify_certificates: false\n"
				   "federation_custom_ca_list: [ca.pem, /etc/x.pem]\n"
				   "federation_domain_whitelist: []\n"
				   "federation:\n"
				   "  destination_min_retry_interval: 30s\n"
				   "  destination_retry_multiplier: 1.5\n"
				   "  destination_max_retry_interval: 1h\n",
				   err, sizeof(err)),
			 0);
	/* the new name wins, and an explicit list replaces the default */
	assert_true(blocked(cfg.ip_range_blacklist, cfg.n_ip_range_blacklist, "1.2.3.9"));
	assert_false(blocked(cfg.ip_range_blacklist, cfg.n_ip_range_blacklist, "9.9.9.9"));
	assert_false(blocked(cfg.ip_range_blacklist, cfg.n_ip_range_blacklist, "10.0.0.1"));
	assert_true(blocked(cfg.ip_range_blacklist, cfg.n_ip_range_blacklist, "0.0.0.0"));
	assert_true(blocked(cfg.ip_range_whitelist, cfg.n_ip_range_whitelist, "1.2.3.4"));
	assert_false(cfg.federation_verify_certificates);
	assert_int_equal(cfg.n_federation_custom_ca_list, 2);
	assert_string_equal(cfg.federation_custom_ca_list[0] +
				    strlen(cfg.federation_custom_ca_list[0]) - 7,
			    "/ca.pem");
	assert_true(cfg.federation_custom_ca_list[0][0] == '/');
	assert_string_equal(cfg.federation_custom_ca_list[1], "/etc/x.pem");
	assert_non_null(cfg.federation_domain_whitelist); /* set, and empty */
	assert_int_equal(cfg.n_federation_domain_whitelist, 0);
	assert_int_equal(cfg.destination_min_retry_interval_ms, 30000);
	assert_true(cfg.destination_retry_multiplier == 1.5);
	assert_int_equal(cfg.destination_max_retry_interval_ms, 3600000);
	mx_config_release(&cfg);

	assert_int_equal(load_yaml(&cfg,
				   "server_name: a.org\n"
				   "ip_range_allowlist: ['10.0.0.0/8']\n"
				   "federation_ip_range_blacklist: []\n"
				   "federation_domain_whitelist: [b.org, c.org]\n",
				   err, sizeof(err)),
			 0);
	assert_true(blocked(cfg.ip_range_whitelist, cfg.n_ip_range_whitelist, "10.1.1.1"));
	assert_non_null(cfg.federation_ip_range_blacklist);
	assert_true(blocked(cfg.federation_ip_range_blacklist, cfg.n_federation_ip_range_blacklist,
			    "::"));
	assert_false(blocked(cfg.federation_ip_range_blacklist,
			     cfg.n_federation_ip_range_blacklist, "127.0.0.1"));
	assert_int_equal(cfg.n_federation_domain_whitelist, 2);
	assert_string_equal(cfg.federation_domain_whitelist[1], "c.org");
	mx_config_release(&cfg);

	static const char *const bad[] = {
		"server_name: a.org\nip_range_blacklist: ['not-an-ip']\n",
		"server_name: a.org\nip_range_whitelist: 1.2.3.4\n",
		"server_name: a.org\nfederation_verify_certificates: maybe\n",
		"server_name: a.org\nfederation_domain_whitelist: [[a]]\n",
		"server_name: a.org\nfederation:\n  destination_retry_multiplier: 0.5\n",
		"server_name: a.org\nfederation:\n  destination_min_retry_interval: soon\n",
		"server_name: a.org\nfederation:\n  destination_min_retry_interval: 0\n",
		"server_name: a.org\nfederation:\n  destination_max_retry_interval: 1s\n",
	};
	for (size_t i = 0; i < MX_ARRAY_LEN(bad); i++) {
		if (load_yaml(&cfg, bad[i], err, sizeof(err)) != MX_EINVALID)
			fail_msg("accepted: %s", bad[i]);
	}
}

/* ---- the client, without a remote server ---- */

/* A TCP port on 127.0.0.1 that nothing listens on (bound, then closed). */
static unsigned closed_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s >= 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t len = sizeof(a);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	close(s);
	return ntohs(a.sin_port);
}

static int get(struct mx_fed *fed, const char *dest, struct mx_fed_response *resp)
{
	struct mx_fed_request rq = {.destination = dest, .method = "GET",
				    .uri = "/_matrix/federation/v1/version", .timeout_ms = 5000};
	return mx_fed_request(fed, &rq, resp);
}

static void test_client_refusals(void **state)
{
	(void)state;
	struct mx_config cfg;
	char err[256];
	assert_int_equal(load_yaml(&cfg, "server_name: me.org\n", err, sizeof(err)), 0);
	struct mx_server srv = {.cfg = &cfg};
	struct mx_fed *fed;
	assert_int_equal(mx_fed_new(&srv, &fed), 0);
	struct mx_fed_response resp;
	assert_int_equal(get(fed, "me.org", &resp), MX_EFORBIDDEN);
	assert_int_equal(get(fed, "bad name", &resp), MX_EINVALIDPARAM);
	struct mx_fed_request rq = {.destination = "x.org", .method = "GET", .uri = "no-slash"};
	assert_int_equal(mx_fed_request(fed, &rq, &resp), MX_EINVALID);
	/* blacklisted after resolution: an IP literal, and a name */
	assert_int_equal(get(fed, "127.0.0.1:1", &resp), MX_EFORBIDDEN);
	assert_int_equal(get(fed, "[::1]:1", &resp), MX_EFORBIDDEN);
	assert_int_equal(get(fed, "localhost:1", &resp), MX_EFORBIDDEN);
	assert_int_equal(get(fed, "10.0.0.1:1", &resp), MX_EFORBIDDEN);
	/* a local refusal says nothing about the destination's health */
	assert_false(mx_fed_destination_backed_off(fed, "127.0.0.1:1"));
	assert_null(resp.body);
	assert_int_equal(mx_fed_get_url(fed, "https://127.0.0.1:1/x", 5000, 0, NULL, &resp),
			 MX_EFORBIDDEN);
	assert_int_equal(mx_fed_get_url(fed, "http://1.1.1.1/x", 5000, 0, NULL, &resp),
			 MX_EINVALIDPARAM);
	mx_fed_free(fed);
	mx_config_release(&cfg);

	/* only whitelisted domains are contacted */
	assert_int_equal(load_yaml(&cfg, "server_name: me.org\nfederation_domain_whitelist: [ok.org]\n",
				   err, sizeof(err)),
			 0);
	assert_int_equal(mx_fed_new(&srv, &fed), 0);
	assert_int_equal(get(fed, "other.org", &resp), MX_EFORBIDDEN);
	mx_fed_free(fed);
	mx_config_release(&cfg);
}

static void test_client_backoff(void **state)
{
	(void)state;
	struct mx_test_db t;
	assert_int_equal(mx_test_db_open(&t, "fed-client"), 0);
	struct mx_config cfg;
	char err[256];
	assert_int_equal(load_yaml(&cfg,
				   "server_name: me.org\n"
				   "ip_range_whitelist: ['127.0.0.1']\n",
				   err, sizeof(err)),
			 0);
	struct mx_server srv = {.cfg = &cfg, .db = t.db};
	struct mx_fed *fed;
	assert_int_equal(mx_fed_new(&srv, &fed), 0);
	char dest[64];
	snprintf(dest, sizeof(dest), "127.0.0.1:%u", closed_port());
	struct mx_fed_response resp;
	/* connection refused: a transport failure backs the destination off */
	assert_false(mx_fed_destination_backed_off(fed, dest));
	assert_int_equal(get(fed, dest, &resp), MX_EREMOTE);
	assert_true(mx_fed_destination_backed_off(fed, dest));
	/* and the next request fails fast, without network */
	int64_t t0 = mx_clock_mono_ms();
	assert_int_equal(get(fed, dest, &resp), MX_EREMOTE);
	assert_true(mx_clock_mono_ms() - t0 < 100);
	mx_fed_free(fed);
	flush_writes(t.db);

	/* a restart remembers it; an inbound request resets it */
	assert_int_equal(mx_fed_new(&srv, &fed), 0);
	assert_true(mx_fed_destination_backed_off(fed, dest));
	assert_int_equal(get(fed, dest, &resp), MX_EREMOTE);
	mx_fed_destination_seen(fed, dest);
	assert_false(mx_fed_destination_backed_off(fed, dest));
	mx_fed_free(fed);
	mx_config_release(&cfg);
	mx_test_db_close(&t);
}

static int setup(void **state)
{
	(void)state;
	return mx_rand_init() || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK;
}

static int teardown(void **state)
{
	(void)state;
	curl_global_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_math),
		cmocka_unit_test(test_backoff_jitter_and_limits),
		cmocka_unit_test(test_probe_rule),
		cmocka_unit_test(test_many_destinations),
		cmocka_unit_test(test_db_write_async),
		cmocka_unit_test(test_persistence),
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_keys),
		cmocka_unit_test(test_client_refusals),
		cmocka_unit_test(test_client_backoff),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
