/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for store/key_backup: the replacement rules of the spec, the
 * version syntax, versions (numbers never reused, only the current one
 * writable, algorithm fixed), keys at the three scopes with etag and
 * count, the wrong-version error, and that users never see each other's
 * backups.
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
#include "store/key_backup.h"

#define ALG "m.megolm_backup.v1.curve25519-aes-sha2"

MX_TEST_DB_FIXTURE("key_backup")

static void test_should_replace(void **state)
{
	(void)state;
	struct mx_room_key old = {.first_message_index = 5, .forwarded_count = 2, .is_verified = false};
	struct mx_room_key k = old;
	assert_true(mx_key_backup_should_replace(NULL, &k));
	assert_false(mx_key_backup_should_replace(&old, &k)); /* equal: keep */
	k.is_verified = true;
	k.first_message_index = 100; /* verified wins over a lower index */
	assert_true(mx_key_backup_should_replace(&old, &k));
	assert_false(mx_key_backup_should_replace(&k, &old));
	k = old;
	k.first_message_index = 4;
	k.forwarded_count = 9; /* index before forwarded_count */
	assert_true(mx_key_backup_should_replace(&old, &k));
	k.first_message_index = 6;
	k.forwarded_count = 0;
	assert_false(mx_key_backup_should_replace(&old, &k));
	k.first_message_index = 5;
	k.forwarded_count = 1;
	assert_true(mx_key_backup_should_replace(&old, &k));
	k.forwarded_count = 3;
	assert_false(mx_key_backup_should_replace(&old, &k));
}

static void test_version_parse(void **state)
{
	(void)state;
	int64_t v = 0;
	assert_true(mx_key_backup_version_parse("1", &v));
	assert_int_equal(v, 1);
	assert_true(mx_key_backup_version_parse("123456789012345678", &v));
	assert_false(mx_key_backup_version_parse("1234567890123456789", &v));
	assert_false(mx_key_backup_version_parse("", &v));
	assert_false(mx_key_backup_version_parse(NULL, &v));
	assert_false(mx_key_backup_version_parse("0", &v));
	assert_false(mx_key_backup_version_parse("-1", &v));
	assert_false(mx_key_backup_version_parse("+1", &v));
	assert_false(mx_key_backup_version_parse("1a", &v));
	assert_false(mx_key_backup_version_parse(" 1", &v));
}

static void test_versions(void **state)
{
	struct mx_test_db *t = *state;
	struct mx_key_backup_version v;
	int64_t n1, n2, n3;
	assert_int_equal(mx_store_key_backup_version_get(t->rc, &t->a, "@a:x", 0, &v), MX_ENOTFOUND);
	assert_int_equal(mx_store_key_backup_version_create(t->db, "@a:x", ALG, "{\"k\":1}", &n1), 0);
	assert_int_equal(n1, 1);
	assert_int_equal(mx_store_key_backup_version_create(t->db, "@a:x", ALG, "{\"k\":2}", &n2), 0);
	assert_int_equal(n2, 2);
	assert_int_equal(mx_store_key_backup_version_get(t->rc, &t->a, "@a:x", 0, &v), 0);
	assert_int_equal(v.version, 2);
	assert_string_equal(v.auth_data, "{\"k\":2}");
	assert_int_equal(v.count, 0);
	/* Another user has none. */
	assert_int_equal(mx_store_key_backup_version_get(t->rc, &t->a, "@b:x", 0, &v), MX_ENOTFOUND);
	assert_int_equal(mx_store_key_backup_version_get(t->rc, &t->a, "@b:x", 1, &v), MX_ENOTFOUND);
	/* Only the current version is writable, and keeps its algorithm. */
	assert_int_equal(mx_store_key_backup_version_update(t->db, "@a:x", 1, ALG, "{}"),
			 MX_EBADSTATE);
	assert_int_equal(mx_store_key_backup_version_update(t->db, "@a:x", 2, "other", "{}"),
			 MX_EINVALIDPARAM);
	assert_int_equal(mx_store_key_backup_version_update(t->db, "@a:x", 9, ALG, "{}"),
			 MX_ENOTFOUND);
	assert_int_equal(mx_store_key_backup_version_update(t->db, "@b:x", 2, ALG, "{}"),
			 MX_ENOTFOUND);
	assert_int_equal(mx_store_key_backup_version_update(t->db, "@a:x", 2, ALG, "{\"k\":3}"), 0);
	assert_int_equal(mx_store_key_backup_version_get(t->rc, &t->a, "@a:x", 2, &v), 0);
	assert_string_equal(v.auth_data, "{\"k\":3}");
	/* Deleting the current one makes the previous current; numbers never reused. */
	assert_int_equal(mx_store_key_backup_version_delete(t->db, "@b:x", 2), MX_ENOTFOUND);
	assert_int_equal(mx_store_key_backup_version_delete(t->db, "@a:x", 2), 0);
	assert_int_equal(mx_store_key_backup_version_delete(t->db, "@a:x", 2), MX_ENOTFOUND);
	assert_int_equal(mx_store_key_backup_version_get(t->rc, &t->a, "@a:x", 2, &v), MX_ENOTFOUND);
	assert_int_equal(mx_store_key_backup_version_get(t->rc, &t->a, "@a:x", 0, &v), 0);
	assert_int_equal(v.version, 1);
	assert_int_equal(mx_store_key_backup_version_create(t->db, "@a:x", ALG, "{}", &n3), 0);
	assert_int_equal(n3, 3);
}

