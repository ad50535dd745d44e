/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the handlers of ephemeral data and per-room user data
 * (typing, receipts, read markers, presence, tags).
 */
#ifndef MX_CLIENT_EPHEMERAL_H
#define MX_CLIENT_EPHEMERAL_H

#include <stdbool.h>

struct mx_req;

/*
 * SPEC: appendices#room-ids: "!" then 1-254 bytes of UTF-8 (with or without
 * a server part), at most 255 bytes in all.
 */
bool mx_client_room_id_ok(const char *room_id);
/* 0 if the requesting user is joined to room_id; else replies 403. */
int mx_client_require_joined(struct mx_req *req, const char *room_id);
/* Wake the parked /sync requests of room_id's joined local members. */
void mx_client_wake_room(struct mx_req *req, const char *room_id);
/* Wake the requesting user's own parked /sync requests. */
void mx_client_wake_self(struct mx_req *req);

#endif
