/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One server's share of a client's key query or claim (user_keys_client.h):
 * the task runs on a job thread, so it blocks in mx_fed_request() and does
 * the signature checks of the answer there, off the HTTP threads.
 */
#include "federation/user_keys_client.h"

#include <stdlib.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/server.h"
#include "e2ee/keys.h"
#include "federation/client.h"

/* Answers can be large: every device of every user asked, with signatures. */
#define MX_FED_KEYS_QUERY_MAX_BODY (8u << 20)
#define MX_FED_KEYS_CLAIM_MAX_BODY (1u << 20)

/* failures[server] as Synapse writes them: a status and a message. */
static json_t *mx_fed_keys_failure(long status, const char *message)
{
	return json_pack("{s:i, s:s}", "status", (int)status, "message", message);
}

json_t *mx_fed_keys_timeout_failure(void)
{
	return mx_fed_keys_failure(503, "Timed out waiting for the server");
}

static const char *mx_fed_keys_why(struct mx_fed_keys_task *t, int rc)
{
	switch (rc) {
	case MX_EREMOTE:
		return mx_fed_destination_backed_off(t->srv->fed, t->destination)
			       ? "Not ready for retry"
			       : "Cannot reach the server";
	case MX_EFORBIDDEN:
		return "Federation with this server is not allowed";
	case MX_EINVALIDPARAM:
		return "Not a valid server name";
	case MX_ETOOLARGE:
		return "The server's answer is too large";
	default:
		return "The federation request failed";
	}
}

static void mx_fed_keys_run(struct mx_fanout_task *base)
{
	struct mx_fed_keys_task *t = (struct mx_fed_keys_task *)base;
	int64_t left = t->deadline_ms - mx_clock_mono_ms();
	if (left <= 0) {
		t->failure = mx_fed_keys_timeout_failure();
		return;
	}
	bool query = t->op == MX_FED_KEYS_QUERY;
	json_t *body = json_pack("{s:O}", query ? "device_keys" : "one_time_keys", t->asked);
	struct mx_fed_request rq = {
		.destination = t->destination,
		.method = "POST",
		.uri = query ? "/_matrix/federation/v1/user/keys/query"
			     : "/_matrix/federation/v1/user/keys/claim",
		.body = body,
		.sign = true,
		.timeout_ms = left,
		.max_body = query ? MX_FED_KEYS_QUERY_MAX_BODY : MX_FED_KEYS_CLAIM_MAX_BODY,
	};
	struct mx_fed_response resp;
	int rc = mx_fed_request(t->srv->fed, &rq, &resp);
	json_decref(body);
	if (rc) {
		t->failure = mx_fed_keys_failure(503, mx_fed_keys_why(t, rc));
	} else if (resp.status != 200) {
		const char *err = json_string_value(json_object_get(resp.json, "error"));
		long status = resp.status >= 400 && resp.status < 600 ? resp.status : 502;
		t->failure = mx_fed_keys_failure(status, err ? err : "The server refused the request");
	} else if (!resp.json) {
		t->failure = mx_fed_keys_failure(502, "The server's answer is not a JSON object");
	} else {
		t->answer = query ? mx_e2ee_remote_query_filter(t->asked, resp.json)
				  : mx_e2ee_remote_claim_filter(t->asked, resp.json);
	}
	/* Unreachable or backed off: the federation client logs health changes. */
	if (t->failure)
		mx_log(rc == MX_EREMOTE ? MX_LOG_DEBUG : MX_LOG_INFO, "keys: %s %s: %s",
		       query ? "query to" : "claim from", t->destination,
		       json_string_value(json_object_get(t->failure, "message")));
	mx_fed_response_release(&resp);
}

static void mx_fed_keys_free(struct mx_fanout_task *base)
{
	struct mx_fed_keys_task *t = (struct mx_fed_keys_task *)base;
	json_decref(t->asked);
	json_decref(t->answer);
	json_decref(t->failure);
	free(t->destination);
	free(t);
}

struct mx_fed_keys_task *mx_fed_keys_task_new(struct mx_server *srv, enum mx_fed_keys_op op,
					      const char *destination, json_t *asked,
					      int64_t deadline_ms)
{
	struct mx_fed_keys_task *t = mx_xcalloc(1, sizeof(*t));
	t->base.run = mx_fed_keys_run;
	t->base.free = mx_fed_keys_free;
	t->srv = srv;
	t->op = op;
	t->destination = mx_xstrdup(destination);
	t->asked = asked;
	t->deadline_ms = deadline_ms;
	return t;
}
