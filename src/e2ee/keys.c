/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key queries and claims for local users, the checks of their request
 * bodies, and the filters over other servers' answers (keys.h).
 */
#include "e2ee/keys.h"

#include <stdbool.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "crypto/cross_signing.h"
#include "crypto/sign.h"
#include "event/ids.h"
#include "store/cross_signing.h"
#include "store/e2ee.h"

int mx_e2ee_query_check(struct mx_arena *a, const json_t *want, const char **msg)
{
	if (!json_is_object(want)) {
		*msg = "device_keys must be an object";
		return MX_EBADJSON;
	}
	const char *user;
	json_t *list;
	json_object_foreach ((json_t *)want, user, list) {
		if (!mx_id_user_valid(user)) {
			*msg = mx_arena_printf(a, "Invalid user ID '%s' in device_keys", user);
			return MX_EINVALIDPARAM;
		}
		bool ok = json_is_array(list);
		size_t i;
		json_t *d;
		json_array_foreach (list, i, d)
			ok = ok && json_is_string(d);
		if (!ok) {
			*msg = mx_arena_printf(a, "device_keys.%s must be an array of device IDs", user);
			return MX_EBADJSON;
		}
	}
	return 0;
}

int mx_e2ee_claim_check(struct mx_arena *a, const json_t *want, size_t *total, const char **msg)
{
	*total = 0;
	if (!json_is_object(want)) {
		*msg = "one_time_keys must be an object";
		return MX_EBADJSON;
	}
	const char *user, *dev;
	json_t *devs, *alg;
	json_object_foreach ((json_t *)want, user, devs) {
		if (!mx_id_user_valid(user)) {
			*msg = mx_arena_printf(a, "Invalid user ID '%s' in one_time_keys", user);
			return MX_EINVALIDPARAM;
		}
		if (!json_is_object(devs)) {
			*msg = mx_arena_printf(a, "one_time_keys.%s must be an object", user);
			return MX_EBADJSON;
		}
		json_object_foreach (devs, dev, alg) {
			if (!json_is_string(alg)) {
				*msg = mx_arena_printf(a, "one_time_keys.%s.%s must be an algorithm name",
						       user, dev);
				return MX_EBADJSON;
			}
		}
		*total += json_object_size(devs);
		if (*total > MX_E2EE_MAX_CLAIMS) {
			*msg = mx_arena_printf(a, "At most %d keys per claim", MX_E2EE_MAX_CLAIMS);
			return MX_EINVALIDPARAM;
		}
	}
	return 0;
}

/* Drop obj's signatures by anyone but owner and viewer (NULL: owner only). */
static void mx_e2ee_sigs_visible(json_t *obj, const char *owner, const char *viewer)
{
	json_t *sigs = json_object_get(obj, "signatures");
	const char *signer;
	json_t *v;
	void *tmp;
	bool dropped = false;
	json_object_foreach_safe (sigs, tmp, signer, v) {
		if (strcmp(signer, owner) != 0 && !(viewer && !strcmp(signer, viewer))) {
			json_object_del(sigs, signer);
			dropped = true;
		}
	}
	if (dropped && !json_object_size(sigs))
		json_object_del(obj, "signatures");
}

/* Add user_id's devices (one, or all with only NULL) to devs. */
static int mx_e2ee_devices_into(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
				const char *only, const char *viewer, json_t *devs)
{
	struct mx_e2ee_device *v;
	size_t n;
	int rc = mx_store_e2ee_devices(c, a, user_id, only, &v, &n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_loads(v[i].key_json, 0, NULL);
		if (!json_is_object(o) ||
		    mx_store_cross_signing_sigs_merge(c, user_id, v[i].device_id, o)) {
			json_decref(o); /* unreadable: leave it out */
			continue;
		}
		mx_e2ee_sigs_visible(o, user_id, viewer);
		if (v[i].display_name)
			json_object_set_new(o, "unsigned",
					    json_pack("{s:s}", "device_display_name", v[i].display_name));
		json_object_set_new(devs, v[i].device_id, o);
	}
	return 0;
}

