/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GET /sync: initial and incremental, with filters, lazy-loaded members,
 * limited timelines, state deltas, state_after (MSC4222), invites, leaves,
 * knocks and account data; an empty incremental sync parks on the notifier
 * until something for the user happens or its timeout passes.
 * SPEC: client-server-api#get_matrixclientv3sync
 *
 * A sync token is "s" and the position of each stream (sync_internal.h)
 * last account-data position the client has seen.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/filter.h"
#include "client/filter_match.h"
#include "client/format.h"
#include "client/ignore.h"
#include "client/routes.h"
#include "client/visibility.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "http/request.h"
#include "push/push.h"
#include "push/rules.h"
#include "room/room.h"
#include "store/account_data.h"
#include "store/filters.h"
#include "store/rooms.h"
#include "sync/e2ee.h"
#include "sync/ephemeral.h"
#include "sync/notifier.h"
#include "sync/presence.h"
#include "sync/sync.h"
#include "sync/sync_internal.h"

#define MX_SYNC_MAX_TIMEOUT_MS (5 * 60 * 1000)
#define MX_SYNC_DEFAULT_TIMELINE 10
#define MX_SYNC_MAX_TIMELINE 1000

/* Kept across a park and resume of one request. */
struct mx_sync_wait {
	int64_t deadline_ms;
};

int mx_sync_parse_token(const char *s, struct mx_sync_token *t)
{
	memset(t, 0, sizeof(*t));
	if (!s || s[0] != 's')
		return MX_EINVALIDPARAM;
	const char *p = s + 1;
	for (int i = 0; i < MX_SYNC_STREAMS; i++) {
		char *end;
		errno = 0;
		long long v = strtoll(p, &end, 10);
		if (errno || end == p || v < 0)
			return MX_EINVALIDPARAM;
		t->pos[i] = v;
		if (*end == '\0')
			return 0; /* older tokens have fewer streams: the rest are 0 */
		if (*end != '_')
			return MX_EINVALIDPARAM;
		p = end + 1;
	}
	return MX_EINVALIDPARAM;
}

const char *mx_sync_token_str(struct mx_sync *s, const struct mx_sync_token *t)
{
	char buf[MX_SYNC_STREAMS * 21 + 2], *o = buf;
	*o++ = 's';
	for (int i = 0; i < MX_SYNC_STREAMS; i++)
		o += snprintf(o, sizeof(buf) - (size_t)(o - buf), i ? "_%" PRId64 : "%" PRId64, t->pos[i]);
	return mx_arena_strdup(&s->req->arena, buf);
}

/* ---- the filter ---- */

static int mx_sync_load_filter(struct mx_sync *s)
{
	struct mx_req *req = s->req;
	const char *f = mx_req_query(req, "filter");
	json_t *filter = NULL;
	if (f && f[0] == '{') {
		filter = mx_arena_json(&req->arena, json_loads(f, 0, NULL));
		const char *why = NULL;
		if (!json_is_object(filter) || mx_filter_validate(filter, &why))
			return mx_req_fail(req, MX_EBADJSON, "Invalid filter: %s", why ? why : "not JSON");
	} else if (f) {
		const char *text;
		char *end;
		errno = 0;
		long long id = strtoll(f, &end, 10);
		if (errno || *end || end == f || id < 0)
			return mx_req_fail(req, MX_EINVALIDPARAM, "filter is neither JSON nor a filter id");
		int rc = mx_store_filter_get(req->w->rconn, &req->arena, s->user, id, &text);
		if (rc == MX_ENOTFOUND)
			return mx_req_fail(req, MX_EINVALIDPARAM, "Unknown filter %s", f);
		if (rc)
			return mx_req_fail(req, rc, NULL);
		filter = mx_arena_json(&req->arena, json_loads(text, 0, NULL));
	}
	s->filter = filter;
	s->room_f = json_object_get(filter, "room");
	s->timeline_f = json_object_get(s->room_f, "timeline");
	s->state_f = json_object_get(s->room_f, "state");
	s->room_ad_f = json_object_get(s->room_f, "account_data");
	s->ad_f = json_object_get(filter, "account_data");
	s->timeline_limit = mx_filter_limit(s->timeline_f, MX_SYNC_DEFAULT_TIMELINE, MX_SYNC_MAX_TIMELINE);
	s->lazy = json_is_true(json_object_get(s->state_f, "lazy_load_members"));
	s->include_redundant = json_is_true(json_object_get(s->state_f, "include_redundant_members"));
	s->include_leave = json_is_true(json_object_get(s->room_f, "include_leave"));
	return 0;
}

