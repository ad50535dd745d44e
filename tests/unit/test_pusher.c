/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for push/pusher (the pure parts: gateway URL checks, tweaks,
 * the body of POST /_matrix/push/v1/notify, the backoff and what an
 * answer means) and store/pushers against a temporary SQLite database
 * (set, update, append, delete, devices going away, positions, pending
 * notifications).
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
#include "core/error.h"
#include "core/mem.h"
#include "db/db.h"
#include "push/pusher.h"
#include "store/accounts.h"
#include "store/push.h"
#include "store/pushers.h"
#include "store/receipts.h"
#include "store/rooms.h"

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
	if (!v)
		fail_msg("bad test JSON: %s: %s", text, e.text);
	return v;
}

/* v equals the JSON text want (v's reference is released). */
static void expect_json(json_t *v, const char *want)
{
	json_t *w = J(want);
	if (!json_equal(v, w)) {
		char *got = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
		fail_msg("got %s\nwant %s", got, want);
	}
	json_decref(w);
	json_decref(v);
}

/* ---- URLs ---- */

static void test_check_url(void **state)
{
	(void)state;
	const char *why = NULL;
	assert_int_equal(mx_pusher_check_url("https://push.example.org/_matrix/push/v1/notify", &why), 0);
	assert_int_equal(mx_pusher_check_url("http://127.0.0.1:5000/_matrix/push/v1/notify", &why), 0);
	assert_int_equal(mx_pusher_check_url("HTTPS://[::1]:8443/_matrix/push/v1/notify?x=1", &why), 0);
	static const char *const bad[] = {
		"https://push.example.org/_matrix/push/v1/notify/",
		"https://push.example.org/notify",
		"https://push.example.org",
		"ftp://push.example.org/_matrix/push/v1/notify",
		"/_matrix/push/v1/notify",
		"push.example.org/_matrix/push/v1/notify",
		"https:///_matrix/push/v1/notify",
		"not a url",
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (mx_pusher_check_url(bad[i], &why) != MX_EINVALIDPARAM)
			fail_msg("accepted %s", bad[i]);
		assert_non_null(why);
	}
}

/* ---- tweaks and the body ---- */

/* SPEC: client-server-api#actions: set_tweak, "value" defaulting to true. */
static void test_tweaks(void **state)
{
	(void)state;
	json_t *a = J("[\"notify\", {\"set_tweak\": \"sound\", \"value\": \"default\"},"
		      " {\"set_tweak\": \"highlight\"}, {\"set_tweak\": \"led\", \"value\": {\"c\": 1}},"
		      " \"dont_notify\", {\"other\": 1}]");
	expect_json(mx_pusher_tweaks(a), "{\"sound\": \"default\", \"highlight\": true, \"led\": {\"c\": 1}}");
	json_decref(a);
	expect_json(mx_pusher_tweaks(NULL), "{}");
}

struct body_case {
	const char *event, *actions, *data;
};

static json_t *body(const struct body_case *c, const char *room_name, int64_t unread)
{
	json_t *ev = J(c->event), *actions = J(c->actions), *data = J(c->data);
	struct mx_pusher_notif n = {
		.event_id = "$e:hs",
		.room_id = "!r:hs",
		.event = ev,
		.actions = actions,
		.user_id = "@alice:hs",
		.sender_display_name = "Bob",
		.room_name = room_name,
		.room_alias = NULL,
		.unread = unread,
		.app_id = "org.example.app",
		.pushkey = "PK",
		.pushkey_ts_ms = 1700000000123,
		.data = data,
	};
	json_t *b = mx_pusher_body(&n);
	json_decref(ev);
	json_decref(actions);
	json_decref(data);
	return b;
}

