/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Server-side key backups: backup versions (POST/GET /room_keys/version,
 * GET/PUT/DELETE /room_keys/version/{version}) and the backed-up session
 * keys at three scopes (/room_keys/keys, .../{roomId}, .../{roomId}/{sessionId}).
 * A user only ever sees and changes their own backup: every query is keyed
 * by the requester's user id. The server never looks inside auth_data or
 * session_data; it only enforces the shapes and the replacement rules.
 * SPEC: client-server-api#server-side-key-backups
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "client/ephemeral.h"
#include "client/routes.h"
#include "core/config.h"
#include "core/error.h"
#include "core/mem.h"
#include "http/request.h"
#include "store/key_backup.h"

#define MX_KB_ALGORITHM_MAX 255
#define MX_KB_SESSION_ID_MAX 255
/* A backup version's auth_data and a key's session_data are small objects. */
#define MX_KB_VERSION_BODY_MAX 65536

/* The version as a path or query value; replies 404 for anything unparsable. */
static int mx_kb_version_arg(struct mx_req *req, const char *s, int64_t *version)
{
	if (!mx_key_backup_version_parse(s, version))
		return mx_req_fail(req, MX_ENOTFOUND, "Unknown backup version");
	return 0;
}

/* The required ?version= of the keys endpoints. */
static int mx_kb_query_version(struct mx_req *req, int64_t *version)
{
	const char *v = mx_req_query(req, "version");
	if (!v)
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing 'version' query parameter");
	return mx_kb_version_arg(req, v, version);
}

static char *mx_kb_itoa(struct mx_req *req, int64_t v)
{
	return mx_arena_printf(&req->arena, "%lld", (long long)v);
}

/* {algorithm, auth_data} of a version body; replies on error. */
static int mx_kb_version_body(struct mx_req *req, const char **algorithm, const char **auth_data)
{
	json_t *alg = json_object_get(req->json, "algorithm");
	json_t *auth = json_object_get(req->json, "auth_data");
	if (!alg || !auth)
		return mx_req_fail(req, MX_EMISSINGPARAM, "'algorithm' and 'auth_data' are required");
	if (!json_is_string(alg) || !json_string_length(alg) ||
	    json_string_length(alg) > MX_KB_ALGORITHM_MAX)
		return mx_req_fail(req, MX_EBADJSON, "'algorithm' must be a non-empty string");
	if (!json_is_object(auth))
		return mx_req_fail(req, MX_EBADJSON, "'auth_data' must be an object");
	char *text = json_dumps(auth, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return mx_req_fail(req, MX_EBADJSON, "'auth_data' cannot be stored");
	*auth_data = mx_arena_own(&req->arena, text);
	*algorithm = json_string_value(alg);
	return 0;
}

/* SPEC: client-server-api#post_matrixclientv3room_keysversion */
static int mx_kb_version_create(struct mx_req *req)
{
	const char *alg, *auth;
	int rc = mx_kb_version_body(req, &alg, &auth);
	if (rc)
		return rc;
	int64_t version;
	rc = mx_store_key_backup_version_create(req->srv->db, req->auth.user_id, alg, auth,
						&version);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	return mx_req_reply_json(req, 200, json_pack("{s:s}", "version", mx_kb_itoa(req, version)));
}

/* SPEC: client-server-api#get_matrixclientv3room_keysversion and ...version{version} */
static int mx_kb_version_get(struct mx_req *req)
{
	int64_t version = 0;
	if (req->n_params > 0) {
		int rc = mx_kb_version_arg(req, mx_req_param(req, 0), &version);
		if (rc)
			return rc;
	}
	struct mx_key_backup_version v;
	int rc = mx_store_key_backup_version_get(req->w->rconn, &req->arena, req->auth.user_id,
						 version, &v);
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, rc, version ? "Unknown backup version"
						    : "No current backup version");
	if (rc)
		return mx_req_fail(req, rc, NULL);
	json_t *auth = json_loads(v.auth_data, 0, NULL);
	return mx_req_reply_json(req, 200,
				 json_pack("{s:s,s:o,s:s,s:s,s:I}", "algorithm", v.algorithm,
					   "auth_data", auth ? auth : json_object(), "version",
					   mx_kb_itoa(req, v.version), "etag", mx_kb_itoa(req, v.etag),
					   "count", (json_int_t)v.count));
}