/* ---- state helpers ---- */

struct mx_state_collect {
	struct mx_sync *s;
	json_t *map; /* "type\x1fstate_key" -> client event */
};

static const char *mx_state_key(struct mx_sync *s, const struct mx_store_event *ev)
{
	return mx_arena_printf(&s->req->arena, "%s\x1f%s", ev->type, ev->state_key ? ev->state_key : "");
}

json_t *mx_sync_fmt(struct mx_sync *s, const struct mx_store_event *ev)
{
	struct mx_format_opts o = {.include_room_id = false, .txn_device = s->req->auth.device_id,
				   .user_id = s->user};
	return mx_client_format_event(s->req, ev, &o);
}

static int mx_state_collect_cb(void *ctx, const struct mx_store_event *ev)
{
	struct mx_state_collect *c = ctx;
	json_t *e = mx_sync_fmt(c->s, ev);
	if (e)
		json_object_set_new(c->map, mx_state_key(c->s, ev), e);
	return 0;
}

/* The state of a room after position pos (0 group = empty), as a map. */
json_t *mx_sync_state_at(struct mx_sync *s, const char *room_id, int64_t pos, bool current)
{
	struct mx_state_collect c = {s, mx_arena_json(&s->req->arena, json_object())};
	if (current)
		mx_store_room_state(s->req->w->rconn, &s->req->arena, room_id, mx_state_collect_cb, &c);
	else {
		int64_t g = mx_store_room_state_group_at(s->req->w->rconn, room_id, pos);
		if (g)
			mx_store_state_group(s->req->w->rconn, &s->req->arena, g, mx_state_collect_cb, &c);
	}
	return c.map;
}

/*
 * The events of `to` that differ from `from`, filtered by the state filter
 * and, with lazy loading, members reduced to `senders`.
 */
static json_t *mx_sync_state_list(struct mx_sync *s, const char *room_id, json_t *from, json_t *to,
				  json_t *senders)
{
	json_t *out = json_array();
	const char *k;
	json_t *ev;
	json_object_foreach (to, k, ev) {
		json_t *old = from ? json_object_get(from, k) : NULL;
		const char *type = json_string_value(json_object_get(ev, "type"));
		const char *sk = json_string_value(json_object_get(ev, "state_key"));
		/* SPEC: client-server-api#lazy-loading-room-members: the member
		 * events of the timeline's senders come with it even when they did
		 * not change (the client may never have been sent them; redundant
		 * ones are allowed). */
		bool sender_member = s->lazy && senders && type && !strcmp(type, "m.room.member") &&
				     sk && strcmp(sk, s->user) != 0 && json_object_get(senders, sk);
		if (!sender_member && old &&
		    json_equal(json_object_get(old, "event_id"), json_object_get(ev, "event_id")))
			continue;
		if (!mx_filter_event_matches(s->state_f, type, json_string_value(json_object_get(ev, "sender")),
					     room_id, json_object_get(ev, "content")))
			continue;
		if (s->lazy && senders && type && !strcmp(type, "m.room.member") && sk &&
		    !json_object_get(senders, sk))
			continue;
		json_array_append(out, ev);
	}
	return out;
}

/* ---- timelines ---- */

static int mx_timeline_cb(void *ctx, const struct mx_store_event *ev)
{
	struct mx_timeline *t = ctx;
	if ((int)json_array_size(t->events) >= t->want) {
		t->more = true;
		return 1;
	}
	t->rows++;
	t->first_nid = ev->nid;
	/* SPEC: client-server-api#ignoring-users: but state events are sent. */
	if (!ev->state_key && mx_ignored(t->s->req, ev->sender))
		return 0;
	json_t *pdu = mx_arena_json(&t->s->req->arena, json_loads(ev->json, 0, NULL));
	if (!mx_filter_event_matches(t->s->timeline_f, ev->type, ev->sender, ev->room_id,
				     json_object_get(pdu, "content")) ||
	    !mx_visibility_allows(t->s->req, t->s->user, ev, t->joined))
		return 0;
	json_t *e = mx_sync_fmt(t->s, ev);
	if (!e)
		return 0;
	if (!t->last_nid)
		t->last_nid = ev->nid;
	json_array_append_new(t->events, e);
	json_object_set_new(t->senders, ev->sender, json_true());
	return 0;
}

