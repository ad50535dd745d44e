/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device management: list, read, rename and delete the calling user's own
 * devices. Deleting needs user-interactive auth and revokes every token of
 * the device. Devices are only ever the caller's: another user's device id
 * is simply not found.
 * SPEC: client-server-api#device-management
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/keys.h"
#include "client/routes.h"
#include "client/uia.h"
#include "client/util.h"
#include "core/canonjson.h"
#include "core/config.h"
#include "core/error.h"
#include "crypto/hash.h"
#include "http/request.h"
#include "store/accounts.h"

/* Device ids are at most 255 bytes (the same bound /login and /register apply). */
#define MX_DEVICE_ID_MAX 255
/* Display names: 100 code points, Synapse's limit. */
#define MX_DEVICE_NAME_MAX 100

static size_t mx_utf8_codepoints(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* SPEC: definitions/client_device.yaml: fields that are null are left out. */
static json_t *mx_device_json(const struct mx_device *d)
{
	json_t *o = json_object();
	json_object_set_new(o, "device_id", json_string(d->device_id));
	if (d->display_name)
		json_object_set_new(o, "display_name", json_string(d->display_name));
	if (d->last_seen_ip)
		json_object_set_new(o, "last_seen_ip", json_string(d->last_seen_ip));
	if (d->last_seen_ts)
		json_object_set_new(o, "last_seen_ts", json_integer(d->last_seen_ts));
	return o;
}

static bool mx_device_id_ok(const char *id)
{
	size_t n = strlen(id);
	return n > 0 && n <= MX_DEVICE_ID_MAX;
}

/* SPEC: client-server-api#get_matrixclientv3devices */
static int mx_devices_list(struct mx_req *req)
{
	struct mx_device *v;
	size_t n;
	int rc = mx_store_devices_list(req->w->rconn, &req->arena, req->auth.user_id, &v, &n);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, mx_device_json(&v[i]));
	return mx_req_reply_json(req, 200, json_pack("{s:o}", "devices", arr));
}

/* Look up one of the caller's devices; replies 404 if there is none. */
static int mx_device_find(struct mx_req *req, const char *id, struct mx_device *d)
{
	int rc = mx_device_id_ok(id) ? mx_store_device_get(req->w->rconn, &req->arena,
							    req->auth.user_id, id, d)
				     : MX_ENOTFOUND;
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, rc, "Device not found");
	if (rc)
		return mx_req_fail(req, rc, NULL);
	return 0;
}

/* SPEC: client-server-api#get_matrixclientv3devicesdeviceid */
static int mx_device_get(struct mx_req *req)
{
	struct mx_device d;
	int rc = mx_device_find(req, mx_req_param(req, 0), &d);
	if (rc)
		return rc;
	return mx_req_reply_json(req, 200, mx_device_json(&d));
}

/*
 * SPEC: client-server-api#put_matrixclientv3devicesdeviceid. Creating a
 * device here is for application services only (v1.17); we have none yet,
 * so an unknown device is 404 for everyone.
 */
static int mx_device_put(struct mx_req *req)
{
	const char *id = mx_req_param(req, 0);
	const char *name;
	int rc = mx_client_opt_string(req, req->json, "display_name", &name);
	if (rc)
		return rc;
	if (name && mx_utf8_codepoints(name) > MX_DEVICE_NAME_MAX)
		return mx_req_fail(req, MX_EINVALIDPARAM,
				   "display_name is too long (at most %d characters)",
				   MX_DEVICE_NAME_MAX);
	if (!name) {
		/* "If not given, the display name is unchanged": only check it exists. */
		struct mx_device d;
		rc = mx_device_find(req, id, &d);
		return rc ? rc : mx_req_reply_empty(req);
	}
	rc = mx_device_id_ok(id) ? mx_store_device_set_name(req->srv->db, req->auth.user_id, id, name)
				 : MX_ENOTFOUND;
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, rc, "Device not found");
	if (rc)
		return mx_req_fail(req, rc, NULL);
	return mx_req_reply_empty(req);
}

/*
 * Run the password flow for deleting devices. The session is pinned to the
 * exact operation (purpose), so a session opened to delete one device
 * cannot be completed to delete others.
 */
