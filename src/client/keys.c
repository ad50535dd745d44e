/* SPDX-License-Identifier: Apache-2.0 */
/*
 * End-to-end encryption key management: upload device, one-time and
 * fallback keys, query other users' device keys, claim one-time keys,
 * and list device-list changes between two sync tokens. Local users only;
 * remote users are reported under "failures" until federation does it.
 * SPEC: client-server-api#key-management-api
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cross_signing.h"
#include "client/keys.h"
#include "client/routes.h"
#include "client/util.h"
#include "core/config.h"
#include "core/error.h"
#include "crypto/sign.h"
#include "http/request.h"
#include "store/e2ee.h"
#include "sync/e2ee.h"
#include "sync/sync_internal.h"

/* Bounds on one request, so that input cannot make us loop without end. */
#define MX_KEYS_MAX_OTKS 1000
#define MX_KEYS_MAX_CLAIMS 10000
#define MX_KEYS_MAX_ID 255

/* JSON text of obj without "unsigned", compact and sorted (caller frees). */
static char *mx_keys_dump_signed(const json_t *obj)
{
	json_t *copy = json_copy((json_t *)obj);
	json_object_del(copy, "unsigned");
	char *s = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(copy);
	return s;
}

/*
 * SPEC: client-server-api#post_matrixclientv3keysupload: device_keys must
 * be the caller's own device and self-signed by its ed25519 key. Replies on
 * error; on success *ed25519 is the device's signing key (borrowed from dk).
 */
static int mx_keys_check_device_keys(struct mx_req *req, const json_t *dk, const char **ed25519)
{
	const char *user = req->auth.user_id, *device = req->auth.device_id;
	if (!json_is_object(dk))
		return mx_req_fail(req, MX_EBADJSON, "device_keys must be an object");
	const char *uid = json_string_value(json_object_get(dk, "user_id"));
	const char *did = json_string_value(json_object_get(dk, "device_id"));
	if (!uid || !did)
		return mx_req_fail(req, MX_EBADJSON, "device_keys needs user_id and device_id strings");
	if (strcmp(uid, user) != 0)
		return mx_req_fail(req, MX_EINVALIDPARAM, "device_keys.user_id must be your own user ID");
	if (!device || strcmp(did, device) != 0)
		return mx_req_fail(req, MX_EINVALIDPARAM, "device_keys.device_id must be the device of this access token");
	json_t *algs = json_object_get(dk, "algorithms");
	if (!json_is_array(algs))
		return mx_req_fail(req, MX_EBADJSON, "device_keys.algorithms must be an array");
	size_t i;
	json_t *v;
	json_array_foreach (algs, i, v)
		if (!json_is_string(v))
			return mx_req_fail(req, MX_EBADJSON, "device_keys.algorithms must be strings");
	json_t *keys = json_object_get(dk, "keys");
	if (!json_is_object(keys))
		return mx_req_fail(req, MX_EBADJSON, "device_keys.keys must be an object");
	const char *k;
	json_object_foreach (keys, k, v)
		if (!json_is_string(v))
			return mx_req_fail(req, MX_EBADJSON, "device_keys.keys values must be strings");
	const char *kid = mx_arena_printf(&req->arena, "ed25519:%s", device);
	const char *pk = json_string_value(json_object_get(keys, kid));
	if (!pk)
		return mx_req_fail(req, MX_EINVALIDPARAM, "device_keys.keys lacks %s", kid);
	if (!json_is_object(json_object_get(dk, "signatures")))
		return mx_req_fail(req, MX_EBADJSON, "device_keys.signatures must be an object");
	int rc = mx_verify_json_b64key(dk, user, kid, pk);
	if (rc == MX_EINVALID)
		return mx_req_fail(req, MX_EINVALIDPARAM, "%s is not a base64 ed25519 key", kid);
	if (rc)
		return mx_req_fail(req, MX_EINVALIDPARAM, "device_keys: the signature by %s does not verify", kid);
	*ed25519 = pk;
	return 0;
}

/*
 * Parse one_time_keys or fallback_keys ("algorithm:key_id" -> key) into
 * out (arena), checking each signed key's signature with the device key.
 * Replies on error.
 */
