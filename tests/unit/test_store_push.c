/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for store/push against a temporary SQLite database: the
 * framed lists of localparts, unread counts per thread (receipts, threaded
 * receipts, the user's own events as read marks, relations resolved to
 * their thread in the write), the scan bound, and GET /notifications
 * (newest first, pagination, highlights only, per-user actions, read).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testdb.h"

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/mem.h"
#include "db/db.h"
#include "store/push.h"
#include "store/receipts.h"
#include "store/rooms.h"

#define R "!r:hs"
#define ALICE "@alice:hs"
#define BOB "@bob:hs"
#define AL "\x1f" "alice" "\x1f"
#define AL_BOB "\x1f" "alice" "\x1f" "bob" "\x1f"

struct fixture {
	struct mx_test_db t;
	int64_t ts;
	bool room_made;
};

static int setup(void **state)
{
	struct fixture *f = mx_xcalloc(1, sizeof(*f));
	if (mx_test_db_open(&f->t, "push"))
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

/* One event of R (a member event if membership is set); its nid. */
static int64_t put(struct fixture *f, const char *id, const char *sender, const char *rel_type,
		   const char *parent, const char *membership)
{
	struct mx_persist_event e = {
		.event_id = id, .room_id = R, .type = membership ? "m.room.member" : "m.room.message",
		.state_key = membership ? sender : NULL, .membership = membership, .sender = sender,
		.depth = 1, .origin_server_ts = f->ts++, .json = "{}", .relates_to = parent,
		.rel_type = rel_type,
		.thread_id = rel_type && !strcmp(rel_type, "m.thread") ? parent : NULL,
		.new_room_version = f->room_made ? NULL : "10",
	};
	f->room_made = true;
	assert_int_equal(mx_store_events_persist(f->t.db, &e, 1), 0);
	return e.nid;
}

/* An event and its push row; thread NULL: resolved by the store. */
static int64_t push(struct fixture *f, const char *id, const char *sender, const char *thread,
		    const char *rel_type, const char *parent, const char *notify, const char *highlight,
		    const char *actions_other)
{
	int64_t nid = put(f, id, sender, rel_type, parent, NULL);
	struct mx_store_push_row r = {
		.room_id = R, .event_id = id, .event_nid = nid, .thread_id = thread,
		.sender = !strcmp(sender + strlen(sender) - 3, ":hs") ? sender : NULL,
		.notify = notify, .highlight = highlight,
		.actions = *notify || *highlight ? "[\"notify\"]" : NULL,
		.actions_other = actions_other, .ts = f->ts,
	};
	assert_int_equal(mx_store_push_add(f->t.db, &r, 1), 0);
	return nid;
}

static void expect_counts(struct fixture *f, const char *user, const char *thread, int64_t notif,
			  int64_t hl)
{
	struct mx_store_push_count *c;
	size_t n;
	assert_int_equal(mx_store_push_counts(f->t.rc, &f->t.a, user, R, &c, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(c[i].thread_id, thread)) {
			assert_int_equal(c[i].notif, notif);
			assert_int_equal(c[i].highlight, hl);
			return;
		}
	assert_int_equal(0, notif);
	assert_int_equal(0, hl);
}

static void receipt(struct fixture *f, const char *user, const char *thread, const char *event_id)
{
	int64_t pos;
	assert_int_equal(mx_store_receipt_put(f->t.db, R, "m.read", user, thread, event_id, f->ts, &pos), 0);
}

static void test_list_add(void **state)
{
	(void)state;
	struct mx_buf b;
	mx_buf_init(&b, 16);
	assert_int_equal(mx_store_push_list_add(&b, ALICE), 0);
	assert_string_equal(b.data, AL);
	assert_int_equal(mx_store_push_list_add(&b, BOB), 0);
	assert_string_equal(b.data, AL_BOB);
	/* past the limit: unchanged */
	assert_int_equal(mx_store_push_list_add(&b, "@carolinthelongname:hs"), MX_ETOOLARGE);
	assert_string_equal(b.data, AL_BOB);
	mx_buf_release(&b);
}

/* SPEC: client-server-api#receiving-notifications */
static void test_counts(void **state)
{
	struct fixture *f = *state;
	put(f, "$create", BOB, NULL, NULL, "join");
	push(f, "$1", BOB, "main", NULL, NULL, AL_BOB, "", NULL);
	push(f, "$2", "@eve:other", "main", NULL, NULL, AL_BOB, AL, NULL);
	/* a local user whose localpart is in a list, and a substring of one */
	push(f, "$3", "@carol:hs", "main", NULL, NULL, "\x1f" "ali" "\x1f", "", NULL);
	expect_counts(f, ALICE, "main", 2, 1);
	expect_counts(f, BOB, "main", 1, 0); /* bob's own $1 reads what precedes it */
	expect_counts(f, "@ali:hs", "main", 1, 0);
	/* the thread of a reaction to a thread event is the thread (found in the write) */
	push(f, "$t", BOB, "$1", "m.thread", "$1", AL, "", NULL);
	push(f, "$react", BOB, NULL, "m.annotation", "$t", AL, AL, NULL);
	expect_counts(f, ALICE, "main", 2, 1);
	expect_counts(f, ALICE, "$1", 2, 1);
	/* a threaded receipt clears that thread only */
	receipt(f, ALICE, "$1", "$react");
	expect_counts(f, ALICE, "$1", 0, 0);
	expect_counts(f, ALICE, "main", 2, 1);
	/* alice sending in the main timeline reads it, not the thread */
	push(f, "$t2", BOB, "$1", "m.thread", "$1", AL, "", NULL);
	push(f, "$mine", ALICE, "main", NULL, NULL, "", "", NULL);
	expect_counts(f, ALICE, "main", 0, 0);
	expect_counts(f, ALICE, "$1", 1, 0);
	push(f, "$4", BOB, "main", NULL, NULL, AL, "", NULL);
	expect_counts(f, ALICE, "main", 1, 0);
	/* an unthreaded receipt reads every thread up to it */
	receipt(f, ALICE, MX_RECEIPT_UNTHREADED, "$4");
	expect_counts(f, ALICE, "main", 0, 0);
	expect_counts(f, ALICE, "$1", 0, 0);
	/* a row written again is ignored */
	int64_t n5 = push(f, "$5", BOB, "main", NULL, NULL, AL, "", NULL);
	struct mx_store_push_row again = {.room_id = R, .event_id = "$5", .event_nid = n5,
					  .thread_id = "main", .notify = AL, .highlight = AL, .ts = 1};
	assert_int_equal(mx_store_push_add(f->t.db, &again, 1), 0);
	expect_counts(f, ALICE, "main", 1, 0);
}

/* Counts read at most MX_STORE_PUSH_SCAN_MAX rows: above, the cap. */
static void test_count_cap(void **state)
{
	struct fixture *f = *state;
	put(f, "$create", BOB, NULL, NULL, "join");
	enum { N = MX_STORE_PUSH_SCAN_MAX + 20 };
	/* one write each for the events and the rows: a commit per event is slow */
	struct mx_persist_event *evs = mx_xcalloc(N, sizeof(*evs));
	struct mx_store_push_row *rows = mx_xcalloc(N, sizeof(*rows));
	for (int i = 0; i < N; i++) {
		const char *id = mx_arena_printf(&f->t.a, "$e%d", i);
		evs[i] = (struct mx_persist_event){.event_id = id, .room_id = R, .type = "m.room.message",
						   .sender = BOB, .depth = 1, .origin_server_ts = i,
						   .json = "{}"};
	}
	assert_int_equal(mx_store_events_persist(f->t.db, evs, N), 0);
	for (int i = 0; i < N; i++)
		rows[i] = (struct mx_store_push_row){.room_id = R, .event_id = evs[i].event_id,
						     .event_nid = evs[i].nid, .thread_id = "main",
						     .notify = AL, .highlight = "", .actions = "[]"};
	assert_int_equal(mx_store_push_add(f->t.db, rows, N), 0);
	free(rows);
	free(evs);
	expect_counts(f, ALICE, "main", MX_STORE_PUSH_SCAN_MAX, 0);
	receipt(f, ALICE, MX_RECEIPT_UNTHREADED, "$e1009");
	expect_counts(f, ALICE, "main", 10, 0);
}

/* SPEC: client-server-api#get_matrixclientv3notifications */
static void test_notifications(void **state)
{
	struct fixture *f = *state;
	put(f, "$create", BOB, NULL, NULL, "join");
	put(f, "$join", ALICE, NULL, NULL, "join");
	int64_t n1 = push(f, "$1", BOB, "main", NULL, NULL, AL_BOB, "", NULL);
	push(f, "$2", BOB, "main", NULL, NULL, "\x1f" "bob" "\x1f", "", NULL); /* not alice's */
	int64_t n3 = push(f, "$3", BOB, "main", NULL, NULL, AL, AL,
			  "{\"alice\":[\"notify\",{\"set_tweak\":\"highlight\"}]}");
	push(f, "$t", BOB, "$1", "m.thread", "$1", AL, "", NULL);
	push(f, "$mine", ALICE, "main", NULL, NULL, "", "", NULL);
	int64_t n5 = push(f, "$5", BOB, "main", NULL, NULL, AL, "", "{\"bob\":[]}");

	struct mx_store_push_notif *v;
	size_t n;
	assert_int_equal(mx_store_push_notifications(f->t.rc, &f->t.a, ALICE, 0, false, 10, &v, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(v[0].event_id, "$5");
	assert_int_equal(v[0].event_nid, n5);
	assert_false(v[0].read);
	assert_string_equal(v[0].actions, "[\"notify\"]");
	assert_string_equal(v[1].event_id, "$t");
	assert_false(v[1].read); /* alice's own event is in the main timeline */
	assert_string_equal(v[2].event_id, "$3");
	assert_true(v[2].read);
	assert_true(v[2].highlight);
	assert_string_equal(v[2].actions, "[\"notify\",{\"set_tweak\":\"highlight\"}]");
	assert_string_equal(v[2].room_id, R);
	assert_string_equal(v[3].event_id, "$1");
	/* pagination and highlights only */
	assert_int_equal(mx_store_push_notifications(f->t.rc, &f->t.a, ALICE, n3, false, 10, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].event_nid, n1);
	assert_int_equal(mx_store_push_notifications(f->t.rc, &f->t.a, ALICE, 0, false, 2, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(mx_store_push_notifications(f->t.rc, &f->t.a, ALICE, 0, true, 10, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].event_id, "$3");
	/* not in the room: nothing */
	assert_int_equal(mx_store_push_notifications(f->t.rc, &f->t.a, "@carol:hs", 0, false, 10, &v, &n), 0);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_add),
		cmocka_unit_test_setup_teardown(test_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_count_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notifications, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
