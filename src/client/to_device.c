/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PUT /sendToDevice/{eventType}/{txnId}: queue messages for other devices,
 * idempotent per sending device and transaction id. Messages for our
 * users go to their devices' inboxes; those for users of other servers
 * become one m.direct_to_device EDU per server (federation/sender.h), put
 * in the outbox in the same write, so that a 200 means both are durable
 * and a retried request queues nothing twice. Each message is bounded, and
 * so is each device's inbox.
 * SPEC: client-server-api#send-to-device-messaging
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "client/routes.h"
#include "client/util.h"
#include "core/canonjson.h"
#include "core/config.h"
#include "core/error.h"
#include "event/ids.h"
#include "federation/sender.h"
#include "http/request.h"
#include "store/accounts.h"
#include "store/e2ee.h"
#include "store/federation.h"
#include "sync/notifier.h"

struct mx_td_batch {
	struct mx_to_device_msg *v;
	size_t n, cap;
};

static void mx_td_push(struct mx_req *req, struct mx_td_batch *b, const char *user, const char *dev,
		       const char *content)
{
	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 16;
		struct mx_to_device_msg *nv = mx_arena_alloc(&req->arena, nc * sizeof(*nv));
		if (b->n)
			memcpy(nv, b->v, b->n * sizeof(*nv));
		b->v = nv;
		b->cap = nc;
	}
	b->v[b->n++] = (struct mx_to_device_msg){user, dev, content};
}

/* Add content for user's device dev to the messages for user's server. */
static void mx_td_remote_add(json_t *remote, const char *server, const char *user, const char *dev,
			     json_t *content)
{
	json_t *users = json_object_get(remote, server);
	if (!users) {
		users = json_object();
		json_object_set_new(remote, server, users);
	}
	json_t *devs = json_object_get(users, user);
	if (!devs) {
		devs = json_object();
		json_object_set_new(users, user, devs);
	}
	json_object_set(devs, dev, content);
}

/* The outbox rows for remote ({server: {user: {device: content}}}), in the arena. */
static int mx_td_remote_edus(struct mx_req *req, const char *type, json_t *remote,
			     struct mx_fed_edu **out, size_t *n)
{
	size_t cap = 0;
	const char *server;
	json_t *msgs;
	*out = NULL;
	*n = 0;
	json_object_foreach (remote, server, msgs) {
		json_t *edus = mx_arena_json(&req->arena,
					     mx_fed_to_device_edus(req->auth.user_id, type, msgs));
		size_t i;
		json_t *content;
		json_array_foreach (edus, i, content) {
			char *text = json_dumps(content, JSON_COMPACT);
			if (!text)
				return MX_EBADJSON;
			if (*n == cap) {
				size_t nc = cap ? cap * 2 : 8;
				struct mx_fed_edu *nv = mx_arena_alloc(&req->arena, nc * sizeof(*nv));
				if (*n)
					memcpy(nv, *out, *n * sizeof(*nv));
				*out = nv;
				cap = nc;
			}
			(*out)[(*n)++] = (struct mx_fed_edu){server, "m.direct_to_device",
							     mx_arena_strdup(&req->arena, text)};
			free(text);
		}
	}
	return 0;
}

