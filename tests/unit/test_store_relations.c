/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for store/relations against a temporary SQLite database:
 * the grouped summary behind bundled aggregations (only live children in
 * the parent's room), edit candidates and their order, /relations listing
 * with filters, pagination bounds and recursion (depth bound and cycles),
 * and the threads table kept by the writer (ordering by latest activity,
 * participation, redactions).
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
#include "core/mem.h"
#include "db/db.h"
#include "store/relations.h"
#include "store/rooms.h"

struct fixture {
	struct mx_test_db t;
	int64_t ts;
	const char *rooms[8]; /* rooms whose row exists */
	int n_rooms;
};

static int setup(void **state)
{
	struct fixture *f = mx_xcalloc(1, sizeof(*f));
	if (mx_test_db_open(&f->t, "relations"))
		return -1;
	f->ts = 1000;
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

/* One event; rel_type NULL: no relation. The room row is made on first use. */
static int64_t put(struct fixture *f, const char *room, const char *id, const char *type,
		   const char *sender, const char *rel_type, const char *parent, const char *redacts)
{
	bool exists = false;
	for (int i = 0; i < f->n_rooms; i++)
		exists = exists || !strcmp(f->rooms[i], room);
	struct mx_persist_event e = {
		.event_id = id, .room_id = room, .type = type, .sender = sender, .depth = 1,
		.origin_server_ts = f->ts++, .json = "{}", .relates_to = parent,
		.rel_type = rel_type, .redacts = redacts,
		.thread_id = rel_type && !strcmp(rel_type, "m.thread") ? parent : NULL,
		.new_room_version = exists ? NULL : "10",
	};
	if (!exists && f->n_rooms < 8)
		f->rooms[f->n_rooms++] = room;
	assert_int_equal(mx_store_events_persist(f->t.db, &e, 1), 0);
	return e.nid;
}

struct ids {
	const char *v[16];
	int n;
};

static int collect_cb(void *ctx, const struct mx_store_rel_child *ch)
{
	struct ids *s = ctx;
	if (s->n < 16)
		s->v[s->n++] = ch->event_id;
	return 0;
}

static int collect_thread_cb(void *ctx, const struct mx_store_thread *t)
{
	struct ids *s = ctx;
	if (s->n < 16)
		s->v[s->n++] = t->root_id;
	return 0;
}

static void expect_ids(const struct ids *got, const char *const *want, int n)
{
	assert_int_equal(got->n, n);
	for (int i = 0; i < n; i++)
		assert_string_equal(got->v[i], want[i]);
}

static const struct mx_store_rel_group *group(struct mx_store_rel_group *g, size_t n,
					      const char *rel_type, const char *sender)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(g[i].rel_type, rel_type) && !strcmp(g[i].sender, sender))
			return &g[i];
	return NULL;
}

