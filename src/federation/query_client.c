/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Outbound queries (query_client.h): build the signed request, map the
 * remote's status to our error codes, check the answer, and park the
 * asking request around the round trip.
 */
#include "federation/query_client.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/server.h"
#include "core/ttlcache.h"
#include "event/ids.h"
#include "federation/client.h"
#include "http/fanout.h"
#include "http/request.h"
#include "room/directory.h"
#include "store/profile.h"

#define MX_FQ_TIMEOUT_MS 15000                 /* a client waits for this one */
#define MX_FQ_GRACE_MS 5000                    /* a queued job's wait for a thread */
#define MX_FQ_PROFILE_MAX_BODY (2 * MX_PROFILE_MAX_BYTES)
#define MX_FQ_ALIAS_MAX_BODY (64 * 1024)
#define MX_FQ_ALIAS_MAX_SERVERS 256
#define MX_FQ_ROOMS_MAX_BODY (4 * 1024 * 1024) /* 500 entries with long topics */

const char *mx_fed_query_escape(struct mx_arena *a, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = mx_arena_alloc(a, 3 * n + 1), *o = out;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

/*
 * One signed request; 0 with the JSON object answer in *json (arena), or
 * the error the remote's status stands for. *status is the HTTP status
 * (0 when none arrived) and *errcode the answer's errcode, if any.
 */
static int mx_fq_request(struct mx_server *srv, struct mx_arena *a, const char *server,
			 const char *method, const char *uri, json_t *body, size_t max_body,
			 json_t **json, long *status, const char **errcode)
{
	*json = NULL;
	*status = 0;
	if (errcode)
		*errcode = NULL;
	if (!srv->fed)
		return MX_EREMOTE;
	struct mx_fed_request rq = {.destination = server, .method = method, .uri = uri,
				    .body = body, .sign = true, .timeout_ms = MX_FQ_TIMEOUT_MS,
				    .max_body = max_body};
	struct mx_fed_response r;
	memset(&r, 0, sizeof(r));
	int rc = mx_fed_request(srv->fed, &rq, &r);
	if (rc) {
		mx_log_info("federation: %s %.80s to %s failed: %s", method, uri, server,
			    mx_error_message(rc));
		rc = MX_EREMOTE;
		goto out;
	}
	*status = r.status;
	const char *ec = json_string_value(json_object_get(r.json, "errcode"));
	if (errcode && ec)
		*errcode = mx_arena_strdup(a, ec);
	if (r.status == 404) {
		rc = MX_ENOTFOUND;
	} else if (r.status == 403) {
		rc = MX_EFORBIDDEN;
	} else if (r.status != 200 || !r.json) {
		mx_log_info("federation: %s %.80s to %s: HTTP %ld%s", method, uri, server, r.status,
			    r.status == 200 ? " without a JSON object" : "");
		rc = MX_EREMOTE;
	} else {
		*json = mx_arena_json(a, json_incref(r.json));
	}
out:
	mx_fed_response_release(&r);
	return rc;
}

/* ---- one query on the job pool, for a parked request ---- */

/*
 * A query runs as a fan-out of one task (http/fanout.h): the request is
 * answered by the deadline even when every job thread is busy, and the
 * task, which may outlive the request, holds copies of its inputs and its
 * results in its own arena.
 */
struct mx_fq_task {
	struct mx_fanout_task base;
	struct mx_server *srv;
	struct mx_arena a;
	int (*query)(struct mx_fq_task *t);
	int rc;
	/* inputs */
	const char *s1, *s2;
	struct mx_room_directory_query q;
	const char **list;
	size_t n;
	/* results */
	const char *str;
	json_t *json;
};

/* The handler's state while it waits (request arena). */
struct mx_fq_wait {
	struct mx_fanout *f;
	struct mx_fq_task *t;
};

static void mx_fq_task_run(struct mx_fanout_task *base)
{
	struct mx_fq_task *t = (struct mx_fq_task *)base;
	t->rc = t->query(t);
}

static void mx_fq_task_free(struct mx_fanout_task *base)
{
	struct mx_fq_task *t = (struct mx_fq_task *)base;
	mx_arena_release(&t->a);
	free(t);
}

static struct mx_fq_task *mx_fq_task_new(struct mx_server *srv, int (*query)(struct mx_fq_task *))
{
	struct mx_fq_task *t = mx_xcalloc(1, sizeof(*t));
	t->base.run = mx_fq_task_run;
	t->base.free = mx_fq_task_free;
	t->srv = srv;
	t->query = query;
	mx_arena_init(&t->a);
	return t;
}

/* The task req already waits on (a run after the park), or NULL. */
static struct mx_fq_task *mx_fq_pending(struct mx_req *req)
{
	struct mx_fq_wait *w = req->handler_state;
	return w ? w->t : NULL;
}

/*
 * Run t (new: start it) for req: MX_ESUSPENDED while it runs, then its
 * result, or MX_EREMOTE if it was not done by the deadline.
 */
static int mx_fq_wait(struct mx_req *req, struct mx_fq_task *t)
{
	struct mx_fq_wait *w = req->handler_state;
	if (!w) {
		w = mx_arena_alloc(&req->arena, sizeof(*w));
		w->t = t;
		w->f = mx_fanout_new(req, mx_clock_mono_ms() + MX_FQ_TIMEOUT_MS + MX_FQ_GRACE_MS);
		mx_fanout_add(w->f, &t->base);
		req->handler_state = w;
	}
	int rc = mx_fanout_wait(w->f, req);
	if (rc)
		return rc;
	if (!mx_fanout_done(w->f, &w->t->base))
		return MX_EREMOTE;
	return w->t->rc;
}

/* A result of a finished task, copied into the request arena. */
static json_t *mx_fq_take(struct mx_req *req, const json_t *v)
{
	return v ? mx_arena_json(&req->arena, json_deep_copy(v)) : NULL;
}

/* ---- profiles ---- */

static const char *mx_fq_profile_key(struct mx_arena *a, const char *user_id, const char *field)
{
	return mx_arena_printf(a, "%s\n%s", user_id, field ? field : "");
}

/*
 * A cached answer: the one to the same question, or for a field the
 * whole profile when it has that field.
 */
static bool mx_fq_profile_cached(struct mx_server *srv, struct mx_arena *a, const char *user_id,
				 const char *field, json_t **out)
{
	int64_t now = mx_clock_mono_ms();
	const char *s = mx_ttlcache_get(srv->remote_profiles, a,
					mx_fq_profile_key(a, user_id, field), now);
	json_t *v = s ? json_loads(s, 0, NULL) : NULL;
	if (!v && field && (s = mx_ttlcache_get(srv->remote_profiles, a,
						mx_fq_profile_key(a, user_id, NULL), now))) {
		json_t *whole = mx_arena_json(a, json_loads(s, 0, NULL));
		json_t *f = json_object_get(whole, field);
		if (f && !json_is_null(f))
			v = json_pack("{s:O}", field, f);
	}
	if (!json_is_object(v)) {
		json_decref(v);
		return false;
	}
	*out = mx_arena_json(a, v);
	return true;
}

int mx_fed_query_profile(struct mx_server *srv, struct mx_arena *a, const char *user_id,
			 const char *field, json_t **out)
{
	*out = NULL;
	if (mx_fq_profile_cached(srv, a, user_id, field, out))
		return 0;
	const char *server = mx_id_server(user_id);
	if (!server)
		return MX_EREMOTE;
	/* SPEC: server-server-api#get_matrixfederationv1queryprofile */
	const char *uri = mx_arena_printf(a, "/_matrix/federation/v1/query/profile?user_id=%s%s%s",
					  mx_fed_query_escape(a, user_id), field ? "&field=" : "",
					  field ? mx_fed_query_escape(a, field) : "");
	json_t *profile;
	long status;
	int rc = mx_fq_request(srv, a, server, "GET", uri, NULL, MX_FQ_PROFILE_MAX_BODY, &profile,
			       &status, NULL);
	if (rc)
		return rc;
	/* SPEC: a field the user does not have is left out or null. */
	if (field) {
		json_t *f = json_object_get(profile, field);
		if (!f || json_is_null(f))
			return MX_ENOTFOUND;
	}
	char *text = json_dumps(profile, JSON_COMPACT);
	if (text) {
		mx_ttlcache_put(srv->remote_profiles, mx_fq_profile_key(a, user_id, field), text,
				mx_clock_mono_ms());
		free(text);
	}
	*out = profile;
	return 0;
}

static int mx_fq_profile_query(struct mx_fq_task *t)
{
	return mx_fed_query_profile(t->srv, &t->a, t->s1, t->s2, &t->json);
}

int mx_fed_query_profile_req(struct mx_req *req, const char *user_id, const char *field,
			     json_t **out)
{
	struct mx_fq_task *t = mx_fq_pending(req);
	if (!t) {
		/* A cached answer needs no job thread. */
		if (mx_fq_profile_cached(req->srv, &req->arena, user_id, field, out))
			return 0;
		t = mx_fq_task_new(req->srv, mx_fq_profile_query);
		t->s1 = mx_arena_strdup(&t->a, user_id);
		t->s2 = field ? mx_arena_strdup(&t->a, field) : NULL;
	}
	int rc = mx_fq_wait(req, t);
	if (!rc)
		*out = mx_fq_take(req, t->json);
	return rc;
}

/* ---- aliases ---- */

int mx_fed_query_alias(struct mx_server *srv, struct mx_arena *a, const char *alias,
		       const char **room_id, json_t **servers)
{
	*room_id = NULL;
	*servers = NULL;
	const char *server = mx_id_server(alias);
	if (!server)
		return MX_EREMOTE;
	/* SPEC: server-server-api#get_matrixfederationv1querydirectory */
	const char *uri = mx_arena_printf(a, "/_matrix/federation/v1/query/directory?room_alias=%s",
					  mx_fed_query_escape(a, alias));
	json_t *res;
	long status;
	int rc = mx_fq_request(srv, a, server, "GET", uri, NULL, MX_FQ_ALIAS_MAX_BODY, &res, &status,
			       NULL);
	if (rc)
		return rc == MX_EFORBIDDEN ? MX_EREMOTE : rc;
	const char *rid = json_string_value(json_object_get(res, "room_id"));
	if (!rid || !mx_id_room_valid(rid, NULL)) {
		mx_log_info("federation: %s resolved %s to no valid room id", server, alias);
		return MX_EREMOTE;
	}
	json_t *list = mx_arena_json(a, json_array());
	size_t i;
	json_t *s;
	json_array_foreach (json_object_get(res, "servers"), i, s) {
		const char *name = json_string_value(s);
		if (!name || !mx_id_server_name_valid(name))
			continue;
		bool seen = false;
		size_t j;
		json_t *t;
		json_array_foreach (list, j, t)
			seen = seen || !strcmp(json_string_value(t), name);
		if (!seen && json_array_size(list) < MX_FQ_ALIAS_MAX_SERVERS)
			json_array_append_new(list, json_string(name));
	}
	*room_id = mx_arena_strdup(a, rid);
	*servers = list;
	return 0;
}

static int mx_fq_alias_query(struct mx_fq_task *t)
{
	return mx_fed_query_alias(t->srv, &t->a, t->s1, &t->str, &t->json);
}

int mx_fed_query_alias_req(struct mx_req *req, const char *alias, const char **room_id,
			   json_t **servers)
{
	struct mx_fq_task *t = mx_fq_pending(req);
	if (!t) {
		t = mx_fq_task_new(req->srv, mx_fq_alias_query);
		t->s1 = mx_arena_strdup(&t->a, alias);
	}
	int rc = mx_fq_wait(req, t);
	if (!rc) {
		*room_id = mx_arena_strdup(&req->arena, t->str);
		*servers = mx_fq_take(req, t->json);
	}
	return rc;
}

static int mx_fq_aliases_query(struct mx_fq_task *t)
{
	t->json = mx_arena_json(&t->a, json_object());
	for (size_t i = 0; i < t->n; i++) {
		const char *room_id;
		json_t *servers;
		int rc = mx_fed_query_alias(t->srv, &t->a, t->list[i], &room_id, &servers);
		json_object_set_new(t->json, t->list[i], rc ? json_integer(rc) : json_string(room_id));
	}
	return 0;
}

int mx_fed_query_aliases_req(struct mx_req *req, const char *const *aliases, size_t n,
			     json_t **resolved)
{
	struct mx_fq_task *t = mx_fq_pending(req);
	if (!t) {
		t = mx_fq_task_new(req->srv, mx_fq_aliases_query);
		t->n = n < MX_FED_QUERY_ALIASES_MAX ? n : MX_FED_QUERY_ALIASES_MAX;
		t->list = mx_arena_alloc(&t->a, (t->n + 1) * sizeof(*t->list));
		for (size_t i = 0; i < t->n; i++)
			t->list[i] = mx_arena_strdup(&t->a, aliases[i]);
	}
	int rc = mx_fq_wait(req, t);
	if (!rc)
		*resolved = mx_fq_take(req, t->json);
	return rc;
}

/* ---- published room lists ---- */

json_t *mx_fed_query_public_rooms_check(const json_t *resp, size_t max_entries)
{
	json_t *chunk = json_object_get(resp, "chunk");
	if (!json_is_array(chunk))
		return NULL;
	json_t *out = json_object(), *list = json_array();
	json_object_set_new(out, "chunk", list);
	size_t i;
	json_t *e;
	json_array_foreach (chunk, i, e) {
		if (json_array_size(list) >= max_entries)
			break;
		if (!json_is_string(json_object_get(e, "room_id")))
			continue;
		json_t *c = json_copy(e);
		/* SPEC: PublishedRoomsChunk, required members. */
		if (!json_is_integer(json_object_get(c, "num_joined_members")))
			json_object_set_new(c, "num_joined_members", json_integer(0));
		if (!json_is_boolean(json_object_get(c, "world_readable")))
			json_object_set_new(c, "world_readable", json_false());
		if (!json_is_boolean(json_object_get(c, "guest_can_join")))
			json_object_set_new(c, "guest_can_join", json_false());
		json_array_append_new(list, c);
	}
	static const char *const tokens[] = {"next_batch", "prev_batch"};
	for (size_t k = 0; k < 2; k++) {
		json_t *t = json_object_get(resp, tokens[k]);
		if (json_is_string(t))
			json_object_set(out, tokens[k], t);
	}
	json_t *total = json_object_get(resp, "total_room_count_estimate");
	if (json_is_integer(total))
		json_object_set(out, "total_room_count_estimate", total);
	return out;
}

/* GET /publicRooms with q's limit, since and network options. */
static const char *mx_fq_rooms_get_uri(struct mx_arena *a, const struct mx_room_directory_query *q,
				       int limit, bool with_since)
{
	const char *uri = mx_arena_printf(a, "/_matrix/federation/v1/publicRooms?limit=%d", limit);
	if (with_since && q->since)
		uri = mx_arena_printf(a, "%s&since=%s", uri, mx_fed_query_escape(a, q->since));
	if (q->include_all_networks)
		uri = mx_arena_printf(a, "%s&include_all_networks=true", uri);
	if (q->third_party_instance_id)
		uri = mx_arena_printf(a, "%s&third_party_instance_id=%s", uri,
				      mx_fed_query_escape(a, q->third_party_instance_id));
	return uri;
}

static json_t *mx_fq_rooms_body(const struct mx_room_directory_query *q, int limit)
{
	json_t *b = json_pack("{s:i, s:b}", "limit", limit, "include_all_networks",
			      q->include_all_networks);
	if (q->since)
		json_object_set_new(b, "since", json_string(q->since));
	if (q->third_party_instance_id)
		json_object_set_new(b, "third_party_instance_id",
				    json_string(q->third_party_instance_id));
	json_t *filter = json_object();
	if (q->term)
		json_object_set_new(filter, "generic_search_term", json_string(q->term));
	if (q->room_types)
		json_object_set(filter, "room_types", (json_t *)q->room_types);
	json_object_set_new(b, "filter", filter);
	return b;
}

int mx_fed_query_public_rooms(struct mx_server *srv, struct mx_arena *a, const char *server,
			      const struct mx_room_directory_query *q, json_t **out)
{
	*out = NULL;
	/* No limit is our own cap: a big server's whole list is megabytes. */
	int limit = q->limit > 0 ? q->limit : MX_ROOM_DIRECTORY_MAX_LIMIT;
	bool filtered = q->term || json_array_size(q->room_types);
	json_t *res;
	long status;
	const char *errcode;
	int rc;
	if (filtered || q->include_all_networks || q->third_party_instance_id) {
		/* SPEC: server-server-api#post_matrixfederationv1publicrooms */
		json_t *body = mx_fq_rooms_body(q, limit);
		rc = mx_fq_request(srv, a, server, "POST", "/_matrix/federation/v1/publicRooms", body,
				   MX_FQ_ROOMS_MAX_BODY, &res, &status, &errcode);
		json_decref(body);
		bool unknown = rc && (status == 404 || status == 405 ||
				      (errcode && !strcmp(errcode, "M_UNRECOGNIZED")));
		if (unknown) {
			/* A server without the POST (MSC2197): its first page, filtered here. */
			rc = mx_fq_request(srv, a, server, "GET",
					   mx_fq_rooms_get_uri(a, q, MX_ROOM_DIRECTORY_MAX_LIMIT, false),
					   NULL, MX_FQ_ROOMS_MAX_BODY, &res, &status, NULL);
			if (!rc && filtered) {
				json_t *chunk = json_object_get(res, "chunk"), *kept = json_array();
				size_t i;
				json_t *e;
				json_array_foreach (chunk, i, e)
					if (mx_room_directory_matches(e, q))
						json_array_append(kept, e);
				json_object_set_new(res, "chunk", kept);
				json_object_del(res, "next_batch");
				json_object_del(res, "prev_batch");
			}
		}
	} else {
		/* SPEC: server-server-api#get_matrixfederationv1publicrooms */
		rc = mx_fq_request(srv, a, server, "GET", mx_fq_rooms_get_uri(a, q, limit, true), NULL,
				   MX_FQ_ROOMS_MAX_BODY, &res, &status, NULL);
	}
	if (rc)
		return rc == MX_ENOTFOUND ? MX_EREMOTE : rc;
	json_t *checked = mx_fed_query_public_rooms_check(res, MX_ROOM_DIRECTORY_MAX_LIMIT);
	if (!checked) {
		mx_log_info("federation: %s answered publicRooms without a chunk", server);
		return MX_EREMOTE;
	}
	*out = mx_arena_json(a, checked);
	return 0;
}

static int mx_fq_rooms_query(struct mx_fq_task *t)
{
	return mx_fed_query_public_rooms(t->srv, &t->a, t->s1, &t->q, &t->json);
}

static const char *mx_fq_dup(struct mx_arena *a, const char *s)
{
	return s ? mx_arena_strdup(a, s) : NULL;
}

int mx_fed_query_public_rooms_req(struct mx_req *req, const char *server,
				  const struct mx_room_directory_query *q, json_t **out)
{
	struct mx_fq_task *t = mx_fq_pending(req);
	if (!t) {
		t = mx_fq_task_new(req->srv, mx_fq_rooms_query);
		t->s1 = mx_arena_strdup(&t->a, server);
		t->q = *q;
		t->q.since = mx_fq_dup(&t->a, q->since);
		t->q.term = mx_fq_dup(&t->a, q->term);
		t->q.third_party_instance_id = mx_fq_dup(&t->a, q->third_party_instance_id);
		t->q.room_types = q->room_types ? mx_arena_json(&t->a, json_deep_copy(q->room_types))
						: NULL;
	}
	int rc = mx_fq_wait(req, t);
	if (!rc)
		*out = mx_fq_take(req, t->json);
	return rc;
}
