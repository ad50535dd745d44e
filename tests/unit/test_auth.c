/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for src/auth: the authorisation rules of room versions 1-12.
 * Each test builds a small room by hand (create, the creator's join, power
 * levels, join rules) as PDU-format JSON and checks which events the rules
 * allow. Every test names the spec rule it covers; rule numbers are those
 * of the room version named in the tag.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "core/error.h"
#include "crypto/keys.h"
#include "crypto/sign.h"
#include "event/refhash.h"

#define ALICE "@alice:a.test" /* the creator */
#define BOB "@bob:b.test"
#define CAROL "@carol:c.test"
#define DAVE "@dave:b.test"
#define ERIN "@erin:e.test"
#define V12_ROOM "!NoCreateEventYet"

struct room {
	const struct mx_room_version *v;
	const char *room_id;
	char v12_room_id[64]; /* v12: "!" + the create event's reference hash */
	char create_id[256];  /* the id of the create event in state */
	json_t *state;        /* {type: {state_key: event}} */
	struct mx_auth_state st;
	int n;
};

static const json_t *room_get(void *ctx, const char *type, const char *state_key)
{
	struct room *r = ctx;
	return json_object_get(json_object_get(r->state, type), state_key);
}

/* Parse a test literal written with ' for " (it must parse). */
static json_t *J(const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	json_error_t e;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (char *p = buf; *p; p++)
		if (*p == '\'')
			*p = '"';
	json_t *v = json_loads(buf, JSON_DECODE_ANY, &e);
	if (!v)
		fail_msg("bad test JSON: %s: %s", buf, e.text);
	return v;
}

static const char *domain_of(const char *id)
{
	const char *c = strchr(id, ':');
	return c ? c + 1 : "x";
}

/* An event of r. state_key NULL makes a message event. */
static json_t *ev(struct room *r, const char *type, const char *sender, const char *state_key,
		  const char *content)
{
	json_t *e = json_object();
	char id[128];
	json_object_set_new(e, "type", json_string(type));
	json_object_set_new(e, "sender", json_string(sender));
	if (r->room_id)
		json_object_set_new(e, "room_id", json_string(r->room_id));
	if (state_key)
		json_object_set_new(e, "state_key", json_string(state_key));
	json_object_set_new(e, "content", J("%s", content));
	json_object_set_new(e, "origin_server_ts", json_integer(1000 + r->n));
	json_object_set_new(e, "depth", json_integer(r->n + 1));
	json_object_set_new(e, "auth_events", json_array());
	if (r->v->auth_events_are_pairs)
		json_object_set_new(e, "prev_events", J("[['$prev:a.test', {'sha256': 'x'}]]"));
	else
		json_object_set_new(e, "prev_events", J("['$prev']"));
	if (r->v->has_event_id_field) {
		snprintf(id, sizeof(id), "$e%d:%s", r->n, domain_of(sender));
		json_object_set_new(e, "event_id", json_string(id));
	}
	r->n++;
	return e;
}

static void set_prev(struct room *r, json_t *e, const char *id)
{
	if (r->v->auth_events_are_pairs)
		json_object_set_new(e, "prev_events", J("[['%s', {'sha256': 'x'}]]", id));
	else
		json_object_set_new(e, "prev_events", J("['%s']", id));
}

static json_t *member(struct room *r, const char *sender, const char *target, const char *membership)
{
	char c[128];
	snprintf(c, sizeof(c), "{'membership': '%s'}", membership);
	return ev(r, "m.room.member", sender, target, c);
}

/* Check e against r, return the code; e is kept. */
static int check_ev(struct room *r, const json_t *e, const char **why)
{
	return mx_auth_check(r->v, e, &r->st, why);
}

static void expect(struct room *r, json_t *e, bool allow, int line)
{
	const char *why = "unset";
	int rc = check_ev(r, e, &why);
	if (allow && rc != 0) {
		char *s = json_dumps(e, JSON_COMPACT);
		fail_msg("line %d: v%s: denied (%s): %s", line, r->v->id, why ? why : "?", s);
	}
	if (!allow && rc != MX_EFORBIDDEN) {
		char *s = json_dumps(e, JSON_COMPACT);
		fail_msg("line %d: v%s: expected a denial, got %d: %s", line, r->v->id, rc, s);
	}
	if (allow)
		assert_null(why);
	else
		assert_non_null(why);
	json_decref(e);
}
#define OK(r, e) expect((r), (e), true, __LINE__)
#define NO(r, e) expect((r), (e), false, __LINE__)

/* Store e as current state (takes it), as it is. */
static void store(struct room *r, json_t *e)
{
	const char *type = json_string_value(json_object_get(e, "type"));
	const char *sk = json_string_value(json_object_get(e, "state_key"));
	json_t *m = json_object_get(r->state, type);
	if (!m) {
		m = json_object();
		json_object_set_new(r->state, type, m);
	}
	json_object_set_new(m, sk, e);
}

/* Store e as current state without checking it; note a create event's ids. */
static void force(struct room *r, json_t *e)
{
	const char *type = json_string_value(json_object_get(e, "type"));
	const char *sk = json_string_value(json_object_get(e, "state_key"));
	store(r, e);
	if (!strcmp(type, "m.room.create") && sk && !*sk) {
		if (r->v->event_id == MX_EVID_V1) {
			snprintf(r->create_id, sizeof(r->create_id), "%s",
				 json_string_value(json_object_get(e, "event_id")));
		} else {
			assert_int_equal(mx_event_compute_id(e, r->v, r->create_id), 0);
		}
		if (r->v->room_id_from_create) {
			assert_int_equal(mx_event_room_id_from_create(e, r->v, r->v12_room_id), 0);
			assert_int_equal(r->v12_room_id[0], '!');
			assert_string_equal(r->v12_room_id + 1, r->create_id + 1);
			r->room_id = r->v12_room_id;
		}
	}
}

/* Check that e is allowed, then store it as current state. */
static void put_line(struct room *r, json_t *e, int line)
{
	json_incref(e);
	expect(r, e, true, line);
	force(r, e);
}
#define PUT(r, e) put_line((r), (e), __LINE__)

static void room_release(struct room *r)
{
	json_decref(r->state);
}

static json_t *create_event(struct room *r, const char *sender, const char *content)
{
	json_t *e = ev(r, "m.room.create", sender, "", content);
	json_object_set_new(e, "prev_events", json_array());
	if (r->v->room_id_from_create)
		json_object_del(e, "room_id");
	if (r->v->has_event_id_field)
		json_object_set_new(e, "event_id", json_string("$create:a.test"));
	return e;
}

static json_t *default_create(struct room *r)
{
	char c[256];
	if (r->v->create_has_creator)
		snprintf(c, sizeof(c), "{'creator': '%s', 'room_version': '%s'}", ALICE, r->v->id);
	else
		snprintf(c, sizeof(c), "{'room_version': '%s'}", r->v->id);
	return create_event(r, ALICE, c);
}

/* An empty room of version: no state at all. */
static void room_empty(struct room *r, const char *version)
{
	memset(r, 0, sizeof(*r));
	r->v = mx_room_version_get(version);
	assert_non_null(r->v);
	r->room_id = r->v->room_id_from_create ? V12_ROOM : "!room:a.test";
	r->state = json_object();
	r->st.get = room_get;
	r->st.ctx = r;
}

/*
 * create (by ALICE), ALICE's join, power levels (ALICE 100 before v12,
 * where she is a creator and cannot be listed), and join_rule if non-NULL.
 */
static void room_new(struct room *r, const char *version, const char *join_rule)
{
	room_empty(r, version);
	PUT(r, default_create(r));
	json_t *j = member(r, ALICE, ALICE, "join");
	set_prev(r, j, r->create_id);
	PUT(r, j);
	if (r->v->room_id_from_create)
		PUT(r, ev(r, "m.room.power_levels", ALICE, "", "{'users': {}}"));
	else
		PUT(r, ev(r, "m.room.power_levels", ALICE, "", "{'users': {'" ALICE "': 100}}"));
	if (join_rule) {
		char c[128];
		snprintf(c, sizeof(c), "{'join_rule': '%s'}", join_rule);
		PUT(r, ev(r, "m.room.join_rules", ALICE, "", c));
	}
}

/* Replace the power levels without checking (to set up a scenario). */
static void force_pl(struct room *r, const char *content)
{
	force(r, ev(r, "m.room.power_levels", ALICE, "", content));
}

static void force_member(struct room *r, const char *user, const char *membership)
{
	force(r, member(r, user, user, membership));
}

/* ------------------------------------------------------------------------ */

