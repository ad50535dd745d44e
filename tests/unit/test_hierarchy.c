/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for room/hierarchy: the order of a space's children (the
 * spec's own example first), which m.space.child events count, page
 * tokens, the checks on other servers' answers, and the walk over a fake
 * source: depth-first order, loops, max_depth, hidden rooms, pages until
 * exhausted, pages after the tree changed, and rooms other servers
 * describe (asked for, supplied, failed, inaccessible).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/base64.h"
#include "core/error.h"
#include "room/hierarchy.h"

static json_t *load(const char *text)
{
	json_error_t err;
	json_t *v = json_loads(text, 0, &err);
	if (!v)
		fail_msg("bad test JSON: %s", err.text);
	return v;
}

static const char *key_of(const json_t *ev)
{
	return json_string_value(json_object_get(ev, "state_key"));
}

/* ---- ordering ---- */

static void test_order_valid(void **state)
{
	(void)state;
	char buf[64];
	json_t *v;
#define ORDER(s, want)                                         \
	do {                                                   \
		v = json_string(s);                            \
		assert_int_equal(mx_hierarchy_order_valid(v), want); \
		json_decref(v);                                \
	} while (0)
	ORDER(" ", true);
	ORDER("~", true);
	ORDER("aaaa", true);
	ORDER("", false);        /* the pattern wants one character at least */
	ORDER("a\x7f", false);
	ORDER("a\x1f", false);
	ORDER("caf\xc3\xa9", false);
	memset(buf, 'x', 50);
	buf[50] = '\0';
	ORDER(buf, true);
	buf[50] = 'x';
	buf[51] = '\0';
	ORDER(buf, false);
#undef ORDER
	v = json_integer(1);
	assert_false(mx_hierarchy_order_valid(v));
	json_decref(v);
	assert_false(mx_hierarchy_order_valid(NULL));
	/* An embedded NUL is outside 0x20-0x7E. */
	v = json_stringn("a\0b", 3);
	assert_false(mx_hierarchy_order_valid(v));
	json_decref(v);
}

