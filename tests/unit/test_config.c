/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for core/config: loading Synapse-style homeserver.yaml files,
 * defaults, duration and size syntax, error messages that name the key and
 * line, and generate-then-load round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"
#include "core/error.h"
#include "core/mem.h"

/* Write yaml to a fresh file under /tmp; caller unlinks and frees. */
static char *write_tmp(const char *yaml)
{
	char *path = mx_xstrdup("/tmp/myelin-test-config-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t len = strlen(yaml);
	assert_int_equal(write(fd, yaml, len), (ssize_t)len);
	close(fd);
	return path;
}

/* Load yaml from a temp file; returns the rc, err holds the message. */
static int load_str(struct mx_config *cfg, const char *yaml, char *err, size_t errlen,
		    char **path_out)
{
	char *path = write_tmp(yaml);
	int rc = mx_config_load(cfg, path, err, errlen);
	unlink(path);
	if (path_out)
		*path_out = path;
	else
		free(path);
	return rc;
}

static const struct mx_config_listener *find_listener(const struct mx_config *cfg,
						      const char *addr, uint16_t port)
{
	for (size_t i = 0; i < cfg->n_listeners; i++)
		if (cfg->listeners[i].port == port && !strcmp(cfg->listeners[i].bind_address, addr))
			return &cfg->listeners[i];
	return NULL;
}

static const char synapse_yaml[] =
	"# A homeserver.yaml as Synapse's docs would have it.\n"
	"server_name: \"example.org\"\n"
	"pid_file: /data/homeserver.pid\n"
	"public_baseurl: https://matrix.example.org\n"
	"serve_server_wellknown: true\n"
	"report_stats: false\n"
	"macaroon_secret_key: \"abc\"\n"
	"log_config: \"/data/example.org.log.config\"\n"
	"extra_well_known_client_content:\n"
	"  org.example.custom:\n"
	"    enabled: yes\n"
	"    count: 3\n"
	"    ratio: 0.5\n"
	"    label: \"true\"\n"
	"    none: ~\n"
	"    list: [a, 1]\n"
	"listeners:\n"
	"  - port: 8008\n"
	"    tls: false\n"
	"    type: http\n"
	"    x_forwarded: true\n"
	"    bind_addresses: ['::1', '127.0.0.1']\n"
	"    resources:\n"
	"      - names: [client, federation]\n"
	"        compress: false\n"
	"      - names: [openid, static, consent]\n"
	"  - port: 9000\n"
	"    type: metrics\n"
	"    bind_addresses: ['0.0.0.0']\n"
	"  - port: 8448\n"
	"    bind_address: '0.0.0.0'\n"
	"    type: http\n"
	"    resources:\n"
	"      - names: [federation]\n"
	"database:\n"
	"  name: psycopg2\n"
	"  txn_limit: 10000\n"
	"  args:\n"
	"    user: synapse_user\n"
	"    password: \"it's a \\\\secret\"\n"
	"    database: synapse\n"
	"    host: localhost\n"
	"    port: 5432\n"
	"    cp_min: 5\n"
	"    cp_max: 10\n"
	"signing_key_path: \"keys/example.org.signing.key\"\n"
	"key_refresh_interval: 2d\n"
	"trusted_key_servers:\n"
	"  - server_name: \"matrix.org\"\n"
	"enable_registration: on\n"
	"enable_registration_without_verification: True\n"
	"registration_requires_token: yes\n"
	"registration_shared_secret: \"s3cret\"\n"
	"allow_guest_access: off\n"
	"password_config:\n"
	"  enabled: true\n"
	"  policy:\n"
	"    enabled: true\n"
	"    minimum_length: 12\n"
	"    require_digit: true\n"
	"inhibit_user_in_use_error: true\n"
	"allow_public_rooms_over_federation: true\n"
	"allow_profile_lookup_over_federation: false\n"
	"allow_device_name_lookup_over_federation: true\n"
	"refreshable_access_token_lifetime: 10m\n"
	"refresh_token_lifetime: 24h\n"
	"nonrefreshable_access_token_lifetime: 1w\n"
	"rc_registration:\n"
	"  per_second: 1\n"
	"  burst_count: 20\n"
	"rc_login:\n"
	"  address:\n"
	"    per_second: 0.5\n"
	"    burst_count: 8\n"
	"  account:\n"
	"    per_second: 0.25\n"
	"  failed_attempts:\n"
	"    per_second: 1.5e-1\n"
	"    burst_count: 4\n"
	"rc_message:\n"
	"  per_second: 2.5\n"
	"  burst_count: 50\n"
	"default_room_version: 11\n"
	"media_store_path: /var/lib/myelin/media\n"
	"max_upload_size: 100M\n"
	"max_request_body_size: 64K\n"
	"http_threads: 4\n"
	"max_connections: 500\n"
	"log_level: WARNING\n";

static void test_synapse_config(void **state)
{
	(void)state;
	struct mx_config cfg;
	char err[512];
	char *path;
	assert_int_equal(load_str(&cfg, synapse_yaml, err, sizeof(err), &path), 0);

	assert_string_equal(cfg.config_path, path);
	assert_string_equal(cfg.config_dir, "/tmp");
	free(path);
	assert_string_equal(cfg.server_name, "example.org");
	assert_string_equal(cfg.public_baseurl, "https://matrix.example.org/");
	assert_true(cfg.serve_server_wellknown);
	assert_string_equal(cfg.serve_server_wellknown_host, "example.org:443");
	assert_string_equal(cfg.extra_well_known_client_content,
			    "{\"org.example.custom\":{\"count\":3,\"enabled\":true,"
			    "\"label\":\"true\",\"list\":[\"a\",1],\"none\":null,\"ratio\":0.5}}");

	/* 2 from the first listener, 1 federation-only, and the admin default;
	 * the metrics listener is skipped. */
	assert_int_equal(cfg.n_listeners, 4);
	const struct mx_config_listener *l = find_listener(&cfg, "::1", 8008);
	assert_non_null(l);
	assert_true(l->x_forwarded);
	assert_int_equal(l->resources, MX_RES_CLIENT | MX_RES_FEDERATION | MX_RES_KEYS |
					       MX_RES_MEDIA | MX_RES_HEALTH);
	l = find_listener(&cfg, "127.0.0.1", 8008);
	assert_non_null(l);
	assert_int_equal(l->resources & MX_RES_ADMIN, 0);
	l = find_listener(&cfg, "0.0.0.0", 8448);
	assert_non_null(l);
	assert_false(l->x_forwarded);
	assert_int_equal(l->resources,
			 MX_RES_FEDERATION | MX_RES_KEYS | MX_RES_MEDIA | MX_RES_HEALTH);
	assert_null(find_listener(&cfg, "0.0.0.0", 9000));
	l = find_listener(&cfg, "127.0.0.1", 8009);
	assert_non_null(l);
	assert_int_equal(l->resources, MX_RES_ADMIN | MX_RES_HEALTH);

	assert_string_equal(cfg.database_engine, "psycopg2");
	assert_null(cfg.database_path);
	assert_string_equal(cfg.database_conninfo,
			    "user='synapse_user' password='it\\'s a \\\\secret' dbname='synapse' "
			    "host='localhost' port='5432'");

	assert_string_equal(cfg.signing_key_path, "/tmp/keys/example.org.signing.key");
	assert_int_equal(cfg.key_valid_for_ms, 2 * 86400000LL);
	assert_true(cfg.enable_registration);
	assert_true(cfg.enable_registration_without_verification);
	assert_true(cfg.registration_requires_token);
	assert_string_equal(cfg.registration_shared_secret, "s3cret");
	assert_false(cfg.allow_guest_access);
	assert_true(cfg.password_login_enabled);
	assert_int_equal(cfg.password_min_length, 12);
	assert_true(cfg.inhibit_user_in_use_error);
	assert_true(cfg.allow_public_rooms_over_federation);
	assert_false(cfg.allow_profile_lookup_over_federation);
	assert_true(cfg.allow_device_name_lookup_over_federation);
	assert_int_equal(cfg.refreshable_access_token_lifetime_ms, 600000);
	assert_int_equal(cfg.refresh_token_lifetime_ms, 86400000);
	assert_int_equal(cfg.nonrefreshable_access_token_lifetime_ms, 7 * 86400000LL);

	assert_true(cfg.rc_registration.per_second == 1.0);
	assert_true(cfg.rc_registration.burst_count == 20.0);
	assert_true(cfg.rc_login_address.per_second == 0.5);
	assert_true(cfg.rc_login_address.burst_count == 8.0);
	assert_true(cfg.rc_login_account.per_second == 0.25);
	assert_true(cfg.rc_login_account.burst_count == 5.0); /* default kept */
	assert_true(cfg.rc_login_failed.per_second == 0.15);
	assert_true(cfg.rc_login_failed.burst_count == 4.0);
	assert_true(cfg.rc_message.per_second == 2.5);
	assert_true(cfg.rc_message.burst_count == 50.0);

	assert_string_equal(cfg.default_room_version, "11");
	assert_string_equal(cfg.media_store_path, "/var/lib/myelin/media");
	assert_int_equal(cfg.max_upload_size, 100LL << 20);
	assert_int_equal(cfg.max_request_body_size, 64LL << 10);
	assert_int_equal(cfg.http_threads, 4);
	assert_int_equal(cfg.max_connections, 500);
	assert_string_equal(cfg.log_level, "warn");
	mx_config_release(&cfg);
	assert_null(cfg.server_name);
	mx_config_release(&cfg); /* idempotent */
}

static void test_defaults(void **state)
{
	(void)state;
	struct mx_config cfg;
	char err[512];
	assert_int_equal(load_str(&cfg, "server_name: example.com:8448\n", err, sizeof(err), NULL),
			 0);
	assert_string_equal(cfg.server_name, "example.com:8448");
	assert_string_equal(cfg.public_baseurl, "https://example.com:8448/");
	assert_false(cfg.serve_server_wellknown);
	assert_null(cfg.serve_server_wellknown_host);
	assert_null(cfg.extra_well_known_client_content);

	assert_int_equal(cfg.n_listeners, 2);
	const struct mx_config_listener *l = find_listener(&cfg, "127.0.0.1", 8008);
	assert_non_null(l);
	assert_int_equal(l->resources, MX_RES_CLIENT | MX_RES_FEDERATION | MX_RES_KEYS |
					       MX_RES_MEDIA | MX_RES_HEALTH);
	assert_false(l->x_forwarded);
	l = find_listener(&cfg, "127.0.0.1", 8009);
	assert_non_null(l);
	assert_int_equal(l->resources & ~MX_RES_HEALTH, MX_RES_ADMIN);

	assert_string_equal(cfg.database_engine, "sqlite3");
	assert_string_equal(cfg.database_path, "/tmp/homeserver.db");
	assert_null(cfg.database_conninfo);
	assert_string_equal(cfg.signing_key_path, "/tmp/example.com:8448.signing.key");
	assert_int_equal(cfg.key_valid_for_ms, 86400000);
	assert_false(cfg.enable_registration);
	assert_false(cfg.enable_registration_without_verification);
	assert_false(cfg.registration_requires_token);
	assert_null(cfg.registration_shared_secret);
	assert_false(cfg.allow_guest_access);
	assert_true(cfg.password_login_enabled);
	assert_int_equal(cfg.password_min_length, 0);
	assert_false(cfg.inhibit_user_in_use_error);
	/* As Synapse: our room list stays ours, profiles are shared. */
	assert_false(cfg.allow_public_rooms_over_federation);
	assert_true(cfg.allow_profile_lookup_over_federation);
	assert_false(cfg.allow_device_name_lookup_over_federation); /* names are private */
	assert_int_equal(cfg.refreshable_access_token_lifetime_ms, 300000);
	assert_int_equal(cfg.refresh_token_lifetime_ms, 0);
	assert_int_equal(cfg.nonrefreshable_access_token_lifetime_ms, 0);
	assert_true(cfg.rc_registration.per_second == 0.17);
	assert_true(cfg.rc_registration.burst_count == 3);
	assert_true(cfg.rc_login_address.per_second == 0.003);
	assert_true(cfg.rc_login_address.burst_count == 5);
	assert_true(cfg.rc_login_account.per_second == 0.003);
	assert_true(cfg.rc_login_account.burst_count == 5);
	assert_true(cfg.rc_login_failed.per_second == 0.17);
	assert_true(cfg.rc_login_failed.burst_count == 3);
	assert_true(cfg.rc_message.per_second == 0.2);
	assert_true(cfg.rc_message.burst_count == 10);
	assert_string_equal(cfg.default_room_version, "12");
	assert_string_equal(cfg.media_store_path, "/tmp/media_store");
	assert_int_equal(cfg.max_upload_size, 50LL << 20);
	assert_int_equal(cfg.max_request_body_size, 1LL << 20);
	assert_int_equal(cfg.http_threads, 0);
	assert_int_equal(cfg.max_connections, 10000);
	assert_string_equal(cfg.log_level, "info");
	mx_config_release(&cfg);
}

static void test_listener_details(void **state)
{
	(void)state;
	struct mx_config cfg;
	char err[512];
	/* An admin listener in the file: no default one is added; default
	 * bind addresses are ::1 and 127.0.0.1; null sections are absent. */
	assert_int_equal(load_str(&cfg,
				  "server_name: localhost\n"
				  "serve_server_wellknown: true\n"
				  "rc_login:\n"
				  "registration_shared_secret: ''\n"
				  "listeners:\n"
				  "  - port: 8080\n"
				  "    resources: [{names: [client, admin, health]}]\n"
				  "database:\n"
				  "  name: sqlite3\n"
				  "  args: {database: ./db/x.db}\n",
				  err, sizeof(err), NULL),
			 0);
	assert_string_equal(cfg.serve_server_wellknown_host, "localhost:443");
	assert_null(cfg.registration_shared_secret);
	assert_int_equal(cfg.n_listeners, 2);
	assert_non_null(find_listener(&cfg, "::1", 8080));
	const struct mx_config_listener *l = find_listener(&cfg, "127.0.0.1", 8080);
	assert_non_null(l);
	assert_int_equal(l->resources, MX_RES_CLIENT | MX_RES_MEDIA | MX_RES_ADMIN | MX_RES_HEALTH);
	assert_string_equal(cfg.database_path, "/tmp/db/x.db");
	assert_true(cfg.rc_login_address.per_second == 0.003);
	mx_config_release(&cfg);

	assert_int_equal(load_str(&cfg,
				  "server_name: '[::1]:8448'\n"
				  "serve_server_wellknown: yes\n"
				  "database: {args: {database: ':memory:'}}\n"
				  "password_config: {enabled: only_for_reauth,\n"
				  "  policy: {enabled: false, minimum_length: 10}}\n",
				  err, sizeof(err), NULL),
			 0);
	assert_string_equal(cfg.serve_server_wellknown_host, "[::1]:8448");
	assert_string_equal(cfg.database_engine, "sqlite3");
	assert_string_equal(cfg.database_path, ":memory:");
	assert_false(cfg.password_login_enabled);
	assert_int_equal(cfg.password_min_length, 0);
	mx_config_release(&cfg);
}

/* tls: true per listener, with the two top-level PEM paths (Synapse's
 * names); relative paths resolve against the config's directory. */
static void test_tls_listeners(void **state)
{
	(void)state;
	struct mx_config cfg;
	char err[512];
	assert_int_equal(load_str(&cfg,
				  "server_name: example.org\n"
				  "tls_certificate_path: certs/fullchain.pem\n"
				  "tls_private_key_path: /etc/ssl/private/example.org.key\n"
				  "listeners:\n"
				  "  - port: 8448\n"
				  "    tls: true\n"
				  "    bind_addresses: ['::', '0.0.0.0']\n"
				  "    resources: [{names: [federation]}]\n"
				  "  - port: 8008\n"
				  "    tls: false\n"
				  "    resources: [{names: [client]}]\n",
				  err, sizeof(err), NULL),
			 0);
	assert_string_equal(cfg.tls_certificate_path, "/tmp/certs/fullchain.pem");
	assert_string_equal(cfg.tls_private_key_path, "/etc/ssl/private/example.org.key");
	assert_int_equal(cfg.n_listeners, 5); /* two TLS, two plain, the admin one */
	for (size_t i = 0; i < cfg.n_listeners; i++)
		assert_true(cfg.listeners[i].tls == (cfg.listeners[i].port == 8448));
	const struct mx_config_listener *l = find_listener(&cfg, "0.0.0.0", 8448);
	assert_non_null(l);
	assert_true(l->tls);
	assert_int_equal(l->resources,
			 MX_RES_FEDERATION | MX_RES_KEYS | MX_RES_MEDIA | MX_RES_HEALTH);
	assert_non_null(find_listener(&cfg, "::", 8448));
	mx_config_release(&cfg);

	/* Paths without a TLS listener are kept and unused; none at all is NULL. */
	assert_int_equal(load_str(&cfg,
				  "server_name: example.org\n"
				  "tls_certificate_path: /c.pem\n"
				  "tls_private_key_path: ~\n",
				  err, sizeof(err), NULL),
			 0);
	assert_string_equal(cfg.tls_certificate_path, "/c.pem");
	assert_null(cfg.tls_private_key_path);
	for (size_t i = 0; i < cfg.n_listeners; i++)
		assert_false(cfg.listeners[i].tls);
	mx_config_release(&cfg);
}

static void test_durations_and_sizes(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		int64_t ms;
	} durations[] = {
		{"500ms", 500},
		{"30s", 30000},
		{"5m", 300000},
		{"1h", 3600000},
		{"1d", 86400000},
		{"2w", 2 * 604800000LL},
		{"1y", 31536000000LL},
		{"12345", 12345},
		{"0", 0},
		{"\"90s\"", 90000},
	};
	static const struct {
		const char *text;
		int64_t bytes;
	} sizes[] = {
		{"100K", 100 << 10},
		{"50M", 50LL << 20},
		{"1G", 1LL << 30},
		{"2g", 2LL << 30},
		{"1T", 1LL << 40},
		{"4096", 4096},
		{"10m", 10LL << 20},
	};
	char yaml[256], err[512];
	struct mx_config cfg;
	for (size_t i = 0; i < MX_ARRAY_LEN(durations); i++) {
		snprintf(yaml, sizeof(yaml),
			 "server_name: a.example\nrefresh_token_lifetime: %s\n",
			 durations[i].text);
		assert_int_equal(load_str(&cfg, yaml, err, sizeof(err), NULL), 0);
		assert_int_equal(cfg.refresh_token_lifetime_ms, durations[i].ms);
		mx_config_release(&cfg);
	}
	for (size_t i = 0; i < MX_ARRAY_LEN(sizes); i++) {
		snprintf(yaml, sizeof(yaml), "server_name: a.example\nmax_upload_size: %s\n",
			 sizes[i].text);
		assert_int_equal(load_str(&cfg, yaml, err, sizeof(err), NULL), 0);
		assert_int_equal(cfg.max_upload_size, sizes[i].bytes);
		mx_config_release(&cfg);
	}
	static const char *const bad_durations[] = {"5x", "-1s", "1.5h", "m", "5 m",
						     "99999999999999999999", "9999999999999y"};
	for (size_t i = 0; i < MX_ARRAY_LEN(bad_durations); i++) {
		snprintf(yaml, sizeof(yaml), "server_name: a.example\nkey_refresh_interval: %s\n",
			 bad_durations[i]);
		assert_int_equal(load_str(&cfg, yaml, err, sizeof(err), NULL), MX_EINVALID);
		assert_non_null(strstr(err, ":2: key_refresh_interval: expected a duration"));
	}
	static const char *const bad_sizes[] = {"5X", "-1", "1.5M", "M", "1MB",
						 "99999999999T"};
	for (size_t i = 0; i < MX_ARRAY_LEN(bad_sizes); i++) {
		snprintf(yaml, sizeof(yaml), "server_name: a.example\nmax_upload_size: %s\n",
			 bad_sizes[i]);
		assert_int_equal(load_str(&cfg, yaml, err, sizeof(err), NULL), MX_EINVALID);
		assert_non_null(strstr(err, ":2: max_upload_size: expected a size"));
	}
}

