/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Push rules API (only the "global" scope exists) and the list of
 * notified events. Rules are kept in the user's m.push_rules account data
 * (push/rules.h describes the format); every change moves the
 * account_data stream, so the user's /sync receives the new rules.
 * SPEC: client-server-api#push-rules-api, client-server-api#listing-notifications
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "client/format.h"
#include "client/routes.h"
#include "core/config.h"
#include "core/error.h"
#include "http/request.h"
#include "push/push.h"
#include "push/rules.h"
#include "store/push.h"
#include "store/rooms.h"
#include "sync/notifier.h"

#define MX_NOTIFICATIONS_DEFAULT_LIMIT 50
#define MX_NOTIFICATIONS_MAX_LIMIT 100

/* The kind path parameter, or a 400 reply (returns -1 then, *rc set). */
static int mx_pushrules_kind(struct mx_req *req, int *rc)
{
	int kind = mx_push_kind_parse(mx_req_param(req, 0));
	if (kind < 0)
		*rc = mx_req_fail(req, MX_EINVALIDPARAM, "Unknown push rule kind %s",
				  mx_req_param(req, 0));
	return kind;
}

static void mx_pushrules_unref(void *r)
{
	mx_push_rules_unref(r);
}

/* The user's rules, compiled (a reference the arena releases). */
static struct mx_push_rules *mx_pushrules_load(struct mx_req *req)
{
	struct mx_push_rules *r = mx_push_rules_for(req->srv->push, req->w->rconn, req->auth.user_id);
	mx_arena_defer(&req->arena, mx_pushrules_unref, r);
	return r;
}

/* After a change: a waiting /sync of the user answers with the new rules. */
static int mx_pushrules_changed(struct mx_req *req)
{
	const char *user = req->auth.user_id;
	mx_notifier_wake(req->srv->notifier, &user, 1);
	return mx_req_reply_empty(req);
}

static int mx_pushrules_edit_fail(struct mx_req *req, int rc, const char *why)
{
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, rc, "The push rule was not found.");
	if (rc == MX_EBADREQUEST && why && !strcmp(why, "before/after rule not found")) {
		const char *rel = mx_req_query(req, "before");
		return mx_req_fail(req, rc, "before/after rule not found: %s",
				   rel ? rel : mx_req_query(req, "after"));
	}
	return mx_req_fail(req, rc, "%s", why ? why : mx_error_message(rc));
}

/* SPEC: client-server-api#get_matrixclientv3pushrules */
static int mx_pushrules_get_all(struct mx_req *req)
{
	return mx_req_reply_json(req, 200,
				 mx_push_rules_to_json(mx_pushrules_load(req), req->auth.user_id));
}

/* SPEC: client-server-api#get_matrixclientv3pushrulesglobal */
static int mx_pushrules_get_global(struct mx_req *req)
{
	json_t *all = mx_push_rules_to_json(mx_pushrules_load(req), req->auth.user_id);
	json_t *global = json_incref(json_object_get(all, "global"));
	json_decref(all);
	return mx_req_reply_json(req, 200, global);
}

/* The rules of one kind (as Synapse answers /pushrules/global/{kind}/). */
static int mx_pushrules_get_kind(struct mx_req *req)
{
	int rc = 0, kind = mx_pushrules_kind(req, &rc);
	if (kind < 0)
		return rc;
	json_t *all = mx_push_rules_to_json(mx_pushrules_load(req), req->auth.user_id);
	json_t *list = json_incref(json_object_get(json_object_get(all, "global"), mx_push_kind_name(kind)));
	json_decref(all);
	return mx_req_reply_json(req, 200, list);
}

/* The rule of the path (new reference), or a 4xx reply (NULL, *rc set). */
static json_t *mx_pushrules_find(struct mx_req *req, int *rc)
{
	int kind = mx_pushrules_kind(req, rc);
	if (kind < 0)
		return NULL;
	json_t *rule = mx_push_rules_get(mx_pushrules_load(req), kind, mx_req_param(req, 1),
					 req->auth.user_id);
	if (!rule)
		*rc = mx_req_fail(req, MX_ENOTFOUND, "The push rule was not found.");
	return rule;
}

/* SPEC: client-server-api#get_matrixclientv3pushrulesglobalkindruleid */
static int mx_pushrules_get(struct mx_req *req)
{
	int rc = 0;
	json_t *rule = mx_pushrules_find(req, &rc);
	return rule ? mx_req_reply_json(req, 200, rule) : rc;
}

