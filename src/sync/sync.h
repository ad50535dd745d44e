/* SPDX-License-Identifier: Apache-2.0 */
/* /sync and its wiring to the room pipeline. */
#ifndef MX_SYNC_SYNC_H
#define MX_SYNC_SYNC_H

struct mx_room_event;

/* A room listener (ctx: the struct mx_notifier) waking the users concerned. */
void mx_sync_on_room_event(void *ctx, const struct mx_room_event *ev);

#endif