/* Synapse's media_upload_limits: a list of {time_period, max_size}. */
static void test_media_upload_limits(void **state)
{
	(void)state;
	struct mx_config cfg;
	char err[512];
	assert_int_equal(load_str(&cfg, "server_name: a.example\n", err, sizeof(err), NULL), 0);
	assert_int_equal(cfg.n_media_upload_limits, 0);
	mx_config_release(&cfg);
	assert_int_equal(load_str(&cfg,
				  "server_name: a.example\nmedia_upload_limits:\n"
				  "  - {time_period: 1h, max_size: 100M}\n"
				  "  - time_period: 1d\n    max_size: 1G\n",
				  err, sizeof(err), NULL),
			 0);
	assert_int_equal(cfg.n_media_upload_limits, 2);
	assert_int_equal(cfg.media_upload_limits[0].time_period_ms, 3600LL * 1000);
	assert_int_equal(cfg.media_upload_limits[0].max_size, 100LL << 20);
	assert_int_equal(cfg.media_upload_limits[1].time_period_ms, 24LL * 3600 * 1000);
	assert_int_equal(cfg.media_upload_limits[1].max_size, 1LL << 30);
	mx_config_release(&cfg);
	assert_int_equal(load_str(&cfg, "server_name: a.example\nmedia_upload_limits:\n"
					"  - {max_size: 1M}\n",
				  err, sizeof(err), NULL),
			 MX_EINVALID);
	assert_non_null(strstr(err, "media_upload_limits[0]"));
}