/* SPEC: push-gateway-api#post_matrixpushv1notify, the spec's example shape. */
static void test_body_full(void **state)
{
	(void)state;
	struct body_case c = {
		"{\"type\": \"m.room.message\", \"sender\": \"@bob:hs\", \"content\": {\"msgtype\": \"m.text\","
		" \"body\": \"hi\"}}",
		"[\"notify\", {\"set_tweak\": \"sound\", \"value\": \"default\"}]",
		"{\"url\": \"https://gw/_matrix/push/v1/notify\", \"custom\": [1]}",
	};
	expect_json(body(&c, "Chat", 2),
		    "{\"notification\": {\"event_id\": \"$e:hs\", \"room_id\": \"!r:hs\","
		    " \"type\": \"m.room.message\", \"sender\": \"@bob:hs\","
		    " \"sender_display_name\": \"Bob\", \"room_name\": \"Chat\", \"prio\": \"high\","
		    " \"content\": {\"msgtype\": \"m.text\", \"body\": \"hi\"}, \"counts\": {\"unread\": 2},"
		    " \"devices\": [{\"app_id\": \"org.example.app\", \"pushkey\": \"PK\","
		    " \"pushkey_ts\": 1700000000, \"data\": {\"custom\": [1]},"
		    " \"tweaks\": {\"sound\": \"default\"}}]}}");
}

