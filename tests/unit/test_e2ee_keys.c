/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for e2ee/keys: the device-key check (shape, ids, the
 * device's own signature), the filters over another server's query and
 * claim answers (only asked users and devices, self-signed device keys,
 * self-signing keys signed by the master key, never user-signing keys),
 * the request-map checks, and the local query and claim against a
 * temporary database (signatures shown by owner and viewer only, the
 * user-signing key to its owner only, claims one key at a time).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testdb.h"

#include "core/error.h"
#include "core/mem.h"
#include "crypto/cross_signing.h"
#include "crypto/keys.h"
#include "crypto/sign.h"
#include "e2ee/keys.h"
#include "store/cross_signing.h"
#include "store/e2ee.h"

#define U "@alice:remote.example"
#define V "@victor:remote.example"

/* A device key pair; pub is its base64 key. */
struct dev {
	struct mx_signing_key k;
	char *pub;
};

static void dev_init(struct dev *d)
{
	assert_int_equal(mx_signing_key_generate(&d->k), 0);
	d->pub = mx_signing_key_public_b64(&d->k);
}

static void dev_release(struct dev *d)
{
	free(d->pub);
	mx_signing_key_release(&d->k);
}

/* Device keys of user's device with d's key, signed by it (new reference). */
static json_t *device_keys(struct dev *d, const char *user, const char *device)
{
	char ed[300], cu[300];
	snprintf(ed, sizeof(ed), "ed25519:%s", device);
	snprintf(cu, sizeof(cu), "curve25519:%s", device);
	json_t *o = json_pack("{s:s, s:s, s:[s], s:{s:s, s:s}}", "user_id", user, "device_id", device,
			      "algorithms", "m.olm.v1.curve25519-aes-sha2", "keys", ed, d->pub, cu,
			      "Y3VydmUyNTUxOSBrZXkgY3VydmUyNTUxOSBrZXkgY3U");
	snprintf(d->k.key_id, sizeof(d->k.key_id), "ed25519:%s", device);
	assert_int_equal(mx_sign_json(o, user, &d->k), 0);
	return o;
}

/* A cross-signing key pair: key_id "ed25519:<pub>". */
static char *cs_init(struct mx_signing_key *k)
{
	assert_int_equal(mx_signing_key_generate(k), 0);
	char *pub = mx_signing_key_public_b64(k);
	snprintf(k->key_id, sizeof(k->key_id), "ed25519:%s", pub);
	return pub;
}

static json_t *cs_key(const char *user, const char *usage, const char *pub)
{
	char kid[80];
	snprintf(kid, sizeof(kid), "ed25519:%s", pub);
	return json_pack("{s:s, s:[s], s:{s:s}}", "user_id", user, "usage", usage, "keys", kid, pub);
}

static void test_device_keys_check(void **state)
{
	(void)state;
	struct dev d;
	dev_init(&d);
	const char *pub, *msg;
	json_t *dk = device_keys(&d, U, "DEV1");
	assert_int_equal(mx_e2ee_device_keys_check(dk, U, "DEV1", &pub, &msg), 0);
	assert_string_equal(pub, d.pub);
	/* Another user or device than claimed. */
	assert_int_equal(mx_e2ee_device_keys_check(dk, V, "DEV1", &pub, &msg), MX_EINVALIDPARAM);
	assert_int_equal(mx_e2ee_device_keys_check(dk, U, "DEV2", &pub, &msg), MX_EINVALIDPARAM);
	/* Changed after signing. */
	json_t *bad = json_deep_copy(dk);
	json_object_set_new(json_object_get(bad, "keys"), "curve25519:DEV1", json_string("other"));
	assert_int_equal(mx_e2ee_device_keys_check(bad, U, "DEV1", &pub, &msg), MX_EINVALIDPARAM);
	assert_null(pub);
	json_decref(bad);
	/* "unsigned" is not covered by the signature. */
	bad = json_deep_copy(dk);
	json_object_set_new(bad, "unsigned", json_pack("{s:s}", "device_display_name", "x"));
	assert_int_equal(mx_e2ee_device_keys_check(bad, U, "DEV1", &pub, &msg), 0);
	json_decref(bad);
	/* Signed by another key under the device's key id. */
	struct dev other;
	dev_init(&other);
	bad = device_keys(&other, U, "DEV1");
	json_object_set_new(json_object_get(bad, "keys"), "ed25519:DEV1", json_string(d.pub));
	assert_int_equal(mx_e2ee_device_keys_check(bad, U, "DEV1", &pub, &msg), MX_EINVALIDPARAM);
	json_decref(bad);
	/* No ed25519 key, a key that is not one, wrong types. */
	bad = json_deep_copy(dk);
	json_object_del(json_object_get(bad, "keys"), "ed25519:DEV1");
	assert_int_equal(mx_e2ee_device_keys_check(bad, U, "DEV1", &pub, &msg), MX_EINVALIDPARAM);
	json_object_set_new(json_object_get(bad, "keys"), "ed25519:DEV1", json_string("abc"));
	assert_int_equal(mx_e2ee_device_keys_check(bad, U, "DEV1", &pub, &msg), MX_EINVALIDPARAM);
	json_object_set_new(json_object_get(bad, "keys"), "ed25519:DEV1", json_integer(1));
	assert_int_equal(mx_e2ee_device_keys_check(bad, U, "DEV1", &pub, &msg), MX_EBADJSON);
	json_decref(bad);
	bad = json_deep_copy(dk);
	json_object_set_new(bad, "algorithms", json_pack("[i]", 1));
	assert_int_equal(mx_e2ee_device_keys_check(bad, U, "DEV1", &pub, &msg), MX_EBADJSON);
	json_object_del(bad, "algorithms");
	assert_int_equal(mx_e2ee_device_keys_check(bad, U, "DEV1", &pub, &msg), MX_EBADJSON);
	json_decref(bad);
	bad = json_deep_copy(dk);
	json_object_set_new(bad, "signatures", json_string("x"));
	assert_int_equal(mx_e2ee_device_keys_check(bad, U, "DEV1", &pub, &msg), MX_EBADJSON);
	json_object_del(bad, "user_id");
	assert_int_equal(mx_e2ee_device_keys_check(bad, U, "DEV1", &pub, &msg), MX_EBADJSON);
	json_decref(bad);
	assert_int_equal(mx_e2ee_device_keys_check(json_null(), U, "DEV1", &pub, &msg), MX_EBADJSON);
	json_decref(dk);
	dev_release(&other);
	dev_release(&d);
}

static void test_remote_query_filter(void **state)
{
	(void)state;
	struct dev d1, d2;
	dev_init(&d1);
	dev_init(&d2);
	struct mx_signing_key mk, sk, uk, forger;
	char *mpub = cs_init(&mk), *spub = cs_init(&sk), *upub = cs_init(&uk),
	     *fpub = cs_init(&forger);
	json_t *master = cs_key(U, MX_CS_MASTER, mpub);
	json_t *self = cs_key(U, MX_CS_SELF_SIGNING, spub);
	assert_int_equal(mx_sign_json(self, U, &mk), 0);
	json_t *usk = cs_key(U, MX_CS_USER_SIGNING, upub);
	assert_int_equal(mx_sign_json(usk, U, &mk), 0);
	json_t *vmaster = cs_key(V, MX_CS_MASTER, fpub);
	json_t *vself = cs_key(V, MX_CS_SELF_SIGNING, spub);
	snprintf(forger.key_id, sizeof(forger.key_id), "ed25519:%s", mpub);
	assert_int_equal(mx_sign_json(vself, V, &forger), 0); /* not by V's master key */

	json_t *renamed = device_keys(&d2, U, "D2");
	json_t *answer = json_pack(
		"{s:{s:{s:o, s:o, s:s}, s:{s:o}, s:{s:o}}, s:{s:O, s:O, s:O}, s:{s:O, s:O}, s:{s:O}}",
		"device_keys", U, "D1", device_keys(&d1, U, "D1"), "D3", renamed, "D4", "junk", V,
		"DV", device_keys(&d2, V, "DV"), "@mallory:remote.example", "DM",
		device_keys(&d1, "@mallory:remote.example", "DM"), "master_keys", U, master, V,
		vmaster, "@mallory:remote.example", master, "self_signing_keys", U, self, V, vself,
		"user_signing_keys", U, usk);
	json_t *asked = json_pack("{s:[], s:[]}", U, V);
	json_t *out = mx_e2ee_remote_query_filter(asked, answer);
	json_t *devs = json_object_get(out, "device_keys");
	assert_int_equal(json_object_size(devs), 2);
	assert_int_equal(json_object_size(json_object_get(devs, U)), 1);
	assert_non_null(json_object_get(json_object_get(devs, U), "D1"));
	assert_non_null(json_object_get(json_object_get(devs, V), "DV"));
	assert_true(json_equal(json_object_get(json_object_get(out, "master_keys"), U), master));
	assert_true(json_equal(json_object_get(json_object_get(out, "self_signing_keys"), U), self));
	assert_int_equal(json_object_size(json_object_get(out, "master_keys")), 2);
	assert_null(json_object_get(json_object_get(out, "self_signing_keys"), V));
	assert_null(json_object_get(out, "user_signing_keys"));
	json_decref(out);

	/* Specific devices only; a user the answer lacks stays absent. */
	json_decref(asked);
	asked = json_pack("{s:[s], s:[]}", U, "D9", "@absent:remote.example");
	out = mx_e2ee_remote_query_filter(asked, answer);
	assert_int_equal(json_object_size(json_object_get(json_object_get(out, "device_keys"), U)),
			 0);
	assert_null(json_object_get(json_object_get(out, "device_keys"), "@absent:remote.example"));
	json_decref(out);

	/* No master key: its self-signing key goes too. Garbage answers give nothing. */
	json_object_del(json_object_get(answer, "master_keys"), U);
	out = mx_e2ee_remote_query_filter(asked, answer);
	assert_int_equal(json_object_size(json_object_get(out, "self_signing_keys")), 0);
	json_decref(out);
	json_t *nonsense = json_string("nonsense");
	out = mx_e2ee_remote_query_filter(asked, nonsense);
	assert_int_equal(json_object_size(json_object_get(out, "device_keys")), 0);
	json_decref(out);
	json_decref(nonsense);

	json_decref(asked);
	json_decref(answer);
	json_decref(master);
	json_decref(self);
	json_decref(usk);
	json_decref(vmaster);
	json_decref(vself);
	free(mpub);
	free(spub);
	free(upub);
	free(fpub);
	mx_signing_key_release(&mk);
	mx_signing_key_release(&sk);
	mx_signing_key_release(&uk);
	mx_signing_key_release(&forger);
	dev_release(&d1);
	dev_release(&d2);
}

static void test_remote_claim_filter(void **state)
{
	(void)state;
	json_t *asked = json_pack("{s:{s:s, s:s}}", U, "D1", "signed_curve25519", "D2",
				  "signed_curve25519");
	json_t *answer = json_pack(
		"{s:{s:{s:{s:s, s:{s:s}, s:{s:s}}, s:{s:i}, s:{s:{s:s}}}, s:{s:{s:s}}}}",
		"one_time_keys", U, "D1", "curve25519:x", "plain", "signed_curve25519:AAA", "key", "k1",
		"signed_curve25519:AAB", "key", "k2", "D2", "signed_curve25519:bad", 1, "D3",
		"signed_curve25519:z", "key", "k3", V, "DV", "signed_curve25519:v", "v");
	json_t *out = mx_e2ee_remote_claim_filter(asked, answer);
	json_t *otks = json_object_get(out, "one_time_keys");
	assert_int_equal(json_object_size(otks), 1);
	json_t *d1 = json_object_get(json_object_get(otks, U), "D1");
	assert_int_equal(json_object_size(d1), 1);
	const char *name = json_object_iter_key(json_object_iter(d1));
	assert_int_equal(strncmp(name, "signed_curve25519:", 18), 0);
	assert_null(json_object_get(json_object_get(otks, U), "D2"));
	assert_null(json_object_get(json_object_get(otks, U), "D3"));
	json_decref(out);
	json_decref(asked);
	json_decref(answer);
}

static void test_request_checks(void **state)
{
	(void)state;
	struct mx_arena a;
	mx_arena_init(&a);
	const char *msg;
	size_t total;
	json_t *v = json_pack("{s:[s], s:[]}", U, "D1", "@bob:example.org");
	assert_int_equal(mx_e2ee_query_check(&a, v, &msg), 0);
	json_object_set_new(v, "notauser", json_array());
	assert_int_equal(mx_e2ee_query_check(&a, v, &msg), MX_EINVALIDPARAM);
	assert_non_null(strstr(msg, "notauser"));
	json_decref(v);
	v = json_pack("{s:[i]}", U, 1);
	assert_int_equal(mx_e2ee_query_check(&a, v, &msg), MX_EBADJSON);
	json_decref(v);
	assert_int_equal(mx_e2ee_query_check(&a, json_null(), &msg), MX_EBADJSON);

	v = json_pack("{s:{s:s, s:s}}", U, "D1", "signed_curve25519", "D2", "signed_curve25519");
	assert_int_equal(mx_e2ee_claim_check(&a, v, &total, &msg), 0);
	assert_int_equal(total, 2);
	json_object_set_new(json_object_get(v, U), "D3", json_integer(1));
	assert_int_equal(mx_e2ee_claim_check(&a, v, &total, &msg), MX_EBADJSON);
	json_decref(v);
	/* The bound on one claim. */
	json_t *devs = json_object();
	for (int i = 0; i <= MX_E2EE_MAX_CLAIMS; i++) {
		char id[16];
		snprintf(id, sizeof(id), "D%d", i);
		json_object_set_new(devs, id, json_string("signed_curve25519"));
	}
	v = json_pack("{s:o}", U, devs);
	assert_int_equal(mx_e2ee_claim_check(&a, v, &total, &msg), MX_EINVALIDPARAM);
	json_decref(v);
	mx_arena_release(&a);
}

MX_TEST_DB_FIXTURE("e2ee_keys")

/* Store cross-signing key key of usage for user. */
static void put_cs(struct mx_test_db *t, const char *user, const char *usage, json_t *key,
		   const char *pub)
{
	char *text = json_dumps(key, JSON_COMPACT | JSON_SORT_KEYS);
	char kid[80];
	snprintf(kid, sizeof(kid), "ed25519:%s", pub);
	const char *u[1] = {usage}, *ids[1] = {kid}, *texts[1] = {text};
	assert_int_equal(mx_store_cross_signing_keys_put(t->db, user, u, ids, texts, 1), 0);
	free(text);
}

static void test_local_query_and_claim(void **state)
{
	struct mx_test_db *t = *state;
	struct dev d;
	dev_init(&d);
	json_t *dk = device_keys(&d, U, "D1");
	char *dk_text = json_dumps(dk, JSON_COMPACT | JSON_SORT_KEYS);
	struct mx_e2ee_key otks[] = {{"signed_curve25519", "A", "{\"key\":\"a\"}"}};
	struct mx_e2ee_upload up = {.user_id = U, .device_id = "D1", .device_keys = dk_text,
				    .otks = otks, .n_otks = 1};
	assert_int_equal(mx_store_e2ee_upload(t->db, &up), 0);

	struct mx_signing_key mk, uk;
	char *mpub = cs_init(&mk), *upub = cs_init(&uk);
	json_t *master = cs_key(U, MX_CS_MASTER, mpub);
	json_t *usk = cs_key(U, MX_CS_USER_SIGNING, upub);
	put_cs(t, U, MX_CS_MASTER, master, mpub);
	put_cs(t, U, MX_CS_USER_SIGNING, usk, upub);
	/* Signatures over U's master key by U's device and by V. */
	struct mx_cs_signature sigs[] = {{U, mpub, U, "ed25519:D1", "c2lnMQ"},
					 {U, mpub, V, "ed25519:vkey", "c2lnMg"}};
	assert_int_equal(mx_store_cross_signing_sigs_put(t->db, sigs, 2), 0);

	for (int who = 0; who < 3; who++) {
		const char *viewer = who == 0 ? NULL : who == 1 ? V : U;
		json_t *devs = json_object(), *m = json_object(), *s = json_object(),
		       *us = json_object();
		assert_int_equal(mx_e2ee_query_local(t->rc, &t->a, U, NULL, viewer, devs, m, s, us),
				 0);
		const char *pub, *msg;
		assert_int_equal(mx_e2ee_device_keys_check(json_object_get(devs, "D1"), U, "D1", &pub,
							   &msg),
				 0);
		json_t *msigs = json_object_get(json_object_get(m, U), "signatures");
		assert_non_null(json_object_get(msigs, U));
		/* V's signature: V sees it, the owner and other servers do not. */
		assert_true((json_object_get(msigs, V) != NULL) == (who == 1));
		assert_int_equal(json_object_size(s), 0);
		assert_true((json_object_get(us, U) != NULL) == (who == 2));
		json_decref(devs);
		json_decref(m);
		json_decref(s);
		json_decref(us);
	}
	/* Only the devices named. */
	json_t *devs = json_object(), *m = json_object(), *s = json_object();
	json_t *only = json_pack("[s]", "NOPE");
	assert_int_equal(mx_e2ee_query_local(t->rc, &t->a, U, only, NULL, devs, m, s, NULL), 0);
	assert_int_equal(json_object_size(devs), 0);
	json_decref(only);
	json_decref(devs);
	json_decref(m);
	json_decref(s);

	/* Claims: the one-time key, then nothing left (no fallback key). */
	for (int i = 0; i < 2; i++) {
		struct mx_e2ee_claim cl = {U, "D1", "signed_curve25519", NULL, NULL};
		json_t *out = json_object();
		assert_int_equal(mx_e2ee_claim_local(t->db, &t->a, &cl, 1, out), 0);
		json_t *k = json_object_get(json_object_get(json_object_get(out, U), "D1"),
					    "signed_curve25519:A");
		assert_true((k != NULL) == (i == 0));
		if (i)
			assert_int_equal(json_object_size(out), 0);
		json_decref(out);
	}

	/* The device-list position moves with U's changes only. */
	int64_t pos, pos2;
	assert_int_equal(mx_store_e2ee_list_position(t->rc, U, &pos), 0);
	assert_true(pos > 0);
	assert_int_equal(mx_store_e2ee_list_position(t->rc, "@nobody:x", &pos2), 0);
	assert_int_equal(pos2, 0);

	json_decref(master);
	json_decref(usk);
	json_decref(dk);
	free(dk_text);
	free(mpub);
	free(upub);
	mx_signing_key_release(&mk);
	mx_signing_key_release(&uk);
	dev_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_device_keys_check),
		cmocka_unit_test(test_remote_query_filter),
		cmocka_unit_test(test_remote_claim_filter),
		cmocka_unit_test(test_request_checks),
		cmocka_unit_test_setup_teardown(test_local_query_and_claim, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
