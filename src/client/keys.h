/* SPDX-License-Identifier: Apache-2.0 */
/* Hooks of the key-management module for other client modules. */
#ifndef MX_CLIENT_KEYS_H
#define MX_CLIENT_KEYS_H

struct mx_req;

/*
 * After devices of user_id were deleted (their keys and inbox went with
 * them in the same write): wake the syncs of everyone sharing a room, who
 * now see a device-list change.
 */
void mx_client_keys_devices_gone(struct mx_req *req, const char *user_id);

#endif