/* Synapse's prio: high if the event is encrypted or alerts (sound, highlight). */
static void test_body_prio(void **state)
{
	(void)state;
	static const struct {
		const char *type, *actions, *prio;
	} cases[] = {
		{"m.room.message", "[\"notify\"]", "low"},
		{"m.room.message", "[\"notify\", {\"set_tweak\": \"highlight\"}]", "high"},
		{"m.room.message", "[\"notify\", {\"set_tweak\": \"highlight\", \"value\": false}]", "low"},
		{"m.room.message", "[\"notify\", {\"set_tweak\": \"sound\", \"value\": \"ring\"}]", "high"},
		{"m.room.message", "[\"notify\", {\"set_tweak\": \"sound\", \"value\": \"\"}]", "low"},
		{"m.room.encrypted", "[\"notify\"]", "high"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char ev[128];
		snprintf(ev, sizeof(ev), "{\"type\": \"%s\", \"sender\": \"@b:hs\", \"content\": {}}",
			 cases[i].type);
		struct body_case c = {ev, cases[i].actions, "{\"url\": \"u\"}"};
		json_t *b = body(&c, NULL, 0);
		const char *prio = json_string_value(
			json_object_get(json_object_get(b, "notification"), "prio"));
		if (!prio || strcmp(prio, cases[i].prio) != 0)
			fail_msg("case %zu: prio %s, want %s", i, prio ? prio : "(none)", cases[i].prio);
		/* empty content is left out; unread is sent even when 0 */
		assert_null(json_object_get(json_object_get(b, "notification"), "content"));
		json_t *counts = json_object_get(json_object_get(b, "notification"), "counts");
		assert_int_equal(json_integer_value(json_object_get(counts, "unread")), 0);
		json_decref(b);
	}
}

/* SPEC: push-gateway-api: event_id_only sends ids, counts and devices. */
static void test_body_event_id_only(void **state)
{
	(void)state;
	struct body_case c = {
		"{\"type\": \"m.room.message\", \"sender\": \"@bob:hs\", \"content\": {\"body\": \"secret\"}}",
		"[\"notify\"]",
		"{\"url\": \"https://gw/_matrix/push/v1/notify\", \"format\": \"event_id_only\"}",
	};
	expect_json(body(&c, "Chat", 1),
		    "{\"notification\": {\"event_id\": \"$e:hs\", \"room_id\": \"!r:hs\", \"prio\": \"low\","
		    " \"counts\": {\"unread\": 1}, \"devices\": [{\"app_id\": \"org.example.app\","
		    " \"pushkey\": \"PK\", \"pushkey_ts\": 1700000000,"
		    " \"data\": {\"format\": \"event_id_only\"}, \"tweaks\": {}}]}}");
}

/* A member event: membership and user_is_target. */
static void test_body_member(void **state)
{
	(void)state;
	struct body_case c = {
		"{\"type\": \"m.room.member\", \"sender\": \"@bob:hs\", \"state_key\": \"@alice:hs\","
		" \"content\": {\"membership\": \"invite\"}}",
		"[\"notify\"]",
		"{\"url\": \"u\"}",
	};
	json_t *b = body(&c, NULL, 1);
	json_t *n = json_object_get(b, "notification");
	assert_true(json_is_true(json_object_get(n, "user_is_target")));
	assert_string_equal(json_string_value(json_object_get(n, "membership")), "invite");
	assert_null(json_object_get(n, "room_name"));
	json_decref(b);
	c.event = "{\"type\": \"m.room.member\", \"sender\": \"@bob:hs\", \"state_key\": \"@bob:hs\","
		  " \"content\": {\"membership\": \"join\"}}";
	b = body(&c, NULL, 1);
	assert_true(json_is_false(json_object_get(json_object_get(b, "notification"), "user_is_target")));
	json_decref(b);
}

/* Bodies stay bounded: large content is cut to msgtype and the start of body. */
static void test_body_bounded(void **state)
{
	(void)state;
	size_t n = 3 * MX_PUSHER_CONTENT_MAX;
	char *big = mx_xmalloc(n + 1);
	/* "é" is two bytes: a cut must not split one */
	for (size_t i = 0; i < n; i += 2) {
		big[i] = (char)0xC3;
		big[i + 1] = (char)0xA9;
	}
	big[n] = '\0';
	json_t *ev = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "type", "m.room.message", "sender",
			       "@bob:hs", "content", "msgtype", "m.text", "body", big, "format", "x");
	assert_non_null(ev);
	char *ev_text = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	char *long_name = mx_xmalloc(2 * MX_PUSHER_NAME_MAX + 2);
	memset(long_name, 'n', 2 * MX_PUSHER_NAME_MAX + 1);
	long_name[2 * MX_PUSHER_NAME_MAX + 1] = '\0';
	struct body_case c = {ev_text, "[\"notify\"]", "{\"url\": \"u\"}"};
	json_t *b = body(&c, long_name, 0);
	json_t *nt = json_object_get(b, "notification");
	json_t *content = json_object_get(nt, "content");
	assert_non_null(content);
	assert_string_equal(json_string_value(json_object_get(content, "msgtype")), "m.text");
	assert_null(json_object_get(content, "format"));
	size_t len = json_string_length(json_object_get(content, "body"));
	assert_true(len <= MX_PUSHER_BODY_MAX && len >= MX_PUSHER_BODY_MAX - 1);
	assert_int_equal(len % 2, 0);
	assert_int_equal(json_string_length(json_object_get(nt, "room_name")), MX_PUSHER_NAME_MAX);
	char *text = json_dumps(b, JSON_COMPACT);
	assert_true(strlen(text) < 2 * MX_PUSHER_CONTENT_MAX);
	free(text);
	json_decref(b);
	free(ev_text);
	free(long_name);
	free(big);
}

/* ---- backoff and outcomes ---- */

/* Synapse's schedule: 1 s doubling, at most an hour, give up after a day. */
static void test_backoff(void **state)
{
	(void)state;
	struct mx_pusher_backoff b = {0};
	int64_t now = 5000, wait = -1;
	static const int64_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000,
				       256000, 512000, 1024000, 2048000, 3600000, 3600000};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_true(mx_pusher_backoff_failed(&b, now, &wait));
		assert_int_equal(wait, want[i]);
		now += wait;
	}
	/* a success starts over */
	mx_pusher_backoff_reset(&b);
	assert_true(mx_pusher_backoff_failed(&b, now, &wait));
	assert_int_equal(wait, 1000);

	/* failing for a day: give up on that notification, then start over */
	mx_pusher_backoff_reset(&b);
	int64_t since = 1000000;
	now = since;
	int tries = 0;
	while (mx_pusher_backoff_failed(&b, now, &wait)) {
		assert_true(wait >= 1000 && wait <= MX_PUSHER_BACKOFF_MAX_MS);
		now += wait;
		tries++;
		assert_true(tries < 100);
	}
	assert_true(now - since >= MX_PUSHER_GIVE_UP_MS);
	assert_true(now - since < MX_PUSHER_GIVE_UP_MS + MX_PUSHER_BACKOFF_MAX_MS);
	assert_int_equal(wait, 0);
	assert_true(mx_pusher_backoff_failed(&b, now, &wait));
	assert_int_equal(wait, 1000);
}