/* SPEC: client-server-api#get_matrixclientv3pushrulesglobalkindruleidenabled */
static int mx_pushrules_get_enabled(struct mx_req *req)
{
	int rc = 0;
	json_t *rule = mx_pushrules_find(req, &rc);
	if (!rule)
		return rc;
	json_t *out = json_pack("{s:O}", "enabled", json_object_get(rule, "enabled"));
	json_decref(rule);
	return mx_req_reply_json(req, 200, out);
}

/* SPEC: client-server-api#get_matrixclientv3pushrulesglobalkindruleidactions */
static int mx_pushrules_get_actions(struct mx_req *req)
{
	int rc = 0;
	json_t *rule = mx_pushrules_find(req, &rc);
	if (!rule)
		return rc;
	json_t *out = json_pack("{s:O}", "actions", json_object_get(rule, "actions"));
	json_decref(rule);
	return mx_req_reply_json(req, 200, out);
}

/* ---- changes ---- */

struct mx_pushrules_op {
	int kind;
	const char *rule_id;
	const json_t *body;
	const char *before, *after;
	bool enabled;
};

static int mx_pushrules_put_fn(json_t *stored, void *arg, const char **why)
{
	struct mx_pushrules_op *op = arg;
	return mx_push_stored_put(stored, op->kind, op->rule_id, op->body, op->before, op->after, why);
}

static int mx_pushrules_delete_fn(json_t *stored, void *arg, const char **why)
{
	struct mx_pushrules_op *op = arg;
	return mx_push_stored_delete(stored, op->kind, op->rule_id, why);
}

static int mx_pushrules_enabled_fn(json_t *stored, void *arg, const char **why)
{
	struct mx_pushrules_op *op = arg;
	(void)why;
	return mx_push_stored_set_enabled(stored, op->kind, op->rule_id, op->enabled);
}

static int mx_pushrules_actions_fn(json_t *stored, void *arg, const char **why)
{
	struct mx_pushrules_op *op = arg;
	return mx_push_stored_set_actions(stored, op->kind, op->rule_id,
					  json_object_get(op->body, "actions"), why);
}

static int mx_pushrules_change(struct mx_req *req, mx_push_edit_fn fn, struct mx_pushrules_op *op)
{
	int rc = 0;
	op->kind = mx_pushrules_kind(req, &rc);
	if (op->kind < 0)
		return rc;
	op->rule_id = mx_req_param(req, 1);
	op->body = req->json;
	const char *why = NULL;
	rc = mx_push_rules_edit(req->srv->push, req->w->rconn, req->auth.user_id, fn, op, &why);
	if (rc)
		return mx_pushrules_edit_fail(req, rc, why);
	return mx_pushrules_changed(req);
}

/* SPEC: client-server-api#put_matrixclientv3pushrulesglobalkindruleid */
static int mx_pushrules_put(struct mx_req *req)
{
	struct mx_pushrules_op op = {.before = mx_req_query(req, "before"),
				     .after = mx_req_query(req, "after")};
	return mx_pushrules_change(req, mx_pushrules_put_fn, &op);
}

/* SPEC: client-server-api#delete_matrixclientv3pushrulesglobalkindruleid */
static int mx_pushrules_delete(struct mx_req *req)
{
	struct mx_pushrules_op op = {0};
	return mx_pushrules_change(req, mx_pushrules_delete_fn, &op);
}

/* SPEC: client-server-api#put_matrixclientv3pushrulesglobalkindruleidenabled */
static int mx_pushrules_put_enabled(struct mx_req *req)
{
	json_t *en = json_object_get(req->json, "enabled");
	if (!en)
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing 'enabled'");
	if (!json_is_boolean(en))
		return mx_req_fail(req, MX_EBADJSON, "'enabled' must be a boolean");
	struct mx_pushrules_op op = {.enabled = json_is_true(en)};
	return mx_pushrules_change(req, mx_pushrules_enabled_fn, &op);
}

/* SPEC: client-server-api#put_matrixclientv3pushrulesglobalkindruleidactions */
static int mx_pushrules_put_actions(struct mx_req *req)
{
	if (!json_object_get(req->json, "actions"))
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing 'actions'");
	struct mx_pushrules_op op = {0};
	return mx_pushrules_change(req, mx_pushrules_actions_fn, &op);
}

