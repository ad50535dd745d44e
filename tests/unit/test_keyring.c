/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for federation/keyring and store/server_keys against a
 * temporary SQLite database: the checks on a key response (a good one
 * passes; a wrong server_name, a missing or bad self-signature, an expired
 * or malformed one fails), a notary's pinned signature, the validity rule
 * (at_ts against valid_until_ts capped at 7 days, old keys before
 * expired_ts), the store round trip and its newest-wins rule, the memory
 * cache in front of it, fetching without a network, and the
 * trusted_key_servers config key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testdb.h"

#include "core/base64.h"
#include "core/canonjson.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/mem.h"
#include "core/server.h"
#include "crypto/keys.h"
#include "crypto/sign.h"
#include "federation/keyring.h"
#include "store/server_keys.h"

#define DAY_MS (86400LL * 1000)
#define REMOTE "remote.example"

struct fixture {
	struct mx_test_db t;
	struct mx_config cfg;
	struct mx_signing_key own;    /* our server's key */
	struct mx_signing_key remote; /* remote.example's ed25519:a1 */
	struct mx_signing_key remote2; /* remote.example's ed25519:a2 */
	struct mx_server srv;
	struct mx_worker w;
};

static void seeded_key(struct mx_signing_key *k, const char *version, unsigned char fill)
{
	unsigned char seed[32];
	memset(seed, fill, sizeof(seed));
	assert_int_equal(mx_signing_key_from_seed(k, version, seed), 0);
}

static int setup(void **state)
{
	struct fixture *f = mx_xcalloc(1, sizeof(*f));
	if (mx_test_db_open(&f->t, "keyring"))
		return -1;
	f->cfg.server_name = "myelin.test";
	seeded_key(&f->own, "own", 1);
	seeded_key(&f->remote, "a1", 2);
	seeded_key(&f->remote2, "a2", 3);
	f->srv.cfg = &f->cfg;
	f->srv.key = &f->own;
	f->srv.db = f->t.db;
	f->w.srv = &f->srv;
	f->w.rconn = f->t.rc;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	mx_test_db_close(&f->t);
	free(f);
	return 0;
}

static char *b64(const unsigned char pk[32])
{
	return mx_base64_encode(pk, 32, MX_BASE64_STD);
}

/* {server_name, valid_until_ts, verify_keys: {k's id: k}} signed by k. */
static json_t *response(const char *server, int64_t vut, const struct mx_signing_key *k)
{
	char *pk = b64(k->pk);
	json_t *doc = json_pack("{s:s, s:I, s:{s:{s:s}}, s:{}}", "server_name", server,
				"valid_until_ts", (json_int_t)vut, "verify_keys", k->key_id, "key",
				pk, "old_verify_keys");
	free(pk);
	return doc;
}

static void sign(json_t *doc, const char *server, const struct mx_signing_key *k)
{
	assert_int_equal(mx_sign_json(doc, server, k), 0);
}

static json_t *good(struct fixture *f, int64_t vut)
{
	json_t *doc = response(REMOTE, vut, &f->remote);
	sign(doc, REMOTE, &f->remote);
	return doc;
}

/* ---- mx_keyring_check_response ------------------------------------------------ */

static void test_check_good(void **state)
{
	struct fixture *f = *state;
	int64_t now = mx_clock_now_ms();
	json_t *doc = response(REMOTE, now + DAY_MS, &f->remote);
	/* An old key, and keys of other algorithms (ignored). */
	char *old = b64(f->remote2.pk);
	json_object_set_new(json_object_get(doc, "old_verify_keys"), "ed25519:old",
			    json_pack("{s:s, s:I}", "key", old, "expired_ts", (json_int_t)1000));
	json_object_set_new(json_object_get(doc, "verify_keys"), "curve25519:x",
			    json_pack("{s:s}", "key", "whatever"));
	free(old);
	sign(doc, REMOTE, &f->remote);
	/* A notary's signature besides is fine. */
	sign(doc, "notary.example", &f->remote2);

	struct mx_key_response r;
	assert_int_equal(mx_keyring_check_response(doc, REMOTE, now, &r), 0);
	assert_int_equal(r.valid_until_ts, now + DAY_MS);
	assert_int_equal(r.n_keys, 2);
	assert_string_equal(r.keys[0].key_id, "ed25519:a1");
	assert_memory_equal(r.keys[0].pk, f->remote.pk, 32);
	assert_int_equal(r.keys[0].expired_ts, 0);
	assert_string_equal(r.keys[1].key_id, "ed25519:old");
	assert_memory_equal(r.keys[1].pk, f->remote2.pk, 32);
	assert_int_equal(r.keys[1].expired_ts, 1000);
	json_decref(doc);
}