/* SPEC: client-server-api#put_matrixclientv3room_keysversionversion */
static int mx_kb_version_update(struct mx_req *req)
{
	int64_t version;
	const char *alg, *auth;
	int rc = mx_kb_version_arg(req, mx_req_param(req, 0), &version);
	if (!rc)
		rc = mx_kb_version_body(req, &alg, &auth);
	if (rc)
		return rc;
	/* SPEC: "version: The backup version. If present, must be the same as
	 * the version in the path parameter." */
	json_t *bv = json_object_get(req->json, "version");
	if (bv && (!json_is_string(bv) || strcmp(json_string_value(bv), mx_req_param(req, 0))))
		return mx_req_fail(req, MX_EINVALIDPARAM,
				   "'version' in the body must match the path");
	rc = mx_store_key_backup_version_update(req->srv->db, req->auth.user_id, version, alg,
						auth);
	switch (rc) {
	case 0:
		return mx_req_reply_empty(req);
	case MX_ENOTFOUND:
		return mx_req_fail(req, rc, "Unknown backup version");
	case MX_EBADSTATE:
		return mx_req_fail(req, MX_EINVALIDPARAM,
				   "Only the current backup version can be updated");
	case MX_EINVALIDPARAM:
		return mx_req_fail(req, rc, "Algorithm does not match the backup version's");
	default:
		return mx_req_fail(req, rc, NULL);
	}
}

/* SPEC: client-server-api#delete_matrixclientv3room_keysversionversion */
static int mx_kb_version_delete(struct mx_req *req)
{
	int64_t version;
	int rc = mx_kb_version_arg(req, mx_req_param(req, 0), &version);
	if (rc)
		return rc;
	rc = mx_store_key_backup_version_delete(req->srv->db, req->auth.user_id, version);
	if (rc)
		return mx_req_fail(req, rc, rc == MX_ENOTFOUND ? "Unknown backup version" : NULL);
	return mx_req_reply_empty(req);
}

/* SPEC: client-server-api#put_matrixclientv3room_keyskeysroomidsessionid (KeyBackupData) */
static int mx_kb_key_parse(struct mx_req *req, json_t *d, const char *room_id,
			   const char *session_id, struct mx_room_key *k)
{
	if (!mx_client_room_id_ok(room_id))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid room ID");
	size_t sl = strlen(session_id);
	if (!sl || sl > MX_KB_SESSION_ID_MAX)
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid session ID");
	if (!json_is_object(d))
		return mx_req_fail(req, MX_EBADJSON, "Key backup data must be an object");
	json_t *fmi = json_object_get(d, "first_message_index");
	json_t *fc = json_object_get(d, "forwarded_count");
	json_t *ver = json_object_get(d, "is_verified");
	json_t *data = json_object_get(d, "session_data");
	if (!fmi || !fc || !ver || !data)
		return mx_req_fail(req, MX_EMISSINGPARAM,
				   "Key backup data needs first_message_index, forwarded_count, "
				   "is_verified and session_data");
	if (!json_is_integer(fmi) || json_integer_value(fmi) < 0)
		return mx_req_fail(req, MX_EBADJSON,
				   "'first_message_index' must be a non-negative integer");
	if (!json_is_integer(fc) || json_integer_value(fc) < 0)
		return mx_req_fail(req, MX_EBADJSON,
				   "'forwarded_count' must be a non-negative integer");
	if (!json_is_boolean(ver))
		return mx_req_fail(req, MX_EBADJSON, "'is_verified' must be a boolean");
	if (!json_is_object(data))
		return mx_req_fail(req, MX_EBADJSON, "'session_data' must be an object");
	char *text = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return mx_req_fail(req, MX_EBADJSON, "'session_data' cannot be stored");
	*k = (struct mx_room_key){
		.room_id = room_id,
		.session_id = session_id,
		.first_message_index = json_integer_value(fmi),
		.forwarded_count = json_integer_value(fc),
		.is_verified = json_is_true(ver),
		.session_data = mx_arena_own(&req->arena, text),
	};
	return 0;
}

