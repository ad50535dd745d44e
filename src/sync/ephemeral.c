/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ephemeral events for /sync. Receipts changed since an incremental token
 * are read once, by the stream index, and grouped by room before the rooms
 * are visited; a token far behind (more than MX_SYNC_RECEIPTS_MAX_DELTA
 * positions) gets each room's full set instead, so one request never
 * holds an unbounded delta.
 */
#include "sync/ephemeral.h"

#include <string.h>

#include "client/filter_match.h"
#include "core/arena.h"
#include "core/config.h"
#include "http/request.h"
#include "store/members.h"
#include "store/receipts.h"
#include "sync/presence.h"
#include "sync/typing.h"

#define MX_SYNC_RECEIPTS_MAX_DELTA 10000
/* At most this many presence events per response. */
#define MX_SYNC_PRESENCE_MAX 1000

struct mx_receipt_collect {
	struct mx_sync *s;
	json_t *by_room;  /* room_id -> m.receipt content, or NULL: one room */
	json_t *content;  /* the content when collecting one room */
};

/* Add r to an m.receipt content {event_id: {type: {user: {ts, thread_id}}}}. */
static void mx_receipt_add(json_t *content, const struct mx_store_receipt *r)
{
	json_t *ev = json_object_get(content, r->event_id);
	if (!ev) {
		ev = json_object();
		json_object_set_new(content, r->event_id, ev);
	}
	json_t *type = json_object_get(ev, r->receipt_type);
	if (!type) {
		type = json_object();
		json_object_set_new(ev, r->receipt_type, type);
	}
	json_t *info = json_pack("{s:I}", "ts", (json_int_t)r->ts);
	if (r->thread_id && *r->thread_id)
		json_object_set_new(info, "thread_id", json_string(r->thread_id));
	json_object_set_new(type, r->user_id, info);
}

static int mx_receipt_collect_cb(void *ctx, const struct mx_store_receipt *r)
{
	struct mx_receipt_collect *c = ctx;
	/* SPEC: client-server-api#private-read-receipts: only to its owner. */
	if (!strcmp(r->receipt_type, "m.read.private") && strcmp(r->user_id, c->s->user) != 0)
		return 0;
	json_t *content = c->content;
	if (c->by_room) {
		content = json_object_get(c->by_room, r->room_id);
		if (!content) {
			content = json_object();
			json_object_set_new(c->by_room, r->room_id, content);
		}
	}
	mx_receipt_add(content, r);
	return 0;
}

int mx_sync_ephemeral_begin(struct mx_sync *s)
{
	struct mx_req *req = s->req;
	s->now.pos[MX_SYNC_RECEIPTS] = mx_store_receipts_position(req->w->rconn);
	s->now.pos[MX_SYNC_TYPING] = mx_typing_position(req->srv->typing);
	s->now.pos[MX_SYNC_PRESENCE] = mx_presence_position(req->srv->presence);
	s->receipts = NULL;
	s->new_rooms = mx_arena_json(&req->arena, json_array());
	int64_t since = s->since.pos[MX_SYNC_RECEIPTS], now = s->now.pos[MX_SYNC_RECEIPTS];
	if (s->initial || since >= now || now - since > MX_SYNC_RECEIPTS_MAX_DELTA)
		return 0;
	struct mx_receipt_collect c = {s, mx_arena_json(&req->arena, json_object()), NULL};
	int rc = mx_store_receipts_between(req->w->rconn, NULL, since, now, mx_receipt_collect_cb, &c);
	if (rc)
		return rc;
	s->receipts = c.by_room;
	return 0;
}

/* The m.receipt content for a room, or NULL if there is nothing to say. */
static json_t *mx_sync_room_receipts(struct mx_sync *s, const char *room_id, bool full)
{
	int64_t since = s->since.pos[MX_SYNC_RECEIPTS], now = s->now.pos[MX_SYNC_RECEIPTS];
	json_t *content;
	if (!full && since >= now)
		return NULL;
	if (!full && s->receipts) {
		content = json_object_get(s->receipts, room_id);
		return json_object_size(content) ? json_incref(content) : NULL;
	}
	/* Full, or a token too far behind for the delta. */
	struct mx_receipt_collect c = {s, NULL, json_object()};
	mx_store_receipts_between(s->req->w->rconn, room_id, full ? 0 : since, now,
				  mx_receipt_collect_cb, &c);
	if (!json_object_size(c.content)) {
		json_decref(c.content);
		return NULL;
	}
	return c.content;
}

