/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pushers API: GET /pushers and POST /pushers/set. A pusher belongs to
 * the device of the access token that set it and goes away with that
 * device (store/pushers.h); delivery is push/pusher.h's.
 * SPEC: client-server-api#get_matrixclientv3pushers,
 * client-server-api#post_matrixclientv3pushersset
 *
 * Validation follows Synapse (required fields by kind, data.url with the
 * notify path) and adds the spec's limits (pushkey 512 bytes, app_id 64
 * characters) and bounds on everything else, since data is sent to the
 * gateway with every notification. Only "http" pushers exist: Myelin
 * sends no email, so "email" is refused rather than stored and ignored.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/routes.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "http/request.h"
#include "push/pusher.h"
#include "store/pushers.h"

#define MX_PUSHKEY_MAX 512       /* SPEC: "Max length, 512 bytes." */
#define MX_APP_ID_MAX 64         /* SPEC: "Max length, 64 chars." */
#define MX_PUSHER_TEXT_MAX 1024  /* display names, profile_tag (bytes) */
#define MX_PUSHER_LANG_MAX 64
#define MX_PUSHER_DATA_MAX 4096  /* data, as compact JSON */

/* SPEC: client-server-api#get_matrixclientv3pushers */
static int mx_pushers_get(struct mx_req *req)
{
	struct mx_store_pusher *v;
	size_t n;
	int rc = mx_store_pushers_list(req->w->rconn, &req->arena, req->auth.user_id, &v, &n);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *data = json_loads(v[i].data, 0, NULL);
		json_array_append_new(
			list, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "pushkey", v[i].pushkey,
					"kind", v[i].kind, "app_id", v[i].app_id, "app_display_name",
					v[i].app_display_name, "device_display_name",
					v[i].device_display_name, "profile_tag",
					v[i].profile_tag ? v[i].profile_tag : "", "lang", v[i].lang, "data",
					json_is_object(data) ? data : json_object()));
		if (!json_is_object(data))
			json_decref(data);
	}
	return mx_req_reply_json(req, 200, json_pack("{s:o}", "pushers", list));
}

/* Characters (code points) of a valid UTF-8 string. */
static size_t mx_pushers_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/*
 * Field key of the body: a string of 1..max bytes (chars: code points)
 * in *out, or a 400 reply (returns it). Missing fields were caught before.
 */
static int mx_pushers_string(struct mx_req *req, const char *key, size_t max, bool chars,
			     bool empty_ok, const char **out)
{
	json_t *v = json_object_get(req->json, key);
	if (!json_is_string(v))
		return mx_req_fail(req, MX_EINVALIDPARAM, "'%s' must be a string", key);
	const char *s = json_string_value(v);
	size_t len = chars ? mx_pushers_chars(s) : json_string_length(v);
	if (!len && !empty_ok)
		return mx_req_fail(req, MX_EINVALIDPARAM, "'%s' must not be empty", key);
	if (len > max)
		return mx_req_fail(req, MX_EINVALIDPARAM, "'%s' is longer than %zu %s", key, max,
				   chars ? "characters" : "bytes");
	if (strlen(s) != json_string_length(v))
		return mx_req_fail(req, MX_EINVALIDPARAM, "'%s' must not contain NUL", key);
	*out = s;
	return 0;
}

/* The data object of an http pusher, checked; its text in *text (arena). */
static int mx_pushers_data(struct mx_req *req, const char **text)
{
	json_t *data = json_object_get(req->json, "data");
	if (!json_is_object(data))
		return mx_req_fail(req, MX_EINVALIDPARAM, "'data' must be an object");
	json_t *url = json_object_get(data, "url");
	if (!url)
		return mx_req_fail(req, MX_EMISSINGPARAM, "'url' required in data for HTTP pusher");
	if (!json_is_string(url))
		return mx_req_fail(req, MX_EINVALIDPARAM, "'url' must be a string");
	const char *why = NULL;
	if (mx_pusher_check_url(json_string_value(url), &why))
		return mx_req_fail(req, MX_EINVALIDPARAM, "%s", why);
	json_t *format = json_object_get(data, "format");
	if (format && !json_is_string(format))
		return mx_req_fail(req, MX_EINVALIDPARAM, "'format' must be a string");
	char *t = json_dumps(data, JSON_COMPACT);
	if (!t)
		return mx_req_fail(req, MX_EBADJSON, "'data' cannot be encoded");
	if (strlen(t) > MX_PUSHER_DATA_MAX) {
		free(t);
		return mx_req_fail(req, MX_EINVALIDPARAM, "'data' is larger than %d bytes",
				   MX_PUSHER_DATA_MAX);
	}
	*text = mx_arena_strdup(&req->arena, t);
	free(t);
	return 0;
}