/* SPEC: client-server-api#aggregations-of-child-events: only what can be aggregated. */
static void test_summary(void **state)
{
	struct fixture *f = *state;
	const char *R = "!r:x", *O = "!other:x";
	put(f, R, "$root", "m.room.message", "@a:x", NULL, NULL, NULL);
	put(f, R, "$e1", "m.room.message", "@a:x", "m.replace", "$root", NULL);
	put(f, R, "$e2", "m.room.message", "@b:x", "m.replace", "$root", NULL);
	put(f, R, "$t1", "m.room.message", "@b:x", "m.thread", "$root", NULL);
	int64_t t2 = put(f, R, "$t2", "m.room.message", "@b:x", "m.thread", "$root", NULL);
	put(f, R, "$t3", "m.room.message", "@c:x", "m.thread", "$root", NULL);
	put(f, R, "$ref", "m.room.message", "@c:x", "m.reference", "$root", NULL);
	put(f, R, "$like", "m.reaction", "@c:x", "m.annotation", "$root", NULL);
	put(f, O, "$far", "m.room.message", "@a:x", "m.thread", "$root", NULL);
	put(f, R, "$gone", "m.room.message", "@d:x", "m.thread", "$root", NULL);
	put(f, R, "$redaction", "m.room.redaction", "@d:x", NULL, NULL, "$gone");

	struct mx_store_rel_group *g;
	size_t n;
	assert_int_equal(mx_store_relations_summary(f->t.rc, &f->t.a, R, "$root", &g, &n), 0);
	assert_int_equal(n, 5); /* replace a, replace b, thread b, thread c, reference c */
	assert_non_null(group(g, n, "m.replace", "@a:x"));
	assert_non_null(group(g, n, "m.replace", "@b:x"));
	const struct mx_store_rel_group *tb = group(g, n, "m.thread", "@b:x");
	assert_non_null(tb);
	assert_int_equal(tb->count, 2);
	assert_int_equal(tb->max_nid, t2);
	assert_non_null(group(g, n, "m.reference", "@c:x"));
	assert_null(group(g, n, "m.annotation", "@c:x"));  /* not aggregated */
	assert_null(group(g, n, "m.thread", "@a:x"));      /* other room */
	assert_null(group(g, n, "m.thread", "@d:x"));      /* redacted */

	/* No children: no rows. */
	assert_int_equal(mx_store_relations_summary(f->t.rc, &f->t.a, R, "$t1", &g, &n), 0);
	assert_int_equal(n, 0);
	assert_string_equal(mx_store_relations_event_id(f->t.rc, &f->t.a, t2), "$t2");
}

/* SPEC: client-server-api#server-side-aggregation-of-mreplace-relationships */
static void test_edits(void **state)
{
	struct fixture *f = *state;
	const char *R = "!r:x";
	put(f, R, "$orig", "m.room.message", "@a:x", NULL, NULL, NULL);
	put(f, R, "$old", "m.room.message", "@a:x", "m.replace", "$orig", NULL);
	f->ts += 10;
	put(f, R, "$b", "m.room.message", "@a:x", "m.replace", "$orig", NULL);
	f->ts--; /* the same origin_server_ts: the larger event id wins */
	put(f, R, "$c", "m.room.message", "@a:x", "m.replace", "$orig", NULL);
	put(f, R, "$other-sender", "m.room.message", "@b:x", "m.replace", "$orig", NULL);
	put(f, R, "$other-type", "m.sticker", "@a:x", "m.replace", "$orig", NULL);
	struct ids s = {0};
	assert_int_equal(mx_store_relations_edits(f->t.rc, &f->t.a, R, "$orig", "@a:x",
						  "m.room.message", collect_cb, &s),
			 3);
	expect_ids(&s, (const char *const[]){"$c", "$b", "$old"}, 3);
}

static struct mx_store_rel_query query(const char *room, const char *parent, bool backwards)
{
	struct mx_store_rel_query q = {.room_id = room, .event_id = parent, .depth = 1,
				       .backwards = backwards, .from = backwards ? INT64_MAX : 0,
				       .to = backwards ? 0 : INT64_MAX, .limit = 50};
	return q;
}

