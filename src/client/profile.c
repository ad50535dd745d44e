/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Profiles: the whole profile, and one field at a time (displayname,
 * avatar_url, m.tz and custom fields, v1.16 extended profiles). Anyone may
 * read a local user's profile; only the user may change it. Another
 * server's user's profile is asked of that server (federation
 * query/profile, federation/query_client.h), briefly cached.
 *
 * Changing displayname or avatar_url will also have to update the user's
 * membership events and presence (SPEC: client-server-api#events-on-change-of-profile-information);
 * that hook comes with the rooms module.
 * SPEC: client-server-api#profiles
 */
#include <stdbool.h>
#include <string.h>

#include "client/rooms.h"
#include "client/routes.h"
#include "client/util.h"
#include "client/user_directory.h"
#include "core/canonjson.h"
#include "core/config.h"
#include "core/error.h"
#include "federation/query_client.h"
#include "http/request.h"
#include "store/profile.h"

/* SPEC: put_matrixclientv3profileuseridkeyname, M_KEY_TOO_LARGE: 255 bytes. */
#define MX_PROFILE_KEY_MAX 255
/* Per-field limits below the 64 KiB total, as Synapse has them. */
#define MX_DISPLAYNAME_MAX 256 /* code points */
#define MX_AVATAR_URL_MAX 1000 /* bytes */

/*
 * The field a request is about: the {keyName} capture, or for the literal
 * displayname/avatar_url routes the last segment of the route template.
 */
static const char *mx_profile_key(struct mx_req *req)
{
	if (req->n_params >= 2)
		return mx_req_param(req, 1);
	const char *slash = strrchr(req->route->path, '/');
	return slash ? slash + 1 : "";
}

/*
 * SPEC: appendices#common-namespaced-identifier-grammar, which keyName
 * must follow: [a-z] then [a-z0-9._-]. Namespacing (a '.') is a SHOULD
 * for clients that servers are asked not to enforce (MSC4133).
 */
static bool mx_profile_key_valid(const char *key)
{
	if (!(key[0] >= 'a' && key[0] <= 'z'))
		return false;
	for (const char *p = key; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		      *p == '_' || *p == '-'))
			return false;
	return true;
}

static int mx_profile_check_key(struct mx_req *req, const char *key)
{
	if (strlen(key) > MX_PROFILE_KEY_MAX)
		return mx_req_fail(req, MX_EKEYTOOLARGE, "Profile keys are at most %d bytes",
				   MX_PROFILE_KEY_MAX);
	if (!mx_profile_key_valid(key))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid profile key");
	return 0;
}

/* The user a read is about: a valid id, *local if on this server. */
static int mx_profile_read_target(struct mx_req *req, const char **user_id, bool *local)
{
	const char *uid = mx_req_param(req, 0);
	if (!mx_client_user_id_valid(uid))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid user ID");
	*user_id = uid;
	*local = mx_client_is_local(req, uid);
	return 0;
}

/*
 * Another server's user (field NULL: the whole profile), asked of their
 * server; parks the request. The remote's 404 and 403 pass on; anything
 * else is 502, as Synapse answers.
 */
static int mx_profile_get_remote(struct mx_req *req, const char *uid, const char *field,
				 json_t **out)
{
	int rc = mx_fed_query_profile_req(req, uid, field, out);
	if (rc == MX_ESUSPENDED)
		return rc;
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, rc, field ? "Profile field not found" : "Profile not found");
	if (rc == MX_EFORBIDDEN)
		return mx_req_fail(req, rc, "The user's server refuses to share their profile");
	if (rc)
		return mx_req_fail(req, MX_EREMOTE, "Failed to fetch profile");
	return 0;
}

/*
 * Only the user changes their profile; guests only their displayname
 * (SPEC: modules/guest_access "for their own account maintenance").
 */
static int mx_profile_check_writer(struct mx_req *req, const char *key)
{
	if (strcmp(mx_req_param(req, 0), req->auth.user_id) != 0)
		return mx_req_fail(req, MX_EFORBIDDEN, "Cannot change another user's profile");
	if (req->auth.is_guest && strcmp(key, "displayname") != 0)
		return mx_req_fail(req, MX_EGUESTDENIED, "Guests may only change their displayname");
	return 0;
}