/*
 * The newest events in (lo, hi], up to the limit; *limited if more exist.
 * joined: whether the user counts as joined for shared history.
 */
int mx_sync_timeline(struct mx_sync *s, const char *room_id, int64_t lo, int64_t hi,
			    bool joined, struct mx_timeline *t)
{
	memset(t, 0, sizeof(*t));
	t->joined = joined;
	t->s = s;
	t->room_id = room_id;
	t->events = mx_arena_json(&s->req->arena, json_array());
	t->senders = mx_arena_json(&s->req->arena, json_object());
	t->want = s->timeline_limit;
	t->first_nid = hi + 1;
	int64_t cursor = hi;
	for (int round = 0; round < 10 && !t->more; round++) {
		int before = t->rows;
		int batch = t->want + 1 > 50 ? t->want + 1 : 50;
		int rc = mx_store_room_events(s->req->w->rconn, &s->req->arena, room_id, cursor, lo,
					      true, batch, mx_timeline_cb, t);
		if (rc < 0)
			return rc;
		if (t->rows - before < batch)
			break; /* the range is exhausted */
		cursor = t->first_nid - 1;
	}
	/* Reverse into chronological order. */
	size_t n = json_array_size(t->events);
	for (size_t i = 0; i < n / 2; i++) {
		json_t *a = json_incref(json_array_get(t->events, i));
		json_array_set(t->events, i, json_array_get(t->events, n - 1 - i));
		json_array_set_new(t->events, n - 1 - i, a);
	}
	return 0;
}

/* ---- room sections ---- */

static json_t *mx_sync_room_account_data(struct mx_sync *s, const char *room_id, bool all);

/* m.heroes and member counts from the current state. */
json_t *mx_sync_summary(struct mx_sync *s, const char *room_id)
{
	struct mx_req *req = s->req;
	const char **joined, **invited;
	size_t nj = 0, ni = 0;
	mx_room_members(req->srv->rooms, req->w, &req->arena, room_id, "join", &joined, &nj);
	mx_room_members(req->srv->rooms, req->w, &req->arena, room_id, "invite", &invited, &ni);
	json_t *heroes = json_array();
	json_t *name, *alias;
	mx_room_state_get(req->srv->rooms, req->w, &req->arena, room_id, "m.room.name", "", &name, NULL);
	mx_room_state_get(req->srv->rooms, req->w, &req->arena, room_id, "m.room.canonical_alias", "",
			  &alias, NULL);
	/* SPEC: heroes are only needed when the room has no name or alias. */
	if (!json_string_length(json_object_get(json_object_get(name, "content"), "name")) &&
	    !json_string_length(json_object_get(json_object_get(alias, "content"), "alias"))) {
		for (size_t i = 0; i < nj && json_array_size(heroes) < 5; i++)
			if (strcmp(joined[i], s->user) != 0)
				json_array_append_new(heroes, json_string(joined[i]));
		for (size_t i = 0; i < ni && json_array_size(heroes) < 5; i++)
			if (strcmp(invited[i], s->user) != 0)
				json_array_append_new(heroes, json_string(invited[i]));
	}
	return json_pack("{s:o, s:I, s:I}", "m.heroes", heroes, "m.joined_member_count",
			 (json_int_t)nj, "m.invited_member_count", (json_int_t)ni);
}

