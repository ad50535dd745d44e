/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Room tags: kept as the m.tag room account data event {"tags": {...}}, so
 * that they reach /sync through the account data stream. Adding or
 * removing one tag reads and rewrites that event in one write job, so two
 * concurrent changes to different tags never lose each other.
 * SPEC: client-server-api#room-tagging
 */
#ifndef MX_STORE_TAGS_H
#define MX_STORE_TAGS_H

#include <stdint.h>

struct mx_db;

/* The room account data type tags live in. */
#define MX_TAGS_TYPE "m.tag"

/*
 * Set tag (content: the tag's JSON object text) or remove it (content
 * NULL) in user's m.tag for room. *stream_id is the account_data position
 * the write took, or 0 if nothing changed (removing an absent tag).
 * MX_EDB on a failed write.
 */
int mx_store_room_tag_set(struct mx_db *db, const char *user_id, const char *room_id,
			  const char *tag, const char *content, int64_t *stream_id);

#endif