static int mx_keys_parse_keys(struct mx_req *req, const char *field, const json_t *obj,
			      const char *ed25519, struct mx_e2ee_key **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!obj || json_is_null(obj))
		return 0;
	if (!json_is_object(obj))
		return mx_req_fail(req, MX_EBADJSON, "%s must be an object", field);
	size_t total = json_object_size(obj);
	if (total > MX_KEYS_MAX_OTKS)
		return mx_req_fail(req, MX_EINVALIDPARAM, "At most %d keys in %s per upload", MX_KEYS_MAX_OTKS,
				   field);
	if (!total)
		return 0;
	struct mx_e2ee_key *v = mx_arena_alloc(&req->arena, total * sizeof(*v));
	const char *user = req->auth.user_id, *device = req->auth.device_id;
	const char *kid = mx_arena_printf(&req->arena, "ed25519:%s", device ? device : "");
	const char *name;
	json_t *val;
	json_object_foreach ((json_t *)obj, name, val) {
		const char *colon = strchr(name, ':');
		if (!colon || colon == name || !colon[1] || strlen(name) > MX_KEYS_MAX_ID)
			return mx_req_fail(req, MX_EINVALIDPARAM, "%s: key name '%s' is not algorithm:key_id", field, name);
		const char *alg = mx_arena_strndup(&req->arena, name, (size_t)(colon - name));
		bool is_signed = !strncmp(alg, "signed_", 7);
		if (json_is_object(val)) {
			if (!json_is_string(json_object_get(val, "key")))
				return mx_req_fail(req, MX_EBADJSON, "%s.%s needs a key string", field, name);
			if (is_signed || json_object_get(val, "signatures")) {
				if (!ed25519)
					return mx_req_fail(req, MX_EINVALIDPARAM,
							   "Upload device_keys before signed %s", field);
				if (!json_is_object(json_object_get(val, "signatures")) ||
				    mx_verify_json_b64key(val, user, kid, ed25519))
					return mx_req_fail(req, MX_EINVALIDPARAM,
							   "%s.%s: the signature by %s does not verify", field,
							   name, kid);
			}
		} else if (!json_is_string(val) || is_signed) {
			return mx_req_fail(req, MX_EBADJSON, "%s.%s must be a %s", field, name,
					   is_signed ? "signed key object" : "key string or object");
		}
		char *text = json_is_object(val) ? mx_keys_dump_signed(val)
						 : json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!text)
			return mx_req_fail(req, MX_EBADJSON, "%s.%s cannot be encoded", field, name);
		v[*n].algorithm = alg;
		v[*n].key_id = colon + 1;
		v[*n].key_json = mx_arena_strdup(&req->arena, text);
		free(text);
		(*n)++;
	}
	*out = v;
	return 0;
}

/* SPEC: client-server-api#post_matrixclientv3keysupload */
static int mx_keys_upload(struct mx_req *req)
{
	const char *user = req->auth.user_id, *device = req->auth.device_id;
	if (!device)
		return mx_req_fail(req, MX_EINVALIDPARAM, "This access token has no device");
	struct mx_e2ee_upload u = {.user_id = user, .device_id = device};
	const char *ed25519 = NULL;
	json_t *dk = json_object_get(req->json, "device_keys");
	int rc;
	if (dk && !json_is_null(dk)) {
		rc = mx_keys_check_device_keys(req, dk, &ed25519);
		if (rc)
			return rc;
		char *text = mx_keys_dump_signed(dk);
		if (!text)
			return mx_req_fail(req, MX_EBADJSON, "device_keys cannot be encoded");
		u.device_keys = mx_arena_strdup(&req->arena, text);
		free(text);
	} else {
		const char *stored;
		if (!mx_store_e2ee_device_keys_get(req->w->rconn, &req->arena, user, device, &stored)) {
			json_t *o = mx_arena_json(&req->arena, json_loads(stored, 0, NULL));
			ed25519 = json_string_value(json_object_get(
				json_object_get(o, "keys"), mx_arena_printf(&req->arena, "ed25519:%s", device)));
		}
	}
	struct mx_e2ee_key *otks, *fbs;
	rc = mx_keys_parse_keys(req, "one_time_keys", json_object_get(req->json, "one_time_keys"), ed25519,
				&otks, &u.n_otks);
	if (rc)
		return rc;
	json_t *fb = json_object_get(req->json, "fallback_keys");
	if (!fb)
		fb = json_object_get(req->json, "org.matrix.msc2732.fallback_keys");
	rc = mx_keys_parse_keys(req, "fallback_keys", fb, ed25519, &fbs, &u.n_fallbacks);
	if (rc)
		return rc;
	u.otks = otks;
	u.fallbacks = fbs;
	rc = mx_store_e2ee_upload(req->srv->db, &u);
	if (rc == MX_EINVALIDPARAM)
		return mx_req_fail(req, rc, "One-time key %s already exists with other content", u.conflict);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	if (u.keys_changed)
		mx_sync_wake_sharers(req, user);
	return mx_req_reply_json(req, 200,
				 json_pack("{s:o}", "one_time_key_counts",
					   mx_store_e2ee_otk_counts(req->w->rconn, user, device)));
}

