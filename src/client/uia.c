/* SPDX-License-Identifier: Apache-2.0 */
/*
 * UIA sessions live in the database so that a multi-stage flow survives a
 * restart. Completed stages are kept as a JSON array; a flow is complete
 * when its stages are a prefix-ordered subset of the completed list.
 */
#include <jansson.h>
#include <string.h>

#include "client/uia.h"
#include "client/util.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/rand.h"
#include "crypto/password.h"
#include "http/request.h"
#include "store/accounts.h"
#include "store/uia.h"

static json_t *mx_uia_body(const struct mx_uia_flow *flows, size_t n, const char *session,
			   json_t *completed)
{
	json_t *fl = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *st = json_array();
		for (int s = 0; s < 3 && flows[i].stages[s]; s++)
			json_array_append_new(st, json_string(flows[i].stages[s]));
		json_array_append_new(fl, json_pack("{s:o}", "stages", st));
	}
	json_t *params = json_object();
	json_t *body = json_pack("{s:o, s:o, s:s}", "flows", fl, "params", params, "session", session);
	if (completed && json_array_size(completed))
		json_object_set(body, "completed", completed);
	return body;
}

static int mx_uia_fail(struct mx_req *req, const struct mx_uia_flow *flows, size_t n,
		       const char *session, json_t *completed, int err, const char *msg)
{
	json_t *body = mx_uia_body(flows, n, session, completed);
	if (err) {
		json_object_set_new(body, "errcode", json_string(mx_error_errcode(err)));
		json_object_set_new(body, "error", json_string(msg));
	}
	return mx_req_fail_json(req, MX_EUIA, 401, body);
}

static bool mx_uia_has(json_t *completed, const char *stage)
{
	size_t i;
	json_t *v;
	json_array_foreach (completed, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), stage))
			return true;
	return false;
}

static bool mx_uia_flow_allows(const struct mx_uia_flow *flows, size_t n, const char *stage)
{
	for (size_t i = 0; i < n; i++)
		for (int s = 0; s < 3 && flows[i].stages[s]; s++)
			if (!strcmp(flows[i].stages[s], stage))
				return true;
	return false;
}

static bool mx_uia_complete(const struct mx_uia_flow *flows, size_t n, json_t *completed)
{
	for (size_t i = 0; i < n; i++) {
		bool all = true;
		for (int s = 0; s < 3 && flows[i].stages[s] && all; s++)
			all = mx_uia_has(completed, flows[i].stages[s]);
		if (all)
			return true;
	}
	return false;
}

int mx_uia_check_password(struct mx_req *req, const json_t *auth, const char *expect_user,
			  const char **user_id_out, const char **msg)
{
	const char *user = NULL;
	json_t *ident = json_object_get(auth, "identifier");
	if (ident) {
		const char *type = json_string_value(json_object_get(ident, "type"));
		if (!json_is_object(ident) || !type)
			return (*msg = "Invalid identifier", MX_EBADJSON);
		if (strcmp(type, "m.id.user") != 0)
			return (*msg = "Unknown login identifier type", MX_EBADREQUEST);
		user = json_string_value(json_object_get(ident, "user"));
	} else {
		user = json_string_value(json_object_get(auth, "user"));
	}
	const char *password = json_string_value(json_object_get(auth, "password"));
	if (!user || !password)
		return (*msg = "Missing user or password", MX_EBADJSON);
	const char *uid = mx_client_qualify_user(req, user);
	if (!uid)
		return (*msg = "Invalid username or password", MX_EFORBIDDEN);
	struct mx_user u;
	int rc = mx_store_user_get(req->w->rconn, &req->arena, uid, &u);
	if (rc && rc != MX_ENOTFOUND)
		return (*msg = "Database error", rc);
	/* Verify even for unknown users would leak less timing; keep one
	 * argon2 cost on every path by hashing a dummy. */
	if (rc == MX_ENOTFOUND || !u.password_hash || u.deactivated ||
	    (expect_user && strcmp(expect_user, uid) != 0)) {
		mx_password_verify("$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$"
				   "RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
				   password);
		if (rc == 0 && u.deactivated && u.password_hash == NULL && !expect_user)
			return (*msg = "This account has been deactivated", MX_EUSERDEACTIVATED);
		return (*msg = "Invalid username or password", MX_EFORBIDDEN);
	}
	if (mx_password_verify(u.password_hash, password))
		return (*msg = "Invalid username or password", MX_EFORBIDDEN);
	*user_id_out = u.user_id;
	return 0;
}

