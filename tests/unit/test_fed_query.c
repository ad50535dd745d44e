/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pure parts of federation/query_client: percent-encoding query
 * values (user ids, aliases, tokens), and checking another server's
 * /publicRooms answer before it reaches our clients.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "federation/query_client.h"

static void test_escape(void **state)
{
	struct mx_arena a;
	mx_arena_init(&a);
	assert_string_equal(mx_fed_query_escape(&a, ""), "");
	assert_string_equal(mx_fed_query_escape(&a, "abc-._~XYZ019"), "abc-._~XYZ019");
	assert_string_equal(mx_fed_query_escape(&a, "@alice:example.org:8448"),
			    "%40alice%3Aexample.org%3A8448");
	assert_string_equal(mx_fed_query_escape(&a, "#room&x=1+2 3/?#"),
			    "%23room%26x%3D1%2B2%203%2F%3F%23");
	assert_string_equal(mx_fed_query_escape(&a, "caf\xc3\xa9%"), "caf%C3%A9%25");
	mx_arena_release(&a);
}

static json_t *check(const char *text, size_t max)
{
	json_t *in = json_loads(text, 0, NULL);
	assert_non_null(in);
	json_t *out = mx_fed_query_public_rooms_check(in, max);
	json_decref(in);
	return out;
}

static void test_public_rooms_check(void **state)
{
	assert_null(check("{}", 10));
	assert_null(check("{\"chunk\":{}}", 10));
	assert_null(check("[]", 10));

	json_t *out = check("{\"chunk\":[{\"room_id\":\"!a:x\",\"num_joined_members\":4,"
			    "\"world_readable\":true,\"guest_can_join\":false,\"name\":\"A\","
			    "\"x.extra\":1},"
			    "{\"room_id\":\"!b:x\",\"num_joined_members\":\"many\"},"
			    "{\"name\":\"no id\"}, 7, {\"room_id\":5}],"
			    "\"next_batch\":\"tok\",\"prev_batch\":3,"
			    "\"total_room_count_estimate\":99,\"x.other\":true}",
			    10);
	assert_non_null(out);
	json_t *chunk = json_object_get(out, "chunk");
	assert_int_equal(json_array_size(chunk), 2);
	json_t *a = json_array_get(chunk, 0), *b = json_array_get(chunk, 1);
	assert_string_equal(json_string_value(json_object_get(a, "name")), "A");
	assert_int_equal(json_integer_value(json_object_get(a, "num_joined_members")), 4);
	assert_true(json_is_true(json_object_get(a, "world_readable")));
	assert_non_null(json_object_get(a, "x.extra")); /* entries keep what they have */
	/* Required members filled in when missing or malformed. */
	assert_int_equal(json_integer_value(json_object_get(b, "num_joined_members")), 0);
	assert_true(json_is_false(json_object_get(b, "world_readable")));
	assert_true(json_is_false(json_object_get(b, "guest_can_join")));
	assert_string_equal(json_string_value(json_object_get(out, "next_batch")), "tok");
	assert_null(json_object_get(out, "prev_batch"));
	assert_int_equal(json_integer_value(json_object_get(out, "total_room_count_estimate")), 99);
	assert_null(json_object_get(out, "x.other"));
	json_decref(out);

	/* At most max entries. */
	out = check("{\"chunk\":[{\"room_id\":\"!a:x\"},{\"room_id\":\"!b:x\"},{\"room_id\":\"!c:x\"}]}",
		    2);
	assert_int_equal(json_array_size(json_object_get(out, "chunk")), 2);
	json_decref(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_public_rooms_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