/* A joined room; full (initial, newly joined, full_state) or incremental. */
static int mx_sync_joined_room(struct mx_sync *s, const char *room_id, bool full)
{
	if (!mx_filter_room_allowed(s->room_f, room_id))
		return 0;
	struct mx_timeline t;
	int64_t lo = full ? 0 : s->since.pos[MX_SYNC_EVENTS];
	int rc = mx_sync_timeline(s, room_id, lo, s->now.pos[MX_SYNC_EVENTS], true, &t);
	if (rc)
		return rc;
	json_t *ad = mx_sync_room_account_data(s, room_id, full);
	json_t *eph = mx_sync_ephemeral_room(s, room_id, full);
	size_t n = json_array_size(t.events);
	if (!full && !n && !json_array_size(ad) && !json_array_size(eph))
		return 0;
	json_t *senders = t.senders;
	json_object_set_new(senders, s->user, json_true());
	json_t *state;
	const char *state_key = s->state_after_key ? s->state_after_key : "state";
	if (s->state_after_key) {
		json_t *to = mx_sync_state_at(s, room_id, 0, true);
		json_t *from = full ? NULL : mx_sync_state_at(s, room_id, s->since.pos[MX_SYNC_EVENTS], false);
		state = mx_sync_state_list(s, room_id, from, to, senders);
	} else {
		int64_t start = n ? t.first_nid - 1 : s->now.pos[MX_SYNC_EVENTS];
		json_t *to = mx_sync_state_at(s, room_id, start, false);
		json_t *from = full ? NULL
				    : (t.more ? mx_sync_state_at(s, room_id, s->since.pos[MX_SYNC_EVENTS], false) : to);
		state = mx_sync_state_list(s, room_id, from, to, senders);
	}
	json_t *unread, *threads;
	mx_push_unread(s->req->srv->push, s->req->w->rconn, &s->req->arena, s->user, room_id,
		       json_is_true(json_object_get(s->timeline_f, "unread_thread_notifications")),
		       &unread, &threads);
	json_t *room = json_pack(
		"{s:{s:O, s:b, s:s}, s:{s:o}, s:{s:O}, s:{s:O}, s:o, s:o}", "timeline",
		"events", t.events, "limited", t.more, "prev_batch",
		mx_arena_printf(&s->req->arena, "t%" PRId64, n ? t.first_nid - 1 : s->now.pos[MX_SYNC_EVENTS]),
		state_key, "events", state, "ephemeral", "events", eph, "account_data", "events", ad,
		"unread_notifications", unread, "summary", mx_sync_summary(s, room_id));
	if (threads)
		json_object_set_new(room, "unread_thread_notifications", threads);
	json_object_set_new(s->join, room_id, room);
	s->any = true;
	return 0;
}

json_t *mx_sync_stripped(struct mx_sync *s, const char *room_id, const char *member_event_id)
{
	static const char *const types[] = {"m.room.create", "m.room.join_rules", "m.room.name",
					    "m.room.avatar", "m.room.canonical_alias",
					    "m.room.encryption", "m.room.topic"};
	struct mx_req *req = s->req;
	json_t *arr = json_array();
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		json_t *ev;
		if (!mx_room_state_get(req->srv->rooms, req->w, &req->arena, room_id, types[i], "", &ev,
				       NULL) &&
		    ev)
			json_array_append_new(arr, mx_client_stripped_state(ev));
	}
	struct mx_store_event mev;
	if (!mx_store_event_get(req->w->rconn, &req->arena, member_event_id, &mev)) {
		json_t *e = mx_sync_fmt(s, &mev);
		if (e)
			json_array_append_new(arr, e);
	}
	return arr;
}

static int mx_sync_invite_or_knock(struct mx_sync *s, const char *room_id, bool knock)
{
	if (!mx_filter_room_allowed(s->room_f, room_id))
		return 0;
	struct mx_store_event mev;
	if (mx_store_room_state_get(s->req->w->rconn, &s->req->arena, room_id, "m.room.member", s->user,
				    &mev))
		return 0;
	/* SPEC: client-server-api#ignoring-users: no invites from them. */
	if (!knock && mx_ignored(s->req, mev.sender))
		return 0;
	json_t *events = mx_sync_stripped(s, room_id, mev.event_id);
	if (knock)
		json_object_set_new(s->knock, room_id, json_pack("{s:{s:o}}", "knock_state", "events", events));
	else
		json_object_set_new(s->invite, room_id, json_pack("{s:{s:o}}", "invite_state", "events", events));
	s->any = true;
	return 0;
}

/*
 * Whether the user was joined just before leave_nid: a member who left or
 * was kicked or banned saw the shared history; a rejected invite or a
 * withdrawn knock did not (SPEC: client-server-api#history-visibility).
 */
static bool mx_sync_was_joined(struct mx_sync *s, const char *room_id, int64_t leave_nid)
{
	struct mx_store_event mem;
	int64_t g = mx_store_room_state_group_at(s->req->w->rconn, room_id, leave_nid - 1);
	if (mx_store_state_group_get(s->req->w->rconn, &s->req->arena, g, "m.room.member", s->user,
				     &mem))
		return false;
	json_t *pdu = mx_arena_json(&s->req->arena, json_loads(mem.json, 0, NULL));
	json_t *m = json_object_get(json_object_get(pdu, "content"), "membership");
	return json_is_string(m) && !strcmp(json_string_value(m), "join");
}

