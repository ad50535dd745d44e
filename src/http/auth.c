/* SPDX-License-Identifier: Apache-2.0 */
/* Access tokens and rate-limit classes. */
#include "http/auth.h"

#include <string.h>

#include "appservice/registration.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "crypto/hash.h"
#include "http/ratelimit.h"
#include "http/request.h"
#include "store/accounts.h"
#include "store/appservice.h"

#define MX_LAST_SEEN_PRECISION_MS 60000

static int mx_http_fail_token(struct mx_req *req, const char *msg, bool soft_logout)
{
	json_t *body = json_pack("{s:s, s:s, s:b}", "errcode", "M_UNKNOWN_TOKEN", "error", msg,
				 "soft_logout", soft_logout);
	return mx_req_fail_json(req, MX_EUNKNOWNTOKEN, 401, body);
}

static const char *mx_http_bearer(struct mx_req *req)
{
	const char *h = mx_req_header(req, "Authorization");
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	const char *token = h + 7;
	while (*token == ' ')
		token++;
	return token;
}

const struct mx_appservice *mx_http_appservice_of(struct mx_req *req)
{
	const char *token = mx_http_bearer(req);
	return token && *token ? mx_appservices_by_token(req->srv->appservices, token) : NULL;
}

/*
 * An as_token: the request acts as the registration's sender, or as the
 * user named by ?user_id= in its namespaces (identity assertion), which
 * is recorded in the audit log before the request goes on.
 * SPEC: application-service-api#identity-assertion
 */
static int mx_http_auth_appservice(struct mx_req *req, const struct mx_appservice *as)
{
	const char *user_id = mx_req_query(req, "user_id");
	const char *device_id = mx_req_query(req, "device_id");
	const char *server = req->srv->cfg->server_name;
	if (!user_id || !*user_id) {
		user_id = as->sender;
	} else if (strcmp(user_id, as->sender) != 0) {
		const char *colon = strchr(user_id, ':');
		if (user_id[0] != '@' || !colon || strcmp(colon + 1, server) != 0 ||
		    !mx_appservice_owns_user(as, user_id))
			return mx_req_fail(req, MX_EFORBIDDEN,
					   "Application service cannot masquerade as this user");
		if (!mx_store_user_exists(req->w->rconn, user_id))
			return mx_req_fail(req, MX_EFORBIDDEN,
					   "Application service has not registered this user");
	}
	if (device_id) {
		struct mx_device d;
		int rc = mx_store_device_get(req->w->rconn, &req->arena, user_id, device_id, &d);
		if (rc == MX_ENOTFOUND)
			return mx_req_fail_json(req, MX_EINVALIDPARAM, 400,
						json_pack("{s:s, s:s}", "errcode", "M_UNKNOWN_DEVICE",
							  "error", "Unknown device"));
		if (rc)
			return mx_req_fail(req, rc, NULL);
	}
	if (strcmp(user_id, as->sender) != 0 || device_id) {
		/* No request acts as a user without a record of it. */
		const char *actor = mx_arena_printf(&req->arena, "appservice:%s", as->id);
		const char *detail = mx_arena_printf(&req->arena, "%.512s%s%s", req->path,
						     device_id ? " device " : "",
						     device_id ? device_id : "");
		int rc = mx_store_as_audit(req->srv->db, actor, "masquerade", user_id, detail);
		if (rc)
			return mx_req_fail(req, rc, NULL);
	}
	req->auth.user_id = mx_arena_strdup(&req->arena, user_id);
	req->auth.device_id = device_id ? mx_arena_strdup(&req->arena, device_id) : NULL;
	req->auth.appservice = as;
	return 0;
}