static void test_check_wrong_server(void **state)
{
	struct fixture *f = *state;
	json_t *doc = good(f, mx_clock_now_ms() + DAY_MS);
	struct mx_key_response r;
	assert_int_equal(mx_keyring_check_response(doc, "other.example", 0, &r), MX_EFORBIDDEN);
	assert_int_equal(mx_keyring_check_response(doc, "remote.example.", 0, &r), MX_EFORBIDDEN);
	json_decref(doc);
	/* Self-signed, but naming another server. */
	doc = response("other.example", mx_clock_now_ms() + DAY_MS, &f->remote);
	sign(doc, REMOTE, &f->remote);
	sign(doc, "other.example", &f->remote);
	assert_int_equal(mx_keyring_check_response(doc, REMOTE, 0, &r), MX_EFORBIDDEN);
	json_decref(doc);
}

static void test_check_signatures(void **state)
{
	struct fixture *f = *state;
	int64_t vut = mx_clock_now_ms() + DAY_MS;
	struct mx_key_response r;

	/* Not signed at all. */
	json_t *doc = response(REMOTE, vut, &f->remote);
	assert_int_equal(mx_keyring_check_response(doc, REMOTE, 0, &r), MX_EFORBIDDEN);
	/* Signed by another key under the listed key's id. */
	struct mx_signing_key impostor;
	seeded_key(&impostor, "a1", 9);
	sign(doc, REMOTE, &impostor);
	assert_int_equal(mx_keyring_check_response(doc, REMOTE, 0, &r), MX_EFORBIDDEN);
	json_decref(doc);
	/* Signed, then changed. */
	doc = good(f, vut);
	json_object_set_new(doc, "valid_until_ts", json_integer(vut + 1));
	assert_int_equal(mx_keyring_check_response(doc, REMOTE, 0, &r), MX_EFORBIDDEN);
	json_decref(doc);
	/* Signed by one of two listed keys only: every key must sign. */
	doc = response(REMOTE, vut, &f->remote);
	char *pk2 = b64(f->remote2.pk);
	json_object_set_new(json_object_get(doc, "verify_keys"), f->remote2.key_id,
			    json_pack("{s:s}", "key", pk2));
	free(pk2);
	sign(doc, REMOTE, &f->remote);
	assert_int_equal(mx_keyring_check_response(doc, REMOTE, 0, &r), MX_EFORBIDDEN);
	sign(doc, REMOTE, &f->remote2);
	assert_int_equal(mx_keyring_check_response(doc, REMOTE, 0, &r), 0);
	assert_int_equal(r.n_keys, 2);
	json_decref(doc);
	/* Signed by the key but as another entity. */
	doc = response(REMOTE, vut, &f->remote);
	sign(doc, "evil.example", &f->remote);
	assert_int_equal(mx_keyring_check_response(doc, REMOTE, 0, &r), MX_EFORBIDDEN);
	json_decref(doc);
	mx_signing_key_release(&impostor);
}

static void test_check_expired(void **state)
{
	struct fixture *f = *state;
	int64_t now = mx_clock_now_ms();
	struct mx_key_response r;
	json_t *doc = good(f, now - 1);
	assert_int_equal(mx_keyring_check_response(doc, REMOTE, now, &r), MX_EFORBIDDEN);
	/* Fine for an older point in time (a notary's copy, for old events). */
	assert_int_equal(mx_keyring_check_response(doc, REMOTE, now - 1, &r), 0);
	json_decref(doc);
}

