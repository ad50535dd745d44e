/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for src/push/rules: glob matching, every condition kind with
 * the spec's examples, every server-default rule, the merged client view
 * and the edits the /pushrules API makes to the stored rules.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/error.h"
#include "push/rules.h"

#define ALICE "@alice:example.org"

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
	if (!v)
		fail_msg("bad test JSON: %s: %s", text, e.text);
	return v;
}

struct ctx {
	int64_t members;
	int64_t sender_power;
	const char *display_name;
	const char *power_levels; /* content JSON or NULL */
	const char *user;         /* NULL: ALICE */
};

/* Evaluate event (JSON text) for a user; the result borrows from r. */
static struct mx_push_actions eval(const struct mx_push_rules *r, const char *event,
				   const struct ctx *c)
{
	json_t *pdu = J(event), *pl = c && c->power_levels ? J(c->power_levels) : NULL;
	struct mx_push_event ev;
	mx_push_event_init(&ev, pdu);
	struct mx_push_user u = {
		.user_id = c && c->user ? c->user : ALICE,
		.display_name = c ? c->display_name : NULL,
		.member_count = c ? c->members : 3,
		.sender_power = c ? c->sender_power : 0,
		.power_levels = pl,
	};
	struct mx_push_actions out;
	mx_push_rules_eval(r, &ev, &u, &out);
	mx_push_event_release(&ev);
	json_decref(pdu);
	json_decref(pl);
	return out;
}

static void expect_rule(struct mx_push_actions a, const char *rule_id, bool notify, bool highlight,
			const char *sound)
{
	if (!rule_id) {
		if (a.matched)
			fail_msg("expected no rule, got %s", a.rule_id);
		return;
	}
	if (!a.matched)
		fail_msg("expected %s, nothing matched", rule_id);
	if (strcmp(a.rule_id, rule_id) != 0)
		fail_msg("expected %s, got %s", rule_id, a.rule_id);
	assert_int_equal(a.notify, notify);
	assert_int_equal(a.highlight, highlight);
	if (sound) {
		assert_non_null(a.sound);
		assert_string_equal(a.sound, sound);
	} else {
		assert_null(a.sound);
	}
}

#define MSG(body) \
	"{\"type\": \"m.room.message\", \"sender\": \"@bob:example.org\", \"room_id\": \"!r:example.org\"," \
	" \"content\": {\"msgtype\": \"m.text\", \"body\": \"" body "\"}}"

/* ---- glob ---- */

/* SPEC: push conditions event_match, the content.topic example "lunc?*". */
static void test_glob_spec_examples(void **state)
{
	(void)state;
	assert_true(mx_push_glob_match("lunc?*", "Lunch plans", false));
	assert_true(mx_push_glob_match("lunc?*", "LUNCH", false));
	assert_false(mx_push_glob_match("lunc?*", " lunch", false));
	assert_false(mx_push_glob_match("lunc?*", "lunc", false));
	/* SPEC: content.body: any substring between word boundaries. */
	assert_true(mx_push_glob_match("ex*ple", "An example event.", true));
	assert_true(mx_push_glob_match("ex*ple", "exple", true));
	assert_true(mx_push_glob_match("ex*ple", "An exciting triple-whammy", true));
	assert_false(mx_push_glob_match("ex*ple", "An examples event.", true));
}