static int mx_devices_uia(struct mx_req *req, const char *purpose, struct mx_uia_result *uia)
{
	static const struct mx_uia_flow flows[] = {{{MX_UIA_PASSWORD}}};
	return mx_uia_run(req, purpose, req->auth.user_id, flows, 1, uia);
}

/*
 * SPEC: client-server-api#delete_matrixclientv3devicesdeviceid. UIA runs
 * whether or not the device exists (as Synapse does), and an unknown
 * device is then a success: it "had been removed previously".
 */
static int mx_device_delete(struct mx_req *req)
{
	const char *id = mx_req_param(req, 0);
	struct mx_uia_result uia;
	int rc = mx_devices_uia(req, mx_arena_printf(&req->arena, "delete_device:%s", id), &uia);
	if (rc)
		return rc;
	/* The store deletes the device's keys and inbox in the same write. */
	if (mx_device_id_ok(id)) {
		rc = mx_store_devices_delete(req->srv->db, req->auth.user_id, &id, 1);
		if (rc)
			return mx_req_fail(req, rc, NULL);
		mx_client_keys_devices_gone(req, req->auth.user_id);
	}
	mx_uia_finish(req, &uia);
	return mx_req_reply_empty(req);
}

/* SPEC: client-server-api#post_matrixclientv3delete_devices */
static int mx_devices_delete_many(struct mx_req *req)
{
	json_t *list = json_object_get(req->json, "devices");
	if (!list)
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing devices");
	if (!json_is_array(list))
		return mx_req_fail(req, MX_EBADJSON, "'devices' must be an array of device IDs");
	size_t n = json_array_size(list);
	const char **ids = mx_arena_alloc(&req->arena, (n ? n : 1) * sizeof(*ids));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(list, i);
		if (!json_is_string(e))
			return mx_req_fail(req, MX_EBADJSON, "'devices' must be an array of device IDs");
		/* Ids that cannot exist are skipped like unknown ones. */
		if (mx_device_id_ok(json_string_value(e)))
			ids[k++] = json_string_value(e);
	}
	/* Pin the session to this list: the digest of its canonical form. */
	int err = 0;
	char *canon = mx_canonjson_dumps(list, MX_CANONJSON_MAX_BYTES, &err);
	if (!canon)
		return mx_req_fail(req, err ? err : MX_EBADJSON, "Invalid device list");
	unsigned char digest[MX_SHA256_BYTES];
	mx_sha256(canon, strlen(canon), digest);
	free(canon);
	char hex[2 * MX_SHA256_BYTES + 1];
	for (size_t i = 0; i < MX_SHA256_BYTES; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	struct mx_uia_result uia;
	int rc = mx_devices_uia(req, mx_arena_printf(&req->arena, "delete_devices:%s", hex), &uia);
	if (rc)
		return rc;
	rc = mx_store_devices_delete(req->srv->db, req->auth.user_id, ids, k);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	if (k)
		mx_client_keys_devices_gone(req, req->auth.user_id);
	mx_uia_finish(req, &uia);
	return mx_req_reply_empty(req);
}

/* Guests may read and rename their devices, not delete them (modules/guest_access). */
#define C MX_RES_CLIENT
const struct mx_route mx_devices_routes[] = {
	{MX_GET, "/_matrix/client/v3/devices", mx_devices_list, MX_ROUTE_AUTH | MX_ROUTE_GUEST, C, 0, 0},
	{MX_GET, "/_matrix/client/v3/devices/{deviceId}", mx_device_get, MX_ROUTE_AUTH | MX_ROUTE_GUEST, C, 0, 0},
	{MX_PUT, "/_matrix/client/v3/devices/{deviceId}", mx_device_put, MX_ROUTE_AUTH | MX_ROUTE_GUEST | MX_ROUTE_JSON, C, 0, 0},
	{MX_DELETE, "/_matrix/client/v3/devices/{deviceId}", mx_device_delete, MX_ROUTE_AUTH | MX_ROUTE_JSON, C, 0, 0},
	{MX_POST, "/_matrix/client/v3/delete_devices", mx_devices_delete_many, MX_ROUTE_AUTH | MX_ROUTE_JSON, C, 0, 0},
};
const size_t mx_devices_routes_count = sizeof(mx_devices_routes) / sizeof(mx_devices_routes[0]);
