/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Account lifecycle: registration, login, token refresh, logout, whoami,
 * password change and deactivation.
 * SPEC: client-server-api#account-registration, #login, #refreshing-access-tokens,
 *       #password-management, #account-deactivation
 */
#include <string.h>

#include "appservice/registration.h"
#include "client/routes.h"
#include "client/uia.h"
#include "client/util.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/rand.h"
#include "crypto/password.h"
#include "http/auth.h"
#include "http/ratelimit.h"
#include "http/request.h"
#include "store/accounts.h"
#include "store/uia.h"

/* The device fields /register and /login share. */
struct mx_device_fields {
	const char *device_id;
	const char *display_name;
	bool want_refresh;
};

/* Synapse's limit on device display names, in bytes here. */
#define MX_DEVICE_NAME_MAX 400

static int mx_parse_device_fields(struct mx_req *req, json_t *body, struct mx_device_fields *d)
{
	int rc = mx_client_opt_string(req, body, "device_id", &d->device_id);
	if (!rc)
		rc = mx_client_opt_string(req, body, "initial_device_display_name", &d->display_name);
	if (!rc)
		rc = mx_client_opt_bool(req, body, "refresh_token", false, &d->want_refresh);
	if (rc)
		return rc;
	if (d->device_id && (!*d->device_id || strlen(d->device_id) > 255))
		return mx_req_fail(req, MX_EINVALIDPARAM, "device_id must be 1-255 characters");
	if (d->display_name && strlen(d->display_name) > MX_DEVICE_NAME_MAX)
		return mx_req_fail(req, MX_EINVALIDPARAM, "initial_device_display_name is too long");
	return 0;
}

static int mx_hash_new_password(struct mx_req *req, const char *password, char *out)
{
	const struct mx_config *cfg = req->srv->cfg;
	if (strlen(password) > MX_PASSWORD_MAX_LEN)
		return mx_req_fail(req, MX_EINVALIDPARAM, "Password too long");
	if ((int)strlen(password) < cfg->password_min_length)
		return mx_req_fail(req, MX_EWEAKPASSWORD, "Password must be at least %d characters",
				   cfg->password_min_length);
	struct mx_password_cost cost = {req->srv->pw_opslimit, req->srv->pw_memlimit};
	if (mx_password_hash(password, out, &cost))
		return mx_req_fail(req, MX_EUNKNOWN, "Password hashing failed");
	return 0;
}

static json_t *mx_session_json(struct mx_req *req, const char *user_id, const char *device_id,
			       const struct mx_session_tokens *t)
{
	json_t *r = json_pack("{s:s, s:s, s:s, s:s}", "user_id", user_id, "access_token",
			      t->access_token, "device_id", device_id, "home_server",
			      req->srv->cfg->server_name);
	if (t->refresh_token[0])
		json_object_set_new(r, "refresh_token", json_string(t->refresh_token));
	if (t->expires_in_ms)
		json_object_set_new(r, "expires_in_ms", json_integer(t->expires_in_ms));
	return r;
}

static void mx_token_lifetimes(const struct mx_config *cfg, bool want_refresh, int64_t *access,
			       int64_t *refresh)
{
	*access = want_refresh ? cfg->refreshable_access_token_lifetime_ms
			       : cfg->nonrefreshable_access_token_lifetime_ms;
	*refresh = cfg->refresh_token_lifetime_ms;
}

/* ---- registration ---- */

/* SPEC: client-server-api#get_matrixclientv3registeravailable */
static int mx_check_username(struct mx_req *req, const char *username, const char **user_id)
{
	if (!mx_client_localpart_valid(username))
		return mx_req_fail(req, MX_EINVALIDUSERNAME,
				   "User ID can only contain characters a-z, 0-9, or '=_-./+'");
	const char *uid = mx_arena_printf(&req->arena, "@%s:%s", username, req->srv->cfg->server_name);
	if (strlen(uid) > 255)
		return mx_req_fail(req, MX_EINVALIDUSERNAME, "User ID is too long");
	/* SPEC: application-service-api#server-admin-style-permissions:
	 * exclusive namespaces are the application service's alone. */
	if (mx_appservices_exclusive_user(req->srv->appservices, NULL, uid))
		return mx_req_fail(req, MX_EEXCLUSIVE,
				   "This user ID is reserved by an application service");
	if (mx_store_user_exists(req->w->rconn, uid))
		return mx_req_fail(req, MX_EUSERINUSE, "User ID already taken");
	*user_id = uid;
	return 0;
}

