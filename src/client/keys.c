/* SPDX-License-Identifier: Apache-2.0 */
/*
 * End-to-end encryption key management: upload device, one-time and
 * fallback keys, query other users' device keys, claim one-time keys,
 * and list device-list changes between two sync tokens. Queries and
 * claims for users of other servers ask those servers, all at once, one
 * job per server (federation/user_keys_client.h), within the client's
 * timeout; a server that fails or is too slow is named in "failures".
 * SPEC: client-server-api#key-management-api
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/keys.h"
#include "client/routes.h"
#include "client/util.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "crypto/sign.h"
#include "e2ee/keys.h"
#include "federation/user_keys_client.h"
#include "http/fanout.h"
#include "http/request.h"
#include "store/e2ee.h"
#include "sync/e2ee.h"
#include "sync/sync_internal.h"

/* Bounds on one request, so that input cannot make us loop without end. */
#define MX_KEYS_MAX_OTKS 1000
#define MX_KEYS_MAX_ID 255
/* SPEC: timeout: "10 seconds is the recommended default". */
#define MX_KEYS_DEFAULT_TIMEOUT_MS 10000
#define MX_KEYS_MAX_TIMEOUT_MS 60000

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
	const char *msg;
	int rc = mx_e2ee_device_keys_check(dk, req->auth.user_id, req->auth.device_id, ed25519,
					   &msg);
	if (rc)
		return mx_req_fail(req, rc, "device_keys: %s", msg);
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

/* Kept across parks (arena): the servers asked for a query or claim. */
struct mx_keys_remote {
	struct mx_fanout *f;
	struct mx_fed_keys_task **tasks;
	size_t n;
	json_t *resp;   /* the answer so far (arena), "failures" in it */
};

/*
 * The time to wait for other servers: "timeout" in the body (SPEC), else
 * in the query string (where Synapse reads it). Replies on error.
 */
static int mx_keys_timeout(struct mx_req *req, int64_t *out)
{
	int64_t v = MX_KEYS_DEFAULT_TIMEOUT_MS;
	json_t *t = json_object_get(req->json, "timeout");
	const char *q = mx_req_query(req, "timeout");
	if (t && !json_is_null(t)) {
		if (!json_is_integer(t))
			return mx_req_fail(req, MX_EBADJSON, "timeout must be an integer");
		v = json_integer_value(t);
	} else if (q) {
		char *end;
		long long n = strtoll(q, &end, 10);
		if (!*q || *end)
			return mx_req_fail(req, MX_EINVALIDPARAM, "timeout must be an integer");
		v = n;
	}
	*out = v < 0 ? 0 : v > MX_KEYS_MAX_TIMEOUT_MS ? MX_KEYS_MAX_TIMEOUT_MS : v;
	return 0;
}

/*
 * by_server[server][user] = a copy of what is asked for remote user: the
 * body of one federation request per server. (A cache of remote keys
 * would answer from here instead.)
 */
static void mx_keys_group(json_t *by_server, const char *user, const json_t *what)
{
	const char *server = mx_client_id_server(user);
	json_t *s = json_object_get(by_server, server);
	if (!s) {
		s = json_object();
		json_object_set_new(by_server, server, s);
	}
	json_object_set_new(s, user, json_deep_copy(what));
}

/* Merge what the servers answered by now into the answer and reply. */
static int mx_keys_remote_finish(struct mx_req *req, struct mx_keys_remote *r)
{
	int rc = mx_fanout_wait(r->f, req);
	if (rc)
		return rc; /* parked */
	json_t *failures = json_object_get(r->resp, "failures");
	for (size_t i = 0; i < r->n; i++) {
		struct mx_fed_keys_task *t = r->tasks[i];
		if (!mx_fanout_done(r->f, &t->base)) {
			/* Still running: it finishes on its own, unread. */
			json_object_set_new(failures, t->destination, mx_fed_keys_timeout_failure());
			continue;
		}
		/* Done: the task's results are ours to take. */
		if (t->failure) {
			json_object_set_new(failures, t->destination, t->failure);
			t->failure = NULL;
			continue;
		}
		const char *k;
		json_t *v;
		json_object_foreach (t->answer, k, v) {
			json_t *into = json_object_get(r->resp, k);
			if (json_is_object(into) && json_is_object(v))
				json_object_update(into, v);
		}
		json_decref(t->answer);
		t->answer = NULL;
	}
	return mx_req_reply_json(req, 200, json_incref(r->resp));
}

/*
 * Ask every server of by_server (stolen) for its users, in parallel, and
 * park; resp (in the arena) is the answer so far.
 */
