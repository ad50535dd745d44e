/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Our server's published keys and version, and the notary API: other
 * servers' key responses as we verified them (federation/keyring.h), served
 * again with our signature added. A query for keys we lack or hold only
 * stale parks the request while job threads ask the servers themselves.
 * SPEC: server-server-api#publishing-keys, #querying-keys-through-another-server,
 * #get_matrixfederationv1version
 */
#include "federation/routes.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/canonjson.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/jobs.h"
#include "crypto/keys.h"
#include "crypto/sign.h"
#include "event/ids.h"
#include "federation/keyring.h"
#include "http/request.h"
#include "store/server_keys.h"

/* Bounds on one notary query. */
#define MX_NOTARY_MAX_SERVERS 100   /* servers named */
#define MX_NOTARY_MAX_KEY_IDS 100   /* key ids named, over all servers */
#define MX_NOTARY_MAX_FETCHES 10    /* servers fetched for it (one job each) */
#define MX_NOTARY_MAX_ROWS 64       /* stored keys read per server */
#define MX_NOTARY_MAX_RESPONSES 16  /* distinct responses served per server */
/* Job queue length past which a query is answered from what we hold. */
#define MX_NOTARY_MAX_QUEUED_JOBS 64

/* Our current key response, signed; NULL if signing failed. */
static json_t *mx_key_own_response(const struct mx_server *srv)
{
	char *pk = mx_signing_key_public_b64(srv->key);
	json_t *keys = json_object();
	json_object_set_new(keys, srv->key->key_id, json_pack("{s:s}", "key", pk));
	free(pk);
	json_t *doc = json_pack("{s:s, s:I, s:o, s:{}}", "server_name", srv->cfg->server_name,
				"valid_until_ts",
				(json_int_t)(mx_clock_now_ms() + srv->cfg->key_valid_for_ms),
				"verify_keys", keys, "old_verify_keys");
	if (mx_sign_json(doc, srv->cfg->server_name, srv->key)) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

static int mx_key_server(struct mx_req *req)
{
	json_t *doc = mx_key_own_response(req->srv);
	if (!doc)
		return mx_req_fail(req, MX_EUNKNOWN, "Signing failed");
	return mx_req_reply_json(req, 200, doc);
}

/* ---- notary ---------------------------------------------------------------- */

/* What a query asks about one server. */
struct mx_notary_item {
	const char *server;
	const char **key_ids;       /* n_key_ids; none: every key */
	size_t n_key_ids;
	int64_t min_valid_until_ts; /* the latest minimum asked for any of its keys */
};

/* A parsed query, kept across the park (request arena). */
struct mx_notary_query {
	struct mx_notary_item *items;
	size_t n;
	struct mx_server *srv;
	struct mx_req *req;
	atomic_size_t pending;      /* jobs still running; the last resumes the request */
};

struct mx_notary_job {
	struct mx_notary_query *q;
	size_t i;
};

/*
 * Whether a stored key answers a query well enough not to ask the server
 * again: valid until the minimum asked for, and (SPEC: keys_server: "notary
 * servers should cache a response for half of its lifetime") not past half
 * its lifetime. An old key never changes: it always does.
 */
static bool mx_notary_row_fresh(const struct mx_server_key_row *r, int64_t min_ts, int64_t now)
{
	if (r->expired_ts > 0)
		return true;
	int64_t half = r->fetched_ts + (r->valid_until_ts - r->fetched_ts) / 2;
	return r->valid_until_ts >= min_ts && now <= half;
}

/* Whether what we hold for it.server answers it without a fetch. */
static bool mx_notary_fresh(const struct mx_notary_item *it, const struct mx_server_key_row *rows,
			    size_t n, int64_t now)
{
	if (!it->n_key_ids) {
		for (size_t i = 0; i < n; i++)
			if (!rows[i].expired_ts && mx_notary_row_fresh(&rows[i], it->min_valid_until_ts, now))
				return true;
		return false;
	}
	for (size_t k = 0; k < it->n_key_ids; k++) {
		bool found = false;
		for (size_t i = 0; i < n && !found; i++)
			found = !strcmp(rows[i].key_id, it->key_ids[k]) &&
				mx_notary_row_fresh(&rows[i], it->min_valid_until_ts, now);
		if (!found)
			return false;
	}
	return true;
}

static void mx_notary_job_run(void *arg)
{
	struct mx_notary_job *j = arg;
	struct mx_notary_query *q = j->q;
	const struct mx_notary_item *it = &q->items[j->i];
	mx_keyring_refresh(q->srv->keyring, NULL, it->server, it->min_valid_until_ts);
	/* The last job wakes the request; after that q may be gone. */
	if (atomic_fetch_sub(&q->pending, 1) == 1)
		mx_req_resume(q->req);
}

/*
 * Park the request while jobs fetch the servers the query names that we
 * hold nothing fresh for. Returns true if it parked.
 */
static bool mx_notary_fetch_missing(struct mx_req *req, struct mx_notary_query *q)
{
	struct mx_server *srv = req->srv;
	if (!srv->jobs || !srv->keyring || mx_jobs_pending(srv->jobs) > MX_NOTARY_MAX_QUEUED_JOBS)
		return false;
	size_t *missing = mx_arena_alloc(&req->arena, (q->n ? q->n : 1) * sizeof(*missing));
	size_t n_missing = 0;
	int64_t now = mx_clock_now_ms();
	for (size_t i = 0; i < q->n && n_missing < MX_NOTARY_MAX_FETCHES; i++) {
		const struct mx_notary_item *it = &q->items[i];
		if (!strcmp(it->server, srv->cfg->server_name))
			continue;
		struct mx_server_key_row *rows;
		size_t n_rows;
		if (mx_store_server_keys_list(req->w->rconn, &req->arena, it->server,
					      MX_NOTARY_MAX_ROWS, &rows, &n_rows))
			continue;
		if (!mx_notary_fresh(it, rows, n_rows, now))
			missing[n_missing++] = i;
	}
	if (!n_missing)
		return false;
	struct mx_notary_job *jobs = mx_arena_alloc(&req->arena, n_missing * sizeof(*jobs));
	atomic_store(&q->pending, n_missing);
	mx_req_suspend(req);
	for (size_t k = 0; k < n_missing; k++) {
		jobs[k] = (struct mx_notary_job){.q = q, .i = missing[k]};
		mx_jobs_submit(srv->jobs, mx_notary_job_run, &jobs[k]);
	}
	return true;
}

/*
 * Append to arr every distinct response stored for server, freshest first,
 * each signed by us too. SPEC: "The notary server may return multiple
 * keys regardless of the Key IDs given."
 */
static void mx_notary_add_stored(struct mx_req *req, json_t *arr, const char *server)
{
	struct mx_server *srv = req->srv;
	struct mx_server_key_row *rows;
	size_t n_rows, served = 0;
	if (mx_store_server_keys_list(req->w->rconn, &req->arena, server, MX_NOTARY_MAX_ROWS,
				      &rows, &n_rows))
		return;
	for (size_t i = 0; i < n_rows && served < MX_NOTARY_MAX_RESPONSES; i++) {
		bool dup = false;
		for (size_t k = 0; k < i && !dup; k++)
			dup = !strcmp(rows[k].key_json, rows[i].key_json);
		if (dup)
			continue;
		json_t *doc = mx_json_parse_strict(rows[i].key_json, strlen(rows[i].key_json), NULL);
		if (!json_is_object(doc) || mx_sign_json(doc, srv->cfg->server_name, srv->key)) {
			json_decref(doc);
			continue;
		}
		json_array_append_new(arr, doc);
		served++;
	}
}

static int mx_notary_answer(struct mx_req *req, struct mx_notary_query *q)
{
	if (!req->resumed && mx_notary_fetch_missing(req, q))
		return MX_ESUSPENDED;
	json_t *arr = json_array();
	for (size_t i = 0; i < q->n; i++) {
		const char *server = q->items[i].server;
		if (!strcmp(server, req->srv->cfg->server_name)) {
			json_t *own = mx_key_own_response(req->srv);
			if (own)
				json_array_append_new(arr, own);
			continue;
		}
		mx_notary_add_stored(req, arr, server);
	}
	return mx_req_reply_json(req, 200, json_pack("{s:o}", "server_keys", arr));
}

/* A minimum_valid_until_ts; absent means now (SPEC: "the notary server
 * MUST use the current time"). */
static int mx_notary_parse_ts(const char *s, int64_t *out)
{
	if (!s) {
		*out = mx_clock_now_ms();
		return 0;
	}
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || errno)
		return MX_EINVALIDPARAM;
	*out = v;
	return 0;
}