/* SPEC: client-server-api#post_matrixclientv3pushersset */
static int mx_pushers_set(struct mx_req *req)
{
	json_t *body = req->json;
	json_t *kind = json_object_get(body, "kind");
	bool deleting = json_is_null(kind);
	/* The required fields: these three always; the rest unless deleting. */
	static const char *const always[] = {"kind", "app_id", "pushkey"};
	static const char *const for_set[] = {"app_display_name", "device_display_name", "lang",
					      "data"};
	struct mx_buf missing;
	mx_buf_init(&missing, MX_BUF_UNLIMITED);
	for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++)
		if (!json_object_get(body, always[i]))
			mx_buf_printf(&missing, "%s%s", missing.len ? ", " : "", always[i]);
	for (size_t i = 0; !deleting && i < sizeof(for_set) / sizeof(for_set[0]); i++)
		if (!json_object_get(body, for_set[i]) || json_is_null(json_object_get(body, for_set[i])))
			mx_buf_printf(&missing, "%s%s", missing.len ? ", " : "", for_set[i]);
	if (missing.len) {
		int rc = mx_req_fail(req, MX_EMISSINGPARAM, "Missing parameters: %s", missing.data);
		mx_buf_release(&missing);
		return rc;
	}
	mx_buf_release(&missing);

	struct mx_store_pusher p = {.user_id = req->auth.user_id, .device_id = req->auth.device_id};
	int rc;
	if ((rc = mx_pushers_string(req, "app_id", MX_APP_ID_MAX, true, false, &p.app_id)) ||
	    (rc = mx_pushers_string(req, "pushkey", MX_PUSHKEY_MAX, false, false, &p.pushkey)))
		return rc;
	if (deleting) {
		/* SPEC: "If kind is null, the pusher with this app_id and pushkey
		 * for this user is deleted." Deleting none is no error. */
		int64_t id = 0;
		rc = mx_store_pusher_delete(req->srv->db, p.user_id, p.app_id, p.pushkey, &id);
		if (rc)
			return mx_req_fail(req, rc, NULL);
		if (id)
			mx_pusher_removed(req->srv->pusher, id, p.user_id);
		return mx_req_reply_empty(req);
	}
	if (!json_is_string(kind))
		return mx_req_fail(req, MX_EINVALIDPARAM, "'kind' must be a string or null");
	p.kind = json_string_value(kind);
	if (!strcmp(p.kind, "email"))
		return mx_req_fail(req, MX_EINVALIDPARAM,
				   "Email pushers are not supported: this server does not send email");
	if (strcmp(p.kind, "http") != 0)
		return mx_req_fail(req, MX_EINVALIDPARAM, "Unknown pusher kind '%.64s'", p.kind);
	p.profile_tag = "";
	if ((rc = mx_pushers_string(req, "app_display_name", MX_PUSHER_TEXT_MAX, false, true,
				    &p.app_display_name)) ||
	    (rc = mx_pushers_string(req, "device_display_name", MX_PUSHER_TEXT_MAX, false, true,
				    &p.device_display_name)) ||
	    (rc = mx_pushers_string(req, "lang", MX_PUSHER_LANG_MAX, false, true, &p.lang)) ||
	    (json_object_get(body, "profile_tag") &&
	     (rc = mx_pushers_string(req, "profile_tag", MX_PUSHER_TEXT_MAX, false, true,
				     &p.profile_tag))) ||
	    (rc = mx_pushers_data(req, &p.data)))
		return rc;
	json_t *append = json_object_get(body, "append");
	if (append && !json_is_boolean(append))
		return mx_req_fail(req, MX_EINVALIDPARAM, "'append' must be a boolean");
	p.pushkey_ts = mx_clock_now_ms();

	int64_t id = 0, last_nid = 0;
	rc = mx_store_pusher_set(req->srv->db, &p, json_is_true(append), &id, &last_nid);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	mx_pusher_added(req->srv->pusher, id, p.user_id, last_nid);
	return mx_req_reply_empty(req);
}

#define C MX_RES_CLIENT
const struct mx_route mx_pushers_routes[] = {
	{MX_GET, "/_matrix/client/v3/pushers", mx_pushers_get, MX_ROUTE_AUTH, C, 0, 0},
	{MX_POST, "/_matrix/client/v3/pushers/set", mx_pushers_set, MX_ROUTE_AUTH | MX_ROUTE_JSON, C,
	 0, 0},
};
const size_t mx_pushers_routes_count = sizeof(mx_pushers_routes) / sizeof(mx_pushers_routes[0]);
