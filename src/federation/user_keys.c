/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Other servers asking for our users' end-to-end encryption keys: one
 * user's device list, the device and cross-signing keys of many users, and
 * one-time key claims. The answers are the client API's (e2ee/keys.h) as
 * another server may see them: never a user-signing key, and only the
 * signatures the owner made. Naming a user of another server is refused
 * with 400, as Synapse does (SPEC: "Requested users must be local to the
 * receiving homeserver").
 * SPEC: server-server-api#end-to-end-encryption
 */
#include "federation/routes.h"

#include <string.h>

#include "core/config.h"
#include "core/error.h"
#include "core/mem.h"
#include "e2ee/keys.h"
#include "event/ids.h"
#include "http/request.h"
#include "store/e2ee.h"

static bool mx_fed_keys_local(struct mx_req *req, const char *user_id)
{
	const char *colon = strchr(user_id, ':');
	return colon && !strcmp(colon + 1, req->srv->cfg->server_name);
}

/* Refuse a map (checked already) naming a user of another server. */
static int mx_fed_keys_all_local(struct mx_req *req, const json_t *want)
{
	const char *user;
	json_t *v;
	json_object_foreach ((json_t *)want, user, v)
		if (!mx_fed_keys_local(req, user))
			return mx_req_fail(req, MX_EINVALIDPARAM, "Not a user here: %s", user);
	return 0;
}

/* SPEC: server-server-api#get_matrixfederationv1userdevicesuserid */
static int mx_fed_user_devices(struct mx_req *req)
{
	const char *user = mx_req_param(req, 0);
	if (!mx_id_user_valid(user))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid user ID");
	if (!mx_fed_keys_local(req, user))
		return mx_req_fail(req, MX_EINVALIDPARAM, "User is not hosted on this homeserver");
	struct mx_db_conn *c = req->w->rconn;
	int64_t pos;
	int rc = mx_store_e2ee_list_position(c, user, &pos);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	json_t *devs = mx_arena_json(&req->arena, json_object());
	json_t *master = mx_arena_json(&req->arena, json_object());
	json_t *self = mx_arena_json(&req->arena, json_object());
	rc = mx_e2ee_query_local(c, &req->arena, user, NULL, NULL, devs, master, self, NULL);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	json_t *list = json_array();
	const char *id;
	json_t *keys;
	json_object_foreach (devs, id, keys) {
		json_t *d = json_pack("{s:s}", "device_id", id);
		/* The name goes beside the keys here, not in their "unsigned". */
		json_t *name = json_object_get(json_object_get(keys, "unsigned"), "device_display_name");
		if (json_is_string(name) && req->srv->cfg->allow_device_name_lookup_over_federation)
			json_object_set(d, "device_display_name", name);
		json_object_del(keys, "unsigned");
		json_object_set(d, "keys", keys);
		json_array_append_new(list, d);
	}
	json_t *out = json_pack("{s:s, s:I, s:o}", "user_id", user, "stream_id", (json_int_t)pos,
				"devices", list);
	json_t *k;
	if ((k = json_object_get(master, user)))
		json_object_set(out, "master_key", k);
	if ((k = json_object_get(self, user)))
		json_object_set(out, "self_signing_key", k);
	return mx_req_reply_json(req, 200, out);
}

/* SPEC: server-server-api#post_matrixfederationv1userkeysquery */
static int mx_fed_user_keys_query(struct mx_req *req)
{
	json_t *want = json_object_get(req->json, "device_keys");
	if (!want)
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing device_keys");
	const char *msg;
	int rc = mx_e2ee_query_check(&req->arena, want, &msg);
	if (rc)
		return mx_req_fail(req, rc, "%s", msg);
	if ((rc = mx_fed_keys_all_local(req, want)))
		return rc;
	json_t *out = mx_arena_json(&req->arena,
				    json_pack("{s:{}, s:{}, s:{}}", "device_keys", "master_keys",
					      "self_signing_keys"));
	const char *user;
	json_t *list;
	json_object_foreach (want, user, list) {
		json_t *devs = json_object();
		json_object_set_new(json_object_get(out, "device_keys"), user, devs);
		rc = mx_e2ee_query_local(req->w->rconn, &req->arena, user, list, NULL, devs,
					 json_object_get(out, "master_keys"),
					 json_object_get(out, "self_signing_keys"), NULL);
		if (rc)
			return mx_req_fail(req, rc, NULL);
		if (!req->srv->cfg->allow_device_name_lookup_over_federation) {
			const char *dev;
			json_t *keys;
			json_object_foreach (devs, dev, keys)
				json_object_del(keys, "unsigned");
		}
	}
	return mx_req_reply_json(req, 200, json_incref(out));
}

/* SPEC: server-server-api#post_matrixfederationv1userkeysclaim */
static int mx_fed_user_keys_claim(struct mx_req *req)
{
	json_t *want = json_object_get(req->json, "one_time_keys");
	if (!want)
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing one_time_keys");
	const char *msg;
	size_t total;
	int rc = mx_e2ee_claim_check(&req->arena, want, &total, &msg);
	if (rc)
		return mx_req_fail(req, rc, "%s", msg);
	if ((rc = mx_fed_keys_all_local(req, want)))
		return rc;
	struct mx_e2ee_claim *cl = mx_arena_alloc(&req->arena, (total ? total : 1) * sizeof(*cl));
	size_t n = 0;
	const char *user, *dev;
	json_t *devs, *alg;
	json_object_foreach (want, user, devs)
		json_object_foreach (devs, dev, alg)
			cl[n++] = (struct mx_e2ee_claim){user, dev, json_string_value(alg), NULL, NULL};
	json_t *otks = mx_arena_json(&req->arena, json_object());
	rc = mx_e2ee_claim_local(req->srv->db, &req->arena, cl, n, otks);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	return mx_req_reply_json(req, 200, json_pack("{s:O}", "one_time_keys", otks));
}

#define F MX_ROUTE_FEDERATION
const struct mx_route mx_federation_user_keys_routes[] = {
	{MX_GET, "/_matrix/federation/v1/user/devices/{userId}", mx_fed_user_devices, F,
	 MX_RES_FEDERATION, MX_RL_NONE, 0},
	{MX_POST, "/_matrix/federation/v1/user/keys/query", mx_fed_user_keys_query,
	 F | MX_ROUTE_JSON, MX_RES_FEDERATION, MX_RL_NONE, 0},
	{MX_POST, "/_matrix/federation/v1/user/keys/claim", mx_fed_user_keys_claim,
	 F | MX_ROUTE_JSON, MX_RES_FEDERATION, MX_RL_NONE, 0},
};
const size_t mx_federation_user_keys_routes_count = MX_ARRAY_LEN(mx_federation_user_keys_routes);