/* SPEC: rooms/v1#authorization-rules rule 1 (create) and rooms/v11 rule 1. */
static void test_create(void **state)
{
	(void)state;
	struct room r;
	const char *versions[] = {"1", "3", "6", "10"};
	for (size_t i = 0; i < 4; i++) {
		room_empty(&r, versions[i]);
		OK(&r, default_create(&r));
		/* 1.1: prev_events */
		json_t *e = default_create(&r);
		json_object_set_new(e, "prev_events", J("['$x']"));
		NO(&r, e);
		/* 1.2: room id domain vs sender domain */
		e = default_create(&r);
		json_object_set_new(e, "sender", json_string(BOB));
		NO(&r, e);
		e = default_create(&r);
		json_object_set_new(e, "room_id", json_string("!nodomain"));
		NO(&r, e);
		/* 1.3: unknown room_version */
		NO(&r, create_event(&r, ALICE, "{'creator': '" ALICE "', 'room_version': '99'}"));
		NO(&r, create_event(&r, ALICE, "{'creator': '" ALICE "', 'room_version': 6}"));
		OK(&r, create_event(&r, ALICE, "{'creator': '" ALICE "'}"));
		/* 1.4 (v1-v10): a creator property is required */
		NO(&r, create_event(&r, ALICE, "{'room_version': '1'}"));
		/* Not in the spec text: m.room.create is a state event with state_key "". */
		e = default_create(&r);
		json_object_set_new(e, "state_key", json_string("x"));
		NO(&r, e);
		room_release(&r);
	}
	/* SPEC: rooms/v11#authorization-rules rule 1: no creator needed. */
	room_empty(&r, "11");
	OK(&r, create_event(&r, ALICE, "{'room_version': '11'}"));
	OK(&r, create_event(&r, ALICE, "{}"));
	json_t *e = create_event(&r, ALICE, "{}");
	json_object_set_new(e, "room_id", json_string("!room:b.test"));
	NO(&r, e);
	room_release(&r);
}

/* SPEC: rooms/v12#authorization-rules rules 1.2, 1.4 */
static void test_create_v12(void **state)
{
	(void)state;
	struct room r;
	room_empty(&r, "12");
	OK(&r, create_event(&r, ALICE, "{'room_version': '12'}"));
	/* 1.2: a create event in v12 has no room_id */
	json_t *e = create_event(&r, ALICE, "{'room_version': '12'}");
	json_object_set_new(e, "room_id", json_string("!room:a.test"));
	NO(&r, e);
	/* 1.4: additional_creators must be an array of valid user ids */
	OK(&r, create_event(&r, ALICE, "{'additional_creators': ['" BOB "', '@x:[::1]:8448', '@:c.test']}"));
	OK(&r, create_event(&r, ALICE, "{'additional_creators': []}"));
	NO(&r, create_event(&r, ALICE, "{'additional_creators': '" BOB "'}"));
	NO(&r, create_event(&r, ALICE, "{'additional_creators': [42]}"));
	NO(&r, create_event(&r, ALICE, "{'additional_creators': ['bob']}"));
	NO(&r, create_event(&r, ALICE, "{'additional_creators': ['@bob']}"));
	NO(&r, create_event(&r, ALICE, "{'additional_creators': ['@bob:bad host']}"));
	NO(&r, create_event(&r, ALICE, "{'additional_creators': ['@bob:b.test:99999x']}"));
	/* A v11 create may carry anything there: the field has no meaning. */
	room_release(&r);
	room_empty(&r, "11");
	OK(&r, create_event(&r, ALICE, "{'additional_creators': 5}"));
	room_release(&r);
}

/* SPEC: rooms/v1#authorization-rules rules 2.4 and 5.2.1 */
static void test_join_before_and_after_create(void **state)
{
	(void)state;
	const char *versions[] = {"1", "2", "3", "4", "6", "10", "11", "12"};
	struct room r;
	json_t *j;
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		room_empty(&r, versions[i]);
		/* No create event in the state: nothing else can be authorised. */
		j = member(&r, ALICE, ALICE, "join");
		NO(&r, j);
		PUT(&r, default_create(&r));
		/* The creator's first join, straight after the create event. */
		j = member(&r, ALICE, ALICE, "join");
		set_prev(&r, j, r.create_id);
		OK(&r, j);
		/* Anyone else is refused: no join rules means invite-only. */
		j = member(&r, BOB, BOB, "join");
		set_prev(&r, j, r.create_id);
		NO(&r, j);
		/* Two prev events: not "the only previous event". */
		j = member(&r, ALICE, ALICE, "join");
		json_object_set_new(j, "prev_events", J("['%s', '$b']", r.create_id));
		NO(&r, j);
		/* Another single prev event. */
		j = member(&r, ALICE, ALICE, "join");
		set_prev(&r, j, "$other:a.test");
		NO(&r, j);
		/* v3+: an "event_id" member in a create means nothing (and changes its hash). */
		if (r.v->event_id != MX_EVID_V1) {
			j = member(&r, ALICE, ALICE, "join");
			set_prev(&r, j, "$claimed");
			json_t *c = json_deep_copy(room_get(&r, "m.room.create", ""));
			json_object_set_new(c, "event_id", json_string("$claimed"));
			json_object_set_new(json_object_get(r.state, "m.room.create"), "", c);
			NO(&r, j);
		}
		room_release(&r);
	}
	/* v3-v5 create events need not be canonical JSON, so may not hash: then
	 * the rule holds only in the state of the create event alone. */
	room_empty(&r, "5");
	json_t *c = create_event(&r, ALICE, "{'creator': '" ALICE "'}");
	json_object_set_new(c, "depth", json_real(1.5)); /* kept by redaction */
	char id[64];
	assert_int_not_equal(mx_event_compute_id(c, r.v, id), 0);
	store(&r, c);
	j = member(&r, ALICE, ALICE, "join");
	OK(&r, j);
	force(&r, ev(&r, "m.room.join_rules", ALICE, "", "{'join_rule': 'invite'}"));
	NO(&r, member(&r, ALICE, ALICE, "join"));
	room_release(&r);
	/* SPEC: rooms/v11 rule 4.3.1: v11 takes the creator from the create's sender. */
	room_empty(&r, "11");
	force(&r, create_event(&r, ALICE, "{'creator': '" BOB "'}"));
	j = member(&r, ALICE, ALICE, "join");
	set_prev(&r, j, r.create_id);
	OK(&r, j);
	j = member(&r, BOB, BOB, "join");
	set_prev(&r, j, r.create_id);
	NO(&r, j);
	room_release(&r);
}

/* SPEC: rooms/v1#authorization-rules rules 5.2.2-5.2.6 */
static void test_join_rules(void **state)
{
	(void)state;
	struct room r;
	room_new(&r, "1", "public");
	OK(&r, member(&r, BOB, BOB, "join"));
	NO(&r, member(&r, BOB, CAROL, "join")); /* 5.2.2: only for oneself */
	room_release(&r);

	room_new(&r, "6", "invite");
	NO(&r, member(&r, BOB, BOB, "join"));
	PUT(&r, member(&r, ALICE, BOB, "invite"));
	OK(&r, member(&r, BOB, BOB, "join"));
	room_release(&r);

	/* Unknown and not-yet-existing join rules refuse joins. */
	const char *cases[][2] = {{"6", "knock"}, {"7", "restricted"}, {"6", "private"}, {"9", "knock_restricted"}};
	for (size_t i = 0; i < 4; i++) {
		room_new(&r, cases[i][0], cases[i][1]);
		NO(&r, member(&r, BOB, BOB, "join"));
		room_release(&r);
	}
	/* A join_rules event without join_rule counts as invite; non-string denies. */
	room_new(&r, "6", NULL);
	force(&r, ev(&r, "m.room.join_rules", ALICE, "", "{}"));
	NO(&r, member(&r, BOB, BOB, "join"));
	force_member(&r, BOB, "invite");
	OK(&r, member(&r, BOB, BOB, "join"));
	force(&r, ev(&r, "m.room.join_rules", ALICE, "", "{'join_rule': 5}"));
	NO(&r, member(&r, BOB, BOB, "join"));
	room_release(&r);
}