/* A room the user left (or was kicked or banned from) at leave_nid. */
static int mx_sync_left_room(struct mx_sync *s, const char *room_id, int64_t leave_nid, bool full)
{
	if (!mx_filter_room_allowed(s->room_f, room_id) ||
	    mx_store_room_forgotten(s->req->w->rconn, s->user, room_id))
		return 0;
	struct mx_timeline t;
	int rc = mx_sync_timeline(s, room_id, full ? 0 : s->since.pos[MX_SYNC_EVENTS], leave_nid,
				  mx_sync_was_joined(s, room_id, leave_nid), &t);
	if (rc)
		return rc;
	size_t n = json_array_size(t.events);
	int64_t start = n ? t.first_nid - 1 : leave_nid;
	json_t *to, *from;
	if (s->state_after_key) {
		/* SPEC: state_after is the state at the end of the timeline (the
		 * leave itself); clients apply nothing from the timeline. */
		to = mx_sync_state_at(s, room_id, leave_nid, false);
		from = full ? NULL : mx_sync_state_at(s, room_id, s->since.pos[MX_SYNC_EVENTS], false);
	} else {
		to = mx_sync_state_at(s, room_id, start, false);
		from = full || !t.more ? NULL : mx_sync_state_at(s, room_id, s->since.pos[MX_SYNC_EVENTS], false);
		if (!full && !t.more)
			from = to;
	}
	/* The user's own membership is always needed, lazy loading or not. */
	json_object_set_new(t.senders, s->user, json_true());
	json_t *state = mx_sync_state_list(s, room_id, from, to, t.senders);
	json_t *room = json_pack("{s:{s:O, s:b, s:s}, s:{s:o}, s:{s:[]}}", "timeline", "events",
				 t.events, "limited", t.more, "prev_batch",
				 mx_arena_printf(&s->req->arena, "t%" PRId64, start),
				 s->state_after_key ? s->state_after_key : "state", "events", state,
				 "account_data", "events");
	json_object_set_new(s->leave, room_id, room);
	s->any = true;
	return 0;
}

static int mx_sync_rooms_initial(struct mx_sync *s)
{
	struct mx_store_user_room *rooms;
	size_t n;
	int rc = mx_store_user_rooms(s->req->w->rconn, &s->req->arena, s->user, NULL, &rooms, &n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		const char *m = rooms[i].membership;
		if (!strcmp(m, "join"))
			rc = mx_sync_joined_room(s, rooms[i].room_id, true);
		else if (!strcmp(m, "invite"))
			rc = mx_sync_invite_or_knock(s, rooms[i].room_id, false);
		else if (!strcmp(m, "knock"))
			rc = mx_sync_invite_or_knock(s, rooms[i].room_id, true);
		else if (s->include_leave && (!strcmp(m, "leave") || !strcmp(m, "ban")))
			rc = mx_sync_left_room(s, rooms[i].room_id, rooms[i].nid, true);
	}
	return rc;
}

static int mx_sync_rooms_incremental(struct mx_sync *s)
{
	struct mx_req *req = s->req;
	struct mx_store_user_room *changes, *rooms;
	size_t nc, n;
	int rc = mx_store_membership_changes(req->w->rconn, &req->arena, s->user, s->since.pos[MX_SYNC_EVENTS],
					     s->now.pos[MX_SYNC_EVENTS], &changes, &nc);
	if (!rc)
		rc = mx_store_user_rooms(req->w->rconn, &req->arena, s->user, NULL, &rooms, &n);
	if (rc)
		return rc;
	json_t *changed = mx_arena_json(&req->arena, json_object());
	for (size_t i = 0; i < nc; i++)
		json_object_set_new(changed, changes[i].room_id, json_string(changes[i].membership));
	for (size_t i = 0; i < n && !rc; i++) {
		const char *room_id = rooms[i].room_id, *m = rooms[i].membership;
		json_t *ch = json_object_get(changed, room_id);
		if (!strcmp(m, "join"))
			/* Newly joined rooms get their full state, as on an initial sync. */
			rc = mx_sync_joined_room(s, room_id, s->full_state || (ch && rooms[i].nid > s->since.pos[MX_SYNC_EVENTS]));
		else if (ch && !strcmp(m, "invite"))
			rc = mx_sync_invite_or_knock(s, room_id, false);
		else if (ch && !strcmp(m, "knock"))
			rc = mx_sync_invite_or_knock(s, room_id, true);
		else if (ch && (!strcmp(m, "leave") || !strcmp(m, "ban")))
			rc = mx_sync_left_room(s, room_id, rooms[i].nid, false);
	}
	return rc;
}

