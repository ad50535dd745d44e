/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The published room list and alias servers (directory.h). An entry is
 * built from the state events the store hands over (store/directory.h);
 * the list is sorted and paged in memory, which is fine for the few
 * thousand published rooms a server has (the scan is capped).
 */
#include "room/directory.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/log.h"
#include "event/ids.h"
#include "room/room.h"
#include "store/directory.h"

/* Published rooms looked at per /publicRooms request. */
#define MX_ROOM_DIRECTORY_SCAN_MAX 20000

/* ---- parsing requests ---- */

int mx_room_directory_parse_limit(const char *s, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0)
		return MX_EINVALIDPARAM;
	*out = v > MX_ROOM_DIRECTORY_MAX_LIMIT ? MX_ROOM_DIRECTORY_MAX_LIMIT : (int)v;
	return 0;
}

/* An optional string member: absent and null are NULL. */
static int mx_rd_opt_string(const json_t *obj, const char *key, const char **out)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return MX_EBADJSON;
	*out = json_string_value(v);
	return 0;
}

static int mx_rd_parse_filter(struct mx_arena *a, const json_t *filter,
			      struct mx_room_directory_query *q, const char **why)
{
	if (!json_is_object(filter))
		return *why = "'filter' must be an object", MX_EBADJSON;
	const char *term;
	if (mx_rd_opt_string(filter, "generic_search_term", &term))
		return *why = "'generic_search_term' must be a string", MX_EBADJSON;
	if (term && strlen(term) > MX_ROOM_DIRECTORY_TERM_MAX)
		return *why = "generic_search_term is too long", MX_EINVALIDPARAM;
	if (term && *term) {
		char *lower = mx_arena_strdup(a, term);
		for (char *p = lower; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		q->term = lower;
	}
	json_t *types = json_object_get(filter, "room_types");
	if (!types || json_is_null(types))
		return 0;
	if (!json_is_array(types))
		return *why = "'room_types' must be an array", MX_EBADJSON;
	size_t i;
	json_t *t;
	json_array_foreach (types, i, t)
		if (!json_is_string(t) && !json_is_null(t))
			return *why = "'room_types' entries must be strings or null", MX_EBADJSON;
	q->room_types = types;
	return 0;
}

int mx_room_directory_parse_body(struct mx_arena *a, const json_t *body,
				 struct mx_room_directory_query *q, const char **why)
{
	memset(q, 0, sizeof(*q));
	json_t *limit = json_object_get(body, "limit");
	if (limit && !json_is_null(limit)) {
		if (!json_is_integer(limit))
			return *why = "'limit' must be an integer", MX_EBADJSON;
		json_int_t v = json_integer_value(limit);
		if (v < 0)
			return *why = "limit must not be negative", MX_EINVALIDPARAM;
		q->limit = v > MX_ROOM_DIRECTORY_MAX_LIMIT ? MX_ROOM_DIRECTORY_MAX_LIMIT : (int)v;
	}
	if (mx_rd_opt_string(body, "since", &q->since))
		return *why = "'since' must be a string", MX_EBADJSON;
	if (mx_rd_opt_string(body, "third_party_instance_id", &q->third_party_instance_id))
		return *why = "'third_party_instance_id' must be a string", MX_EBADJSON;
	json_t *all = json_object_get(body, "include_all_networks");
	if (all && !json_is_boolean(all))
		return *why = "'include_all_networks' must be a boolean", MX_EBADJSON;
	q->include_all_networks = json_is_true(all);
	json_t *filter = json_object_get(body, "filter");
	if (filter && !json_is_null(filter))
		return mx_rd_parse_filter(a, filter, q, why);
	return 0;
}

/* ---- entries ---- */

struct mx_rd_entry {
	const char *room_id;
	int64_t joined;
	json_t *obj;            /* the PublishedRoomsChunk (arena) */
};

static const json_t *mx_rd_content(struct mx_arena *a, const char *json)
{
	if (!json)
		return NULL;
	json_t *pdu = mx_arena_json(a, json_loads(json, 0, NULL));
	json_t *c = json_object_get(pdu, "content");
	return json_is_object(c) ? c : NULL;
}

static const char *mx_rd_str(const json_t *content, const char *key)
{
	const char *s = json_string_value(json_object_get(content, key));
	return s && *s ? s : NULL;
}

/*
 * The plain-text topic: content.topic, else the text/plain representation
 * of m.topic (SPEC: m.room.topic, PublishedRoomsChunk.topic).
 */
static const char *mx_rd_topic(const json_t *content)
{
	const char *t = mx_rd_str(content, "topic");
	if (t)
		return t;
	json_t *reps = json_object_get(json_object_get(content, "m.topic"), "m.text");
	size_t i;
	json_t *r;
	json_array_foreach (reps, i, r) {
		const char *mime = json_string_value(json_object_get(r, "mimetype"));
		const char *body = mx_rd_str(r, "body");
		if (body && (!json_object_get(r, "mimetype") || (mime && !strcmp(mime, "text/plain"))))
			return body;
	}
	return NULL;
}

static void mx_rd_set_str(json_t *o, const char *key, const char *s)
{
	if (s)
		json_object_set_new(o, key, json_string(s));
}

/* The contents of the state events an entry is made of (NULL: absent). */
struct mx_rd_contents {
	const json_t *create, *name, *topic, *canonical_alias, *avatar, *join_rules,
		*history_visibility, *guest_access;
};

/* SPEC: client-server-api#get_matrixclientv3publicrooms, PublishedRoomsChunk */
static json_t *mx_rd_chunk(struct mx_arena *a, const char *room_id, int64_t joined,
			   const struct mx_rd_contents *c)
{
	const char *join_rule = json_string_value(json_object_get(c->join_rules, "join_rule"));
	const char *vis =
		json_string_value(json_object_get(c->history_visibility, "history_visibility"));
	const char *guest = json_string_value(json_object_get(c->guest_access, "guest_access"));
	json_t *o = mx_arena_json(a, json_object());
	json_object_set_new(o, "room_id", json_string(room_id));
	json_object_set_new(o, "num_joined_members", json_integer(joined));
	json_object_set_new(o, "world_readable",
			    json_boolean(vis && !strcmp(vis, "world_readable")));
	json_object_set_new(o, "guest_can_join", json_boolean(guest && !strcmp(guest, "can_join")));
	mx_rd_set_str(o, "name", mx_rd_str(c->name, "name"));
	mx_rd_set_str(o, "topic", c->topic ? mx_rd_topic(c->topic) : NULL);
	mx_rd_set_str(o, "canonical_alias", mx_rd_str(c->canonical_alias, "alias"));
	mx_rd_set_str(o, "avatar_url", mx_rd_str(c->avatar, "url"));
	mx_rd_set_str(o, "join_rule", join_rule);
	mx_rd_set_str(o, "room_type", json_string_value(json_object_get(c->create, "type")));
	return o;
}

/*
 * Build the directory entry of one published room, or return false if it
 * is not listed: like Synapse, only rooms with joined members that anyone
 * can join, knock on or read; for another server, only rooms that
 * federate (SPEC: m.room.create "m.federate").
 */
static bool mx_rd_build(struct mx_arena *a, const struct mx_store_public_room *r,
			bool for_federation, struct mx_rd_entry *e)
{
	if (r->joined <= 0)
		return false;
	struct mx_rd_contents c = {
		.create = mx_rd_content(a, r->create),
		.name = r->name_redacted ? NULL : mx_rd_content(a, r->name),
		.topic = r->topic_redacted ? NULL : mx_rd_content(a, r->topic),
		.canonical_alias = r->alias_redacted ? NULL : mx_rd_content(a, r->canonical_alias),
		.avatar = r->avatar_redacted ? NULL : mx_rd_content(a, r->avatar),
		.join_rules = mx_rd_content(a, r->join_rules),
		.history_visibility = mx_rd_content(a, r->history_visibility),
		.guest_access = r->guest_redacted ? NULL : mx_rd_content(a, r->guest_access),
	};
	if (for_federation && json_is_false(json_object_get(c.create, "m.federate")))
		return false;
	json_t *o = mx_rd_chunk(a, r->room_id, r->joined, &c);
	const char *join_rule = json_string_value(json_object_get(o, "join_rule"));
	bool open = join_rule && (!strcmp(join_rule, "public") || !strcmp(join_rule, "knock") ||
				  !strcmp(join_rule, "knock_restricted"));
	if (!open && !json_is_true(json_object_get(o, "world_readable")))
		return false;
	e->room_id = r->room_id;
	e->joined = r->joined;
	e->obj = o;
	return true;
}

/* The content of a current state event of room_id (borrowed from a), or NULL. */
static const json_t *mx_rd_state(struct mx_rooms *rooms, struct mx_worker *w, struct mx_arena *a,
				 const char *room_id, const char *type)
{
	json_t *ev = NULL;
	if (mx_room_state_get(rooms, w, a, room_id, type, "", &ev, NULL) || !ev)
		return NULL;
	json_t *c = json_object_get(ev, "content");
	return json_is_object(c) ? c : NULL;
}

int mx_room_directory_chunk(struct mx_rooms *rooms, struct mx_worker *w, struct mx_arena *a,
			    const char *room_id, json_t **out)
{
	*out = NULL;
	const char **members;
	size_t joined;
	int rc = mx_room_members(rooms, w, a, room_id, "join", &members, &joined);
	if (rc)
		return rc;
	/* The cache holds redacted state in its redacted form: what is left
	 * out of a redacted name or topic is simply absent here. */
	struct mx_rd_contents c = {
		.create = mx_rd_state(rooms, w, a, room_id, "m.room.create"),
		.name = mx_rd_state(rooms, w, a, room_id, "m.room.name"),
		.topic = mx_rd_state(rooms, w, a, room_id, "m.room.topic"),
		.canonical_alias = mx_rd_state(rooms, w, a, room_id, "m.room.canonical_alias"),
		.avatar = mx_rd_state(rooms, w, a, room_id, "m.room.avatar"),
		.join_rules = mx_rd_state(rooms, w, a, room_id, "m.room.join_rules"),
		.history_visibility = mx_rd_state(rooms, w, a, room_id, "m.room.history_visibility"),
		.guest_access = mx_rd_state(rooms, w, a, room_id, "m.room.guest_access"),
	};
	*out = mx_rd_chunk(a, room_id, (int64_t)joined, &c);
	return 0;
}

/* Case-insensitive (ASCII) substring search; needle is already lower-case. */
static bool mx_rd_contains(const char *hay, const char *needle)
{
	if (!hay)
		return false;
	size_t n = strlen(needle);
	for (const char *p = hay; *p; p++) {
		size_t i = 0;
		while (i < n && p[i]) {
			char c = p[i];
			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			if (c != needle[i])
				break;
			i++;
		}
		if (i == n)
			return true;
	}
	return false;
}

bool mx_room_directory_matches(const json_t *entry, const struct mx_room_directory_query *q)
{
	if (q->term && *q->term) {
		static const char *const fields[] = {"name", "topic", "canonical_alias"};
		bool found = false;
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]) && !found; i++)
			found = mx_rd_contains(json_string_value(json_object_get(entry, fields[i])),
					       q->term);
		if (!found)
			return false;
	}
	if (!json_array_size(q->room_types))
		return true;
	const char *type = json_string_value(json_object_get(entry, "room_type"));
	size_t i;
	json_t *t;
	json_array_foreach (q->room_types, i, t) {
		const char *want = json_string_value(t);
		if (json_is_null(t) ? !type : (want && type && !strcmp(want, type)))
			return true;
	}
	return false;
}