/* SPEC: rooms/v1#authorization-rules rule 5.3 */
static void test_invite(void **state)
{
	(void)state;
	struct room r;
	room_new(&r, "6", "invite");
	force_pl(&r, "{'users': {'" ALICE "': 100}, 'invite': 50}");
	force_member(&r, BOB, "join");
	/* 5.3.4: the invite level */
	NO(&r, member(&r, BOB, CAROL, "invite"));
	OK(&r, member(&r, ALICE, CAROL, "invite"));
	/* 5.3.2: the sender must be joined */
	NO(&r, member(&r, DAVE, CAROL, "invite"));
	/* 5.3.3: not a joined or banned target */
	NO(&r, member(&r, ALICE, BOB, "invite"));
	force_member(&r, CAROL, "ban");
	NO(&r, member(&r, ALICE, CAROL, "invite"));
	/* invite defaults to 0 */
	force_pl(&r, "{'users': {'" ALICE "': 100}}");
	OK(&r, member(&r, BOB, DAVE, "invite"));
	room_release(&r);
}

/* SPEC: rooms/v1#authorization-rules rules 5.4, 5.5 */
static void test_kick_ban(void **state)
{
	(void)state;
	struct room r;
	room_new(&r, "1", "public");
	force_pl(&r, "{'users': {'" ALICE "': 100, '" BOB "': 50, '" DAVE "': 50}}");
	force_member(&r, BOB, "join");
	force_member(&r, CAROL, "join");
	force_member(&r, DAVE, "join");
	OK(&r, member(&r, ALICE, BOB, "leave"));   /* 100 kicks 50 */
	OK(&r, member(&r, BOB, CAROL, "leave"));   /* 50 kicks 0 */
	NO(&r, member(&r, BOB, DAVE, "leave"));    /* equal power cannot kick */
	NO(&r, member(&r, BOB, ALICE, "leave"));   /* nor a higher one */
	NO(&r, member(&r, CAROL, BOB, "leave"));   /* 0 < kick level 50 */
	OK(&r, member(&r, BOB, CAROL, "ban"));
	NO(&r, member(&r, BOB, DAVE, "ban"));      /* equal power cannot ban */
	NO(&r, member(&r, CAROL, ERIN, "ban"));    /* below the ban level */
	OK(&r, member(&r, ALICE, ERIN, "ban"));    /* banning a non-member */
	NO(&r, member(&r, ERIN, CAROL, "ban"));    /* 5.5.1: sender not joined */
	NO(&r, member(&r, ERIN, CAROL, "leave"));  /* 5.4.2: sender not joined */
	/* Custom levels */
	force_pl(&r, "{'users': {'" ALICE "': 100, '" BOB "': 50}, 'kick': 0, 'ban': 75}");
	NO(&r, member(&r, CAROL, DAVE, "leave"));  /* kick 0, but equal power */
	OK(&r, member(&r, BOB, CAROL, "leave"));
	NO(&r, member(&r, BOB, CAROL, "ban"));     /* 50 < ban 75 */
	room_release(&r);
}

/* SPEC: rooms/v1#authorization-rules rules 5.2.3, 5.4.1, 5.4.3 */
static void test_ban_unban_leave(void **state)
{
	(void)state;
	struct room r;
	room_new(&r, "6", "public");
	force_pl(&r, "{'users': {'" ALICE "': 100, '" BOB "': 60}, 'kick': 50, 'ban': 70}");
	force_member(&r, BOB, "join");
	force_member(&r, CAROL, "ban");
	NO(&r, member(&r, CAROL, CAROL, "join"));  /* banned cannot join */
	NO(&r, member(&r, CAROL, CAROL, "leave")); /* nor unban themselves */
	NO(&r, member(&r, BOB, CAROL, "leave"));   /* kick level but not ban level */
	OK(&r, member(&r, ALICE, CAROL, "leave")); /* unban */
	/* Own leave: joined or invited only (v1-v6) */
	OK(&r, member(&r, BOB, BOB, "leave"));
	force_member(&r, DAVE, "invite");
	OK(&r, member(&r, DAVE, DAVE, "leave"));   /* reject an invite */
	NO(&r, member(&r, ERIN, ERIN, "leave"));   /* never here */
	force_member(&r, ERIN, "leave");
	NO(&r, member(&r, ERIN, ERIN, "leave"));
	force_member(&r, ERIN, "knock");
	NO(&r, member(&r, ERIN, ERIN, "leave"));   /* knock means nothing in v6 */
	room_release(&r);
}

/* SPEC: rooms/v7#authorization-rules rules 4.3.4, 4.5.1, 4.7; rooms/v10 rule 4.7.1 */
static void test_knock(void **state)
{
	(void)state;
	struct room r;
	/* v6: knock is an unknown membership. */
	room_new(&r, "6", "knock");
	NO(&r, member(&r, BOB, BOB, "knock"));
	room_release(&r);

	room_new(&r, "7", "knock");
	OK(&r, member(&r, BOB, BOB, "knock"));
	NO(&r, member(&r, BOB, CAROL, "knock"));   /* 4.7.2: only for oneself */
	NO(&r, member(&r, ALICE, ALICE, "knock")); /* 4.7.3: joined */
	force_member(&r, CAROL, "ban");
	NO(&r, member(&r, CAROL, CAROL, "knock"));
	force_member(&r, DAVE, "invite");
	NO(&r, member(&r, DAVE, DAVE, "knock"));
	force_member(&r, ERIN, "leave");
	OK(&r, member(&r, ERIN, ERIN, "knock"));
	/* A knocking user may withdraw (4.5.1) but not join uninvited (4.3.4). */
	force_member(&r, BOB, "knock");
	OK(&r, member(&r, BOB, BOB, "leave"));
	NO(&r, member(&r, BOB, BOB, "join"));
	/* Invited after knocking: join. */
	force_member(&r, BOB, "invite");
	OK(&r, member(&r, BOB, BOB, "join"));
	room_release(&r);

	/* Only the knock join rule allows knocking. */
	const char *rules[] = {"public", "invite", "restricted", "knock_restricted"};
	for (size_t i = 0; i < 4; i++) {
		room_new(&r, "9", rules[i]);
		NO(&r, member(&r, BOB, BOB, "knock"));
		room_release(&r);
	}
	/* v10: knock_restricted allows knocking. */
	room_new(&r, "10", "knock_restricted");
	OK(&r, member(&r, BOB, BOB, "knock"));
	room_release(&r);
}

/* SPEC: rooms/v8#authorization-rules rule 4.3.5; rooms/v10 rule 4.3.5 */
static void test_restricted(void **state)
{
	(void)state;
	struct room r;
	const char *cases[][2] = {{"8", "restricted"}, {"9", "restricted"}, {"10", "restricted"},
				  {"10", "knock_restricted"}, {"12", "knock_restricted"}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		room_new(&r, cases[i][0], cases[i][1]);
		force_pl(&r, r.v->room_id_from_create
				     ? "{'users': {'" BOB "': 50}, 'invite': 50}"
				     : "{'users': {'" ALICE "': 100, '" BOB "': 50}, 'invite': 50}");
		force_member(&r, BOB, "join");
		force_member(&r, DAVE, "join");
		/* 4.3.5.2: needs an authorising user */
		NO(&r, member(&r, CAROL, CAROL, "join"));
		/* with invite power, joined */
		OK(&r, ev(&r, "m.room.member", CAROL, CAROL,
			  "{'membership': 'join', 'join_authorised_via_users_server': '" BOB "'}"));
		OK(&r, ev(&r, "m.room.member", CAROL, CAROL,
			  "{'membership': 'join', 'join_authorised_via_users_server': '" ALICE "'}"));
		/* without invite power */
		NO(&r, ev(&r, "m.room.member", CAROL, CAROL,
			  "{'membership': 'join', 'join_authorised_via_users_server': '" DAVE "'}"));
		/* not in the room */
		NO(&r, ev(&r, "m.room.member", CAROL, CAROL,
			  "{'membership': 'join', 'join_authorised_via_users_server': '" ERIN "'}"));
		/* invite power but not joined */
		force(&r, ev(&r, "m.room.power_levels", ALICE, "", r.v->room_id_from_create
			     ? "{'users': {'" BOB "': 50, '" ERIN "': 50}, 'invite': 50}"
			     : "{'users': {'" ALICE "': 100, '" BOB "': 50, '" ERIN "': 50}, 'invite': 50}"));
		force_member(&r, ERIN, "invite");
		NO(&r, ev(&r, "m.room.member", CAROL, CAROL,
			  "{'membership': 'join', 'join_authorised_via_users_server': '" ERIN "'}"));
		/* not a user id at all */
		NO(&r, ev(&r, "m.room.member", CAROL, CAROL,
			  "{'membership': 'join', 'join_authorised_via_users_server': 7}"));
		/* 4.3.5.1: invited users need no authoriser */
		force_member(&r, CAROL, "invite");
		OK(&r, member(&r, CAROL, CAROL, "join"));
		room_release(&r);
	}
	/* v7: restricted does not exist. */
	room_new(&r, "7", "restricted");
	force_member(&r, BOB, "join");
	NO(&r, ev(&r, "m.room.member", CAROL, CAROL,
		  "{'membership': 'join', 'join_authorised_via_users_server': '" ALICE "'}"));
	room_release(&r);
	/* v9: knock_restricted does not exist. */
	room_new(&r, "9", "knock_restricted");
	NO(&r, ev(&r, "m.room.member", CAROL, CAROL,
		  "{'membership': 'join', 'join_authorised_via_users_server': '" ALICE "'}"));
	room_release(&r);
}

