/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for ephemeral data: the typing table (changes, positions,
 * expiry by its timer thread, bounds), presence (states, automatic
 * transitions' entry points, the change list), and, against a temporary
 * SQLite database, receipts (forward only, streams, threads, the read
 * position for notification counts), the fully-read marker, room tags and
 * the membership fan-out queries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testdb.h"
#include <dirent.h>
#include <jansson.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/mem.h"
#include "db/db.h"
#include "store/account_data.h"
#include "store/members.h"
#include "store/receipts.h"
#include "store/rooms.h"
#include "store/tags.h"
#include "sync/presence.h"
#include "sync/typing.h"

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* The JSON array's strings joined by ',' (for compact asserts); static buffer. */
static const char *ids_str(json_t *arr)
{
	static char buf[512];
	size_t i, o = 0;
	json_t *v;
	buf[0] = '\0';
	json_array_foreach (arr, i, v)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", i ? "," : "",
				      json_string_value(v));
	return buf;
}

/* ---- typing ---- */

static void test_typing_changes(void **state)
{
	(void)state;
	struct mx_typing *t = mx_typing_new(NULL, NULL, "hs");
	int64_t p0 = mx_typing_position(t);
	assert_null(mx_typing_room(t, "!r:hs", p0, false));
	assert_null(mx_typing_room(t, "!r:hs", p0, true));

	assert_true(mx_typing_set(t, "!r:hs", "@a:hs", true, 30000));
	int64_t p1 = mx_typing_position(t);
	assert_true(p1 > p0);
	/* Repeating only extends the timeout: no change, no new position. */
	assert_false(mx_typing_set(t, "!r:hs", "@a:hs", true, 30000));
	assert_int_equal(mx_typing_position(t), p1);
	assert_true(mx_typing_set(t, "!r:hs", "@b:hs", true, 30000));

	json_t *ids = mx_typing_room(t, "!r:hs", p0, false);
	assert_non_null(ids);
	assert_int_equal(json_array_size(ids), 2);
	json_decref(ids);
	/* Nothing new after the current position; full still lists them. */
	assert_null(mx_typing_room(t, "!r:hs", mx_typing_position(t), false));
	ids = mx_typing_room(t, "!r:hs", mx_typing_position(t), true);
	assert_int_equal(json_array_size(ids), 2);
	json_decref(ids);

	/* Stopping is a change; stopping again is not. */
	int64_t p2 = mx_typing_position(t);
	assert_true(mx_typing_set(t, "!r:hs", "@a:hs", false, 0));
	assert_false(mx_typing_set(t, "!r:hs", "@a:hs", false, 0));
	assert_false(mx_typing_set(t, "!other:hs", "@a:hs", false, 0));
	ids = mx_typing_room(t, "!r:hs", p2, false);
	assert_string_equal(ids_str(ids), "@b:hs");
	json_decref(ids);
	/* Other rooms are untouched. */
	assert_null(mx_typing_room(t, "!other:hs", p0, false));
	/* A token from the future (a restart) gets an empty set for rooms
	 * it knows nothing of, to clear stale typers. */
	ids = mx_typing_room(t, "!other:hs", mx_typing_position(t) + 1000, false);
	assert_non_null(ids);
	assert_int_equal(json_array_size(ids), 0);
	json_decref(ids);
	mx_typing_free(t);
}

static void test_typing_expiry(void **state)
{
	(void)state;
	struct mx_typing *t = mx_typing_new(NULL, NULL, "hs");
	assert_true(mx_typing_set(t, "!r:hs", "@a:hs", true, 50));
	assert_true(mx_typing_set(t, "!r:hs", "@b:hs", true, 60000));
	int64_t p = mx_typing_position(t);
	/* The timer thread expires @a and takes a new position. */
	for (int i = 0; i < 100 && mx_typing_position(t) == p; i++)
		sleep_ms(10);
	assert_true(mx_typing_position(t) > p);
	json_t *ids = mx_typing_room(t, "!r:hs", p, false);
	assert_string_equal(ids_str(ids), "@b:hs");
	json_decref(ids);
	/* A zero timeout is already over: it never shows. */
	mx_typing_set(t, "!z:hs", "@a:hs", true, 0);
	ids = mx_typing_room(t, "!z:hs", 0, true);
	assert_null(ids);
	mx_typing_free(t);
}

