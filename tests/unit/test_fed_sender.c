/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for federation transactions: the transaction id scheme, the
 * transaction body builder and its limits (100 EDUs, the byte budget, bad
 * rows skipped but still in the range), the m.direct_to_device EDU
 * builder and its splitting, and store/federation against a temporary
 * SQLite database: the outbox written with a sendToDevice request in one
 * write (a retry queues nothing twice), and inbound transactions processed
 * once, to-device messages delivered once per message id, full inboxes
 * skipped, and pruning.
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
#include "core/rand.h"
#include "federation/sender.h"
#include "store/e2ee.h"
#include "store/federation.h"

/* ---- transaction ids ---- */

static void test_txn_id(void **state)
{
	(void)state;
	char id[MX_FED_TXN_ID_SIZE];
	mx_fed_txn_id(id, 1718000000123, 17, 42);
	assert_string_equal(id, "1718000000123_17_42");
	int64_t ts, first, last;
	assert_int_equal(mx_fed_txn_id_parse(id, &ts, &first, &last), 0);
	assert_int_equal(ts, 1718000000123);
	assert_int_equal(first, 17);
	assert_int_equal(last, 42);
	/* The largest values fit the buffer. */
	mx_fed_txn_id(id, INT64_MAX, INT64_MAX, INT64_MAX);
	assert_int_equal(mx_fed_txn_id_parse(id, &ts, &first, &last), 0);
	assert_int_equal(last, INT64_MAX);
	/* Deterministic: the same rows, the same id (what makes retries idempotent). */
	char again[MX_FED_TXN_ID_SIZE];
	mx_fed_txn_id(id, 5, 1, 3);
	mx_fed_txn_id(again, 5, 1, 3);
	assert_string_equal(id, again);
	/* The same first row restored with another time: another id. */
	mx_fed_txn_id(again, 6, 1, 3);
	assert_string_not_equal(id, again);

	static const char *const bad[] = {"", "1_2", "1_2_3_4", "a_1_2", "01_2_3", "1_2_", "_1_2",
					  "1_3_2", "1-2-3", "99999999999999999999_1_2", "1_2_3 "};
	for (size_t i = 0; i < MX_ARRAY_LEN(bad); i++)
		assert_int_equal(mx_fed_txn_id_parse(bad[i], &ts, &first, &last), MX_EINVALID);
	assert_int_equal(mx_fed_txn_id_parse("0_0_0", &ts, &first, &last), 0);
}

/* ---- the transaction builder ---- */

static void test_txn_limits(void **state)
{
	(void)state;
	struct mx_fed_txn t;
	mx_fed_txn_init(&t);
	/* SPEC: at most 100 EDUs: the 101st waits for the next transaction. */
	for (int i = 1; i <= MX_FED_TXN_MAX_EDUS; i++)
		assert_true(mx_fed_txn_add(&t, i, 1000 + i, "m.test", "{\"n\":1}"));
	assert_false(t.full);
	assert_false(mx_fed_txn_add(&t, 101, 2000, "m.test", "{\"n\":1}"));
	assert_true(t.full);
	assert_int_equal(t.n_edus, MX_FED_TXN_MAX_EDUS);
	assert_int_equal(t.first, 1);
	assert_int_equal(t.last, 100);
	assert_int_equal(t.first_ts, 1001);

	json_t *body = mx_fed_txn_body(&t, "a.example", 12345);
	assert_string_equal(json_string_value(json_object_get(body, "origin")), "a.example");
	assert_int_equal(json_integer_value(json_object_get(body, "origin_server_ts")), 12345);
	assert_true(json_is_array(json_object_get(body, "pdus")));
	assert_int_equal(json_array_size(json_object_get(body, "pdus")), 0);
	json_t *edus = json_object_get(body, "edus");
	assert_int_equal(json_array_size(edus), MX_FED_TXN_MAX_EDUS);
	json_t *e0 = json_array_get(edus, 0);
	assert_string_equal(json_string_value(json_object_get(e0, "edu_type")), "m.test");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(e0, "content"), "n")), 1);
	json_decref(body);
	mx_fed_txn_release(&t);
}

static char *big_content(size_t n)
{
	char *s = mx_xmalloc(n + 16);
	memcpy(s, "{\"x\":\"", 6);
	memset(s + 6, 'a', n);
	memcpy(s + 6 + n, "\"}", 3);
	return s;
}

