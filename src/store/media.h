/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Local media metadata: one row per media id (table local_media). The
 * bytes live on disk, content-addressed by SHA-256 (media/media.h); a row
 * without a hash is an async upload still waiting for its content.
 * SPEC: client-server-api#content-repository
 */
#ifndef MX_STORE_MEDIA_H
#define MX_STORE_MEDIA_H

#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"

struct mx_db;
struct mx_db_conn;

struct mx_media_info {
	const char *user_id;      /* the uploader */
	const char *sha256;       /* hex; NULL while pending */
	const char *content_type; /* may be NULL */
	const char *upload_name;  /* may be NULL */
	int64_t size;
	int64_t created_ts;
	int64_t expires_ts;       /* pending only: last moment to upload; else 0 */
};

/* The content a finished upload stores (strings borrowed). */
struct mx_media_content {
	const char *sha256, *content_type, *upload_name;
	int64_t size;
};

/* Record a finished direct upload under a new media id. MX_ECONFLICT if taken. */
int mx_store_media_add(struct mx_db *db, const char *media_id, const char *user_id,
		       const struct mx_media_content *c);

/*
 * Reserve media_id for user_id's async upload until expires_ts. Refuses
 * with MX_ELIMIT when the user already holds max_pending unexpired
 * reservations.
 */
int mx_store_media_reserve(struct mx_db *db, const char *media_id, const char *user_id,
			   int64_t expires_ts, int max_pending);

/*
 * Fill a reservation. MX_ENOTFOUND if unknown or expired, MX_EFORBIDDEN
 * if user_id did not make it, MX_ECANNOTOVERWRITE if already filled.
 */
int mx_store_media_fill(struct mx_db *db, const char *media_id, const char *user_id,
			const struct mx_media_content *c);

/* Look up a media id; strings live in a. MX_ENOTFOUND if unknown. */
int mx_store_media_get(struct mx_db_conn *c, struct mx_arena *a, const char *media_id,
		       struct mx_media_info *out);

#endif
