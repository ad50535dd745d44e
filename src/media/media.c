/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Content-addressed media files and the serving decisions (inline or
 * attachment, RFC 6266 file names). See media.h.
 */
#include "media/media.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/mem.h"
#include "core/rand.h"

bool mx_media_id_ok(const char *id)
{
	size_t n = 0;
	for (const char *p = id; *p; p++, n++) {
		char c = *p;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
		if (n >= MX_MEDIA_ID_MAX)
			return false;
	}
	return n > 0;
}

bool mx_media_content_type_ok(const char *type)
{
	size_t n = strlen(type);
	if (n < 3 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if (type[i] < 0x20 || type[i] > 0x7e)
			return false;
	const char *slash = strchr(type, '/');
	size_t main_len = strcspn(type, "/; ");
	return slash && main_len > 0 && type + main_len == slash && slash[1] && slash[1] != ';';
}

/* SPEC: client-server-api#serving-inline-content */
static const char *const mx_media_inline_types[] = {
	"text/css",   "text/plain",  "text/csv",    "application/json", "application/ld+json",
	"image/jpeg", "image/gif",   "image/png",   "image/apng",       "image/webp",
	"image/avif", "video/mp4",   "video/webm",  "video/ogg",        "video/quicktime",
	"audio/mp4",  "audio/webm",  "audio/aac",   "audio/mpeg",       "audio/ogg",
	"audio/wave", "audio/wav",   "audio/x-wav", "audio/x-pn-wav",   "audio/flac",
	"audio/x-flac",
};

bool mx_media_inline_ok(const char *content_type)
{
	if (!content_type)
		return false;
	/* The media type ends at ';' (parameters) or whitespace before it. */
	size_t n = strcspn(content_type, "; \t");
	for (size_t i = 0; i < MX_ARRAY_LEN(mx_media_inline_types); i++)
		if (strlen(mx_media_inline_types[i]) == n &&
		    !strncasecmp(content_type, mx_media_inline_types[i], n))
			return true;
	return false;
}

bool mx_media_filename_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	json_t *v = json_string(name); /* NULL unless valid UTF-8 */
	json_decref(v);
	return v != NULL;
}

/* RFC 5987 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~" */
static bool mx_media_attr_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       strchr("!#$&+-.^_`|~", c) != NULL;
}

const char *mx_media_disposition(struct mx_arena *a, const char *content_type,
				 const char *filename)
{
	const char *kind = mx_media_inline_ok(content_type) ? "inline" : "attachment";
	if (!filename || !*filename || !mx_media_filename_ok(filename))
		return kind;
	bool plain = true;
	for (const unsigned char *p = (const unsigned char *)filename; *p; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
			plain = false;
	if (plain)
		return mx_arena_printf(a, "%s; filename=\"%s\"", kind, filename);
	/* SPEC: RFC 6266 section 4.3 / RFC 5987: filename*=utf-8''pct-encoded */
	size_t n = strlen(filename);
	char *enc = mx_arena_alloc(a, 3 * n + 1), *o = enc;
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)filename; *p; p++) {
		if (mx_media_attr_char(*p)) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return mx_arena_printf(a, "%s; filename*=utf-8''%s", kind, enc);
}

char *mx_media_content_path(struct mx_arena *a, const char *store, const char *sha_hex)
{
	return mx_arena_printf(a, "%s/content/%.2s/%.2s/%s", store, sha_hex, sha_hex + 2, sha_hex);
}

int mx_media_mkdirs(const char *path)
{
	char *p = mx_xstrdup(path);
	int rc = 0;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) && errno != EEXIST) {
			rc = MX_EIO;
			goto out;
		}
		*s = '/';
	}
out:
	free(p);
	return rc;
}

struct mx_media_upload {
	int fd;
	char *tmp_path;
	crypto_hash_sha256_state h;
	uint64_t size;
};

int mx_media_upload_begin(const char *store, struct mx_media_upload **out)
{
	char name[33];
	mx_rand_token(name, sizeof(name));
	struct mx_media_upload *u = mx_xcalloc(1, sizeof(*u));
	u->tmp_path = mx_xasprintf("%s/tmp/%s", store, name);
	if (mx_media_mkdirs(u->tmp_path) ||
	    (u->fd = open(u->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		free(u->tmp_path);
		free(u);
		*out = NULL;
		return MX_EIO;
	}
	crypto_hash_sha256_init(&u->h);
	*out = u;
	return 0;
}

int mx_media_upload_write(struct mx_media_upload *u, const void *p, size_t n)
{
	const char *c = p;
	crypto_hash_sha256_update(&u->h, p, n);
	u->size += n;
	while (n) {
		ssize_t w = write(u->fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return MX_EIO;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

uint64_t mx_media_upload_size(const struct mx_media_upload *u)
{
	return u->size;
}

static void mx_media_upload_free(struct mx_media_upload *u, bool unlink_tmp)
{
	if (u->fd >= 0)
		close(u->fd);
	if (unlink_tmp)
		unlink(u->tmp_path);
	free(u->tmp_path);
	free(u);
}

void mx_media_upload_abort(struct mx_media_upload *u)
{
	if (u)
		mx_media_upload_free(u, true);
}

int mx_media_upload_finish(struct mx_media_upload *u, const char *store, char sha_hex[65],
			   uint64_t *size)
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_final(&u->h, digest);
	sodium_bin2hex(sha_hex, 65, digest, sizeof(digest));
	*size = u->size;
	int rc = 0;
	struct mx_arena a;
	mx_arena_init(&a);
	char *path = mx_media_content_path(&a, store, sha_hex);
	struct stat st;
	if (fsync(u->fd)) {
		rc = MX_EIO;
		goto out;
	}
	if (stat(path, &st) == 0 && (uint64_t)st.st_size == u->size)
		goto out; /* stored already: the temp goes */
	if (mx_media_mkdirs(path) || rename(u->tmp_path, path)) {
		rc = MX_EIO;
		goto out;
	}
	/* Renamed: nothing to unlink. Make the new name durable too. */
	u->tmp_path[0] = '\0';
	char *dir = mx_arena_strdup(&a, path);
	*strrchr(dir, '/') = '\0';
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
out:
	mx_media_upload_free(u, u->tmp_path[0] != '\0');
	mx_arena_release(&a);
	return rc;
}