/* Parse {sessionId: KeyBackupData} of room_id, appending to keys[*n]. */
static int mx_kb_sessions_parse(struct mx_req *req, json_t *sessions, const char *room_id,
				struct mx_room_key *keys, size_t *n)
{
	if (!json_is_object(sessions))
		return mx_req_fail(req, MX_EBADJSON, "'sessions' must be an object");
	const char *sid;
	json_t *d;
	json_object_foreach(sessions, sid, d) {
		int rc = mx_kb_key_parse(req, d, room_id, sid, &keys[(*n)++]);
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * PUT at any scope: depth 0 {rooms: {roomId: {sessions}}}, 1 {sessions},
 * 2 KeyBackupData. Validates everything, then stores it in one write.
 */
static int mx_kb_keys_put(struct mx_req *req, int depth)
{
	int64_t version;
	int rc = mx_kb_query_version(req, &version);
	if (rc)
		return rc;
	size_t cap = 1, n = 0;
	json_t *rooms = NULL;
	if (depth == 0) {
		rooms = json_object_get(req->json, "rooms");
		if (!json_is_object(rooms))
			return mx_req_fail(req, rooms ? MX_EBADJSON : MX_EMISSINGPARAM,
					   "'rooms' must be an object");
		cap = 0;
		const char *rid;
		json_t *room;
		json_object_foreach(rooms, rid, room) {
			json_t *s = json_object_get(room, "sessions");
			if (!mx_client_room_id_ok(rid))
				return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid room ID");
			if (!json_is_object(room) || !json_is_object(s))
				return mx_req_fail(req, MX_EBADJSON,
						   "Each room needs a 'sessions' object");
			cap += json_object_size(s);
		}
	} else if (depth == 1) {
		json_t *s = json_object_get(req->json, "sessions");
		if (!mx_client_room_id_ok(mx_req_param(req, 0)))
			return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid room ID");
		if (!json_is_object(s))
			return mx_req_fail(req, s ? MX_EBADJSON : MX_EMISSINGPARAM,
					   "'sessions' must be an object");
		cap = json_object_size(s);
	}
	struct mx_room_key *keys = mx_arena_alloc(&req->arena, (cap ? cap : 1) * sizeof(*keys));
	if (depth == 0) {
		const char *rid;
		json_t *room;
		json_object_foreach(rooms, rid, room) {
			rc = mx_kb_sessions_parse(req, json_object_get(room, "sessions"), rid, keys,
						  &n);
			if (rc)
				return rc;
		}
	} else if (depth == 1) {
		rc = mx_kb_sessions_parse(req, json_object_get(req->json, "sessions"),
					  mx_req_param(req, 0), keys, &n);
	} else {
		rc = mx_kb_key_parse(req, req->json, mx_req_param(req, 0), mx_req_param(req, 1),
				     &keys[n++]);
	}
	if (rc)
		return rc;
	int64_t etag, count, current;
	rc = mx_store_room_keys_put(req->srv->db, req->auth.user_id, version, keys, n, &etag,
				    &count, &current);
	if (rc == MX_EWRONGROOMKEYSVERSION)
		/* SPEC: key_backup.yaml: 403 with "current_version" */
		return mx_req_fail_json(req, rc, 403,
					json_pack("{s:s,s:s,s:s}", "errcode",
						  "M_WRONG_ROOM_KEYS_VERSION", "error",
						  "Wrong backup version", "current_version",
						  mx_kb_itoa(req, current)));
	if (rc == MX_ENOTFOUND)
		return mx_req_fail(req, rc, "Unknown backup version");
	if (rc)
		return mx_req_fail(req, rc, NULL);
	return mx_req_reply_json(req, 200, json_pack("{s:s,s:I}", "etag", mx_kb_itoa(req, etag),
						     "count", (json_int_t)count));
}

static int mx_kb_keys_put_all(struct mx_req *req)
{
	return mx_kb_keys_put(req, 0);
}

static int mx_kb_keys_put_room(struct mx_req *req)
{
	return mx_kb_keys_put(req, 1);
}

static int mx_kb_keys_put_session(struct mx_req *req)
{
	return mx_kb_keys_put(req, 2);
}

/* GET at any scope (the depth as for PUT). */
static int mx_kb_keys_get(struct mx_req *req, int depth)
{
	int64_t version;
	int rc = mx_kb_query_version(req, &version);
	if (rc)
		return rc;
	const char *room_id = depth >= 1 ? mx_req_param(req, 0) : NULL;
	const char *session_id = depth == 2 ? mx_req_param(req, 1) : NULL;
	json_t *rooms;
	rc = mx_store_room_keys_get(req->w->rconn, &req->arena, req->auth.user_id, version,
				    room_id, session_id, &rooms);
	if (rc)
		return mx_req_fail(req, rc, rc == MX_ENOTFOUND ? "Unknown backup version" : NULL);
	if (depth == 0)
		return mx_req_reply_json(req, 200, json_pack("{s:O}", "rooms", rooms));
	json_t *sessions = json_object_get(json_object_get(rooms, room_id), "sessions");
	if (depth == 1)
		return mx_req_reply_json(req, 200,
					 sessions ? json_pack("{s:O}", "sessions", sessions)
						  : json_pack("{s:{}}", "sessions"));
	json_t *key = json_object_get(sessions, session_id);
	if (!key)
		return mx_req_fail(req, MX_ENOTFOUND, "No room key found for this session");
	return mx_req_reply_json(req, 200, json_incref(key));
}

static int mx_kb_keys_get_all(struct mx_req *req)
{
	return mx_kb_keys_get(req, 0);
}

static int mx_kb_keys_get_room(struct mx_req *req)
{
	return mx_kb_keys_get(req, 1);
}

static int mx_kb_keys_get_session(struct mx_req *req)
{
	return mx_kb_keys_get(req, 2);
}

/* DELETE at any scope (the depth as for PUT). */
static int mx_kb_keys_delete(struct mx_req *req, int depth)
{
	int64_t version;
	int rc = mx_kb_query_version(req, &version);
	if (rc)
		return rc;
	int64_t etag, count;
	rc = mx_store_room_keys_delete(req->srv->db, req->auth.user_id, version,
				       depth >= 1 ? mx_req_param(req, 0) : NULL,
				       depth == 2 ? mx_req_param(req, 1) : NULL, &etag, &count);
	if (rc)
		return mx_req_fail(req, rc, rc == MX_ENOTFOUND ? "Unknown backup version" : NULL);
	return mx_req_reply_json(req, 200, json_pack("{s:s,s:I}", "etag", mx_kb_itoa(req, etag),
						     "count", (json_int_t)count));
}

static int mx_kb_keys_delete_all(struct mx_req *req)
{
	return mx_kb_keys_delete(req, 0);
}

static int mx_kb_keys_delete_room(struct mx_req *req)
{
	return mx_kb_keys_delete(req, 1);
}

static int mx_kb_keys_delete_session(struct mx_req *req)
{
	return mx_kb_keys_delete(req, 2);
}

#define C MX_RES_CLIENT
#define A MX_ROUTE_AUTH
#define J (MX_ROUTE_AUTH | MX_ROUTE_JSON)
#define KB "/_matrix/client/v3/room_keys"
const struct mx_route mx_key_backup_routes[] = {
	{MX_POST, KB "/version", mx_kb_version_create, J, C, MX_RL_NONE, MX_KB_VERSION_BODY_MAX},
	{MX_GET, KB "/version", mx_kb_version_get, A, C, MX_RL_NONE, 0},
	{MX_GET, KB "/version/{version}", mx_kb_version_get, A, C, MX_RL_NONE, 0},
	{MX_PUT, KB "/version/{version}", mx_kb_version_update, J, C, MX_RL_NONE,
	 MX_KB_VERSION_BODY_MAX},
	{MX_DELETE, KB "/version/{version}", mx_kb_version_delete, A, C, MX_RL_NONE, 0},
	{MX_GET, KB "/keys", mx_kb_keys_get_all, A, C, MX_RL_NONE, 0},
	{MX_PUT, KB "/keys", mx_kb_keys_put_all, J, C, MX_RL_NONE, 0},
	{MX_DELETE, KB "/keys", mx_kb_keys_delete_all, A, C, MX_RL_NONE, 0},
	{MX_GET, KB "/keys/{roomId}", mx_kb_keys_get_room, A, C, MX_RL_NONE, 0},
	{MX_PUT, KB "/keys/{roomId}", mx_kb_keys_put_room, J, C, MX_RL_NONE, 0},
	{MX_DELETE, KB "/keys/{roomId}", mx_kb_keys_delete_room, A, C, MX_RL_NONE, 0},
	{MX_GET, KB "/keys/{roomId}/{sessionId}", mx_kb_keys_get_session, A, C, MX_RL_NONE, 0},
	{MX_PUT, KB "/keys/{roomId}/{sessionId}", mx_kb_keys_put_session, J, C, MX_RL_NONE,
	 MX_KB_VERSION_BODY_MAX},
	{MX_DELETE, KB "/keys/{roomId}/{sessionId}", mx_kb_keys_delete_session, A, C,
	 MX_RL_NONE, 0},
};
const size_t mx_key_backup_routes_count = MX_ARRAY_LEN(mx_key_backup_routes);
