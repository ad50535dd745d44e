/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cross-signing: POST /keys/device_signing/upload (a user's master,
 * self-signing and user-signing keys) and POST /keys/signatures/upload
 * (signatures over the user's own devices and master key, and over other
 * users' master keys). Every key and signature is checked before anything
 * is stored; the signatures endpoint reports what it refused per key in
 * "failures" and stores the rest.
 * SPEC: client-server-api#cross-signing
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "client/keys.h"
#include "client/routes.h"
#include "client/uia.h"
#include "client/util.h"
#include "core/config.h"
#include "core/error.h"
#include "core/mem.h"
#include "crypto/cross_signing.h"
#include "http/request.h"
#include "store/cross_signing.h"
#include "store/e2ee.h"

/* Reply 400 with errcode (a Matrix errcode with no MX_E* of its own). */
static int mx_cs_fail(struct mx_req *req, const char *errcode, const char *msg)
{
	return mx_req_fail_json(req, MX_EINVALIDPARAM, 400,
				json_pack("{s:s,s:s}", "errcode", errcode, "error", msg));
}

/* SPEC: client-server-api#post_matrixclientv3keysdevice_signingupload */
static int mx_cs_upload(struct mx_req *req)
{
	static const char *const usages[3] = {MX_CS_MASTER, MX_CS_SELF_SIGNING,
					      MX_CS_USER_SIGNING};
	static const char *const fields[3] = {"master_key", "self_signing_key",
					      "user_signing_key"};
	const char *me = req->auth.user_id;
	json_t *keys[3];
	const char *pubs[3] = {0};
	json_t *stored[3] = {0};
	for (int i = 0; i < 3; i++) {
		keys[i] = json_object_get(req->json, fields[i]);
		int rc = mx_store_cross_signing_key_get(req->w->rconn, &req->arena, me, usages[i],
							&stored[i]);
		if (rc && rc != MX_ENOTFOUND)
			return mx_req_fail(req, rc, NULL);
		if (!keys[i])
			continue;
		const char *msg;
		rc = mx_cross_signing_key_check(keys[i], me, usages[i], &pubs[i], &msg);
		if (rc)
			return mx_req_fail(req, rc, "%s: %s", fields[i], msg);
	}
	/* The master key that must have signed the other two. */
	json_t *master = keys[0] ? keys[0] : stored[0];
	const char *master_pub = pubs[0];
	if (!keys[0] && stored[0]) {
		const char *msg;
		if (mx_cross_signing_key_check(stored[0], me, MX_CS_MASTER, &master_pub, &msg))
			return mx_req_fail(req, MX_EDB, "The stored master key is damaged");
	}
	for (int i = 1; i < 3; i++) {
		if (!keys[i])
			continue;
		if (!master)
			return mx_req_fail(req, MX_EMISSINGPARAM, "No master key available");
		/* SPEC: "self_signing_key ... Must be signed by the accompanying
		 * master key, or by the user's most recently uploaded master key" */
		if (mx_cross_signing_verify(keys[i], me, master_pub, master_pub))
			return mx_cs_fail(req, "M_INVALID_SIGNATURE",
					  "The key is not signed by the master key");
	}
	/* Re-uploading exactly the stored keys changes nothing (Synapse). */
	bool different = false;
	for (int i = 0; i < 3; i++)
		if (keys[i] && !(stored[i] && json_equal(keys[i], stored[i])))
			different = true;
	if (!different)
		return mx_req_reply_empty(req);
	/*
	 * SPEC: "This API endpoint uses the User-Interactive Authentication API",
	 * except, as Synapse allows, for a user's first master key: nothing is
	 * being replaced then.
	 */
	struct mx_uia_result uia = {0};
	bool need_uia = stored[0] != NULL;
	if (need_uia) {
		static const struct mx_uia_flow flows[] = {{{MX_UIA_PASSWORD}}};
		int rc = mx_uia_run(req, "device_signing_upload", me, flows, 1, &uia);
		if (rc)
			return rc;
	} else if (!keys[0]) {
		return mx_req_fail(req, MX_EMISSINGPARAM, "No master key available");
	}
	const char *u[3], *ids[3], *texts[3];
	size_t n = 0;
	for (int i = 0; i < 3; i++) {
		if (!keys[i])
			continue;
		char *t = json_dumps(keys[i], JSON_COMPACT | JSON_SORT_KEYS);
		if (!t)
			return mx_req_fail(req, MX_EBADJSON, "%s cannot be stored", fields[i]);
		u[n] = usages[i];
		ids[n] = mx_arena_printf(&req->arena, "ed25519:%s", pubs[i]);
		texts[n++] = mx_arena_own(&req->arena, t);
	}
	int rc = mx_store_cross_signing_keys_put(req->srv->db, me, u, ids, texts, n);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	if (need_uia)
		mx_uia_finish(req, &uia);
	mx_client_keys_devices_gone(req, me); /* wakes those who track our keys */
	return mx_req_reply_empty(req);
}

/* One refused key of a signatures upload. */
static void mx_cs_failure(json_t *failures, const char *user, const char *key_id, int status,
			  const char *errcode, const char *msg)
{
	json_t *u = json_object_get(failures, user);
	if (!u) {
		u = json_object();
		json_object_set_new(failures, user, u);
	}
	json_object_set_new(u, key_id,
			    json_pack("{s:i,s:s,s:s}", "status", status, "errcode", errcode,
				      "error", msg));
}

/* The signature string obj.signatures[me][kid], or NULL. */
static const char *mx_cs_sig(const json_t *obj, const char *me, const char *kid)
{
	return json_string_value(
		json_object_get(json_object_get(json_object_get(obj, "signatures"), me), kid));
}

/* The public key of a stored key (borrowed from it), or NULL. */
static const char *mx_cs_pub(const json_t *key)
{
	json_t *keys = json_object_get(key, "keys");
	return json_string_value(json_object_iter_value(json_object_iter(keys)));
}

/*
 * One object of a signatures upload: checks it and, if valid, appends the
 * signature to out[*n]; else records a failure. Returns an MX_E* only on
 * database failure.
 */
static int mx_cs_sign_one(struct mx_req *req, const char *user, const char *key_id, json_t *obj,
			  json_t *failures, struct mx_cs_signature *out, size_t *n)
{
	const char *me = req->auth.user_id;
	struct mx_db_conn *c = req->w->rconn;
	json_t *target_master = NULL, *signer_key = NULL;
	if (!json_is_object(obj)) {
		mx_cs_failure(failures, user, key_id, 400, "M_BAD_JSON", "Not an object");
		return 0;
	}
	int rc = mx_store_cross_signing_key_get(c, &req->arena, user, MX_CS_MASTER, &target_master);
	if (rc && rc != MX_ENOTFOUND)
		return rc;
	const char *tm_pub = target_master ? mx_cs_pub(target_master) : NULL;
	bool is_master = tm_pub && !strcmp(tm_pub, key_id);

	if (strcmp(user, me) != 0) {
		/* Another user's master key, signed with our user-signing key. */
		if (!is_master) {
			mx_cs_failure(failures, user, key_id, 404, "M_NOT_FOUND",
				      "Not the user's master key");
			return 0;
		}
		rc = mx_store_cross_signing_key_get(c, &req->arena, me, MX_CS_USER_SIGNING,
						    &signer_key);
		if (rc == MX_ENOTFOUND) {
			mx_cs_failure(failures, user, key_id, 400, "M_MISSING_PARAM",
				      "No user-signing key uploaded");
			return 0;
		}
		if (rc)
			return rc;
	} else if (is_master) {
		/* Our own master key, signed by one of our devices. */
		const char *dev_kid = NULL, *k;
		json_t *v;
		json_object_foreach(json_object_get(json_object_get(obj, "signatures"), me), k, v) {
			if (!strncmp(k, "ed25519:", 8) && strcmp(k + 8, tm_pub) != 0) {
				dev_kid = k;
				break;
			}
		}
		const char *dkeys_text = NULL;
		if (dev_kid)
			rc = mx_store_e2ee_device_keys_get(c, &req->arena, me, dev_kid + 8,
							   &dkeys_text);
		if (!dev_kid || rc == MX_ENOTFOUND) {
			mx_cs_failure(failures, user, key_id, 400, "M_INVALID_SIGNATURE",
				      "No signature by a known device");
			return 0;
		}
		if (rc)
			return rc;
		json_t *dk = mx_arena_json(&req->arena, json_loads(dkeys_text, 0, NULL));
		const char *dpub = json_string_value(
			json_object_get(json_object_get(dk, "keys"), dev_kid));
		if (!mx_cross_signing_same_key(obj, target_master)) {
			mx_cs_failure(failures, user, key_id, 400, "M_INVALID_PARAM",
				      "The signed key does not match the stored master key");
			return 0;
		}
		if (!dpub || mx_cross_signing_verify(obj, me, dev_kid + 8, dpub)) {
			mx_cs_failure(failures, user, key_id, 400, "M_INVALID_SIGNATURE",
				      "Invalid signature");
			return 0;
		}
		out[(*n)++] = (struct mx_cs_signature){user, key_id, me, dev_kid,
						       mx_cs_sig(obj, me, dev_kid)};
		return 0;
	} else {
		/* One of our devices, signed with our self-signing key. */
		const char *dkeys_text;
		rc = mx_store_e2ee_device_keys_get(c, &req->arena, me, key_id, &dkeys_text);
		if (rc == MX_ENOTFOUND) {
			mx_cs_failure(failures, user, key_id, 404, "M_NOT_FOUND", "Unknown device");
			return 0;
		}
		if (rc)
			return rc;
		json_t *dk = mx_arena_json(&req->arena, json_loads(dkeys_text, 0, NULL));
		if (!mx_cross_signing_same_key(obj, dk)) {
			mx_cs_failure(failures, user, key_id, 400, "M_INVALID_PARAM",
				      "The signed key does not match the device's keys");
			return 0;
		}
		target_master = dk; /* compared already: the object is the device's */
		rc = mx_store_cross_signing_key_get(c, &req->arena, me, MX_CS_SELF_SIGNING,
						    &signer_key);
		if (rc == MX_ENOTFOUND) {
			mx_cs_failure(failures, user, key_id, 400, "M_MISSING_PARAM",
				      "No self-signing key uploaded");
			return 0;
		}
		if (rc)
			return rc;
	}
	if (target_master && !mx_cross_signing_same_key(obj, target_master)) {
		mx_cs_failure(failures, user, key_id, 400, "M_INVALID_PARAM",
			      "The signed key does not match the stored master key");
		return 0;
	}
	const char *spub = mx_cs_pub(signer_key);
	const char *skid = mx_arena_printf(&req->arena, "ed25519:%s", spub ? spub : "");
	if (!spub || !mx_cs_sig(obj, me, skid)) {
		mx_cs_failure(failures, user, key_id, 400, "M_INVALID_SIGNATURE",
			      "Missing signature");
		return 0;
	}
	if (mx_cross_signing_verify(obj, me, spub, spub)) {
		mx_cs_failure(failures, user, key_id, 400, "M_INVALID_SIGNATURE",
			      "Invalid signature");
		return 0;
	}
	out[(*n)++] = (struct mx_cs_signature){user, key_id, me, skid, mx_cs_sig(obj, me, skid)};
	return 0;
}

/* SPEC: client-server-api#post_matrixclientv3keyssignaturesupload */
static int mx_cs_signatures_upload(struct mx_req *req)
{
	size_t cap = 0;
	const char *user;
	json_t *objs;
	json_object_foreach(req->json, user, objs) {
		if (!json_is_object(objs))
			return mx_req_fail(req, MX_EBADJSON, "Each user must map to an object");
		cap += json_object_size(objs);
	}
	struct mx_cs_signature *sigs =
		mx_arena_alloc(&req->arena, (cap ? cap : 1) * sizeof(*sigs));
	size_t n = 0;
	json_t *failures = mx_arena_json(&req->arena, json_object());
	json_object_foreach(req->json, user, objs) {
		const char *key_id;
		json_t *obj;
		json_object_foreach(objs, key_id, obj) {
			int rc = 0;
			if (!mx_client_user_id_valid(user) || !mx_client_is_local(req, user))
				mx_cs_failure(failures, user, key_id, 404, "M_NOT_FOUND",
					      "Unknown user");
			else
				rc = mx_cs_sign_one(req, user, key_id, obj, failures, sigs, &n);
			if (rc)
				return mx_req_fail(req, rc, NULL);
		}
	}
	int rc = mx_store_cross_signing_sigs_put(req->srv->db, sigs, n);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	for (size_t i = 0; i < n; i++)
		mx_client_keys_devices_gone(req, sigs[i].target_user_id);
	return mx_req_reply_json(req, 200, json_pack("{s:O}", "failures", failures));
}

#define C MX_RES_CLIENT
const struct mx_route mx_cross_signing_routes[] = {
	{MX_POST, "/_matrix/client/v3/keys/device_signing/upload", mx_cs_upload,
	 MX_ROUTE_AUTH | MX_ROUTE_JSON, C, MX_RL_NONE, 65536},
	{MX_POST, "/_matrix/client/v3/keys/signatures/upload", mx_cs_signatures_upload,
	 MX_ROUTE_AUTH | MX_ROUTE_JSON, C, MX_RL_NONE, 0},
};
const size_t mx_cross_signing_routes_count = MX_ARRAY_LEN(mx_cross_signing_routes);
