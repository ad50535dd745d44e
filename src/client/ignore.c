/* SPDX-License-Identifier: Apache-2.0 */
/* The per-request cache of the ignored-users list. */
#include "client/ignore.h"

#include <jansson.h>
#include <string.h>

#include "core/arena.h"
#include "http/request.h"
#include "store/account_data.h"

bool mx_ignored(struct mx_req *req, const char *sender)
{
	const char *me = req->auth.user_id;
	if (!me || !sender || !strcmp(me, sender))
		return false;
	if (!req->ignored_users) {
		const char *text;
		json_t *list = NULL;
		if (!mx_store_account_data_get(req->w->rconn, &req->arena, me, NULL,
					       MX_IGNORED_USER_LIST, &text))
			list = mx_arena_json(&req->arena, json_loads(text, 0, NULL));
		json_t *users = json_object_get(list, "ignored_users");
		req->ignored_users = json_is_object(users) ? users
							   : mx_arena_json(&req->arena, json_object());
	}
	return json_object_get(req->ignored_users, sender) != NULL;
}

void mx_ignored_reset(struct mx_req *req)
{
	req->ignored_users = NULL;
}