/* SPEC: rooms/v1#authorization-rules rule 10 */
static void test_power_level_changes(void **state)
{
	(void)state;
	struct room r;
	room_new(&r, "6", "public");
	force_pl(&r, "{'users': {'" ALICE "': 100, '" BOB "': 50, '" DAVE "': 50}, "
		     "'events': {'m.room.name': 50, 'm.room.tombstone': 100}, 'state_default': 50}");
	force_member(&r, BOB, "join");
	force_member(&r, DAVE, "join");
	const char *base = "'" ALICE "': 100, '" BOB "': 50, '" DAVE "': 50";
	char c[1024];
	/* 10.7: cannot grant above own level */
	snprintf(c, sizeof(c), "{'users': {%s, '" CAROL "': 60}, 'events': {'m.room.name': 50, "
		 "'m.room.tombstone': 100}, 'state_default': 50}", base);
	NO(&r, ev(&r, "m.room.power_levels", BOB, "", c));
	snprintf(c, sizeof(c), "{'users': {%s, '" CAROL "': 50}, 'events': {'m.room.name': 50, "
		 "'m.room.tombstone': 100}, 'state_default': 50}", base);
	OK(&r, ev(&r, "m.room.power_levels", BOB, "", c));
	/* 10.6: cannot change users at or above own level */
	NO(&r, ev(&r, "m.room.power_levels", BOB, "",
		  "{'users': {'" ALICE "': 0, '" BOB "': 50, '" DAVE "': 50}, "
		  "'events': {'m.room.name': 50, 'm.room.tombstone': 100}, 'state_default': 50}"));
	NO(&r, ev(&r, "m.room.power_levels", BOB, "",
		  "{'users': {'" ALICE "': 100, '" BOB "': 50}, "
		  "'events': {'m.room.name': 50, 'm.room.tombstone': 100}, 'state_default': 50}"));
	/* ... but may lower their own */
	OK(&r, ev(&r, "m.room.power_levels", BOB, "",
		  "{'users': {'" ALICE "': 100, '" BOB "': 10, '" DAVE "': 50}, "
		  "'events': {'m.room.name': 50, 'm.room.tombstone': 100}, 'state_default': 50}"));
	/* 10.3: named levels, changed to or from above own level */
	snprintf(c, sizeof(c), "{'users': {%s}, 'events': {'m.room.name': 50, 'm.room.tombstone': 100}, "
		 "'state_default': 50, 'ban': 60}", base);
	NO(&r, ev(&r, "m.room.power_levels", BOB, "", c));
	snprintf(c, sizeof(c), "{'users': {%s}, 'events': {'m.room.name': 50, 'm.room.tombstone': 100}, "
		 "'state_default': 40, 'ban': 50}", base);
	OK(&r, ev(&r, "m.room.power_levels", BOB, "", c));
	/* 10.3.1: nor lower a level that is currently above one's own */
	force_pl(&r, "{'users': {'" ALICE "': 100, '" BOB "': 50}, 'kick': 60}");
	NO(&r, ev(&r, "m.room.power_levels", BOB, "", "{'users': {'" ALICE "': 100, '" BOB "': 50}, 'kick': 40}"));
	NO(&r, ev(&r, "m.room.power_levels", BOB, "", "{'users': {'" ALICE "': 100, '" BOB "': 50}}"));
	OK(&r, ev(&r, "m.room.power_levels", ALICE, "", "{'users': {'" ALICE "': 100, '" BOB "': 50}, 'kick': 40}"));
	force_pl(&r, "{'users': {'" ALICE "': 100, '" BOB "': 50, '" DAVE "': 50}, "
		     "'events': {'m.room.name': 50, 'm.room.tombstone': 100}, 'state_default': 50}");
	/* 10.4/10.5: events entries */
	snprintf(c, sizeof(c), "{'users': {%s}, 'events': {'m.room.name': 50}, 'state_default': 50}", base);
	NO(&r, ev(&r, "m.room.power_levels", BOB, "", c)); /* removes tombstone (100) */
	snprintf(c, sizeof(c), "{'users': {%s}, 'events': {'m.room.name': 20, 'm.room.tombstone': 100, "
		 "'m.room.topic': 50}, 'state_default': 50}", base);
	OK(&r, ev(&r, "m.room.power_levels", BOB, "", c));
	snprintf(c, sizeof(c), "{'users': {%s}, 'events': {'m.room.name': 50, 'm.room.tombstone': 100, "
		 "'m.room.topic': 51}, 'state_default': 50}", base);
	NO(&r, ev(&r, "m.room.power_levels", BOB, "", c));
	/* 10.5/10.7: an existing entry raised above one's own level */
	snprintf(c, sizeof(c), "{'users': {%s}, 'events': {'m.room.name': 60, 'm.room.tombstone': 100}, "
		 "'state_default': 50}", base);
	NO(&r, ev(&r, "m.room.power_levels", BOB, "", c));
	force_pl(&r, "{'users': {'" ALICE "': 100, '" BOB "': 50, '" CAROL "': 10}}");
	NO(&r, ev(&r, "m.room.power_levels", BOB, "", "{'users': {'" ALICE "': 100, '" BOB "': 50, '" CAROL "': 60}}"));
	OK(&r, ev(&r, "m.room.power_levels", BOB, "", "{'users': {'" ALICE "': 100, '" BOB "': 50, '" CAROL "': 40}}"));
	/* An unreadable current value cannot be compared: denied (as Synapse's int() fails). */
	force_pl(&r, "{'users': {'" ALICE "': 100, '" BOB "': 50}, 'events': {'m.room.name': 'x'}}");
	NO(&r, ev(&r, "m.room.power_levels", ALICE, "", "{'users': {'" ALICE "': 100, '" BOB "': 50}, "
		  "'events': {'m.room.name': 10}}"));
	force_pl(&r, "{'users': {'" ALICE "': 100, '" BOB "': 50, '" DAVE "': 50}, "
		     "'events': {'m.room.name': 50, 'm.room.tombstone': 100}, 'state_default': 50}");
	/* 10.1: users must map user ids to integers */
	NO(&r, ev(&r, "m.room.power_levels", ALICE, "", "{'users': {'alice': 100}}"));
	NO(&r, ev(&r, "m.room.power_levels", ALICE, "", "{'users': {'" ALICE "': 'lots'}}"));
	NO(&r, ev(&r, "m.room.power_levels", ALICE, "", "{'users': {'" ALICE "': true}}"));
	NO(&r, ev(&r, "m.room.power_levels", ALICE, "", "{'users': ['" ALICE "']}"));
	/* 9: the power levels are state: state_default applies; 8: needs events entry */
	NO(&r, ev(&r, "m.room.power_levels", CAROL, "", "{'users': {}}")); /* not joined */
	room_release(&r);

	/* 10.2: the first power levels event is allowed whatever it grants. */
	room_empty(&r, "6");
	force(&r, default_create(&r));
	force_member(&r, ALICE, "join");
	OK(&r, ev(&r, "m.room.power_levels", ALICE, "", "{'users': {'" ALICE "': 1000, '" BOB "': 999}}"));
	/* ... but only from someone at state_default (50): the creator has 100. */
	force_member(&r, BOB, "join");
	NO(&r, ev(&r, "m.room.power_levels", BOB, "", "{'users': {'" BOB "': 100}}"));
	room_release(&r);
}

/* SPEC: rooms/v1#mroompower_levels-events-accept-values-as-strings, -as-floats;
 * rooms/v10#authorization-rules rules 9.1-9.3 */
