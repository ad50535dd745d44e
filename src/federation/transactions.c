/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inbound transactions: PUT /_matrix/federation/v1/send/{txnId}. Each
 * (origin, txnId) is processed once: the answer is recorded in the same
 * write as what the transaction delivered, and a retry gets that answer
 * again without anything being redone (store/federation.h).
 *
 * Rooms do not federate yet, so each PDU gets an error in the answer
 * rather than failing the transaction. Of the EDUs, m.direct_to_device is
 * delivered to our users' devices with the inbox rules of the client
 * endpoint (store/e2ee.h), once per (origin, message_id); other types are
 * ignored for now.
 *
 * SPEC: server-server-api#transactions, #put_matrixfederationv1sendtxnid,
 * #send-to-device-messaging
 */
#include "federation/routes.h"

#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "event/ids.h"
#include "event/refhash.h"
#include "event/version.h"
#include "federation/sender.h"
#include "http/request.h"
#include "store/accounts.h"
#include "store/e2ee.h"
#include "store/federation.h"
#include "store/rooms.h"
#include "sync/notifier.h"

/*
 * Request body limit: 50 PDUs of at most 65,536 bytes and 100 EDUs (which
 * senders such as Synapse keep to about 64 KiB each), with room to spare.
 */
#define MX_FED_TXN_MAX_BODY ((size_t)12 << 20)
#define MX_FED_TXN_ID_MAX_LEN 255
#define MX_FED_PDU_UNSUPPORTED "This server does not accept room events over federation yet"

struct mx_fed_txn_ctx {
	struct mx_req *req;
	const char *origin;
	struct mx_fed_to_device_in *td;   /* the m.direct_to_device EDUs */
	size_t n_td, cap_td;
	const char ***td_users;           /* per EDU: the users with messages (to wake) */
	size_t *td_n_users;
};

static bool mx_fed_txn_local(struct mx_req *req, const char *user_id)
{
	const char *colon = strchr(user_id, ':');
	return colon && !strcmp(colon + 1, req->srv->cfg->server_name);
}

/*
 * The entry of one PDU in the answer: its event id (computed for its room
 * version when we know the room, else the "event_id" that v1/v2 events
 * carry) with an error. PDUs whose id cannot be known are left out.
 */
static void mx_fed_txn_pdu(struct mx_req *req, const json_t *pdu, json_t *results)
{
	if (!json_is_object(pdu))
		return;
	const char *room_id = json_string_value(json_object_get(pdu, "room_id"));
	const struct mx_room_version *v = NULL;
	struct mx_store_room room;
	if (room_id && mx_store_room_get(req->w->rconn, &req->arena, room_id, &room) == 0)
		v = mx_room_version_get(room.version);
	char id[MX_ID_MAX_LEN + 1];
	if (v && !v->has_event_id_field) {
		char computed[64];
		if (mx_event_compute_id(pdu, v, computed))
			return;
		memcpy(id, computed, strlen(computed) + 1);
	} else {
		json_t *e = json_object_get(pdu, "event_id");
		const char *s = json_string_value(e);
		if (!s || strlen(s) != json_string_length(e) || !mx_id_event_valid(s, v))
			return;
		memcpy(id, s, strlen(s) + 1);
	}
	json_object_set_new(results, id, json_pack("{s:s}", "error", MX_FED_PDU_UNSUPPORTED));
}

struct mx_fed_td_msgs {
	struct mx_to_device_msg *v;
	size_t n, cap;
};

static void mx_fed_td_push(struct mx_arena *a, struct mx_fed_td_msgs *m, const char *user,
			   const char *dev, const char *content)
{
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 16;
		struct mx_to_device_msg *nv = mx_arena_alloc(a, nc * sizeof(*nv));
		if (m->n)
			memcpy(nv, m->v, m->n * sizeof(*nv));
		m->v = nv;
		m->cap = nc;
	}
	m->v[m->n++] = (struct mx_to_device_msg){user, dev, content};
}

static bool mx_fed_td_string(const json_t *v, size_t max)
{
	const char *s = json_string_value(v);
	return s && s[0] && strlen(s) == json_string_length(v) && strlen(s) <= max;
}

/*
 * One m.direct_to_device EDU: check it, and collect the messages for our
 * users' devices ("*": all of them; a device that does not exist gets
 * nothing) with the client endpoint's size bound per message.
 */
