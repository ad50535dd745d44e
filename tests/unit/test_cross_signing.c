/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for crypto/cross_signing (the shape of CrossSigningKey
 * objects, signatures made with cross-signing keys, key identity modulo
 * signatures) and store/cross_signing (keys, merged signatures).
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
#include "store/cross_signing.h"

#define U "@alice:example.org"

/* A key whose key_id is "ed25519:<its public key>", as cross-signing names them. */
static char *cs_key(struct mx_signing_key *k)
{
	assert_int_equal(mx_signing_key_generate(k), 0);
	char *pub = mx_signing_key_public_b64(k);
	snprintf(k->key_id, sizeof(k->key_id), "ed25519:%s", pub);
	return pub;
}

static json_t *cs_make(const char *pub, const char *usage)
{
	json_t *keys = json_object();
	char kid[64];
	snprintf(kid, sizeof(kid), "ed25519:%s", pub);
	json_object_set_new(keys, kid, json_string(pub));
	return json_pack("{s:s,s:[s],s:o}", "user_id", U, "usage", usage, "keys", keys);
}

static void test_key_check(void **state)
{
	(void)state;
	struct mx_signing_key k;
	char *pub = cs_key(&k);
	const char *got, *msg;
	json_t *key = cs_make(pub, MX_CS_MASTER);
	assert_int_equal(mx_cross_signing_key_check(key, U, MX_CS_MASTER, &got, &msg), 0);
	assert_string_equal(got, pub);
	/* Wrong user, wrong usage. */
	assert_int_equal(mx_cross_signing_key_check(key, "@bob:example.org", MX_CS_MASTER, &got, &msg),
			 MX_EINVALIDPARAM);
	assert_int_equal(mx_cross_signing_key_check(key, U, MX_CS_SELF_SIGNING, &got, &msg),
			 MX_EINVALIDPARAM);
	/* keys: name and value differ, two keys, not base64 of 32 bytes. */
	json_t *bad = json_deep_copy(key);
	json_object_set_new(bad, "keys", json_pack("{s:s}", "ed25519:abc", "abc"));
	assert_int_equal(mx_cross_signing_key_check(bad, U, MX_CS_MASTER, &got, &msg), MX_EINVALIDPARAM);
	json_object_set_new(bad, "keys", json_pack("{s:s}", "ed25519:x", pub));
	assert_int_equal(mx_cross_signing_key_check(bad, U, MX_CS_MASTER, &got, &msg), MX_EINVALIDPARAM);
	json_object_set_new(bad, "keys", json_pack("{s:s,s:s}", "ed25519:a", "a", "ed25519:b", "b"));
	assert_int_equal(mx_cross_signing_key_check(bad, U, MX_CS_MASTER, &got, &msg), MX_EINVALIDPARAM);
	json_object_set_new(bad, "keys", json_string("x"));
	assert_int_equal(mx_cross_signing_key_check(bad, U, MX_CS_MASTER, &got, &msg), MX_EINVALIDPARAM);
	json_decref(bad);
	bad = json_deep_copy(key);
	json_object_set_new(bad, "usage", json_string(MX_CS_MASTER));
	assert_int_equal(mx_cross_signing_key_check(bad, U, MX_CS_MASTER, &got, &msg), MX_EBADJSON);
	json_object_set_new(bad, "usage", json_array());
	assert_int_equal(mx_cross_signing_key_check(bad, U, MX_CS_MASTER, &got, &msg), MX_EBADJSON);
	json_decref(bad);
	bad = json_deep_copy(key);
	json_object_del(bad, "user_id");
	assert_int_equal(mx_cross_signing_key_check(bad, U, MX_CS_MASTER, &got, &msg), MX_EBADJSON);
	json_decref(bad);
	assert_int_equal(mx_cross_signing_key_check(json_null(), U, MX_CS_MASTER, &got, &msg),
			 MX_EBADJSON);
	json_decref(key);
	free(pub);
	mx_signing_key_release(&k);
}

