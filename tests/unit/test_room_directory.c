/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for room/directory: parsing /publicRooms requests, the
 * filter (also applied to other servers' entries), and the list against a
 * temporary SQLite database: which rooms are listed, their order, paging
 * with next_batch / prev_batch, the federation view (m.federate), and bad
 * tokens and options.
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

#include "core/arena.h"
#include "core/error.h"
#include "core/mem.h"
#include "room/directory.h"
#include "store/rooms.h"

/* ---- parsing and matching ---- */

static void test_parse_limit(void **state)
{
	int v = -1;
	assert_int_equal(mx_room_directory_parse_limit("10", &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(mx_room_directory_parse_limit("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(mx_room_directory_parse_limit("99999999", &v), 0);
	assert_int_equal(v, MX_ROOM_DIRECTORY_MAX_LIMIT);
	assert_int_equal(mx_room_directory_parse_limit("", &v), MX_EINVALIDPARAM);
	assert_int_equal(mx_room_directory_parse_limit("-1", &v), MX_EINVALIDPARAM);
	assert_int_equal(mx_room_directory_parse_limit("10x", &v), MX_EINVALIDPARAM);
	assert_int_equal(mx_room_directory_parse_limit("99999999999999999999999", &v),
			 MX_EINVALIDPARAM);
}

static int parse(struct mx_arena *a, const char *body, struct mx_room_directory_query *q,
		 const char **why)
{
	json_t *b = mx_arena_json(a, json_loads(body, 0, NULL));
	assert_non_null(b);
	*why = NULL;
	return mx_room_directory_parse_body(a, b, q, why);
}

static void test_parse_body(void **state)
{
	struct mx_arena a;
	mx_arena_init(&a);
	struct mx_room_directory_query q;
	const char *why;
	assert_int_equal(parse(&a, "{}", &q, &why), 0);
	assert_int_equal(q.limit, 0);
	assert_null(q.since);
	assert_null(q.term);
	assert_false(q.include_all_networks);
	assert_int_equal(parse(&a,
			       "{\"limit\":5,\"since\":\"n1_!a:x\",\"include_all_networks\":true,"
			       "\"third_party_instance_id\":\"irc\",\"filter\":{\"generic_search_term\":"
			       "\"CheEse\",\"room_types\":[null,\"m.space\"]}}",
			       &q, &why),
			 0);
	assert_int_equal(q.limit, 5);
	assert_string_equal(q.since, "n1_!a:x");
	assert_string_equal(q.term, "cheese"); /* folded once, here */
	assert_true(q.include_all_networks);
	assert_string_equal(q.third_party_instance_id, "irc");
	assert_int_equal(json_array_size(q.room_types), 2);
	assert_int_equal(parse(&a, "{\"limit\":null,\"filter\":null,\"since\":null}", &q, &why), 0);
	assert_int_equal(parse(&a, "{\"filter\":{\"generic_search_term\":\"\"}}", &q, &why), 0);
	assert_null(q.term); /* an empty term is no term */

	static const struct {
		const char *body;
		int rc;
	} bad[] = {
		{"{\"limit\":\"10\"}", MX_EBADJSON},
		{"{\"limit\":1.5}", MX_EBADJSON},
		{"{\"limit\":-1}", MX_EINVALIDPARAM},
		{"{\"since\":3}", MX_EBADJSON},
		{"{\"third_party_instance_id\":[]}", MX_EBADJSON},
		{"{\"include_all_networks\":\"yes\"}", MX_EBADJSON},
		{"{\"filter\":[]}", MX_EBADJSON},
		{"{\"filter\":{\"generic_search_term\":1}}", MX_EBADJSON},
		{"{\"filter\":{\"room_types\":\"m.space\"}}", MX_EBADJSON},
		{"{\"filter\":{\"room_types\":[1]}}", MX_EBADJSON},
	};
	for (size_t i = 0; i < MX_ARRAY_LEN(bad); i++) {
		assert_int_equal(parse(&a, bad[i].body, &q, &why), bad[i].rc);
		assert_non_null(why);
	}
	char *long_term = mx_arena_alloc(&a, MX_ROOM_DIRECTORY_TERM_MAX + 64);
	snprintf(long_term, MX_ROOM_DIRECTORY_TERM_MAX + 64, "{\"filter\":{\"generic_search_term\":\"%0*d\"}}",
		 MX_ROOM_DIRECTORY_TERM_MAX + 1, 0);
	assert_int_equal(parse(&a, long_term, &q, &why), MX_EINVALIDPARAM);
	mx_arena_release(&a);
}

static void test_matches(void **state)
{
	json_t *e = json_pack("{s:s, s:s, s:s, s:s}", "room_id", "!a:x", "name", "The Cheese Room",
			      "topic", "About Brie", "canonical_alias", "#fromage:x");
	json_t *space = json_pack("{s:s, s:s}", "room_id", "!b:x", "room_type", "m.space");
	struct mx_room_directory_query q = {0};
	assert_true(mx_room_directory_matches(e, &q));
	q.term = "cheese";
	assert_true(mx_room_directory_matches(e, &q));
	q.term = "brie";
	assert_true(mx_room_directory_matches(e, &q));
	q.term = "fromage";
	assert_true(mx_room_directory_matches(e, &q));
	q.term = "camembert";
	assert_false(mx_room_directory_matches(e, &q));
	assert_false(mx_room_directory_matches(space, &q)); /* no fields at all */
	q.term = NULL;
	json_t *types = json_pack("[n]");
	q.room_types = types;
	assert_true(mx_room_directory_matches(e, &q));
	assert_false(mx_room_directory_matches(space, &q));
	json_array_append_new(types, json_string("m.space"));
	assert_true(mx_room_directory_matches(space, &q));
	json_array_remove(types, 0);
	assert_false(mx_room_directory_matches(e, &q));
	json_decref(types);
	json_decref(space);
	json_decref(e);
}

/* ---- the list ---- */

/* Only member: setup() makes a struct mx_test_db, which this wraps. */
struct fixture {
	struct mx_test_db t;
};

static int setup(void **state)
{
	return mx_test_db_setup_named(state, "room_directory");
}

static int teardown(void **state)
{
	return mx_test_db_teardown(state);
}

static void put_state(struct fixture *f, const char *room_id, const char *type,
		      const char *state_key, const char *content, const char *membership,
		      bool new_room)
{
	assert_int_equal(mx_test_db_put_state(&f->t, room_id, type, state_key, content, membership,
					      new_room),
			 0);
}

/* A published room with joined members, a join rule and a name. */
static void make_room(struct fixture *f, const char *room_id, int joined, const char *join_rule,
		      const char *name, const char *create)
{
	put_state(f, room_id, "m.room.create", "", create ? create : "{}", NULL, true);
	for (int i = 0; i < joined; i++)
		put_state(f, room_id, "m.room.member", mx_arena_printf(&f->t.a, "@u%d:test", i),
			  "{\"membership\":\"join\"}", "join", false);
	put_state(f, room_id, "m.room.join_rules", "",
		  mx_arena_printf(&f->t.a, "{\"join_rule\":\"%s\"}", join_rule), NULL, false);
	put_state(f, room_id, "m.room.name", "", mx_arena_printf(&f->t.a, "{\"name\":\"%s\"}", name),
		  NULL, false);
	assert_int_equal(mx_store_room_set_published(f->t.db, room_id, true), 0);
}

static json_t *list(struct fixture *f, const struct mx_room_directory_query *q, bool fed)
{
	json_t *out;
	const char *why = NULL;
	assert_int_equal(mx_room_directory_list(f->t.rc, &f->t.a, q, fed, &out, &why), 0);
	return mx_arena_json(&f->t.a, out);
}

static const char *nth_id(json_t *page, size_t i)
{
	return json_string_value(json_object_get(json_array_get(json_object_get(page, "chunk"), i),
						 "room_id"));
}

static void test_list(void **state)
{
	struct fixture *f = *state;
	make_room(f, "!big:test", 3, "public", "Big cheese", NULL);
	make_room(f, "!mid:test", 2, "knock", "Middle", NULL);
	make_room(f, "!mid2:test", 2, "public", "Middle too", "{\"m.federate\":false}");
	make_room(f, "!small:test", 1, "public", "Small cheese", NULL);
	make_room(f, "!closed:test", 5, "invite", "Invite only", NULL);
	make_room(f, "!empty:test", 0, "public", "Nobody here", NULL);

	struct mx_room_directory_query q = {0};
	json_t *all = list(f, &q, false);
	json_t *chunk = json_object_get(all, "chunk");
	assert_int_equal(json_array_size(chunk), 4); /* not the invite-only or empty rooms */
	assert_string_equal(nth_id(all, 0), "!big:test");
	assert_string_equal(nth_id(all, 1), "!mid2:test"); /* same size: by room id */
	assert_string_equal(nth_id(all, 2), "!mid:test");
	assert_string_equal(nth_id(all, 3), "!small:test");
	assert_int_equal(json_integer_value(json_object_get(all, "total_room_count_estimate")), 4);
	assert_null(json_object_get(all, "next_batch"));
	json_t *big = json_array_get(chunk, 0);
	assert_string_equal(json_string_value(json_object_get(big, "name")), "Big cheese");
	assert_int_equal(json_integer_value(json_object_get(big, "num_joined_members")), 3);
	assert_true(json_is_false(json_object_get(big, "world_readable")));
	assert_string_equal(json_string_value(json_object_get(big, "join_rule")), "public");

	/* Other servers do not see rooms that do not federate. */
	json_t *fed = list(f, &q, true);
	assert_int_equal(json_array_size(json_object_get(fed, "chunk")), 3);
	assert_string_equal(nth_id(fed, 1), "!mid:test");

	/* Pages of two, forwards then back. */
	q.limit = 2;
	json_t *p1 = list(f, &q, false);
	assert_int_equal(json_array_size(json_object_get(p1, "chunk")), 2);
	assert_null(json_object_get(p1, "prev_batch"));
	q.since = json_string_value(json_object_get(p1, "next_batch"));
	assert_non_null(q.since);
	json_t *p2 = list(f, &q, false);
	assert_string_equal(nth_id(p2, 0), "!mid:test");
	assert_string_equal(nth_id(p2, 1), "!small:test");
	assert_null(json_object_get(p2, "next_batch"));
	q.since = json_string_value(json_object_get(p2, "prev_batch"));
	assert_non_null(q.since);
	json_t *back = list(f, &q, false);
	assert_string_equal(nth_id(back, 0), "!big:test");
	assert_string_equal(nth_id(back, 1), "!mid2:test");

	/* A filter, and the count of all listed rooms still. */
	struct mx_room_directory_query s = {.term = "cheese"};
	json_t *found = list(f, &s, false);
	assert_int_equal(json_array_size(json_object_get(found, "chunk")), 2);
	assert_int_equal(json_integer_value(json_object_get(found, "total_room_count_estimate")), 4);

	/* Third-party networks: none here. */
	struct mx_room_directory_query tp = {.third_party_instance_id = "irc"};
	assert_int_equal(json_array_size(json_object_get(list(f, &tp, false), "chunk")), 0);

	json_t *out;
	const char *why = NULL;
	struct mx_room_directory_query badq = {.since = "garbage"};
	assert_int_equal(mx_room_directory_list(f->t.rc, &f->t.a, &badq, false, &out, &why),
			 MX_EINVALIDPARAM);
	assert_non_null(why);
	badq = (struct mx_room_directory_query){.since = "n12_"};
	assert_int_equal(mx_room_directory_list(f->t.rc, &f->t.a, &badq, false, &out, &why),
			 MX_EINVALIDPARAM);
	badq = (struct mx_room_directory_query){.include_all_networks = true,
						.third_party_instance_id = "irc"};
	assert_int_equal(mx_room_directory_list(f->t.rc, &f->t.a, &badq, false, &out, &why),
			 MX_EINVALIDPARAM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_limit),
		cmocka_unit_test(test_parse_body),
		cmocka_unit_test(test_matches),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