static void mx_fed_txn_to_device(struct mx_fed_txn_ctx *x, const json_t *content)
{
	struct mx_req *req = x->req;
	struct mx_arena *a = &req->arena;
	json_t *jsender = json_object_get(content, "sender");
	json_t *jtype = json_object_get(content, "type");
	json_t *jid = json_object_get(content, "message_id");
	json_t *messages = json_object_get(content, "messages");
	if (!mx_fed_td_string(jsender, MX_ID_MAX_LEN) || !mx_fed_td_string(jtype, 255) ||
	    !mx_fed_td_string(jid, 255) || !json_is_object(messages)) {
		mx_log_info("federation: ignoring a malformed m.direct_to_device EDU from %s",
			    x->origin);
		return;
	}
	const char *sender = json_string_value(jsender);
	const char *server = strchr(sender, ':');
	/* SPEC: the sender must belong to the server that sent the EDU. */
	if (!mx_id_user_valid(sender) || !server || strcmp(server + 1, x->origin)) {
		mx_log_info("federation: ignoring to-device messages from %s for sender %s, not a user there",
			    x->origin, sender);
		return;
	}
	struct mx_fed_td_msgs m = {0};
	const char **users = mx_arena_alloc(a, (json_object_size(messages) + 1) * sizeof(*users));
	size_t n_users = 0, too_big = 0;
	const char *user, *dev;
	json_t *devs, *msg;
	json_object_foreach (messages, user, devs) {
		if (!mx_id_user_valid(user) || !mx_fed_txn_local(req, user) || !json_is_object(devs))
			continue;
		struct mx_device *list;
		size_t n_list;
		if (mx_store_devices_list(req->w->rconn, a, user, &list, &n_list))
			continue;
		size_t before = m.n;
		const char *u = mx_arena_strdup(a, user);
		json_object_foreach (devs, dev, msg) {
			if (!json_is_object(msg) || !dev[0] || strlen(dev) > 255)
				continue;
			char *text = json_dumps(msg, JSON_COMPACT);
			if (!text)
				continue;
			if (strlen(text) > MX_TO_DEVICE_MAX_BYTES) {
				free(text);
				too_big++;
				continue;
			}
			const char *c = mx_arena_strdup(a, text);
			free(text);
			for (size_t i = 0; i < n_list; i++)
				if (!strcmp(dev, "*") || !strcmp(dev, list[i].device_id))
					mx_fed_td_push(a, &m, u, list[i].device_id, c);
			if (m.n >= MX_TO_DEVICE_MAX_MSGS)
				break;
		}
		if (m.n > before)
			users[n_users++] = u;
		if (m.n >= MX_TO_DEVICE_MAX_MSGS) {
			mx_log_warn("federation: to-device message %s from %s reaches more than %d devices; "
				    "the rest are dropped",
				    json_string_value(jid), sender, MX_TO_DEVICE_MAX_MSGS);
			break;
		}
	}
	if (too_big)
		mx_log_warn("federation: dropped %zu to-device messages from %s larger than %d bytes",
			    too_big, sender, MX_TO_DEVICE_MAX_BYTES);
	if (!m.n)
		return;
	if (x->n_td == x->cap_td) {
		size_t nc = x->cap_td ? x->cap_td * 2 : 4;
		struct mx_fed_to_device_in *nv = mx_arena_alloc(a, nc * sizeof(*nv));
		const char ***nu = mx_arena_alloc(a, nc * sizeof(*nu));
		size_t *nn = mx_arena_alloc(a, nc * sizeof(*nn));
		if (x->n_td) {
			memcpy(nv, x->td, x->n_td * sizeof(*nv));
			memcpy(nu, x->td_users, x->n_td * sizeof(*nu));
			memcpy(nn, x->td_n_users, x->n_td * sizeof(*nn));
		}
		x->td = nv;
		x->td_users = nu;
		x->td_n_users = nn;
		x->cap_td = nc;
	}
	x->td[x->n_td] = (struct mx_fed_to_device_in){
		.message_id = json_string_value(jid),
		.sender = sender,
		.type = json_string_value(jtype),
		.msgs = m.v,
		.n = m.n,
	};
	x->td_users[x->n_td] = users;
	x->td_n_users[x->n_td] = n_users;
	x->n_td++;
}

static int mx_fed_txn_reply(struct mx_req *req, const char *response)
{
	return mx_req_reply_raw(req, 200, "application/json", response, strlen(response));
}

