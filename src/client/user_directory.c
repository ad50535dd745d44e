/* SPDX-License-Identifier: Apache-2.0 */
/*
 * User directory search (POST /user_directory/search) and the hooks that
 * keep the directory current: a room listener for joins, join rules and
 * history visibility, and a call from the profile handlers. Matching,
 * ranking and visibility live in store/user_directory.
 * SPEC: client-server-api#user-directory
 */
#include "client/user_directory.h"

#include <jansson.h>
#include <string.h>

#include "client/routes.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/server.h"
#include "http/request.h"
#include "room/room.h"
#include "store/user_directory.h"

void mx_user_directory_start(struct mx_server *srv)
{
	int rc = mx_store_user_directory_populate(srv->db);
	if (rc)
		mx_log_warn("user directory: populating failed (%s)", mx_error_message(rc));
	mx_rooms_add_listener(srv->rooms, mx_user_directory_on_room_event, srv);
}

void mx_user_directory_on_room_event(void *ctx, const struct mx_room_event *ev)
{
	struct mx_server *srv = ctx;
	int rc = 0;
	if (!ev->state_key)
		return;
	if (!strcmp(ev->type, "m.room.member")) {
		const char *m = json_string_value(
			json_object_get(json_object_get(ev->pdu, "content"), "membership"));
		/* Leaving changes who may see the user, which searches read
		 * from current state; only a join can bring new profile data. */
		if (!m || strcmp(m, "join") != 0)
			return;
		rc = mx_store_user_directory_refresh_user(srv->db, ev->state_key, ev->room_id);
	} else if (!ev->state_key[0] && (!strcmp(ev->type, "m.room.join_rules") ||
					 !strcmp(ev->type, "m.room.history_visibility"))) {
		rc = mx_store_user_directory_refresh_room(srv->db, ev->room_id);
	}
	if (rc)
		mx_log_warn("user directory: %s in %s: %s", ev->event_id, ev->room_id,
			    mx_error_message(rc));
}

void mx_user_directory_profile_changed(struct mx_req *req, const char *key)
{
	if (strcmp(key, "displayname") != 0 && strcmp(key, "avatar_url") != 0)
		return;
	int rc = mx_store_user_directory_refresh_user(req->srv->db, req->auth.user_id, NULL);
	if (rc)
		mx_log_warn("user directory: refreshing %s: %s", req->auth.user_id,
			    mx_error_message(rc));
}

/*
 * Synapse refuses longer terms nowhere, but no name we index is longer
 * (MX_USER_DIRECTORY_TEXT_MAX), so a longer term could never match.
 */
#define MX_USER_DIRECTORY_TERM_MAX MX_USER_DIRECTORY_TEXT_MAX

/* SPEC: client-server-api#post_matrixclientv3user_directorysearch */
static int mx_user_directory_search(struct mx_req *req)
{
	json_t *term = json_object_get(req->json, "search_term");
	if (!term)
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing 'search_term'");
	if (!json_is_string(term))
		return mx_req_fail(req, MX_EBADJSON, "'search_term' must be a string");
	const char *s = json_string_value(term);
	size_t len = json_string_length(term);
	if (len > MX_USER_DIRECTORY_TERM_MAX)
		return mx_req_fail(req, MX_EINVALIDPARAM, "'search_term' is longer than %d bytes",
				   MX_USER_DIRECTORY_TERM_MAX);
	if (memchr(s, '\0', len))
		return mx_req_fail(req, MX_EINVALIDPARAM, "'search_term' must not contain NUL");

	/* "The maximum number of results to return. Defaults to 10." Synapse
	 * caps it at 50; we also raise anything below 1 to 1. */
	json_int_t limit = MX_USER_DIRECTORY_LIMIT_DEFAULT;
	json_t *lv = json_object_get(req->json, "limit");
	if (lv && !json_is_null(lv)) {
		if (!json_is_integer(lv))
			return mx_req_fail(req, MX_EBADJSON, "'limit' must be an integer");
		limit = json_integer_value(lv);
	}
	if (limit < 1)
		limit = 1;
	if (limit > MX_USER_DIRECTORY_LIMIT_MAX)
		limit = MX_USER_DIRECTORY_LIMIT_MAX;

	struct mx_store_user_directory_hit *hits;
	size_t n;
	bool limited;
	int rc = mx_store_user_directory_search(req->w->rconn, &req->arena, req->auth.user_id, s, len,
						(int)limit, &hits, &n, &limited);
	if (rc == MX_EINVALID)
		return mx_req_fail(req, MX_EINVALIDPARAM, "'search_term' is not valid UTF-8");
	if (rc)
		return mx_req_fail(req, rc, NULL);

	json_t *results = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *r = json_pack("{s:s}", "user_id", hits[i].user_id);
		/* Optional in the schema: left out rather than null. */
		if (hits[i].display_name)
			json_object_set_new(r, "display_name", json_string(hits[i].display_name));
		if (hits[i].avatar_url)
			json_object_set_new(r, "avatar_url", json_string(hits[i].avatar_url));
		json_array_append_new(results, r);
	}
	json_t *body = json_object();
	json_object_set_new(body, "results", results);
	json_object_set_new(body, "limited", json_boolean(limited));
	return mx_req_reply_json(req, 200, body);
}

/* Guests may not search (Synapse: allow_guest=False). */
#define C MX_RES_CLIENT
const struct mx_route mx_user_directory_routes[] = {
	{MX_POST, "/_matrix/client/v3/user_directory/search", mx_user_directory_search,
	 MX_ROUTE_AUTH | MX_ROUTE_JSON, C, 0, 0},
};
const size_t mx_user_directory_routes_count =
	sizeof(mx_user_directory_routes) / sizeof(mx_user_directory_routes[0]);