static int mx_register_available(struct mx_req *req)
{
	const char *username = mx_req_query(req, "username");
	if (!username)
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing username");
	const char *uid;
	int rc = mx_check_username(req, username, &uid);
	if (rc)
		return rc;
	return mx_req_reply_json(req, 200, json_pack("{s:b}", "available", 1));
}

/* SPEC: client-server-api#get_matrixclientv1registermloginregistration_tokenvalidity */
static int mx_regtoken_validity(struct mx_req *req)
{
	const char *token = mx_req_query(req, "token");
	if (!token)
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing token");
	if (!req->srv->cfg->enable_registration)
		return mx_req_fail(req, MX_EFORBIDDEN, "Registration is disabled");
	bool valid = strlen(token) <= 64 &&
		     mx_store_regtoken_valid(req->w->rconn, token, mx_clock_now_ms());
	return mx_req_reply_json(req, 200, json_pack("{s:b}", "valid", valid));
}

static const char *mx_generate_localpart(struct mx_req *req)
{
	/* Numeric ids, as Synapse generates for guests and nameless accounts. */
	for (int tries = 0; tries < 16; tries++) {
		uint64_t n = mx_rand_u64() % 1000000000000ull;
		const char *lp = mx_arena_printf(&req->arena, "%llu", (unsigned long long)n);
		const char *uid = mx_arena_printf(&req->arena, "@%s:%s", lp, req->srv->cfg->server_name);
		if (!mx_store_user_exists(req->w->rconn, uid))
			return lp;
	}
	return NULL;
}

static int mx_register_guest(struct mx_req *req, json_t *body)
{
	const struct mx_config *cfg = req->srv->cfg;
	if (!cfg->allow_guest_access)
		return mx_req_fail(req, MX_EGUESTDENIED, "Guest access is disabled");
	struct mx_device_fields dev;
	int rc = mx_parse_device_fields(req, body, &dev);
	if (rc)
		return rc;
	const char *lp = mx_generate_localpart(req);
	if (!lp)
		return mx_req_fail(req, MX_EUNKNOWN, "Could not allocate a user id");
	struct mx_new_user u = {0};
	u.user_id = mx_arena_printf(&req->arena, "@%s:%s", lp, cfg->server_name);
	u.is_guest = true;
	u.displayname = NULL;
	/* Guests cannot choose their device id: it is ignored, as the spec says. */
	u.device_id = mx_client_new_device_id(req);
	u.device_display_name = dev.display_name;
	u.want_refresh = dev.want_refresh;
	mx_token_lifetimes(cfg, dev.want_refresh, &u.access_lifetime_ms, &u.refresh_lifetime_ms);
	struct mx_session_tokens t;
	rc = mx_store_user_create(req->srv->db, &u, &t);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	return mx_req_reply_json(req, 200, mx_session_json(req, u.user_id, u.device_id, &t));
}