static void test_txn_bytes(void **state)
{
	(void)state;
	struct mx_fed_txn t;
	char *third = big_content(MX_FED_TXN_MAX_BYTES / 3 - 64);
	mx_fed_txn_init(&t);
	for (int i = 1; i <= 3; i++)
		assert_true(mx_fed_txn_add(&t, i, 0, "m.test", third));
	assert_false(mx_fed_txn_add(&t, 4, 0, "m.test", third));
	assert_true(t.full);
	assert_int_equal(t.n_edus, 3);
	assert_true(t.bytes <= MX_FED_TXN_MAX_BYTES);
	mx_fed_txn_release(&t);

	/* An EDU larger than the budget still goes, alone. */
	char *huge = big_content(MX_FED_TXN_MAX_BYTES + 10);
	mx_fed_txn_init(&t);
	assert_true(mx_fed_txn_add(&t, 7, 0, "m.test", huge));
	assert_false(mx_fed_txn_add(&t, 8, 0, "m.test", "{}"));
	assert_int_equal(t.n_edus, 1);
	assert_int_equal(t.first, 7);
	assert_int_equal(t.last, 7);
	mx_fed_txn_release(&t);
	free(huge);
	free(third);
}

static void test_txn_bad_rows(void **state)
{
	(void)state;
	struct mx_fed_txn t;
	mx_fed_txn_init(&t);
	/* Rows that could never be sent are skipped but stay in the range (deleted with it). */
	assert_true(mx_fed_txn_add(&t, 3, 99, "m.test", "[1]"));
	assert_true(mx_fed_txn_add(&t, 4, 100, "m.test", "{\"f\":1.5}"));
	assert_true(mx_fed_txn_add(&t, 5, 101, "m.test", "{\"i\":9007199254740992}"));
	assert_true(mx_fed_txn_add(&t, 6, 102, "m.test", "{not json"));
	assert_true(mx_fed_txn_add(&t, 8, 103, "", "{}"));
	assert_true(mx_fed_txn_add(&t, 9, 104, "m.ok", "{\"i\":9007199254740991}"));
	assert_int_equal(t.skipped, 5);
	assert_int_equal(t.n_edus, 1);
	assert_int_equal(t.first, 3);
	assert_int_equal(t.first_ts, 99);
	assert_int_equal(t.last, 9);
	mx_fed_txn_release(&t);
}

/* ---- m.direct_to_device EDUs ---- */

static void test_to_device_edus(void **state)
{
	(void)state;
	json_t *msgs = json_pack("{s:{s:{s:i}, s:{s:i}}, s:{s:{s:s}}}", "@b:remote", "D1", "n", 1,
				 "*", "n", 2, "@c:remote", "D3", "s", "x");
	json_t *edus = mx_fed_to_device_edus("@a:here", "m.test", msgs);
	assert_int_equal(json_array_size(edus), 1);
	json_t *c = json_array_get(edus, 0);
	assert_string_equal(json_string_value(json_object_get(c, "sender")), "@a:here");
	assert_string_equal(json_string_value(json_object_get(c, "type")), "m.test");
	const char *id = json_string_value(json_object_get(c, "message_id"));
	assert_non_null(id);
	/* SPEC: message_id is at most 32 codepoints. */
	assert_true(strlen(id) >= 16 && strlen(id) <= 32);
	assert_true(json_equal(json_object_get(c, "messages"), msgs));
	/* A fresh id each time. */
	json_t *again = mx_fed_to_device_edus("@a:here", "m.test", msgs);
	assert_string_not_equal(id, json_string_value(json_object_get(json_array_get(again, 0),
								       "message_id")));
	json_decref(again);
	json_decref(edus);
	json_decref(msgs);

	/* Too big for one EDU: split between devices, nothing lost, distinct ids. */
	char *pad = mx_xmalloc(30001);
	memset(pad, 'p', 30000);
	pad[30000] = '\0';
	msgs = json_object();
	json_t *u = json_object();
	for (int i = 0; i < 5; i++) {
		char dev[8];
		snprintf(dev, sizeof(dev), "D%d", i);
		json_object_set_new(u, dev, json_pack("{s:s}", "p", pad));
	}
	json_object_set_new(msgs, "@b:remote", u);
	edus = mx_fed_to_device_edus("@a:here", "m.test", msgs);
	assert_true(json_array_size(edus) >= 3);
	json_t *merged = json_object();
	size_t i;
	json_array_foreach (edus, i, c) {
		char *text = json_dumps(json_object_get(c, "messages"), JSON_COMPACT);
		assert_true(strlen(text) <= MX_FED_EDU_MAX_BYTES);
		free(text);
		json_t *devs = json_object_get(json_object_get(c, "messages"), "@b:remote");
		json_object_update(merged, devs);
		for (size_t k = 0; k < i; k++)
			assert_string_not_equal(
				json_string_value(json_object_get(c, "message_id")),
				json_string_value(json_object_get(json_array_get(edus, k), "message_id")));
	}
	assert_true(json_equal(merged, u));
	json_decref(merged);
	json_decref(edus);
	json_decref(msgs);
	free(pad);
}

/* ---- store ---- */