static void test_glob_edges(void **state)
{
	(void)state;
	assert_true(mx_push_glob_match("cake", "I like cake!", true));
	assert_false(mx_push_glob_match("cake", "pancakes", true));
	assert_false(mx_push_glob_match("cake", "cake_pan", true)); /* _ is a word character */
	assert_true(mx_push_glob_match("cake", "CAKE", true));
	assert_true(mx_push_glob_match("*", "", false));
	assert_true(mx_push_glob_match("", "", false));
	assert_false(mx_push_glob_match("", "x", false));
	assert_true(mx_push_glob_match("a**b", "ab", false));
	assert_true(mx_push_glob_match("a*b*c", "aXXbYYc", false));
	assert_false(mx_push_glob_match("a*b*c", "aXXbYY", false));
	assert_true(mx_push_glob_match("m.room.*", "m.room.message", false));
	assert_false(mx_push_glob_match("m.room.*", "m.roomy", false));
	/* ? is one code point, also a multi-byte one; case-insensitive beyond ASCII. */
	assert_true(mx_push_glob_match("caf?", "café", false));
	assert_true(mx_push_glob_match("ärger", "ÄRGER", false));
	assert_true(mx_push_glob_match("zoë", "Hello Zoë!", true));
	/* Punctuation next to a word starts or ends a match (Synapse's \b). */
	assert_true(mx_push_glob_match("@room", "hey @room!", true));
	assert_true(mx_push_glob_match("@room", "@room", true));
	/* A long value and a long pattern take the heap path. */
	char big[3000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_true(mx_push_glob_match("a*a?a", big, false));
	char pat[200];
	memset(pat, '?', sizeof(pat) - 1);
	pat[sizeof(pat) - 1] = '\0';
	assert_false(mx_push_glob_match(pat, "short", false));
	assert_true(mx_push_glob_match(pat, big + sizeof(big) - sizeof(pat), false));
	/* Many stars cannot blow up (no backtracking). */
	assert_false(mx_push_glob_match("*a*a*a*a*a*a*a*a*a*a*b", big, false));
}

/* ---- conditions, through one user override rule each ---- */

/* Rules holding one override rule "t" with conditions (JSON array text). */
static struct mx_push_rules *with_override(const char *conditions)
{
	json_t *stored = json_object(), *body = json_pack("{s:o, s:[s]}", "conditions", J(conditions),
							  "actions", "notify");
	const char *why = NULL;
	int rc = mx_push_stored_put(stored, MX_PUSH_OVERRIDE, "t", body, NULL, NULL, &why);
	if (rc)
		fail_msg("put failed: %s", why);
	struct mx_push_rules *r = mx_push_rules_new(stored);
	json_decref(stored);
	json_decref(body);
	return r;
}

static bool holds(const char *conditions, const char *event, const struct ctx *c)
{
	struct mx_push_rules *r = with_override(conditions);
	struct mx_push_actions a = eval(r, event, c);
	bool ok = a.matched && !strcmp(a.rule_id, "t");
	mx_push_rules_unref(r);
	return ok;
}

#define TOPIC(t) \
	"{\"type\": \"m.room.topic\", \"state_key\": \"\", \"sender\": \"@example:example.org\"," \
	" \"room_id\": \"!636q39766251:example.com\", \"content\": {\"topic\": " t "}}"

static void test_cond_event_match(void **state)
{
	(void)state;
	const char *c = "[{\"kind\": \"event_match\", \"key\": \"content.topic\", \"pattern\": \"lunc?*\"}]";
	assert_true(holds(c, TOPIC("\"Lunch plans\""), NULL));
	assert_true(holds(c, TOPIC("\"LUNCH\""), NULL));
	assert_false(holds(c, TOPIC("\" lunch\""), NULL));
	assert_false(holds(c, TOPIC("\"lunc\""), NULL));
	assert_false(holds(c, TOPIC("null"), NULL));
	/* Absent or not a string: no match even for "*". */
	const char *any = "[{\"kind\": \"event_match\", \"key\": \"content.nope\", \"pattern\": \"*\"}]";
	assert_false(holds(any, TOPIC("\"x\""), NULL));
	const char *obj = "[{\"kind\": \"event_match\", \"key\": \"content\", \"pattern\": \"*\"}]";
	assert_false(holds(obj, TOPIC("\"x\""), NULL));
	/* content.body matches words (SPEC: the ex*ple example). */
	const char *body = "[{\"kind\": \"event_match\", \"key\": \"content.body\", \"pattern\": \"ex*ple\"}]";
	assert_true(holds(body, MSG("An example event."), NULL));
	assert_true(holds(body, MSG("An exciting triple-whammy"), NULL));
	assert_false(holds(body, MSG("Counterexample"), NULL));
	/* No implicit state_key condition: messages match a type pattern too. */
	const char *type = "[{\"kind\": \"event_match\", \"key\": \"type\", \"pattern\": \"m.room.*\"}]";
	assert_true(holds(type, MSG("x"), NULL));
}

#define CREATE_EV(federate)                                                                        \
	"{\"type\": \"m.room.create\", \"state_key\": \"\", \"sender\": \"@example:example.org\","    \
	" \"room_id\": \"!636q39766251:example.com\", \"content\": {\"creator\": "                  \
	"\"@example:example.org\", \"m.federate\": " federate ", \"predecessor\": {\"event_id\":"   \
	" \"$something:example.org\", \"room_id\": \"!oldroom:example.org\"}, \"room_version\": \"1\"}}"

/* SPEC: event_property_is, the content.m\.federate example. */
static void test_cond_property_is(void **state)
{
	(void)state;
	const char *c = "[{\"kind\": \"event_property_is\", \"key\": \"content.m\\\\.federate\", \"value\": true}]";
	assert_true(holds(c, CREATE_EV("true"), NULL));
	assert_false(holds(c, CREATE_EV("\"true\""), NULL));
	assert_false(holds(c, CREATE_EV("1"), NULL));
	assert_false(holds(c, CREATE_EV("false"), NULL));
	/* Strings, integers and null, exactly; compound values never match. */
	const char *s = "[{\"kind\": \"event_property_is\", \"key\": \"content.predecessor.room_id\","
			" \"value\": \"!oldroom:example.org\"}]";
	assert_true(holds(s, CREATE_EV("true"), NULL));
	const char *i = "[{\"kind\": \"event_property_is\", \"key\": \"content.n\", \"value\": 5}]";
	assert_true(holds(i, "{\"type\": \"x\", \"content\": {\"n\": 5}}", NULL));
	assert_false(holds(i, "{\"type\": \"x\", \"content\": {\"n\": 6}}", NULL));
	const char *n = "[{\"kind\": \"event_property_is\", \"key\": \"content.n\", \"value\": null}]";
	assert_true(holds(n, "{\"type\": \"x\", \"content\": {\"n\": null}}", NULL));
	assert_false(holds(n, "{\"type\": \"x\", \"content\": {}}", NULL));
	/* A backslash not before a dot or backslash is literal. */
	const char *esc = "[{\"kind\": \"event_property_is\", \"key\": \"content.m\\\\\\\\foo\", \"value\": 1}]";
	assert_true(holds(esc, "{\"type\": \"x\", \"content\": {\"m\\\\foo\": 1}}", NULL));
}

#define ALIAS_EV(list)                                                                           \
	"{\"type\": \"m.room.canonical_alias\", \"state_key\": \"\", \"sender\": \"@example:example.org\"," \
	" \"room_id\": \"!jEsUZKDJdhlrceRyVU:example.org\", \"content\": {\"alias\":"               \
	" \"#somewhere:localhost\", \"alt_aliases\": " list "}}"

/* SPEC: event_property_contains, the content.alt_aliases example. */
static void test_cond_property_contains(void **state)
{
	(void)state;
	const char *c = "[{\"kind\": \"event_property_contains\", \"key\": \"content.alt_aliases\","
			" \"value\": \"#myroom:example.com\"}]";
	assert_true(holds(c, ALIAS_EV("[\"#somewhere:example.org\", \"#myroom:example.com\"]"), NULL));
	assert_false(holds(c, ALIAS_EV("[\":example.com\"]"), NULL));
	assert_false(holds(c, ALIAS_EV("\"#myroom:example.com\""), NULL)); /* not an array */
	assert_true(holds(c, ALIAS_EV("[{\"x\": 1}, [2], \"#myroom:example.com\"]"), NULL));
}

static void test_cond_display_name(void **state)
{
	(void)state;
	const char *c = "[{\"kind\": \"contains_display_name\"}]";
	struct ctx ctx = {.members = 5, .display_name = "Alice W."};
	assert_true(holds(c, MSG("hello alice w. how are you"), &ctx));
	assert_false(holds(c, MSG("hello alicew."), &ctx));
	/* The name is literal: glob characters in it are not wildcards. */
	struct ctx star = {.members = 5, .display_name = "A*"};
	assert_false(holds(c, MSG("Abc"), &star));
	assert_true(holds(c, MSG("hi a*"), &star));
	struct ctx none = {.members = 5};
	assert_false(holds(c, MSG("hello"), &none));
	struct ctx empty = {.members = 5, .display_name = ""};
	assert_false(holds(c, MSG("hello"), &empty));
}

static void test_cond_member_count(void **state)
{
	(void)state;
	struct ctx two = {.members = 2}, ten = {.members = 10};
	assert_true(holds("[{\"kind\": \"room_member_count\", \"is\": \"2\"}]", MSG("x"), &two));
	assert_true(holds("[{\"kind\": \"room_member_count\", \"is\": \"==2\"}]", MSG("x"), &two));
	assert_false(holds("[{\"kind\": \"room_member_count\", \"is\": \"2\"}]", MSG("x"), &ten));
	assert_true(holds("[{\"kind\": \"room_member_count\", \"is\": \"<3\"}]", MSG("x"), &two));
	assert_false(holds("[{\"kind\": \"room_member_count\", \"is\": \"<2\"}]", MSG("x"), &two));
	assert_true(holds("[{\"kind\": \"room_member_count\", \"is\": \"<=2\"}]", MSG("x"), &two));
	assert_true(holds("[{\"kind\": \"room_member_count\", \"is\": \">9\"}]", MSG("x"), &ten));
	assert_true(holds("[{\"kind\": \"room_member_count\", \"is\": \">=10\"}]", MSG("x"), &ten));
	assert_false(holds("[{\"kind\": \"room_member_count\", \"is\": \">10\"}]", MSG("x"), &ten));
	/* SPEC example: beer in rooms of 10 members or fewer. */
	const char *beer = "[{\"kind\": \"event_match\", \"key\": \"content.body\", \"pattern\": \"beer\"},"
			   " {\"kind\": \"room_member_count\", \"is\": \"<=10\"}]";
	assert_true(holds(beer, MSG("Beer o'clock?"), &ten));
	struct ctx many = {.members = 11};
	assert_false(holds(beer, MSG("Beer o'clock?"), &many));
}

static void test_cond_sender_permission(void **state)
{
	(void)state;
	const char *c = "[{\"kind\": \"sender_notification_permission\", \"key\": \"room\"}]";
	struct ctx mod = {.sender_power = 50}, user = {.sender_power = 0};
	/* Without power levels (or without notifications) the room level is 50. */
	assert_true(holds(c, MSG("x"), &mod));
	assert_false(holds(c, MSG("x"), &user));
	struct ctx low = {.sender_power = 10, .power_levels = "{\"notifications\": {\"room\": 10}}"};
	assert_true(holds(c, MSG("x"), &low));
	struct ctx high = {.sender_power = 99, .power_levels = "{\"notifications\": {\"room\": 100}}"};
	assert_false(holds(c, MSG("x"), &high));
	struct ctx str = {.sender_power = 20, .power_levels = "{\"notifications\": {\"room\": \"20\"}}"};
	assert_true(holds(c, MSG("x"), &str));
	/* Another key with no level set: nobody has it. */
	const char *other = "[{\"kind\": \"sender_notification_permission\", \"key\": \"other\"}]";
	struct ctx admin = {.sender_power = 100};
	assert_false(holds(other, MSG("x"), &admin));
}

static void test_cond_unknown(void **state)
{
	(void)state;
	/* SPEC: "Unrecognised conditions MUST NOT match any events". */
	assert_false(holds("[{\"kind\": \"org.example.future\"}]", MSG("x"), NULL));
	assert_true(holds("[]", MSG("x"), NULL)); /* no conditions: always */
}

/* ---- the server-default rules ---- */

static void test_defaults_messages(void **state)
{
	(void)state;
	struct mx_push_rules *r = mx_push_rules_new(NULL);
	struct ctx group = {.members = 5}, dm = {.members = 2};
	/* A plain message in a group room notifies, no sound, no highlight. */
	expect_rule(eval(r, MSG("hi all"), &group), ".m.rule.message", true, false, NULL);
	/* In a 1:1 room it notifies with the default sound. */
	expect_rule(eval(r, MSG("hi"), &dm), ".m.rule.room_one_to_one", true, false, "default");
	/* Encrypted events: 1:1 with sound, group rooms without. */
	const char *enc = "{\"type\": \"m.room.encrypted\", \"sender\": \"@bob:example.org\","
			  " \"content\": {\"algorithm\": \"m.megolm.v1.aes-sha2\", \"ciphertext\": \"x\"}}";
	expect_rule(eval(r, enc, &dm), ".m.rule.encrypted_room_one_to_one", true, false, "default");
	expect_rule(eval(r, enc, &group), ".m.rule.encrypted", true, false, NULL);
	/* Notices are suppressed (matched, no actions). */
	const char *notice = "{\"type\": \"m.room.message\", \"sender\": \"@bot:example.org\","
			     " \"content\": {\"msgtype\": \"m.notice\", \"body\": \"alice\"}}";
	expect_rule(eval(r, notice, &dm), ".m.rule.suppress_notices", false, false, NULL);
	/* Server notices are not m.notice: they notify, in their 1:1 room with sound. */
	const char *sn = "{\"type\": \"m.room.message\", \"sender\": \"@server:example.org\","
			 " \"content\": {\"msgtype\": \"m.server_notice\", \"body\": \"Limit reached\","
			 " \"server_notice_type\": \"m.server_notice.usage_limit_reached\"}}";
	expect_rule(eval(r, sn, &dm), ".m.rule.room_one_to_one", true, false, "default");
	/* Calls ring. */
	const char *call = "{\"type\": \"m.call.invite\", \"sender\": \"@bob:example.org\","
			   " \"content\": {\"call_id\": \"1\", \"version\": 0}}";
	expect_rule(eval(r, call, &group), ".m.rule.call", true, false, "ring");
	/* Reactions, edits and ACL changes do not notify. */
	const char *reaction = "{\"type\": \"m.reaction\", \"sender\": \"@bob:example.org\", \"content\":"
			       " {\"m.relates_to\": {\"rel_type\": \"m.annotation\", \"event_id\": \"$x\","
			       " \"key\": \"👍\"}}}";
	expect_rule(eval(r, reaction, &dm), ".m.rule.reaction", false, false, NULL);
	const char *edit = "{\"type\": \"m.room.message\", \"sender\": \"@bob:example.org\", \"content\":"
			   " {\"msgtype\": \"m.text\", \"body\": \"* fixed\", \"m.new_content\": {\"msgtype\":"
			   " \"m.text\", \"body\": \"fixed\"}, \"m.relates_to\": {\"rel_type\": \"m.replace\","
			   " \"event_id\": \"$x\"}}}";
	expect_rule(eval(r, edit, &dm), ".m.rule.suppress_edits", false, false, NULL);
	const char *acl = "{\"type\": \"m.room.server_acl\", \"state_key\": \"\", \"sender\": \"@bob:example.org\","
			  " \"content\": {\"allow\": [\"*\"]}}";
	expect_rule(eval(r, acl, &group), ".m.rule.room.server_acl", false, false, NULL);
	/* Nothing matches an event of another type. */
	const char *name = "{\"type\": \"m.room.name\", \"state_key\": \"\", \"sender\": \"@bob:example.org\","
			   " \"content\": {\"name\": \"alice's room\"}}";
	expect_rule(eval(r, name, &group), NULL, false, false, NULL);
	mx_push_rules_unref(r);
}

static void test_defaults_membership(void **state)
{
	(void)state;
	struct mx_push_rules *r = mx_push_rules_new(NULL);
	const char *invite_alice = "{\"type\": \"m.room.member\", \"state_key\": \"" ALICE "\","
				   " \"sender\": \"@bob:example.org\", \"content\": {\"membership\": \"invite\"}}";
	expect_rule(eval(r, invite_alice, NULL), ".m.rule.invite_for_me", true, false, "default");
	const char *invite_carol = "{\"type\": \"m.room.member\", \"state_key\": \"@carol:example.org\","
				   " \"sender\": \"@bob:example.org\", \"content\": {\"membership\": \"invite\"}}";
	expect_rule(eval(r, invite_carol, NULL), ".m.rule.member_event", false, false, NULL);
	const char *join = "{\"type\": \"m.room.member\", \"state_key\": \"@bob:example.org\","
			   " \"sender\": \"@bob:example.org\", \"content\": {\"membership\": \"join\","
			   " \"displayname\": \"alice\"}}";
	expect_rule(eval(r, join, NULL), ".m.rule.member_event", false, false, NULL);
	/* The tombstone highlights; only as a state event with an empty key. */
	const char *tomb = "{\"type\": \"m.room.tombstone\", \"state_key\": \"\", \"sender\": \"@bob:example.org\","
			   " \"content\": {\"body\": \"moved\", \"replacement_room\": \"!new:example.org\"}}";
	expect_rule(eval(r, tomb, NULL), ".m.rule.tombstone", true, true, NULL);
	const char *tomb_x = "{\"type\": \"m.room.tombstone\", \"state_key\": \"x\", \"sender\": \"@bob:example.org\","
			     " \"content\": {\"body\": \"moved\"}}";
	expect_rule(eval(r, tomb_x, NULL), NULL, false, false, NULL);
	mx_push_rules_unref(r);
}

static void test_defaults_mentions(void **state)
{
	(void)state;
	struct mx_push_rules *r = mx_push_rules_new(NULL);
	struct ctx c = {.members = 5, .display_name = "Alice Wonderland", .sender_power = 0};
	/* m.mentions user_ids (SPEC: .m.rule.is_user_mention). */
	const char *mention = "{\"type\": \"m.room.message\", \"sender\": \"@bob:example.org\", \"content\":"
			      " {\"msgtype\": \"m.text\", \"body\": \"hey\", \"m.mentions\": {\"user_ids\":"
			      " [\"" ALICE "\"]}}}";
	expect_rule(eval(r, mention, &c), ".m.rule.is_user_mention", true, true, "default");
	struct ctx carol = {.members = 5, .user = "@carol:example.org"};
	expect_rule(eval(r, mention, &carol), ".m.rule.message", true, false, NULL);
	/* An edit that mentions still highlights (the mention rule comes first). */
	const char *edit = "{\"type\": \"m.room.message\", \"sender\": \"@bob:example.org\", \"content\":"
			   " {\"msgtype\": \"m.text\", \"body\": \"* hey\", \"m.mentions\": {\"user_ids\":"
			   " [\"" ALICE "\"]}, \"m.relates_to\": {\"rel_type\": \"m.replace\", \"event_id\": \"$x\"}}}";
	expect_rule(eval(r, edit, &c), ".m.rule.is_user_mention", true, true, "default");
	/* The display name in the body (legacy rule, for clients without m.mentions). */
	expect_rule(eval(r, MSG("hello Alice Wonderland!"), &c), ".m.rule.contains_display_name", true,
		    true, "default");
	/* The localpart in the body (legacy content rule). */
	expect_rule(eval(r, MSG("ping alice"), &c), ".m.rule.contains_user_name", true, true, "default");
	/* With m.mentions present the legacy rules are off. */
	const char *intent = "{\"type\": \"m.room.message\", \"sender\": \"@bob:example.org\", \"content\":"
			     " {\"msgtype\": \"m.text\", \"body\": \"hello Alice Wonderland, alice\","
			     " \"m.mentions\": {}}}";
	expect_rule(eval(r, intent, &c), ".m.rule.message", true, false, NULL);
	/* @room: m.mentions.room from a sender with power (SPEC: .m.rule.is_room_mention). */
	const char *room = "{\"type\": \"m.room.message\", \"sender\": \"@bob:example.org\", \"content\":"
			   " {\"msgtype\": \"m.text\", \"body\": \"all\", \"m.mentions\": {\"room\": true}}}";
	struct ctx mod = {.members = 5, .sender_power = 50};
	expect_rule(eval(r, room, &mod), ".m.rule.is_room_mention", true, true, NULL);
	expect_rule(eval(r, room, &c), ".m.rule.message", true, false, NULL);
	struct ctx pl = {.members = 5, .sender_power = 0, .power_levels = "{\"notifications\": {\"room\": 0}}"};
	expect_rule(eval(r, room, &pl), ".m.rule.is_room_mention", true, true, NULL);
	/* "@room" in the body (legacy), also power-checked. */
	expect_rule(eval(r, MSG("@room look"), &mod), ".m.rule.roomnotif", true, true, NULL);
	expect_rule(eval(r, MSG("@room look"), &c), ".m.rule.message", true, false, NULL);
	/* Mentions in a 1:1 room still highlight. */
	struct ctx dm = {.members = 2, .display_name = "Alice Wonderland"};
	expect_rule(eval(r, mention, &dm), ".m.rule.is_user_mention", true, true, "default");
	mx_push_rules_unref(r);
}

static void test_defaults_json(void **state)
{
	(void)state;
	struct mx_push_rules *r = mx_push_rules_new(NULL);
	json_t *v = mx_push_rules_to_json(r, ALICE), *g = json_object_get(v, "global");
	static const char *const kinds[] = {"override", "content", "room", "sender", "underride"};
	for (size_t k = 0; k < 5; k++)
		assert_true(json_is_array(json_object_get(g, kinds[k])));
	json_t *ov = json_object_get(g, "override");
	static const char *const order[] = {
		".m.rule.master", ".m.rule.suppress_notices", ".m.rule.invite_for_me",
		".m.rule.member_event", ".m.rule.is_user_mention", ".m.rule.contains_display_name",
		".m.rule.is_room_mention", ".m.rule.roomnotif", ".m.rule.tombstone", ".m.rule.reaction",
		".m.rule.room.server_acl", ".m.rule.suppress_edits"};
	assert_int_equal(json_array_size(ov), 12);
	for (size_t i = 0; i < 12; i++) {
		json_t *rule = json_array_get(ov, i);
		assert_string_equal(json_string_value(json_object_get(rule, "rule_id")), order[i]);
		assert_true(json_is_true(json_object_get(rule, "default")));
		assert_true(json_is_array(json_object_get(rule, "conditions")));
		assert_true(json_is_array(json_object_get(rule, "actions")));
	}
	assert_true(json_is_false(json_object_get(json_array_get(ov, 0), "enabled")));
	/* Placeholders are filled in for the user. */
	json_t *inv = json_array_get(ov, 2);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(inv, "conditions"), 2), "pattern")),
			    ALICE);
	json_t *mention = json_array_get(ov, 4);
	json_t *cond = json_array_get(json_object_get(mention, "conditions"), 0);
	assert_string_equal(json_string_value(json_object_get(cond, "key")), "content.m\\.mentions.user_ids");
	assert_string_equal(json_string_value(json_object_get(cond, "value")), ALICE);
	json_t *content = json_object_get(g, "content");
	assert_int_equal(json_array_size(content), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(content, 0), "pattern")), "alice");
	assert_null(json_object_get(json_array_get(content, 0), "conditions"));
	json_t *under = json_object_get(g, "underride");
	static const char *const uorder[] = {".m.rule.call", ".m.rule.encrypted_room_one_to_one",
					     ".m.rule.room_one_to_one", ".m.rule.message",
					     ".m.rule.encrypted"};
	assert_int_equal(json_array_size(under), 5);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(json_string_value(json_object_get(json_array_get(under, i), "rule_id")),
				    uorder[i]);
	/* The exact definition of one rule (SPEC: .m.rule.room_one_to_one). */
	json_t *one = mx_push_rules_get(r, MX_PUSH_UNDERRIDE, ".m.rule.room_one_to_one", ALICE);
	json_t *want = J("{\"rule_id\": \".m.rule.room_one_to_one\", \"default\": true, \"enabled\": true,"
			 " \"conditions\": [{\"kind\": \"room_member_count\", \"is\": \"2\"},"
			 " {\"kind\": \"event_match\", \"key\": \"type\", \"pattern\": \"m.room.message\"}],"
			 " \"actions\": [\"notify\", {\"set_tweak\": \"sound\", \"value\": \"default\"}]}");
	assert_true(json_equal(one, want));
	json_decref(one);
	json_decref(want);
	assert_null(mx_push_rules_get(r, MX_PUSH_OVERRIDE, ".m.rule.message", ALICE));
	assert_true(mx_push_is_default_rule(MX_PUSH_OVERRIDE, ".m.rule.master"));
	assert_false(mx_push_is_default_rule(MX_PUSH_UNDERRIDE, ".m.rule.master"));
	json_decref(v);
	mx_push_rules_unref(r);
}

