/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The content repository's files and the pure decisions about serving
 * them. Files are content-addressed: an upload streams into a temporary
 * file under media_store_path/tmp while it is hashed with SHA-256, then is
 * renamed to media_store_path/content/ab/cd/<hex sha256>, so identical
 * uploads are stored once and a file is never visible half-written. Media
 * ids never reach a path: only hex digests and numbers do.
 * SPEC: client-server-api#content-repository
 */
#ifndef MX_MEDIA_MEDIA_H
#define MX_MEDIA_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"

#define MX_MEDIA_ID_MAX 255

/*
 * SPEC: client-server-api#security-considerations-5 (content-repo): a
 * media id is [A-Za-z0-9_-]{1,255}, which rules out path traversal.
 */
bool mx_media_id_ok(const char *id);

/*
 * A Content-Type we store and echo: 1-255 printable ASCII bytes shaped
 * type/subtype[;params] (no CR/LF, so no header injection).
 */
bool mx_media_content_type_ok(const char *type);

/*
 * Whether a type may be served with Content-Disposition: inline (the
 * spec's list; parameters and case are ignored). Everything else is
 * served as an attachment.
 * SPEC: client-server-api#serving-inline-content
 */
bool mx_media_inline_ok(const char *content_type);

/*
 * The Content-Disposition value for content of this type and file name
 * (NULL or "": none): "inline" or "attachment", then an RFC 6266 file
 * name: filename="..." when the name is printable ASCII without '"' or
 * '\\', else filename*=utf-8''<percent-encoded>. Lives in a.
 */
const char *mx_media_disposition(struct mx_arena *a, const char *content_type,
				 const char *filename);

/* A file name we keep from an upload: valid UTF-8, no control bytes, <= 255. */
bool mx_media_filename_ok(const char *name);

/* <store>/content/ab/cd/<hex> for a hex SHA-256 (64 chars). Lives in a. */
char *mx_media_content_path(struct mx_arena *a, const char *store, const char *sha_hex);

/* An upload in progress (opaque; the temp file and the running hash). */
struct mx_media_upload;

/*
 * Start an upload: create a temporary file under <store>/tmp (made if
 * missing). MX_EIO if the file cannot be created. Caller finishes or
 * aborts it.
 */
int mx_media_upload_begin(const char *store, struct mx_media_upload **out);
/* Append n bytes and hash them. MX_EIO on a write failure (disk full). */
int mx_media_upload_write(struct mx_media_upload *u, const void *p, size_t n);
/*
 * Make the content durable and move it to its content-addressed path
 * (an identical existing file is kept and the temp dropped). Writes the
 * hex digest (65 bytes with NUL) and the size. Frees u whatever the
 * result; MX_EIO on failure, nothing left behind.
 */
int mx_media_upload_finish(struct mx_media_upload *u, const char *store, char sha_hex[65],
			   uint64_t *size);
/* The bytes written to u so far. */
uint64_t mx_media_upload_size(const struct mx_media_upload *u);
/* Drop an upload: remove the temp file and free u. NULL is a no-op. */
void mx_media_upload_abort(struct mx_media_upload *u);

/* mkdir -p for the directory part of path (mode 0700). 0 or MX_EIO. */
int mx_media_mkdirs(const char *path);

#endif