/* SPEC: client-server-api#get_matrixclientv1roomsroomidrelationseventid */
static void test_list(void **state)
{
	struct fixture *f = *state;
	const char *R = "!r:x";
	put(f, R, "$p", "m.room.message", "@a:x", NULL, NULL, NULL);
	put(f, R, "$reply", "m.room.message", "@b:x", NULL, "$p", NULL); /* no rel_type */
	int64_t n1 = put(f, R, "$1", "m.room.message", "@b:x", "m.thread", "$p", NULL);
	put(f, R, "$2", "m.reaction", "@b:x", "m.annotation", "$p", NULL);
	int64_t n3 = put(f, R, "$3", "m.room.message", "@c:x", "m.thread", "$p", NULL);
	put(f, R, "$4", "m.room.encrypted", "@c:x", "m.thread", "$p", NULL);

	struct ids s = {0};
	struct mx_store_rel_query q = query(R, "$p", true);
	assert_int_equal(mx_store_relations_list(f->t.rc, &f->t.a, &q, collect_cb, &s), 4);
	expect_ids(&s, (const char *const[]){"$4", "$3", "$2", "$1"}, 4);

	s.n = 0;
	q = query(R, "$p", false);
	q.rel_type = "m.thread";
	assert_int_equal(mx_store_relations_list(f->t.rc, &f->t.a, &q, collect_cb, &s), 3);
	expect_ids(&s, (const char *const[]){"$1", "$3", "$4"}, 3);

	/* The event type matches the outer type (m.room.encrypted in encrypted rooms). */
	s.n = 0;
	q.type = "m.room.encrypted";
	assert_int_equal(mx_store_relations_list(f->t.rc, &f->t.a, &q, collect_cb, &s), 1);
	expect_ids(&s, (const char *const[]){"$4"}, 1);

	/* Bounds: backwards to < nid <= from; forwards from < nid <= to. */
	s.n = 0;
	q = query(R, "$p", true);
	q.from = n3;
	q.to = n1;
	assert_int_equal(mx_store_relations_list(f->t.rc, &f->t.a, &q, collect_cb, &s), 2);
	expect_ids(&s, (const char *const[]){"$3", "$2"}, 2);
	s.n = 0;
	q = query(R, "$p", false);
	q.from = n1;
	q.to = n3;
	q.limit = 1;
	assert_int_equal(mx_store_relations_list(f->t.rc, &f->t.a, &q, collect_cb, &s), 1);
	expect_ids(&s, (const char *const[]){"$2"}, 1);
}

/* SPEC: the recurse parameter: bounded depth, filters at every depth, no loops. */
static void test_recurse(void **state)
{
	struct fixture *f = *state;
	const char *R = "!r:x";
	put(f, R, "$a", "m.room.message", "@a:x", NULL, NULL, NULL);
	put(f, R, "$b", "m.room.message", "@a:x", "m.reference", "$a", NULL);
	put(f, R, "$c", "m.reaction", "@a:x", "m.annotation", "$b", NULL);
	put(f, R, "$d", "m.room.message", "@a:x", "m.reference", "$c", NULL);
	put(f, R, "$e", "m.room.message", "@a:x", "m.reference", "$d", NULL);

	struct ids s = {0};
	struct mx_store_rel_query q = query(R, "$a", true);
	q.depth = MX_RELATIONS_MAX_DEPTH;
	assert_int_equal(mx_store_relations_list(f->t.rc, &f->t.a, &q, collect_cb, &s), 3);
	expect_ids(&s, (const char *const[]){"$d", "$c", "$b"}, 3);
	s.n = 0;
	q.rel_type = "m.reference";
	assert_int_equal(mx_store_relations_list(f->t.rc, &f->t.a, &q, collect_cb, &s), 2);
	expect_ids(&s, (const char *const[]){"$d", "$b"}, 2);

	/* A cycle (free-form ids in v1/v2 rooms): $x -> $y -> $x. */
	put(f, R, "$x", "m.room.message", "@a:x", "m.reference", "$y", NULL);
	put(f, R, "$y", "m.room.message", "@a:x", "m.reference", "$x", NULL);
	s.n = 0;
	q = query(R, "$x", false);
	q.depth = MX_RELATIONS_MAX_DEPTH;
	assert_int_equal(mx_store_relations_list(f->t.rc, &f->t.a, &q, collect_cb, &s), 1);
	expect_ids(&s, (const char *const[]){"$y"}, 1);
}

