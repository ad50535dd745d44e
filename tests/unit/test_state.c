/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for src/state: the state map, and state resolution v1, v2 and
 * v2.1 on hand-built forked event graphs. Each resolution case names the
 * spec section it exercises; the graphs are built for room versions 10
 * (v2), 12 (v2.1), 2 (v2 with [id, hashes] auth pairs) and 1 (v1), and the
 * v2.1 cases also run the v12 graph under v2 to show what changed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "core/rand.h"
#include "event/version.h"
#include "state/map.h"
#include "state/resolve.h"

/* --- the state map ------------------------------------------------------ */

static void test_map_basic(void **unused)
{
	(void)unused;
	struct mx_state_map *m = mx_state_map_new();
	assert_int_equal(mx_state_map_count(m), 0);
	assert_null(mx_state_map_get(m, "m.room.create", ""));
	assert_false(mx_state_map_remove(m, "m.room.create", ""));

	mx_state_map_set(m, "m.room.create", "", "$c");
	mx_state_map_set(m, "m.room.member", "@a:x", "$ma");
	mx_state_map_set(m, "m.room.member", "@b:x", "$mb");
	assert_int_equal(mx_state_map_count(m), 3);
	assert_string_equal(mx_state_map_get(m, "m.room.member", "@a:x"), "$ma");
	/* (type, state_key) is the key: neither part alone. */
	assert_null(mx_state_map_get(m, "m.room.member", ""));
	assert_null(mx_state_map_get(m, "m.room.memberx", "@a:x"));
	/* Type and state key are not concatenated ambiguously. */
	mx_state_map_set(m, "ab", "c", "$1");
	mx_state_map_set(m, "a", "bc", "$2");
	assert_string_equal(mx_state_map_get(m, "ab", "c"), "$1");
	assert_string_equal(mx_state_map_get(m, "a", "bc"), "$2");

	/* Replacing keeps the place in the iteration order. */
	mx_state_map_set(m, "m.room.create", "", "$c2");
	assert_string_equal(mx_state_map_get(m, "m.room.create", ""), "$c2");
	size_t it = 0;
	const char *t, *k, *id;
	assert_true(mx_state_map_next(m, &it, &t, &k, &id));
	assert_string_equal(t, "m.room.create");
	assert_string_equal(k, "");
	assert_string_equal(id, "$c2");

	assert_true(mx_state_map_remove(m, "m.room.member", "@a:x"));
	assert_false(mx_state_map_remove(m, "m.room.member", "@a:x"));
	assert_null(mx_state_map_get(m, "m.room.member", "@a:x"));
	assert_int_equal(mx_state_map_count(m), 4);

	/* Iteration: insertion order, holes skipped. */
	const char *want[] = {"$c2", "$mb", "$1", "$2"};
	it = 0;
	size_t n = 0;
	while (mx_state_map_next(m, &it, NULL, NULL, &id))
		assert_string_equal(id, want[n++]);
	assert_int_equal(n, 4);

	/* Sorted: by type, then state key, byte order. */
	mx_state_map_sort(m);
	const char *sorted[] = {"$2", "$1", "$c2", "$mb"};
	it = 0;
	n = 0;
	while (mx_state_map_next(m, &it, NULL, NULL, &id))
		assert_string_equal(id, sorted[n++]);
	assert_int_equal(n, 4);
	assert_string_equal(mx_state_map_get(m, "m.room.member", "@b:x"), "$mb");

	struct mx_state_map *c = mx_state_map_copy(m);
	assert_true(mx_state_map_equal(m, c));
	mx_state_map_set(c, "m.room.member", "@b:x", "$other");
	assert_false(mx_state_map_equal(m, c));
	mx_state_map_set(c, "m.room.member", "@b:x", "$mb");
	assert_true(mx_state_map_equal(m, c));
	mx_state_map_remove(c, "ab", "c");
	assert_false(mx_state_map_equal(m, c));
	assert_false(mx_state_map_equal(c, m));
	mx_state_map_free(c);
	mx_state_map_free(m);
	mx_state_map_free(NULL);
}

/* Many entries, removals and re-adds, checked against a plain array. */
static void test_map_many(void **unused)
{
	(void)unused;
	enum { N = 20000 };
	struct mx_state_map *m = mx_state_map_new();
	static char present[N];
	char key[32], val[32];

	memset(present, 0, sizeof(present));
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < N; i++) {
			snprintf(key, sizeof(key), "@u%d:x", i);
			if ((i * 7 + round) % 3 == 0) {
				assert_int_equal(mx_state_map_remove(m, "m.room.member", key), present[i]);
				present[i] = 0;
			} else {
				snprintf(val, sizeof(val), "$e%d_%d", i, round);
				mx_state_map_set(m, "m.room.member", key, val);
				present[i] = 1;
			}
		}
		size_t count = 0;
		for (int i = 0; i < N; i++) {
			snprintf(key, sizeof(key), "@u%d:x", i);
			const char *got = mx_state_map_get(m, "m.room.member", key);
			if (!present[i]) {
				assert_null(got);
				continue;
			}
			count++;
			snprintf(val, sizeof(val), "$e%d_%d", i, round);
			assert_non_null(got);
			assert_string_equal(got, val);
		}
		assert_int_equal(mx_state_map_count(m), count);
		size_t it = 0, seen = 0;
		while (mx_state_map_next(m, &it, NULL, NULL, NULL))
			seen++;
		assert_int_equal(seen, count);
	}
	struct mx_state_map *c = mx_state_map_copy(m);
	assert_true(mx_state_map_equal(c, m));
	mx_state_map_sort(c);
	assert_true(mx_state_map_equal(c, m));
	size_t it = 0;
	const char *prev = NULL, *k;
	while (mx_state_map_next(c, &it, NULL, &k, NULL)) {
		if (prev)
			assert_true(strcmp(prev, k) < 0);
		prev = k;
	}
	mx_state_map_free(c);
	mx_state_map_free(m);
}

