/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Media of other servers: fetched over federation into the content-
 * addressed store on first use and cached (table remote_media). One fetch
 * per media at a time: later requests for the same media wait for it.
 * SPEC: client-server-api#content-repository, server-server-api#content-repository
 */
#ifndef MX_MEDIA_REMOTE_H
#define MX_MEDIA_REMOTE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"

struct mx_server;
struct mx_media_content;
struct mx_media_remote;

struct mx_media_remote *mx_media_remote_new(void);
void mx_media_remote_free(struct mx_media_remote *rm);

/*
 * Take the right to fetch key ("origin/media_id"): true if nobody holds it
 * (the caller must mx_media_remote_release it), false if a fetch is running.
 */
bool mx_media_remote_claim(struct mx_media_remote *rm, const char *key);
void mx_media_remote_release(struct mx_media_remote *rm, const char *key);

/*
 * Fetch origin's media_id over federation (blocking: a job thread), store
 * its bytes, record the remote_media row and describe it in *out (strings
 * in a). Uses /_matrix/federation/v1/media/download, following a Location
 * part, and falls back to the legacy /_matrix/media/v3/download for
 * servers that do not know the endpoint. Bodies are limited to
 * max_upload_size. Returns 0, MX_ENOTFOUND (the origin says so),
 * MX_ETOOLARGE, MX_EREMOTE (unreachable, backed off or a bad answer) or
 * MX_EIO.
 */
int mx_media_remote_fetch(struct mx_server *srv, struct mx_arena *a, const char *origin,
			  const char *media_id, int64_t timeout_ms, struct mx_media_content *out);

/*
 * The file name of a Content-Disposition value (filename*=UTF-8''... is
 * preferred over filename="..."), in a; NULL when absent or unusable.
 */
const char *mx_media_disposition_filename(struct mx_arena *a, const char *disposition);

#endif
