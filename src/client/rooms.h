/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the room handlers (membership, creation, events). */
#ifndef MX_CLIENT_ROOMS_H
#define MX_CLIENT_ROOMS_H

#include <jansson.h>

struct mx_req;

/* Reply for a failed room operation: 404 unknown room, 403 with why. */
int mx_client_room_fail(struct mx_req *req, int rc, const char *why);
/* {membership, displayname, avatar_url, reason} for user_id (arena-owned). */
json_t *mx_client_member_content(struct mx_req *req, const char *membership, const char *user_id,
				 const char *reason);
/* Send an m.room.member for target as the requesting user; replies on error. */
int mx_client_send_member(struct mx_req *req, const char *room_id, const char *target,
			  json_t *content, const char **event_id);
/* "!id" or "#alias:server" to a room id; replies on error. */
int mx_client_resolve_room(struct mx_req *req, const char *id_or_alias, const char **room_id);
/* A joined local member allowed to invite (restricted joins), or NULL. */
const char *mx_client_pick_inviter(struct mx_req *req, const char *room_id, const json_t *pl,
				   const json_t *create);
/* Whether user may see room's events now (history visibility); 0 or MX_EFORBIDDEN. */
int mx_client_check_room_visible(struct mx_req *req, const char *room_id);

/* Send the user's new displayname / avatar_url into every joined room. */
void mx_client_profile_to_rooms(struct mx_req *req);

#endif