static void test_outcome(void **state)
{
	(void)state;
	assert_int_equal(mx_pusher_outcome_of(true, 200), MX_PUSHER_SENT);
	assert_int_equal(mx_pusher_outcome_of(true, 204), MX_PUSHER_SENT);
	assert_int_equal(mx_pusher_outcome_of(false, 0), MX_PUSHER_RETRY);
	assert_int_equal(mx_pusher_outcome_of(false, 200), MX_PUSHER_RETRY); /* cut short */
	assert_int_equal(mx_pusher_outcome_of(true, 500), MX_PUSHER_RETRY);
	assert_int_equal(mx_pusher_outcome_of(true, 503), MX_PUSHER_RETRY);
	assert_int_equal(mx_pusher_outcome_of(true, 429), MX_PUSHER_RETRY);
	assert_int_equal(mx_pusher_outcome_of(true, 408), MX_PUSHER_RETRY);
	assert_int_equal(mx_pusher_outcome_of(true, 400), MX_PUSHER_DROP);
	assert_int_equal(mx_pusher_outcome_of(true, 404), MX_PUSHER_DROP);
	assert_int_equal(mx_pusher_outcome_of(true, 302), MX_PUSHER_DROP);
}

/* ---- store/pushers ---- */

#define R "!r:hs"
#define ALICE "@alice:hs"
#define BOB "@bob:hs"

static int setup(void **state)
{
	struct mx_test_db *t = mx_xcalloc(1, sizeof(*t));
	if (mx_test_db_open(t, "pusher"))
		return -1;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct mx_test_db *t = *state;
	mx_test_db_close(t);
	free(t);
	return 0;
}

static int64_t set(struct mx_test_db *t, const char *user, const char *device, const char *app_id,
		   const char *pushkey, bool append, int64_t *last_nid)
{
	struct mx_store_pusher p = {
		.user_id = user, .device_id = device, .kind = "http", .app_id = app_id,
		.pushkey = pushkey, .app_display_name = "App", .device_display_name = "Phone",
		.lang = "en", .data = "{\"url\":\"https://gw/_matrix/push/v1/notify\"}",
		.pushkey_ts = 1234,
	};
	int64_t id = 0, nid = 0;
	assert_int_equal(mx_store_pusher_set(t->db, &p, append, &id, &nid), 0);
	assert_true(id > 0);
	if (last_nid)
		*last_nid = nid;
	return id;
}

static size_t count(struct mx_test_db *t, const char *user)
{
	struct mx_store_pusher *v;
	size_t n;
	assert_int_equal(mx_store_pushers_list(t->rc, &t->a, user, &v, &n), 0);
	return n;
}

static int nop_job(struct mx_db_conn *c, void *arg)
{
	(void)c;
	(void)arg;
	return 0;
}

