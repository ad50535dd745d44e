/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/client/filter: the sync filter schema check. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "client/filter.h"
#include "core/error.h"

/* Parse text (a test literal, so it must parse) and validate it. */
static int validate(const char *text, const char **why)
{
	json_error_t e;
	json_t *f = json_loads(text, JSON_DECODE_ANY, &e);
	if (!f)
		fail_msg("bad test JSON: %s: %s", text, e.text);
	*why = NULL;
	int rc = mx_filter_validate(f, why);
	json_decref(f);
	return rc;
}

static void expect_ok(const char *text)
{
	const char *why;
	int rc = validate(text, &why);
	if (rc)
		fail_msg("%s: rejected: %s", text, why ? why : "(no reason)");
}

/* Rejected with M_BAD_JSON and a reason that mentions field. */
static void expect_bad(const char *text, const char *field)
{
	const char *why;
	int rc = validate(text, &why);
	if (rc != MX_EBADJSON)
		fail_msg("%s: expected MX_EBADJSON, got %d", text, rc);
	assert_non_null(why);
	if (!strstr(why, field))
		fail_msg("%s: reason '%s' does not name '%s'", text, why, field);
}

/* SPEC: client-server-api#post_matrixclientv3useruseridfilter: the request example. */
static void test_spec_example(void **state)
{
	(void)state;
	expect_ok("{\"room\": {"
		  "  \"state\": {\"types\": [\"m.room.*\"], \"not_rooms\": [\"!726s6s6q:example.com\"]},"
		  "  \"timeline\": {\"limit\": 10, \"types\": [\"m.room.message\"],"
		  "    \"not_rooms\": [\"!726s6s6q:example.com\"], \"not_senders\": [\"@spam:example.com\"]},"
		  "  \"ephemeral\": {\"types\": [\"m.receipt\", \"m.typing\"],"
		  "    \"not_rooms\": [\"!726s6s6q:example.com\"], \"not_senders\": [\"@spam:example.com\"]}},"
		  " \"presence\": {\"types\": [\"m.presence\"], \"not_senders\": [\"@alice:example.com\"]},"
		  " \"event_format\": \"client\","
		  " \"event_fields\": [\"type\", \"content\", \"sender\"]}");
}

static void test_minimal_and_full(void **state)
{
	(void)state;
	expect_ok("{}");
	expect_ok("{\"event_format\": \"federation\"}");
	expect_ok("{\"account_data\": {\"limit\": 1, \"types\": [], \"not_types\": [\"*\"],"
		  " \"senders\": [\"@a:b\"], \"not_senders\": []}}");
	expect_ok("{\"room\": {\"rooms\": [\"!a:b\"], \"not_rooms\": [\"!c\"], \"include_leave\": true,"
		  " \"account_data\": {\"limit\": 3, \"rooms\": [\"!x:y\"]},"
		  " \"state\": {\"lazy_load_members\": true, \"include_redundant_members\": false},"
		  " \"timeline\": {\"unread_thread_notifications\": true, \"contains_url\": false,"
		  "   \"limit\": 9007199254740991}}}");
	/* Unknown fields are allowed (the schema does not forbid them). */
	expect_ok("{\"org.example.custom\": [1, \"x\"], \"room\": {\"org.example\": true,"
		  " \"timeline\": {\"org.example.flag\": \"yes\"}}}");
}

static void test_top_level(void **state)
{
	(void)state;
	expect_bad("[]", "object");
	expect_bad("\"f\"", "object");
	expect_bad("{\"event_fields\": \"type\"}", "event_fields");
	expect_bad("{\"event_fields\": [\"type\", 1]}", "event_fields");
	expect_bad("{\"event_format\": \"xml\"}", "event_format");
	expect_bad("{\"event_format\": 1}", "event_format");
	expect_bad("{\"event_format\": null}", "event_format");
	expect_bad("{\"presence\": []}", "presence");
	expect_bad("{\"account_data\": \"all\"}", "account_data");
	expect_bad("{\"room\": 1}", "room");
}

/* SPEC: event_filter.yaml: "limit ... must be an integer greater than 0". */
static void test_limit(void **state)
{
	(void)state;
	expect_ok("{\"presence\": {\"limit\": 1}}");
	expect_bad("{\"presence\": {\"limit\": 0}}", "presence.limit");
	expect_bad("{\"presence\": {\"limit\": -5}}", "presence.limit");
	expect_bad("{\"room\": {\"timeline\": {\"limit\": \"ten\"}}}", "room.timeline.limit");
	expect_bad("{\"room\": {\"timeline\": {\"limit\": 1.0}}}", "room.timeline.limit");
	expect_bad("{\"room\": {\"state\": {\"limit\": null}}}", "room.state.limit");
	expect_bad("{\"room\": {\"ephemeral\": {\"limit\": true}}}", "room.ephemeral.limit");
	expect_bad("{\"room\": {\"account_data\": {\"limit\": [1]}}}", "room.account_data.limit");
}

/* The schema's patterns: senders "^@", rooms "^!". */
static void test_ids(void **state)
{
	(void)state;
	expect_bad("{\"presence\": {\"senders\": [\"alice\"]}}", "presence.senders");
	expect_bad("{\"presence\": {\"not_senders\": [\"!room:x\"]}}", "presence.not_senders");
	expect_bad("{\"account_data\": {\"senders\": \"@a:b\"}}", "account_data.senders");
	expect_bad("{\"room\": {\"rooms\": [\"#alias:x\"]}}", "room.rooms");
	expect_bad("{\"room\": {\"not_rooms\": [\"\"]}}", "room.not_rooms");
	expect_bad("{\"room\": {\"timeline\": {\"rooms\": [\"@u:x\"]}}}", "room.timeline.rooms");
	expect_bad("{\"room\": {\"state\": {\"not_rooms\": [1]}}}", "room.state.not_rooms");
	expect_bad("{\"room\": {\"timeline\": {\"types\": [null]}}}", "room.timeline.types");
	expect_bad("{\"room\": {\"timeline\": {\"not_types\": {}}}}", "room.timeline.not_types");
	/* rooms/not_rooms mean nothing in presence and account_data filters:
	 * they are unknown fields there, so any type passes. */
	expect_ok("{\"presence\": {\"rooms\": 5}}");
}

static void test_booleans(void **state)
{
	(void)state;
	expect_bad("{\"room\": {\"include_leave\": \"yes\"}}", "room.include_leave");
	expect_bad("{\"room\": {\"state\": {\"lazy_load_members\": 1}}}", "room.state.lazy_load_members");
	expect_bad("{\"room\": {\"timeline\": {\"include_redundant_members\": null}}}",
		   "include_redundant_members");
	expect_bad("{\"room\": {\"timeline\": {\"unread_thread_notifications\": \"true\"}}}",
		   "unread_thread_notifications");
	expect_bad("{\"room\": {\"account_data\": {\"contains_url\": 0}}}", "contains_url");
	expect_bad("{\"room\": {\"ephemeral\": []}}", "room.ephemeral");
}

/* why may be NULL. */
static void test_null_why(void **state)
{
	(void)state;
	json_t *f = json_loads("{\"room\": {\"timeline\": {\"limit\": 0}}}", 0, NULL);
	assert_int_equal(mx_filter_validate(f, NULL), MX_EBADJSON);
	json_decref(f);
	f = json_object();
	assert_int_equal(mx_filter_validate(f, NULL), 0);
	json_decref(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_example), cmocka_unit_test(test_minimal_and_full),
		cmocka_unit_test(test_top_level),    cmocka_unit_test(test_limit),
		cmocka_unit_test(test_ids),          cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_null_why),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