static void test_check_malformed(void **state)
{
	struct fixture *f = *state;
	int64_t vut = mx_clock_now_ms() + DAY_MS;
	struct mx_key_response r;
	json_t *doc;

	doc = json_pack("[]");
	assert_int_equal(mx_keyring_check_response(doc, REMOTE, 0, &r), MX_EBADJSON);
	json_decref(doc);
	assert_int_equal(mx_keyring_check_response(NULL, REMOTE, 0, &r), MX_EBADJSON);

	/* Each of these is changed after signing: the shape is refused first. */
	static const char *const drop[] = {"server_name", "valid_until_ts", "verify_keys"};
	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++) {
		doc = good(f, vut);
		json_object_del(doc, drop[i]);
		assert_int_equal(mx_keyring_check_response(doc, REMOTE, 0, &r), MX_EBADJSON);
		json_decref(doc);
	}
	doc = good(f, vut);
	json_object_set_new(doc, "valid_until_ts", json_string("soon"));
	assert_int_equal(mx_keyring_check_response(doc, REMOTE, 0, &r), MX_EBADJSON);
	json_decref(doc);
	doc = good(f, -5);
	assert_int_equal(mx_keyring_check_response(doc, REMOTE, INT64_MIN, &r), MX_EBADJSON);
	json_decref(doc);
	doc = good(f, vut);
	json_object_set_new(doc, "verify_keys", json_array());
	assert_int_equal(mx_keyring_check_response(doc, REMOTE, 0, &r), MX_EBADJSON);
	json_decref(doc);
	doc = good(f, vut);
	json_object_set_new(doc, "old_verify_keys", json_string("x"));
	assert_int_equal(mx_keyring_check_response(doc, REMOTE, 0, &r), MX_EBADJSON);
	json_decref(doc);

	/* A key that is not base64 of 32 bytes. */
	doc = response(REMOTE, vut, &f->remote);
	json_object_set_new(json_object_get(json_object_get(doc, "verify_keys"), "ed25519:a1"),
			    "key", json_string("AAAA"));
	sign(doc, REMOTE, &f->remote);
	assert_int_equal(mx_keyring_check_response(doc, REMOTE, 0, &r), MX_EBADJSON);
	json_decref(doc);

	/* An old key without expired_ts. */
	doc = response(REMOTE, vut, &f->remote);
	char *pk = b64(f->remote2.pk);
	json_object_set_new(json_object_get(doc, "old_verify_keys"), "ed25519:old",
			    json_pack("{s:s}", "key", pk));
	free(pk);
	sign(doc, REMOTE, &f->remote);
	assert_int_equal(mx_keyring_check_response(doc, REMOTE, 0, &r), MX_EBADJSON);
	json_decref(doc);

	/* No ed25519 key at all. */
	doc = json_pack("{s:s, s:I, s:{s:{s:s}}}", "server_name", REMOTE, "valid_until_ts",
			(json_int_t)vut, "verify_keys", "curve25519:x", "key", "abc");
	assert_int_equal(mx_keyring_check_response(doc, REMOTE, 0, &r), MX_EFORBIDDEN);
	json_decref(doc);

	/* Too many keys. */
	doc = response(REMOTE, vut, &f->remote);
	pk = b64(f->remote2.pk);
	for (int i = 0; i < MX_KEYRING_MAX_KEYS + 1; i++) {
		char id[32];
		snprintf(id, sizeof(id), "ed25519:old%d", i);
		json_object_set_new(json_object_get(doc, "old_verify_keys"), id,
				    json_pack("{s:s, s:I}", "key", pk, "expired_ts", (json_int_t)5));
	}
	free(pk);
	sign(doc, REMOTE, &f->remote);
	assert_int_equal(mx_keyring_check_response(doc, REMOTE, 0, &r), MX_ETOOLARGE);
	json_decref(doc);
}

static void test_check_notary(void **state)
{
	struct fixture *f = *state;
	struct mx_config_key_server n;
	memset(&n, 0, sizeof(n));
	memcpy(n.server_name, "notary.example", sizeof("notary.example"));
	json_t *doc = good(f, mx_clock_now_ms() + DAY_MS);

	/* Unpinned: trusted on its certificate. */
	assert_int_equal(mx_keyring_check_notary(doc, &n), 0);
	/* Pinned, but the notary has not signed. */
	n.n_verify_keys = 1;
	memcpy(n.verify_keys[0].key_id, f->remote2.key_id, strlen(f->remote2.key_id) + 1);
	memcpy(n.verify_keys[0].key, f->remote2.pk, 32);
	assert_int_equal(mx_keyring_check_notary(doc, &n), MX_EFORBIDDEN);
	/* Signed with the pinned key. */
	sign(doc, "notary.example", &f->remote2);
	assert_int_equal(mx_keyring_check_notary(doc, &n), 0);
	/* Signed under the pinned id with another key. */
	memcpy(n.verify_keys[0].key, f->remote.pk, 32);
	assert_int_equal(mx_keyring_check_notary(doc, &n), MX_EFORBIDDEN);
	json_decref(doc);
}