/* ---- the stored rules and the API's edits ---- */

static int put(json_t *stored, int kind, const char *id, const char *body, const char *before,
	       const char *after)
{
	json_t *b = J(body);
	const char *why = NULL;
	int rc = mx_push_stored_put(stored, kind, id, b, before, after, &why);
	if (rc)
		assert_non_null(why);
	json_decref(b);
	return rc;
}

/* The rule ids of a kind in the merged view, comma-separated. */
static const char *ids(json_t *stored, const char *kind, char *buf, size_t cap)
{
	struct mx_push_rules *r = mx_push_rules_new(stored);
	json_t *v = mx_push_rules_to_json(r, ALICE);
	buf[0] = '\0';
	size_t i, off = 0;
	json_t *e;
	json_array_foreach (json_object_get(json_object_get(v, "global"), kind), i, e) {
		const char *id = json_string_value(json_object_get(e, "rule_id"));
		if (id[0] == '.' && strcmp(id, ".m.rule.master") != 0)
			continue; /* only the user's rules and the master rule */
		off += (size_t)snprintf(buf + off, cap - off, "%s%s", off ? "," : "", id);
	}
	json_decref(v);
	mx_push_rules_unref(r);
	return buf;
}

static void test_stored_put_order(void **state)
{
	(void)state;
	char buf[256];
	json_t *s = json_object();
	const char *cake = "{\"pattern\": \"cake\", \"actions\": [\"notify\", {\"set_tweak\": \"sound\","
			   " \"value\": \"cakealarm.wav\"}]}";
	/* SPEC examples: "cake", then "cake*lie" placed before it. */
	assert_int_equal(put(s, MX_PUSH_CONTENT, "SSByZWFsbHkgbGlrZSBjYWtl", cake, NULL, NULL), 0);
	assert_int_equal(put(s, MX_PUSH_CONTENT, "U3BvbmdlIGNha2UgaXMgYmVzdA",
			     "{\"pattern\": \"cake*lie\", \"actions\": [\"notify\"]}",
			     "SSByZWFsbHkgbGlrZSBjYWtl", NULL),
			 0);
	assert_string_equal(ids(s, "content", buf, sizeof(buf)),
			    "U3BvbmdlIGNha2UgaXMgYmVzdA,SSByZWFsbHkgbGlrZSBjYWtl");
	struct mx_push_rules *r = mx_push_rules_new(s);
	expect_rule(eval(r, MSG("the cake is a lie"), NULL), "U3BvbmdlIGNha2UgaXMgYmVzdA", true, false, NULL);
	expect_rule(eval(r, MSG("cake!"), NULL), "SSByZWFsbHkgbGlrZSBjYWtl", true, false, "cakealarm.wav");
	mx_push_rules_unref(r);

	/* New rules without before/after go first; after places below. */
	assert_int_equal(put(s, MX_PUSH_OVERRIDE, "a", "{\"actions\": []}", NULL, NULL), 0);
	assert_int_equal(put(s, MX_PUSH_OVERRIDE, "b", "{\"actions\": []}", NULL, NULL), 0);
	assert_int_equal(put(s, MX_PUSH_OVERRIDE, "c", "{\"actions\": []}", NULL, "b"), 0);
	assert_string_equal(ids(s, "override", buf, sizeof(buf)), ".m.rule.master,b,c,a");
	/* An update keeps its place (and its enabled flag); before moves it. */
	assert_int_equal(mx_push_stored_set_enabled(s, MX_PUSH_OVERRIDE, "c", false), 0);
	assert_int_equal(put(s, MX_PUSH_OVERRIDE, "c", "{\"actions\": [\"notify\"]}", NULL, NULL), 0);
	assert_string_equal(ids(s, "override", buf, sizeof(buf)), ".m.rule.master,b,c,a");
	r = mx_push_rules_new(s);
	json_t *c = mx_push_rules_get(r, MX_PUSH_OVERRIDE, "c", ALICE);
	assert_true(json_is_false(json_object_get(c, "enabled")));
	assert_true(json_is_false(json_object_get(c, "default")));
	assert_true(json_is_array(json_object_get(c, "conditions")));
	json_decref(c);
	mx_push_rules_unref(r);
	assert_int_equal(put(s, MX_PUSH_OVERRIDE, "a", "{\"actions\": []}", "b", NULL), 0);
	assert_string_equal(ids(s, "override", buf, sizeof(buf)), ".m.rule.master,a,b,c");
	/* before wins over after. */
	assert_int_equal(put(s, MX_PUSH_OVERRIDE, "d", "{\"actions\": []}", "c", "a"), 0);
	assert_string_equal(ids(s, "override", buf, sizeof(buf)), ".m.rule.master,a,b,d,c");
	json_decref(s);
}

