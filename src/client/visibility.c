/* SPDX-License-Identifier: Apache-2.0 */
/* History visibility, evaluated on the state after each event. */
#include "client/visibility.h"

#include <jansson.h>
#include <string.h>

#include "http/request.h"
#include "store/rooms.h"

static const char *mx_vis_content_str(struct mx_req *req, const struct mx_store_event *ev,
				      const char *key)
{
	json_t *pdu = mx_arena_json(&req->arena, json_loads(ev->json, 0, NULL));
	return json_string_value(json_object_get(json_object_get(pdu, "content"), key));
}

/* Rules 1-5 of SPEC: client-server-api#server-behaviour (history visibility), one setting. */
static bool mx_vis_rule(const char *vis, const char *membership, bool currently_joined)
{
	if (!strcmp(vis, "world_readable"))
		return true;
	if (membership && !strcmp(membership, "join"))
		return true;
	if (!strcmp(vis, "shared"))
		return currently_joined;
	if (!strcmp(vis, "invited"))
		return membership && !strcmp(membership, "invite");
	return false; /* "joined", or an unknown value: the strictest reading */
}

bool mx_visibility_allows(struct mx_req *req, const char *user_id, const struct mx_store_event *ev,
			  bool currently_joined)
{
	if (ev->state_key && !strcmp(ev->type, "m.room.member") && !strcmp(ev->state_key, user_id))
		return true;
	struct mx_store_event hv, mem;
	const char *vis = "shared"; /* the spec's default when no event is set */
	if (!mx_store_state_group_get(req->w->rconn, &req->arena, ev->state_group,
				      "m.room.history_visibility", "", &hv)) {
		const char *v = mx_vis_content_str(req, &hv, "history_visibility");
		if (v)
			vis = v;
	}
	if (!strcmp(vis, "world_readable"))
		return true;
	const char *membership = NULL;
	if (!mx_store_state_group_get(req->w->rconn, &req->arena, ev->state_group, "m.room.member",
				      user_id, &mem))
		membership = mx_vis_content_str(req, &mem, "membership");
	if (mx_vis_rule(vis, membership, currently_joined))
		return true;
	/* SPEC: a history_visibility event is visible if the setting before
	 * or after it allows (no earlier setting: the default, shared). */
	if (ev->state_key && !*ev->state_key && !strcmp(ev->type, "m.room.history_visibility")) {
		const char *before = "shared";
		struct mx_store_event prev;
		if (ev->replaces_state &&
		    !mx_store_event_get(req->w->rconn, &req->arena, ev->replaces_state, &prev)) {
			const char *v = mx_vis_content_str(req, &prev, "history_visibility");
			if (v)
				before = v;
		}
		return mx_vis_rule(before, membership, currently_joined);
	}
	return false;
}
