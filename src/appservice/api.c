/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Application service endpoints of the Client-Server API. See api.h.
 * The ping waits on the AS on a job thread, the request parked meanwhile.
 */
#include "appservice/api.h"

#include <stdlib.h>
#include <string.h>

#include "appservice/registration.h"
#include "appservice/sender.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/jobs.h"
#include "core/server.h"
#include "db/db.h"
#include "http/request.h"
#include "store/accounts.h"

#define MX_AS_PING_TIMEOUT_MS 15000

struct mx_as_ping_job {
	struct mx_req *req;
	const struct mx_appservice *as;
	const char *body;
	bool done, timed_out;
	int rc;
	long status;
	char *resp;
	int64_t duration_ms;
};

static void mx_as_ping_run(void *arg)
{
	struct mx_as_ping_job *j = arg;
	int64_t t0 = mx_clock_mono_ms();
	j->rc = mx_as_request(j->as, "POST", "/_matrix/app/v1/ping", j->body,
			      MX_AS_PING_TIMEOUT_MS, &j->status, &j->resp, &j->timed_out);
	j->duration_ms = mx_clock_mono_ms() - t0;
	j->done = true;
	mx_req_resume(j->req);
}

static int mx_as_ping_answer(struct mx_req *req, struct mx_as_ping_job *j)
{
	mx_arena_own(&req->arena, j->resp);
	if (j->rc)
		return j->timed_out
			       ? mx_req_fail_json(req, MX_EREMOTE, 504,
						  json_pack("{s:s, s:s}", "errcode",
							    "M_CONNECTION_TIMEOUT", "error",
							    "Connection to the application service timed out"))
			       : mx_req_fail_json(req, MX_EREMOTE, 502,
						  json_pack("{s:s, s:s}", "errcode",
							    "M_CONNECTION_FAILED", "error",
							    "Connection to the application service failed"));
	if (j->status < 200 || j->status >= 300)
		return mx_req_fail_json(
			req, MX_EREMOTE, 502,
			json_pack("{s:s, s:s, s:i, s:s}", "errcode", "M_BAD_STATUS", "error",
				  "The application service returned an error", "status",
				  (int)j->status, "body", j->resp ? j->resp : ""));
	return mx_req_reply_json(req, 200,
				 json_pack("{s:I}", "duration_ms", (json_int_t)j->duration_ms));
}

/* SPEC: application-service-api#post_matrixclientv1appserviceappserviceidping */
static int mx_as_ping(struct mx_req *req)
{
	struct mx_as_ping_job *j = req->handler_state;
	if (j && j->done)
		return mx_as_ping_answer(req, j);
	const struct mx_appservice *as = req->auth.appservice;
	const char *id = mx_req_param(req, 0);
	if (!as || !id || strcmp(as->id, id) != 0)
		return mx_req_fail(req, MX_EFORBIDDEN,
				   "The access token is not that of this application service");
	if (!as->url)
		return mx_req_fail_json(req, MX_EINVALIDPARAM, 400,
					json_pack("{s:s, s:s}", "errcode", "M_URL_NOT_SET", "error",
						  "The application service has no URL"));
	json_t *txn = json_object_get(req->json, "transaction_id");
	if (txn && !json_is_string(txn))
		return mx_req_fail(req, MX_EBADJSON, "'transaction_id' must be a string");
	json_t *body = txn ? json_pack("{s:O}", "transaction_id", txn) : json_object();
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	j = mx_arena_alloc(&req->arena, sizeof(*j));
	memset(j, 0, sizeof(*j));
	j->req = req;
	j->as = as;
	j->body = mx_arena_own(&req->arena, text);
	req->handler_state = j;
	mx_req_suspend(req);
	mx_jobs_submit(req->srv->jobs, mx_as_ping_run, j);
	return MX_ESUSPENDED;
}

int mx_appservices_ensure_senders(struct mx_server *srv)
{
	const struct mx_appservices *set = srv->appservices;
	struct mx_db_conn *c;
	int rc = mx_db_conn_open(srv->db, &c);
	if (rc)
		return rc;
	for (size_t i = 0; set && i < set->n && !rc; i++) {
		const struct mx_appservice *as = &set->v[i];
		if (mx_store_user_exists(c, as->sender))
			continue;
		char actor[300];
		snprintf(actor, sizeof(actor), "appservice:%s", as->id);
		struct mx_new_user u = {.user_id = as->sender,
					.displayname = as->sender_localpart,
					.audit_actor = actor};
		struct mx_session_tokens t;
		rc = mx_store_user_create(srv->db, &u, &t);
		if (rc == MX_EUSERINUSE)
			rc = 0;
	}
	mx_db_conn_close(c);
	return rc;
}

#define C MX_RES_CLIENT
const struct mx_route mx_appservice_routes[] = {
	{MX_POST, "/_matrix/client/v1/appservice/{appserviceId}/ping", mx_as_ping, MX_ROUTE_AUTH | MX_ROUTE_JSON, C, 0, 0},
};
#undef C
const size_t mx_appservice_routes_count =
	sizeof(mx_appservice_routes) / sizeof(mx_appservice_routes[0]);
