/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bundled aggregations: what mx_client_format_event puts in
 * unsigned["m.relations"] for an event that has children.
 * SPEC: client-server-api#aggregations-of-child-events
 *
 * Children sent by users the requester ignores are left out of every
 * aggregation (SPEC: client-server-api#ignoring-users).
 *
 * Cost: one query per formatted non-state event (the grouped summary of its
 * children through events_by_relation, which finds nothing for most events
 * and so doubles as the existence check). Only events that do have
 * children pay for more: the ignored-users list (once per request), the
 * edit candidates, the thread's latest event, the references.
 *
 * Nesting: a bundled event is formatted with relations_depth + 1. The
 * thread's latest_event gets its own bundle (the spec asks for it); the
 * bundled edit and anything deeper get none, which also ends any loop that
 * free-form event ids (room versions 1 and 2) could build.
 */
#include <string.h>

#include "client/format.h"
#include "client/ignore.h"
#include "client/relations.h"
#include "client/visibility.h"
#include "http/request.h"
#include "room/room.h"
#include "store/relations.h"
#include "store/rooms.h"

/* The deepest relations_depth that still gets a bundle. */
#define MX_BUNDLE_MAX_DEPTH 1
/* Bounded: a bundle is no place for an unbounded list (STYLE.md rule 6). */
#define MX_BUNDLE_MAX_REFERENCES 100

struct mx_bundle {
	struct mx_req *req;
	const struct mx_store_event *parent;
	const struct mx_format_opts *o;
	const char *user;
	int joined;               /* the user's membership is join: -1 not looked up yet */
	json_t *out;              /* what the current step produced */
	json_t *chunk;
};

/* Whether the user may see a child we are about to embed in full. */
static bool mx_bundle_visible(struct mx_bundle *b, const struct mx_store_event *ev)
{
	if (!b->user)
		return false;
	if (b->joined < 0) {
		const char *m = mx_room_membership(b->req->srv->rooms, b->req->w, &b->req->arena,
						   b->parent->room_id, b->user);
		b->joined = m && !strcmp(m, "join");
	}
	return mx_visibility_allows(b->req, b->user, ev, b->joined == 1);
}

/* A child formatted as a client event at the given nesting depth. */
static json_t *mx_bundle_format(struct mx_bundle *b, const struct mx_store_event *ev, int depth)
{
	struct mx_format_opts inner = *b->o;
	inner.relations_depth = depth;
	return mx_client_format_event(b->req, ev, &inner);
}

/* ---- m.replace ---- */

/*
 * SPEC: client-server-api#validity-of-replacement-events: the store
 * already matched room, sender, type and the absence of a state_key; what
 * is left is m.new_content, which an encrypted edit carries inside its
 * ciphertext where we cannot look.
 */
static int mx_bundle_edit_cb(void *ctx, const struct mx_store_rel_child *ch)
{
	struct mx_bundle *b = ctx;
	struct mx_store_event ev;
	if (mx_store_event_get(b->req->w->rconn, &b->req->arena, ch->event_id, &ev))
		return 0;
	if (strcmp(ev.type, "m.room.encrypted") != 0) {
		json_t *pdu = mx_arena_json(&b->req->arena, json_loads(ev.json, 0, NULL));
		if (!json_is_object(json_object_get(json_object_get(pdu, "content"), "m.new_content")))
			return 0;
	}
	if (!mx_bundle_visible(b, &ev))
		return 0;
	/* The edit itself, formatted as normal, without a bundle of its own. */
	b->out = mx_bundle_format(b, &ev, MX_BUNDLE_MAX_DEPTH + 1);
	return b->out != NULL;
}

/*
 * SPEC: client-server-api#server-side-aggregation-of-mreplace-relationships:
 * the most recent valid replacement; none for a redacted original, and
 * none for an original that is itself an edit (edits of edits are invalid).
 */
static json_t *mx_bundle_replace(struct mx_bundle *b, const json_t *pdu)
{
	const struct mx_store_event *ev = b->parent;
	if (ev->redacted_by)
		return NULL;
	const char *own = json_string_value(
		json_object_get(json_object_get(json_object_get(pdu, "content"), "m.relates_to"),
				"rel_type"));
	if (own && !strcmp(own, "m.replace"))
		return NULL;
	b->out = NULL;
	if (mx_store_relations_edits(b->req->w->rconn, &b->req->arena, ev->room_id, ev->event_id,
				     ev->sender, ev->type, mx_bundle_edit_cb, b) < 0)
		return NULL;
	return b->out;
}

/* ---- m.thread ---- */

/*
 * SPEC: client-server-api#server-side-aggregation-of-mthread-relationships:
 * count and latest_event leave out ignored users; latest_event is the
 * newest (in our stream order) and carries its own bundle. A latest event
 * the user may not see takes the whole summary with it rather than
 * leaking, or misreporting, the thread's newest message.
 */
static json_t *mx_bundle_thread(struct mx_bundle *b, int64_t latest_nid, int64_t count,
				bool participated)
{
	const char *id = mx_store_relations_event_id(b->req->w->rconn, &b->req->arena, latest_nid);
	struct mx_store_event ev;
	if (!id || mx_store_event_get(b->req->w->rconn, &b->req->arena, id, &ev) ||
	    !mx_bundle_visible(b, &ev))
		return NULL;
	json_t *latest = mx_bundle_format(b, &ev, b->o->relations_depth + 1);
	if (!latest)
		return NULL;
	return json_pack("{s:o, s:I, s:b}", "latest_event", latest, "count", (json_int_t)count,
			 "current_user_participated", participated);
}

/* ---- m.reference ---- */

static int mx_bundle_reference_cb(void *ctx, const struct mx_store_rel_child *ch)
{
	struct mx_bundle *b = ctx;
	if (!mx_ignored(b->req, ch->sender))
		json_array_append_new(b->chunk, json_pack("{s:s}", "event_id", ch->event_id));
	return 0;
}

/* SPEC: client-server-api#server-side-aggregation-of-mreference */
static json_t *mx_bundle_reference(struct mx_bundle *b)
{
	b->chunk = json_array();
	if (mx_store_relations_of_type(b->req->w->rconn, &b->req->arena, b->parent->room_id,
				       b->parent->event_id, "m.reference", NULL, NULL,
				       MX_BUNDLE_MAX_REFERENCES, mx_bundle_reference_cb, b) < 0 ||
	    !json_array_size(b->chunk)) {
		json_decref(b->chunk);
		return NULL;
	}
	return json_pack("{s:o}", "chunk", b->chunk);
}

void mx_relations_bundle(struct mx_req *req, const struct mx_store_event *ev, const json_t *pdu,
			 const struct mx_format_opts *o, json_t *unsig)
{
	/* SPEC: state events do not currently receive bundled aggregations. */
	if (ev->state_key || o->relations_depth > MX_BUNDLE_MAX_DEPTH)
		return;
	struct mx_store_rel_group *g;
	size_t n;
	if (mx_store_relations_summary(req->w->rconn, &req->arena, ev->room_id, ev->event_id, &g,
				       &n) ||
	    !n)
		return;
	struct mx_bundle b = {.req = req, .parent = ev, .o = o, .user = o->user_id, .joined = -1};
	bool edits = false, refs = false;
	bool participated = b.user && !strcmp(ev->sender, b.user);
	int64_t thread_count = 0, thread_latest = 0;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(g[i].rel_type, "m.replace")) {
			edits = edits || !strcmp(g[i].sender, ev->sender);
		} else if (!strcmp(g[i].rel_type, "m.thread")) {
			if (mx_ignored(req, g[i].sender))
				continue;
			thread_count += g[i].count;
			if (g[i].max_nid > thread_latest)
				thread_latest = g[i].max_nid;
			participated = participated || (b.user && !strcmp(g[i].sender, b.user));
		} else if (!strcmp(g[i].rel_type, "m.reference")) {
			refs = refs || !mx_ignored(req, g[i].sender);
		}
	}
	json_t *rels = json_object(), *v;
	if (edits && (v = mx_bundle_replace(&b, pdu)))
		json_object_set_new(rels, "m.replace", v);
	if (thread_count && (v = mx_bundle_thread(&b, thread_latest, thread_count, participated)))
		json_object_set_new(rels, "m.thread", v);
	if (refs && (v = mx_bundle_reference(&b)))
		json_object_set_new(rels, "m.reference", v);
	if (json_object_size(rels))
		json_object_set_new(unsig, "m.relations", rels);
	else
		json_decref(rels);
}
