/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The end-to-end encryption parts of /sync (to_device, device_lists,
 * device_one_time_keys_count, device_unused_fallback_key_types), the
 * device-list computation /keys/changes shares, and the wake-ups of
 * users who must hear of a device change.
 * SPEC: client-server-api#extensions-to-sync-1 (end_to_end_encryption)
 */
#ifndef MX_SYNC_E2EE_H
#define MX_SYNC_E2EE_H

#include <jansson.h>
#include <stdint.h>

struct mx_req;
struct mx_sync;

/* At most this many to-device messages per /sync response (as Synapse). */
#define MX_SYNC_TO_DEVICE_LIMIT 100

/*
 * Inside mx_sync_compute, after the events position is set: acknowledge
 * (delete) the device's to-device messages up to the since token, set
 * s->now's to-device and device-list positions and build *fields (an
 * object in the request arena) with the four E2EE members of the
 * response. Sets s->any if there are messages or device-list changes.
 */
int mx_sync_e2ee(struct mx_sync *s, json_t **fields);

/*
 * Device-list changes seen by user between two positions of the events
 * and device-lists streams: changed users (sharing a room with user, or
 * user) and, if left is non-NULL, users who no longer share any room.
 * changed/left are arrays the caller owns, filled in place.
 */
int mx_sync_device_lists(struct mx_req *req, const char *user, int64_t from_ev, int64_t to_ev,
			 int64_t from_dl, int64_t to_dl, json_t *changed, json_t *left);

/* Wake the parked /sync of user and of everyone sharing a room with user. */
void mx_sync_wake_sharers(struct mx_req *req, const char *user);

#endif