static void test_stored_put_invalid(void **state)
{
	(void)state;
	json_t *s = json_object();
	const char *ok = "{\"actions\": [\"notify\"]}";
	assert_int_equal(put(s, MX_PUSH_OVERRIDE, ".mine", ok, NULL, NULL), MX_EINVALIDPARAM);
	assert_int_equal(put(s, MX_PUSH_OVERRIDE, "a/b", ok, NULL, NULL), MX_EINVALIDPARAM);
	assert_int_equal(put(s, MX_PUSH_OVERRIDE, "a\\b", ok, NULL, NULL), MX_EINVALIDPARAM);
	assert_int_equal(put(s, MX_PUSH_OVERRIDE, "", ok, NULL, NULL), MX_EINVALIDPARAM);
	assert_int_equal(put(s, MX_PUSH_ROOM, "notaroom", ok, NULL, NULL), MX_EINVALIDPARAM);
	assert_int_equal(put(s, MX_PUSH_SENDER, "bob", ok, NULL, NULL), MX_EINVALIDPARAM);
	assert_int_equal(put(s, -1, "x", ok, NULL, NULL), MX_EINVALIDPARAM);
	assert_int_equal(put(s, MX_PUSH_OVERRIDE, "x", "{}", NULL, NULL), MX_EBADJSON);
	assert_int_equal(put(s, MX_PUSH_OVERRIDE, "x", "{\"actions\": \"notify\"}", NULL, NULL), MX_EBADJSON);
	assert_int_equal(put(s, MX_PUSH_OVERRIDE, "x", "{\"actions\": [\"explode\"]}", NULL, NULL), MX_EBADJSON);
	assert_int_equal(put(s, MX_PUSH_OVERRIDE, "x", "{\"actions\": [{\"value\": 1}]}", NULL, NULL), MX_EBADJSON);
	assert_int_equal(put(s, MX_PUSH_OVERRIDE, "x", "{\"actions\": [{\"set_tweak\": \"highlight\", \"value\": 1}]}",
			     NULL, NULL),
			 MX_EBADJSON);
	assert_int_equal(put(s, MX_PUSH_OVERRIDE, "x", "{\"actions\": [], \"conditions\": {}}", NULL, NULL),
			 MX_EBADJSON);
	assert_int_equal(put(s, MX_PUSH_OVERRIDE, "x", "{\"actions\": [], \"conditions\": [1]}", NULL, NULL),
			 MX_EBADJSON);
	assert_int_equal(put(s, MX_PUSH_OVERRIDE, "x",
			     "{\"actions\": [], \"conditions\": [{\"kind\": \"event_match\", \"key\": \"type\"}]}",
			     NULL, NULL),
			 MX_EBADJSON);
	assert_int_equal(put(s, MX_PUSH_OVERRIDE, "x",
			     "{\"actions\": [], \"conditions\": [{\"kind\": \"event_property_is\","
			     " \"key\": \"type\", \"value\": {}}]}",
			     NULL, NULL),
			 MX_EBADJSON);
	assert_int_equal(put(s, MX_PUSH_OVERRIDE, "x",
			     "{\"actions\": [], \"conditions\": [{\"kind\": \"room_member_count\", \"is\": \"~2\"}]}",
			     NULL, NULL),
			 MX_EBADJSON);
	assert_int_equal(put(s, MX_PUSH_CONTENT, "x", ok, NULL, NULL), MX_EBADJSON); /* no pattern */
	/* before/after must name a user rule of the kind. */
	assert_int_equal(put(s, MX_PUSH_OVERRIDE, "x", ok, "nope", NULL), MX_EBADREQUEST);
	assert_int_equal(put(s, MX_PUSH_OVERRIDE, "x", ok, ".m.rule.master", NULL), MX_EBADREQUEST);
	/* Nothing was stored by any of these. */
	for (int k = 0; k < MX_PUSH_KINDS; k++)
		assert_int_equal(json_array_size(json_object_get(json_object_get(s, "global"), mx_push_kind_name(k))), 0);
	/* Unknown condition kinds are stored (they never match). */
	assert_int_equal(put(s, MX_PUSH_OVERRIDE, "x", "{\"actions\": [], \"conditions\": [{\"kind\": \"future\"}]}",
			     NULL, NULL),
			 0);
	/* Historical actions are stripped. */
	assert_int_equal(put(s, MX_PUSH_UNDERRIDE, "y", "{\"actions\": [\"dont_notify\", \"coalesce\"]}", NULL, NULL), 0);
	json_t *y = json_array_get(json_object_get(json_object_get(s, "global"), "underride"), 0);
	assert_int_equal(json_array_size(json_object_get(y, "actions")), 0);
	json_decref(s);
}