/* Attempt the stage named in auth; 0 on success, or an error code + message. */
static int mx_uia_attempt(struct mx_req *req, json_t *auth, const char *type, const char *user_id,
			  struct mx_uia_result *out, const char **msg)
{
	if (!strcmp(type, MX_UIA_DUMMY))
		return 0;
	if (!strcmp(type, MX_UIA_PASSWORD)) {
		const char *uid;
		return mx_uia_check_password(req, auth, user_id, &uid, msg);
	}
	if (!strcmp(type, MX_UIA_REGTOKEN)) {
		const char *token = json_string_value(json_object_get(auth, "token"));
		if (!token || strlen(token) > 64 ||
		    !mx_store_regtoken_valid(req->w->rconn, token, mx_clock_now_ms())) {
			*msg = "Invalid registration token";
			return MX_EUNAUTHORIZED;
		}
		int rc = mx_store_regtoken_add_pending(req->srv->db, token);
		if (rc)
			return rc;
		out->registration_token = mx_arena_strdup(&req->arena, token);
		return 0;
	}
	*msg = "Unknown authentication type";
	return MX_EUNRECOGNIZED;
}

int mx_uia_run(struct mx_req *req, const char *purpose, const char *user_id,
	       const struct mx_uia_flow *flows, size_t n_flows, struct mx_uia_result *out)
{
	memset(out, 0, sizeof(*out));
	json_t *auth = json_object_get(req->json, "auth");
	const char *session = auth ? json_string_value(json_object_get(auth, "session")) : NULL;
	if (auth && !json_is_object(auth))
		return mx_req_fail(req, MX_EBADJSON, "auth must be an object");
	struct mx_uia_session s;
	int rc;
	if (!session) {
		char id[33];
		mx_rand_token(id, sizeof(id));
		rc = mx_store_uia_create(req->srv->db, id, purpose, user_id, NULL);
		if (rc)
			return mx_req_fail(req, rc, NULL);
		session = mx_arena_strdup(&req->arena, id);
		s.completed = "[]";
	} else {
		rc = mx_store_uia_get(req->w->rconn, &req->arena, session, &s);
		if (rc == MX_ENOTFOUND)
			return mx_req_fail(req, MX_EBADREQUEST, "Unknown UIA session");
		if (rc)
			return mx_req_fail(req, rc, NULL);
		if (strcmp(s.purpose, purpose) != 0 ||
		    (user_id && (!s.user_id || strcmp(s.user_id, user_id) != 0)))
			return mx_req_fail(req, MX_EFORBIDDEN,
					   "This session was created for another request");
	}
	json_t *completed = mx_arena_json(&req->arena, json_loads(s.completed, 0, NULL));
	if (!json_is_array(completed))
		completed = mx_arena_json(&req->arena, json_array());

	const char *type = auth ? json_string_value(json_object_get(auth, "type")) : NULL;
	if (type && !mx_uia_has(completed, type)) {
		const char *msg = "Authentication failed";
		if (!mx_uia_flow_allows(flows, n_flows, type))
			return mx_uia_fail(req, flows, n_flows, session, completed, MX_EUNRECOGNIZED,
					   "Authentication type not offered");
		rc = mx_uia_attempt(req, auth, type, user_id, out, &msg);
		if (rc)
			return mx_uia_fail(req, flows, n_flows, session, completed, rc, msg);
		json_array_append_new(completed, json_string(type));
		char *text = json_dumps(completed, JSON_COMPACT);
		rc = mx_store_uia_set_completed(req->srv->db, session, text);
		free(text);
		if (rc)
			return mx_req_fail(req, rc, NULL);
	}
	if (!mx_uia_complete(flows, n_flows, completed))
		return mx_uia_fail(req, flows, n_flows, session, completed, 0, NULL);
	out->session = session;
	return 0;
}

void mx_uia_finish(struct mx_req *req, const struct mx_uia_result *res)
{
	if (res->session)
		mx_store_uia_delete(req->srv->db, res->session);
}