/* SPEC: client-server-api#using-access-tokens */
int mx_http_auth(struct mx_req *req)
{
	unsigned flags = req->route->flags;
	if (flags & MX_ROUTE_FEDERATION) {
		if (!req->srv->fed_auth)
			return mx_req_fail(req, MX_EUNAUTHORIZED, "Federation is not enabled");
		return req->srv->fed_auth(req);
	}
	if (!(flags & (MX_ROUTE_AUTH | MX_ROUTE_AUTH_OPTIONAL)))
		return 0;
	const char *h = mx_req_header(req, "Authorization");
	if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
		if (flags & MX_ROUTE_AUTH_OPTIONAL)
			return 0;
		/* The access_token query parameter is no longer supported (v1.20
		 * note in the spec): a token there counts as missing. */
		return mx_req_fail(req, MX_EMISSINGTOKEN, "Missing access token");
	}
	const char *token = h + 7;
	while (*token == ' ')
		token++;
	char hash[65];
	if (!*token || strlen(token) > 256 || mx_hash_token(token, hash))
		return mx_http_fail_token(req, "Unrecognised access token", false);
	struct mx_token_info ti;
	int rc = mx_store_token_lookup(req->w->rconn, &req->arena, hash, &ti);
	if (rc == MX_ENOTFOUND) {
		/* Only unknown tokens are compared with the as_tokens: user
		 * tokens cost nothing more. */
		const struct mx_appservice *as = mx_appservices_by_token(req->srv->appservices, token);
		if (as)
			return mx_http_auth_appservice(req, as);
		return mx_http_fail_token(req, "Unrecognised access token", false);
	}
	if (rc)
		return mx_req_fail(req, rc, NULL);
	int64_t now = mx_clock_now_ms();
	if (ti.expires_ts && ti.expires_ts <= now)
		return mx_http_fail_token(req, "Access token has expired", true);
	if (ti.deactivated && !(flags & MX_ROUTE_ALLOW_DEACTIVATED))
		return mx_http_fail_token(req, "User account has been deactivated", false);
	if (ti.is_guest && !(flags & MX_ROUTE_GUEST))
		return mx_req_fail(req, MX_EGUESTDENIED, "Guest access not allowed");
	if (ti.refresh_id && !ti.used) {
		rc = mx_store_token_first_use(req->srv->db, hash, ti.refresh_id);
		if (rc)
			return mx_req_fail(req, rc, NULL);
	}
	/* Last-seen is shown in device lists; a minute's precision keeps it
	 * to one write per device per minute instead of one per request. */
	if (now - ti.last_seen_ts > MX_LAST_SEEN_PRECISION_MS)
		mx_store_device_touch(req->srv->db, ti.user_id, ti.device_id, req->client_ip, now);
	req->auth.user_id = ti.user_id;
	req->auth.device_id = ti.device_id;
	req->auth.token_hash = mx_arena_strdup(&req->arena, hash);
	req->auth.is_guest = ti.is_guest;
	req->auth.is_admin = ti.is_admin;
	return 0;
}

int mx_http_fail_ratelimited(struct mx_req *req, long long retry_after_ms)
{
	json_t *body = json_pack("{s:s, s:s, s:I}", "errcode", "M_LIMIT_EXCEEDED", "error",
				 "Too many requests", "retry_after_ms", (json_int_t)retry_after_ms);
	long long secs = (retry_after_ms + 999) / 1000;
	mx_req_add_header(req, "Retry-After", mx_arena_printf(&req->arena, "%lld", secs));
	return mx_req_fail_json(req, MX_ELIMIT, 429, body);
}

int mx_http_ratelimit(struct mx_req *req)
{
	const struct mx_config *cfg = req->srv->cfg;
	const struct mx_config_ratelimit *rl;
	const char *key;
	switch (req->route->ratelimit) {
	case MX_RL_REGISTER:
		rl = &cfg->rc_registration;
		key = req->client_ip;
		break;
	case MX_RL_LOGIN:
		rl = &cfg->rc_login_address;
		key = req->client_ip;
		break;
	case MX_RL_MESSAGE:
		rl = &cfg->rc_message;
		key = req->auth.user_id ? req->auth.user_id : req->client_ip;
		break;
	default:
		return 0;
	}
	if (req->auth.is_admin || (req->auth.appservice && !req->auth.appservice->rate_limited))
		return 0;
	int64_t retry = 0;
	if (mx_ratelimit_take(req->srv->rl, (int)req->route->ratelimit, key, rl->per_second,
			      rl->burst_count, mx_clock_mono_ms(), &retry))
		return mx_http_fail_ratelimited(req, retry);
	return 0;
}
