/* SPDX-License-Identifier: Apache-2.0 */
/*
 * X-Matrix checks (see auth.h). The state of a parked check lives in the
 * request arena: the job that fetches the key writes its result there and
 * resumes the request, which then verifies the signature on its own thread.
 */
#include "federation/auth.h"

#include <string.h>

#include "core/canonjson.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/jobs.h"
#include "federation/client.h"
#include "federation/keyring.h"
#include "federation/xmatrix.h"
#include "http/request.h"
#include "http/server.h"

struct mx_fed_auth_state {
	struct mx_req *req;
	struct mx_xmatrix x;
	int64_t at_ts;
	int rc;                  /* the key fetch's result */
	unsigned char pk[32];
};

static void mx_fed_auth_fetch(void *arg)
{
	struct mx_fed_auth_state *st = arg;
	struct mx_server *srv = st->req->srv;
	st->rc = mx_keyring_get(srv->keyring, mx_http_worker(srv), st->x.origin, st->x.key_id,
				st->at_ts, st->pk);
	mx_req_resume(st->req);
}

/* The request body as the JSON the signature covers: NULL when there is none. */
static int mx_fed_auth_content(struct mx_req *req, json_t **out)
{
	*out = NULL;
	if (req->body.len == 0)
		return 0;
	int perr = 0;
	json_t *v = mx_json_parse_strict(req->body.data, req->body.len, &perr);
	if (!v)
		return mx_req_fail(req, MX_ENOTJSON, "Request body is not JSON");
	*out = mx_arena_json(&req->arena, v);
	return 0;
}

static int mx_fed_auth_verify(struct mx_req *req, struct mx_fed_auth_state *st)
{
	json_t *content;
	int rc = mx_fed_auth_content(req, &content);
	if (rc)
		return rc;
	static const char *const methods[] = {"GET", "PUT", "POST", "DELETE"};
	const char *method = req->method == MX_PUT ? methods[1]
			     : req->method == MX_POST ? methods[2]
			     : req->method == MX_DELETE ? methods[3] : methods[0];
	if (mx_xmatrix_verify(&st->x, method, req->raw_uri, content, st->pk))
		return mx_req_fail(req, MX_EUNAUTHORIZED, "Invalid signature for server %s",
				   st->x.origin);
	req->auth.origin = st->x.origin;
	mx_fed_destination_seen(req->srv->fed, st->x.origin);
	return 0;
}

int mx_fed_authenticate(struct mx_req *req)
{
	struct mx_server *srv = req->srv;
	struct mx_fed_auth_state *st = req->fed_auth_state;
	if (st) { /* resumed after the key fetch */
		if (st->rc == MX_ENOTFOUND)
			return mx_req_fail(req, MX_EUNAUTHORIZED, "Unknown key %s for server %s",
					   st->x.key_id, st->x.origin);
		if (st->rc)
			return mx_req_fail(req, MX_EREMOTE, "Cannot fetch the keys of %s",
					   st->x.origin);
		return mx_fed_auth_verify(req, st);
	}
	const char *h = mx_req_header(req, "Authorization");
	if (!h)
		return mx_req_fail(req, MX_EUNAUTHORIZED, "Missing X-Matrix Authorization header");
	st = mx_arena_alloc(&req->arena, sizeof(*st));
	memset(st, 0, sizeof(*st));
	st->req = req;
	if (mx_xmatrix_parse(h, &st->x))
		return mx_req_fail(req, MX_EUNAUTHORIZED, "Malformed X-Matrix Authorization header");
	/* SPEC: a destination that is not us must be refused with 401. */
	if (st->x.destination[0] && strcmp(st->x.destination, srv->cfg->server_name) != 0)
		return mx_req_fail(req, MX_EUNAUTHORIZED, "Request is not for this server");
	if (strcmp(st->x.origin, srv->cfg->server_name) == 0)
		return mx_req_fail(req, MX_EUNAUTHORIZED, "Request claims to come from this server");
	st->at_ts = mx_clock_now_ms();
	if (mx_keyring_lookup_cached(srv->keyring, st->x.origin, st->x.key_id, st->at_ts,
				     st->pk) == 0)
		return mx_fed_auth_verify(req, st);
	req->fed_auth_state = st;
	mx_req_suspend(req);
	mx_jobs_submit(srv->jobs, mx_fed_auth_fetch, st);
	return MX_ESUSPENDED;
}