/* SPEC: POST /pushers/set: update in place, append, delete. */
static void test_store_set(void **state)
{
	struct mx_test_db *t = *state;
	int64_t a = set(t, ALICE, "DEV1", "app", "k1", false, NULL);
	assert_int_equal(set(t, ALICE, "DEV2", "app", "k1", false, NULL), a); /* the same pusher */
	struct mx_store_pusher p;
	assert_int_equal(mx_store_pusher_get(t->rc, &t->a, a, &p), 0);
	assert_string_equal(p.device_id, "DEV2");
	assert_string_equal(p.profile_tag, "");
	assert_int_equal(p.pushkey_ts, 1234);
	int64_t a2 = set(t, ALICE, "DEV1", "app", "k2", false, NULL);
	assert_int_equal(count(t, ALICE), 2);
	/* bob with append keeps alice's; without, removes it */
	int64_t b = set(t, BOB, "BDEV", "app", "k1", true, NULL);
	assert_int_equal(count(t, ALICE), 2);
	assert_int_equal(set(t, BOB, "BDEV", "app", "k1", false, NULL), b);
	assert_int_equal(count(t, ALICE), 1);
	assert_int_equal(mx_store_pusher_get(t->rc, &t->a, a, &p), MX_ENOTFOUND);
	/* delete */
	int64_t id = -1;
	assert_int_equal(mx_store_pusher_delete(t->db, ALICE, "app", "nope", &id), 0);
	assert_int_equal(id, 0);
	assert_int_equal(mx_store_pusher_delete(t->db, ALICE, "app", "k2", &id), 0);
	assert_int_equal(id, a2);
	assert_int_equal(count(t, ALICE), 0);
	/* ids are never reused */
	assert_true(set(t, ALICE, "DEV1", "app", "k2", false, NULL) > a2);
	assert_int_equal(mx_store_pusher_delete_id(t->db, b), 0);
	assert_int_equal(count(t, BOB), 0);
}

/* Pushers go with their device: one device, all but one, all. */
static void test_store_devices_gone(void **state)
{
	struct mx_test_db *t = *state;
	set(t, ALICE, "D1", "app", "k1", false, NULL);
	set(t, ALICE, "D2", "app", "k2", false, NULL);
	set(t, ALICE, "D3", "app", "k3", false, NULL);
	set(t, BOB, "D1", "app", "kb", false, NULL);
	const char *ids[] = {"D2"};
	assert_int_equal(mx_store_devices_delete(t->db, ALICE, ids, 1), 0);
	assert_int_equal(count(t, ALICE), 2);
	assert_int_equal(mx_store_set_password(t->db, ALICE, "hash", true, "D1"), 0);
	struct mx_store_pusher *v;
	size_t n;
	assert_int_equal(mx_store_pushers_list(t->rc, &t->a, ALICE, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].device_id, "D1");
	assert_int_equal(mx_store_logout_all(t->db, ALICE), 0);
	assert_int_equal(count(t, ALICE), 0);
	assert_int_equal(count(t, BOB), 1);
}

/* One event of R and its push row notifying `notify` (framed localparts). */
static int64_t event(struct mx_test_db *t, const char *id, const char *sender, const char *membership,
		     const char *notify, const char *actions_other)
{
	static bool made;
	struct mx_persist_event e = {
		.event_id = id, .room_id = R, .type = membership ? "m.room.member" : "m.room.message",
		.state_key = membership ? sender : NULL, .membership = membership, .sender = sender,
		.depth = 1, .origin_server_ts = 1, .json = "{}",
		.new_room_version = made ? NULL : "10",
	};
	made = true;
	assert_int_equal(mx_store_events_persist(t->db, &e, 1), 0);
	if (notify) {
		struct mx_store_push_row r = {
			.room_id = R, .event_id = id, .event_nid = e.nid, .thread_id = "main",
			.notify = notify, .highlight = "", .actions = "[\"notify\"]",
			.actions_other = actions_other, .ts = 1,
		};
		assert_int_equal(mx_store_push_add(t->db, &r, 1), 0);
	}
	return e.nid;
}