/* SPEC: server-server-api#get_matrixkeyv2queryservername */
static int mx_key_query_get(struct mx_req *req)
{
	struct mx_notary_query *q = req->handler_state;
	if (!q) {
		const char *server = mx_req_param(req, 0);
		if (!mx_id_server_name_valid(server))
			return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid server name");
		int64_t min_ts;
		if (mx_notary_parse_ts(mx_req_query(req, "minimum_valid_until_ts"), &min_ts))
			return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid minimum_valid_until_ts");
		q = mx_arena_alloc(&req->arena, sizeof(*q));
		memset(q, 0, sizeof(*q));
		q->items = mx_arena_alloc(&req->arena, sizeof(*q->items));
		q->items[0] = (struct mx_notary_item){.server = server, .min_valid_until_ts = min_ts};
		q->n = 1;
		q->srv = req->srv;
		q->req = req;
		req->handler_state = q;
	}
	return mx_notary_answer(req, q);
}

/* One server_keys entry: {key_id: {minimum_valid_until_ts?}}. */
static int mx_notary_parse_item(struct mx_req *req, const char *server, json_t *keys,
				struct mx_notary_item *it, size_t *total_keys)
{
	if (!mx_id_server_name_valid(server))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid server name");
	if (!json_is_object(keys))
		return mx_req_fail(req, MX_EBADJSON, "server_keys values must be objects");
	size_t n = json_object_size(keys);
	if (*total_keys + n > MX_NOTARY_MAX_KEY_IDS)
		return mx_req_fail(req, MX_EINVALIDPARAM, "Too many key ids (at most %d)",
				   MX_NOTARY_MAX_KEY_IDS);
	*total_keys += n;
	it->server = server;
	it->key_ids = mx_arena_alloc(&req->arena, (n ? n : 1) * sizeof(*it->key_ids));
	it->n_key_ids = 0;
	it->min_valid_until_ts = INT64_MIN;
	const char *key_id;
	json_t *crit;
	json_object_foreach(keys, key_id, crit) {
		if (strlen(key_id) > MX_SERVER_KEY_ID_MAX)
			return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid key id");
		if (!json_is_object(crit))
			return mx_req_fail(req, MX_EBADJSON, "Query criteria must be objects");
		json_t *ts = json_object_get(crit, "minimum_valid_until_ts");
		if (ts && !json_is_integer(ts))
			return mx_req_fail(req, MX_EBADJSON,
					   "minimum_valid_until_ts must be an integer");
		int64_t min_ts = ts ? json_integer_value(ts) : mx_clock_now_ms();
		if (min_ts > it->min_valid_until_ts)
			it->min_valid_until_ts = min_ts;
		it->key_ids[it->n_key_ids++] = key_id;
	}
	if (!it->n_key_ids)
		it->min_valid_until_ts = mx_clock_now_ms();
	return 0;
}