static void test_stored_delete_enable_actions(void **state)
{
	(void)state;
	json_t *s = json_object();
	const char *why = NULL;
	struct ctx group = {.members = 5};
	assert_int_equal(put(s, MX_PUSH_SENDER, "@spambot:matrix.org", "{\"actions\": []}", NULL, NULL), 0);
	assert_int_equal(mx_push_stored_delete(s, MX_PUSH_SENDER, "@spambot:matrix.org", &why), 0);
	assert_int_equal(mx_push_stored_delete(s, MX_PUSH_SENDER, "@spambot:matrix.org", &why), MX_ENOTFOUND);
	assert_int_equal(mx_push_stored_delete(s, MX_PUSH_OVERRIDE, ".m.rule.master", &why), MX_EBADREQUEST);
	assert_int_equal(mx_push_stored_delete(s, MX_PUSH_OVERRIDE, ".m.rule.nope", &why), MX_ENOTFOUND);
	/* Disabling a default rule: group messages stop notifying. */
	assert_int_equal(mx_push_stored_set_enabled(s, MX_PUSH_UNDERRIDE, ".m.rule.message", false), 0);
	struct mx_push_rules *r = mx_push_rules_new(s);
	expect_rule(eval(r, MSG("hi"), &group), NULL, false, false, NULL);
	json_t *m = mx_push_rules_get(r, MX_PUSH_UNDERRIDE, ".m.rule.message", ALICE);
	assert_true(json_is_false(json_object_get(m, "enabled")));
	assert_true(json_is_true(json_object_get(m, "default")));
	json_decref(m);
	mx_push_rules_unref(r);
	/* Changing a default rule's actions. */
	json_t *acts = J("[\"notify\", {\"set_tweak\": \"highlight\"}]");
	assert_int_equal(mx_push_stored_set_enabled(s, MX_PUSH_UNDERRIDE, ".m.rule.message", true), 0);
	assert_int_equal(mx_push_stored_set_actions(s, MX_PUSH_UNDERRIDE, ".m.rule.message", acts, &why), 0);
	r = mx_push_rules_new(s);
	expect_rule(eval(r, MSG("hi"), &group), ".m.rule.message", true, true, NULL);
	mx_push_rules_unref(r);
	json_decref(acts);
	acts = J("[\"explode\"]");
	assert_int_equal(mx_push_stored_set_actions(s, MX_PUSH_UNDERRIDE, ".m.rule.message", acts, &why),
			 MX_EBADJSON);
	json_decref(acts);
	acts = J("[]");
	assert_int_equal(mx_push_stored_set_actions(s, MX_PUSH_UNDERRIDE, "nope", acts, &why), MX_ENOTFOUND);
	assert_int_equal(mx_push_stored_set_actions(s, MX_PUSH_OVERRIDE, ".m.rule.message", acts, &why),
			 MX_ENOTFOUND); /* wrong kind */
	assert_int_equal(mx_push_stored_set_enabled(s, MX_PUSH_ROOM, "!nope:x", true), MX_ENOTFOUND);
	json_decref(acts);
	/* The master rule silences everything, mentions included. */
	assert_int_equal(mx_push_stored_set_enabled(s, MX_PUSH_OVERRIDE, ".m.rule.master", true), 0);
	r = mx_push_rules_new(s);
	struct ctx c = {.members = 2, .display_name = "Alice"};
	expect_rule(eval(r, MSG("Alice!"), &c), ".m.rule.master", false, false, NULL);
	mx_push_rules_unref(r);
	json_decref(s);
}