static void test_child_valid(void **state)
{
	(void)state;
	static const struct {
		const char *ev;
		bool valid;
	} cases[] = {
		{"{\"state_key\":\"!a:x\",\"content\":{\"via\":[\"x\"]}}", true},
		{"{\"state_key\":\"!a:x\",\"content\":{\"via\":[]}}", false},
		{"{\"state_key\":\"!a:x\",\"content\":{}}", false},
		{"{\"state_key\":\"!a:x\",\"content\":{\"via\":\"x\"}}", false},
		{"{\"state_key\":\"!a:x\",\"content\":{\"via\":[\"x\",1]}}", false},
		{"{\"state_key\":\"not a room\",\"content\":{\"via\":[\"x\"]}}", false},
		{"{\"content\":{\"via\":[\"x\"]}}", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *ev = load(cases[i].ev);
		assert_int_equal(mx_hierarchy_child_valid(ev), cases[i].valid);
		json_decref(ev);
	}
}

/* SPEC: client-server-api#ordering-of-children-within-a-space, its example. */
static void test_spec_example(void **state)
{
	(void)state;
	json_t *evs = load(
		"["
		"{\"type\":\"m.space.child\",\"state_key\":\"!b:example.org\",\"sender\":\"@u:x\","
		"\"origin_server_ts\":1640341000000,\"content\":{\"order\":\" \",\"via\":[\"example.org\"]}},"
		"{\"type\":\"m.space.child\",\"state_key\":\"!a:example.org\",\"sender\":\"@u:x\","
		"\"origin_server_ts\":1640141000000,\"content\":{\"order\":\"aaaa\",\"via\":[\"example.org\"]}},"
		"{\"type\":\"m.space.child\",\"state_key\":\"!c:example.org\",\"sender\":\"@u:x\","
		"\"origin_server_ts\":1640841000000,\"content\":{\"order\":\"first\",\"via\":[\"example.org\"]}},"
		"{\"type\":\"m.space.child\",\"state_key\":\"!e:example.org\",\"sender\":\"@u:x\","
		"\"origin_server_ts\":1640641000000,\"content\":{\"via\":[\"example.org\"]}},"
		"{\"type\":\"m.space.child\",\"state_key\":\"!d:example.org\",\"sender\":\"@u:x\","
		"\"origin_server_ts\":1640741000000,\"content\":{\"via\":[\"example.org\"]}}"
		"]");
	/* Feed them in reverse, so that nothing depends on the input order. */
	json_t *in[5];
	for (size_t i = 0; i < 5; i++)
		in[i] = json_array_get(evs, 4 - i);
	json_t *out = mx_hierarchy_children_state(in, 5, false);
	static const char *const want[] = {"!b:example.org", "!a:example.org", "!c:example.org",
					   "!e:example.org", "!d:example.org"};
	assert_int_equal(json_array_size(out), 5);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(key_of(json_array_get(out, i)), want[i]);
	json_decref(out);
	json_decref(evs);
}

static void test_children_state(void **state)
{
	(void)state;
	json_t *evs = load(
		"["
		/* the same order and timestamp: by room id */
		"{\"type\":\"m.space.child\",\"state_key\":\"!z:x\",\"sender\":\"@u:x\",\"event_id\":\"$1\","
		"\"room_id\":\"!space:x\",\"origin_server_ts\":5,\"content\":{\"order\":\"m\",\"via\":[\"x\"]}},"
		"{\"type\":\"m.space.child\",\"state_key\":\"!y:x\",\"sender\":\"@u:x\",\"origin_server_ts\":5,"
		"\"content\":{\"order\":\"m\",\"via\":[\"x\"],\"suggested\":true}},"
		/* an order too long, or not a string, counts as none */
		"{\"type\":\"m.space.child\",\"state_key\":\"!long:x\",\"sender\":\"@u:x\",\"origin_server_ts\":1,"
		"\"content\":{\"order\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"via\":[\"x\"]}},"
		"{\"type\":\"m.space.child\",\"state_key\":\"!num:x\",\"sender\":\"@u:x\",\"origin_server_ts\":2,"
		"\"content\":{\"order\":7,\"via\":[\"x\"],\"suggested\":\"yes\"}},"
		/* the same timestamp without order: by room id */
		"{\"type\":\"m.space.child\",\"state_key\":\"!b:x\",\"sender\":\"@u:x\",\"origin_server_ts\":3,"
		"\"content\":{\"via\":[\"x\"]}},"
		"{\"type\":\"m.space.child\",\"state_key\":\"!a:x\",\"sender\":\"@u:x\",\"origin_server_ts\":3,"
		"\"content\":{\"via\":[\"x\"],\"suggested\":true}},"
		/* removed (no via), of another type, without a timestamp: not children */
		"{\"type\":\"m.space.child\",\"state_key\":\"!gone:x\",\"sender\":\"@u:x\",\"origin_server_ts\":1,"
		"\"content\":{}},"
		"{\"type\":\"m.space.parent\",\"state_key\":\"!p:x\",\"sender\":\"@u:x\",\"origin_server_ts\":1,"
		"\"content\":{\"via\":[\"x\"]}},"
		"{\"type\":\"m.space.child\",\"state_key\":\"!nots:x\",\"sender\":\"@u:x\","
		"\"content\":{\"via\":[\"x\"]}}"
		"]");
	size_t n = json_array_size(evs);
	json_t *in[16];
	for (size_t i = 0; i < n; i++)
		in[i] = json_array_get(evs, i);
	json_t *out = mx_hierarchy_children_state(in, n, false);
	static const char *const want[] = {"!y:x", "!z:x", "!long:x", "!num:x", "!a:x", "!b:x"};
	assert_int_equal(json_array_size(out), 6);
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(key_of(json_array_get(out, i)), want[i]);
	/* Stripped: exactly the five keys, nothing of the PDU beyond. */
	json_t *first = json_array_get(out, 1);
	assert_int_equal(json_object_size(first), 5);
	assert_null(json_object_get(first, "event_id"));
	assert_null(json_object_get(first, "room_id"));
	assert_int_equal(json_integer_value(json_object_get(first, "origin_server_ts")), 5);
	assert_string_equal(json_string_value(json_object_get(first, "sender")), "@u:x");
	json_decref(out);

	/* suggested_only: only "suggested": true. */
	out = mx_hierarchy_children_state(in, n, true);
	assert_int_equal(json_array_size(out), 2);
	assert_string_equal(key_of(json_array_get(out, 0)), "!y:x");
	assert_string_equal(key_of(json_array_get(out, 1)), "!a:x");
	json_decref(out);
	out = mx_hierarchy_children_state(NULL, 0, false);
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);
	json_decref(evs);
}

