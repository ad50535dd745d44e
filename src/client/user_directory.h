/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The user directory's hooks into the rest of the server: the room
 * listener that keeps entries and public-room flags current, the start-up
 * call that registers it, and the call the profile handlers make after a
 * change. The search itself is mx_user_directory_routes (client/routes.h).
 * SPEC: client-server-api#user-directory
 */
#ifndef MX_CLIENT_USER_DIRECTORY_H
#define MX_CLIENT_USER_DIRECTORY_H

struct mx_req;
struct mx_room_event;
struct mx_server;

/*
 * Start-up, after the database and srv->rooms exist and before requests
 * are served: add missing entries (mx_store_user_directory_populate) and
 * register the room listener. Failures are logged, never fatal: the
 * directory then misses some users until their next join.
 */
void mx_user_directory_start(struct mx_server *srv);

/*
 * The room listener (ctx: struct mx_server *): a join refreshes the
 * member's entry, a new join rule or history visibility the room's public
 * flag. Both are recomputed from the stored current state, not taken from
 * the event, so events of a room may reach it in any order.
 */
void mx_user_directory_on_room_event(void *ctx, const struct mx_room_event *ev);

/*
 * After the requester's profile field key changed: refresh their entry if
 * key is displayname or avatar_url. Errors are logged; the request has
 * succeeded regardless.
 */
void mx_user_directory_profile_changed(struct mx_req *req, const char *key);

#endif