static void test_room_and_sender_rules(void **state)
{
	(void)state;
	json_t *s = json_object();
	struct ctx group = {.members = 5, .display_name = "Alice"};
	/* SPEC examples: mute a room, mute a sender. */
	assert_int_equal(put(s, MX_PUSH_ROOM, "!r:example.org", "{\"actions\": []}", NULL, NULL), 0);
	assert_int_equal(put(s, MX_PUSH_SENDER, "@spambot:matrix.org", "{\"actions\": []}", NULL, NULL), 0);
	struct mx_push_rules *r = mx_push_rules_new(s);
	expect_rule(eval(r, MSG("hi"), &group), "!r:example.org", false, false, NULL);
	/* Overrides (mentions) still come first. */
	expect_rule(eval(r, MSG("hi Alice"), &group), ".m.rule.contains_display_name", true, true, "default");
	const char *spam = "{\"type\": \"m.room.message\", \"sender\": \"@spambot:matrix.org\","
			   " \"room_id\": \"!other:example.org\", \"content\": {\"msgtype\": \"m.text\","
			   " \"body\": \"buy\"}}";
	expect_rule(eval(r, spam, &group), "@spambot:matrix.org", false, false, NULL);
	json_t *v = mx_push_rules_to_json(r, ALICE);
	json_t *room = json_array_get(json_object_get(json_object_get(v, "global"), "room"), 0);
	assert_string_equal(json_string_value(json_object_get(room, "rule_id")), "!r:example.org");
	assert_null(json_object_get(room, "conditions"));
	assert_null(json_object_get(room, "pattern"));
	json_decref(v);
	mx_push_rules_unref(r);
	json_decref(s);
}