/* ---- validity ------------------------------------------------------------------ */

static void test_key_usable(void **state)
{
	(void)state;
	int64_t fetched = 1000000;
	/* Current keys: up to valid_until_ts inclusive. */
	assert_true(mx_keyring_key_usable(fetched + 5000, fetched, 0, fetched + 5000));
	assert_false(mx_keyring_key_usable(fetched + 5000, fetched, 0, fetched + 5001));
	assert_true(mx_keyring_key_usable(fetched + 5000, fetched, 0, 0));
	/* ... and never past 7 days after the fetch. */
	int64_t far = fetched + 365 * DAY_MS;
	assert_true(mx_keyring_key_usable(far, fetched, 0, fetched + 7 * DAY_MS));
	assert_false(mx_keyring_key_usable(far, fetched, 0, fetched + 7 * DAY_MS + 1));
	/* Old keys: strictly before expired_ts, whatever valid_until_ts says. */
	assert_true(mx_keyring_key_usable(0, fetched, 5000, 4999));
	assert_false(mx_keyring_key_usable(far, fetched, 5000, 5000));
	/* No overflow at the edges. */
	assert_true(mx_keyring_key_usable(INT64_MAX, INT64_MAX - 10, 0, INT64_MAX));
}

/* ---- store ---------------------------------------------------------------------- */