/* SPEC: client-server-api#get_matrixclientv3profileuserid */
static int mx_profile_get_all(struct mx_req *req)
{
	const char *uid = NULL;
	bool local = true;
	int rc = mx_profile_read_target(req, &uid, &local);
	if (rc)
		return rc;
	json_t *profile;
	if (!local) {
		if ((rc = mx_profile_get_remote(req, uid, NULL, &profile)))
			return rc;
		return mx_req_reply_json(req, 200, json_incref(profile));
	}
	rc = mx_store_profile_get(req->w->rconn, &req->arena, uid, &profile);
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, rc, "Profile not found");
	if (rc)
		return mx_req_fail(req, rc, NULL);
	return mx_req_reply_json(req, 200, json_incref(profile));
}

/* SPEC: client-server-api#get_matrixclientv3profileuseridkeyname */
static int mx_profile_get_field(struct mx_req *req)
{
	const char *key = mx_profile_key(req), *uid = NULL;
	bool local = true;
	int rc = mx_profile_check_key(req, key);
	if (!rc)
		rc = mx_profile_read_target(req, &uid, &local);
	if (rc)
		return rc;
	json_t *value;
	if (!local) {
		json_t *profile;
		if ((rc = mx_profile_get_remote(req, uid, key, &profile)))
			return rc;
		value = json_object_get(profile, key);
	} else {
		rc = mx_store_profile_get_field(req->w->rconn, &req->arena, uid, key, &value);
	}
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, rc, "Profile field not found");
	if (rc)
		return mx_req_fail(req, rc, NULL);
	json_t *r = json_object();
	json_object_set(r, key, value);
	return mx_req_reply_json(req, 200, r);
}

/* SPEC: client-server-api#matrix-content-mxc-uris: mxc://<server-name>/<media-id>. */
static bool mx_profile_mxc_valid(const char *s)
{
	if (strncmp(s, "mxc://", 6) != 0)
		return false;
	const char *server = s + 6, *slash = strchr(server, '/');
	if (!slash || slash == server)
		return false;
	for (const char *p = server; p < slash; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '-' || *p == ':' || *p == '[' || *p == ']'))
			return false;
	const char *id = slash + 1;
	if (!*id)
		return false;
	/* "The media-id segment MUST consist of only alphanumeric, _ and -". */
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_' || *p == '-'))
			return false;
	return true;
}

static size_t mx_utf8_codepoints(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/*
 * Check the new value of key; *store is what to store (JSON null clears
 * displayname and avatar_url, which an empty string also does, as Synapse).
 */
static int mx_profile_check_value(struct mx_req *req, const char *key, json_t *value,
				  json_t **store)
{
	*store = value;
	if (!strcmp(key, "displayname") || !strcmp(key, "avatar_url")) {
		if (!json_is_string(value))
			return mx_req_fail(req, MX_EBADJSON, "'%s' must be a string", key);
		const char *s = json_string_value(value);
		if (!*s) {
			*store = mx_arena_json(&req->arena, json_null());
			return 0;
		}
		if (key[0] == 'd' && mx_utf8_codepoints(s) > MX_DISPLAYNAME_MAX)
			return mx_req_fail(req, MX_EINVALIDPARAM,
					   "displayname is too long (at most %d characters)",
					   MX_DISPLAYNAME_MAX);
		if (key[0] == 'a' && strlen(s) > MX_AVATAR_URL_MAX)
			return mx_req_fail(req, MX_EINVALIDPARAM,
					   "avatar_url is too long (at most %d bytes)", MX_AVATAR_URL_MAX);
		if (key[0] == 'a' && !mx_profile_mxc_valid(s))
			return mx_req_fail(req, MX_EINVALIDPARAM, "avatar_url must be an mxc:// URI");
		return 0;
	}
	/* "For m.tz, the value MUST be a valid identifier from the IANA Time
	 * Zone Database": a string; we do not check it against the database. */
	if (!strcmp(key, "m.tz") && !json_is_string(value))
		return mx_req_fail(req, MX_EBADJSON, "'m.tz' must be a string");
	/* Custom fields take any JSON that can be canonically encoded (the size
	 * limit is counted in canonical JSON, and profiles travel over federation). */
	if (mx_canonjson_check(value))
		return mx_req_fail(req, MX_EBADJSON,
				   "'%s' must not contain floats or integers beyond 2^53", key);
	return 0;
}

/* SPEC: client-server-api#put_matrixclientv3profileuseridkeyname */
static int mx_profile_put_field(struct mx_req *req)
{
	const char *key = mx_profile_key(req);
	int rc = mx_profile_check_key(req, key);
	if (!rc)
		rc = mx_profile_check_writer(req, key);
	if (rc)
		return rc;
	/* The body holds the field under its own name; other properties are
	 * ignored (the schema has additionalProperties: true). */
	json_t *value = json_object_get(req->json, key), *store;
	if (!value)
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing '%s'", key);
	rc = mx_profile_check_value(req, key, value, &store);
	if (rc)
		return rc;
	rc = mx_store_profile_set(req->srv->db, req->auth.user_id, key, store);
	if (rc == MX_EPROFILETOOLARGE)
		return mx_req_fail(req, rc, "The profile would exceed %d bytes", MX_PROFILE_MAX_BYTES);
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, rc, "User not found");
	if (rc)
		return mx_req_fail(req, rc, NULL);
	mx_user_directory_profile_changed(req, key);
	if (!strcmp(key, "displayname") || !strcmp(key, "avatar_url"))
		mx_client_profile_to_rooms(req);
	return mx_req_reply_empty(req);
}