/* SPEC: server-server-api#put_matrixfederationv1sendtxnid */
static int mx_fed_send_txn(struct mx_req *req)
{
	const char *origin = req->auth.origin;
	const char *txn = mx_req_param(req, 0);
	if (!txn[0] || strlen(txn) > MX_FED_TXN_ID_MAX_LEN)
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid transaction ID");
	json_t *o = json_object_get(req->json, "origin");
	if (o && (!json_is_string(o) || strcmp(json_string_value(o), origin)))
		return mx_req_fail(req, MX_EINVALIDPARAM, "origin does not match the signing server");
	json_t *pdus = json_object_get(req->json, "pdus");
	json_t *edus = json_object_get(req->json, "edus");
	if ((pdus && !json_is_array(pdus)) || (edus && !json_is_array(edus)))
		return mx_req_fail(req, MX_EBADJSON, "pdus and edus must be arrays");
	/* SPEC: "at most 50 PDUs and 100 EDUs" */
	if (json_array_size(pdus) > MX_FED_TXN_MAX_PDUS || json_array_size(edus) > MX_FED_TXN_MAX_EDUS)
		return mx_req_fail(req, MX_EINVALIDPARAM,
				   "A transaction carries at most %d PDUs and %d EDUs",
				   MX_FED_TXN_MAX_PDUS, MX_FED_TXN_MAX_EDUS);
	/* Its authentication just reset the origin's backoff: our queue to it can go. */
	mx_fed_sender_heard_from(req->srv->fed_sender, origin);

	const char *earlier;
	int rc = mx_store_fed_txn_get(req->w->rconn, &req->arena, origin, txn, &earlier);
	if (rc == 0) {
		mx_log_debug("federation: transaction %s from %s again: answered as before", txn,
			     origin);
		return mx_fed_txn_reply(req, earlier);
	}
	if (rc != MX_ENOTFOUND)
		return mx_req_fail(req, rc, NULL);

	json_t *results = json_object();
	size_t i;
	json_t *v;
	json_array_foreach (pdus, i, v)
		mx_fed_txn_pdu(req, v, results);
	json_t *answer = mx_arena_json(&req->arena, json_pack("{s:o}", "pdus", results));

	struct mx_fed_txn_ctx x = {.req = req, .origin = origin};
	json_array_foreach (edus, i, v) {
		const char *type = json_string_value(json_object_get(v, "edu_type"));
		json_t *content = json_object_get(v, "content");
		if (!type || !json_is_object(content)) {
			mx_log_debug("federation: ignoring a malformed EDU from %s", origin);
			continue;
		}
		if (!strcmp(type, "m.direct_to_device"))
			mx_fed_txn_to_device(&x, content);
		else
			mx_log_debug("federation: ignoring EDU of type %s from %s", type, origin);
	}

	char *text = json_dumps(answer, JSON_COMPACT);
	if (!text)
		MX_BUG("json_dumps");
	const char *response = mx_arena_strdup(&req->arena, text);
	free(text);
	struct mx_fed_txn_in t = {
		.origin = origin,
		.txn_id = txn,
		.response = response,
		.to_device = x.td,
		.n_to_device = x.n_td,
		.max_pending = MX_TO_DEVICE_MAX_PENDING,
		.now_ms = mx_clock_now_ms(),
		.a = &req->arena,
	};
	rc = mx_store_fed_txn_commit(req->srv->db, &t);
	if (rc == MX_EEXISTS) /* the same transaction, processed meanwhile by another request */
		return mx_fed_txn_reply(req, t.earlier);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	for (size_t k = 0; k < x.n_td; k++) {
		struct mx_fed_to_device_in *td = &x.td[k];
		if (td->duplicate) {
			mx_log_debug("federation: to-device message %s from %s seen before", td->message_id,
				     origin);
			continue;
		}
		if (td->skipped)
			mx_log_warn("federation: to-device message %s from %s: %zu devices had %d "
				    "undelivered messages and got none",
				    td->message_id, td->sender, td->skipped, MX_TO_DEVICE_MAX_PENDING);
		mx_notifier_wake(req->srv->notifier, x.td_users[k], x.td_n_users[k]);
	}
	mx_log_debug("federation: transaction %s from %s: %zu PDUs, %zu EDUs", txn, origin,
		     json_array_size(pdus), json_array_size(edus));
	return mx_fed_txn_reply(req, response);
}

const struct mx_route mx_federation_transaction_routes[] = {
	{MX_PUT, "/_matrix/federation/v1/send/{txnId}", mx_fed_send_txn,
	 MX_ROUTE_FEDERATION | MX_ROUTE_JSON, MX_RES_FEDERATION, MX_RL_NONE, MX_FED_TXN_MAX_BODY},
};
const size_t mx_federation_transaction_routes_count = MX_ARRAY_LEN(mx_federation_transaction_routes);