MX_TEST_DB_FIXTURE("fedsender")

struct rows {
	int64_t ids[16];
	char types[16][32];
	int n;
};

static int collect_row(void *ctx, int64_t id, int64_t created_ts, const char *type,
		       const char *content)
{
	struct rows *r = ctx;
	(void)created_ts;
	(void)content;
	r->ids[r->n] = id;
	snprintf(r->types[r->n], sizeof(r->types[0]), "%s", type);
	r->n++;
	return 0;
}

static void test_outbox(void **state)
{
	struct mx_test_db *t = *state;
	struct mx_fed_edu e[] = {{"b.example", "m.one", "{}"},
				 {"c.example", "m.two", "{}"},
				 {"b.example", "m.three", "{}"}};
	assert_int_equal(mx_store_fed_outbox_add(t->db, e, 3), 0);
	assert_int_equal(mx_store_fed_outbox_count(t->rc, NULL), 3);
	assert_int_equal(mx_store_fed_outbox_count(t->rc, "b.example"), 2);
	const char **dests;
	size_t n;
	assert_int_equal(mx_store_fed_outbox_destinations(t->rc, &t->a, &dests, &n), 0);
	assert_int_equal(n, 2);

	struct rows r = {0};
	assert_int_equal(mx_store_fed_outbox_read(t->rc, "b.example", 0, INT64_MAX, 10, collect_row, &r), 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.types[0], "m.one");
	assert_string_equal(r.types[1], "m.three");
	assert_true(r.ids[0] < r.ids[1]);
	/* A retry reads only its range. */
	struct rows r2 = {0};
	assert_int_equal(mx_store_fed_outbox_read(t->rc, "b.example", 0, r.ids[0], 10, collect_row, &r2), 0);
	assert_int_equal(r2.n, 1);

	/* The sendToDevice write: inbox rows and outbox rows together, once. */
	struct mx_to_device_msg m[] = {{"@l:here", "L1", "{\"n\":1}"}};
	struct mx_fed_edu td[] = {{"b.example", "m.direct_to_device", "{\"message_id\":\"x\"}"}};
	struct mx_to_device_send s = {.sender = "@a:here", .sender_device = "A", .txn_id = "t1",
				      .type = "m.test", .msgs = m, .n = 1, .edus = td, .n_edus = 1,
				      .max_pending = 2};
	assert_int_equal(mx_store_to_device_queue(t->db, &s), 0);
	assert_int_equal(mx_store_fed_outbox_count(t->rc, "b.example"), 3);
	assert_int_equal(mx_store_to_device_queue(t->db, &s), MX_EEXISTS);
	assert_int_equal(mx_store_fed_outbox_count(t->rc, "b.example"), 3);
	/* Refused for a full local inbox: no outbox row either. */
	s.txn_id = "t2";
	assert_int_equal(mx_store_to_device_queue(t->db, &s), 0);
	s.txn_id = "t3";
	assert_int_equal(mx_store_to_device_queue(t->db, &s), MX_ELIMIT);
	assert_int_equal(mx_store_fed_outbox_count(t->rc, "b.example"), 4);
}

struct del_job {
	const char *dest;
	int64_t upto;
};

static int del_job(struct mx_db_conn *c, void *arg)
{
	struct del_job *j = arg;
	return mx__store_fed_outbox_delete(c, j->dest, j->upto);
}

static void test_outbox_delete(void **state)
{
	struct mx_test_db *t = *state;
	struct mx_fed_edu e[] = {{"b.example", "m.one", "{}"},
				 {"b.example", "m.two", "{}"},
				 {"c.example", "m.three", "{}"}};
	assert_int_equal(mx_store_fed_outbox_add(t->db, e, 3), 0);
	struct rows r = {0};
	assert_int_equal(mx_store_fed_outbox_read(t->rc, "b.example", 0, INT64_MAX, 10, collect_row, &r), 0);
	struct del_job j = {"b.example", r.ids[0]};
	assert_int_equal(mx_db_write(t->db, del_job, &j), 0);
	assert_int_equal(mx_store_fed_outbox_count(t->rc, "b.example"), 1);
	assert_int_equal(mx_store_fed_outbox_count(t->rc, "c.example"), 1);
	/* Ids are never reused, even after the newest row is deleted. */
	j.upto = INT64_MAX;
	assert_int_equal(mx_db_write(t->db, del_job, &j), 0);
	assert_int_equal(mx_store_fed_outbox_add(t->db, e, 1), 0);
	struct rows r2 = {0};
	assert_int_equal(mx_store_fed_outbox_read(t->rc, "b.example", 0, INT64_MAX, 10, collect_row, &r2), 0);
	assert_int_equal(r2.n, 1);
	assert_true(r2.ids[0] > r.ids[1]);
}