static void test_typing_bounds(void **state)
{
	(void)state;
	struct mx_typing *t = mx_typing_new(NULL, NULL, "hs");
	char user[32];
	for (int i = 0; i < MX_TYPING_MAX_PER_ROOM + 10; i++) {
		snprintf(user, sizeof(user), "@u%d:hs", i);
		mx_typing_set(t, "!big:hs", user, true, 60000);
	}
	json_t *ids = mx_typing_room(t, "!big:hs", 0, true);
	assert_int_equal(json_array_size(ids), MX_TYPING_MAX_PER_ROOM);
	json_decref(ids);
	mx_typing_free(t);
	mx_typing_free(NULL);
}

/* ---- presence ---- */

static const char *presence_of(struct mx_presence *p, const char *user)
{
	static char buf[32];
	json_t *c = mx_presence_content(p, user, NULL);
	if (!c)
		return "none";
	snprintf(buf, sizeof(buf), "%s", json_string_value(json_object_get(c, "presence")));
	json_decref(c);
	return buf;
}

static void test_presence_states(void **state)
{
	(void)state;
	enum mx_presence_state st;
	assert_int_equal(mx_presence_parse("online", &st), 0);
	assert_int_equal(st, MX_PRESENCE_ONLINE);
	assert_int_equal(mx_presence_parse("unavailable", &st), 0);
	assert_int_equal(st, MX_PRESENCE_UNAVAILABLE);
	assert_int_equal(mx_presence_parse("offline", &st), 0);
	assert_int_equal(st, MX_PRESENCE_OFFLINE);
	assert_int_equal(mx_presence_parse("busy", &st), MX_EINVALIDPARAM);
	assert_int_equal(mx_presence_parse(NULL, &st), MX_EINVALIDPARAM);
	assert_string_equal(mx_presence_name(MX_PRESENCE_UNAVAILABLE), "unavailable");

	struct mx_presence *p = mx_presence_new(NULL, NULL, "hs");
	int64_t p0 = mx_presence_position(p);
	assert_string_equal(presence_of(p, "@a:hs"), "none");

	/* A sync brings an offline user online; offline syncs change nothing. */
	mx_presence_synced(p, "@b:hs", "offline", 30000);
	assert_string_equal(presence_of(p, "@b:hs"), "none");
	mx_presence_synced(p, "@a:hs", NULL, 30000);
	assert_string_equal(presence_of(p, "@a:hs"), "online");
	int64_t p1 = mx_presence_position(p);
	assert_true(p1 > p0);
	json_t *c = mx_presence_content(p, "@a:hs", NULL);
	assert_true(json_is_true(json_object_get(c, "currently_active")));
	assert_true(json_integer_value(json_object_get(c, "last_active_ago")) >= 0);
	assert_null(json_object_get(c, "status_msg"));
	json_decref(c);
	/* Syncing again changes nothing. */
	mx_presence_synced(p, "@a:hs", "online", 30000);
	assert_int_equal(mx_presence_position(p), p1);

	/* PUT: state and message; a sync does not override "unavailable". */
	mx_presence_set(p, "@a:hs", MX_PRESENCE_UNAVAILABLE, "lunch");
	assert_true(mx_presence_position(p) > p1);
	mx_presence_synced(p, "@a:hs", "online", 30000);
	c = mx_presence_content(p, "@a:hs", NULL);
	assert_string_equal(json_string_value(json_object_get(c, "presence")), "unavailable");
	assert_string_equal(json_string_value(json_object_get(c, "status_msg")), "lunch");
	assert_null(json_object_get(c, "currently_active")); /* only with online */
	json_decref(c);
	/* Activity brings an unavailable user back online. */
	mx_presence_active(p, "@a:hs");
	assert_string_equal(presence_of(p, "@a:hs"), "online");
	/* Clearing the message is a change. */
	int64_t p2 = mx_presence_position(p);
	mx_presence_set(p, "@a:hs", MX_PRESENCE_ONLINE, NULL);
	assert_true(mx_presence_position(p) > p2);
	c = mx_presence_content(p, "@a:hs", NULL);
	assert_null(json_object_get(c, "status_msg"));
	json_decref(c);
	/* Activity of an unknown user records them, offline. */
	mx_presence_active(p, "@c:hs");
	assert_string_equal(presence_of(p, "@c:hs"), "offline");
	mx_presence_free(p);
	mx_presence_free(NULL);
}