static void test_verify(void **state)
{
	(void)state;
	struct mx_signing_key mk, sk, other;
	char *mpub = cs_key(&mk), *spub = cs_key(&sk), *opub = cs_key(&other);
	json_t *ssk = cs_make(spub, MX_CS_SELF_SIGNING);
	assert_int_equal(mx_cross_signing_verify(ssk, U, mpub, mpub), MX_EFORBIDDEN); /* unsigned */
	assert_int_equal(mx_sign_json(ssk, U, &mk), 0);
	assert_int_equal(mx_cross_signing_verify(ssk, U, mpub, mpub), 0);
	/* Signed by another key under the master's name: refused. */
	json_t *forged = cs_make(spub, MX_CS_SELF_SIGNING);
	snprintf(other.key_id, sizeof(other.key_id), "ed25519:%s", mpub);
	assert_int_equal(mx_sign_json(forged, U, &other), 0);
	assert_int_equal(mx_cross_signing_verify(forged, U, mpub, mpub), MX_EFORBIDDEN);
	/* Tampered after signing. */
	json_object_set_new(ssk, "extra", json_true());
	assert_int_equal(mx_cross_signing_verify(ssk, U, mpub, mpub), MX_EFORBIDDEN);
	/* The same key modulo signatures. */
	json_t *plain = cs_make(spub, MX_CS_SELF_SIGNING);
	assert_true(mx_cross_signing_same_key(plain, forged));
	assert_false(mx_cross_signing_same_key(plain, ssk));
	assert_false(mx_cross_signing_same_key(plain, json_null()));
	json_decref(plain);
	json_decref(forged);
	json_decref(ssk);
	free(mpub);
	free(spub);
	free(opub);
	mx_signing_key_release(&mk);
	mx_signing_key_release(&sk);
	mx_signing_key_release(&other);
}

MX_TEST_DB_FIXTURE("cross_signing")

static void test_store(void **state)
{
	struct mx_test_db *t = *state;
	json_t *key;
	assert_int_equal(mx_store_cross_signing_key_get(t->rc, &t->a, U, MX_CS_MASTER, &key),
			 MX_ENOTFOUND);
	const char *usage[] = {MX_CS_MASTER, MX_CS_SELF_SIGNING};
	const char *ids[] = {"ed25519:MPUB", "ed25519:SPUB"};
	const char *texts[] = {"{\"user_id\":\"" U "\",\"usage\":[\"master\"],\"keys\":{\"ed25519:MPUB\":\"MPUB\"}}",
			       "{\"user_id\":\"" U "\",\"usage\":[\"self_signing\"],\"keys\":{\"ed25519:SPUB\":\"SPUB\"}}"};
	assert_int_equal(mx_store_cross_signing_keys_put(t->db, U, usage, ids, texts, 2), 0);
	assert_int_equal(mx_store_cross_signing_key_get(t->rc, &t->a, U, MX_CS_SELF_SIGNING, &key), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(key, "keys"), "ed25519:SPUB")),
			    "SPUB");
	struct mx_cs_signature sigs[] = {
		{U, "MPUB", "@bob:example.org", "ed25519:BUSK", "sig1"},
		{U, "DEV1", U, "ed25519:SPUB", "sig2"},
	};
	assert_int_equal(mx_store_cross_signing_sigs_put(t->db, sigs, 2), 0);
	assert_int_equal(mx_store_cross_signing_key_get(t->rc, &t->a, U, MX_CS_MASTER, &key), 0);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_object_get(key, "signatures"), "@bob:example.org"),
				    "ed25519:BUSK")),
			    "sig1");
	json_t *dev = mx_arena_json(&t->a, json_pack("{s:{s:{s:s}}}", "signatures", U, "ed25519:DEV1", "self"));
	assert_int_equal(mx_store_cross_signing_sigs_merge(t->rc, U, "DEV1", dev), 0);
	json_t *mine = json_object_get(json_object_get(dev, "signatures"), U);
	assert_int_equal(json_object_size(mine), 2);
	assert_string_equal(json_string_value(json_object_get(mine, "ed25519:SPUB")), "sig2");
	/* Replacing a key keeps one per usage. */
	const char *t2[] = {"{\"user_id\":\"" U "\",\"usage\":[\"master\"],\"keys\":{\"ed25519:M2\":\"M2\"}}"};
	const char *i2[] = {"ed25519:M2"};
	assert_int_equal(mx_store_cross_signing_keys_put(t->db, U, usage, i2, t2, 1), 0);
	assert_int_equal(mx_store_cross_signing_key_get(t->rc, &t->a, U, MX_CS_MASTER, &key), 0);
	assert_non_null(json_object_get(json_object_get(key, "keys"), "ed25519:M2"));
	assert_null(json_object_get(key, "signatures")); /* bob signed the old one */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_check),
		cmocka_unit_test(test_verify),
		cmocka_unit_test_setup_teardown(test_store, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