static void test_power_level_types(void **state)
{
	(void)state;
	struct room r;
	const char *stringy = "{'users': {'" ALICE "': '100', '" BOB "': ' +050 '}, 'ban': '50', "
			      "'events': {'m.room.name': '0100'}, 'state_default': '-1'}";
	const char *versions[] = {"1", "5", "6", "9"};
	for (size_t i = 0; i < 4; i++) {
		room_new(&r, versions[i], "public");
		OK(&r, ev(&r, "m.room.power_levels", ALICE, "", stringy));
		force(&r, ev(&r, "m.room.power_levels", ALICE, "", stringy));
		assert_int_equal(mx_auth_user_power(r.v, room_get(&r, "m.room.power_levels", ""), NULL, BOB), 50);
		assert_int_equal(mx_auth_event_power(r.v, room_get(&r, "m.room.power_levels", ""), "m.room.name", true), 100);
		assert_int_equal(mx_auth_event_power(r.v, room_get(&r, "m.room.power_levels", ""), "m.room.topic", true), -1);
		/* "100" and 100 are the same value: not a change. */
		OK(&r, ev(&r, "m.room.power_levels", ALICE, "",
			  "{'users': {'" ALICE "': 100, '" BOB "': 50}, 'ban': 50, "
			  "'events': {'m.room.name': 100}, 'state_default': -1}"));
		/* Malformed strings */
		NO(&r, ev(&r, "m.room.power_levels", ALICE, "", "{'users': {'" ALICE "': '1e2'}}"));
		NO(&r, ev(&r, "m.room.power_levels", ALICE, "", "{'users': {'" ALICE "': ''}}"));
		NO(&r, ev(&r, "m.room.power_levels", ALICE, "", "{'users': {'" ALICE "': '--5'}}"));
		NO(&r, ev(&r, "m.room.power_levels", ALICE, "", "{'users': {'" ALICE "': '5.0'}}"));
		NO(&r, ev(&r, "m.room.power_levels", ALICE, "", "{'users': {'" ALICE "': '99999999999999999999'}}"));
		/* Floats: v1-v5 only (truncated); v6+ are canonical JSON. */
		json_t *e = ev(&r, "m.room.power_levels", ALICE, "", "{'users': {'" ALICE "': 100.7, '" BOB "': 50.57}}");
		if (r.v->strict_canonical_json) {
			NO(&r, e);
		} else {
			OK(&r, e);
			force(&r, ev(&r, "m.room.power_levels", ALICE, "", "{'users': {'" ALICE "': 100.7, '" BOB "': 50.57}}"));
			assert_int_equal(mx_auth_user_power(r.v, room_get(&r, "m.room.power_levels", ""), NULL, BOB), 50);
		}
		room_release(&r);
	}
	/* v10 rule 9.1/9.2 apply to the first power levels event too. */
	room_empty(&r, "10");
	force(&r, default_create(&r));
	force_member(&r, ALICE, "join");
	NO(&r, ev(&r, "m.room.power_levels", ALICE, "", "{'ban': '50'}"));
	NO(&r, ev(&r, "m.room.power_levels", ALICE, "", "{'events': {'m.room.name': '50'}}"));
	NO(&r, ev(&r, "m.room.power_levels", ALICE, "", "{'notifications': 5}"));
	OK(&r, ev(&r, "m.room.power_levels", ALICE, "", "{'ban': 50, 'events': {'m.room.name': 50}}"));
	room_release(&r);
	room_empty(&r, "9");
	force(&r, default_create(&r));
	force_member(&r, ALICE, "join");
	OK(&r, ev(&r, "m.room.power_levels", ALICE, "", "{'ban': '50', 'events': {'m.room.name': '50'}}"));
	room_release(&r);
	/* v10+: integers only, everywhere. */
	const char *v10[] = {"10", "11", "12"};
	for (size_t i = 0; i < 3; i++) {
		room_new(&r, v10[i], "public");
		const char *me = r.v->room_id_from_create ? "" : "'" ALICE "': 100";
		char c[512];
		snprintf(c, sizeof(c), "{'users': {%s}, 'ban': 50}", me);
		OK(&r, ev(&r, "m.room.power_levels", ALICE, "", c));
		snprintf(c, sizeof(c), "{'users': {%s}, 'ban': '50'}", me);
		NO(&r, ev(&r, "m.room.power_levels", ALICE, "", c));
		snprintf(c, sizeof(c), "{'users': {%s}, 'kick': null}", me);
		NO(&r, ev(&r, "m.room.power_levels", ALICE, "", c));
		snprintf(c, sizeof(c), "{'users': {%s}, 'events': {'m.room.name': '50'}}", me);
		NO(&r, ev(&r, "m.room.power_levels", ALICE, "", c));
		snprintf(c, sizeof(c), "{'users': {%s}, 'notifications': {'room': '50'}}", me);
		NO(&r, ev(&r, "m.room.power_levels", ALICE, "", c));
		snprintf(c, sizeof(c), "{'users': {%s}, 'notifications': []}", me);
		NO(&r, ev(&r, "m.room.power_levels", ALICE, "", c));
		NO(&r, ev(&r, "m.room.power_levels", ALICE, "", "{'users': {'" BOB "': '50'}}"));
		OK(&r, ev(&r, "m.room.power_levels", ALICE, "", "{'users': {'" BOB "': 50}}"));
		room_release(&r);
	}
}

/* SPEC: rooms/v6#authorization-rules rules 9.4, 9.5 (notifications) */
static void test_notifications(void **state)
{
	(void)state;
	struct room r;
	const char *versions[] = {"5", "6"};
	for (size_t i = 0; i < 2; i++) {
		room_new(&r, versions[i], "public");
		force_pl(&r, "{'users': {'" ALICE "': 100, '" BOB "': 50}, 'notifications': {'room': 80}}");
		force_member(&r, BOB, "join");
		json_t *e = ev(&r, "m.room.power_levels", BOB, "",
			       "{'users': {'" ALICE "': 100, '" BOB "': 50}, 'notifications': {'room': 10}}");
		if (r.v->auth >= MX_AUTH_V6)
			NO(&r, e);  /* current 80 > 50 */
		else
			OK(&r, e);  /* not compared before v6 */
		e = ev(&r, "m.room.power_levels", BOB, "",
		       "{'users': {'" ALICE "': 100, '" BOB "': 50}, 'notifications': {'room': 80, 'x': 60}}");
		if (r.v->auth >= MX_AUTH_V6)
			NO(&r, e);
		else
			OK(&r, e);
		room_release(&r);
	}
}

/* SPEC: rooms/v1#authorization-rules rules 6, 8, 9 */
static void test_send_levels(void **state)
{
	(void)state;
	struct room r;
	room_new(&r, "6", "public");
	force_member(&r, BOB, "join");
	/* state_default 50, events_default 0 */
	NO(&r, ev(&r, "m.room.topic", BOB, "", "{'topic': 'x'}"));
	OK(&r, ev(&r, "m.room.topic", ALICE, "", "{'topic': 'x'}"));
	OK(&r, ev(&r, "m.room.message", BOB, NULL, "{'body': 'hi'}"));
	/* 6: the sender must be joined */
	NO(&r, ev(&r, "m.room.message", CAROL, NULL, "{'body': 'hi'}"));
	force_member(&r, CAROL, "invite");
	NO(&r, ev(&r, "m.room.message", CAROL, NULL, "{'body': 'hi'}"));
	/* events overrides; users_default raises everyone */
	force_pl(&r, "{'users': {'" ALICE "': 100}, 'events_default': 10, 'state_default': 20, "
		     "'events': {'m.room.topic': 0, 'm.custom': 30}, 'users_default': 10}");
	OK(&r, ev(&r, "m.room.message", BOB, NULL, "{'body': 'hi'}"));
	OK(&r, ev(&r, "m.room.topic", BOB, "", "{'topic': 'x'}"));
	NO(&r, ev(&r, "m.room.name", BOB, "", "{'name': 'x'}"));
	NO(&r, ev(&r, "m.custom", BOB, NULL, "{}"));
	NO(&r, ev(&r, "m.custom", BOB, "", "{}"));
	force_pl(&r, "{'users': {'" ALICE "': 100}, 'events_default': 10, 'users_default': 0}");
	NO(&r, ev(&r, "m.room.message", BOB, NULL, "{'body': 'hi'}"));
	/* 9: state keys starting with @ belong to that user */
	force_pl(&r, "{'users': {'" ALICE "': 100}, 'state_default': 0}");
	OK(&r, ev(&r, "m.custom.state", BOB, BOB, "{}"));
	NO(&r, ev(&r, "m.custom.state", BOB, CAROL, "{}"));
	NO(&r, ev(&r, "m.custom.state", ALICE, BOB, "{}"));
	OK(&r, ev(&r, "m.custom.state", BOB, "bob", "{}"));
	/* 7: third party invites need the invite level */
	force_pl(&r, "{'users': {'" ALICE "': 100}, 'invite': 50}");
	NO(&r, ev(&r, "m.room.third_party_invite", BOB, "tok", "{}"));
	OK(&r, ev(&r, "m.room.third_party_invite", ALICE, "tok", "{}"));
	room_release(&r);

	/* Without a power levels event: creator 100, others 0, state_default 50. */
	room_empty(&r, "1");
	force(&r, default_create(&r));
	force_member(&r, ALICE, "join");
	force_member(&r, BOB, "join");
	OK(&r, ev(&r, "m.room.name", ALICE, "", "{}"));
	NO(&r, ev(&r, "m.room.name", BOB, "", "{}"));
	OK(&r, ev(&r, "m.room.message", BOB, NULL, "{}"));
	room_release(&r);
}

