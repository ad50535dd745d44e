/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for store/e2ee against a temporary SQLite database: uploads
 * (device-list change only when keys differ, a clashing one-time key
 * refused with nothing stored), claims (each one-time key once, then the
 * fallback key marked used), to-device (idempotent per transaction, the
 * inbox bound, acknowledgement) and a deleted device's keys and inbox.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testdb.h"

#include "core/error.h"
#include "core/mem.h"
#include "store/account_data.h"
#include "store/e2ee.h"

MX_TEST_DB_FIXTURE("e2ee")

static int64_t count(json_t *counts, const char *alg)
{
	int64_t v = json_integer_value(json_object_get(counts, alg));
	json_decref(counts);
	return v;
}

static void test_upload_and_claim(void **state)
{
	struct mx_test_db *t = *state;
	struct mx_e2ee_key otks[] = {{"signed_curve25519", "A", "{\"key\":\"a\"}"},
				     {"signed_curve25519", "B", "{\"key\":\"b\"}"}};
	struct mx_e2ee_key fb[] = {{"signed_curve25519", "F", "{\"key\":\"f\",\"fallback\":true}"}};
	struct mx_e2ee_upload u = {.user_id = "@a:x", .device_id = "D", .device_keys = "{\"k\":1}",
				   .otks = otks, .n_otks = 2, .fallbacks = fb, .n_fallbacks = 1};
	assert_int_equal(mx_store_e2ee_upload(t->db, &u), 0);
	assert_true(u.keys_changed);
	assert_int_equal(mx_store_stream_position(t->rc, MX_STREAM_DEVICE_LISTS), 1);
	/* The same upload again: no change, no duplicate keys. */
	assert_int_equal(mx_store_e2ee_upload(t->db, &u), 0);
	assert_false(u.keys_changed);
	assert_int_equal(mx_store_stream_position(t->rc, MX_STREAM_DEVICE_LISTS), 1);
	assert_int_equal(count(mx_store_e2ee_otk_counts(t->rc, "@a:x", "D"), "signed_curve25519"), 2);

	/* A clashing key id: refused, and the new key beside it is not stored. */
	struct mx_e2ee_key bad[] = {{"signed_curve25519", "C", "{\"key\":\"c\"}"},
				    {"signed_curve25519", "A", "{\"key\":\"other\"}"}};
	struct mx_e2ee_upload u2 = {.user_id = "@a:x", .device_id = "D", .otks = bad, .n_otks = 2};
	assert_int_equal(mx_store_e2ee_upload(t->db, &u2), MX_EINVALIDPARAM);
	assert_string_equal(u2.conflict, "signed_curve25519:A");
	assert_int_equal(count(mx_store_e2ee_otk_counts(t->rc, "@a:x", "D"), "signed_curve25519"), 2);

	/* Three claims for two keys: A, B, then the fallback, marked used. */
	struct mx_e2ee_claim cl[3];
	for (int i = 0; i < 3; i++)
		cl[i] = (struct mx_e2ee_claim){"@a:x", "D", "signed_curve25519", NULL, NULL};
	assert_int_equal(mx_store_e2ee_claim(t->db, &t->a, cl, 3), 0);
	assert_string_equal(cl[0].key_id, "A");
	assert_string_equal(cl[1].key_id, "B");
	assert_string_equal(cl[2].key_id, "F");
	assert_int_equal(count(mx_store_e2ee_otk_counts(t->rc, "@a:x", "D"), "signed_curve25519"), 0);
	json_t *unused = mx_store_e2ee_fallback_unused(t->rc, "@a:x", "D");
	assert_int_equal(json_array_size(unused), 0);
	json_decref(unused);
	/* An unknown device or algorithm gets nothing. */
	struct mx_e2ee_claim none = {"@a:x", "E", "signed_curve25519", NULL, NULL};
	assert_int_equal(mx_store_e2ee_claim(t->db, &t->a, &none, 1), 0);
	assert_null(none.key_json);

	/* A deleted device's keys go, and its user's device list changes. */
	struct mx_e2ee_device *devs;
	size_t n;
	assert_int_equal(mx_store_e2ee_devices(t->rc, &t->a, "@a:x", NULL, &devs, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(mx_store_e2ee_upload(t->db, &(struct mx_e2ee_upload){.user_id = "@a:x",
									    .device_id = "D"}),
			 0);
	const char **users;
	assert_int_equal(mx_store_e2ee_changed_users(t->rc, &t->a, 0, 100, &users, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(users[0], "@a:x");
}

static int collect(void *ctx, int64_t stream_id, const char *sender, const char *type,
		   const char *content)
{
	int64_t *ids = ctx;
	ids[++ids[0]] = stream_id;
	return 0;
}

static void test_to_device(void **state)
{
	struct mx_test_db *t = *state;
	struct mx_to_device_msg m[] = {{"@b:x", "B1", "{\"n\":1}"}, {"@b:x", "B1", "{\"n\":2}"}};
	assert_int_equal(mx_store_to_device_send(t->db, "@a:x", "A", "t1", "m.test", m, 2, 3), 0);
	/* The same transaction again: nothing more is queued. */
	assert_int_equal(mx_store_to_device_send(t->db, "@a:x", "A", "t1", "m.test", m, 2, 3), MX_EEXISTS);
	/* Over the bound (3 pending): refused, and nothing stored. */
	assert_int_equal(mx_store_to_device_send(t->db, "@a:x", "A", "t2", "m.test", m, 2, 3), MX_ELIMIT);
	int64_t ids[8] = {0};
	assert_int_equal(mx_store_to_device_fetch(t->rc, "@b:x", "B1", 0, 100, 10, collect, ids), 0);
	assert_int_equal(ids[0], 2);
	assert_true(ids[1] < ids[2]);
	/* The failed transaction id is free again. */
	assert_int_equal(mx_store_to_device_send(t->db, "@a:x", "A", "t2", "m.test", m, 1, 3), 0);
	assert_true(mx_store_to_device_has_upto(t->rc, "@b:x", "B1", ids[1]));
	assert_int_equal(mx_store_to_device_ack(t->db, "@b:x", "B1", ids[2]), 0);
	memset(ids, 0, sizeof(ids));
	assert_int_equal(mx_store_to_device_fetch(t->rc, "@b:x", "B1", 0, 100, 10, collect, ids), 0);
	assert_int_equal(ids[0], 1);
	assert_false(mx_store_to_device_has_upto(t->rc, "@b:x", "B1", ids[1] - 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_upload_and_claim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_to_device, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