/* SPEC: server-server-api#post_matrixkeyv2query */
static int mx_key_query_post(struct mx_req *req)
{
	struct mx_notary_query *q = req->handler_state;
	if (!q) {
		json_t *sk = json_object_get(req->json, "server_keys");
		if (!sk)
			return mx_req_fail(req, MX_EMISSINGPARAM, "Missing server_keys");
		if (!json_is_object(sk))
			return mx_req_fail(req, MX_EBADJSON, "server_keys must be an object");
		size_t n = json_object_size(sk);
		if (n > MX_NOTARY_MAX_SERVERS)
			return mx_req_fail(req, MX_EINVALIDPARAM, "Too many servers (at most %d)",
					   MX_NOTARY_MAX_SERVERS);
		q = mx_arena_alloc(&req->arena, sizeof(*q));
		memset(q, 0, sizeof(*q));
		q->items = mx_arena_alloc(&req->arena, (n ? n : 1) * sizeof(*q->items));
		q->srv = req->srv;
		q->req = req;
		size_t total_keys = 0;
		const char *server;
		json_t *keys;
		json_object_foreach(sk, server, keys) {
			int rc = mx_notary_parse_item(req, server, keys, &q->items[q->n], &total_keys);
			if (rc)
				return rc;
			q->n++;
		}
		req->handler_state = q;
	}
	return mx_notary_answer(req, q);
}

static int mx_federation_version(struct mx_req *req)
{
	return mx_req_reply_json(req, 200,
				 json_pack("{s:{s:s, s:s}}", "server", "name", "Myelin", "version",
					   MX_VERSION));
}

const struct mx_route mx_federation_routes[] = {
	{MX_GET, "/_matrix/key/v2/server", mx_key_server, 0, MX_RES_KEYS | MX_RES_FEDERATION, 0, 0},
	{MX_GET, "/_matrix/key/v2/query/{serverName}", mx_key_query_get, 0,
	 MX_RES_KEYS | MX_RES_FEDERATION, 0, 0},
	{MX_POST, "/_matrix/key/v2/query", mx_key_query_post, MX_ROUTE_JSON,
	 MX_RES_KEYS | MX_RES_FEDERATION, 0, 0},
	{MX_GET, "/_matrix/federation/v1/version", mx_federation_version, 0, MX_RES_FEDERATION, 0, 0},
};
const size_t mx_federation_routes_count = sizeof(mx_federation_routes) / sizeof(mx_federation_routes[0]);