/* ---- order and pages ---- */

/* Directory order: most joined members first, then room id. */
static int mx_rd_key_cmp(int64_t ja, const char *ra, int64_t jb, const char *rb)
{
	if (ja != jb)
		return ja > jb ? -1 : 1;
	return strcmp(ra, rb);
}

static int mx_rd_cmp(const void *a, const void *b)
{
	const struct mx_rd_entry *x = a, *y = b;
	return mx_rd_key_cmp(x->joined, x->room_id, y->joined, y->room_id);
}

/*
 * Pagination tokens name the entry a page ends at: "n<joined>_<room id>"
 * continues after it, "p<joined>_<room id>" goes back to before it. They
 * stay valid as rooms come and go or change size.
 */
struct mx_rd_token {
	bool forward;
	int64_t joined;
	const char *room_id;
};

static int mx_rd_token_parse(const char *s, struct mx_rd_token *t)
{
	if (!s || (s[0] != 'n' && s[0] != 'p'))
		return MX_EINVALIDPARAM;
	t->forward = s[0] == 'n';
	char *end;
	errno = 0;
	long long j = strtoll(s + 1, &end, 10);
	if (errno || end == s + 1 || j < 0 || *end != '_' || !end[1])
		return MX_EINVALIDPARAM;
	t->joined = j;
	t->room_id = end + 1;
	return 0;
}