/* SPEC: client-server-api#delete_matrixclientv3profileuseridkeyname: 200 also if absent. */
static int mx_profile_delete_field(struct mx_req *req)
{
	const char *key = mx_profile_key(req);
	int rc = mx_profile_check_key(req, key);
	if (!rc)
		rc = mx_profile_check_writer(req, key);
	if (rc)
		return rc;
	rc = mx_store_profile_delete(req->srv->db, req->auth.user_id, key);
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, rc, "User not found");
	if (rc)
		return mx_req_fail(req, rc, NULL);
	mx_user_directory_profile_changed(req, key);
	if (!strcmp(key, "displayname") || !strcmp(key, "avatar_url"))
		mx_client_profile_to_rooms(req);
	return mx_req_reply_empty(req);
}

/*
 * Reads need no token (the yaml gives them no security), but a token that
 * is sent is checked. Literal routes come before the {keyName} capture.
 */
#define C MX_RES_CLIENT
#define R_READ (MX_ROUTE_AUTH_OPTIONAL | MX_ROUTE_GUEST)
#define R_PUT (MX_ROUTE_AUTH | MX_ROUTE_GUEST | MX_ROUTE_JSON)
#define R_DEL (MX_ROUTE_AUTH | MX_ROUTE_GUEST)
const struct mx_route mx_profile_routes[] = {
	{MX_GET, "/_matrix/client/v3/profile/{userId}", mx_profile_get_all, R_READ, C, 0, 0},
	{MX_GET, "/_matrix/client/v3/profile/{userId}/displayname", mx_profile_get_field, R_READ, C, 0, 0},
	{MX_PUT, "/_matrix/client/v3/profile/{userId}/displayname", mx_profile_put_field, R_PUT, C, 0, 0},
	{MX_DELETE, "/_matrix/client/v3/profile/{userId}/displayname", mx_profile_delete_field, R_DEL, C, 0, 0},
	{MX_GET, "/_matrix/client/v3/profile/{userId}/avatar_url", mx_profile_get_field, R_READ, C, 0, 0},
	{MX_PUT, "/_matrix/client/v3/profile/{userId}/avatar_url", mx_profile_put_field, R_PUT, C, 0, 0},
	{MX_DELETE, "/_matrix/client/v3/profile/{userId}/avatar_url", mx_profile_delete_field, R_DEL, C, 0, 0},
	{MX_GET, "/_matrix/client/v3/profile/{userId}/{keyName}", mx_profile_get_field, R_READ, C, 0, 0},
	{MX_PUT, "/_matrix/client/v3/profile/{userId}/{keyName}", mx_profile_put_field, R_PUT, C, 0, 0},
	{MX_DELETE, "/_matrix/client/v3/profile/{userId}/{keyName}", mx_profile_delete_field, R_DEL, C, 0, 0},
};
const size_t mx_profile_routes_count = sizeof(mx_profile_routes) / sizeof(mx_profile_routes[0]);
