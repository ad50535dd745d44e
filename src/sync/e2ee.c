/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The E2EE sections of /sync (sync/e2ee.h). To-device messages are kept
 * until the device syncs with a token past them, so a response lost on
 * the way is delivered again; device_lists come from the device-list
 * stream and from membership changes between the two tokens.
 */
#include "sync/e2ee.h"

#include <string.h>

#include "core/config.h"
#include "core/error.h"
#include "http/request.h"
#include "store/account_data.h"
#include "store/e2ee.h"
#include "store/members.h"
#include "sync/notifier.h"
#include "sync/sync_internal.h"

/* SPEC: client-server-api#extensions-to-sync-1 */
int mx_sync_device_lists(struct mx_req *req, const char *user, int64_t from_ev, int64_t to_ev,
			 int64_t from_dl, int64_t to_dl, json_t *changed, json_t *left)
{
	struct mx_db_conn *c = req->w->rconn;
	json_t *set = mx_arena_json(&req->arena, json_object());
	const char **v;
	size_t n;
	int rc = 0;
	if (to_dl > from_dl) {
		rc = mx_store_e2ee_changed_users(c, &req->arena, from_dl, to_dl, &v, &n);
		if (rc)
			return rc;
		for (size_t i = 0; i < n; i++)
			if (!strcmp(v[i], user) || mx_store_users_share_room(c, user, v[i]))
				json_object_set_new(set, v[i], json_true());
	}
	if (to_ev > from_ev) {
		rc = mx_store_e2ee_newly_shared(c, &req->arena, user, from_ev, to_ev, &v, &n);
		if (rc)
			return rc;
		for (size_t i = 0; i < n; i++)
			if (strcmp(v[i], user) && mx_store_users_share_room(c, user, v[i]))
				json_object_set_new(set, v[i], json_true());
	}
	const char *k;
	json_t *val;
	json_object_foreach (set, k, val)
		json_array_append_new(changed, json_string(k));
	if (!left || to_ev <= from_ev)
		return 0;
	rc = mx_store_e2ee_left_candidates(c, &req->arena, user, from_ev, to_ev, &v, &n);
	if (rc)
		return rc;
	json_t *seen = mx_arena_json(&req->arena, json_object());
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(v[i], user) || json_object_get(set, v[i]) || json_object_get(seen, v[i]) ||
		    mx_store_users_share_room(c, user, v[i]))
			continue;
		json_object_set_new(seen, v[i], json_true());
		json_array_append_new(left, json_string(v[i]));
	}
	return 0;
}

struct mx_td_collect {
	struct mx_sync *s;
	json_t *events;
	int64_t last;
};

static int mx_td_cb(void *ctx, int64_t stream_id, const char *sender, const char *type,
		    const char *content)
{
	struct mx_td_collect *t = ctx;
	json_t *body = json_loads(content, 0, NULL);
	if (!body)
		body = json_object();
	json_array_append_new(t->events,
			      json_pack("{s:s, s:s, s:o}", "sender", sender, "type", type, "content", body));
	t->last = stream_id;
	return 0;
}

int mx_sync_e2ee(struct mx_sync *s, json_t **fields)
{
	struct mx_req *req = s->req;
	struct mx_db_conn *c = req->w->rconn;
	const char *device = req->auth.device_id;
	s->now.pos[MX_SYNC_DEVICE_LISTS] = mx_store_stream_position(c, MX_STREAM_DEVICE_LISTS);
	int64_t td_now = mx_store_stream_position(c, MX_STREAM_TO_DEVICE);
	int64_t td_since = s->initial ? 0 : s->since.pos[MX_SYNC_TO_DEVICE];
	if (td_since > td_now)
		td_since = td_now; /* a token from the future: deliver from where we are */
	/* SPEC: send_to_device: "messages are deleted once the client has
	 * acknowledged them by syncing with a since token past them". */
	if (device && td_since > 0 && mx_store_to_device_has_upto(c, s->user, device, td_since)) {
		int rc = mx_store_to_device_ack(req->srv->db, s->user, device, td_since);
		if (rc)
			return rc;
	}
	struct mx_td_collect td = {s, json_array(), 0};
	if (device) {
		int rc = mx_store_to_device_fetch(c, s->user, device, td_since, td_now,
						  MX_SYNC_TO_DEVICE_LIMIT, mx_td_cb, &td);
		if (rc) {
			json_decref(td.events);
			return rc;
		}
	}
	/* A full page: the next token stops after the last message sent, so
	 * the rest come with the next sync. */
	s->now.pos[MX_SYNC_TO_DEVICE] =
		json_array_size(td.events) >= MX_SYNC_TO_DEVICE_LIMIT ? td.last : td_now;
	json_t *changed = json_array(), *left = json_array();
	if (!s->initial) {
		int rc = mx_sync_device_lists(req, s->user, s->since.pos[MX_SYNC_EVENTS],
					      s->now.pos[MX_SYNC_EVENTS], s->since.pos[MX_SYNC_DEVICE_LISTS],
					      s->now.pos[MX_SYNC_DEVICE_LISTS], changed, left);
		if (rc) {
			json_decref(td.events);
			json_decref(changed);
			json_decref(left);
			return rc;
		}
	}
	if (json_array_size(td.events) || json_array_size(changed) || json_array_size(left))
		s->any = true;
	json_t *counts = device ? mx_store_e2ee_otk_counts(c, s->user, device) : json_object();
	json_t *fallback = device ? mx_store_e2ee_fallback_unused(c, s->user, device) : json_array();
	*fields = mx_arena_json(&req->arena,
				json_pack("{s:{s:o}, s:{s:o, s:o}, s:o, s:o}", "to_device", "events", td.events,
					  "device_lists", "changed", changed, "left", left,
					  "device_one_time_keys_count", counts,
					  "device_unused_fallback_key_types", fallback));
	return 0;
}

void mx_sync_wake_sharers(struct mx_req *req, const char *user)
{
	const char **users;
	size_t n;
	if (mx_store_shared_room_users(req->w->rconn, &req->arena, user, req->srv->cfg->server_name, &users,
				       &n) == 0 &&
	    n)
		mx_notifier_wake(req->srv->notifier, users, n);
	else
		mx_notifier_wake(req->srv->notifier, &user, 1);
}