json_t *mx_sync_ephemeral_room(struct mx_sync *s, const char *room_id, bool full)
{
	struct mx_req *req = s->req;
	json_t *events = mx_arena_json(&req->arena, json_array());
	const json_t *f = json_object_get(s->room_f, "ephemeral");
	if (full && !s->initial)
		json_array_append_new(s->new_rooms, json_string(room_id));
	if (!mx_filter_room_allowed(f, room_id))
		return events;
	if (mx_filter_event_matches(f, "m.typing", NULL, room_id, NULL)) {
		json_t *ids = mx_typing_room(req->srv->typing, room_id, s->since.pos[MX_SYNC_TYPING], full);
		if (ids)
			json_array_append_new(events, json_pack("{s:s, s:{s:o}}", "type", "m.typing",
								"content", "user_ids", ids));
	}
	if (mx_filter_event_matches(f, "m.receipt", NULL, room_id, NULL)) {
		json_t *content = mx_sync_room_receipts(s, room_id, full);
		if (content)
			json_array_append_new(events, json_pack("{s:s, s:o}", "type", "m.receipt",
								"content", content));
	}
	return events;
}

/* Append user's presence event to events if known (and, unless
 * with_offline, not offline) and the filter takes it. */
static void mx_sync_presence_add(struct mx_sync *s, const json_t *f, json_t *events,
				 json_t *done, const char *user, bool with_offline)
{
	if (json_object_get(done, user) || !mx_filter_event_matches(f, "m.presence", user, NULL, NULL))
		return;
	json_object_set_new(done, user, json_true());
	json_t *c = mx_presence_content(s->req->srv->presence, user, NULL);
	if (!c)
		return;
	if (!with_offline && !strcmp(json_string_value(json_object_get(c, "presence")), "offline")) {
		json_decref(c);
		return;
	}
	json_array_append_new(events,
			      json_pack("{s:s, s:s, s:o}", "type", "m.presence", "sender", user, "content", c));
}

json_t *mx_sync_presence(struct mx_sync *s)
{
	struct mx_req *req = s->req;
	struct mx_arena *a = &req->arena;
	json_t *events = mx_arena_json(a, json_array());
	const json_t *f = json_object_get(s->filter, "presence");
	if (!mx_filter_event_matches(f, "m.presence", NULL, NULL, NULL))
		return events;
	int limit = mx_filter_limit(f, MX_SYNC_PRESENCE_MAX, MX_SYNC_PRESENCE_MAX);
	int64_t since = s->since.pos[MX_SYNC_PRESENCE], now = s->now.pos[MX_SYNC_PRESENCE];
	/* Tokens from before a restart may be ahead of the stream. */
	bool full = s->initial || since > now;
	json_t *done = mx_arena_json(a, json_object());
	const char **shared;
	size_t n_shared;
	if (full) {
		if (mx_store_shared_room_users(req->w->rconn, a, s->user, NULL, &shared, &n_shared))
			return events;
		for (size_t i = 0; i < n_shared && (int)json_array_size(events) < limit; i++)
			mx_sync_presence_add(s, f, events, done, shared[i], false);
	} else {
		const char **changed;
		size_t n_changed;
		mx_presence_changed(req->srv->presence, a, since, &changed, &n_changed);
		if (n_changed) {
			if (mx_store_shared_room_users(req->w->rconn, a, s->user, NULL, &shared, &n_shared))
				return events;
			json_t *set = mx_arena_json(a, json_object());
			for (size_t i = 0; i < n_shared; i++)
				json_object_set_new(set, shared[i], json_true());
			for (size_t i = 0; i < n_changed && (int)json_array_size(events) < limit; i++)
				if (json_object_get(set, changed[i]))
					mx_sync_presence_add(s, f, events, done, changed[i], true);
		}
		/* Members of rooms joined since the token: their current presence. */
		size_t i;
		json_t *room;
		json_array_foreach (s->new_rooms, i, room) {
			const char **members;
			size_t nm;
			if (mx_store_room_joined_local(req->w->rconn, a, json_string_value(room),
						       req->srv->cfg->server_name, &members, &nm))
				continue;
			for (size_t k = 0; k < nm && (int)json_array_size(events) < limit; k++)
				mx_sync_presence_add(s, f, events, done, members[k], false);
		}
	}
	if (json_array_size(events))
		s->any = true;
	return events;
}