/* ---- account data ---- */

struct mx_ad_collect {
	struct mx_sync *s;
	const char *room_id; /* "" for global */
	const json_t *filter;
	json_t *events;
};

static int mx_ad_cb(void *ctx, const char *room_id, const char *type, const char *content,
		    int64_t stream_id)
{
	struct mx_ad_collect *c = ctx;
	if (strcmp(room_id, c->room_id) != 0 ||
	    !mx_filter_event_matches(c->filter, type, NULL, NULL, NULL))
		return 0;
	/* The stored push rules are the user's changes; clients get the merged rules. */
	json_t *v = !room_id[0] && !strcmp(type, MX_PUSH_RULES_TYPE)
			    ? mx_push_rules_client_json(c->s->user, content)
			    : json_loads(content, 0, NULL);
	if (v)
		json_array_append_new(c->events, json_pack("{s:s, s:o}", "type", type, "content", v));
	return 0;
}

static json_t *mx_sync_room_account_data(struct mx_sync *s, const char *room_id, bool all)
{
	struct mx_ad_collect c = {s, room_id, s->room_ad_f, mx_arena_json(&s->req->arena, json_array())};
	mx_store_account_data_since(s->req->w->rconn, s->user, all ? 0 : s->since.pos[MX_SYNC_ACCOUNT_DATA],
				    mx_ad_cb, &c);
	return c.events;
}

json_t *mx_sync_global_account_data(struct mx_sync *s)
{
	struct mx_ad_collect c = {s, "", s->ad_f, json_array()};
	mx_store_account_data_since(s->req->w->rconn, s->user, s->initial ? 0 : s->since.pos[MX_SYNC_ACCOUNT_DATA],
				    mx_ad_cb, &c);
	/* Like Synapse, an initial sync always carries the push rules. */
	if (s->initial && mx_filter_event_matches(c.filter, MX_PUSH_RULES_TYPE, NULL, NULL, NULL) &&
	    mx_push_rules_missing(c.events))
		json_array_append_new(c.events, json_pack("{s:s, s:o}", "type", MX_PUSH_RULES_TYPE, "content",
							  mx_push_rules_client_json(s->user, NULL)));
	if (json_array_size(c.events))
		s->any = true;
	return c.events;
}

/* ---- the handler ---- */

static int mx_sync_parse_timeout(struct mx_req *req, int64_t *out)
{
	const char *t = mx_req_query(req, "timeout");
	*out = 0;
	if (!t)
		return 0;
	char *end;
	errno = 0;
	long long v = strtoll(t, &end, 10);
	if (errno || *end || end == t || v < 0)
		return mx_req_fail(req, MX_EINVALIDPARAM, "timeout must be a non-negative integer");
	*out = v > MX_SYNC_MAX_TIMEOUT_MS ? MX_SYNC_MAX_TIMEOUT_MS : v;
	return 0;
}

static bool mx_query_true(struct mx_req *req, const char *name)
{
	const char *v = mx_req_query(req, name);
	return v && (!strcmp(v, "true") || !strcmp(v, "1"));
}

static int mx_sync_compute(struct mx_sync *s, json_t **out)
{
	struct mx_req *req = s->req;
	s->now.pos[MX_SYNC_EVENTS] = mx_store_events_max_nid(req->w->rconn);
	s->now.pos[MX_SYNC_ACCOUNT_DATA] = mx_store_stream_position(req->w->rconn, MX_STREAM_ACCOUNT_DATA);
	s->join = mx_arena_json(&req->arena, json_object());
	s->invite = mx_arena_json(&req->arena, json_object());
	s->leave = mx_arena_json(&req->arena, json_object());
	s->knock = mx_arena_json(&req->arena, json_object());
	s->any = false;
	json_t *e2ee = NULL;
	int rc = mx_sync_ephemeral_begin(s);
	if (!rc)
		rc = mx_sync_e2ee(s, &e2ee);
	if (!rc)
		rc = s->initial ? mx_sync_rooms_initial(s) : mx_sync_rooms_incremental(s);
	if (rc)
		return rc;
	json_t *ad = mx_sync_global_account_data(s);
	json_t *presence = mx_sync_presence(s);
	*out = json_pack("{s:s, s:{s:O, s:O, s:O, s:O}, s:{s:o}, s:{s:O}, s:{s:[]},"
			 " s:{s:[], s:[]}, s:{}, s:[]}",
			 "next_batch", mx_sync_token_str(s, &s->now), "rooms", "join", s->join,
			 "invite", s->invite, "leave", s->leave, "knock", s->knock, "account_data",
			 "events", ad, "presence", "events", presence, "to_device", "events", "device_lists",
			 "changed", "left", "device_one_time_keys_count",
			 "device_unused_fallback_key_types");
	json_object_update(*out, e2ee);
	return 0;
}