/* ---- tokens ---- */

static void test_tokens(void **state)
{
	(void)state;
	struct mx_arena a;
	mx_arena_init(&a);
	uint64_t h = mx_hierarchy_params_hash("@u:x", "!root:x", false, -1);
	assert_true(h != mx_hierarchy_params_hash("@v:x", "!root:x", false, -1));
	assert_true(h != mx_hierarchy_params_hash("@u:x", "!other:x", false, -1));
	assert_true(h != mx_hierarchy_params_hash("@u:x", "!root:x", true, -1));
	assert_true(h != mx_hierarchy_params_hash("@u:x", "!root:x", false, 3));
	assert_true(h != mx_hierarchy_params_hash(NULL, "!root:x", false, -1));

	const char *t = mx_hierarchy_token_make(&a, h, 42, "!last:example.org");
	for (const char *p = t; *p; p++)
		assert_true((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_');
	struct mx_hierarchy_token tok;
	assert_int_equal(mx_hierarchy_token_parse(&a, t, h, &tok), 0);
	assert_int_equal(tok.shown, 42);
	assert_string_equal(tok.last, "!last:example.org");
	/* Another request's token (changed max_depth or suggested_only, another user). */
	assert_int_equal(mx_hierarchy_token_parse(&a, t, h + 1, &tok), MX_EINVALIDPARAM);
	/* A v12 room id (no server part) makes a good token too. */
	const char *v12 = "!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM";
	t = mx_hierarchy_token_make(&a, h, 1, v12);
	assert_int_equal(mx_hierarchy_token_parse(&a, t, h, &tok), 0);
	assert_string_equal(tok.last, v12);

	/* Garbage of every kind. */
	static const char *const bad_text[] = {
		"h1|0|%016llx|!a:x",   /* nothing shown */
		"h1|-1|%016llx|!a:x",
		"h1|x|%016llx|!a:x",
		"h2|1|%016llx|!a:x",   /* an unknown version */
		"h1|1|%016llx|",       /* no room */
		"h1|1|%016llx|nope",
		"h1|1|%016llx",
		"h1|99999999999999999999999|%016llx|!a:x",
	};
	for (size_t i = 0; i < sizeof(bad_text) / sizeof(bad_text[0]); i++) {
		char text[128];
		snprintf(text, sizeof(text), bad_text[i], (unsigned long long)h);
		char *b64 = mx_base64_encode(text, strlen(text), MX_BASE64_URL);
		assert_int_equal(mx_hierarchy_token_parse(&a, b64, h, &tok), MX_EINVALIDPARAM);
		free(b64);
	}
	static const char *const bad[] = {"", "not base64!", "====", "aGVsbG8", "h1|1|x|!a:x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(mx_hierarchy_token_parse(&a, bad[i], h, &tok), MX_EINVALIDPARAM);
	char huge[1024];
	memset(huge, 'A', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	assert_int_equal(mx_hierarchy_token_parse(&a, huge, h, &tok), MX_EINVALIDPARAM);
	mx_arena_release(&a);
}

/* ---- remote answers ---- */

static void test_check_answer(void **state)
{
	(void)state;
	json_t *resp = load(
		"{\"room\":{\"room_id\":\"!s:r\",\"name\":\"S\",\"num_joined_members\":\"many\","
		"\"room_type\":\"m.space\",\"join_rule\":\"public\",\"x.junk\":1,\"topic\":7,"
		"\"allowed_room_ids\":[\"!ok:r\",\"bad\",3],"
		"\"children_state\":[{\"type\":\"m.space.child\",\"state_key\":\"!c2:r\",\"sender\":\"@u:r\","
		"\"origin_server_ts\":2,\"content\":{\"via\":[\"r\"]}},"
		"{\"type\":\"m.space.child\",\"state_key\":\"!c1:r\",\"sender\":\"@u:r\","
		"\"origin_server_ts\":1,\"content\":{\"via\":[\"r\"]}},"
		"{\"type\":\"m.space.child\",\"state_key\":\"!c3:r\",\"content\":{\"via\":[\"r\"]}},"
		"\"junk\"]},"
		"\"children\":[{\"room_id\":\"!c1:r\",\"name\":\"C1\",\"world_readable\":true},"
		"{\"name\":\"no id\"},5],"
		"\"inaccessible_children\":[\"!c2:r\",4,\"bad\"]}");
	json_t *out = mx_hierarchy_check_answer(resp, "!s:r");
	assert_non_null(out);
	json_t *room = json_object_get(out, "room");
	assert_string_equal(json_string_value(json_object_get(room, "name")), "S");
	assert_int_equal(json_integer_value(json_object_get(room, "num_joined_members")), 0);
	assert_true(json_is_false(json_object_get(room, "world_readable")));
	assert_true(json_is_false(json_object_get(room, "guest_can_join")));
	assert_null(json_object_get(room, "x.junk"));
	assert_null(json_object_get(room, "topic"));
	assert_int_equal(json_array_size(json_object_get(room, "allowed_room_ids")), 1);
	json_t *cs = json_object_get(room, "children_state");
	assert_int_equal(json_array_size(cs), 2);
	assert_string_equal(key_of(json_array_get(cs, 0)), "!c1:r"); /* re-ordered here */
	json_t *children = json_object_get(out, "children");
	assert_int_equal(json_array_size(children), 1);
	assert_true(json_is_true(json_object_get(json_array_get(children, 0), "world_readable")));
	json_t *inacc = json_object_get(out, "inaccessible_children");
	assert_int_equal(json_array_size(inacc), 1);
	assert_string_equal(json_string_value(json_array_get(inacc, 0)), "!c2:r");
	json_decref(out);

	/* About another room, or without a room: unusable. */
	assert_null(mx_hierarchy_check_answer(resp, "!other:r"));
	json_t *empty = load("{\"children\":[]}");
	assert_null(mx_hierarchy_check_answer(empty, "!s:r"));
	json_decref(empty);
	json_decref(resp);
}

/* ---- the walk, over a fake source ---- */

struct fake_child {
	const char *id;
	const char *order;
	int64_t ts;
	bool suggested;
};

struct fake_room {
	const char *id;
	bool space, visible, remote, known;
	struct fake_child children[6];
};

struct fake {
	struct fake_room *rooms;
	size_t n;
	int summaries; /* calls with full set */
};

static struct fake_room *fake_find(struct fake *f, const char *id)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->rooms[i].id, id))
			return &f->rooms[i];
	return NULL;
}

static json_t *fake_children_state(struct fake_room *r, bool suggested_only)
{
	json_t *evs[6];
	size_t n = 0;
	for (size_t i = 0; i < 6 && r->children[i].id; i++) {
		const struct fake_child *c = &r->children[i];
		json_t *content = json_pack("{s:[s], s:b}", "via", "x", "suggested", c->suggested);
		if (c->order)
			json_object_set_new(content, "order", json_string(c->order));
		evs[n++] = json_pack("{s:s, s:s, s:s, s:I, s:o}", "type", "m.space.child",
				     "state_key", c->id, "sender", "@u:x", "origin_server_ts",
				     (json_int_t)c->ts, "content", content);
	}
	json_t *out = mx_hierarchy_children_state(evs, n, suggested_only);
	for (size_t i = 0; i < n; i++)
		json_decref(evs[i]);
	return out;
}

static enum mx_hierarchy_where fake_where(void *ctx, const char *room_id, const json_t *via)
{
	(void)via;
	struct fake_room *r = fake_find(ctx, room_id);
	return !r || r->remote ? MX_HIERARCHY_REMOTE : MX_HIERARCHY_LOCAL;
}

static int fake_summary(void *ctx, struct mx_arena *a, const char *room_id, bool suggested_only,
			bool full, json_t **entry)
{
	struct fake *f = ctx;
	struct fake_room *r = fake_find(f, room_id);
	if (!r || !r->known)
		return MX_ENOTFOUND;
	if (!r->visible)
		return MX_EFORBIDDEN;
	if (full)
		f->summaries++;
	json_t *o = json_pack("{s:s}", "room_id", room_id);
	if (full)
		json_object_set_new(o, "name", json_string(room_id));
	if (r->space)
		json_object_set_new(o, "room_type", json_string("m.space"));
	json_object_set_new(o, "children_state",
			    r->space ? fake_children_state(r, suggested_only) : json_array());
	*entry = mx_arena_json(a, o);
	return 0;
}

static bool fake_remote_allowed(void *ctx, struct mx_arena *a, const char *room_id,
				const json_t *allowed)
{
	(void)ctx;
	(void)a;
	(void)allowed;
	return !strcmp(room_id, "!member:x");
}

/*
 * root -> a (space: a1, a2, and a loop back to root), b, hidden (a space
 * whose child h1 must not be reached through it), c (ordered first),
 * self (a loop to root); a1 -> a11.
 */
static struct fake_room tree[] = {
	{"!root:x", true, true, false, true,
	 {{"!b:x", NULL, 2, true}, {"!a:x", NULL, 1, false}, {"!hidden:x", NULL, 3, false},
	  {"!c:x", "0", 9, true}, {"!root:x", NULL, 4, false}}},
	{"!a:x", true, true, false, true,
	 {{"!a2:x", NULL, 2, false}, {"!a1:x", NULL, 1, true}, {"!root:x", NULL, 3, false}}},
	{"!a1:x", true, true, false, true, {{"!a11:x", NULL, 1, false}}},
	{"!a11:x", false, true, false, true, {{0}}},
	{"!a2:x", false, true, false, true, {{0}}},
	{"!b:x", false, true, false, true, {{0}}},
	{"!c:x", false, true, false, true, {{0}}},
	{"!hidden:x", true, false, false, true, {{"!h1:x", NULL, 1, false}}},
	{"!h1:x", false, true, false, true, {{0}}},
};

static void walk_source(struct fake *f, struct mx_hierarchy_source *src)
{
	src->ctx = f;
	src->where = fake_where;
	src->summary = fake_summary;
	src->remote_allowed = fake_remote_allowed;
}

/* Append s to the string in buf (size n), a space between words. */
static void words_add(char *buf, size_t n, const char *s)
{
	size_t len = strlen(buf);
	snprintf(buf + len, n - len, "%s%s", len ? " " : "", s);
}

/* Run a walk that needs no other server; the page's room ids joined by ' '. */
static const char *page(struct mx_arena *a, struct fake *f, int limit, int max_depth,
			bool suggested, const char *from, const char **next)
{
	struct mx_hierarchy_source src;
	walk_source(f, &src);
	struct mx_hierarchy_token tok;
	uint64_t h = mx_hierarchy_params_hash("@u:x", "!root:x", suggested, max_depth);
	struct mx_hierarchy_params p = {.root = "!root:x", .suggested_only = suggested,
					.max_depth = max_depth, .limit = limit, .params_hash = h};
	if (from) {
		assert_int_equal(mx_hierarchy_token_parse(a, from, h, &tok), 0);
		p.from = &tok;
	}
	struct mx_hierarchy_walk *wk = mx_hierarchy_walk_new(a, &src, &p);
	assert_int_equal(mx_hierarchy_walk_run(wk), 0);
	json_t *res = mx_arena_json(a, mx_hierarchy_walk_result(wk));
	char buf[512] = "";
	size_t i;
	json_t *r;
	json_array_foreach (json_object_get(res, "rooms"), i, r) {
		words_add(buf, sizeof(buf), json_string_value(json_object_get(r, "room_id")));
		assert_true(json_is_array(json_object_get(r, "children_state")));
	}
	*next = json_string_value(json_object_get(res, "next_batch"));
	return mx_arena_strdup(a, buf);
}

static void test_walk_order(void **state)
{
	(void)state;
	struct mx_arena a;
	mx_arena_init(&a);
	struct fake f = {tree, sizeof(tree) / sizeof(tree[0]), 0};
	const char *next;
	/* Depth-first, children in order, loops cut, the hidden space and
	 * what lies only under it left out. */
	assert_string_equal(page(&a, &f, 50, -1, false, NULL, &next),
			    "!root:x !c:x !a:x !a1:x !a11:x !a2:x !b:x");
	assert_null(next);
	/* max_depth: 0 is the root alone, 1 its children. */
	assert_string_equal(page(&a, &f, 50, 0, false, NULL, &next), "!root:x");
	assert_string_equal(page(&a, &f, 50, 1, false, NULL, &next), "!root:x !c:x !a:x !b:x");
	/* suggested_only: c and b are suggested children of root; a1 is, but
	 * under a, which is not. */
	assert_string_equal(page(&a, &f, 50, -1, true, NULL, &next), "!root:x !c:x !b:x");
	mx_arena_release(&a);
}

static void test_walk_pages(void **state)
{
	(void)state;
	struct mx_arena a;
	mx_arena_init(&a);
	struct fake f = {tree, sizeof(tree) / sizeof(tree[0]), 0};
	const char *all = "!root:x !c:x !a:x !a1:x !a11:x !a2:x !b:x";
	for (int limit = 1; limit <= 8; limit++) {
		char seen[512] = "";
		const char *from = NULL, *next;
		int pages = 0;
		do {
			const char *got = page(&a, &f, limit, -1, false, from, &next);
			if (*got)
				words_add(seen, sizeof(seen), got);
			from = next;
			assert_true(++pages < 20);
		} while (from);
		assert_string_equal(seen, all);
		assert_int_equal(pages, (7 + limit - 1) / limit);
	}
	/* Rooms already shown are not summarised in full again. */
	const char *next;
	f.summaries = 0;
	page(&a, &f, 3, -1, false, NULL, &next);
	assert_int_equal(f.summaries, 3);
	f.summaries = 0;
	assert_string_equal(page(&a, &f, 3, -1, false, next, &next), "!a1:x !a11:x !a2:x");
	assert_int_equal(f.summaries, 3);
	mx_arena_release(&a);
}

static void test_walk_tree_changed(void **state)
{
	(void)state;
	struct mx_arena a;
	mx_arena_init(&a);
	struct fake f = {tree, sizeof(tree) / sizeof(tree[0]), 0};
	const char *next;
	assert_string_equal(page(&a, &f, 3, -1, false, NULL, &next), "!root:x !c:x !a:x");
	/* c leaves the tree before the next page: a was the last room shown,
	 * and the page goes on after it rather than showing a again. */
	f.rooms[6].visible = false;
	assert_string_equal(page(&a, &f, 3, -1, false, next, &next), "!a1:x !a11:x !a2:x");
	f.rooms[6].visible = true;
	/* A token for other parameters is refused. */
	struct mx_hierarchy_token tok;
	assert_int_equal(mx_hierarchy_token_parse(
				 &a, next, mx_hierarchy_params_hash("@u:x", "!root:x", true, -1), &tok),
			 MX_EINVALIDPARAM);
	mx_arena_release(&a);
}

/*
 * root -> remote space r (on another server) and l; r's answer names
 * children r1 (a room it describes: no question), r2 (inaccessible: not
 * asked), r3 (a remote space it does not describe: asked, fails) and
 * rp (private, described, but the user is not a member).
 */
static struct fake_room remote_tree[] = {
	{"!root:x", true, true, false, true, {{"!r:y", NULL, 1, false}, {"!l:x", NULL, 2, false}}},
	{"!l:x", false, true, false, true, {{0}}},
	{"!r:y", true, true, true, false, {{0}}},
	{"!r3:y", true, true, true, false, {{0}}},
	{"!member:x", false, true, true, false, {{0}}},
};

static void test_walk_remote(void **state)
{
	(void)state;
	struct mx_arena a;
	mx_arena_init(&a);
	struct fake f = {remote_tree, sizeof(remote_tree) / sizeof(remote_tree[0]), 0};
	struct mx_hierarchy_source src;
	walk_source(&f, &src);
	struct mx_hierarchy_params p = {.root = "!root:x", .max_depth = -1, .limit = 50};
	struct mx_hierarchy_walk *wk = mx_hierarchy_walk_new(&a, &src, &p);
	assert_int_equal(mx_hierarchy_walk_run(wk), 1);
	const char *const *ids;
	const json_t *const *vias;
	assert_int_equal(mx_hierarchy_walk_wanted(wk, &ids, &vias), 1);
	assert_string_equal(ids[0], "!r:y");
	assert_string_equal(json_string_value(json_array_get(vias[0], 0)), "x");

	json_t *resp = load(
		"{\"room\":{\"room_id\":\"!r:y\",\"name\":\"R\",\"room_type\":\"m.space\","
		"\"join_rule\":\"public\",\"children_state\":["
		"{\"type\":\"m.space.child\",\"state_key\":\"!r1:y\",\"sender\":\"@u:y\",\"origin_server_ts\":1,\"content\":{\"via\":[\"y\"]}},"
		"{\"type\":\"m.space.child\",\"state_key\":\"!r2:y\",\"sender\":\"@u:y\",\"origin_server_ts\":2,\"content\":{\"via\":[\"y\"]}},"
		"{\"type\":\"m.space.child\",\"state_key\":\"!r3:y\",\"sender\":\"@u:y\",\"origin_server_ts\":3,\"content\":{\"via\":[\"y\"]}},"
		"{\"type\":\"m.space.child\",\"state_key\":\"!rp:y\",\"sender\":\"@u:y\",\"origin_server_ts\":4,\"content\":{\"via\":[\"y\"]}},"
		"{\"type\":\"m.space.child\",\"state_key\":\"!member:x\",\"sender\":\"@u:y\",\"origin_server_ts\":5,\"content\":{\"via\":[\"y\"]}}"
		"]},"
		"\"children\":[{\"room_id\":\"!r1:y\",\"name\":\"R1\",\"join_rule\":\"public\"},"
		"{\"room_id\":\"!rp:y\",\"join_rule\":\"invite\"},"
		"{\"room_id\":\"!member:x\",\"join_rule\":\"invite\"}],"
		"\"inaccessible_children\":[\"!r2:y\"]}");
	json_t *checked = mx_arena_json(&a, mx_hierarchy_check_answer(resp, "!r:y"));
	json_decref(resp);
	assert_non_null(checked);
	mx_hierarchy_walk_supply(wk, "!r:y", checked);
	/* r1, rp and member were described, r2 is inaccessible: only r3 is asked. */
	assert_int_equal(mx_hierarchy_walk_run(wk), 1);
	assert_int_equal(mx_hierarchy_walk_wanted(wk, &ids, &vias), 1);
	assert_string_equal(ids[0], "!r3:y");
	mx_hierarchy_walk_supply(wk, "!r3:y", NULL);
	assert_int_equal(mx_hierarchy_walk_run(wk), 0);
	json_t *res = mx_arena_json(&a, mx_hierarchy_walk_result(wk));
	json_t *rooms = json_object_get(res, "rooms");
	static const char *const want[] = {"!root:x", "!r:y", "!r1:y", "!member:x", "!l:x"};
	assert_int_equal(json_array_size(rooms), 5);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(json_string_value(json_object_get(json_array_get(rooms, i),
								      "room_id")),
				    want[i]);
	json_t *r = json_array_get(rooms, 1);
	assert_string_equal(json_string_value(json_object_get(r, "name")), "R");
	assert_int_equal(json_array_size(json_object_get(r, "children_state")), 5);
	/* A child described by its parent's answer has an (empty) children_state. */
	assert_int_equal(json_array_size(json_object_get(json_array_get(rooms, 2),
							 "children_state")),
			 0);
	assert_null(json_object_get(res, "next_batch"));
	mx_arena_release(&a);
}

static void test_answer(void **state)
{
	(void)state;
	struct mx_arena a;
	mx_arena_init(&a);
	struct fake f = {tree, sizeof(tree) / sizeof(tree[0]), 0};
	struct mx_hierarchy_source src;
	walk_source(&f, &src);
	json_t *out;
	assert_int_equal(mx_hierarchy_answer(&src, &a, "!root:x", false, &out), 0);
	json_t *children = json_object_get(out, "children");
	/* c, a, b (in order), hidden inaccessible, root itself left out. */
	assert_int_equal(json_array_size(children), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(children, 0),
							      "room_id")),
			    "!c:x");
	assert_null(json_object_get(json_array_get(children, 1), "children_state"));
	json_t *inacc = json_object_get(out, "inaccessible_children");
	assert_int_equal(json_array_size(inacc), 1);
	assert_string_equal(json_string_value(json_array_get(inacc, 0)), "!hidden:x");
	assert_int_equal(json_array_size(json_object_get(json_object_get(out, "room"),
							 "children_state")),
			 5);
	json_decref(out);
	assert_int_equal(mx_hierarchy_answer(&src, &a, "!hidden:x", false, &out), MX_ENOTFOUND);
	assert_int_equal(mx_hierarchy_answer(&src, &a, "!nope:x", false, &out), MX_ENOTFOUND);
	mx_arena_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_valid),
		cmocka_unit_test(test_child_valid),
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_children_state),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_check_answer),
		cmocka_unit_test(test_walk_order),
		cmocka_unit_test(test_walk_pages),
		cmocka_unit_test(test_walk_tree_changed),
		cmocka_unit_test(test_walk_remote),
		cmocka_unit_test(test_answer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
