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
	int64_t last_access_ts;   /* last recorded download (hour precision); 0 = never */
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

/*
 * The bytes user_id has uploaded (finished local media, as Synapse counts
 * them for media_upload_limits) in rows created at or after since_ms.
 */
int mx_store_media_uploaded_size(struct mx_db_conn *c, const char *user_id, int64_t since_ms,
				 int64_t *bytes);

/* Note a download of media_id at now (kept to the hour: at most one write an hour). */
int mx_store_media_touch(struct mx_db *db, const char *media_id, int64_t now);

/*
 * The remote media cache (table remote_media): media of other servers
 * fetched over federation. mx_media_info's user_id is NULL for these.
 */
int mx_store_remote_media_get(struct mx_db_conn *c, struct mx_arena *a, const char *origin,
			      const char *media_id, struct mx_media_info *out);
/* Record (or replace) fetched remote media; content->sha256 names its file. */
int mx_store_remote_media_add(struct mx_db *db, const char *origin, const char *media_id,
			      const struct mx_media_content *content);
/* Note a download of remote media at now (hour precision). */
int mx_store_remote_media_touch(struct mx_db *db, const char *origin, const char *media_id,
				int64_t now);

/* Local media removed by mx_store_media_purge (all in the caller's arena). */
struct mx_media_purged {
	const char **media_ids;  /* n_media ids whose rows were deleted */
	size_t n_media;
	size_t n_remote;         /* remote_media cache rows deleted */
	const char **orphans;    /* hex hashes no remaining row names: delete their files */
	size_t n_orphans;
	int64_t n_previews;      /* url_previews rows dropped (expired or older than before) */
};

/*
 * Delete every local media row neither downloaded nor created at or after
 * before_ms (pending reservations included), every remote media cache row
 * not downloaded since, and the URL preview cache entries that expired or
 * were made before it. Fills *out; the caller
 * deletes the orphans' files and thumbnails.
 */
int mx_store_media_purge(struct mx_db *db, struct mx_arena *a, int64_t before_ms,
			 struct mx_media_purged *out);

/*
 * URL preview cache. The OpenGraph JSON text cached for (url, ts) while
 * unexpired at now, in a; MX_ENOTFOUND otherwise.
 */
int mx_store_url_preview_get(struct mx_db_conn *c, struct mx_arena *a, const char *url,
			     int64_t ts, int64_t now, const char **og);
/* Cache og (JSON text) for (url, ts) until expires_ts (replacing any entry). */
int mx_store_url_preview_put(struct mx_db *db, const char *url, int64_t ts, const char *og,
			     int64_t expires_ts);

#endif