/* Stored content from elsewhere (hand-edited, older versions) never breaks evaluation. */
static void test_stored_garbage(void **state)
{
	(void)state;
	const char *texts[] = {
		"{}", "{\"global\": 1}", "{\"global\": {\"override\": 1}}",
		"{\"global\": {\"override\": [1, {}, {\"rule_id\": 2}, {\"rule_id\": \"x\"},"
		" {\"rule_id\": \"y\", \"actions\": \"notify\"}, {\"rule_id\": \"z\", \"actions\": [],"
		" \"conditions\": 7}, {\"rule_id\": \".m.rule.message\", \"enabled\": false}],"
		" \"content\": [{\"rule_id\": \"c\", \"actions\": []}],"
		" \"underride\": [{\"rule_id\": \".m.rule.message\", \"actions\": 5}]}}",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		json_t *s = J(texts[i]);
		struct mx_push_rules *r = mx_push_rules_new(s);
		struct ctx group = {.members = 5};
		expect_rule(eval(r, MSG("hi"), &group), ".m.rule.message", true, false, NULL);
		mx_push_rules_unref(r);
		json_decref(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob_spec_examples),
		cmocka_unit_test(test_glob_edges),
		cmocka_unit_test(test_cond_event_match),
		cmocka_unit_test(test_cond_property_is),
		cmocka_unit_test(test_cond_property_contains),
		cmocka_unit_test(test_cond_display_name),
		cmocka_unit_test(test_cond_member_count),
		cmocka_unit_test(test_cond_sender_permission),
		cmocka_unit_test(test_cond_unknown),
		cmocka_unit_test(test_defaults_messages),
		cmocka_unit_test(test_defaults_membership),
		cmocka_unit_test(test_defaults_mentions),
		cmocka_unit_test(test_defaults_json),
		cmocka_unit_test(test_stored_put_order),
		cmocka_unit_test(test_stored_put_invalid),
		cmocka_unit_test(test_stored_delete_enable_actions),
		cmocka_unit_test(test_room_and_sender_rules),
		cmocka_unit_test(test_stored_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
