/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for store/directory and store/reports against a temporary
 * SQLite database: alias lookups, the checked delete, moving aliases and
 * the listing on a room upgrade, the published room list (joined counts,
 * the state rows an entry is made of, redaction flags, the scan cap) and
 * report rows.
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
#include <dirent.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/rand.h"
#include "db/db.h"
#include "store/directory.h"
#include "store/reports.h"
#include "store/rooms.h"

/* Only member: setup() makes a struct mx_test_db, which this wraps. */
struct fixture {
	struct mx_test_db t;
};

static int setup(void **state)
{
	return mx_test_db_setup_named(state, "directory");
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

static void make_room(struct fixture *f, const char *room_id, int joined, const char *name)
{
	put_state(f, room_id, "m.room.create", "", "{}", NULL, true);
	for (int i = 0; i < joined; i++)
		put_state(f, room_id, "m.room.member", mx_arena_printf(&f->t.a, "@u%d:test", i),
			  "{\"membership\":\"join\"}", "join", false);
	put_state(f, room_id, "m.room.member", "@left:test", "{\"membership\":\"leave\"}", "leave",
		  false);
	put_state(f, room_id, "m.room.join_rules", "", "{\"join_rule\":\"public\"}", NULL, false);
	if (name)
		put_state(f, room_id, "m.room.name", "",
			  mx_arena_printf(&f->t.a, "{\"name\":\"%s\"}", name), NULL, false);
}

static void test_aliases(void **state)
{
	struct fixture *f = *state;
	const char *room, *creator, **aliases;
	size_t n;
	make_room(f, "!a:test", 1, NULL);
	make_room(f, "!b:test", 1, NULL);
	assert_int_equal(mx_store_alias_info(f->t.rc, &f->t.a, "#x:test", &room, &creator), MX_ENOTFOUND);
	assert_int_equal(mx_store_alias_create(f->t.db, "#x:test", "!a:test", "@alice:test"), 0);
	assert_int_equal(mx_store_alias_create(f->t.db, "#w:test", "!a:test", "@bob:test"), 0);
	assert_int_equal(mx_store_alias_create(f->t.db, "#x:test", "!b:test", "@bob:test"),
			 MX_ECONFLICT);
	assert_int_equal(mx_store_alias_info(f->t.rc, &f->t.a, "#x:test", &room, &creator), 0);
	assert_string_equal(room, "!a:test");
	assert_string_equal(creator, "@alice:test");
	assert_int_equal(mx_store_room_aliases(f->t.rc, &f->t.a, "!a:test", &aliases, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(aliases[0], "#w:test"); /* sorted */
	assert_string_equal(aliases[1], "#x:test");
	assert_int_equal(mx_store_room_aliases(f->t.rc, &f->t.a, "!b:test", &aliases, &n), 0);
	assert_int_equal(n, 0);

	/* The delete checks the mapping it was decided on. */
	assert_int_equal(mx_store_alias_remove(f->t.db, "#x:test", "!b:test"), MX_ENOTFOUND);
	assert_non_null(mx_store_alias_get(f->t.rc, &f->t.a, "#x:test"));
	assert_int_equal(mx_store_alias_remove(f->t.db, "#x:test", "!a:test"), 0);
	assert_null(mx_store_alias_get(f->t.rc, &f->t.a, "#x:test"));
	assert_int_equal(mx_store_alias_remove(f->t.db, "#x:test", "!a:test"), MX_ENOTFOUND);
}

static void test_upgrade_moves(void **state)
{
	struct fixture *f = *state;
	const char *room, *creator;
	struct mx_store_room r;
	make_room(f, "!old:test", 1, NULL);
	make_room(f, "!new:test", 1, NULL);
	make_room(f, "!other:test", 1, NULL);
	assert_int_equal(mx_store_alias_create(f->t.db, "#a:test", "!old:test", "@bob:test"), 0);
	assert_int_equal(mx_store_alias_create(f->t.db, "#b:test", "!old:test", "@alice:test"), 0);
	assert_int_equal(mx_store_alias_create(f->t.db, "#c:test", "!other:test", "@alice:test"), 0);

	/* Not published: only the aliases move. */
	assert_int_equal(mx_store_directory_upgrade(f->t.db, "!old:test", "!new:test"), 0);
	assert_int_equal(mx_store_alias_info(f->t.rc, &f->t.a, "#a:test", &room, &creator), 0);
	assert_string_equal(room, "!new:test");
	assert_string_equal(creator, "@bob:test"); /* creators kept */
	assert_string_equal(mx_store_alias_get(f->t.rc, &f->t.a, "#b:test"), "!new:test");
	assert_string_equal(mx_store_alias_get(f->t.rc, &f->t.a, "#c:test"), "!other:test");
	assert_int_equal(mx_store_room_get(f->t.rc, &f->t.a, "!new:test", &r), 0);
	assert_false(r.published);

	/* Published: the listing moves too. */
	assert_int_equal(mx_store_room_set_published(f->t.db, "!other:test", true), 0);
	assert_int_equal(mx_store_directory_upgrade(f->t.db, "!other:test", "!new:test"), 0);
	assert_int_equal(mx_store_room_get(f->t.rc, &f->t.a, "!new:test", &r), 0);
	assert_true(r.published);
	assert_int_equal(mx_store_room_get(f->t.rc, &f->t.a, "!other:test", &r), 0);
	assert_false(r.published);
	assert_string_equal(mx_store_alias_get(f->t.rc, &f->t.a, "#c:test"), "!new:test");
}

static void test_public_rooms(void **state)
{
	struct fixture *f = *state;
	struct mx_store_public_room *v;
	size_t n;
	bool truncated;
	make_room(f, "!r1:test", 3, "One");
	make_room(f, "!r2:test", 1, NULL);
	make_room(f, "!r3:test", 2, "Three");
	assert_int_equal(mx_store_public_rooms(f->t.rc, &f->t.a, 100, &v, &n, &truncated), 0);
	assert_int_equal(n, 0);
	assert_int_equal(mx_store_room_set_published(f->t.db, "!r1:test", true), 0);
	assert_int_equal(mx_store_room_set_published(f->t.db, "!r3:test", true), 0);
	assert_int_equal(mx_store_public_rooms(f->t.rc, &f->t.a, 100, &v, &n, &truncated), 0);
	assert_int_equal(n, 2);
	assert_false(truncated);
	assert_string_equal(v[0].room_id, "!r1:test");
	assert_int_equal(v[0].joined, 3); /* the member who left is not counted */
	assert_non_null(v[0].create);
	assert_non_null(v[0].join_rules);
	assert_non_null(strstr(v[0].name, "\"One\""));
	assert_null(v[0].topic);
	assert_false(v[0].name_redacted);
	assert_string_equal(v[1].room_id, "!r3:test");
	assert_int_equal(v[1].joined, 2);
	assert_non_null(strstr(v[1].name, "\"Three\""));

	/* The newest state wins. */
	put_state(f, "!r3:test", "m.room.name", "", "{\"name\":\"Renamed\"}", NULL, false);
	assert_int_equal(mx_store_public_rooms(f->t.rc, &f->t.a, 100, &v, &n, &truncated), 0);
	assert_non_null(strstr(v[1].name, "\"Renamed\""));

	/* The cap. */
	assert_int_equal(mx_store_public_rooms(f->t.rc, &f->t.a, 1, &v, &n, &truncated), 0);
	assert_int_equal(n, 1);
	assert_true(truncated);
	assert_string_equal(v[0].room_id, "!r1:test");
}

static void test_reports(void **state)
{
	struct fixture *f = *state;
	make_room(f, "!r:test", 1, NULL);
	assert_int_equal(mx_store_report_event(f->t.db, "!r:test", "$ev1", "@bob:test", "rude", true,
					       -100),
			 0);
	assert_int_equal(mx_store_report_event(f->t.db, "!r:test", NULL, "@bob:test", NULL, false, 0),
			 0);
	assert_int_equal(mx_store_report_user(f->t.db, "@alice:test", "@bob:test", ""), 0);
	struct mx_db_stmt *st;
	assert_int_equal(mx_db_query(f->t.rc, &st,
				     "SELECT COUNT(*), SUM(score IS NULL), SUM(event_id IS NULL),"
				     " MIN(score) FROM event_reports",
				     ""),
			 MX_DB_ROW);
	assert_int_equal(mx_db_col_int64(st, 0), 2);
	assert_int_equal(mx_db_col_int64(st, 1), 1);
	assert_int_equal(mx_db_col_int64(st, 2), 1);
	assert_int_equal(mx_db_col_int64(st, 3), -100);
	mx_db_done(st);
	assert_int_equal(mx_db_query(f->t.rc, &st,
				     "SELECT target_user_id, user_id, reason FROM user_reports", ""),
			 MX_DB_ROW);
	assert_string_equal(mx_db_col_text(st, 0), "@alice:test");
	assert_string_equal(mx_db_col_text(st, 1), "@bob:test");
	assert_string_equal(mx_db_col_text(st, 2), "");
	mx_db_done(st);
}

int main(void)
{
	if (mx_rand_init())
		return 1;
	mx_log_set_level(MX_LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_aliases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_moves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_public_rooms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reports, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
