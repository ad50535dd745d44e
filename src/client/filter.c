/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Filters: upload and download (POST/GET /user/{userId}/filter), and the
 * schema check /sync reuses for inline filters. Filters are stored as
 * canonical JSON text exactly as the client sent them (defaults are applied
 * where they are used, not stored), so a download returns the upload.
 * SPEC: client-server-api#filtering
 */
#include "client/filter.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "client/routes.h"
#include "core/canonjson.h"
#include "core/config.h"
#include "core/error.h"
#include "http/request.h"
#include "store/filters.h"

/* ---- schema check (pure) ---- */

/*
 * One message per field per place a sub-filter can appear, built at
 * compile time so that mx_filter_validate() can name the exact field
 * without formatting into a buffer.
 */
struct mx_filter_msgs {
	const char *object, *limit, *types, *not_types, *senders, *not_senders, *rooms, *not_rooms,
		*lazy, *redundant, *threads, *contains_url;
};

#define MX_FILTER_MSGS(where)                                                          \
	{                                                                              \
		"'" where "' must be an object",                                       \
		"'" where ".limit' must be an integer greater than 0",                 \
		"'" where ".types' must be an array of strings",                       \
		"'" where ".not_types' must be an array of strings",                   \
		"'" where ".senders' must be an array of user IDs",                    \
		"'" where ".not_senders' must be an array of user IDs",                \
		"'" where ".rooms' must be an array of room IDs",                      \
		"'" where ".not_rooms' must be an array of room IDs",                  \
		"'" where ".lazy_load_members' must be a boolean",                     \
		"'" where ".include_redundant_members' must be a boolean",             \
		"'" where ".unread_thread_notifications' must be a boolean",           \
		"'" where ".contains_url' must be a boolean",                          \
	}

static const struct mx_filter_msgs mx_filter_msgs_presence = MX_FILTER_MSGS("presence");
static const struct mx_filter_msgs mx_filter_msgs_account_data = MX_FILTER_MSGS("account_data");
static const struct mx_filter_msgs mx_filter_msgs_ephemeral = MX_FILTER_MSGS("room.ephemeral");
static const struct mx_filter_msgs mx_filter_msgs_state = MX_FILTER_MSGS("room.state");
static const struct mx_filter_msgs mx_filter_msgs_timeline = MX_FILTER_MSGS("room.timeline");
static const struct mx_filter_msgs mx_filter_msgs_room_account_data =
	MX_FILTER_MSGS("room.account_data");

static int mx_filter_fail(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return MX_EBADJSON;
}

/*
 * An absent key, or an array of strings; with a sigil, each string must
 * start with it (the schema's "^@" / "^!" patterns for user and room ids).
 */
static bool mx_filter_strings_ok(const json_t *obj, const char *key, char sigil)
{
	const json_t *v = json_object_get(obj, key);
	if (!v)
		return true;
	if (!json_is_array(v))
		return false;
	for (size_t i = 0; i < json_array_size(v); i++) {
		const json_t *e = json_array_get(v, i);
		if (!json_is_string(e))
			return false;
		if (sigil && json_string_value(e)[0] != sigil)
			return false;
	}
	return true;
}

static bool mx_filter_bool_ok(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	return !v || json_is_boolean(v);
}

/*
 * SPEC: definitions/event_filter.yaml, and with room set also
 * definitions/room_event_filter.yaml. Absent (f NULL) is fine.
 */
static int mx_filter_check_events(const json_t *f, bool room, const struct mx_filter_msgs *m,
				  const char **why)
{
	if (!f)
		return 0;
	if (!json_is_object(f))
		return mx_filter_fail(why, m->object);
	const json_t *limit = json_object_get(f, "limit");
	/* "must be an integer greater than 0" */
	if (limit && (!json_is_integer(limit) || json_integer_value(limit) < 1))
		return mx_filter_fail(why, m->limit);
	if (!mx_filter_strings_ok(f, "types", 0))
		return mx_filter_fail(why, m->types);
	if (!mx_filter_strings_ok(f, "not_types", 0))
		return mx_filter_fail(why, m->not_types);
	if (!mx_filter_strings_ok(f, "senders", '@'))
		return mx_filter_fail(why, m->senders);
	if (!mx_filter_strings_ok(f, "not_senders", '@'))
		return mx_filter_fail(why, m->not_senders);
	if (!room)
		return 0;
	if (!mx_filter_strings_ok(f, "rooms", '!'))
		return mx_filter_fail(why, m->rooms);
	if (!mx_filter_strings_ok(f, "not_rooms", '!'))
		return mx_filter_fail(why, m->not_rooms);
	if (!mx_filter_bool_ok(f, "lazy_load_members"))
		return mx_filter_fail(why, m->lazy);
	if (!mx_filter_bool_ok(f, "include_redundant_members"))
		return mx_filter_fail(why, m->redundant);
	if (!mx_filter_bool_ok(f, "unread_thread_notifications"))
		return mx_filter_fail(why, m->threads);
	if (!mx_filter_bool_ok(f, "contains_url"))
		return mx_filter_fail(why, m->contains_url);
	return 0;
}