static void test_store_round_trip(void **state)
{
	struct fixture *f = *state;
	struct mx_server_key keys[2];
	memset(keys, 0, sizeof(keys));
	memcpy(keys[0].key_id, "ed25519:a1", sizeof("ed25519:a1"));
	memcpy(keys[0].pk, f->remote.pk, 32);
	memcpy(keys[1].key_id, "ed25519:old", sizeof("ed25519:old"));
	memcpy(keys[1].pk, f->remote2.pk, 32);
	keys[1].expired_ts = 777;
	assert_int_equal(mx_store_server_keys_put(f->t.db, REMOTE, REMOTE, "{\"v\":1}", 5000, 100,
						  keys, 2),
			 0);

	struct mx_server_key_row row;
	assert_int_equal(mx_store_server_key_get(f->t.rc, &f->t.a, REMOTE, "ed25519:a1", &row), 0);
	assert_string_equal(row.server_name, REMOTE);
	assert_string_equal(row.key_id, "ed25519:a1");
	assert_memory_equal(row.pk, f->remote.pk, 32);
	assert_int_equal(row.valid_until_ts, 5000);
	assert_int_equal(row.expired_ts, 0);
	assert_int_equal(row.fetched_ts, 100);
	assert_string_equal(row.from_server, REMOTE);
	assert_string_equal(row.key_json, "{\"v\":1}");
	assert_int_equal(mx_store_server_key_get(f->t.rc, &f->t.a, REMOTE, "ed25519:old", &row), 0);
	assert_int_equal(row.expired_ts, 777);
	assert_int_equal(mx_store_server_key_get(f->t.rc, &f->t.a, REMOTE, "ed25519:zz", &row),
			 MX_ENOTFOUND);
	assert_int_equal(mx_store_server_key_get(f->t.rc, &f->t.a, "x.example", "ed25519:a1", &row),
			 MX_ENOTFOUND);

	/* An older response (a notary's stale copy) does not replace it... */
	assert_int_equal(mx_store_server_keys_put(f->t.db, REMOTE, "notary.example", "{\"v\":0}",
						  4000, 200, keys, 1),
			 0);
	assert_int_equal(mx_store_server_key_get(f->t.rc, &f->t.a, REMOTE, "ed25519:a1", &row), 0);
	assert_string_equal(row.key_json, "{\"v\":1}");
	assert_string_equal(row.from_server, REMOTE);
	/* ... a newer one does, key by key. */
	keys[0].expired_ts = 4500; /* now an old key */
	assert_int_equal(mx_store_server_keys_put(f->t.db, REMOTE, REMOTE, "{\"v\":2}", 9000, 300,
						  keys, 1),
			 0);
	assert_int_equal(mx_store_server_key_get(f->t.rc, &f->t.a, REMOTE, "ed25519:a1", &row), 0);
	assert_string_equal(row.key_json, "{\"v\":2}");
	assert_int_equal(row.expired_ts, 4500);
	assert_int_equal(row.fetched_ts, 300);

	/* Listing: freshest first. */
	struct mx_server_key_row *rows;
	size_t n;
	assert_int_equal(mx_store_server_keys_list(f->t.rc, &f->t.a, REMOTE, 10, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].key_id, "ed25519:a1");
	assert_string_equal(rows[0].key_json, "{\"v\":2}");
	assert_string_equal(rows[1].key_id, "ed25519:old");
	assert_int_equal(mx_store_server_keys_list(f->t.rc, &f->t.a, REMOTE, 1, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(mx_store_server_keys_list(f->t.rc, &f->t.a, "x.example", 10, &rows, &n), 0);
	assert_int_equal(n, 0);
	assert_null(rows);
}

/* ---- the keyring --------------------------------------------------------------- */

static void test_keyring_cache(void **state)
{
	struct fixture *f = *state;
	struct mx_keyring *kr;
	unsigned char pk[32];
	int64_t now = mx_clock_now_ms();
	assert_int_equal(mx_keyring_new(&f->srv, &kr), 0);

	/* Our own key is always there, and only it. */
	assert_int_equal(mx_keyring_lookup_cached(kr, "myelin.test", f->own.key_id, now, pk), 0);
	assert_memory_equal(pk, f->own.pk, 32);
	assert_int_equal(mx_keyring_lookup_cached(kr, "myelin.test", "ed25519:other", now, pk),
			 MX_ENOTFOUND);
	assert_int_equal(mx_keyring_get(kr, &f->w, "myelin.test", "ed25519:other", now, pk),
			 MX_ENOTFOUND);
	assert_int_equal(mx_keyring_lookup_cached(kr, REMOTE, "ed25519:a1", now, pk),
			 MX_ENOTFOUND);

	/* A response with a current key and an old one. */
	json_t *doc = response(REMOTE, now + DAY_MS, &f->remote);
	char *old = b64(f->remote2.pk);
	json_object_set_new(json_object_get(doc, "old_verify_keys"), "ed25519:old",
			    json_pack("{s:s, s:I}", "key", old, "expired_ts", (json_int_t)(now - DAY_MS)));
	free(old);
	sign(doc, REMOTE, &f->remote);
	sign(doc, "notary.example", &f->remote2);
	assert_int_equal(mx_keyring_add_response(kr, doc, "wrong.example", REMOTE, now, now),
			 MX_EFORBIDDEN);
	assert_int_equal(mx_keyring_add_response(kr, doc, REMOTE, "notary.example", now, now), 0);
	json_decref(doc);

	assert_int_equal(mx_keyring_lookup_cached(kr, REMOTE, "ed25519:a1", now, pk), 0);
	assert_memory_equal(pk, f->remote.pk, 32);
	assert_int_equal(mx_keyring_lookup_cached(kr, REMOTE, "ed25519:a1", now + DAY_MS, pk), 0);
	assert_int_equal(mx_keyring_lookup_cached(kr, REMOTE, "ed25519:a1", now + DAY_MS + 1, pk),
			 MX_ENOTFOUND);
	assert_int_equal(mx_keyring_lookup_cached(kr, REMOTE, "ed25519:old", now - DAY_MS - 1, pk),
			 0);
	assert_memory_equal(pk, f->remote2.pk, 32);
	assert_int_equal(mx_keyring_lookup_cached(kr, REMOTE, "ed25519:old", now - DAY_MS, pk),
			 MX_ENOTFOUND);

	/* What was stored: the server's own signature only, for the notary API. */
	struct mx_server_key_row row;
	assert_int_equal(mx_store_server_key_get(f->t.rc, &f->t.a, REMOTE, "ed25519:a1", &row), 0);
	assert_string_equal(row.from_server, "notary.example");
	json_t *stored = mx_json_parse_strict(row.key_json, strlen(row.key_json), NULL);
	assert_non_null(stored);
	assert_int_equal(json_object_size(json_object_get(stored, "signatures")), 1);
	struct mx_key_response r;
	assert_int_equal(mx_keyring_check_response(stored, REMOTE, now, &r), 0);
	json_decref(stored);
	mx_keyring_free(kr);

	/* A fresh keyring finds the keys in the database. */
	assert_int_equal(mx_keyring_new(&f->srv, &kr), 0);
	assert_int_equal(mx_keyring_lookup_cached(kr, REMOTE, "ed25519:a1", now, pk),
			 MX_ENOTFOUND);
	assert_int_equal(mx_keyring_get(kr, &f->w, REMOTE, "ed25519:a1", now, pk), 0);
	assert_memory_equal(pk, f->remote.pk, 32);
	assert_int_equal(mx_keyring_lookup_cached(kr, REMOTE, "ed25519:a1", now, pk), 0);
	assert_int_equal(mx_keyring_get(kr, NULL, REMOTE, "ed25519:old", now - DAY_MS - 1, pk), 0);
	assert_memory_equal(pk, f->remote2.pk, 32);

	/* Unknown: no network here, so the server cannot be asked. */
	assert_int_equal(mx_keyring_get(kr, &f->w, "nowhere.example", "ed25519:a1", now, pk),
			 MX_EREMOTE);
	/* Asked again at once: the last attempt's outcome, no new fetch. */
	assert_int_equal(mx_keyring_get(kr, &f->w, "nowhere.example", "ed25519:a2", now, pk),
			 MX_EREMOTE);
	/* Known server, key valid only until a day from now. */
	assert_int_equal(mx_keyring_get(kr, &f->w, REMOTE, "ed25519:a1", now + 2 * DAY_MS, pk),
			 MX_EREMOTE);
	/* Bad names are never fetched. */
	assert_int_equal(mx_keyring_get(kr, &f->w, "bad name", "ed25519:a1", now, pk),
			 MX_ENOTFOUND);
	assert_int_equal(mx_keyring_refresh(kr, NULL, "bad name", now), MX_EINVALID);
	assert_int_equal(mx_keyring_refresh(kr, NULL, "myelin.test", now), MX_EINVALID);
	assert_int_equal(mx_keyring_refresh(kr, NULL, "nowhere2.example", now), MX_EREMOTE);
	mx_keyring_free(kr);
}

static void test_keyring_newest_wins(void **state)
{
	struct fixture *f = *state;
	struct mx_keyring *kr;
	unsigned char pk[32];
	int64_t now = mx_clock_now_ms();
	assert_int_equal(mx_keyring_new(&f->srv, &kr), 0);
	json_t *fresh = good(f, now + 2 * DAY_MS), *stale = good(f, now + DAY_MS);
	assert_int_equal(mx_keyring_add_response(kr, fresh, REMOTE, REMOTE, now, now), 0);
	assert_int_equal(mx_keyring_add_response(kr, stale, REMOTE, "notary.example", now, now), 0);
	/* The stale copy did not shorten what we believe. */
	assert_int_equal(mx_keyring_lookup_cached(kr, REMOTE, "ed25519:a1", now + DAY_MS + 1, pk),
			 0);
	json_decref(fresh);
	json_decref(stale);
	/* A valid_until_ts a year away is believed for 7 days only. */
	json_t *far = good(f, now + 365 * DAY_MS);
	assert_int_equal(mx_keyring_add_response(kr, far, REMOTE, REMOTE, now, now), 0);
	assert_int_equal(mx_keyring_lookup_cached(kr, REMOTE, "ed25519:a1", now + 7 * DAY_MS, pk),
			 0);
	assert_int_equal(
		mx_keyring_lookup_cached(kr, REMOTE, "ed25519:a1", now + 7 * DAY_MS + 1, pk),
		MX_ENOTFOUND);
	json_decref(far);
	mx_keyring_free(kr);
}

/* ---- config: trusted_key_servers ------------------------------------------------ */

static int load(const char *yaml, struct mx_config *cfg, char *err, size_t errlen)
{
	char path[] = "/tmp/myelin-keyring-cfg-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
	int rc = mx_config_load(cfg, path, err, errlen);
	unlink(path);
	return rc;
}

static void test_config_trusted_key_servers(void **state)
{
	(void)state;
	struct mx_config cfg;
	char err[512];

	/* Absent: Synapse's default, matrix.org unpinned. */
	assert_int_equal(load("server_name: a.test\n", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.n_trusted_key_servers, 1);
	assert_string_equal(cfg.trusted_key_servers[0].server_name, "matrix.org");
	assert_int_equal(cfg.trusted_key_servers[0].n_verify_keys, 0);
	mx_config_release(&cfg);

	/* None. */
	assert_int_equal(load("server_name: a.test\ntrusted_key_servers: []\n", &cfg, err,
			      sizeof(err)),
			 0);
	assert_int_equal(cfg.n_trusted_key_servers, 0);
	mx_config_release(&cfg);
	assert_int_equal(load("server_name: a.test\ntrusted_key_servers:\n", &cfg, err,
			      sizeof(err)),
			 0);
	assert_int_equal(cfg.n_trusted_key_servers, 0);
	mx_config_release(&cfg);

	/* Pinned keys, Synapse's format. */
	assert_int_equal(load("server_name: a.test\n"
			      "trusted_key_servers:\n"
			      "  - server_name: \"matrix.org\"\n"
			      "    verify_keys:\n"
			      "      \"ed25519:auto\": \"Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw\"\n"
			      "  - server_name: notary.example:8448\n"
			      "    accept_keys_insecurely: true\n",
			      &cfg, err, sizeof(err)),
			 0);
	assert_int_equal(cfg.n_trusted_key_servers, 2);
	assert_string_equal(cfg.trusted_key_servers[0].server_name, "matrix.org");
	assert_int_equal(cfg.trusted_key_servers[0].n_verify_keys, 1);
	assert_string_equal(cfg.trusted_key_servers[0].verify_keys[0].key_id, "ed25519:auto");
	unsigned char want[32];
	assert_int_equal(mx_base64_decode_exact("Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw",
						MX_BASE64_STD, want, 32),
			 0);
	assert_memory_equal(cfg.trusted_key_servers[0].verify_keys[0].key, want, 32);
	assert_string_equal(cfg.trusted_key_servers[1].server_name, "notary.example:8448");
	assert_true(cfg.trusted_key_servers[1].accept_keys_insecurely);
	mx_config_release(&cfg);

	/* Refused. */
	static const char *const bad[] = {
		"trusted_key_servers: matrix.org\n",
		"trusted_key_servers:\n  - matrix.org\n",
		"trusted_key_servers:\n  - verify_keys: {}\n",
		"trusted_key_servers:\n  - server_name: \"bad name\"\n",
		("trusted_key_servers:\n  - server_name: m.org\n    verify_keys:\n"
		 "      \"ed25519:auto\": \"AAAA\"\n"),
		("trusted_key_servers:\n  - server_name: m.org\n    verify_keys:\n"
		 "      \"rsa:1\": \"Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw\"\n"),
		"trusted_key_servers:\n  - server_name: m.org\n    verify_keys: [1]\n",
		/* Unpinned without certificate checks. */
		("federation_verify_certificates: false\n"
		 "trusted_key_servers:\n  - server_name: m.org\n"),
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char yaml[1024];
		snprintf(yaml, sizeof(yaml), "server_name: a.test\n%s", bad[i]);
		if (load(yaml, &cfg, err, sizeof(err)) != MX_EINVALID)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(strstr(err, "trusted_key_servers"));
	}
	/* ... unless the operator says so. */
	assert_int_equal(load("server_name: a.test\nfederation_verify_certificates: false\n"
			      "trusted_key_servers:\n  - server_name: m.org\n"
			      "    accept_keys_insecurely: true\n",
			      &cfg, err, sizeof(err)),
			 0);
	mx_config_release(&cfg);
}

static void test_config_generated(void **state)
{
	(void)state;
	char dir[] = "/tmp/myelin-keyring-gen-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256], err[512];
	snprintf(path, sizeof(path), "%s/homeserver.yaml", dir);
	assert_int_equal(mx_config_generate(path, "gen.test", dir, false, err, sizeof(err)), 0);
	struct mx_config cfg;
	assert_int_equal(mx_config_load(&cfg, path, err, sizeof(err)), 0);
	assert_int_equal(cfg.n_trusted_key_servers, 1);
	assert_string_equal(cfg.trusted_key_servers[0].server_name, "matrix.org");
	mx_config_release(&cfg);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_check_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_wrong_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_signatures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_expired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_notary, setup, teardown),
		cmocka_unit_test(test_key_usable),
		cmocka_unit_test_setup_teardown(test_store_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyring_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyring_newest_wins, setup, teardown),
		cmocka_unit_test(test_config_trusted_key_servers),
		cmocka_unit_test(test_config_generated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