static void test_keys(void **state)
{
	struct mx_test_db *t = *state;
	int64_t ver, old, etag, count, cur;
	json_t *rooms;
	assert_int_equal(mx_store_key_backup_version_create(t->db, "@a:x", ALG, "{}", &old), 0);
	assert_int_equal(mx_store_key_backup_version_create(t->db, "@a:x", ALG, "{}", &ver), 0);
	struct mx_room_key keys[] = {
		{"!r1:x", "s1", 3, 0, false, "{\"d\":1}"},
		{"!r1:x", "s2", 0, 0, false, "{\"d\":2}"},
		{"!r2:x", "s3", 0, 1, true, "{\"d\":3}"},
	};
	/* No backup at all, then a version that is not current. */
	assert_int_equal(mx_store_room_keys_put(t->db, "@b:x", 1, keys, 3, &etag, &count, &cur),
			 MX_ENOTFOUND);
	assert_int_equal(mx_store_room_keys_put(t->db, "@a:x", old, keys, 3, &etag, &count, &cur),
			 MX_EWRONGROOMKEYSVERSION);
	assert_int_equal(cur, ver);
	assert_int_equal(mx_store_room_keys_put(t->db, "@a:x", ver, keys, 3, &etag, &count, &cur), 0);
	assert_int_equal(count, 3);
	int64_t etag1 = etag;
	/* A worse key changes nothing, the etag included. */
	struct mx_room_key worse = {"!r1:x", "s1", 4, 0, false, "{\"d\":\"worse\"}"};
	assert_int_equal(mx_store_room_keys_put(t->db, "@a:x", ver, &worse, 1, &etag, &count, &cur), 0);
	assert_int_equal(etag, etag1);
	assert_int_equal(count, 3);
	struct mx_room_key better = {"!r1:x", "s1", 1, 0, false, "{\"d\":\"better\"}"};
	assert_int_equal(mx_store_room_keys_put(t->db, "@a:x", ver, &better, 1, &etag, &count, &cur), 0);
	assert_true(etag != etag1);
	/* Scopes. */
	assert_int_equal(mx_store_room_keys_get(t->rc, &t->a, "@a:x", ver, NULL, NULL, &rooms), 0);
	assert_int_equal(json_object_size(rooms), 2);
	json_t *s1 = json_object_get(json_object_get(json_object_get(rooms, "!r1:x"), "sessions"), "s1");
	assert_int_equal(json_integer_value(json_object_get(s1, "first_message_index")), 1);
	assert_string_equal(json_string_value(json_object_get(json_object_get(s1, "session_data"), "d")),
			    "better");
	assert_int_equal(mx_store_room_keys_get(t->rc, &t->a, "@a:x", ver, "!r2:x", NULL, &rooms), 0);
	assert_int_equal(json_object_size(rooms), 1);
	assert_int_equal(mx_store_room_keys_get(t->rc, &t->a, "@a:x", ver, "!r1:x", "s2", &rooms), 0);
	assert_int_equal(json_object_size(json_object_get(json_object_get(rooms, "!r1:x"), "sessions")), 1);
	assert_int_equal(mx_store_room_keys_get(t->rc, &t->a, "@a:x", old, NULL, NULL, &rooms), 0);
	assert_int_equal(json_object_size(rooms), 0);
	/* Someone else's view of the same version number: not found. */
	assert_int_equal(mx_store_room_keys_get(t->rc, &t->a, "@b:x", ver, NULL, NULL, &rooms),
			 MX_ENOTFOUND);
	/* Deletes at each scope. */
	assert_int_equal(mx_store_room_keys_delete(t->db, "@b:x", ver, NULL, NULL, &etag, &count),
			 MX_ENOTFOUND);
	assert_int_equal(mx_store_room_keys_delete(t->db, "@a:x", ver, "!r1:x", "s2", &etag, &count), 0);
	assert_int_equal(count, 2);
	assert_int_equal(mx_store_room_keys_delete(t->db, "@a:x", ver, "!r2:x", NULL, &etag, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(mx_store_room_keys_delete(t->db, "@a:x", ver, NULL, NULL, &etag, &count), 0);
	assert_int_equal(count, 0);
	/* Deleting the version takes its keys. */
	assert_int_equal(mx_store_room_keys_put(t->db, "@a:x", ver, keys, 3, &etag, &count, &cur), 0);
	assert_int_equal(mx_store_key_backup_version_delete(t->db, "@a:x", ver), 0);
	assert_int_equal(mx_store_room_keys_get(t->rc, &t->a, "@a:x", ver, NULL, NULL, &rooms),
			 MX_ENOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_should_replace),
		cmocka_unit_test(test_version_parse),
		cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
