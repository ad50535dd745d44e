/* SPDX-License-Identifier: Apache-2.0 */
/* Hooks of the cross-signing module for /keys/query. */
#ifndef MX_CLIENT_CROSS_SIGNING_H
#define MX_CLIENT_CROSS_SIGNING_H

#include <jansson.h>

struct mx_req;

/*
 * Add local user_id's cross-signing keys, with the signatures stored for
 * them, to a /keys/query response's master_keys and self_signing_keys,
 * and to user_signing_keys only when user_id is the requester (SPEC:
 * post_matrixclientv3keysquery: "user_signing_keys: ... only present for
 * the user making the request"). Returns 0 or an MX_E* (nothing sent).
 */
int mx_client_cross_signing_query(struct mx_req *req, const char *user_id, json_t *master,
				  json_t *self_signing, json_t *user_signing);

/* Merge the stored cross-signatures of user_id's device into its device_keys object. */
int mx_client_cross_signing_device(struct mx_req *req, const char *user_id,
				   const char *device_id, json_t *device_keys);

#endif