/* SPEC: client-server-api#get_matrixclientv3sync */
static int mx_sync(struct mx_req *req)
{
	struct mx_sync s = {.req = req, .user = req->auth.user_id};
	const char *since = mx_req_query(req, "since"), *presence = mx_req_query(req, "set_presence");
	if (presence && strcmp(presence, "offline") && strcmp(presence, "online") &&
	    strcmp(presence, "unavailable"))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Unknown set_presence value");
	int64_t timeout;
	int rc = mx_sync_parse_timeout(req, &timeout);
	if (!rc)
		rc = mx_sync_load_filter(&s);
	if (rc)
		return rc;
	if (since && mx_sync_parse_token(since, &s.since))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid since token");
	s.initial = !since;
	s.full_state = mx_query_true(req, "full_state");
	if (mx_query_true(req, "use_state_after"))
		s.state_after_key = "state_after";
	else if (mx_query_true(req, "org.matrix.msc4222.use_state_after"))
		s.state_after_key = "org.matrix.msc4222.state_after";

	struct mx_sync_wait *wait = req->handler_state;
	if (!wait) {
		wait = mx_arena_alloc(&req->arena, sizeof(*wait));
		wait->deadline_ms = mx_clock_mono_ms() + timeout;
		req->handler_state = wait;
	}
	/* Each run (also after a park) reads the ignore list afresh. */
	mx_ignored_reset(req);
	int64_t left_ms = wait->deadline_ms - mx_clock_mono_ms();
	mx_presence_synced(req->srv->presence, s.user, presence, left_ms > 0 ? left_ms : 0);
	/* Read the wake-up sequence first, so a change during the computation
	 * is not missed when we then park; if the park is refused because
	 * something happened meanwhile, compute again (a few times at most). */
	json_t *out = NULL;
	bool idle = false;
	for (int attempt = 0; attempt < 3; attempt++) {
		uint64_t seq = mx_notifier_seq(req->srv->notifier, s.user);
		json_decref(out);
		rc = mx_sync_compute(&s, &out);
		if (rc)
			return mx_req_fail(req, rc, NULL);
		idle = !s.initial && !s.full_state && !s.any;
		if (!idle || mx_clock_mono_ms() >= wait->deadline_ms)
			break;
		if (!mx_notifier_park(req->srv->notifier, req, s.user, seq, wait->deadline_ms)) {
			json_decref(out);
			return MX_ESUSPENDED;
		}
	}
	if (idle) /* nothing happened: the client keeps its token */
		json_object_set_new(out, "next_batch", json_string(since));
	return mx_req_reply_json(req, 200, out);
}

const struct mx_route mx_sync_routes[] = {
	{MX_GET, "/_matrix/client/v3/sync", mx_sync, MX_ROUTE_AUTH | MX_ROUTE_GUEST, MX_RES_CLIENT, 0, 0},
	/* MSC4186 simplified sliding sync (sliding.c) */
	{MX_POST, "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync", mx_sliding_sync,
	 MX_ROUTE_AUTH | MX_ROUTE_JSON | MX_ROUTE_EMPTY_BODY, MX_RES_CLIENT, 0, 0},
};
const size_t mx_sync_routes_count = sizeof(mx_sync_routes) / sizeof(mx_sync_routes[0]);

/* Room listener: wake the local users an event concerns. */
void mx_sync_on_room_event(void *ctx, const struct mx_room_event *ev)
{
	mx_notifier_wake(ctx, ev->local_users, ev->n_local_users);
}
