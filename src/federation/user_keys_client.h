/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Asking other servers for their users' keys on behalf of a local client:
 * one task per server of a /keys/query or /keys/claim, run in parallel
 * through a fan-out (http/fanout.h). A task makes one signed POST to the
 * server's /user/keys/query or /user/keys/claim within the time the client
 * gave, and keeps of the answer only what the filters of e2ee/keys.h let
 * through (the server's own users, self-signed device keys, ...).
 *
 * Nothing is cached: every client query reaches the remote server. A
 * cache of remote device lists (kept fresh by m.device_list_update EDUs)
 * would answer users it holds before any task is made, in client/keys.c's
 * grouping step, and be filled from a query task's answer.
 * SPEC: server-server-api#end-to-end-encryption
 */
#ifndef MX_FEDERATION_USER_KEYS_CLIENT_H
#define MX_FEDERATION_USER_KEYS_CLIENT_H

#include <jansson.h>
#include <stdint.h>

#include "http/fanout.h"

struct mx_server;

enum mx_fed_keys_op {
	MX_FED_KEYS_QUERY, /* POST /_matrix/federation/v1/user/keys/query */
	MX_FED_KEYS_CLAIM, /* POST /_matrix/federation/v1/user/keys/claim */
};

struct mx_fed_keys_task {
	struct mx_fanout_task base;   /* first: the fan-out's handle */
	struct mx_server *srv;
	enum mx_fed_keys_op op;
	char *destination;            /* the server asked (heap) */
	json_t *asked;                /* its users' device_keys / one_time_keys map */
	int64_t deadline_ms;          /* monotonic */
	/* Once mx_fanout_done(): exactly one is set; take it (and set it NULL). */
	json_t *answer;               /* filtered: {"device_keys", "master_keys",
				       * "self_signing_keys"} or {"one_time_keys"} */
	json_t *failure;              /* {"status", "message"} for the client's failures */
};

/*
 * A task asking destination for asked (reference stolen: nothing else may
 * hold one, as the task's thread uses it), to be done by deadline_ms.
 * Free it with its base.free, which the fan-out does once it is added.
 */
struct mx_fed_keys_task *mx_fed_keys_task_new(struct mx_server *srv, enum mx_fed_keys_op op,
					      const char *destination, json_t *asked,
					      int64_t deadline_ms);

/* The failures entry of a server not done by the deadline (new reference). */
json_t *mx_fed_keys_timeout_failure(void);

#endif