static void test_presence_changed(void **state)
{
	(void)state;
	struct mx_presence *p = mx_presence_new(NULL, NULL, "hs");
	struct mx_arena a;
	mx_arena_init(&a);
	int64_t p0 = mx_presence_position(p);
	mx_presence_set(p, "@a:hs", MX_PRESENCE_ONLINE, NULL);
	mx_presence_set(p, "@b:hs", MX_PRESENCE_ONLINE, NULL);
	int64_t p1 = mx_presence_position(p);
	mx_presence_set(p, "@a:hs", MX_PRESENCE_UNAVAILABLE, NULL);
	const char **users;
	size_t n;
	mx_presence_changed(p, &a, p0, &users, &n);
	assert_int_equal(n, 2); /* newest first, each once */
	assert_string_equal(users[0], "@a:hs");
	assert_string_equal(users[1], "@b:hs");
	mx_presence_changed(p, &a, p1, &users, &n);
	assert_int_equal(n, 1);
	assert_string_equal(users[0], "@a:hs");
	mx_presence_changed(p, &a, mx_presence_position(p), &users, &n);
	assert_int_equal(n, 0);
	mx_arena_release(&a);
	mx_presence_free(p);
}

/* ---- the store: receipts, markers, tags, members ---- */

struct fixture {
	struct mx_test_db t;
	/* events of !r:hs: create, members, m1, root, t1 (in root's thread),
	 * re (a reaction to t1), m2 */
	int64_t nid[8];
};

enum { E_CREATE, E_ALICE, E_BOB, E_M1, E_ROOT, E_T1, E_RE, E_M2 };
static const char *const ev_ids[] = {"$create", "$alice", "$bob", "$m1",
				     "$root",   "$t1",    "$re",  "$m2"};

static void persist_room(struct fixture *f)
{
	struct mx_persist_event e[8];
	memset(e, 0, sizeof(e));
	for (int i = 0; i < 8; i++) {
		e[i].event_id = ev_ids[i];
		e[i].room_id = "!r:hs";
		e[i].type = "m.room.message";
		e[i].sender = "@alice:hs";
		e[i].depth = i + 1;
		e[i].origin_server_ts = 1000 + i;
		e[i].json = "{}";
	}
	e[E_CREATE].type = "m.room.create";
	e[E_CREATE].state_key = "";
	e[E_CREATE].new_room_version = "10";
	e[E_CREATE].new_room_creator = "@alice:hs";
	e[E_ALICE].type = e[E_BOB].type = "m.room.member";
	e[E_ALICE].state_key = "@alice:hs";
	e[E_BOB].state_key = "@bob:remote";
	e[E_BOB].sender = "@bob:remote";
	e[E_ALICE].membership = e[E_BOB].membership = "join";
	e[E_T1].relates_to = "$root";
	e[E_T1].rel_type = "m.thread";
	e[E_T1].thread_id = "$root";
	e[E_RE].type = "m.reaction";
	e[E_RE].relates_to = "$t1";
	e[E_RE].rel_type = "m.annotation";
	assert_int_equal(mx_store_events_persist(f->t.db, e, 8), 0);
	for (int i = 0; i < 8; i++)
		f->nid[i] = e[i].nid;

	/* A second room: alice and carol. */
	struct mx_persist_event g[3];
	memset(g, 0, sizeof(g));
	const char *ids[] = {"$g0", "$g1", "$g2"}, *who[] = {"@alice:hs", "@alice:hs", "@carol:hs"};
	for (int i = 0; i < 3; i++) {
		g[i].event_id = ids[i];
		g[i].room_id = "!g:hs";
		g[i].type = i ? "m.room.member" : "m.room.create";
		g[i].state_key = i ? who[i] : "";
		g[i].membership = i ? "join" : NULL;
		g[i].sender = who[i];
		g[i].depth = i + 1;
		g[i].origin_server_ts = 2000 + i;
		g[i].json = "{}";
	}
	g[0].new_room_version = "10";
	g[0].new_room_creator = "@alice:hs";
	assert_int_equal(mx_store_events_persist(f->t.db, g, 3), 0);
}