/* failures[server] for a remote user we cannot ask yet. */
static void mx_keys_remote_failure(json_t *failures, const char *user_id)
{
	const char *server = mx_client_id_server(user_id);
	if (server && !json_object_get(failures, server))
		json_object_set_new(failures, server,
				    json_pack("{s:i, s:s}", "status", 503, "message",
					      "Federation key queries are not supported yet"));
}

/* The device_keys object of a device for /keys/query (new reference). */
static json_t *mx_keys_device_json(const struct mx_e2ee_device *d)
{
	json_t *o = json_loads(d->key_json, 0, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	if (d->display_name)
		json_object_set_new(o, "unsigned", json_pack("{s:s}", "device_display_name", d->display_name));
	return o;
}

/* SPEC: client-server-api#post_matrixclientv3keysquery */
static int mx_keys_query(struct mx_req *req)
{
	json_t *want = json_object_get(req->json, "device_keys");
	if (!want)
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing device_keys");
	if (!json_is_object(want))
		return mx_req_fail(req, MX_EBADJSON, "device_keys must be an object");
	const char *user;
	json_t *list;
	json_object_foreach (want, user, list) {
		if (!mx_client_user_id_valid(user))
			return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid user ID '%s' in device_keys", user);
		if (!json_is_array(list))
			return mx_req_fail(req, MX_EBADJSON, "device_keys.%s must be an array of device IDs", user);
		size_t i;
		json_t *d;
		json_array_foreach (list, i, d)
			if (!json_is_string(d))
				return mx_req_fail(req, MX_EBADJSON, "device_keys.%s must be an array of device IDs", user);
	}
	json_t *out = json_object(), *failures = json_object();
	/* SPEC: cross-signing keys and their signatures (client/cross_signing). */
	json_t *csk = json_pack("{s:{},s:{},s:{}}", "master_keys", "self_signing_keys",
				"user_signing_keys");
	json_object_set_new(out, "", csk); /* owned by out until the reply */
	json_object_foreach (want, user, list) {
		if (!mx_client_is_local(req, user)) {
			mx_keys_remote_failure(failures, user);
			continue;
		}
		json_t *devs = json_object();
		json_object_set_new(out, user, devs);
		int csrc = mx_client_cross_signing_query(req, user, json_object_get(csk, "master_keys"),
							 json_object_get(csk, "self_signing_keys"),
							 json_object_get(csk, "user_signing_keys"));
		if (csrc) {
			json_decref(out);
			json_decref(failures);
			return mx_req_fail(req, csrc, NULL);
		}
		struct mx_e2ee_device *v;
		size_t n;
		/* SPEC: an empty list means every device of the user. */
		size_t nwant = json_array_size(list);
		for (size_t i = 0; i < (nwant ? nwant : 1); i++) {
			const char *only = nwant ? json_string_value(json_array_get(list, i)) : NULL;
			int rc = mx_store_e2ee_devices(req->w->rconn, &req->arena, user, only, &v, &n);
			if (rc) {
				json_decref(out);
				json_decref(failures);
				return mx_req_fail(req, rc, NULL);
			}
			for (size_t j = 0; j < n; j++) {
				json_t *o = mx_keys_device_json(&v[j]);
				if (o && mx_client_cross_signing_device(req, user, v[j].device_id, o)) {
					json_decref(o); /* unreadable signatures: leave it out */
					o = NULL;
				}
				if (o)
					json_object_set_new(devs, v[j].device_id, o);
			}
		}
	}
	json_incref(csk);
	json_object_del(out, "");
	json_object_set_new(csk, "device_keys", out);
	json_object_set_new(csk, "failures", failures);
	return mx_req_reply_json(req, 200, csk);
}

/* SPEC: client-server-api#post_matrixclientv3keysclaim */
static int mx_keys_claim(struct mx_req *req)
{
	json_t *want = json_object_get(req->json, "one_time_keys");
	if (!want)
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing one_time_keys");
	if (!json_is_object(want))
		return mx_req_fail(req, MX_EBADJSON, "one_time_keys must be an object");
	size_t total = 0;
	const char *user, *dev;
	json_t *devs, *alg;
	json_object_foreach (want, user, devs) {
		if (!mx_client_user_id_valid(user))
			return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid user ID '%s' in one_time_keys", user);
		if (!json_is_object(devs))
			return mx_req_fail(req, MX_EBADJSON, "one_time_keys.%s must be an object", user);
		json_object_foreach (devs, dev, alg)
			if (!json_is_string(alg))
				return mx_req_fail(req, MX_EBADJSON, "one_time_keys.%s.%s must be an algorithm name",
						   user, dev);
		total += json_object_size(devs);
	}
	if (total > MX_KEYS_MAX_CLAIMS)
		return mx_req_fail(req, MX_EINVALIDPARAM, "At most %d keys per claim", MX_KEYS_MAX_CLAIMS);
	struct mx_e2ee_claim *cl = mx_arena_alloc(&req->arena, (total ? total : 1) * sizeof(*cl));
	size_t n = 0;
	json_t *failures = json_object();
	json_object_foreach (want, user, devs) {
		if (!mx_client_is_local(req, user)) {
			mx_keys_remote_failure(failures, user);
			continue;
		}
		json_object_foreach (devs, dev, alg)
			cl[n++] = (struct mx_e2ee_claim){user, dev, json_string_value(alg), NULL, NULL};
	}
	int rc = mx_store_e2ee_claim(req->srv->db, &req->arena, cl, n);
	if (rc) {
		json_decref(failures);
		return mx_req_fail(req, rc, NULL);
	}
	json_t *out = json_object();
	for (size_t i = 0; i < n; i++) {
		if (!cl[i].key_json)
			continue;
		json_t *k = json_loads(cl[i].key_json, JSON_DECODE_ANY, NULL);
		if (!k)
			continue;
		json_t *u = json_object_get(out, cl[i].user_id);
		if (!u) {
			u = json_object();
			json_object_set_new(out, cl[i].user_id, u);
		}
		json_t *d = json_object_get(u, cl[i].device_id);
		if (!d) {
			d = json_object();
			json_object_set_new(u, cl[i].device_id, d);
		}
		json_object_set_new(d, mx_arena_printf(&req->arena, "%s:%s", cl[i].algorithm, cl[i].key_id), k);
	}
	return mx_req_reply_json(req, 200, json_pack("{s:o, s:o}", "one_time_keys", out, "failures", failures));
}

/* SPEC: client-server-api#get_matrixclientv3keyschanges */
static int mx_keys_changes(struct mx_req *req)
{
	const char *from = mx_req_query(req, "from"), *to = mx_req_query(req, "to");
	if (!from || !to)
		return mx_req_fail(req, MX_EMISSINGPARAM, "from and to are required");
	struct mx_sync_token f, t;
	if (mx_sync_parse_token(from, &f))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid from token");
	if (mx_sync_parse_token(to, &t))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid to token");
	json_t *changed = json_array(), *left = json_array();
	int rc = mx_sync_device_lists(req, req->auth.user_id, f.pos[MX_SYNC_EVENTS], t.pos[MX_SYNC_EVENTS],
				      f.pos[MX_SYNC_DEVICE_LISTS], t.pos[MX_SYNC_DEVICE_LISTS], changed, left);
	if (rc) {
		json_decref(changed);
		json_decref(left);
		return mx_req_fail(req, rc, NULL);
	}
	return mx_req_reply_json(req, 200, json_pack("{s:o, s:o}", "changed", changed, "left", left));
}

void mx_client_keys_devices_gone(struct mx_req *req, const char *user_id)
{
	mx_sync_wake_sharers(req, user_id);
}

#define C MX_RES_CLIENT
#define A (MX_ROUTE_AUTH | MX_ROUTE_GUEST)
const struct mx_route mx_keys_routes[] = {
	{MX_POST, "/_matrix/client/v3/keys/upload", mx_keys_upload, A | MX_ROUTE_JSON, C, 0, 0},
	{MX_POST, "/_matrix/client/v3/keys/query", mx_keys_query, A | MX_ROUTE_JSON, C, 0, 0},
	{MX_POST, "/_matrix/client/v3/keys/claim", mx_keys_claim, A | MX_ROUTE_JSON, C, 0, 0},
	{MX_GET, "/_matrix/client/v3/keys/changes", mx_keys_changes, A, C, 0, 0},
};
const size_t mx_keys_routes_count = sizeof(mx_keys_routes) / sizeof(mx_keys_routes[0]);