/* SPEC: rooms/v1#authorization-rules rule 11; rooms/v3#authorization-rules (no such rule) */
static void test_redaction(void **state)
{
	(void)state;
	struct room r;
	room_new(&r, "1", "public");
	force_member(&r, BOB, "join");
	json_t *e = ev(&r, "m.room.redaction", BOB, NULL, "{}");
	json_object_set_new(e, "redacts", json_string("$victim:a.test"));
	NO(&r, e);  /* another server's event, below redact level 50 */
	e = ev(&r, "m.room.redaction", BOB, NULL, "{}");
	json_object_set_new(e, "redacts", json_string("$own:b.test"));
	OK(&r, e);  /* same domain as the redaction's own event id */
	e = ev(&r, "m.room.redaction", BOB, NULL, "{}");
	NO(&r, e);  /* no redacts at all */
	e = ev(&r, "m.room.redaction", ALICE, NULL, "{}");
	json_object_set_new(e, "redacts", json_string("$victim:b.test"));
	OK(&r, e);  /* redact level */
	/* events_default still applies (rule 8) */
	force_pl(&r, "{'users': {'" ALICE "': 100}, 'events': {'m.room.redaction': 10}}");
	e = ev(&r, "m.room.redaction", BOB, NULL, "{}");
	json_object_set_new(e, "redacts", json_string("$own:b.test"));
	NO(&r, e);
	room_release(&r);

	/* v3+: the redact level is not part of auth. */
	const char *versions[] = {"3", "6", "11"};
	for (size_t i = 0; i < 3; i++) {
		room_new(&r, versions[i], "public");
		force_member(&r, BOB, "join");
		e = ev(&r, "m.room.redaction", BOB, NULL, "{'redacts': '$victim'}");
		json_object_set_new(e, "redacts", json_string("$victim"));
		OK(&r, e);
		room_release(&r);
	}
}

/* SPEC: rooms/v1#authorization-rules rule 4 (v1-v5); rooms/v6 removes it */
static void test_aliases(void **state)
{
	(void)state;
	struct room r;
	const char *versions[] = {"1", "5", "6"};
	for (size_t i = 0; i < 3; i++) {
		room_new(&r, versions[i], "invite");
		bool special = r.v->special_aliases_auth;
		/* BOB is not even in the room */
		json_t *e = ev(&r, "m.room.aliases", BOB, "b.test", "{'aliases': ['#x:b.test']}");
		if (special)
			OK(&r, e);
		else
			NO(&r, e);
		NO(&r, ev(&r, "m.room.aliases", BOB, "a.test", "{'aliases': []}"));
		NO(&r, ev(&r, "m.room.aliases", BOB, NULL, "{'aliases': []}"));
		/* v6: an ordinary state event */
		e = ev(&r, "m.room.aliases", ALICE, "b.test", "{'aliases': []}");
		if (special)
			NO(&r, e);
		else
			OK(&r, e);
		room_release(&r);
	}
}

/* SPEC: rooms/v1#authorization-rules rule 3 (m.federate) */
static void test_federate(void **state)
{
	(void)state;
	struct room r;
	room_empty(&r, "10");
	force(&r, create_event(&r, ALICE, "{'creator': '" ALICE "', 'm.federate': false}"));
	force_member(&r, ALICE, "join");
	force(&r, ev(&r, "m.room.join_rules", ALICE, "", "{'join_rule': 'public'}"));
	NO(&r, member(&r, BOB, BOB, "join"));
	OK(&r, member(&r, "@bob:a.test", "@bob:a.test", "join"));
	room_release(&r);
	room_empty(&r, "10");
	force(&r, create_event(&r, ALICE, "{'creator': '" ALICE "', 'm.federate': 'no'}"));
	force_member(&r, ALICE, "join");
	force(&r, ev(&r, "m.room.join_rules", ALICE, "", "{'join_rule': 'public'}"));
	OK(&r, member(&r, BOB, BOB, "join"));
	room_release(&r);
}

static json_t *tpi_invite(struct room *r, const char *sender, const char *target, json_t *signed_obj)
{
	json_t *e = ev(r, "m.room.member", sender, target, "{'membership': 'invite'}");
	json_t *tpi = json_object();
	json_object_set_new(tpi, "display_name", json_string("c..."));
	json_object_set(tpi, "signed", signed_obj);
	json_object_set_new(json_object_get(e, "content"), "third_party_invite", tpi);
	return e;
}

