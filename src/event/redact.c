/* SPDX-License-Identifier: Apache-2.0 */
/* The redaction algorithm of each room version. SPEC: client-server-api#redactions */
#include "event/redact.h"

#include <stdbool.h>
#include <string.h>

#include "core/mem.h"
#include "event/version.h"

/* SPEC: rooms/v11#redactions: the top-level keys every version keeps. */
static const char *const mx_redact_keep_all[] = {
	"event_id", "type", "room_id", "sender", "state_key", "content", "hashes",
	"signatures", "depth", "prev_events", "auth_events", "origin_server_ts", NULL,
};

/* SPEC: rooms/v1#redactions: v1-v10 also keep these; v11 drops them. */
static const char *const mx_redact_keep_pre_v11[] = {"prev_state", "origin", "membership", NULL};

static json_t *xcopy(const json_t *v)
{
	json_t *c = json_deep_copy(v);
	if (!c)
		MX_BUG("out of memory copying JSON");
	return c;
}

static void copy_key(json_t *dst, const json_t *src, const char *key)
{
	json_t *v = json_object_get(src, key);
	if (v && json_object_set_new(dst, key, xcopy(v)))
		MX_BUG("out of memory building JSON");
}

static void copy_keys(json_t *dst, const json_t *src, const char *const *keys)
{
	for (; *keys; keys++)
		copy_key(dst, src, *keys);
}

/* type is exactly the string s (an embedded NUL would fool strcmp()). */
static bool is(const json_t *type, const char *s)
{
	return json_string_length(type) == strlen(s) && !strcmp(json_string_value(type), s);
}

/* The content of a redacted event of type type. SPEC: rooms/v*#redactions */
static json_t *redact_content(const json_t *type, const json_t *content,
			      enum mx_redaction_algo algo)
{
	json_t *out;
	bool v11 = algo >= MX_REDACT_V11;

	if (!json_is_object(content) || !json_is_string(type))
		return json_object();

	/* SPEC: rooms/v11#redactions: "m.room.create allows all keys" */
	if (v11 && is(type, "m.room.create"))
		return xcopy(content);

	out = json_object();
	if (!out)
		MX_BUG("out of memory building JSON");
	if (is(type, "m.room.member")) {
		copy_key(out, content, "membership");
		/* SPEC: rooms/v9#redactions */
		if (algo >= MX_REDACT_V9)
			copy_key(out, content, "join_authorised_via_users_server");
		/*
		 * SPEC: rooms/v11#redactions: "it allows the signed key of the
		 * third_party_invite key". The spec does not say what happens to
		 * a third_party_invite without "signed": like Synapse, keep it
		 * as {} when it is an object and drop it otherwise.
		 */
		if (v11) {
			json_t *tpi = json_object_get(content, "third_party_invite");
			if (json_is_object(tpi)) {
				json_t *keep = json_object();
				if (!keep)
					MX_BUG("out of memory building JSON");
				copy_key(keep, tpi, "signed");
				json_object_set_new(out, "third_party_invite", keep);
			}
		}
	} else if (is(type, "m.room.create")) {
		copy_key(out, content, "creator");
	} else if (is(type, "m.room.join_rules")) {
		copy_key(out, content, "join_rule");
		/* SPEC: rooms/v8#redactions */
		if (algo >= MX_REDACT_V8)
			copy_key(out, content, "allow");
	} else if (is(type, "m.room.power_levels")) {
		static const char *const pl[] = {"ban", "events", "events_default", "kick",
						 "redact", "state_default", "users",
						 "users_default", NULL};
		copy_keys(out, content, pl);
		/* SPEC: rooms/v11#redactions */
		if (v11)
			copy_key(out, content, "invite");
	} else if (is(type, "m.room.history_visibility")) {
		copy_key(out, content, "history_visibility");
	} else if (is(type, "m.room.aliases")) {
		/* SPEC: rooms/v6#redactions drops the v1-v5 special case */
		if (algo < MX_REDACT_V6)
			copy_key(out, content, "aliases");
	} else if (is(type, "m.room.redaction")) {
		/* SPEC: rooms/v11#redactions */
		if (v11)
			copy_key(out, content, "redacts");
	}
	return out;
}

json_t *mx_event_redact(const json_t *event, const struct mx_room_version *v)
{
	json_t *out, *type;

	if (!json_is_object(event) || !v)
		return NULL;
	out = json_object();
	if (!out)
		MX_BUG("out of memory building JSON");
	copy_keys(out, event, mx_redact_keep_all);
	if (v->redaction < MX_REDACT_V11)
		copy_keys(out, event, mx_redact_keep_pre_v11);
	type = json_object_get(event, "type");
	if (json_object_set_new(out, "content",
				redact_content(type, json_object_get(event, "content"),
					       v->redaction)))
		MX_BUG("out of memory building JSON");
	return out;
}