/* ---- notifications ---- */

/* SPEC: client-server-api#get_matrixclientv3notifications */
static int mx_notifications_get(struct mx_req *req)
{
	const char *from = mx_req_query(req, "from"), *limit_s = mx_req_query(req, "limit");
	const char *only = mx_req_query(req, "only");
	int64_t before = 0;
	long long limit = MX_NOTIFICATIONS_DEFAULT_LIMIT;
	char *end;
	if (from) {
		errno = 0;
		long long v = strtoll(from, &end, 10);
		if (errno || *end || end == from || v <= 0)
			return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid from token");
		before = v;
	}
	if (limit_s) {
		errno = 0;
		limit = strtoll(limit_s, &end, 10);
		if (errno || *end || end == limit_s || limit < 0)
			return mx_req_fail(req, MX_EINVALIDPARAM, "limit must be a non-negative integer");
		if (limit > MX_NOTIFICATIONS_MAX_LIMIT)
			limit = MX_NOTIFICATIONS_MAX_LIMIT;
	}
	/* The rows of events sent just now may still be queued. */
	mx_push_flush_user(req->srv->push, req->auth.user_id, NULL);
	struct mx_store_push_notif *rows;
	size_t n;
	int rc = mx_store_push_notifications(req->w->rconn, &req->arena, req->auth.user_id, before,
					     only && !strcmp(only, "highlight"), (int)limit, &rows, &n);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++) {
		struct mx_store_event ev;
		if (mx_store_event_get(req->w->rconn, &req->arena, rows[i].event_id, &ev))
			continue;
		struct mx_format_opts o = {.include_room_id = true, .user_id = req->auth.user_id};
		json_t *e = mx_client_format_event(req, &ev, &o);
		json_t *actions = json_loads(rows[i].actions, 0, NULL);
		if (!e || !json_is_array(actions)) {
			json_decref(e);
			json_decref(actions);
			continue;
		}
		json_array_append_new(list, json_pack("{s:o, s:o, s:b, s:s, s:I}", "actions", actions,
						      "event", e, "read", rows[i].read, "room_id",
						      rows[i].room_id, "ts", (json_int_t)rows[i].ts));
	}
	json_t *out = json_pack("{s:o}", "notifications", list);
	if (n && n == (size_t)limit)
		json_object_set_new(out, "next_token",
				    json_string(mx_arena_printf(&req->arena, "%" PRId64, rows[n - 1].event_nid)));
	return mx_req_reply_json(req, 200, out);
}

#define C MX_RES_CLIENT
#define PR "/_matrix/client/v3/pushrules/global/{kind}/{ruleId}"
const struct mx_route mx_pushrules_routes[] = {
	{MX_GET, "/_matrix/client/v3/pushrules/", mx_pushrules_get_all, MX_ROUTE_AUTH, C, 0, 0},
	{MX_GET, "/_matrix/client/v3/pushrules/global/", mx_pushrules_get_global, MX_ROUTE_AUTH, C, 0, 0},
	{MX_GET, "/_matrix/client/v3/pushrules/global/{kind}/", mx_pushrules_get_kind, MX_ROUTE_AUTH, C, 0, 0},
	{MX_GET, PR, mx_pushrules_get, MX_ROUTE_AUTH, C, 0, 0},
	{MX_PUT, PR, mx_pushrules_put, MX_ROUTE_AUTH | MX_ROUTE_JSON, C, 0, 0},
	{MX_DELETE, PR, mx_pushrules_delete, MX_ROUTE_AUTH, C, 0, 0},
	{MX_GET, PR "/enabled", mx_pushrules_get_enabled, MX_ROUTE_AUTH, C, 0, 0},
	{MX_PUT, PR "/enabled", mx_pushrules_put_enabled, MX_ROUTE_AUTH | MX_ROUTE_JSON, C, 0, 0},
	{MX_GET, PR "/actions", mx_pushrules_get_actions, MX_ROUTE_AUTH, C, 0, 0},
	{MX_PUT, PR "/actions", mx_pushrules_put_actions, MX_ROUTE_AUTH | MX_ROUTE_JSON, C, 0, 0},
	{MX_GET, "/_matrix/client/v3/notifications", mx_notifications_get, MX_ROUTE_AUTH, C, 0, 0},
};
const size_t mx_pushrules_routes_count =
	sizeof(mx_pushrules_routes) / sizeof(mx_pushrules_routes[0]);