static int mx_keys_remote_start(struct mx_req *req, enum mx_fed_keys_op op, json_t *by_server,
				json_t *resp, int64_t timeout_ms)
{
	struct mx_keys_remote *r = mx_arena_alloc(&req->arena, sizeof(*r));
	int64_t deadline = mx_clock_mono_ms() + timeout_ms;
	r->resp = resp;
	r->n = json_object_size(by_server);
	r->tasks = mx_arena_alloc(&req->arena, r->n * sizeof(*r->tasks));
	r->f = mx_fanout_new(req, deadline);
	size_t i = 0;
	const char *server;
	json_t *asked;
	json_object_foreach (by_server, server, asked)
		r->tasks[i++] = mx_fed_keys_task_new(req->srv, op, server, json_incref(asked),
						     deadline);
	json_decref(by_server); /* each map is now its task's alone */
	for (i = 0; i < r->n; i++)
		mx_fanout_add(r->f, &r->tasks[i]->base);
	req->handler_state = r;
	return mx_keys_remote_finish(req, r);
}

/* SPEC: client-server-api#post_matrixclientv3keysquery */
static int mx_keys_query(struct mx_req *req)
{
	if (req->handler_state)
		return mx_keys_remote_finish(req, req->handler_state);
	json_t *want = json_object_get(req->json, "device_keys");
	if (!want)
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing device_keys");
	const char *msg;
	int rc = mx_e2ee_query_check(&req->arena, want, &msg);
	if (rc)
		return mx_req_fail(req, rc, "%s", msg);
	int64_t timeout;
	if ((rc = mx_keys_timeout(req, &timeout)))
		return rc;
	json_t *resp = mx_arena_json(&req->arena,
				     json_pack("{s:{}, s:{}, s:{}, s:{}, s:{}}", "device_keys",
					       "master_keys", "self_signing_keys",
					       "user_signing_keys", "failures"));
	json_t *by_server = json_object();
	const char *user;
	json_t *list;
	json_object_foreach (want, user, list) {
		if (!mx_client_is_local(req, user)) {
			mx_keys_group(by_server, user, list);
			continue;
		}
		json_t *devs = json_object();
		json_object_set_new(json_object_get(resp, "device_keys"), user, devs);
		rc = mx_e2ee_query_local(req->w->rconn, &req->arena, user, list, req->auth.user_id,
					 devs, json_object_get(resp, "master_keys"),
					 json_object_get(resp, "self_signing_keys"),
					 json_object_get(resp, "user_signing_keys"));
		if (rc) {
			json_decref(by_server);
			return mx_req_fail(req, rc, NULL);
		}
	}
	if (json_object_size(by_server))
		return mx_keys_remote_start(req, MX_FED_KEYS_QUERY, by_server, resp, timeout);
	json_decref(by_server);
	return mx_req_reply_json(req, 200, json_incref(resp));
}

/* SPEC: client-server-api#post_matrixclientv3keysclaim */
static int mx_keys_claim(struct mx_req *req)
{
	if (req->handler_state)
		return mx_keys_remote_finish(req, req->handler_state);
	json_t *want = json_object_get(req->json, "one_time_keys");
	if (!want)
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing one_time_keys");
	const char *msg;
	size_t total;
	int rc = mx_e2ee_claim_check(&req->arena, want, &total, &msg);
	if (rc)
		return mx_req_fail(req, rc, "%s", msg);
	int64_t timeout;
	if ((rc = mx_keys_timeout(req, &timeout)))
		return rc;
	struct mx_e2ee_claim *cl = mx_arena_alloc(&req->arena, (total ? total : 1) * sizeof(*cl));
	size_t n = 0;
	json_t *by_server = json_object();
	const char *user, *dev;
	json_t *devs, *alg;
	json_object_foreach (want, user, devs) {
		if (!mx_client_is_local(req, user)) {
			mx_keys_group(by_server, user, devs);
			continue;
		}
		json_object_foreach (devs, dev, alg)
			cl[n++] = (struct mx_e2ee_claim){user, dev, json_string_value(alg), NULL, NULL};
	}
	json_t *resp = mx_arena_json(&req->arena,
				     json_pack("{s:{}, s:{}}", "one_time_keys", "failures"));
	rc = mx_e2ee_claim_local(req->srv->db, &req->arena, cl, n,
				 json_object_get(resp, "one_time_keys"));
	if (rc) {
		json_decref(by_server);
		return mx_req_fail(req, rc, NULL);
	}
	if (json_object_size(by_server))
		return mx_keys_remote_start(req, MX_FED_KEYS_CLAIM, by_server, resp, timeout);
	json_decref(by_server);
	return mx_req_reply_json(req, 200, json_incref(resp));
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