int mx_e2ee_query_local(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			const json_t *device_ids, const char *viewer, json_t *devs, json_t *master,
			json_t *self_signing, json_t *user_signing)
{
	static const char *const usages[3] = {MX_CS_MASTER, MX_CS_SELF_SIGNING,
					      MX_CS_USER_SIGNING};
	bool own = viewer && !strcmp(viewer, user_id);
	json_t *into[3] = {master, self_signing, own ? user_signing : NULL};
	for (int i = 0; i < 3; i++) {
		if (!into[i])
			continue;
		json_t *key;
		int rc = mx_store_cross_signing_key_get(c, a, user_id, usages[i], &key);
		if (rc == MX_ENOTFOUND)
			continue;
		if (rc)
			return rc;
		mx_e2ee_sigs_visible(key, user_id, viewer);
		json_object_set(into[i], user_id, key);
	}
	/* SPEC: an empty list means every device of the user. */
	size_t nwant = json_array_size(device_ids);
	if (!nwant)
		return mx_e2ee_devices_into(c, a, user_id, NULL, viewer, devs);
	for (size_t i = 0; i < nwant; i++) {
		const char *only = json_string_value(json_array_get(device_ids, i));
		int rc = only ? mx_e2ee_devices_into(c, a, user_id, only, viewer, devs) : 0;
		if (rc)
			return rc;
	}
	return 0;
}

/* out[user][device], created as needed. */
static json_t *mx_e2ee_slot(json_t *out, const char *user, const char *device)
{
	json_t *u = json_object_get(out, user);
	if (!u) {
		u = json_object();
		json_object_set_new(out, user, u);
	}
	json_t *d = json_object_get(u, device);
	if (!d) {
		d = json_object();
		json_object_set_new(u, device, d);
	}
	return d;
}

int mx_e2ee_claim_local(struct mx_db *db, struct mx_arena *a, struct mx_e2ee_claim *claims,
			size_t n, json_t *out)
{
	int rc = mx_store_e2ee_claim(db, a, claims, n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		const struct mx_e2ee_claim *cl = &claims[i];
		json_t *k = cl->key_json ? json_loads(cl->key_json, JSON_DECODE_ANY, NULL) : NULL;
		if (!k)
			continue;
		json_object_set_new(mx_e2ee_slot(out, cl->user_id, cl->device_id),
				    mx_arena_printf(a, "%s:%s", cl->algorithm, cl->key_id), k);
	}
	return 0;
}

int mx_e2ee_device_keys_check(const json_t *dk, const char *user_id, const char *device_id,
			      const char **pub, const char **msg)
{
	*pub = NULL;
	if (!json_is_object(dk)) {
		*msg = "device keys must be an object";
		return MX_EBADJSON;
	}
	const char *uid = json_string_value(json_object_get(dk, "user_id"));
	const char *did = json_string_value(json_object_get(dk, "device_id"));
	if (!uid || !did) {
		*msg = "device keys need user_id and device_id strings";
		return MX_EBADJSON;
	}
	if (strcmp(uid, user_id) != 0) {
		*msg = "user_id is not the device's user";
		return MX_EINVALIDPARAM;
	}
	if (strcmp(did, device_id) != 0) {
		*msg = "device_id is not the device's ID";
		return MX_EINVALIDPARAM;
	}
	json_t *algs = json_object_get(dk, "algorithms"), *v;
	size_t i;
	bool ok = json_is_array(algs);
	json_array_foreach (algs, i, v)
		ok = ok && json_is_string(v);
	if (!ok) {
		*msg = "algorithms must be an array of strings";
		return MX_EBADJSON;
	}
	json_t *keys = json_object_get(dk, "keys");
	const char *k;
	ok = json_is_object(keys);
	json_object_foreach (keys, k, v)
		ok = ok && json_is_string(v);
	if (!ok) {
		*msg = "keys must be an object of strings";
		return MX_EBADJSON;
	}
	/* "ed25519:" + a device id: ids are short, a longer one cannot match. */
	char kid[8 + 256 + 1];
	size_t dlen = strlen(device_id);
	if (dlen > 256) {
		*msg = "the device ID is too long";
		return MX_EINVALIDPARAM;
	}
	memcpy(kid, "ed25519:", 8);
	memcpy(kid + 8, device_id, dlen + 1);
	const char *pk = json_string_value(json_object_get(keys, kid));
	if (!pk) {
		*msg = "keys lacks the device's ed25519 key";
		return MX_EINVALIDPARAM;
	}
	if (!json_is_object(json_object_get(dk, "signatures"))) {
		*msg = "signatures must be an object";
		return MX_EBADJSON;
	}
	int rc = mx_verify_json_b64key(dk, user_id, kid, pk);
	if (rc == MX_EINVALID) {
		*msg = "the device's ed25519 key is not base64 of 32 bytes";
		return MX_EINVALIDPARAM;
	}
	if (rc) {
		*msg = "the device's own signature does not verify";
		return MX_EINVALIDPARAM;
	}
	*pub = pk;
	return 0;
}