/* --- building event graphs ----------------------------------------------- */

#define ALICE "@alice:a.test"
#define BOB "@bob:a.test"
#define CAROL "@carol:a.test"
#define DAVE "@dave:a.test"

struct dag {
	const struct mx_room_version *v;
	json_t *events; /* id -> PDU */
	json_t *names;  /* short name -> id */
	char room_id[96];
	int64_t ts;
	int64_t depth;
	size_t fetches;
};

static const char *ID(struct dag *d, const char *name)
{
	json_t *s = json_object_get(d->names, name);
	if (!s) {
		char *id = d->v->has_event_id_field ? mx_xasprintf("$%s:a.test", name)
						    : mx_xasprintf("$%s", name);
		json_object_set_new(d->names, name, json_string(id));
		free(id);
		s = json_object_get(d->names, name);
	}
	return json_string_value(s);
}

static json_t *ref(struct dag *d, const char *name)
{
	if (d->v->auth_events_are_pairs)
		return json_pack("[s,{s:s}]", ID(d, name), "sha256", "AAAA");
	return json_string(ID(d, name));
}

/*
 * Add event `name`. auth is a space-separated list of names, without the
 * create event: it is added for every version but v12. ts 0 means "the
 * next tick"; depth counts up (v1 orders by it; tests may override).
 */
static void add_full(struct dag *d, const char *name, const char *type, const char *state_key,
		     const char *sender, const char *content, const char *auth, int64_t ts,
		     int64_t depth)
{
	json_error_t err;
	json_t *c = json_loads(content, 0, &err);
	if (!c)
		fail_msg("bad test content %s: %s", content, err.text);
	json_t *ae = json_array(), *pe = json_array();
	bool is_create = !strcmp(type, "m.room.create");
	if (!is_create && d->v->create_in_auth_events)
		json_array_append_new(ae, ref(d, "C"));
	char *list = mx_xstrdup(auth), *save = NULL;
	for (char *tok = strtok_r(list, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		json_array_append_new(ae, ref(d, tok));
		json_array_append_new(pe, ref(d, tok));
	}
	free(list);
	if (is_create)
		json_array_clear(pe);
	else if (!json_array_size(pe))
		json_array_append_new(pe, ref(d, "C"));

	d->ts = ts ? ts : d->ts + 1;
	d->depth = depth ? depth : d->depth + 1;
	json_t *ev = json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:I,s:I,s:{s:s},s:{}}", "type", type,
			       "state_key", state_key, "sender", sender, "content", c,
			       "auth_events", ae, "prev_events", pe, "origin_server_ts",
			       (json_int_t)d->ts, "depth", (json_int_t)d->depth, "hashes", "sha256",
			       "AAAA", "signatures");
	assert_non_null(ev);
	if (!(is_create && d->v->room_id_from_create))
		json_object_set_new(ev, "room_id", json_string(d->room_id));
	if (d->v->has_event_id_field)
		json_object_set_new(ev, "event_id", json_string(ID(d, name)));
	json_object_set_new(d->events, ID(d, name), ev);
}

static void add(struct dag *d, const char *name, const char *type, const char *state_key,
		const char *sender, const char *content, const char *auth)
{
	add_full(d, name, type, state_key, sender, content, auth, 0, 0);
}

static void add_ts(struct dag *d, const char *name, const char *type, const char *state_key,
		   const char *sender, const char *content, const char *auth, int64_t ts)
{
	add_full(d, name, type, state_key, sender, content, auth, ts, 0);
}

/*
 * Power levels content: users (JSON object text) plus Alice at 100, except
 * in v12 where she is the creator and may not be listed; extra (JSON
 * object text) is merged in. Returns a string the caller frees.
 */
static char *pl(struct dag *d, const char *users, const char *extra)
{
	json_t *u = json_loads(users, 0, NULL), *c = json_loads(extra, 0, NULL);
	assert_non_null(u);
	assert_non_null(c);
	if (!d->v->room_id_from_create)
		json_object_set_new(u, ALICE, json_integer(100));
	json_object_set_new(c, "users", u);
	char *s = json_dumps(c, JSON_SORT_KEYS);
	json_decref(c);
	return s;
}

static void add_pl(struct dag *d, const char *name, const char *sender, const char *users,
		   const char *extra, const char *auth, int64_t ts)
{
	char *c = pl(d, users, extra);
	add_full(d, name, "m.room.power_levels", "", sender, c, auth, ts, 0);
	free(c);
}

static void dag_init(struct dag *d, const char *version)
{
	memset(d, 0, sizeof(*d));
	d->v = mx_room_version_get(version);
	assert_non_null(d->v);
	d->events = json_object();
	d->names = json_object();
	d->ts = 1000;
	if (d->v->room_id_from_create)
		snprintf(d->room_id, sizeof(d->room_id), "!%s", ID(d, "C") + 1);
	else
		snprintf(d->room_id, sizeof(d->room_id), "!room:a.test");
	char *content = d->v->create_has_creator
				? mx_xasprintf("{\"creator\":\"%s\",\"room_version\":\"%s\"}",
					       ALICE, version)
				: mx_xasprintf("{\"room_version\":\"%s\"}", version);
	add(d, "C", "m.room.create", "", ALICE, content, "");
	free(content);
	add(d, "JA", "m.room.member", ALICE, ALICE, "{\"membership\":\"join\"}", "");
}

static void dag_release(struct dag *d)
{
	json_decref(d->events);
	json_decref(d->names);
}

/*
 * The room most cases start from: Alice created it and is admin, power
 * levels PL0 (users: extra users_json), public join rules JR0, and Bob and
 * Carol joined.
 */