static void test_wrong_types(void **state)
{
	(void)state;
	static const struct {
		const char *yaml;
		const char *want; /* ":line: path: message" */
	} cases[] = {
		{"server_name: x.org\nlisteners:\n  - port: 0\n",
		 ":3: listeners[0].port: expected an integer in 1..65535"},
		{"server_name: x.org\nlisteners:\n  - port: 8008\n  - port: http\n",
		 ":4: listeners[1].port: expected an integer in 1..65535"},
		{"server_name: x.org\nlisteners:\n  - port: 70000\n",
		 ":3: listeners[0].port: expected an integer in 1..65535"},
		{"server_name: x.org\nlisteners:\n  - type: http\n",
		 ":3: listeners[0].port: missing"},
		{"server_name: x.org\nlisteners:\n  - port: 8008\n    tls: true\n",
		 ":4: listeners[0].tls: a TLS listener needs tls_certificate_path"},
		{"server_name: x.org\ntls_certificate_path: /c.pem\nlisteners:\n"
		 "  - port: 8008\n  - port: 8448\n    tls: true\n",
		 ":6: listeners[1].tls: a TLS listener needs tls_private_key_path"},
		{"server_name: x.org\ntls_certificate_path: ''\ntls_private_key_path: k.pem\n"
		 "listeners:\n  - port: 8448\n    tls: yes\n",
		 ":6: listeners[0].tls: a TLS listener needs tls_certificate_path"},
		{"server_name: x.org\nlisteners:\n  - port: 8448\n    tls: sometimes\n",
		 ":4: listeners[0].tls: expected a boolean"},
		{"server_name: x.org\ntls_certificate_path: [a.pem]\n",
		 ":2: tls_certificate_path: expected a string"},
		{"server_name: x.org\ntls_private_key_path: {a: b}\n",
		 ":2: tls_private_key_path: expected a string"},
		{"server_name: x.org\nlisteners:\n  - port: 8008\n    x_forwarded: maybe\n",
		 ":4: listeners[0].x_forwarded: expected a boolean"},
		{"server_name: x.org\nlisteners:\n  - port: 8008\n    bind_addresses: '::'\n",
		 ":4: listeners[0].bind_addresses: expected a list"},
		{"server_name: x.org\nlisteners:\n  - port: 8008\n    bind_addresses: [[a]]\n",
		 ":4: listeners[0].bind_addresses[0]: expected an IP address"},
		{"server_name: x.org\nlisteners:\n  - port: 8008\n    resources:\n"
		 "      - names: [client]\n      - names: [{a: b}]\n",
		 ":6: listeners[0].resources[1].names[0]: expected a string"},
		{"server_name: x.org\nlisteners:\n  - port: 8008\n    resources:\n"
		 "      - names: client\n",
		 ":5: listeners[0].resources[0].names: expected a list"},
		{"server_name: x.org\nlisteners: {port: 8008}\n", ":2: listeners: expected a list"},
		{"server_name: x.org\nlisteners: []\n", ":2: listeners: no HTTP listener"},
		{"server_name: x.org\nlisteners:\n  - port: 8008\n    path: /run/s.sock\n"
		 "  - path: /run/x.sock\n",
		 ":5: listeners[1]: UNIX socket listeners"},
		{"server_name: x.org\nrc_login:\n  address:\n    per_second: fast\n",
		 ":4: rc_login.address.per_second: expected a number"},
		{"server_name: x.org\nrc_login:\n  failed_attempts:\n    burst_count: -1\n",
		 ":4: rc_login.failed_attempts.burst_count: expected a number >= 0"},
		{"server_name: x.org\nrc_message: [1, 2]\n", ":2: rc_message: expected a mapping"},
		{"server_name: x.org\nrc_registration:\n  per_second: .nan\n",
		 ":3: rc_registration.per_second: expected a number"},
		{"server_name: x.org\nenable_registration: 1\n",
		 ":2: enable_registration: expected a boolean"},
		{"server_name: x.org\n\n\nallow_guest_access: [true]\n",
		 ":4: allow_guest_access: expected a boolean"},
		{"server_name: x.org\npassword_config:\n  policy:\n    minimum_length: eight\n",
		 ":4: password_config.policy.minimum_length: expected an integer"},
		{"server_name: x.org\npassword_config:\n  enabled: sometimes\n",
		 ":3: password_config.enabled: expected a boolean"},
		{"server_name: x.org\ndatabase:\n  name: mysql\n",
		 ":3: database.name: expected sqlite3 or psycopg2"},
		{"server_name: x.org\ndatabase:\n  name: psycopg2\n  args:\n    host: [a, b]\n",
		 ":5: database.args.host: expected a string or number"},
		{"server_name: x.org\ndatabase:\n  args:\n    database: {a: 1}\n",
		 ":4: database.args.database: expected a string"},
		{"server_name: x.org\ndatabase: sqlite3\n", ":2: database: expected a mapping"},
		{"server_name: x.org\nsigning_key_path: [a]\n",
		 ":2: signing_key_path: expected a string"},
		{"server_name: x.org\nregistration_shared_secret: {a: b}\n",
		 ":2: registration_shared_secret: expected a string"},
		{"server_name: x.org\nmax_upload_size: [1]\n",
		 ":2: max_upload_size: expected a size"},
		{"server_name: x.org\nhttp_threads: -1\n",
		 ":2: http_threads: expected an integer in 0..1024"},
		{"server_name: x.org\nmax_connections: many\n",
		 ":2: max_connections: expected an integer in 1..1000000"},
		{"server_name: x.org\nmax_request_body_size: 10\n",
		 ":2: max_request_body_size: must be at least 1K"},
		{"server_name: x.org\nlog_level: loud\n", ":2: log_level: expected one of"},
		{"server_name: x.org\npublic_baseurl: ftp://x.org/\n",
		 ":2: public_baseurl: expected an http:// or https:// URL"},
		{"server_name: x.org\nextra_well_known_client_content: [a]\n",
		 ":2: extra_well_known_client_content: expected a mapping"},
		{"server_name: x.org\nextra_well_known_client_content:\n  a: &x [*x]\n",
		 "extra_well_known_client_content.a[0][0]"},
		{"server_name: 'bad name'\n", ":1: server_name: expected a hostname"},
		{"server_name: x.org:99999\n", ":1: server_name: expected a hostname"},
		{"server_name: [x.org]\n", ":1: server_name: expected a string"},
		{"server_name: \"x\\0y\"\n", ":1: server_name: contains a NUL"},
		{"- a\n- b\n", ":1: (top level): expected a mapping"},
		{"server_name: x.org\nlisteners: [\n", "invalid YAML"},
		{"server_name: x.org\nlisteners: *nope\n", "invalid YAML"},
	};
	char err[512];
	struct mx_config cfg;
	for (size_t i = 0; i < MX_ARRAY_LEN(cases); i++) {
		char *path;
		int rc = load_str(&cfg, cases[i].yaml, err, sizeof(err), &path);
		if (rc != MX_EINVALID || !strstr(err, cases[i].want) ||
		    strncmp(err, path, strlen(path)))
			fail_msg("case %zu: rc %d, err \"%s\", want \"%s\"", i, rc, err,
				 cases[i].want);
		assert_null(cfg.server_name); /* released on failure */
		assert_null(cfg.listeners);
		free(path);
	}
}

