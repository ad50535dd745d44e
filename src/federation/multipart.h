/* SPDX-License-Identifier: Apache-2.0 */
/*
 * multipart/mixed (RFC 2046) for the federation media API: a streaming
 * parser that never holds a part's body in memory, and the helpers to
 * write the two-part response (JSON metadata, then the media or a Location).
 * Every byte parsed comes from a remote server: bounded, hostile-safe.
 * SPEC: server-server-api#get_matrixfederationv1mediadownloadmediaid
 */
#ifndef MX_FEDERATION_MULTIPART_H
#define MX_FEDERATION_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>

#define MX_MULTIPART_MAX_BOUNDARY 70   /* RFC 2046 */
#define MX_MULTIPART_MAX_HEADERS 8192  /* bytes of one part's header block */

/* The headers of one part that the media API uses ("" when absent). */
struct mx_multipart_part {
	int index;                  /* 0-based */
	char content_type[256];
	char content_disposition[1024];
	char location[2048];
};

/* Called at the start of each part, after its headers. Return 0 or a
 * negative MX_E* to abort parsing with that code. */
typedef int (*mx_multipart_part_fn)(void *ctx, const struct mx_multipart_part *part);
/* Called with (a piece of) the current part's body, possibly many times. */
typedef int (*mx_multipart_data_fn)(void *ctx, const struct mx_multipart_part *part,
				    const char *p, size_t n);

struct mx_multipart {
	/* private */
	char delim[MX_MULTIPART_MAX_BOUNDARY + 5]; /* "\r\n--" + boundary */
	size_t delim_len;
	int state;
	char *hold;                 /* bytes that may begin a delimiter, or a header block */
	size_t hold_len, hold_cap;
	struct mx_multipart_part part;
	mx_multipart_part_fn on_part;
	mx_multipart_data_fn on_data;
	void *ctx;
	bool done;
	int err;
};

/*
 * Start parsing a body whose Content-Type header is content_type (the
 * boundary parameter is taken from it, quoted or not). Returns 0, or
 * MX_EINVALID when it is not multipart/mixed with a valid boundary.
 */
int mx_multipart_init(struct mx_multipart *mp, const char *content_type,
		      mx_multipart_part_fn on_part, mx_multipart_data_fn on_data, void *ctx);
/* Feed the next n bytes. Returns 0, MX_EINVALID on malformed input, or a
 * callback's error; after an error every later call returns it again. */
int mx_multipart_feed(struct mx_multipart *mp, const char *p, size_t n);
/* The body ended: 0 if the closing delimiter was seen, else MX_EINVALID. */
int mx_multipart_finish(struct mx_multipart *mp);
void mx_multipart_release(struct mx_multipart *mp);

/* A fresh random boundary (32 characters of [0-9a-zA-Z], NUL-terminated). */
void mx_multipart_boundary(char out[33]);

#endif