static void base_room(struct dag *d, const char *version, const char *users_json)
{
	dag_init(d, version);
	add_pl(d, "PL0", ALICE, users_json, "{}", "JA", 0);
	add(d, "JR0", "m.room.join_rules", "", ALICE, "{\"join_rule\":\"public\"}", "JA PL0");
	add(d, "JB", "m.room.member", BOB, BOB, "{\"membership\":\"join\"}", "PL0 JR0");
	add(d, "JC", "m.room.member", CAROL, CAROL, "{\"membership\":\"join\"}", "PL0 JR0");
}

static const json_t *dag_fetch(void *ctx, const char *id)
{
	struct dag *d = ctx;
	d->fetches++;
	return json_object_get(d->events, id);
}

/* A state map of the named events, keyed by their own type and state key. */
static struct mx_state_map *st(struct dag *d, const char *names)
{
	struct mx_state_map *m = mx_state_map_new();
	char *list = mx_xstrdup(names), *save = NULL;
	for (char *tok = strtok_r(list, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		const json_t *ev = json_object_get(d->events, ID(d, tok));
		if (!ev)
			fail_msg("no event %s", tok);
		mx_state_map_set(m, json_string_value(json_object_get(ev, "type")),
				 json_string_value(json_object_get(ev, "state_key")), ID(d, tok));
	}
	free(list);
	return m;
}

/*
 * Resolve the two named states under version v (NULL: the graph's own), in
 * both input orders, check both give the same map, and return it.
 */
static struct mx_state_map *resolve2v(struct dag *d, const struct mx_room_version *v,
				      const char *s1, const char *s2)
{
	struct mx_state_map *a = st(d, s1), *b = st(d, s2), *out1 = NULL, *out2 = NULL;
	struct mx_state_map *ab[] = {a, b}, *ba[] = {b, a};
	if (!v)
		v = d->v;
	assert_int_equal(mx_state_resolve(v, ab, 2, dag_fetch, d, &out1), 0);
	assert_int_equal(mx_state_resolve(v, ba, 2, dag_fetch, d, &out2), 0);
	assert_non_null(out1);
	assert_true(mx_state_map_equal(out1, out2));
	/* The output is sorted. */
	size_t it = 0;
	const char *pt = NULL, *pk = NULL, *t, *k;
	while (mx_state_map_next(out1, &it, &t, &k, NULL)) {
		if (pt)
			assert_true(strcmp(pt, t) < 0 || (!strcmp(pt, t) && strcmp(pk, k) < 0));
		pt = t;
		pk = k;
	}
	mx_state_map_free(out2);
	mx_state_map_free(a);
	mx_state_map_free(b);
	return out1;
}

static struct mx_state_map *resolve2(struct dag *d, const char *s1, const char *s2)
{
	return resolve2v(d, NULL, s1, s2);
}

/* The resolved state has event `name` (NULL: nothing) at (type, state_key). */
static void expect(struct dag *d, const struct mx_state_map *m, const char *type,
		   const char *state_key, const char *name)
{
	const char *got = mx_state_map_get(m, type, state_key);
	if (!name) {
		if (got)
			fail_msg("%s/%s: expected nothing, got %s", type, state_key, got);
		return;
	}
	if (!got)
		fail_msg("%s/%s: expected %s, got nothing", type, state_key, ID(d, name));
	if (strcmp(got, ID(d, name)))
		fail_msg("%s/%s: expected %s, got %s", type, state_key, ID(d, name), got);
}

/* v12's table row with state resolution v2: the same graph, the older algorithm. */
static struct mx_room_version v12_as_v2(void)
{
	struct mx_room_version v = *mx_room_version_get("12");
	v.state_res = MX_STATE_RES_V2;
	return v;
}

/* --- v2 / v2.1 ------------------------------------------------------------ */

/*
 * SPEC: rooms/v2#definitions (unconflicted state map): states that agree
 * resolve to themselves without a single event fetched. Also the 0- and
 * 1-state edge cases.
 */
static void no_conflict(const char *version)
{
	struct dag d;
	base_room(&d, version, "{\"" BOB "\":50}");
	add(&d, "T", "m.room.topic", "", BOB, "{\"topic\":\"hi\"}", "PL0 JB");
	struct mx_state_map *a = st(&d, "C JA PL0 JR0 JB JC T"), *b = st(&d, "T JC JB JR0 PL0 JA C");
	struct mx_state_map *both[] = {a, b}, *out = NULL;
	assert_int_equal(mx_state_resolve(d.v, both, 2, dag_fetch, &d, &out), 0);
	assert_true(mx_state_map_equal(out, a));
	assert_int_equal(d.fetches, 0);
	mx_state_map_free(out);

	assert_int_equal(mx_state_resolve(d.v, both, 1, dag_fetch, &d, &out), 0);
	assert_true(mx_state_map_equal(out, a));
	mx_state_map_free(out);
	assert_int_equal(mx_state_resolve(d.v, NULL, 0, dag_fetch, &d, &out), 0);
	assert_int_equal(mx_state_map_count(out), 0);
	mx_state_map_free(out);
	assert_int_equal(mx_state_resolve(NULL, both, 2, dag_fetch, &d, &out), MX_EINVALID);
	assert_null(out);

	mx_state_map_free(a);
	mx_state_map_free(b);
	dag_release(&d);
}

static void test_no_conflict_v10(void **unused)
{
	(void)unused;
	no_conflict("10");
}

static void test_no_conflict_v12(void **unused)
{
	(void)unused;
	no_conflict("12");
}

static void test_no_conflict_v1(void **unused)
{
	(void)unused;
	no_conflict("1");
}

/*
 * SPEC: rooms/v2#definitions (reverse topological power ordering) and
 * #algorithm steps 1-2: Alice demotes Bob while Bob, concurrently and
 * earlier by the clock, grants Carol power. Alice's change sorts first on
 * power level, so Bob's is re-authorised after his demotion and fails.
 */
static void power_race(const char *version)
{
	struct dag d;
	base_room(&d, version, "{\"" BOB "\":50}");
	add_pl(&d, "PLa", ALICE, "{}", "{}", "JA PL0", 5000);
	add_pl(&d, "PLb", BOB, "{\"" BOB "\":50,\"" CAROL "\":50}", "{}", "JB PL0", 2000);
	struct mx_state_map *r = resolve2(&d, "C JA PL0 JR0 JB JC", "C JA PLa JR0 JB JC");
	/* One side only: with just PLa conflicted against PL0. */
	expect(&d, r, "m.room.power_levels", "", "PLa");
	mx_state_map_free(r);
	r = resolve2(&d, "C JA PLa JR0 JB JC", "C JA PLb JR0 JB JC");
	expect(&d, r, "m.room.power_levels", "", "PLa");
	expect(&d, r, "m.room.member", BOB, "JB");
	mx_state_map_free(r);
	dag_release(&d);
}

/*
 * SPEC: rooms/v2#definitions, reverse topological power ordering, rule 1
 * before rule 2: Alice lowers the ban level while Bob, earlier by the
 * clock, promotes Carol. Both stay valid whatever the order, so the one
 * applied last wins: Bob's, because Alice's higher power sorts hers first.
 */
static void power_order(const char *version)
{
	struct dag d;
	base_room(&d, version, "{\"" BOB "\":50}");
	add_pl(&d, "PLa", ALICE, "{\"" BOB "\":50}", "{\"ban\":40}", "JA PL0", 5000);
	add_pl(&d, "PLb", BOB, "{\"" BOB "\":50,\"" CAROL "\":50}", "{}", "JB PL0", 2000);
	struct mx_state_map *r = resolve2(&d, "C JA PLa JR0 JB JC", "C JA PLb JR0 JB JC");
	expect(&d, r, "m.room.power_levels", "", "PLb");
	mx_state_map_free(r);
	dag_release(&d);
}

static void test_power_race_v10(void **unused)
{
	(void)unused;
	power_race("10");
	power_order("10");
}

static void test_power_race_v12(void **unused)
{
	(void)unused;
	power_race("12");
	power_order("12");
}

/* The same race with [id, hashes] auth pairs (room v2: v1 event format). */
static void test_power_race_v2_pairs(void **unused)
{
	(void)unused;
	power_race("2");
}

/*
 * SPEC: rooms/v2#definitions (power events: a ban by another user) and
 * #algorithm step 2: Alice bans Bob while Bob, concurrently, changes the
 * power levels. The ban is a power event by the more powerful sender, so
 * it is applied first; Bob's change then fails (he is no longer joined).
 * The ban by the still-powered admin stands.
 */
static void ban_race(const char *version)
{
	struct dag d;
	base_room(&d, version, "{\"" BOB "\":50}");
	add_ts(&d, "BanB", "m.room.member", BOB, ALICE, "{\"membership\":\"ban\"}", "JA PL0 JB",
	       5000);
	add_pl(&d, "PLb", BOB, "{\"" BOB "\":50,\"" CAROL "\":50}", "{}", "JB PL0", 4000);
	struct mx_state_map *r = resolve2(&d, "C JA PL0 JR0 BanB JC", "C JA PLb JR0 JB JC");
	expect(&d, r, "m.room.member", BOB, "BanB");
	expect(&d, r, "m.room.power_levels", "", "PL0");
	expect(&d, r, "m.room.member", CAROL, "JC");
	mx_state_map_free(r);
	dag_release(&d);
}

static void test_ban_race_v10(void **unused)
{
	(void)unused;
	ban_race("10");
}

static void test_ban_race_v12(void **unused)
{
	(void)unused;
	ban_race("12");
}

static void test_ban_race_v2_pairs(void **unused)
{
	(void)unused;
	ban_race("2");
}

/*
 * SPEC: rooms/v2#algorithm steps 1-4: Alice makes the room invite-only
 * while Dave joins under the old public rule. The join rules are a power
 * event and resolve first; Dave's join is not, and fails against them.
 */
static void join_rules_race(const char *version)
{
	struct dag d;
	base_room(&d, version, "{}");
	add(&d, "JRi", "m.room.join_rules", "", ALICE, "{\"join_rule\":\"invite\"}", "JA PL0");
	add(&d, "JD", "m.room.member", DAVE, DAVE, "{\"membership\":\"join\"}", "PL0 JR0");
	struct mx_state_map *r = resolve2(&d, "C JA PL0 JRi JB JC", "C JA PL0 JR0 JB JC JD");
	expect(&d, r, "m.room.join_rules", "", "JRi");
	expect(&d, r, "m.room.member", DAVE, NULL);
	expect(&d, r, "m.room.member", BOB, "JB");
	mx_state_map_free(r);
	dag_release(&d);
}

static void test_join_rules_race_v10(void **unused)
{
	(void)unused;
	join_rules_race("10");
}

static void test_join_rules_race_v12(void **unused)
{
	(void)unused;
	join_rules_race("12");
}

/*
 * SPEC: rooms/v2#definitions (mainline ordering) and #algorithm steps 3-4:
 * Carol's topic cites the newer power levels PL1, Bob's the older PL0. Bob's
 * sorts first on mainline position though its timestamp is later, so
 * Carol's is applied last and wins.
 */
static void topic_mainline(const char *version)
{
	struct dag d;
	base_room(&d, version, "{\"" BOB "\":50}");
	add_pl(&d, "PL1", ALICE, "{\"" BOB "\":50,\"" CAROL "\":50}", "{}", "JA PL0", 0);
	add_ts(&d, "Ta", "m.room.topic", "", CAROL, "{\"topic\":\"a\"}", "PL1 JC", 3000);
	add_ts(&d, "Tb", "m.room.topic", "", BOB, "{\"topic\":\"b\"}", "PL0 JB", 9000);
	struct mx_state_map *r = resolve2(&d, "C JA PL1 JR0 JB JC Ta", "C JA PL0 JR0 JB JC Tb");
	expect(&d, r, "m.room.power_levels", "", "PL1");
	expect(&d, r, "m.room.topic", "", "Ta");
	mx_state_map_free(r);
	dag_release(&d);
}

static void test_topic_mainline_v10(void **unused)
{
	(void)unused;
	topic_mainline("10");
}

static void test_topic_mainline_v12(void **unused)
{
	(void)unused;
	topic_mainline("12");
}

/*
 * SPEC: rooms/v2#definitions, reverse topological power ordering, ties:
 * Bob and Carol have equal power and both change the power levels (each
 * allowed after the other). The later in the order is applied last and
 * wins: origin_server_ts decides, then event_id.
 */
static void power_ties(const char *version, const char *na, int64_t tsa, const char *nb,
		       int64_t tsb, const char *winner)
{
	struct dag d;
	base_room(&d, version, "{\"" BOB "\":100,\"" CAROL "\":100}");
	add_pl(&d, na, BOB, "{\"" BOB "\":100,\"" CAROL "\":100}", "{\"kick\":60}", "JB PL0", tsa);
	add_pl(&d, nb, CAROL, "{\"" BOB "\":100,\"" CAROL "\":100}", "{\"kick\":70}", "JC PL0",
	       tsb);
	char s1[64], s2[64];
	snprintf(s1, sizeof(s1), "C JA %s JR0 JB JC", na);
	snprintf(s2, sizeof(s2), "C JA %s JR0 JB JC", nb);
	struct mx_state_map *r = resolve2(&d, s1, s2);
	expect(&d, r, "m.room.power_levels", "", winner);
	mx_state_map_free(r);
	dag_release(&d);
}

static void test_power_ties(void **unused)
{
	(void)unused;
	const char *vs[] = {"10", "12"};
	for (size_t i = 0; i < 2; i++) {
		/* Timestamps first: "aa" sorts first by id but last by ts. */
		power_ties(vs[i], "aa", 8000, "zz", 7000, "aa");
		power_ties(vs[i], "zz", 7000, "aa", 8000, "aa");
		/* Equal timestamps: event id. */
		power_ties(vs[i], "aa", 7000, "zz", 7000, "zz");
		power_ties(vs[i], "zz", 7000, "aa", 7000, "zz");
	}
}

/*
 * SPEC: rooms/v2#definitions, mainline ordering, ties: two topics on the
 * same mainline position sort by origin_server_ts, then event_id.
 */
static void mainline_ties(const char *version, const char *na, int64_t tsa, const char *nb,
			  int64_t tsb, const char *winner)
{
	struct dag d;
	base_room(&d, version, "{\"" BOB "\":50,\"" CAROL "\":50}");
	add_ts(&d, na, "m.room.topic", "", BOB, "{\"topic\":\"a\"}", "PL0 JB", tsa);
	add_ts(&d, nb, "m.room.topic", "", CAROL, "{\"topic\":\"b\"}", "PL0 JC", tsb);
	char s1[64], s2[64];
	snprintf(s1, sizeof(s1), "C JA PL0 JR0 JB JC %s", na);
	snprintf(s2, sizeof(s2), "C JA PL0 JR0 JB JC %s", nb);
	struct mx_state_map *r = resolve2(&d, s1, s2);
	expect(&d, r, "m.room.topic", "", winner);
	mx_state_map_free(r);
	dag_release(&d);
}

static void test_mainline_ties(void **unused)
{
	(void)unused;
	const char *vs[] = {"10", "12"};
	for (size_t i = 0; i < 2; i++) {
		mainline_ties(vs[i], "aa", 8000, "zz", 7000, "aa");
		mainline_ties(vs[i], "zz", 7000, "aa", 8000, "aa");
		mainline_ties(vs[i], "aa", 7000, "zz", 7000, "zz");
		mainline_ties(vs[i], "zz", 7000, "aa", 7000, "zz");
	}
}

/*
 * SPEC: rooms/v2#definitions (iterative auth checks: "if the state event
 * is not allowed ... the event is ignored"): Carol (power 0) has a topic
 * and a power levels change in one state (say, from a bad /state answer).
 * Both fail auth during resolution and drop out: the other state's value
 * wins, or the key is left empty.
 */
static void rejected_dropped(const char *version)
{
	struct dag d;
	base_room(&d, version, "{}");
	add(&d, "Tbad", "m.room.topic", "", CAROL, "{\"topic\":\"spam\"}", "PL0 JC");
	add(&d, "Tok", "m.room.topic", "", ALICE, "{\"topic\":\"ok\"}", "PL0 JA");
	add_pl(&d, "PLbad", CAROL, "{\"" CAROL "\":100}", "{}", "JC PL0", 0);
	struct mx_state_map *r = resolve2(&d, "C JA PL0 JR0 JB JC Tok", "C JA PLbad JR0 JB JC Tbad");
	expect(&d, r, "m.room.topic", "", "Tok");
	expect(&d, r, "m.room.power_levels", "", "PL0");
	mx_state_map_free(r);
	r = resolve2(&d, "C JA PL0 JR0 JB JC", "C JA PL0 JR0 JB JC Tbad");
	expect(&d, r, "m.room.topic", "", NULL);
	mx_state_map_free(r);
	dag_release(&d);
}

static void test_rejected_dropped_v10(void **unused)
{
	(void)unused;
	rejected_dropped("10");
}

static void test_rejected_dropped_v12(void **unused)
{
	(void)unused;
	rejected_dropped("12");
}

/*
 * An event the fetcher does not know (or refuses, like a rejected one) is
 * left out of the conflicted set; a known one still resolves.
 */
static void test_unknown_event(void **unused)
{
	(void)unused;
	struct dag d;
	base_room(&d, "10", "{}");
	add(&d, "Tok", "m.room.topic", "", ALICE, "{\"topic\":\"ok\"}", "PL0 JA");
	struct mx_state_map *a = st(&d, "C JA PL0 JR0 JB JC Tok"), *b = st(&d, "C JA PL0 JR0 JB JC");
	mx_state_map_set(b, "m.room.topic", "", "$nowhere");
	mx_state_map_set(b, "m.room.name", "", "$nowhere2");
	struct mx_state_map *both[] = {a, b}, *out = NULL;
	assert_int_equal(mx_state_resolve(d.v, both, 2, dag_fetch, &d, &out), 0);
	expect(&d, out, "m.room.topic", "", "Tok");
	assert_null(mx_state_map_get(out, "m.room.name", ""));
	mx_state_map_free(out);
	mx_state_map_free(a);
	mx_state_map_free(b);
	dag_release(&d);
}

/*
 * SPEC: rooms/v12#state-resolution, change 1 (iterative auth checks start
 * from an empty state; MSC4297 "Problem A"). One state carries an outdated
 * join rules event JR1; both agree that Alice, who set both join rules,
 * has since left. v2 replays JR1 and JR2 over the unconflicted state, in
 * which Alice is gone, so both fail and the room loses its join rules.
 * v2.1 replays them over their own auth events, and JR2 stands.
 */
static void problem_a(struct dag *d, const char *version)
{
	dag_init(d, version);
	add_pl(d, "PL0", ALICE, "{}", "{}", "JA", 0);
	add(d, "JR1", "m.room.join_rules", "", ALICE, "{\"join_rule\":\"public\"}", "JA PL0");
	add(d, "JB", "m.room.member", BOB, BOB, "{\"membership\":\"join\"}", "PL0 JR1");
	add(d, "JR2", "m.room.join_rules", "", ALICE, "{\"join_rule\":\"invite\"}", "JA PL0");
	add(d, "LA", "m.room.member", ALICE, ALICE, "{\"membership\":\"leave\"}", "JA PL0");
}

static void test_v21_empty_initial_state(void **unused)
{
	(void)unused;
	struct dag d;
	const char *s1 = "C LA PL0 JR2 JB", *s2 = "C LA PL0 JR1 JB";

	problem_a(&d, "12");
	struct mx_state_map *r = resolve2(&d, s1, s2);
	expect(&d, r, "m.room.join_rules", "", "JR2");
	expect(&d, r, "m.room.member", ALICE, "LA"); /* unconflicted state still wins */
	mx_state_map_free(r);

	struct mx_room_version v2 = v12_as_v2();
	r = resolve2v(&d, &v2, s1, s2);
	expect(&d, r, "m.room.join_rules", "", NULL);
	expect(&d, r, "m.room.member", ALICE, "LA");
	mx_state_map_free(r);
	dag_release(&d);

	problem_a(&d, "10");
	r = resolve2(&d, s1, s2);
	expect(&d, r, "m.room.join_rules", "", NULL);
	mx_state_map_free(r);
	dag_release(&d);
}

/*
 * SPEC: rooms/v12#definitions, conflicted state subgraph (MSC4297
 * "Problem B"). Alice makes Bob a moderator (PL1), Bob makes Carol one
 * (PL2), Carol sets a topic. One state carries the outdated PL0. Both
 * states' auth chains hold PL1, so it is not in the auth difference: v2
 * replays PL0 and PL2 alone, and PL2 fails (Bob has no power in PL0). v2.1
 * adds PL1, on the path PL2 -> PL1 -> PL0, and PL2 stands.
 */
static void problem_b(struct dag *d, const char *version)
{
	base_room(d, version, "{}");
	add_pl(d, "PL1", ALICE, "{\"" BOB "\":50}", "{}", "JA PL0", 0);
	add_pl(d, "PL2", BOB, "{\"" BOB "\":50,\"" CAROL "\":50}", "{}", "JB PL1", 0);
	add(d, "T", "m.room.topic", "", CAROL, "{\"topic\":\"t\"}", "PL2 JC");
}

static void test_v21_conflicted_subgraph(void **unused)
{
	(void)unused;
	struct dag d;
	const char *s1 = "C JA JR0 JB JC PL2 T", *s2 = "C JA JR0 JB JC PL0 T";

	problem_b(&d, "12");
	struct mx_state_map *r = resolve2(&d, s1, s2);
	expect(&d, r, "m.room.power_levels", "", "PL2");
	expect(&d, r, "m.room.topic", "", "T");
	mx_state_map_free(r);

	struct mx_room_version v2 = v12_as_v2();
	r = resolve2v(&d, &v2, s1, s2);
	expect(&d, r, "m.room.power_levels", "", "PL0");
	mx_state_map_free(r);
	dag_release(&d);

	problem_b(&d, "10");
	r = resolve2(&d, s1, s2);
	expect(&d, r, "m.room.power_levels", "", "PL0");
	mx_state_map_free(r);
	dag_release(&d);
}

/*
 * SPEC: rooms/v2#definitions (power events: a kick is a leave sent by
 * another user) and #algorithm: in an invite-only room Alice kicks Bob
 * while Bob, concurrently and earlier, changes his display name. The kick
 * resolves first as a power event; Bob's change is a join by a user who is
 * no longer in the room, which invite-only rooms refuse, so the kick stands.
 */
static void test_kick_vs_profile_change(void **unused)
{
	(void)unused;
	const char *vs[] = {"10", "12", "2"};
	for (size_t i = 0; i < MX_ARRAY_LEN(vs); i++) {
		struct dag d;
		base_room(&d, vs[i], "{}");
		add(&d, "JRi", "m.room.join_rules", "", ALICE, "{\"join_rule\":\"invite\"}", "JA PL0");
		add_ts(&d, "K", "m.room.member", BOB, ALICE, "{\"membership\":\"leave\"}",
		       "JA PL0 JB", 9000);
		add_ts(&d, "M2", "m.room.member", BOB, BOB,
		       "{\"membership\":\"join\",\"displayname\":\"B\"}", "PL0 JRi JB", 8000);
		struct mx_state_map *r = resolve2(&d, "C JA PL0 JRi K JC", "C JA PL0 JRi M2 JC");
		expect(&d, r, "m.room.member", BOB, "K");
		mx_state_map_free(r);
		dag_release(&d);
	}
}

/*
 * SPEC: rooms/v2#definitions, auth difference: Alice banned then unbanned
 * Carol on one side; the other side still has Carol's old join. The ban is
 * no state of either side, but it is in one side's auth chains only, so it
 * is replayed: join, ban, unban, and Carol ends up out of the room. Without
 * it the unban would apply first and the old join after it.
 */
static void test_auth_difference(void **unused)
{
	(void)unused;
	const char *vs[] = {"10", "12", "2"};
	for (size_t i = 0; i < MX_ARRAY_LEN(vs); i++) {
		struct dag d;
		base_room(&d, vs[i], "{}");
		add(&d, "BanC", "m.room.member", CAROL, ALICE, "{\"membership\":\"ban\"}",
		    "JA PL0 JC");
		add(&d, "U", "m.room.member", CAROL, ALICE, "{\"membership\":\"leave\"}",
		    "JA PL0 BanC");
		struct mx_state_map *r = resolve2(&d, "C JA PL0 JR0 JB U", "C JA PL0 JR0 JB JC");
		expect(&d, r, "m.room.member", CAROL, "U");
		mx_state_map_free(r);
		dag_release(&d);
	}
}

/* The resolver gives up on graphs past MX_STATE_RES_MAX_EVENTS. */
struct chain {
	json_t *keep;
	char room[32];
};

static const json_t *chain_fetch(void *ctx, const char *id)
{
	struct chain *c = ctx;
	long k;
	char *end;
	if (!strcmp(id, "$m"))
		k = -1;
	else if (!strncmp(id, "$n", 2) && (k = strtol(id + 2, &end, 10)) >= 0 && !*end)
		;
	else
		return NULL;
	json_t *ae = json_array();
	if (k > 0) {
		char prev[32];
		snprintf(prev, sizeof(prev), "$n%ld", k - 1);
		json_array_append_new(ae, json_string(prev));
	}
	json_t *ev = json_pack("{s:s,s:s,s:s,s:s,s:o,s:{}}", "type", "m.room.topic", "state_key",
			       "", "sender", ALICE, "room_id", c->room, "auth_events", ae, "content");
	json_array_append_new(c->keep, ev);
	return ev;
}

static void test_limit(void **unused)
{
	(void)unused;
	struct chain c = {.keep = json_array()};
	snprintf(c.room, sizeof(c.room), "!room:a.test");
	char top[32];
	snprintf(top, sizeof(top), "$n%d", MX_STATE_RES_MAX_EVENTS + 10);
	struct mx_state_map *a = mx_state_map_new(), *b = mx_state_map_new(), *out = NULL;
	mx_state_map_set(a, "m.room.topic", "", top);
	mx_state_map_set(b, "m.room.topic", "", "$m");
	struct mx_state_map *both[] = {a, b};
	assert_int_equal(mx_state_resolve(mx_room_version_get("10"), both, 2, chain_fetch, &c, &out),
			 MX_ETOOLARGE);
	assert_null(out);
	/* A long chain under the limit is fine (and walked without recursion). */
	json_array_clear(c.keep);
	snprintf(top, sizeof(top), "$n%d", MX_STATE_RES_MAX_EVENTS - 10);
	mx_state_map_set(a, "m.room.topic", "", top);
	assert_int_equal(mx_state_resolve(mx_room_version_get("10"), both, 2, chain_fetch, &c, &out),
			 0);
	mx_state_map_free(out);
	mx_state_map_free(a);
	mx_state_map_free(b);
	json_decref(c.keep);
}

/* Events of another room in the graph are an error, not silently mixed in. */
static void test_wrong_room(void **unused)
{
	(void)unused;
	struct dag d;
	base_room(&d, "10", "{}");
	add(&d, "T1", "m.room.topic", "", ALICE, "{\"topic\":\"1\"}", "PL0 JA");
	add(&d, "T2", "m.room.topic", "", ALICE, "{\"topic\":\"2\"}", "PL0 JA");
	json_object_set_new(json_object_get(d.events, ID(&d, "T2")), "room_id",
			    json_string("!other:a.test"));
	struct mx_state_map *a = st(&d, "C JA PL0 T1"), *b = st(&d, "C JA PL0 T2"), *out = NULL;
	struct mx_state_map *both[] = {a, b};
	assert_int_equal(mx_state_resolve(d.v, both, 2, dag_fetch, &d, &out), MX_EINVALID);
	assert_null(out);
	mx_state_map_free(a);
	mx_state_map_free(b);
	dag_release(&d);
}

/* --- v1 --------------------------------------------------------------------- */

static void sha1(const char *s, unsigned char out[20])
{
	assert_int_equal(EVP_Digest(s, strlen(s), out, NULL, EVP_sha1(), NULL), 1);
}

/*
 * SPEC: rooms/v1#state-resolution: conflicting power levels are taken in
 * ascending depth, each kept while it passes auth: Alice's two changes
 * both pass, so the deeper one wins; at equal depth the smaller
 * sha1(event_id) comes last and wins. Bob's change, deeper still, fails
 * after Alice demoted him, so the walk stops before it.
 */
static void test_v1_power_levels(void **unused)
{
	(void)unused;
	struct dag d;
	base_room(&d, "1", "{\"" BOB "\":50}");
	add_full(&d, "PLa", "m.room.power_levels", "", ALICE, "{\"users\":{\"" ALICE "\":100},\"kick\":60}",
		 "JA PL0", 0, 10);
	add_full(&d, "PLa2", "m.room.power_levels", "", ALICE,
		 "{\"users\":{\"" ALICE "\":100},\"kick\":70}", "JA PLa", 0, 11);
	add_full(&d, "PLb", "m.room.power_levels", "", BOB,
		 "{\"users\":{\"" ALICE "\":100,\"" BOB "\":50,\"" CAROL "\":50}}", "JB PL0", 0, 12);
	struct mx_state_map *r = resolve2(&d, "C JA PLa JR0 JB JC", "C JA PLa2 JR0 JB JC");
	expect(&d, r, "m.room.power_levels", "", "PLa2");
	mx_state_map_free(r);
	r = resolve2(&d, "C JA PLa2 JR0 JB JC", "C JA PLb JR0 JB JC");
	expect(&d, r, "m.room.power_levels", "", "PLa2");
	mx_state_map_free(r);

	/* Equal depth: the smaller sha1 is applied last. */
	add_full(&d, "PLx", "m.room.power_levels", "", ALICE,
		 "{\"users\":{\"" ALICE "\":100},\"kick\":61}", "JA PL0", 0, 20);
	add_full(&d, "PLy", "m.room.power_levels", "", ALICE,
		 "{\"users\":{\"" ALICE "\":100},\"kick\":62}", "JA PL0", 0, 20);
	unsigned char hx[20], hy[20];
	sha1(ID(&d, "PLx"), hx);
	sha1(ID(&d, "PLy"), hy);
	r = resolve2(&d, "C JA PLx JR0 JB JC", "C JA PLy JR0 JB JC");
	expect(&d, r, "m.room.power_levels", "", memcmp(hx, hy, 20) < 0 ? "PLx" : "PLy");
	mx_state_map_free(r);
	dag_release(&d);
}

/*
 * SPEC: rooms/v1#state-resolution: other conflicts take the deepest event
 * that passes auth in R; a key one state lacks is no conflict in v1.
 */
static void test_v1_normal(void **unused)
{
	(void)unused;
	struct dag d;
	base_room(&d, "1", "{\"" BOB "\":50}");
	add_full(&d, "T1", "m.room.topic", "", ALICE, "{\"topic\":\"1\"}", "JA PL0", 0, 10);
	add_full(&d, "T2", "m.room.topic", "", CAROL, "{\"topic\":\"2\"}", "JC PL0", 0, 11);
	add_full(&d, "T3", "m.room.topic", "", BOB, "{\"topic\":\"3\"}", "JB PL0", 0, 12);
	struct mx_state_map *r = resolve2(&d, "C JA PL0 JR0 JB JC T1", "C JA PL0 JR0 JB JC T2");
	expect(&d, r, "m.room.topic", "", "T1"); /* Carol may not set it */
	mx_state_map_free(r);
	r = resolve2(&d, "C JA PL0 JR0 JB JC T1", "C JA PL0 JR0 JB JC T3");
	expect(&d, r, "m.room.topic", "", "T3");
	mx_state_map_free(r);
	r = resolve2(&d, "C JA PL0 JR0 JB JC T2", "C JA PL0 JR0 JB JC");
	expect(&d, r, "m.room.topic", "", "T2");
	mx_state_map_free(r);
	dag_release(&d);
}

/*
 * SPEC: rooms/v1#state-resolution: power levels resolve before members.
 * Alice demotes Bob (deeper) while Bob bans Carol; the ban is checked in R
 * after the power levels and fails, leaving Carol joined.
 */
static void test_v1_ban_after_demotion(void **unused)
{
	(void)unused;
	struct dag d;
	base_room(&d, "1", "{\"" BOB "\":50}");
	add_full(&d, "PLa", "m.room.power_levels", "", ALICE, "{\"users\":{\"" ALICE "\":100}}",
		 "JA PL0", 0, 10);
	add_full(&d, "BanC", "m.room.member", CAROL, BOB, "{\"membership\":\"ban\"}", "JB PL0 JC",
		 0, 11);
	struct mx_state_map *r = resolve2(&d, "C JA PLa JR0 JB JC", "C JA PL0 JR0 JB BanC");
	expect(&d, r, "m.room.power_levels", "", "PLa");
	/* Both candidates for Carol: JC (depth 7) first, then BanC, which fails. */
	expect(&d, r, "m.room.member", CAROL, "JC");
	mx_state_map_free(r);
	dag_release(&d);
}

int main(void)
{
	if (mx_rand_init())
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_basic),
		cmocka_unit_test(test_map_many),
		cmocka_unit_test(test_no_conflict_v10),
		cmocka_unit_test(test_no_conflict_v12),
		cmocka_unit_test(test_no_conflict_v1),
		cmocka_unit_test(test_power_race_v10),
		cmocka_unit_test(test_power_race_v12),
		cmocka_unit_test(test_power_race_v2_pairs),
		cmocka_unit_test(test_ban_race_v10),
		cmocka_unit_test(test_ban_race_v12),
		cmocka_unit_test(test_ban_race_v2_pairs),
		cmocka_unit_test(test_join_rules_race_v10),
		cmocka_unit_test(test_join_rules_race_v12),
		cmocka_unit_test(test_topic_mainline_v10),
		cmocka_unit_test(test_topic_mainline_v12),
		cmocka_unit_test(test_power_ties),
		cmocka_unit_test(test_mainline_ties),
		cmocka_unit_test(test_rejected_dropped_v10),
		cmocka_unit_test(test_rejected_dropped_v12),
		cmocka_unit_test(test_unknown_event),
		cmocka_unit_test(test_v21_empty_initial_state),
		cmocka_unit_test(test_v21_conflicted_subgraph),
		cmocka_unit_test(test_kick_vs_profile_change),
		cmocka_unit_test(test_auth_difference),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_wrong_room),
		cmocka_unit_test(test_v1_power_levels),
		cmocka_unit_test(test_v1_normal),
		cmocka_unit_test(test_v1_ban_after_demotion),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
