/* SPDX-License-Identifier: Apache-2.0 */
/* PDU -> client event. */
#include "client/format.h"

#include <string.h>

#include "client/relations.h"
#include "core/clock.h"
#include "event/redact.h"
#include "event/version.h"
#include "http/request.h"
#include "room/room.h"
#include "store/rooms.h"

static void mx_format_copy(json_t *out, const json_t *pdu, const char *key)
{
	json_t *v = json_object_get(pdu, key);
	if (v)
		json_object_set(out, key, v);
}

/* The redaction event that redacted ev, as a client event without recursion. */
static json_t *mx_format_redacted_because(struct mx_req *req, const char *redaction_id,
					  const struct mx_format_opts *o)
{
	struct mx_store_event rev;
	if (mx_store_event_get(req->w->rconn, &req->arena, redaction_id, &rev))
		return NULL;
	struct mx_format_opts inner = *o;
	inner.include_room_id = true;
	rev.redacted_by = NULL; /* a redaction's own redaction does not nest here */
	return mx_client_format_event(req, &rev, &inner);
}

static json_t *mx_format_prev_content(struct mx_req *req, const char *replaced)
{
	struct mx_store_event pev;
	if (mx_store_event_get(req->w->rconn, &req->arena, replaced, &pev))
		return NULL;
	json_t *pdu = mx_arena_json(&req->arena, json_loads(pev.json, 0, NULL));
	if (!pdu)
		return NULL;
	if (pev.redacted_by) {
		const struct mx_room_version *v =
			mx_room_version_of(req->srv->rooms, req->w, pev.room_id);
		if (v)
			pdu = mx_arena_json(&req->arena, mx_event_redact(pdu, v));
	}
	json_t *c = json_object_get(pdu, "content");
	return c ? json_incref(c) : NULL;
}

json_t *mx_client_format_event(struct mx_req *req, const struct mx_store_event *ev,
			       const struct mx_format_opts *o)
{
	json_t *pdu = json_loads(ev->json, 0, NULL);
	if (!pdu)
		return NULL;
	if (ev->redacted_by) {
		const struct mx_room_version *v = mx_room_version_of(req->srv->rooms, req->w, ev->room_id);
		if (v) {
			json_t *r = mx_event_redact(pdu, v);
			json_decref(pdu);
			pdu = r;
		}
	}
	json_t *out = json_object();
	mx_format_copy(out, pdu, "content");
	if (!json_object_get(out, "content"))
		json_object_set_new(out, "content", json_object());
	json_object_set_new(out, "event_id", json_string(ev->event_id));
	mx_format_copy(out, pdu, "origin_server_ts");
	if (o->include_room_id)
		json_object_set_new(out, "room_id", json_string(ev->room_id));
	mx_format_copy(out, pdu, "sender");
	mx_format_copy(out, pdu, "state_key");
	mx_format_copy(out, pdu, "type");
	/* Clients of every version read a redaction's target at the top level. */
	if (!strcmp(ev->type, "m.room.redaction")) {
		json_t *r = json_object_get(pdu, "redacts");
		if (!r)
			r = json_object_get(json_object_get(pdu, "content"), "redacts");
		if (json_is_string(r))
			json_object_set(out, "redacts", r);
	}
	json_t *unsig = json_object();
	int64_t age = mx_clock_now_ms() - ev->origin_server_ts;
	json_object_set_new(unsig, "age", json_integer(age > 0 ? age : 0));
	if (ev->txn_id && o->txn_device && ev->txn_device && !strcmp(ev->txn_device, o->txn_device) &&
	    o->user_id && !strcmp(o->user_id, ev->sender))
		json_object_set_new(unsig, "transaction_id", json_string(ev->txn_id));
	if (ev->redacted_by) {
		json_t *because = mx_format_redacted_because(req, ev->redacted_by, o);
		if (because)
			json_object_set_new(unsig, "redacted_because", because);
	}
	if (ev->state_key && ev->replaces_state) {
		json_object_set_new(unsig, "replaces_state", json_string(ev->replaces_state));
		json_t *pc = mx_format_prev_content(req, ev->replaces_state);
		if (pc)
			json_object_set_new(unsig, "prev_content", pc);
	}
	/* SPEC: client-server-api#aggregations-of-child-events */
	mx_relations_bundle(req, ev, pdu, o, unsig);
	json_object_set_new(out, "unsigned", unsig);
	json_decref(pdu);
	return out;
}

json_t *mx_client_stripped_state(const json_t *pdu)
{
	json_t *out = json_object();
	mx_format_copy(out, pdu, "type");
	mx_format_copy(out, pdu, "state_key");
	mx_format_copy(out, pdu, "content");
	mx_format_copy(out, pdu, "sender");
	return out;
}