static json_t *mx_rd_token_make(struct mx_arena *a, char dir, const struct mx_rd_entry *e)
{
	return json_string(mx_arena_printf(a, "%c%lld_%s", dir, (long long)e->joined, e->room_id));
}

int mx_room_directory_list(struct mx_db_conn *c, struct mx_arena *a,
			   const struct mx_room_directory_query *q, bool for_federation, json_t **out,
			   const char **why)
{
	struct mx_rd_token tok = {0};
	*out = NULL;
	if (q->since && mx_rd_token_parse(q->since, &tok))
		return *why = "Invalid since token", MX_EINVALIDPARAM;
	if (q->include_all_networks && q->third_party_instance_id)
		return *why = "include_all_networks cannot be used with third_party_instance_id",
		       MX_EINVALIDPARAM;
	json_t *chunk = json_array();
	json_t *res = json_pack("{s:o}", "chunk", chunk);
	/* Rooms of a third-party network are published by application
	 * services; we have none, so such a list is empty. */
	if (q->third_party_instance_id) {
		json_object_set_new(res, "total_room_count_estimate", json_integer(0));
		*out = res;
		return 0;
	}
	struct mx_store_public_room *rows;
	size_t n;
	bool truncated;
	int rc = mx_store_public_rooms(c, a, MX_ROOM_DIRECTORY_SCAN_MAX, &rows, &n, &truncated);
	if (rc) {
		json_decref(res);
		return rc;
	}
	if (truncated)
		mx_log_warn("publicRooms: more than %d published rooms, listing the first only",
			    MX_ROOM_DIRECTORY_SCAN_MAX);
	struct mx_rd_entry *all = mx_arena_alloc(a, (n ? n : 1) * sizeof(*all));
	size_t listed = 0, m = 0;
	for (size_t i = 0; i < n; i++) {
		if (!mx_rd_build(a, &rows[i], for_federation, &all[m]))
			continue;
		listed++;
		if (mx_room_directory_matches(all[m].obj, q))
			m++;
	}
	qsort(all, m, sizeof(*all), mx_rd_cmp);
	size_t limit = q->limit <= 0 || q->limit > MX_ROOM_DIRECTORY_MAX_LIMIT
			       ? MX_ROOM_DIRECTORY_MAX_LIMIT
			       : (size_t)q->limit;
	size_t start = 0, end;
	if (q->since && tok.forward) {
		while (start < m &&
		       mx_rd_key_cmp(all[start].joined, all[start].room_id, tok.joined, tok.room_id) <= 0)
			start++;
		end = start + limit < m ? start + limit : m;
	} else if (q->since) {
		end = 0;
		while (end < m &&
		       mx_rd_key_cmp(all[end].joined, all[end].room_id, tok.joined, tok.room_id) < 0)
			end++;
		start = end > limit ? end - limit : 0;
	} else {
		end = limit < m ? limit : m;
	}
	for (size_t i = start; i < end; i++)
		json_array_append(chunk, all[i].obj);
	if (end < m && end > start)
		json_object_set_new(res, "next_batch", mx_rd_token_make(a, 'n', &all[end - 1]));
	if (start > 0 && end > start)
		json_object_set_new(res, "prev_batch", mx_rd_token_make(a, 'p', &all[start]));
	json_object_set_new(res, "total_room_count_estimate", json_integer((json_int_t)listed));
	*out = res;
	return 0;
}

/* ---- alias servers ---- */

void mx_room_directory_add_server(json_t *servers, const char *server)
{
	size_t i;
	json_t *s;
	json_array_foreach (servers, i, s)
		if (!strcmp(json_string_value(s), server))
			return;
	json_array_append_new(servers, json_string(server));
}

json_t *mx_room_directory_servers(struct mx_rooms *rooms, struct mx_worker *w, struct mx_arena *a,
				  const char *first, const char *room_id)
{
	json_t *out = json_array();
	if (first)
		json_array_append_new(out, json_string(first));
	const char **members;
	size_t n;
	if (mx_room_members(rooms, w, a, room_id, "join", &members, &n))
		return out;
	for (size_t i = 0; i < n; i++) {
		const char *server = mx_id_server(members[i]);
		if (server)
			mx_room_directory_add_server(out, server);
	}
	return out;
}
