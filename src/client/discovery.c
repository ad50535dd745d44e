/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Discovery: /versions, the .well-known documents and /capabilities.
 * SPEC: client-server-api#server-discovery, #capabilities-negotiation
 */
#include <string.h>

#include "client/routes.h"
#include "core/config.h"
#include "core/error.h"
#include "http/request.h"

/* The spec versions whose endpoints we serve, oldest first. */
static const char *const mx_spec_versions[] = {
	"r0.0.1", "r0.1.0", "r0.2.0", "r0.3.0", "r0.4.0", "r0.5.0", "r0.6.0", "r0.6.1",
	"v1.1",   "v1.2",   "v1.3",   "v1.4",   "v1.5",   "v1.6",   "v1.7",   "v1.8",
	"v1.9",   "v1.10",  "v1.11",  "v1.12",
};

/* Room versions the server can create and join; "stable" per the spec. */
const char *const mx_room_versions[] = {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"};
const size_t mx_room_versions_count = sizeof(mx_room_versions) / sizeof(mx_room_versions[0]);

static int mx_client_versions(struct mx_req *req)
{
	json_t *v = json_array();
	for (size_t i = 0; i < sizeof(mx_spec_versions) / sizeof(mx_spec_versions[0]); i++)
		json_array_append_new(v, json_string(mx_spec_versions[i]));
	json_t *unstable = json_pack("{s:b, s:b}", "org.matrix.msc4222", 1,
				     /* MSC4186 simplified sliding sync (sync/sliding.c) */
				     "org.matrix.simplified_msc3575", 1);
	return mx_req_reply_json(req, 200,
				 json_pack("{s:o, s:o}", "versions", v, "unstable_features", unstable));
}

/* SPEC: client-server-api#getwell-knownmatrixclient */
static int mx_client_wellknown(struct mx_req *req)
{
	const struct mx_config *cfg = req->srv->cfg;
	json_t *doc = NULL;
	if (cfg->extra_well_known_client_content) {
		doc = json_loads(cfg->extra_well_known_client_content, 0, NULL);
		if (!json_is_object(doc)) {
			json_decref(doc);
			doc = NULL;
		}
	}
	if (!doc)
		doc = json_object();
	json_object_set_new(doc, "m.homeserver",
			    json_pack("{s:s}", "base_url", cfg->public_baseurl));
	mx_req_add_header(req, "Cache-Control", "public, max-age=3600");
	return mx_req_reply_json(req, 200, doc);
}

/* SPEC: server-server-api#getwell-knownmatrixserver */
static int mx_server_wellknown(struct mx_req *req)
{
	const struct mx_config *cfg = req->srv->cfg;
	if (!cfg->serve_server_wellknown || !cfg->serve_server_wellknown_host)
		return mx_req_fail(req, MX_ENOTFOUND, "No .well-known/matrix/server configured");
	mx_req_add_header(req, "Cache-Control", "public, max-age=3600");
	return mx_req_reply_json(req, 200,
				 json_pack("{s:s}", "m.server", cfg->serve_server_wellknown_host));
}

/* SPEC: client-server-api#get_matrixclientv3capabilities */
static int mx_client_capabilities(struct mx_req *req)
{
	const struct mx_config *cfg = req->srv->cfg;
	json_t *avail = json_object();
	for (size_t i = 0; i < mx_room_versions_count; i++)
		json_object_set_new(avail, mx_room_versions[i], json_string("stable"));
	json_t *caps = json_pack(
		"{s:{s:b}, s:{s:s, s:o}, s:{s:b}, s:{s:b}, s:{s:b}, s:{s:b}, s:{s:b}}",
		"m.change_password", "enabled", cfg->password_login_enabled,
		"m.room_versions", "default", cfg->default_room_version, "available", avail,
		"m.set_displayname", "enabled", 1,
		"m.set_avatar_url", "enabled", 1,
		"m.3pid_changes", "enabled", 0,
		"m.get_login_token", "enabled", 0,
		"m.profile_fields", "enabled", 1);
	return mx_req_reply_json(req, 200, json_pack("{s:o}", "capabilities", caps));
}

/* Load balancers and container health checks; Synapse answers the same. */
static int mx_health(struct mx_req *req)
{
	return mx_req_reply_raw(req, 200, "text/plain", "OK", 2);
}

const struct mx_route mx_discovery_routes[] = {
	{MX_GET, "/health", mx_health, 0, MX_RES_HEALTH, 0, 0},
	{MX_GET, "/_matrix/client/versions", mx_client_versions, MX_ROUTE_AUTH_OPTIONAL | MX_ROUTE_GUEST, MX_RES_CLIENT, 0, 0},
	{MX_GET, "/.well-known/matrix/client", mx_client_wellknown, 0, MX_RES_CLIENT, 0, 0},
	{MX_GET, "/.well-known/matrix/server", mx_server_wellknown, 0, MX_RES_FEDERATION | MX_RES_CLIENT, 0, 0},
	{MX_GET, "/_matrix/client/v3/capabilities", mx_client_capabilities, MX_ROUTE_AUTH | MX_ROUTE_GUEST, MX_RES_CLIENT, 0, 0},
};
const size_t mx_discovery_routes_count = sizeof(mx_discovery_routes) / sizeof(mx_discovery_routes[0]);