/* True if list (an array of device ids) is empty or holds device. */
static bool mx_e2ee_asked_device(const json_t *list, const char *device)
{
	if (!json_array_size(list))
		return true;
	size_t i;
	json_t *d;
	json_array_foreach (list, i, d)
		if (json_is_string(d) && !strcmp(json_string_value(d), device))
			return true;
	return false;
}

/* A copy of dk to pass on: "unsigned", when there, must be an object. */
static json_t *mx_e2ee_device_copy(const json_t *dk)
{
	json_t *o = json_deep_copy(dk);
	json_t *u = json_object_get(o, "unsigned");
	if (u && !json_is_object(u))
		json_object_del(o, "unsigned");
	return o;
}

json_t *mx_e2ee_remote_query_filter(const json_t *asked, const json_t *answer)
{
	json_t *out = json_pack("{s:{}, s:{}, s:{}}", "device_keys", "master_keys",
				"self_signing_keys");
	json_t *devices = json_object_get(out, "device_keys");
	json_t *masters = json_object_get(out, "master_keys");
	json_t *selfs = json_object_get(out, "self_signing_keys");
	json_t *in_devices = json_object_get(answer, "device_keys");
	json_t *in_masters = json_object_get(answer, "master_keys");
	json_t *in_selfs = json_object_get(answer, "self_signing_keys");
	const char *user, *msg;
	json_t *list;
	json_object_foreach ((json_t *)asked, user, list) {
		json_t *devs = json_object_get(in_devices, user);
		if (json_is_object(devs)) {
			json_t *kept = json_object();
			const char *dev, *pub;
			json_t *dk;
			json_object_foreach (devs, dev, dk)
				if (mx_e2ee_asked_device(list, dev) &&
				    !mx_e2ee_device_keys_check(dk, user, dev, &pub, &msg))
					json_object_set_new(kept, dev, mx_e2ee_device_copy(dk));
			json_object_set_new(devices, user, kept);
		}
		const char *master_pub, *self_pub;
		json_t *master = json_object_get(in_masters, user);
		if (!master || mx_cross_signing_key_check(master, user, MX_CS_MASTER, &master_pub, &msg))
			continue; /* no self-signing key without the master key that signs it */
		json_object_set_new(masters, user, json_deep_copy(master));
		json_t *self = json_object_get(in_selfs, user);
		if (self && !mx_cross_signing_key_check(self, user, MX_CS_SELF_SIGNING, &self_pub, &msg) &&
		    !mx_cross_signing_verify(self, user, master_pub, master_pub))
			json_object_set_new(selfs, user, json_deep_copy(self));
	}
	return out;
}

json_t *mx_e2ee_remote_claim_filter(const json_t *asked, const json_t *answer)
{
	json_t *otks = json_object();
	json_t *in = json_object_get(answer, "one_time_keys");
	const char *user, *dev;
	json_t *devs, *alg;
	json_object_foreach ((json_t *)asked, user, devs) {
		json_t *in_devs = json_object_get(in, user);
		json_object_foreach (devs, dev, alg) {
			const char *want = json_string_value(alg);
			json_t *keys = json_object_get(in_devs, dev);
			if (!want || !json_is_object(keys))
				continue;
			size_t wlen = strlen(want);
			const char *name;
			json_t *key;
			json_object_foreach (keys, name, key) {
				if (strncmp(name, want, wlen) != 0 || name[wlen] != ':' || !name[wlen + 1])
					continue;
				if (!json_is_string(key) &&
				    !json_is_string(json_object_get(key, "key")))
					continue;
				json_object_set_new(mx_e2ee_slot(otks, user, dev), name,
						    json_deep_copy(key));
				break; /* SPEC: one key per device */
			}
		}
	}
	return json_pack("{s:o}", "one_time_keys", otks);
}