static int setup(void **state)
{
	struct fixture *f = mx_xcalloc(1, sizeof(*f));
	if (mx_test_db_open(&f->t, "ephemeral"))
		return -1;
	persist_room(f);
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

struct collect {
	int n;
	char last[256];
};

static int collect_cb(void *ctx, const struct mx_store_receipt *r)
{
	struct collect *c = ctx;
	c->n++;
	snprintf(c->last, sizeof(c->last), "%s %s %s [%s] %s", r->room_id, r->receipt_type, r->user_id,
		 r->thread_id, r->event_id);
	return 0;
}

static void test_receipts_forward_only(void **state)
{
	struct fixture *f = *state;
	int64_t pos, p0 = mx_store_receipts_position(f->t.rc);
	assert_int_equal(p0, 0);
	assert_int_equal(mx_store_receipt_put(f->t.db, "!r:hs", "m.read", "@alice:hs", NULL, "$m1", 5,
					      &pos), 0);
	assert_int_equal(pos, 1);
	assert_int_equal(mx_store_receipts_position(f->t.rc), 1);
	/* Backwards or the same event: nothing changes. */
	assert_int_equal(mx_store_receipt_put(f->t.db, "!r:hs", "m.read", "@alice:hs", NULL, "$bob", 6,
					      &pos), 0);
	assert_int_equal(pos, 0);
	assert_int_equal(mx_store_receipt_put(f->t.db, "!r:hs", "m.read", "@alice:hs", NULL, "$m1", 6,
					      &pos), 0);
	assert_int_equal(pos, 0);
	/* Forward: a new position, the row replaced. */
	assert_int_equal(mx_store_receipt_put(f->t.db, "!r:hs", "m.read", "@alice:hs", NULL, "$m2", 7,
					      &pos), 0);
	assert_int_equal(pos, 2);
	/* Unknown event, or one of another room. */
	assert_int_equal(mx_store_receipt_put(f->t.db, "!r:hs", "m.read", "@alice:hs", NULL, "$nope", 7,
					      &pos), MX_ENOTFOUND);
	assert_int_equal(mx_store_receipt_put(f->t.db, "!r:hs", "m.read", "@alice:hs", NULL, "$g1", 7,
					      &pos), MX_ENOTFOUND);
	assert_int_equal(pos, 0);

	struct collect c = {0};
	assert_int_equal(mx_store_receipts_between(f->t.rc, NULL, 0, 100, collect_cb, &c), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.last, "!r:hs m.read @alice:hs [] $m2");
	memset(&c, 0, sizeof(c));
	mx_store_receipts_between(f->t.rc, "!r:hs", 1, 2, collect_cb, &c);
	assert_int_equal(c.n, 1);
	memset(&c, 0, sizeof(c));
	mx_store_receipts_between(f->t.rc, "!g:hs", 0, 2, collect_cb, &c);
	assert_int_equal(c.n, 0);
	memset(&c, 0, sizeof(c));
	mx_store_receipts_between(f->t.rc, NULL, 2, 2, collect_cb, &c);
	assert_int_equal(c.n, 0);
}

static void test_receipts_read_nid(void **state)
{
	struct fixture *f = *state;
	int64_t pos;
	const char *u = "@bob:remote";
	assert_int_equal(mx_store_receipt_read_nid(f->t.rc, "!r:hs", u, NULL), 0);
	/* Threaded receipt in root's thread on t1; unthreaded on m1. */
	mx_store_receipt_put(f->t.db, "!r:hs", "m.read", u, "$root", "$t1", 1, &pos);
	assert_int_equal(mx_store_receipt_read_nid(f->t.rc, "!r:hs", u, NULL), 0);
	assert_int_equal(mx_store_receipt_read_nid(f->t.rc, "!r:hs", u, "$root"), f->nid[E_T1]);
	assert_int_equal(mx_store_receipt_read_nid(f->t.rc, "!r:hs", u, "main"), 0);
	mx_store_receipt_put(f->t.db, "!r:hs", "m.read", u, NULL, "$m1", 2, &pos);
	assert_int_equal(mx_store_receipt_read_nid(f->t.rc, "!r:hs", u, NULL), f->nid[E_M1]);
	assert_int_equal(mx_store_receipt_read_nid(f->t.rc, "!r:hs", u, "main"), f->nid[E_M1]);
	assert_int_equal(mx_store_receipt_read_nid(f->t.rc, "!r:hs", u, "$root"), f->nid[E_T1]);
	/* A private receipt further ahead wins; a public one behind it stays. */
	mx_store_receipt_put(f->t.db, "!r:hs", "m.read.private", u, NULL, "$m2", 3, &pos);
	assert_int_equal(mx_store_receipt_read_nid(f->t.rc, "!r:hs", u, NULL), f->nid[E_M2]);
	assert_int_equal(mx_store_receipt_read_nid(f->t.rc, "!g:hs", u, NULL), 0);
}

static void test_event_thread(void **state)
{
	struct fixture *f = *state;
	const char *t;
	assert_int_equal(mx_store_event_thread(f->t.rc, &f->t.a, "!r:hs", "$m1", &t), 0);
	assert_string_equal(t, "main");
	assert_int_equal(mx_store_event_thread(f->t.rc, &f->t.a, "!r:hs", "$root", &t), 0);
	assert_string_equal(t, "main"); /* roots are in the main timeline */
	assert_int_equal(mx_store_event_thread(f->t.rc, &f->t.a, "!r:hs", "$t1", &t), 0);
	assert_string_equal(t, "$root");
	/* A reaction to a threaded event is in that thread (one hop). */
	assert_int_equal(mx_store_event_thread(f->t.rc, &f->t.a, "!r:hs", "$re", &t), 0);
	assert_string_equal(t, "$root");
	assert_int_equal(mx_store_event_thread(f->t.rc, &f->t.a, "!r:hs", "$nope", &t), MX_ENOTFOUND);
	assert_int_equal(mx_store_event_thread(f->t.rc, &f->t.a, "!g:hs", "$m1", &t), MX_ENOTFOUND);
}

static void test_read_marker(void **state)
{
	struct fixture *f = *state;
	int64_t pos;
	const char *text;
	assert_int_equal(mx_store_read_marker_set(f->t.db, "@alice:hs", "!r:hs", "$m1", &pos), 0);
	assert_true(pos > 0);
	assert_int_equal(mx_store_account_data_get(f->t.rc, &f->t.a, "@alice:hs", "!r:hs", "m.fully_read",
						   &text), 0);
	assert_string_equal(text, "{\"event_id\":\"$m1\"}");
	assert_int_equal(mx_store_read_marker_set(f->t.db, "@alice:hs", "!r:hs", "$create", &pos), 0);
	assert_int_equal(pos, 0);
	assert_int_equal(mx_store_read_marker_set(f->t.db, "@alice:hs", "!r:hs", "$m2", &pos), 0);
	assert_true(pos > 0);
	mx_store_account_data_get(f->t.rc, &f->t.a, "@alice:hs", "!r:hs", "m.fully_read", &text);
	assert_string_equal(text, "{\"event_id\":\"$m2\"}");
	assert_int_equal(mx_store_read_marker_set(f->t.db, "@alice:hs", "!r:hs", "$g1", &pos),
			 MX_ENOTFOUND);
}

static void test_tags(void **state)
{
	struct fixture *f = *state;
	int64_t pos;
	const char *text;
	assert_int_equal(mx_store_room_tag_set(f->t.db, "@a:hs", "!r:hs", "u.work", "{\"order\":0.5}",
					       &pos), 0);
	assert_true(pos > 0);
	assert_int_equal(mx_store_room_tag_set(f->t.db, "@a:hs", "!r:hs", "m.favourite", "{}", &pos), 0);
	mx_store_account_data_get(f->t.rc, &f->t.a, "@a:hs", "!r:hs", MX_TAGS_TYPE, &text);
	assert_string_equal(text, "{\"tags\":{\"m.favourite\":{},\"u.work\":{\"order\":0.5}}}");
	assert_int_equal(mx_store_room_tag_set(f->t.db, "@a:hs", "!r:hs", "u.work", NULL, &pos), 0);
	assert_true(pos > 0);
	assert_int_equal(mx_store_room_tag_set(f->t.db, "@a:hs", "!r:hs", "u.work", NULL, &pos), 0);
	assert_int_equal(pos, 0);
	mx_store_account_data_get(f->t.rc, &f->t.a, "@a:hs", "!r:hs", MX_TAGS_TYPE, &text);
	assert_string_equal(text, "{\"tags\":{\"m.favourite\":{}}}");
	assert_int_equal(mx_store_room_tag_set(f->t.db, "@a:hs", "!r:hs", "x", "[1]", &pos), MX_EINVALID);
	/* Other keys of a hand-written m.tag survive. */
	mx_store_account_data_put(f->t.db, "@b:hs", "!r:hs", MX_TAGS_TYPE, "{\"x\":1}", NULL);
	mx_store_room_tag_set(f->t.db, "@b:hs", "!r:hs", "t", "{}", &pos);
	mx_store_account_data_get(f->t.rc, &f->t.a, "@b:hs", "!r:hs", MX_TAGS_TYPE, &text);
	assert_string_equal(text, "{\"tags\":{\"t\":{}},\"x\":1}");
}

static void test_members(void **state)
{
	struct fixture *f = *state;
	const char **u;
	size_t n;
	assert_int_equal(mx_store_room_joined_local(f->t.rc, &f->t.a, "!r:hs", "hs", &u, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(u[0], "@alice:hs");
	assert_int_equal(mx_store_shared_room_users(f->t.rc, &f->t.a, "@alice:hs", NULL, &u, &n), 0);
	assert_int_equal(n, 3); /* herself first, bob, carol */
	assert_string_equal(u[0], "@alice:hs");
	assert_int_equal(mx_store_shared_room_users(f->t.rc, &f->t.a, "@alice:hs", "hs", &u, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(mx_store_shared_room_users(f->t.rc, &f->t.a, "@nobody:hs", NULL, &u, &n), 0);
	assert_int_equal(n, 1);
	assert_true(mx_store_users_share_room(f->t.rc, "@alice:hs", "@carol:hs"));
	assert_true(mx_store_users_share_room(f->t.rc, "@bob:remote", "@alice:hs"));
	assert_false(mx_store_users_share_room(f->t.rc, "@bob:remote", "@carol:hs"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_typing_changes),
		cmocka_unit_test(test_typing_expiry),
		cmocka_unit_test(test_typing_bounds),
		cmocka_unit_test(test_presence_states),
		cmocka_unit_test(test_presence_changed),
		cmocka_unit_test_setup_teardown(test_receipts_forward_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receipts_read_nid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_marker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_members, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
