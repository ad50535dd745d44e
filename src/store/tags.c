/* SPDX-License-Identifier: Apache-2.0 */
/* Room tags as a read-modify-write of the m.tag room account data. */
#include "store/tags.h"

#include <jansson.h>
#include <stdlib.h>

#include "core/arena.h"
#include "core/error.h"
#include "db/db.h"
#include "store/account_data.h"

struct mx_tag_job {
	const char *user_id, *room_id, *tag, *content;
	int64_t stream_id;
};

static int mx_store_tag_job(struct mx_db_conn *c, void *arg)
{
	struct mx_tag_job *j = arg;
	struct mx_arena a;
	mx_arena_init(&a);
	const char *text;
	json_t *ev = NULL, *tags;
	int rc = mx_store_account_data_get(c, &a, j->user_id, j->room_id, MX_TAGS_TYPE, &text);
	if (rc && rc != MX_ENOTFOUND)
		goto out;
	if (!rc)
		ev = mx_arena_json(&a, json_loads(text, 0, NULL));
	if (!json_is_object(ev))
		ev = mx_arena_json(&a, json_object());
	tags = json_object_get(ev, "tags");
	if (!json_is_object(tags)) {
		tags = json_object();
		json_object_set_new(ev, "tags", tags);
	}
	rc = 0;
	if (j->content) {
		json_t *v = json_loads(j->content, 0, NULL);
		if (!json_is_object(v)) {
			json_decref(v);
			rc = MX_EINVALID;
			goto out;
		}
		json_object_set_new(tags, j->tag, v);
	} else if (json_object_del(tags, j->tag)) {
		goto out; /* not there: nothing to write */
	}
	char *text_new = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text_new) {
		rc = MX_EINVALID;
		goto out;
	}
	rc = mx_store_account_data_put_in(c, j->user_id, j->room_id, MX_TAGS_TYPE, text_new,
					  &j->stream_id);
	free(text_new);
out:
	mx_arena_release(&a);
	return rc;
}

int mx_store_room_tag_set(struct mx_db *db, const char *user_id, const char *room_id,
			  const char *tag, const char *content, int64_t *stream_id)
{
	struct mx_tag_job j = {user_id, room_id, tag, content, 0};
	int rc = mx_db_write(db, mx_store_tag_job, &j);
	*stream_id = rc ? 0 : j.stream_id;
	return rc;
}