/* SPEC: client-server-api#get_matrixclientv1roomsroomidthreads */
static void test_threads(void **state)
{
	struct fixture *f = *state;
	const char *R = "!r:x";
	put(f, R, "$t1", "m.room.message", "@a:x", NULL, NULL, NULL);
	put(f, R, "$t2", "m.room.message", "@b:x", NULL, NULL, NULL);
	put(f, R, "$t1r", "m.room.message", "@b:x", "m.thread", "$t1", NULL);
	int64_t t2r = put(f, R, "$t2r", "m.room.message", "@b:x", "m.thread", "$t2", NULL);
	put(f, R, "$t1r2", "m.room.message", "@c:x", "m.thread", "$t1", NULL);
	/* A thread whose root we do not hold is not listed. */
	put(f, R, "$orphan", "m.room.message", "@c:x", "m.thread", "$missing", NULL);

	struct ids s = {0};
	assert_int_equal(mx_store_threads_list(f->t.rc, &f->t.a, R, NULL, INT64_MAX, 10,
					       collect_thread_cb, &s),
			 2);
	expect_ids(&s, (const char *const[]){"$t1", "$t2"}, 2);
	s.n = 0;
	assert_int_equal(mx_store_threads_list(f->t.rc, &f->t.a, R, NULL, t2r, 10, collect_thread_cb, &s), 1);
	expect_ids(&s, (const char *const[]){"$t2"}, 1);

	/* Participation: the root's sender or a replier. */
	s.n = 0;
	mx_store_threads_list(f->t.rc, &f->t.a, R, "@a:x", INT64_MAX, 10, collect_thread_cb, &s);
	expect_ids(&s, (const char *const[]){"$t1"}, 1);
	s.n = 0;
	mx_store_threads_list(f->t.rc, &f->t.a, R, "@b:x", INT64_MAX, 10, collect_thread_cb, &s);
	expect_ids(&s, (const char *const[]){"$t1", "$t2"}, 2);
	s.n = 0;
	mx_store_threads_list(f->t.rc, &f->t.a, R, "@z:x", INT64_MAX, 10, collect_thread_cb, &s);
	assert_int_equal(s.n, 0);

	/* Redacting t1's latest reply moves t1 back behind t2. */
	put(f, R, "$red1", "m.room.redaction", "@c:x", NULL, NULL, "$t1r2");
	s.n = 0;
	mx_store_threads_list(f->t.rc, &f->t.a, R, NULL, INT64_MAX, 10, collect_thread_cb, &s);
	expect_ids(&s, (const char *const[]){"$t2", "$t1"}, 2);
	/* ... and c no longer participates. */
	s.n = 0;
	mx_store_threads_list(f->t.rc, &f->t.a, R, "@c:x", INT64_MAX, 10, collect_thread_cb, &s);
	assert_int_equal(s.n, 0);
	/* Redacting t2's only reply removes the thread. */
	put(f, R, "$red2", "m.room.redaction", "@b:x", NULL, NULL, "$t2r");
	s.n = 0;
	mx_store_threads_list(f->t.rc, &f->t.a, R, NULL, INT64_MAX, 10, collect_thread_cb, &s);
	expect_ids(&s, (const char *const[]){"$t1"}, 1);
}

/* Duplicate-annotation lookups: one sender, one type. */
static void test_of_type(void **state)
{
	struct fixture *f = *state;
	const char *R = "!r:x";
	put(f, R, "$p", "m.room.message", "@a:x", NULL, NULL, NULL);
	put(f, R, "$r1", "m.reaction", "@b:x", "m.annotation", "$p", NULL);
	put(f, R, "$r2", "m.reaction", "@c:x", "m.annotation", "$p", NULL);
	put(f, R, "$v1", "org.example.vote", "@b:x", "m.annotation", "$p", NULL);
	struct ids s = {0};
	assert_int_equal(mx_store_relations_of_type(f->t.rc, &f->t.a, R, "$p", "m.annotation", "m.reaction",
						    "@b:x", 10, collect_cb, &s),
			 1);
	expect_ids(&s, (const char *const[]){"$r1"}, 1);
	s.n = 0;
	assert_int_equal(mx_store_relations_of_type(f->t.rc, &f->t.a, R, "$p", "m.annotation", NULL, NULL,
						    10, collect_cb, &s),
			 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_summary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recurse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_of_type, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