/* SPEC: rooms/v1#authorization-rules rule 5.3.1 */
static void test_third_party_invite(void **state)
{
	(void)state;
	struct room r;
	struct mx_signing_key k, other;
	assert_int_equal(mx_signing_key_generate(&k), 0);
	assert_int_equal(mx_signing_key_generate(&other), 0);
	char *pk = mx_signing_key_public_b64(&k);
	char *opk = mx_signing_key_public_b64(&other);

	const char *versions[] = {"1", "6", "10", "12"};
	for (size_t i = 0; i < 4; i++) {
		room_new(&r, versions[i], "invite");
		force_member(&r, BOB, "join");
		char c[512];
		snprintf(c, sizeof(c), "{'display_name': 'c...', 'key_validity_url': 'https://id.test/v', "
			 "'public_key': '%s', 'public_keys': [{'public_key': '%s'}]}", opk, opk);
		force(&r, ev(&r, "m.room.third_party_invite", ALICE, "tok", c));
		snprintf(c, sizeof(c), "{'public_keys': [{'public_key': 'bad'}, {'public_key': '%s'}]}", pk);
		force(&r, ev(&r, "m.room.third_party_invite", ALICE, "tok2", c));

		json_t *s = J("{'mxid': '" CAROL "', 'token': 'tok2'}");
		assert_int_equal(mx_sign_json(s, "id.test", &k), 0);
		OK(&r, tpi_invite(&r, ALICE, CAROL, s));            /* key in public_keys */
		NO(&r, tpi_invite(&r, BOB, CAROL, s));              /* 5.3.1.6: not the inviter */
		NO(&r, tpi_invite(&r, ALICE, DAVE, s));             /* 5.3.1.4: mxid mismatch */
		json_object_set_new(s, "token", json_string("tok"));
		NO(&r, tpi_invite(&r, ALICE, CAROL, s));            /* signature no longer valid */
		json_decref(s);

		s = J("{'mxid': '" CAROL "', 'token': 'tok'}");
		assert_int_equal(mx_sign_json(s, "id.test", &k), 0);
		NO(&r, tpi_invite(&r, ALICE, CAROL, s));            /* 5.3.1.8: wrong key */
		assert_int_equal(mx_sign_json(s, "id.test", &other), 0);
		OK(&r, tpi_invite(&r, ALICE, CAROL, s));            /* public_key */
		json_object_set_new(s, "token", json_string("nope"));
		NO(&r, tpi_invite(&r, ALICE, CAROL, s));            /* 5.3.1.5: no such invite */
		json_object_del(s, "token");
		NO(&r, tpi_invite(&r, ALICE, CAROL, s));            /* 5.3.1.3: no token */
		json_decref(s);

		s = J("{'mxid': '" CAROL "', 'token': 'tok'}");
		NO(&r, tpi_invite(&r, ALICE, CAROL, s));            /* unsigned */
		json_decref(s);
		s = J("{'mxid': '" CAROL "', 'token': 'tok', 'signatures': {'id.test': {'ed25519:0': 'AAAA'}}}");
		NO(&r, tpi_invite(&r, ALICE, CAROL, s));            /* garbage signature */
		json_decref(s);
		/* Documented limit: at most 64 (key, signature) pairs are tried. */
		s = J("{'mxid': '" CAROL "', 'token': 'tok2'}");
		json_t *sigs = json_object();
		for (int n = 0; n < 64; n++) {
			char kid[32];
			snprintf(kid, sizeof(kid), "ed25519:junk%d", n);
			json_object_set_new(sigs, kid, json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
		}
		json_object_set_new(s, "signatures", json_pack("{s:o}", "id.test", sigs));
		assert_int_equal(mx_sign_json(s, "id.test", &k), 0);
		NO(&r, tpi_invite(&r, ALICE, CAROL, s));
		json_object_del(json_object_get(json_object_get(s, "signatures"), "id.test"), "ed25519:junk0");
		OK(&r, tpi_invite(&r, ALICE, CAROL, s));
		json_decref(s);
		/* 5.3.1.2: no signed object */
		NO(&r, ev(&r, "m.room.member", ALICE, CAROL,
			  "{'membership': 'invite', 'third_party_invite': {'display_name': 'x'}}"));
		NO(&r, ev(&r, "m.room.member", ALICE, CAROL,
			  "{'membership': 'invite', 'third_party_invite': 'x'}"));
		/* 5.3.1.1: banned target */
		s = J("{'mxid': '" CAROL "', 'token': 'tok'}");
		assert_int_equal(mx_sign_json(s, "id.test", &other), 0);
		force_member(&r, CAROL, "ban");
		NO(&r, tpi_invite(&r, ALICE, CAROL, s));
		json_decref(s);
		room_release(&r);
	}
	free(pk);
	free(opk);
	mx_signing_key_release(&k);
	mx_signing_key_release(&other);
}

/* SPEC: rooms/v11#authorization-rules rules 1, 4.3.1 and the power levels note */
static void test_v11_creator(void **state)
{
	(void)state;
	struct room r;
	room_empty(&r, "11");
	json_t *c = create_event(&r, ALICE, "{'room_version': '11'}");
	OK(&r, json_incref(c));
	force(&r, c);
	assert_true(mx_auth_is_creator(r.v, c, ALICE));
	assert_false(mx_auth_is_creator(r.v, c, BOB));
	/* No power levels: the create's sender has 100 */
	assert_int_equal(mx_auth_user_power(r.v, NULL, c, ALICE), 100);
	assert_int_equal(mx_auth_user_power(r.v, NULL, c, BOB), 0);
	json_t *j = member(&r, ALICE, ALICE, "join");
	set_prev(&r, j, r.create_id);
	PUT(&r, j);
	OK(&r, ev(&r, "m.room.name", ALICE, "", "{'name': 'n'}"));
	room_release(&r);

	/* v1-v10: the creator is content.creator, not the sender. */
	room_empty(&r, "10");
	c = create_event(&r, ALICE, "{'creator': '" BOB "'}");
	assert_true(mx_auth_is_creator(r.v, c, BOB));
	assert_false(mx_auth_is_creator(r.v, c, ALICE));
	assert_int_equal(mx_auth_user_power(r.v, NULL, c, BOB), 100);
	assert_int_equal(mx_auth_user_power(r.v, NULL, c, ALICE), 0);
	json_decref(c);
	room_release(&r);
}

/* SPEC: rooms/v12#authorization-rules: creators' infinite power, rule 10.4 */
static void test_v12_creators(void **state)
{
	(void)state;
	struct room r;
	room_empty(&r, "12");
	PUT(&r, create_event(&r, ALICE, "{'room_version': '12', 'additional_creators': ['" BOB "']}"));
	const json_t *c = room_get(&r, "m.room.create", "");
	json_t *j = member(&r, ALICE, ALICE, "join");
	set_prev(&r, j, r.create_id);
	PUT(&r, j);
	/* Additional creators do not get the first-join shortcut. */
	j = member(&r, BOB, BOB, "join");
	set_prev(&r, j, r.create_id);
	NO(&r, j);
	assert_true(mx_auth_is_creator(r.v, c, ALICE));
	assert_true(mx_auth_is_creator(r.v, c, BOB));
	assert_false(mx_auth_is_creator(r.v, c, CAROL));
	assert_int_equal(mx_auth_user_power(r.v, NULL, c, ALICE), INT64_MAX);
	assert_int_equal(mx_auth_user_power(r.v, NULL, c, BOB), INT64_MAX);
	assert_int_equal(mx_auth_user_power(r.v, NULL, c, CAROL), 0);

	/* 10.4: creators cannot appear in users */
	NO(&r, ev(&r, "m.room.power_levels", ALICE, "", "{'users': {'" ALICE "': 100}}"));
	NO(&r, ev(&r, "m.room.power_levels", ALICE, "", "{'users': {'" BOB "': 9007199254740991}}"));
	PUT(&r, ev(&r, "m.room.power_levels", ALICE, "", "{'users': {'" CAROL "': 100}, 'ban': 100}"));
	const json_t *pl = room_get(&r, "m.room.power_levels", "");
	assert_int_equal(mx_auth_user_power(r.v, pl, c, ALICE), INT64_MAX);
	assert_int_equal(mx_auth_user_power(r.v, pl, c, CAROL), 100);
	/* A creator can set any level and touch anyone */
	OK(&r, ev(&r, "m.room.power_levels", ALICE, "",
		  "{'users': {'" CAROL "': 9007199254740991}, 'ban': 9007199254740991}"));
	force_member(&r, BOB, "join");
	force_member(&r, CAROL, "join");
	/* ... but a PL-100 user cannot kick or ban a creator, nor demote one */
	NO(&r, member(&r, CAROL, ALICE, "ban"));
	NO(&r, member(&r, CAROL, ALICE, "leave"));
	NO(&r, ev(&r, "m.room.power_levels", CAROL, "", "{'users': {'" CAROL "': 100, '" ALICE "': 0}, 'ban': 100}"));
	OK(&r, member(&r, ALICE, CAROL, "ban"));
	/* Creators are equal: they cannot kick each other. */
	NO(&r, member(&r, ALICE, BOB, "leave"));
	/* The create event is not an auth event in v12 */
	struct mx_auth_key keys[MX_AUTH_KEYS_MAX];
	json_t *e = member(&r, CAROL, CAROL, "leave");
	size_t n = mx_auth_event_types(r.v, e, keys, MX_AUTH_KEYS_MAX);
	for (size_t i = 0; i < n; i++)
		assert_string_not_equal(keys[i].type, "m.room.create");
	json_decref(e);
	room_release(&r);
}

/* SPEC: server-server-api#auth-events-selection */
static void test_event_types(void **state)
{
	(void)state;
	struct room r;
	struct mx_auth_key k[MX_AUTH_KEYS_MAX];
	room_new(&r, "10", "restricted");

	json_t *e = ev(&r, "m.room.message", BOB, NULL, "{}");
	size_t n = mx_auth_event_types(r.v, e, k, MX_AUTH_KEYS_MAX);
	assert_int_equal(n, 3);
	assert_string_equal(k[0].type, "m.room.create");
	assert_string_equal(k[0].state_key, "");
	assert_string_equal(k[1].type, "m.room.power_levels");
	assert_string_equal(k[2].type, "m.room.member");
	assert_string_equal(k[2].state_key, BOB);
	json_decref(e);

	/* A join for oneself: sender == target once; join rules; authoriser. */
	e = ev(&r, "m.room.member", CAROL, CAROL,
	       "{'membership': 'join', 'join_authorised_via_users_server': '" BOB "'}");
	n = mx_auth_event_types(r.v, e, k, MX_AUTH_KEYS_MAX);
	assert_int_equal(n, 5);
	assert_string_equal(k[3].type, "m.room.join_rules");
	assert_string_equal(k[4].state_key, BOB);
	/* max truncates */
	assert_int_equal(mx_auth_event_types(r.v, e, k, 2), 2);
	assert_int_equal(mx_auth_event_types(r.v, e, k, 0), 0);
	json_decref(e);

	/* Third party invite */
	e = ev(&r, "m.room.member", ALICE, CAROL,
	       "{'membership': 'invite', 'third_party_invite': {'signed': {'token': 'abc'}}}");
	n = mx_auth_event_types(r.v, e, k, MX_AUTH_KEYS_MAX);
	assert_int_equal(n, 6);
	assert_string_equal(k[3].state_key, CAROL);
	assert_string_equal(k[5].type, "m.room.third_party_invite");
	assert_string_equal(k[5].state_key, "abc");
	json_decref(e);

	/* Leave / ban: no join rules */
	e = member(&r, ALICE, CAROL, "ban");
	assert_int_equal(mx_auth_event_types(r.v, e, k, MX_AUTH_KEYS_MAX), 4);
	json_decref(e);

	/* The create event needs none */
	e = default_create(&r);
	assert_int_equal(mx_auth_event_types(r.v, e, k, MX_AUTH_KEYS_MAX), 0);
	json_decref(e);
	room_release(&r);

	/* v7: no authorising user before restricted rooms */
	room_new(&r, "7", "invite");
	e = ev(&r, "m.room.member", CAROL, CAROL,
	       "{'membership': 'join', 'join_authorised_via_users_server': '" BOB "'}");
	assert_int_equal(mx_auth_event_types(r.v, e, k, MX_AUTH_KEYS_MAX), 4);
	json_decref(e);
	room_release(&r);
}

/* SPEC: rooms/v1#authorization-rules rule 2.5: auth events from another room */
static void test_foreign_state(void **state)
{
	(void)state;
	struct room r;
	room_new(&r, "6", "public");
	json_t *pl = ev(&r, "m.room.power_levels", ALICE, "", "{'users': {'" BOB "': 100}}");
	json_object_set_new(pl, "room_id", json_string("!other:a.test"));
	force(&r, pl);
	force_member(&r, BOB, "join");
	NO(&r, ev(&r, "m.room.name", BOB, "", "{}"));
	NO(&r, ev(&r, "m.room.message", BOB, NULL, "{}"));
	room_release(&r);
}

/* Hostile input: every field missing or of the wrong type. */
static void test_hostile(void **state)
{
	(void)state;
	struct room r;
	const char *why = NULL;
	const char *bad[] = {
		"[]", "null", "{}", "{'type': 5}", "{'type': 'm.room.message'}",
		"{'type': 'm.room.message', 'sender': ['x']}",
		"{'type': 'm.room.message', 'sender': '" ALICE "', 'room_id': '!room:a.test'}",
		"{'type': 'm.room.message', 'sender': '" ALICE "', 'room_id': '!room:a.test', 'content': []}",
		"{'type': 'm.room.message', 'sender': '" ALICE "', 'room_id': 5, 'content': {}}",
		"{'type': 'm.room.name', 'sender': '" ALICE "', 'room_id': '!room:a.test', 'content': {}, 'state_key': 1}",
		"{'type': 'm.room.member', 'sender': '" ALICE "', 'room_id': '!room:a.test', 'content': {}, 'state_key': '" BOB "'}",
		"{'type': 'm.room.member', 'sender': '" ALICE "', 'room_id': '!room:a.test', 'content': {'membership': 'join'}}",
		"{'type': 'm.room.member', 'sender': '" ALICE "', 'room_id': '!room:a.test', 'content': {'membership': 5}, 'state_key': '" ALICE "'}",
		"{'type': 'm.room.member', 'sender': '" ALICE "', 'room_id': '!room:a.test', 'content': {'membership': 'dance'}, 'state_key': '" ALICE "'}",
		"{'type': 'm.room.create', 'sender': '" ALICE "', 'state_key': '', 'content': {'creator': 1}, 'prev_events': {}}",
		"{'type': 'm.room.create', 'sender': 'nocolon', 'room_id': '!room:a.test', 'state_key': '', 'content': {'creator': 1}}",
		"{'type': 'm.room.create', 'sender': '" ALICE "', 'room_id': '!room:a.test', 'state_key': '', 'content': {'creator': 1}, 'prev_events': null}",
		"{'type': 'm.room.power_levels', 'sender': '" ALICE "', 'room_id': '!room:a.test', 'state_key': '', 'content': {'users': {'" ALICE "': 100}, 'events': 5}}",
		"{'type': 'm.room.power_levels', 'sender': '" ALICE "', 'room_id': '!room:a.test', 'state_key': '', 'content': {'users': {'" ALICE "': 100}, 'notifications': 'x'}}",
	};
	room_new(&r, "6", "public");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *e = J("%s", bad[i]);
		int rc = mx_auth_check(r.v, e, &r.st, &why);
		if (rc != MX_EFORBIDDEN)
			fail_msg("hostile #%zu allowed: %s", i, bad[i]);
		assert_non_null(why);
		json_decref(e);
	}
	/* NULLs */
	assert_int_equal(mx_auth_check(NULL, NULL, NULL, &why), MX_EINVALID);
	json_t *e = member(&r, ALICE, ALICE, "leave");
	assert_int_equal(mx_auth_check(r.v, e, NULL, NULL), MX_EFORBIDDEN);
	struct mx_auth_state none = {0};
	assert_int_equal(mx_auth_check(r.v, e, &none, &why), MX_EFORBIDDEN);
	assert_int_equal(mx_auth_event_types(r.v, NULL, NULL, 3), 0);
	json_decref(e);

	/* Garbage state: not-objects, wrong content types. */
	force(&r, J("{'type': 'm.room.member', 'state_key': '" BOB "', 'content': 'join', 'room_id': '!room:a.test'}"));
	NO(&r, ev(&r, "m.room.message", BOB, NULL, "{}"));
	json_object_set_new(json_object_get(r.state, "m.room.member"), CAROL, json_string("join"));
	NO(&r, ev(&r, "m.room.message", CAROL, NULL, "{}"));
	force_pl(&r, "{'users': 'everyone', 'events': []}");
	NO(&r, ev(&r, "m.room.message", ALICE, NULL, "{}"));
	NO(&r, ev(&r, "m.room.power_levels", ALICE, "", "{'users': {}}"));
	force_pl(&r, "{'users': {'" ALICE "': 100}, 'ban': 'lots'}");
	force_member(&r, BOB, "join");
	NO(&r, member(&r, ALICE, BOB, "ban"));  /* unreadable ban level: fail safe */
	OK(&r, member(&r, ALICE, BOB, "leave"));
	json_t *odd = J("{'content': {'events': 3, 'events_default': 'x'}}");
	assert_int_equal(mx_auth_event_power(r.v, odd, "m.x", false), 0);
	json_decref(odd);
	room_release(&r);
}

