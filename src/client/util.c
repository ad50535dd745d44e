/* SPDX-License-Identifier: Apache-2.0 */
/* Identifier grammar from the spec appendices, and body-field helpers. */
#include "client/util.h"

#include <ctype.h>
#include <string.h>

#include "core/config.h"
#include "core/error.h"
#include "core/rand.h"
#include "http/request.h"

bool mx_client_localpart_valid(const char *lp)
{
	size_t n = strlen(lp);
	if (n == 0 || n > 255)
		return false;
	for (const char *p = lp; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '=' || c == '-' || c == '/' || c == '+'))
			return false;
	}
	return true;
}

const char *mx_client_id_server(const char *id)
{
	const char *colon = strchr(id, ':');
	return colon ? colon + 1 : NULL;
}

/* SPEC: appendices#server-name: hostname or IP literal, optional port. */
static bool mx_server_name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 255)
		return false;
	const char *host_end = s + n;
	if (*s == '[') {
		const char *close = strchr(s, ']');
		/* IPv6address = 2*45IPv6char: "[]" is not a server name. */
		if (!close || close - (s + 1) < 2 || close - (s + 1) > 45)
			return false;
		for (const char *p = s + 1; p < close; p++)
			if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
				return false;
		host_end = close + 1;
	} else {
		const char *colon = strchr(s, ':');
		if (colon)
			host_end = colon;
		if (host_end == s)
			return false;
		for (const char *p = s; p < host_end; p++)
			if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
				return false;
	}
	if (*host_end == '\0')
		return true;
	if (*host_end != ':' || !host_end[1] || strlen(host_end + 1) > 5)
		return false;
	for (const char *p = host_end + 1; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

bool mx_client_user_id_valid(const char *id)
{
	if (!id || id[0] != '@' || strlen(id) > 255)
		return false;
	const char *colon = strchr(id, ':');
	if (!colon || colon == id + 1)
		return false;
	/* Historical ids allow any printable ASCII but ':' in the localpart. */
	for (const char *p = id + 1; p < colon; p++)
		if (*p < 0x21 || *p > 0x7e)
			return false;
	return mx_server_name_valid(colon + 1);
}

bool mx_client_is_local(struct mx_req *req, const char *user_id)
{
	const char *server = mx_client_id_server(user_id);
	return server && !strcmp(server, req->srv->cfg->server_name);
}

const char *mx_client_qualify_user(struct mx_req *req, const char *user)
{
	const char *server = req->srv->cfg->server_name;
	const char *lp = user;
	size_t lp_len;
	if (user[0] == '@') {
		const char *colon = strchr(user, ':');
		if (!colon || strcmp(colon + 1, server) != 0)
			return NULL;
		lp = user + 1;
		lp_len = (size_t)(colon - lp);
	} else {
		lp_len = strlen(user);
	}
	if (lp_len == 0 || lp_len > 255)
		return NULL;
	char *out = mx_arena_printf(&req->arena, "@%.*s:%s", (int)lp_len, lp, server);
	for (char *p = out + 1; *p != ':'; p++)
		*p = (char)tolower((unsigned char)*p);
	return mx_client_user_id_valid(out) ? out : NULL;
}

int mx_client_opt_string(struct mx_req *req, json_t *obj, const char *key, const char **out)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return mx_req_fail(req, MX_EBADJSON, "'%s' must be a string", key);
	*out = json_string_value(v);
	return 0;
}

int mx_client_opt_bool(struct mx_req *req, json_t *obj, const char *key, bool def, bool *out)
{
	json_t *v = json_object_get(obj, key);
	*out = def;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return mx_req_fail(req, MX_EBADJSON, "'%s' must be a boolean", key);
	*out = json_is_true(v);
	return 0;
}

const char *mx_client_new_device_id(struct mx_req *req)
{
	char *id = mx_arena_alloc(&req->arena, 11);
	unsigned char rnd[10];
	mx_rand_bytes(rnd, sizeof(rnd));
	for (int i = 0; i < 10; i++)
		id[i] = (char)('A' + rnd[i] % 26);
	id[10] = '\0';
	return id;
}