static void test_missing_server_name(void **state)
{
	(void)state;
	static const char *const yamls[] = {"", "# nothing\n", "server_name:\n",
					    "public_baseurl: https://x.org/\n", "~\n"};
	char err[512];
	struct mx_config cfg;
	for (size_t i = 0; i < MX_ARRAY_LEN(yamls); i++) {
		assert_int_equal(load_str(&cfg, yamls[i], err, sizeof(err), NULL), MX_EINVALID);
		assert_non_null(strstr(err, "server_name: missing"));
	}
	/* A file that cannot be read. */
	assert_int_equal(mx_config_load(&cfg, "/nonexistent/homeserver.yaml", err, sizeof(err)),
			 MX_EIO);
	assert_non_null(strstr(err, "/nonexistent/homeserver.yaml: cannot open"));
	/* A tiny or absent error buffer is fine. */
	assert_int_equal(load_str(&cfg, "", err, 8, NULL), MX_EINVALID);
	assert_int_equal(strlen(err), 7);
	assert_int_equal(load_str(&cfg, "", NULL, 0, NULL), MX_EINVALID);
}

static char *make_tmpdir(void)
{
	char *dir = mx_xstrdup("/tmp/myelin-test-gen-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return dir;
}

static void test_generate_roundtrip(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	char *conf = mx_xasprintf("%s/etc/homeserver.yaml", dir);
	char *data = mx_xasprintf("%s/var/data", dir);
	char err[512];
	struct mx_config cfg;

	assert_int_equal(mx_config_generate(conf, "example.net", data, true, err, sizeof(err)), 0);
	struct stat st;
	assert_int_equal(stat(conf, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(data, &st), 0);
	assert_true(S_ISDIR(st.st_mode));

	assert_int_equal(mx_config_load(&cfg, conf, err, sizeof(err)), 0);
	assert_string_equal(cfg.server_name, "example.net");
	assert_string_equal(cfg.public_baseurl, "https://example.net/");
	assert_int_equal(cfg.n_listeners, 2);
	const struct mx_config_listener *l = find_listener(&cfg, "127.0.0.1", 8008);
	assert_non_null(l);
	assert_int_equal(l->resources, MX_RES_CLIENT | MX_RES_FEDERATION | MX_RES_KEYS |
					       MX_RES_MEDIA | MX_RES_HEALTH);
	l = find_listener(&cfg, "127.0.0.1", 8009);
	assert_non_null(l);
	assert_int_equal(l->resources & ~MX_RES_HEALTH, MX_RES_ADMIN);
	assert_string_equal(cfg.database_engine, "sqlite3");
	char *want = mx_xasprintf("%s/homeserver.db", data);
	assert_string_equal(cfg.database_path, want);
	free(want);
	want = mx_xasprintf("%s/example.net.signing.key", data);
	assert_string_equal(cfg.signing_key_path, want);
	free(want);
	want = mx_xasprintf("%s/media_store", data);
	assert_string_equal(cfg.media_store_path, want);
	free(want);
	assert_true(cfg.enable_registration);
	assert_non_null(cfg.registration_shared_secret);
	assert_int_equal(strlen(cfg.registration_shared_secret), 32);
	assert_true(cfg.rc_message.per_second == 0.2);
	assert_true(cfg.rc_login_address.per_second == 0.003);
	assert_true(cfg.rc_login_failed.burst_count == 3);
	assert_int_equal(cfg.max_upload_size, 50LL << 20);
	assert_int_equal(cfg.refreshable_access_token_lifetime_ms, 300000);
	assert_string_equal(cfg.default_room_version, "12");
	/* TLS is only an example in comments. */
	assert_null(cfg.tls_certificate_path);
	assert_null(cfg.tls_private_key_path);
	for (size_t i = 0; i < cfg.n_listeners; i++)
		assert_false(cfg.listeners[i].tls);
	char *secret = mx_xstrdup(cfg.registration_shared_secret);
	mx_config_release(&cfg);

	/* A second file gets a different secret; localhost gets plain http. */
	char *conf2 = mx_xasprintf("%s/etc/local.yaml", dir);
	assert_int_equal(mx_config_generate(conf2, "localhost", data, false, err, sizeof(err)), 0);
	assert_int_equal(mx_config_load(&cfg, conf2, err, sizeof(err)), 0);
	assert_string_equal(cfg.public_baseurl, "http://127.0.0.1:8008/");
	assert_false(cfg.enable_registration);
	assert_string_not_equal(cfg.registration_shared_secret, secret);
	mx_config_release(&cfg);
	free(secret);

	unlink(conf);
	unlink(conf2);
	char *p = mx_xasprintf("%s/etc", dir);
	assert_int_equal(rmdir(p), 0); /* no temp files left behind */
	free(p);
	rmdir(data);
	p = mx_xasprintf("%s/var", dir);
	rmdir(p);
	free(p);
	rmdir(dir);
	free(conf2);
	free(conf);
	free(data);
	free(dir);
}

static void test_generate_refuses_overwrite(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	char *conf = mx_xasprintf("%s/homeserver.yaml", dir);
	char err[512];
	FILE *f = fopen(conf, "w");
	assert_non_null(f);
	fputs("server_name: keep.me\n", f);
	fclose(f);

	assert_int_equal(mx_config_generate(conf, "example.net", dir, false, err, sizeof(err)),
			 MX_EIO);
	assert_non_null(strstr(err, "already exists"));
	struct mx_config cfg;
	assert_int_equal(mx_config_load(&cfg, conf, err, sizeof(err)), 0);
	assert_string_equal(cfg.server_name, "keep.me");
	mx_config_release(&cfg);

	assert_int_equal(mx_config_generate(conf, "bad name", dir, false, err, sizeof(err)),
			 MX_EINVALID);

	unlink(conf);
	assert_int_equal(rmdir(dir), 0);
	free(conf);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_synapse_config),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_media_upload_limits),
		cmocka_unit_test(test_listener_details),
		cmocka_unit_test(test_tls_listeners),
		cmocka_unit_test(test_durations_and_sizes),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_missing_server_name),
		cmocka_unit_test(test_generate_roundtrip),
		cmocka_unit_test(test_generate_refuses_overwrite),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