/* SPEC: definitions/sync_filter.yaml, the RoomFilter object. */
static int mx_filter_check_room(const json_t *r, const char **why)
{
	if (!r)
		return 0;
	if (!json_is_object(r))
		return mx_filter_fail(why, "'room' must be an object");
	if (!mx_filter_strings_ok(r, "rooms", '!'))
		return mx_filter_fail(why, "'room.rooms' must be an array of room IDs");
	if (!mx_filter_strings_ok(r, "not_rooms", '!'))
		return mx_filter_fail(why, "'room.not_rooms' must be an array of room IDs");
	if (!mx_filter_bool_ok(r, "include_leave"))
		return mx_filter_fail(why, "'room.include_leave' must be a boolean");
	int rc = mx_filter_check_events(json_object_get(r, "ephemeral"), true,
					&mx_filter_msgs_ephemeral, why);
	if (!rc)
		rc = mx_filter_check_events(json_object_get(r, "state"), true, &mx_filter_msgs_state,
					    why);
	if (!rc)
		rc = mx_filter_check_events(json_object_get(r, "timeline"), true,
					    &mx_filter_msgs_timeline, why);
	if (!rc)
		rc = mx_filter_check_events(json_object_get(r, "account_data"), true,
					    &mx_filter_msgs_room_account_data, why);
	return rc;
}

int mx_filter_validate(const json_t *filter, const char **why)
{
	if (!json_is_object(filter))
		return mx_filter_fail(why, "The filter must be a JSON object");
	if (!mx_filter_strings_ok(filter, "event_fields", 0))
		return mx_filter_fail(why, "'event_fields' must be an array of strings");
	const json_t *fmt = json_object_get(filter, "event_format");
	if (fmt && !(json_is_string(fmt) && (!strcmp(json_string_value(fmt), "client") ||
					     !strcmp(json_string_value(fmt), "federation"))))
		return mx_filter_fail(why, "'event_format' must be 'client' or 'federation'");
	int rc = mx_filter_check_events(json_object_get(filter, "presence"), false,
					&mx_filter_msgs_presence, why);
	if (!rc)
		rc = mx_filter_check_events(json_object_get(filter, "account_data"), false,
					    &mx_filter_msgs_account_data, why);
	if (!rc)
		rc = mx_filter_check_room(json_object_get(filter, "room"), why);
	return rc;
}

/* ---- handlers ---- */

/* Filters belong to their user: nobody reads or writes another's. */
static int mx_filter_check_owner(struct mx_req *req, const char *user_id, const char *verb)
{
	if (strcmp(user_id, req->auth.user_id) != 0)
		return mx_req_fail(req, MX_EFORBIDDEN, "Cannot %s filters for other users", verb);
	return 0;
}

/* SPEC: client-server-api#post_matrixclientv3useruseridfilter */
static int mx_filter_create(struct mx_req *req)
{
	int rc = mx_filter_check_owner(req, mx_req_param(req, 0), "create");
	if (rc)
		return rc;
	const char *why = NULL;
	if (mx_filter_validate(req->json, &why))
		return mx_req_fail(req, MX_EBADJSON, "%s", why);
	int err = 0;
	/* The request body limit already bounds the filter; this is a backstop. */
	char *text = mx_canonjson_dumps(req->json, MX_CANONJSON_MAX_BYTES, &err);
	if (!text)
		return mx_req_fail(req, err ? err : MX_EBADJSON,
				   "The filter must be canonical JSON (no floats, integers within 2^53)");
	mx_arena_own(&req->arena, text);
	int64_t id;
	rc = mx_store_filter_add(req->srv->db, req->auth.user_id, text, &id);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	/* An id never starts with '{', so it cannot be taken for an inline filter. */
	const char *sid = mx_arena_printf(&req->arena, "%lld", (long long)id);
	return mx_req_reply_json(req, 200, json_pack("{s:s}", "filter_id", sid));
}

/* Parse a filter id we issued: decimal digits only; false for anything else. */
static bool mx_filter_parse_id(const char *s, int64_t *out)
{
	size_t n = strlen(s);
	if (n == 0 || n > 18 || strspn(s, "0123456789") != n)
		return false;
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

/* SPEC: client-server-api#get_matrixclientv3useruseridfilterfilterid */
static int mx_filter_get(struct mx_req *req)
{
	int rc = mx_filter_check_owner(req, mx_req_param(req, 0), "read");
	if (rc)
		return rc;
	int64_t id;
	if (!mx_filter_parse_id(mx_req_param(req, 1), &id))
		return mx_req_fail(req, MX_ENOTFOUND, "No such filter");
	const char *text;
	rc = mx_store_filter_get(req->w->rconn, &req->arena, req->auth.user_id, id, &text);
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, rc, "No such filter");
	if (rc)
		return mx_req_fail(req, rc, NULL);
	json_t *v = json_loads(text, 0, NULL);
	if (!v)
		return mx_req_fail(req, MX_EDB, "Stored filter is corrupt");
	return mx_req_reply_json(req, 200, v);
}

#define C MX_RES_CLIENT
const struct mx_route mx_filter_routes[] = {
	{MX_POST, "/_matrix/client/v3/user/{userId}/filter", mx_filter_create, MX_ROUTE_AUTH | MX_ROUTE_JSON, C, 0, 0},
	{MX_GET, "/_matrix/client/v3/user/{userId}/filter/{filterId}", mx_filter_get, MX_ROUTE_AUTH, C, 0, 0},
};
const size_t mx_filter_routes_count = sizeof(mx_filter_routes) / sizeof(mx_filter_routes[0]);
