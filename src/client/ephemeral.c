/* SPDX-License-Identifier: Apache-2.0 */
/* Room checks and wake-ups for the ephemeral-data handlers. */
#include "client/ephemeral.h"

#include <jansson.h>
#include <string.h>

#include "client/util.h"
#include "core/error.h"
#include "http/request.h"
#include "room/room.h"
#include "sync/notifier.h"

#define MX_ROOM_ID_MAX 255

bool mx_client_room_id_ok(const char *room_id)
{
	size_t n = strlen(room_id);
	if (n < 2 || n > MX_ROOM_ID_MAX || room_id[0] != '!')
		return false;
	json_t *v = json_string(room_id); /* NULL unless valid UTF-8 */
	json_decref(v);
	return v != NULL;
}

int mx_client_require_joined(struct mx_req *req, const char *room_id)
{
	if (!mx_client_room_id_ok(room_id))
		return mx_req_fail(req, MX_EINVALIDPARAM, "Invalid room ID");
	const char *m = mx_room_membership(req->srv->rooms, req->w, &req->arena, room_id,
					   req->auth.user_id);
	if (!m || strcmp(m, "join") != 0)
		return mx_req_fail(req, MX_EFORBIDDEN, "You are not in this room");
	return 0;
}

void mx_client_wake_room(struct mx_req *req, const char *room_id)
{
	const char **members;
	size_t n, k = 0;
	if (mx_room_members(req->srv->rooms, req->w, &req->arena, room_id, "join", &members, &n))
		return;
	for (size_t i = 0; i < n; i++)
		if (mx_client_is_local(req, members[i]))
			members[k++] = members[i];
	mx_notifier_wake(req->srv->notifier, members, k);
}

void mx_client_wake_self(struct mx_req *req)
{
	const char *me = req->auth.user_id;
	mx_notifier_wake(req->srv->notifier, &me, 1);
}