/* Synapse lower-cases a requested user name before checking it. */
static char *mx_register_lower(struct mx_req *req, const char *username)
{
	char *lower = mx_arena_strdup(&req->arena, username);
	for (char *p = lower; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return lower;
}

/* The new device and token lifetimes of a registration, unless inhibit_login. */
static void mx_register_device(struct mx_req *req, struct mx_new_user *u,
			       const struct mx_device_fields *dev, bool inhibit)
{
	if (inhibit)
		return;
	u->device_id = dev->device_id ? dev->device_id : mx_client_new_device_id(req);
	u->device_display_name = dev->display_name;
	u->want_refresh = dev->want_refresh;
	mx_token_lifetimes(req->srv->cfg, dev->want_refresh, &u->access_lifetime_ms,
			   &u->refresh_lifetime_ms);
}

/* The answer to a registration: the session, or only the user id when inhibited. */
static int mx_register_reply(struct mx_req *req, const struct mx_new_user *u, bool inhibit,
			     const struct mx_session_tokens *t)
{
	if (inhibit)
		return mx_req_reply_json(req, 200, json_pack("{s:s, s:s}", "user_id", u->user_id,
							     "home_server", req->srv->cfg->server_name));
	return mx_req_reply_json(req, 200, mx_session_json(req, u->user_id, u->device_id, t));
}

/*
 * Registration by an application service: no UIA, a user in its users
 * namespaces, no password. Recorded in the audit log.
 * SPEC: application-service-api#server-admin-style-permissions
 */
static int mx_register_appservice(struct mx_req *req, json_t *body)
{
	const struct mx_config *cfg = req->srv->cfg;
	const char *h = mx_req_header(req, "Authorization");
	const struct mx_appservice *as = mx_http_appservice_of(req);
	if (!h)
		return mx_req_fail(req, MX_EMISSINGTOKEN, "Missing access token");
	if (!as)
		return mx_req_fail(req, MX_EUNKNOWNTOKEN, "Unrecognised access token");
	const char *username;
	bool inhibit;
	struct mx_device_fields dev;
	int rc = mx_client_opt_string(req, body, "username", &username);
	if (!rc)
		rc = mx_client_opt_bool(req, body, "inhibit_login", false, &inhibit);
	if (!rc)
		rc = mx_parse_device_fields(req, body, &dev);
	if (rc)
		return rc;
	if (!username)
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing username");
	char *lower = mx_register_lower(req, username);
	if (!mx_client_localpart_valid(lower))
		return mx_req_fail(req, MX_EINVALIDUSERNAME,
				   "User ID can only contain characters a-z, 0-9, or '=_-./+'");
	const char *user_id = mx_arena_printf(&req->arena, "@%s:%s", lower, cfg->server_name);
	if (strlen(user_id) > 255)
		return mx_req_fail(req, MX_EINVALIDUSERNAME, "User ID is too long");
	if (!mx_appservice_owns_user(as, user_id) ||
	    mx_appservices_exclusive_user(req->srv->appservices, as, user_id))
		return mx_req_fail(req, MX_EEXCLUSIVE,
				   "User ID is not in the application service's namespace");
	struct mx_new_user u = {0}; /* a taken id: M_USER_IN_USE from the store */
	u.user_id = user_id;
	u.displayname = lower;
	u.audit_actor = mx_arena_printf(&req->arena, "appservice:%s", as->id);
	mx_register_device(req, &u, &dev, inhibit);
	struct mx_session_tokens t;
	rc = mx_store_user_create(req->srv->db, &u, &t);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	return mx_register_reply(req, &u, inhibit, &t);
}

/* SPEC: client-server-api#post_matrixclientv3register */
static int mx_register(struct mx_req *req)
{
	const struct mx_config *cfg = req->srv->cfg;
	json_t *body = req->json;
	const char *type = json_string_value(json_object_get(body, "type"));
	if (type && !strcmp(type, "m.login.application_service"))
		return mx_register_appservice(req, body);
	const char *kind = mx_req_query(req, "kind");
	if (kind && strcmp(kind, "user") != 0 && strcmp(kind, "guest") != 0)
		return mx_req_fail(req, MX_EINVALIDPARAM, "kind must be 'user' or 'guest'");
	if (kind && !strcmp(kind, "guest"))
		return mx_register_guest(req, body);
	if (!cfg->enable_registration)
		return mx_req_fail(req, MX_EFORBIDDEN, "Registration has been disabled");

	const char *username, *password;
	bool inhibit;
	struct mx_device_fields dev;
	int rc = mx_client_opt_string(req, body, "username", &username);
	if (!rc)
		rc = mx_client_opt_string(req, body, "password", &password);
	if (!rc)
		rc = mx_client_opt_bool(req, body, "inhibit_login", false, &inhibit);
	if (!rc)
		rc = mx_parse_device_fields(req, body, &dev);
	if (rc)
		return rc;
	const char *user_id = NULL;
	if (username) {
		rc = mx_check_username(req, mx_register_lower(req, username), &user_id);
		if (rc)
			return rc;
	}
	char hash[MX_PASSWORD_HASH_MAX];
	if (password) {
		rc = mx_hash_new_password(req, password, hash);
		if (rc)
			return rc;
	}

	static const struct mx_uia_flow open_flows[] = {{{MX_UIA_DUMMY}}};
	static const struct mx_uia_flow token_flows[] = {{{MX_UIA_REGTOKEN}}};
	struct mx_uia_result uia;
	rc = cfg->registration_requires_token ? mx_uia_run(req, "register", NULL, token_flows, 1, &uia)
					       : mx_uia_run(req, "register", NULL, open_flows, 1, &uia);
	if (rc)
		return rc;
	if (!password)
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing password");
	if (!user_id) {
		const char *lp = mx_generate_localpart(req);
		if (!lp)
			return mx_req_fail(req, MX_EUNKNOWN, "Could not allocate a user id");
		user_id = mx_arena_printf(&req->arena, "@%s:%s", lp, cfg->server_name);
	}

	struct mx_new_user u = {0};
	u.user_id = user_id;
	u.password_hash = hash;
	/* The default display name is the localpart, as in Synapse. */
	u.displayname = mx_arena_strndup(&req->arena, user_id + 1, strcspn(user_id + 1, ":"));
	u.registration_token = uia.registration_token;
	mx_register_device(req, &u, &dev, inhibit);
	struct mx_session_tokens t;
	rc = mx_store_user_create(req->srv->db, &u, &t);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	mx_uia_finish(req, &uia);
	return mx_register_reply(req, &u, inhibit, &t);
}

/* ---- login ---- */

/* SPEC: client-server-api#get_matrixclientv3login */
static int mx_login_flows(struct mx_req *req)
{
	json_t *flows = json_array();
	if (req->srv->cfg->password_login_enabled)
		json_array_append_new(flows, json_pack("{s:s}", "type", "m.login.password"));
	return mx_req_reply_json(req, 200, json_pack("{s:o}", "flows", flows));
}

/* Per-account limits: attempts, and failed attempts (rc_login.account/.failed_attempts). */
static int mx_login_account_limits(struct mx_req *req, json_t *body, const char **key)
{
	const struct mx_config *cfg = req->srv->cfg;
	json_t *ident = json_object_get(body, "identifier");
	const char *user = json_string_value(json_object_get(ident ? ident : body, "user"));
	*key = user ? mx_client_qualify_user(req, user) : NULL;
	if (!*key)
		return 0;
	int64_t retry = 0, now = mx_clock_mono_ms();
	if (mx_ratelimit_check(req->srv->rl, 100, *key, cfg->rc_login_failed.per_second,
			       cfg->rc_login_failed.burst_count, now, &retry) ||
	    mx_ratelimit_take(req->srv->rl, 101, *key, cfg->rc_login_account.per_second,
			      cfg->rc_login_account.burst_count, now, &retry))
		return mx_http_fail_ratelimited(req, retry);
	return 0;
}

/* SPEC: client-server-api#post_matrixclientv3login */
static int mx_login(struct mx_req *req)
{
	const struct mx_config *cfg = req->srv->cfg;
	json_t *body = req->json;
	const char *type;
	struct mx_device_fields dev;
	int rc = mx_client_opt_string(req, body, "type", &type);
	if (!rc)
		rc = mx_parse_device_fields(req, body, &dev);
	if (rc)
		return rc;
	if (!type)
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing login type");
	if (strcmp(type, "m.login.password") != 0 || !cfg->password_login_enabled)
		return mx_req_fail(req, MX_EBADREQUEST, "Unknown login type %s", type);

	const char *limit_key;
	rc = mx_login_account_limits(req, body, &limit_key);
	if (rc)
		return rc;
	const char *user_id, *msg = NULL;
	rc = mx_uia_check_password(req, body, NULL, &user_id, &msg);
	if (rc) {
		if (limit_key && rc == MX_EFORBIDDEN) {
			int64_t retry;
			mx_ratelimit_take(req->srv->rl, 100, limit_key, cfg->rc_login_failed.per_second,
					  cfg->rc_login_failed.burst_count, mx_clock_mono_ms(), &retry);
		}
		return mx_req_fail(req, rc, "%s", msg);
	}
	struct mx_new_login l = {0};
	l.user_id = user_id;
	l.device_id = dev.device_id ? dev.device_id : mx_client_new_device_id(req);
	l.device_display_name = dev.display_name;
	l.want_refresh = dev.want_refresh;
	mx_token_lifetimes(cfg, dev.want_refresh, &l.access_lifetime_ms, &l.refresh_lifetime_ms);
	struct mx_session_tokens t;
	rc = mx_store_login(req->srv->db, &l, &t);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	json_t *r = mx_session_json(req, user_id, l.device_id, &t);
	json_object_set_new(r, "well_known",
			    json_pack("{s:{s:s}}", "m.homeserver", "base_url", cfg->public_baseurl));
	return mx_req_reply_json(req, 200, r);
}

/* SPEC: client-server-api#post_matrixclientv3refresh */
static int mx_refresh(struct mx_req *req)
{
	const char *token;
	int rc = mx_client_opt_string(req, req->json, "refresh_token", &token);
	if (rc)
		return rc;
	if (!token)
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing refresh_token");
	const struct mx_config *cfg = req->srv->cfg;
	struct mx_session_tokens t;
	rc = mx_store_refresh(req->srv->db, &req->arena, token,
			      cfg->refreshable_access_token_lifetime_ms, cfg->refresh_token_lifetime_ms,
			      &t);
	if (rc == MX_ETOKENINCORRECT)
		return mx_req_fail_json(req, rc, 401,
					json_pack("{s:s, s:s, s:b}", "errcode", "M_UNKNOWN_TOKEN",
						  "error", "Invalid refresh token", "soft_logout", 0));
	if (rc)
		return mx_req_fail(req, rc, NULL);
	json_t *r = json_pack("{s:s, s:s}", "access_token", t.access_token, "refresh_token",
			      t.refresh_token);
	if (t.expires_in_ms)
		json_object_set_new(r, "expires_in_ms", json_integer(t.expires_in_ms));
	return mx_req_reply_json(req, 200, r);
}

static int mx_logout(struct mx_req *req)
{
	int rc = mx_store_logout(req->srv->db, req->auth.token_hash);
	return rc ? mx_req_fail(req, rc, NULL) : mx_req_reply_empty(req);
}

static int mx_logout_all(struct mx_req *req)
{
	int rc = mx_store_logout_all(req->srv->db, req->auth.user_id);
	return rc ? mx_req_fail(req, rc, NULL) : mx_req_reply_empty(req);
}

/* SPEC: client-server-api#get_matrixclientv3accountwhoami */
static int mx_whoami(struct mx_req *req)
{
	return mx_req_reply_json(req, 200,
				 json_pack("{s:s, s:s?, s:b}", "user_id", req->auth.user_id,
					   "device_id", req->auth.device_id, "is_guest",
					   req->auth.is_guest));
}

/* SPEC: client-server-api#post_matrixclientv3accountpassword */
static int mx_account_password(struct mx_req *req)
{
	if (!req->srv->cfg->password_login_enabled)
		return mx_req_fail(req, MX_EFORBIDDEN, "Password changes are disabled");
	const char *password;
	bool logout_devices;
	int rc = mx_client_opt_string(req, req->json, "new_password", &password);
	if (!rc)
		rc = mx_client_opt_bool(req, req->json, "logout_devices", true, &logout_devices);
	if (rc)
		return rc;
	if (!password)
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing new_password");
	char hash[MX_PASSWORD_HASH_MAX];
	rc = mx_hash_new_password(req, password, hash);
	if (rc)
		return rc;
	static const struct mx_uia_flow flows[] = {{{MX_UIA_PASSWORD}}};
	struct mx_uia_result uia;
	rc = mx_uia_run(req, "password", req->auth.user_id, flows, 1, &uia);
	if (rc)
		return rc;
	rc = mx_store_set_password(req->srv->db, req->auth.user_id, hash, logout_devices,
				   req->auth.device_id);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	mx_uia_finish(req, &uia);
	return mx_req_reply_empty(req);
}

/* SPEC: client-server-api#post_matrixclientv3accountdeactivate */
static int mx_account_deactivate(struct mx_req *req)
{
	bool erase;
	const char *id_server;
	int rc = mx_client_opt_bool(req, req->json, "erase", false, &erase);
	if (!rc)
		rc = mx_client_opt_string(req, req->json, "id_server", &id_server);
	if (rc)
		return rc;
	static const struct mx_uia_flow flows[] = {{{MX_UIA_PASSWORD}}};
	struct mx_uia_result uia;
	rc = mx_uia_run(req, "deactivate", req->auth.user_id, flows, 1, &uia);
	if (rc)
		return rc;
	rc = mx_store_deactivate(req->srv->db, req->auth.user_id, req->auth.user_id);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	mx_uia_finish(req, &uia);
	/* We hold no third-party identifiers, so there is nothing to unbind. */
	return mx_req_reply_json(req, 200, json_pack("{s:s}", "id_server_unbind_result", "success"));
}

#define C MX_RES_CLIENT
const struct mx_route mx_account_routes[] = {
	{MX_POST, "/_matrix/client/v3/register", mx_register, MX_ROUTE_JSON, C, MX_RL_REGISTER, 0},
	{MX_GET, "/_matrix/client/v3/register/available", mx_register_available, 0, C, MX_RL_REGISTER, 0},
	{MX_GET, "/_matrix/client/v1/register/m.login.registration_token/validity", mx_regtoken_validity, 0, C, MX_RL_REGISTER, 0},
	{MX_GET, "/_matrix/client/v3/login", mx_login_flows, 0, C, 0, 0},
	{MX_POST, "/_matrix/client/v3/login", mx_login, MX_ROUTE_JSON, C, MX_RL_LOGIN, 0},
	{MX_POST, "/_matrix/client/v3/refresh", mx_refresh, MX_ROUTE_JSON, C, 0, 0},
	{MX_POST, "/_matrix/client/v3/logout", mx_logout, MX_ROUTE_AUTH | MX_ROUTE_GUEST | MX_ROUTE_JSON | MX_ROUTE_EMPTY_BODY, C, 0, 0},
	{MX_POST, "/_matrix/client/v3/logout/all", mx_logout_all, MX_ROUTE_AUTH | MX_ROUTE_GUEST | MX_ROUTE_JSON | MX_ROUTE_EMPTY_BODY, C, 0, 0},
	{MX_GET, "/_matrix/client/v3/account/whoami", mx_whoami, MX_ROUTE_AUTH | MX_ROUTE_GUEST, C, 0, 0},
	{MX_POST, "/_matrix/client/v3/account/password", mx_account_password, MX_ROUTE_AUTH | MX_ROUTE_JSON, C, 0, 0},
	{MX_POST, "/_matrix/client/v3/account/deactivate", mx_account_deactivate, MX_ROUTE_AUTH | MX_ROUTE_JSON, C, 0, 0},
};
const size_t mx_account_routes_count = sizeof(mx_account_routes) / sizeof(mx_account_routes[0]);