/* SPEC: client-server-api#put_matrixclientv3sendtodeviceeventtypetxnid */
static int mx_to_device_send(struct mx_req *req)
{
	const char *type = mx_req_param(req, 0), *txn = mx_req_param(req, 1);
	if (!type[0] || strlen(type) > 255)
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid event type");
	if (!txn[0] || strlen(txn) > 255)
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid transaction ID");
	json_t *messages = json_object_get(req->json, "messages");
	if (!messages)
		return mx_req_fail(req, MX_EMISSINGPARAM, "Missing messages");
	if (!json_is_object(messages))
		return mx_req_fail(req, MX_EBADJSON, "messages must be an object");
	struct mx_td_batch b = {0};
	const char **users = mx_arena_alloc(&req->arena, (json_object_size(messages) + 1) * sizeof(*users));
	size_t nu = 0, n_remote = 0;
	/* {server: {user: {device: content}}} for users of other servers */
	json_t *remote = mx_arena_json(&req->arena, json_object());
	const char *user, *dev;
	json_t *devs, *content;
	/* Validate everything first: nothing is stored if any part is bad. */
	json_object_foreach (messages, user, devs) {
		if (!mx_client_user_id_valid(user))
			return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid user ID '%s' in messages", user);
		if (!json_is_object(devs))
			return mx_req_fail(req, MX_EBADJSON, "messages.%s must be an object", user);
		bool local = mx_client_is_local(req, user);
		const char *server = local ? NULL : mx_client_id_server(user);
		if (!local && (!server || !mx_id_server_name_valid(server)))
			return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid user ID '%s' in messages", user);
		json_object_foreach (devs, dev, content) {
			if (!json_is_object(content))
				return mx_req_fail(req, MX_EBADJSON, "messages.%s.%s must be an object", user, dev);
			if (!dev[0] || strlen(dev) > 255)
				return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid device ID in messages.%s", user);
			char *text = json_dumps(content, JSON_COMPACT);
			if (!text)
				return mx_req_fail(req, MX_EBADJSON, "messages.%s.%s cannot be encoded", user, dev);
			size_t len = strlen(text);
			if (len > MX_TO_DEVICE_MAX_BYTES) {
				free(text);
				return mx_req_fail(req, MX_ETOOLARGE,
						   "The message to %s %s is %zu bytes; at most %d are allowed",
						   user, dev, len, MX_TO_DEVICE_MAX_BYTES);
			}
			const char *c = mx_arena_strdup(&req->arena, text);
			free(text);
			if (!local) {
				/* Federation carries canonical JSON only: no floats, 53-bit integers. */
				if (mx_canonjson_check(content))
					return mx_req_fail(req, MX_EBADJSON,
							   "messages.%s.%s cannot be sent over federation "
							   "(floats or integers out of range)",
							   user, dev);
				mx_td_remote_add(remote, server, user, dev, content);
				n_remote++;
			} else if (!strcmp(dev, "*")) {
				struct mx_device *v;
				size_t n;
				int rc = mx_store_devices_list(req->w->rconn, &req->arena, user, &v, &n);
				if (rc)
					return mx_req_fail(req, rc, NULL);
				for (size_t i = 0; i < n; i++)
					mx_td_push(req, &b, user, v[i].device_id, c);
			} else {
				mx_td_push(req, &b, user, dev, c);
			}
			if (b.n + n_remote > MX_TO_DEVICE_MAX_MSGS)
				return mx_req_fail(req, MX_EINVALIDPARAM, "At most %d recipient devices per request",
						   MX_TO_DEVICE_MAX_MSGS);
		}
		if (local && json_object_size(devs))
			users[nu++] = user;
	}
	struct mx_fed_edu *edus;
	size_t n_edus;
	int rc = mx_td_remote_edus(req, type, remote, &edus, &n_edus);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	struct mx_to_device_send s = {
		.sender = req->auth.user_id,
		.sender_device = req->auth.device_id ? req->auth.device_id : "",
		.txn_id = txn,
		.type = type,
		.msgs = b.v,
		.n = b.n,
		.edus = edus,
		.n_edus = n_edus,
		.max_pending = MX_TO_DEVICE_MAX_PENDING,
	};
	rc = mx_store_to_device_queue(req->srv->db, &s);
	if (rc == MX_EEXISTS)
		return mx_req_reply_empty(req); /* a retry: already queued */
	if (rc == MX_ELIMIT)
		return mx_req_fail(req, rc, "A recipient device has %d undelivered messages; try later",
				   MX_TO_DEVICE_MAX_PENDING);
	if (rc)
		return mx_req_fail(req, rc, NULL);
	if (nu)
		mx_notifier_wake(req->srv->notifier, users, nu);
	const char *server;
	json_t *msgs;
	json_object_foreach (remote, server, msgs)
		mx_fed_sender_wake(req->srv->fed_sender, server);
	return mx_req_reply_empty(req);
}

const struct mx_route mx_to_device_routes[] = {
	{MX_PUT, "/_matrix/client/v3/sendToDevice/{eventType}/{txnId}", mx_to_device_send,
	 MX_ROUTE_AUTH | MX_ROUTE_GUEST | MX_ROUTE_JSON, MX_RES_CLIENT, MX_RL_NONE, 0},
};
const size_t mx_to_device_routes_count = sizeof(mx_to_device_routes) / sizeof(mx_to_device_routes[0]);
