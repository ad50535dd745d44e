/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The space hierarchy over federation (hierarchy.h): the outbound
 * question with its cache, and the inbound route, which answers from the
 * same room summaries our clients get (room/hierarchy.h), as the
 * requesting server may see them.
 */
#include "federation/hierarchy.h"

#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/server.h"
#include "core/ttlcache.h"
#include "event/ids.h"
#include "federation/client.h"
#include "federation/query_client.h"
#include "federation/routes.h"
#include "http/request.h"
#include "room/hierarchy.h"

/* ---- asking ---- */

static const char *mx_fh_cache_key(struct mx_arena *a, const char *room_id, bool suggested_only)
{
	return mx_arena_printf(a, "%s\n%d", room_id, suggested_only ? 1 : 0);
}

bool mx_fed_hierarchy_cached(struct mx_server *srv, struct mx_arena *a, const char *room_id,
			     bool suggested_only, json_t **out)
{
	const char *s = mx_ttlcache_get(srv->remote_hierarchy, a,
					mx_fh_cache_key(a, room_id, suggested_only),
					mx_clock_mono_ms());
	json_t *v = s ? json_loads(s, 0, NULL) : NULL;
	if (!json_is_object(v)) {
		json_decref(v);
		return false;
	}
	*out = mx_arena_json(a, v);
	return true;
}

/* One server: 0 with the checked answer, or the error its reply stands for. */
static int mx_fh_ask(struct mx_server *srv, struct mx_arena *a, const char *server,
		     const char *room_id, bool suggested_only, json_t **out)
{
	/* SPEC: server-server-api#get_matrixfederationv1hierarchyroomid */
	const char *uri = mx_arena_printf(a, "/_matrix/federation/v1/hierarchy/%s?suggested_only=%s",
					  mx_fed_query_escape(a, room_id),
					  suggested_only ? "true" : "false");
	struct mx_fed_request rq = {.destination = server, .method = "GET", .uri = uri,
				    .sign = true, .timeout_ms = MX_FED_HIERARCHY_TIMEOUT_MS,
				    .max_body = MX_FED_HIERARCHY_MAX_BODY};
	struct mx_fed_response r;
	memset(&r, 0, sizeof(r));
	int rc = mx_fed_request(srv->fed, &rq, &r);
	if (rc) {
		mx_log_info("federation: hierarchy of %s from %s failed: %s", room_id, server,
			    mx_error_message(rc));
		return MX_EREMOTE;
	}
	if (r.status == 404) {
		rc = MX_ENOTFOUND;
	} else if (r.status != 200 || !r.json) {
		mx_log_info("federation: hierarchy of %s from %s: HTTP %ld", room_id, server,
			    r.status);
		rc = MX_EREMOTE;
	} else if (!(*out = mx_hierarchy_check_answer(r.json, room_id))) {
		mx_log_info("federation: %s answered an unusable hierarchy of %s", server, room_id);
		rc = MX_EREMOTE;
	} else {
		mx_arena_json(a, *out);
	}
	mx_fed_response_release(&r);
	return rc;
}

int mx_fed_hierarchy_fetch(struct mx_server *srv, struct mx_arena *a, const char *room_id,
			   const json_t *via, bool suggested_only, json_t **out)
{
	*out = NULL;
	if (mx_fed_hierarchy_cached(srv, a, room_id, suggested_only, out))
		return 0;
	if (!srv->fed)
		return MX_EREMOTE;
	const char *asked[MX_FED_HIERARCHY_SERVERS];
	size_t n = 0;
	int rc = MX_ENOTFOUND;
	size_t i;
	const json_t *v;
	json_array_foreach (via, i, v) {
		const char *server = json_string_value(v);
		if (n == MX_FED_HIERARCHY_SERVERS)
			break;
		if (!server || !mx_id_server_name_valid(server) ||
		    !strcmp(server, srv->cfg->server_name))
			continue;
		bool dup = false;
		for (size_t j = 0; j < n && !dup; j++)
			dup = !strcmp(asked[j], server);
		if (dup)
			continue;
		asked[n++] = server;
		int r = mx_fh_ask(srv, a, server, room_id, suggested_only, out);
		if (!r) {
			char *text = json_dumps(*out, JSON_COMPACT);
			if (text) {
				mx_ttlcache_put(srv->remote_hierarchy,
						mx_fh_cache_key(a, room_id, suggested_only), text,
						mx_clock_mono_ms());
				free(text);
			}
			return 0;
		}
		if (r != MX_ENOTFOUND)
			rc = MX_EREMOTE;
	}
	return rc;
}

/* ---- answering ---- */

/* SPEC: server-server-api#get_matrixfederationv1hierarchyroomid */
static int mx_fed_hierarchy_get(struct mx_req *req)
{
	const char *room_id = mx_req_param(req, 0);
	if (!mx_id_room_valid(room_id, NULL))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid room id");
	const char *s = mx_req_query(req, "suggested_only");
	if (s && strcmp(s, "true") && strcmp(s, "false"))
		return mx_req_fail(req, MX_EINVALIDPARAM, "suggested_only must be true or false");
	struct mx_hierarchy_local l = {.rooms = req->srv->rooms, .w = req->w,
				       .server_name = req->srv->cfg->server_name,
				       .origin = req->auth.origin};
	struct mx_hierarchy_source src;
	mx_hierarchy_source_local(&src, &l);
	json_t *out;
	int rc = mx_hierarchy_answer(&src, &req->arena, room_id, s && !strcmp(s, "true"), &out);
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, rc, "Unknown room: %s", room_id);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	return mx_req_reply_json(req, 200, out);
}

const struct mx_route mx_federation_hierarchy_routes[] = {
	{MX_GET, "/_matrix/federation/v1/hierarchy/{roomId}", mx_fed_hierarchy_get,
	 MX_ROUTE_FEDERATION, MX_RES_FEDERATION, MX_RL_NONE, 0},
};
const size_t mx_federation_hierarchy_routes_count = MX_ARRAY_LEN(mx_federation_hierarchy_routes);