/* SPEC: client-server-api#mroompower_levels: defaults */
static void test_power_helpers(void **state)
{
	(void)state;
	const struct mx_room_version *v = mx_room_version_get("6");
	json_t *pl = J("{'type': 'm.room.power_levels', 'content': {'users': {'" BOB "': 75}, "
		       "'users_default': 5, 'events': {'m.room.name': 20}}}");
	assert_int_equal(mx_auth_user_power(v, pl, NULL, BOB), 75);
	assert_int_equal(mx_auth_user_power(v, pl, NULL, CAROL), 5);
	assert_int_equal(mx_auth_event_power(v, pl, "m.room.name", true), 20);
	assert_int_equal(mx_auth_event_power(v, pl, "m.room.topic", true), 50);
	assert_int_equal(mx_auth_event_power(v, pl, "m.room.message", false), 0);
	assert_int_equal(mx_auth_event_power(v, NULL, "m.room.topic", true), 50);
	assert_int_equal(mx_auth_event_power(v, NULL, "m.room.message", false), 0);
	assert_int_equal(mx_auth_user_power(v, NULL, NULL, BOB), 0);
	assert_int_equal(mx_auth_user_power(NULL, pl, NULL, BOB), 0);
	assert_false(mx_auth_is_creator(v, NULL, BOB));
	json_decref(pl);
	/* Stringy edge cases (v1): whitespace, sign, leading zeroes, int64 edges. */
	v = mx_room_version_get("1");
	pl = J("{'content': {'users': {'@a:x': ' -0042\\t', '@b:x': '+9223372036854775807', "
	       "'@c:x': '-9223372036854775808', '@d:x': '9223372036854775808', '@e:x': '4 2'}, 'users_default': 1}}");
	assert_int_equal(mx_auth_user_power(v, pl, NULL, "@a:x"), -42);
	assert_int_equal(mx_auth_user_power(v, pl, NULL, "@b:x"), INT64_MAX);
	assert_true(mx_auth_user_power(v, pl, NULL, "@c:x") == INT64_MIN);
	assert_int_equal(mx_auth_user_power(v, pl, NULL, "@d:x"), 1); /* unreadable: users_default */
	assert_int_equal(mx_auth_user_power(v, pl, NULL, "@e:x"), 1);
	v = mx_room_version_get("10");
	assert_int_equal(mx_auth_user_power(v, pl, NULL, "@a:x"), 1);
	json_decref(pl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_create_v12),
		cmocka_unit_test(test_join_before_and_after_create),
		cmocka_unit_test(test_join_rules),
		cmocka_unit_test(test_invite),
		cmocka_unit_test(test_kick_ban),
		cmocka_unit_test(test_ban_unban_leave),
		cmocka_unit_test(test_knock),
		cmocka_unit_test(test_restricted),
		cmocka_unit_test(test_power_level_changes),
		cmocka_unit_test(test_power_level_types),
		cmocka_unit_test(test_notifications),
		cmocka_unit_test(test_send_levels),
		cmocka_unit_test(test_redaction),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_federate),
		cmocka_unit_test(test_third_party_invite),
		cmocka_unit_test(test_v11_creator),
		cmocka_unit_test(test_v12_creators),
		cmocka_unit_test(test_event_types),
		cmocka_unit_test(test_foreign_state),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_power_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
