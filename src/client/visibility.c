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
	if (membership && !strcmp(membership, "join"))
		return true;
	if (!strcmp(vis, "shared"))
		return currently_joined;
	if (!strcmp(vis, "invited"))
		return membership && !strcmp(membership, "invite");
	return false; /* "joined", or an unknown value: the strictest reading */
}