static int count_msgs(void *ctx, int64_t stream_id, const char *sender, const char *type,
		      const char *content)
{
	(void)stream_id;
	(void)type;
	(void)content;
	assert_string_equal(sender, "@r:remote");
	(*(int *)ctx)++;
	return 0;
}

static int inbox(struct mx_test_db *t, const char *user, const char *dev)
{
	int n = 0;
	assert_int_equal(mx_store_to_device_fetch(t->rc, user, dev, 0, INT64_MAX, 100, count_msgs, &n), 0);
	return n;
}

static void test_inbound(void **state)
{
	struct mx_test_db *t = *state;
	struct mx_to_device_msg m[] = {{"@l:here", "L1", "{\"n\":1}"}, {"@l:here", "L2", "{\"n\":1}"}};
	struct mx_fed_to_device_in td = {.message_id = "m1", .sender = "@r:remote", .type = "m.test",
					 .msgs = m, .n = 2};
	struct mx_fed_txn_in in = {.origin = "remote", .txn_id = "T1", .response = "{\"pdus\":{}}",
				   .to_device = &td, .n_to_device = 1, .max_pending = 2,
				   .now_ms = 1000, .a = &t->a};
	assert_int_equal(mx_store_fed_txn_commit(t->db, &in), 0);
	assert_false(td.duplicate);
	assert_int_equal(inbox(t, "@l:here", "L1"), 1);
	assert_int_equal(inbox(t, "@l:here", "L2"), 1);
	const char *resp;
	assert_int_equal(mx_store_fed_txn_get(t->rc, &t->a, "remote", "T1", &resp), 0);
	assert_string_equal(resp, "{\"pdus\":{}}");
	assert_int_equal(mx_store_fed_txn_get(t->rc, &t->a, "other", "T1", &resp), MX_ENOTFOUND);

	/* The same transaction again: the earlier answer, nothing redone. */
	in.response = "{\"different\":1}";
	assert_int_equal(mx_store_fed_txn_commit(t->db, &in), MX_EEXISTS);
	assert_string_equal(in.earlier, "{\"pdus\":{}}");
	assert_int_equal(inbox(t, "@l:here", "L1"), 1);

	/* The same message in another transaction: not delivered twice. */
	in.txn_id = "T2";
	assert_int_equal(mx_store_fed_txn_commit(t->db, &in), 0);
	assert_true(td.duplicate);
	assert_int_equal(inbox(t, "@l:here", "L1"), 1);

	/* The same message id from another origin is another message. */
	in.origin = "elsewhere";
	assert_int_equal(mx_store_fed_txn_commit(t->db, &in), 0);
	assert_false(td.duplicate);
	assert_int_equal(inbox(t, "@l:here", "L1"), 2);

	/* A full inbox (max_pending 2): the message is skipped, not the transaction. */
	td.message_id = "m2";
	in.txn_id = "T3";
	m[1].device_id = "L3";
	assert_int_equal(mx_store_fed_txn_commit(t->db, &in), 0);
	assert_int_equal(td.skipped, 1);
	assert_int_equal(inbox(t, "@l:here", "L1"), 2);
	assert_int_equal(inbox(t, "@l:here", "L3"), 1);
	assert_int_equal(mx_store_fed_txn_get(t->rc, &t->a, "elsewhere", "T3", &resp), 0);

	/* Pruning forgets what is older than the cut. */
	struct mx_fed_txn_in late = {.origin = "remote", .txn_id = "T9", .response = "{}",
				     .now_ms = 5000, .a = &t->a};
	assert_int_equal(mx_store_fed_txn_commit(t->db, &late), 0);
	mx_store_fed_inbound_prune_async(t->db, 2000);
	/* A synchronous write after the async one: the writer runs jobs in order. */
	late.txn_id = "T10";
	assert_int_equal(mx_store_fed_txn_commit(t->db, &late), 0);
	assert_int_equal(mx_store_fed_txn_get(t->rc, &t->a, "remote", "T1", &resp), MX_ENOTFOUND);
	assert_int_equal(mx_store_fed_txn_get(t->rc, &t->a, "remote", "T9", &resp), 0);
	/* The message id is forgotten too: a (very late) resend is delivered. */
	td.message_id = "m1";
	in.origin = "remote";
	in.txn_id = "T11";
	in.now_ms = 6000;
	m[1].device_id = "L2";
	assert_int_equal(mx_store_fed_txn_commit(t->db, &in), 0);
	assert_false(td.duplicate);
}

int main(void)
{
	mx_rand_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_txn_id),
		cmocka_unit_test(test_txn_limits),
		cmocka_unit_test(test_txn_bytes),
		cmocka_unit_test(test_txn_bad_rows),
		cmocka_unit_test(test_to_device_edus),
		cmocka_unit_test_setup_teardown(test_outbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inbound, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
