/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Our server's published keys and version.
 * SPEC: server-server-api#publishing-keys, #get_matrixfederationv1version
 */
#include "federation/routes.h"

#include <stdlib.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "crypto/keys.h"
#include "crypto/sign.h"
#include "http/request.h"

static int mx_key_server(struct mx_req *req)
{
	const struct mx_server *srv = req->srv;
	char *pk = mx_signing_key_public_b64(srv->key);
	json_t *keys = json_object();
	json_object_set_new(keys, srv->key->key_id, json_pack("{s:s}", "key", pk));
	free(pk);
	json_t *doc = json_pack("{s:s, s:I, s:o, s:{}}", "server_name", srv->cfg->server_name,
				"valid_until_ts",
				(json_int_t)(mx_clock_now_ms() + srv->cfg->key_valid_for_ms),
				"verify_keys", keys, "old_verify_keys");
	int rc = mx_sign_json(doc, srv->cfg->server_name, srv->key);
	if (rc) {
		json_decref(doc);
		return mx_req_fail(req, rc, "Signing failed");
	}
	return mx_req_reply_json(req, 200, doc);
}

static int mx_federation_version(struct mx_req *req)
{
	return mx_req_reply_json(req, 200,
				 json_pack("{s:{s:s, s:s}}", "server", "name", "Myelin", "version",
					   MX_VERSION));
}

const struct mx_route mx_federation_routes[] = {
	{MX_GET, "/_matrix/key/v2/server", mx_key_server, 0, MX_RES_KEYS | MX_RES_FEDERATION, 0, 0},
	{MX_GET, "/_matrix/federation/v1/version", mx_federation_version, 0, MX_RES_FEDERATION, 0, 0},
};
const size_t mx_federation_routes_count = sizeof(mx_federation_routes) / sizeof(mx_federation_routes[0]);