/* What a pusher has not delivered: unread rows naming the user, after its position. */
static void test_store_pending(void **state)
{
	struct mx_test_db *t = *state;
	event(t, "$create", BOB, "join", NULL, NULL);
	event(t, "$aj", ALICE, "join", NULL, NULL);
	int64_t old = event(t, "$old", BOB, NULL, "\x1f" "alice" "\x1f", NULL);
	int64_t last_nid = 0;
	int64_t id = set(t, ALICE, "D1", "app", "k1", false, &last_nid);
	assert_int_equal(last_nid, old); /* a new pusher starts at the newest event */
	int64_t e1 = event(t, "$1", BOB, NULL, "\x1f" "alice" "\x1f" "carol" "\x1f", NULL);
	event(t, "$2", BOB, NULL, "\x1f" "carol" "\x1f", NULL);
	int64_t e3 = event(t, "$3", BOB, NULL, "\x1f" "alice" "\x1f",
			   "{\"alice\": [\"notify\", {\"set_tweak\": \"sound\", \"value\": \"x\"}]}");
	int64_t e4 = event(t, "$4", BOB, NULL, "\x1f" "alice" "\x1f", NULL);
	struct mx_store_pusher_notif *v;
	size_t n;
	assert_int_equal(mx_store_pusher_pending(t->rc, &t->a, ALICE, last_nid, 10, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].event_nid, e1);
	assert_string_equal(v[0].event_id, "$1");
	assert_string_equal(v[0].room_id, R);
	assert_string_equal(v[0].actions, "[\"notify\"]");
	assert_int_equal(v[1].event_nid, e3);
	assert_string_equal(v[1].actions, "[\"notify\",{\"set_tweak\":\"sound\",\"value\":\"x\"}]");
	assert_int_equal(v[2].event_nid, e4);
	/* limit, and after a position */
	assert_int_equal(mx_store_pusher_pending(t->rc, &t->a, ALICE, last_nid, 2, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(mx_store_pusher_pending(t->rc, &t->a, ALICE, e3, 10, &v, &n), 0);
	assert_int_equal(n, 1);
	/* read ones are not pending */
	int64_t pos;
	assert_int_equal(mx_store_receipt_put(t->db, R, "m.read", ALICE, MX_RECEIPT_UNTHREADED, "$3", 2, &pos), 0);
	assert_int_equal(mx_store_pusher_pending(t->rc, &t->a, ALICE, last_nid, 10, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].event_nid, e4);
	/* the badge: one room with unread notifications */
	int64_t badge = -1;
	assert_int_equal(mx_store_pusher_badge(t->rc, ALICE, NULL, &badge), 0);
	assert_int_equal(badge, 1);
	assert_int_equal(mx_store_receipt_put(t->db, R, "m.read", ALICE, MX_RECEIPT_UNTHREADED, "$4", 3, &pos), 0);
	assert_int_equal(mx_store_pusher_badge(t->rc, ALICE, NULL, &badge), 0);
	assert_int_equal(badge, 0);
	assert_int_equal(mx_store_pusher_badge(t->rc, ALICE, R, &badge), 0);
	assert_int_equal(badge, 1); /* the room being notified counts */

	/* positions move forward only, and durably */
	struct mx_store_pusher_pos *p = mx_xmalloc(2 * sizeof(*p));
	p[0] = (struct mx_store_pusher_pos){id, e3};
	p[1] = (struct mx_store_pusher_pos){id, e1};
	mx_store_pushers_advance(t->db, p, 2);
	assert_int_equal(mx_db_write(t->db, nop_job, NULL), 0); /* after it */
	struct mx_store_pusher got;
	assert_int_equal(mx_store_pusher_get(t->rc, &t->a, id, &got), 0);
	assert_int_equal(got.last_nid, e3);
	/* an update keeps the position */
	set(t, ALICE, "D1", "app", "k1", false, &last_nid);
	assert_int_equal(last_nid, e3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_url),
		cmocka_unit_test(test_tweaks),
		cmocka_unit_test(test_body_full),
		cmocka_unit_test(test_body_prio),
		cmocka_unit_test(test_body_event_id_only),
		cmocka_unit_test(test_body_member),
		cmocka_unit_test(test_body_bounded),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_outcome),
		cmocka_unit_test_setup_teardown(test_store_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_devices_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_pending, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
