/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer driver for the authorisation rules: arbitrary JSON as an event
 * against a fixed small room (create, two joined users, power levels, join
 * rules, a third-party invite), in several room versions. If the input is
 * a JSON array, its first element is the event and the rest are state
 * events that replace the room's (by their type and state_key), so that
 * hostile state is fuzzed too. For every input:
 *  - mx_auth_check() returns 0 (with no reason) or MX_EFORBIDDEN (with one),
 *    and gives the same answer twice;
 *  - mx_auth_event_types() stays within max and writes non-NULL pairs;
 *  - the power level helpers do not crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "core/canonjson.h"
#include "core/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const room_state_json[] = {
	"{\"type\":\"m.room.create\",\"state_key\":\"\",\"sender\":\"@alice:a.test\","
	"\"room_id\":\"!room:a.test\",\"event_id\":\"$create:a.test\",\"prev_events\":[],"
	"\"content\":{\"creator\":\"@alice:a.test\",\"additional_creators\":[\"@bob:b.test\"]}}",
	"{\"type\":\"m.room.member\",\"state_key\":\"@alice:a.test\",\"sender\":\"@alice:a.test\","
	"\"room_id\":\"!room:a.test\",\"content\":{\"membership\":\"join\"}}",
	"{\"type\":\"m.room.member\",\"state_key\":\"@bob:b.test\",\"sender\":\"@bob:b.test\","
	"\"room_id\":\"!room:a.test\",\"content\":{\"membership\":\"join\"}}",
	"{\"type\":\"m.room.member\",\"state_key\":\"@carol:c.test\",\"sender\":\"@carol:c.test\","
	"\"room_id\":\"!room:a.test\",\"content\":{\"membership\":\"ban\"}}",
	"{\"type\":\"m.room.power_levels\",\"state_key\":\"\",\"sender\":\"@alice:a.test\","
	"\"room_id\":\"!room:a.test\",\"content\":{\"users\":{\"@bob:b.test\":50,\"@dave:d.test\":\"75\"},"
	"\"events\":{\"m.room.name\":40},\"notifications\":{\"room\":20},\"invite\":10}}",
	"{\"type\":\"m.room.join_rules\",\"state_key\":\"\",\"sender\":\"@alice:a.test\","
	"\"room_id\":\"!room:a.test\",\"content\":{\"join_rule\":\"knock_restricted\"}}",
	"{\"type\":\"m.room.third_party_invite\",\"state_key\":\"tok\",\"sender\":\"@alice:a.test\","
	"\"room_id\":\"!room:a.test\",\"content\":{\"public_key\":\"qmcFDUtXyJzZRmZ5tLN1zKw7tM8Rf1lEwtdFu7aHtzI\","
	"\"public_keys\":[{\"public_key\":\"x\"},3]}}",
};

static const char *const versions[] = {"1", "3", "6", "7", "10", "11", "12"};

struct fuzz_room {
	json_t *state; /* {type: {state_key: event}} */
};

static const json_t *fuzz_get(void *ctx, const char *type, const char *state_key)
{
	struct fuzz_room *r = ctx;
	return json_object_get(json_object_get(r->state, type), state_key);
}

static void put(json_t *state, json_t *ev)
{
	const char *type = json_string_value(json_object_get(ev, "type"));
	const char *sk = json_string_value(json_object_get(ev, "state_key"));
	json_t *m;
	if (!type || !sk)
		return;
	m = json_object_get(state, type);
	if (!m) {
		m = json_object();
		json_object_set_new(state, type, m);
	}
	json_object_set(m, sk, ev);
}

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_auth: %s\n", what);
	abort();
}

static void run(const struct mx_room_version *v, const json_t *ev, const struct mx_auth_state *st)
{
	struct mx_auth_key keys[MX_AUTH_KEYS_MAX + 1];
	const char *why = "unset", *why2 = "unset";
	int rc = mx_auth_check(v, ev, st, &why), rc2;

	if (rc == 0 && why)
		fail("allowed with a reason");
	if (rc != 0 && (rc != MX_EFORBIDDEN || !why))
		fail("denied without MX_EFORBIDDEN and a reason");
	rc2 = mx_auth_check(v, ev, st, &why2);
	if (rc != rc2 || why != why2)
		fail("not deterministic");

	memset(keys, 0, sizeof(keys));
	size_t n = mx_auth_event_types(v, ev, keys, MX_AUTH_KEYS_MAX);
	if (n > MX_AUTH_KEYS_MAX || keys[MX_AUTH_KEYS_MAX].type)
		fail("event types overflow");
	for (size_t i = 0; i < n; i++)
		if (!keys[i].type || !keys[i].state_key)
			fail("event types wrote a NULL");
	if (mx_auth_event_types(v, ev, keys, 1) > 1)
		fail("event types ignored max");

	const json_t *pl = st->get(st->ctx, "m.room.power_levels", "");
	const json_t *create = st->get(st->ctx, "m.room.create", "");
	const char *sender = json_string_value(json_object_get(ev, "sender"));
	const char *type = json_string_value(json_object_get(ev, "type"));
	(void)mx_auth_user_power(v, pl, create, sender);
	(void)mx_auth_event_power(v, pl, type, json_object_get(ev, "state_key") != NULL);
	(void)mx_auth_is_creator(v, create, sender);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_room r;
	struct mx_auth_state st = {fuzz_get, &r};
	json_t *in, *ev;
	int err = 0;

	in = mx_json_parse_strict((const char *)data, size, &err);
	if (!in)
		return 0;
	r.state = json_object();
	for (size_t i = 0; i < sizeof(room_state_json) / sizeof(room_state_json[0]); i++) {
		json_t *e = json_loads(room_state_json[i], 0, NULL);
		if (!e)
			fail("bad fixed room JSON");
		put(r.state, e);
		json_decref(e);
	}
	ev = in;
	if (json_is_array(in)) {
		size_t i;
		json_t *x;
		ev = json_array_get(in, 0);
		json_array_foreach(in, i, x)
			if (i > 0)
				put(r.state, x);
	}
	if (!ev) {
		if (mx_auth_check(mx_room_version_get("1"), ev, &st, NULL) != MX_EINVALID)
			fail("NULL event not MX_EINVALID");
	} else {
		for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
			run(mx_room_version_get(versions[i]), ev, &st);
	}
	json_decref(r.state);
	json_decref(in);
	return 0;
}
