/* SPDX-License-Identifier: Apache-2.0 */
/* ed25519 signing keys and Synapse's signing key file format. */
#include "crypto/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/base64.h"
#include "core/error.h"
#include "core/mem.h"
#include "core/rand.h"

#define MX_KEY_PREFIX MX_SIGNING_KEY_ALG ":"
#define MX_KEY_PREFIX_LEN (sizeof(MX_KEY_PREFIX) - 1)

bool mx_signing_key_version_valid(const char *version)
{
	size_t n = strlen(version);
	if (n == 0 || n >= sizeof(((struct mx_signing_key *)0)->key_id) - MX_KEY_PREFIX_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = version[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

int mx_signing_key_from_seed(struct mx_signing_key *k, const char *version,
			     const unsigned char seed[32])
{
	char key_id[sizeof(k->key_id)] = {0};
	unsigned char copy[32];

	if (!mx_signing_key_version_valid(version))
		return MX_EINVALID;
	/*
	 * seed and version may point into k (re-deriving a key in place):
	 * copy them out, then zero all of k so that equal keys compare equal.
	 */
	snprintf(key_id, sizeof(key_id), "%s%s", MX_KEY_PREFIX, version);
	memcpy(copy, seed, sizeof(copy));
	memset(k, 0, sizeof(*k));
	memcpy(k->key_id, key_id, sizeof(key_id));
	memcpy(k->seed, copy, sizeof(k->seed));
	crypto_sign_seed_keypair(k->pk, k->sk, k->seed);
	sodium_memzero(copy, sizeof(copy));
	return 0;
}

int mx_signing_key_generate(struct mx_signing_key *k)
{
	char version[7] = "a_";
	unsigned char seed[32];

	mx_rand_token(version + 2, 5);
	mx_rand_bytes(seed, sizeof(seed));
	int rc = mx_signing_key_from_seed(k, version, seed);
	sodium_memzero(seed, sizeof(seed));
	return rc;
}

const char *mx_signing_key_version(const struct mx_signing_key *k)
{
	return k->key_id + MX_KEY_PREFIX_LEN;
}

char *mx_signing_key_public_b64(const struct mx_signing_key *k)
{
	return mx_base64_encode(k->pk, sizeof(k->pk), MX_BASE64_STD);
}

void mx_signing_key_release(struct mx_signing_key *k)
{
	sodium_memzero(k, sizeof(*k));
}

/* Split line (NUL-terminated, modified) into at most max whitespace-separated fields. */
static size_t split_fields(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *p = line;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (!*p)
			return n;
		if (n == max)
			return max + 1;
		f[n++] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r')
			p++;
		if (*p)
			*p++ = '\0';
	}
}

/*
 * Parse a key file held in text (NUL-terminated, modified in place). Every
 * non-blank line must be a valid key, as Synapse's read_signing_keys()
 * demands; the first one is loaded.
 */
static int parse_key_file(struct mx_signing_key *k, char *text)
{
	bool found = false;
	char *line = text;

	while (line && *line) {
		char *nl = strchr(line, '\n');
		char *f[3];
		unsigned char seed[32];
		int rc;

		if (nl)
			*nl = '\0';
		size_t nf = split_fields(line, f, 3);
		line = nl ? nl + 1 : NULL;
		if (nf == 0)
			continue;
		if (nf != 3 || strcmp(f[0], MX_SIGNING_KEY_ALG) != 0 ||
		    !mx_signing_key_version_valid(f[1]))
			return MX_EINVALID;
		if (mx_base64_decode_exact(f[2], MX_BASE64_STD, seed, sizeof(seed)))
			return MX_EINVALID;
		if (!found)
			rc = mx_signing_key_from_seed(k, f[1], seed);
		else
			rc = 0;
		sodium_memzero(seed, sizeof(seed));
		if (rc)
			return rc;
		found = true;
	}
	return found ? 0 : MX_EINVALID;
}

int mx_signing_key_load(struct mx_signing_key *k, const char *path)
{
	char text[MX_SIGNING_KEY_FILE_MAX + 2];
	size_t len = 0;
	int fd, rc = 0;

	memset(k, 0, sizeof(*k));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? MX_ENOTFOUND : MX_EIO;
	/* Read one byte past the limit to tell "exactly full" from "too big". */
	while (len < sizeof(text) - 1) {
		ssize_t r = read(fd, text + len, sizeof(text) - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = MX_EIO;
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > MX_SIGNING_KEY_FILE_MAX || memchr(text, '\0', len)) {
		rc = MX_EINVALID;
		goto out;
	}
	text[len] = '\0';
	rc = parse_key_file(k, text);
out:
	close(fd);
	sodium_memzero(text, sizeof(text));
	if (rc)
		mx_signing_key_release(k);
	return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return MX_EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* fsync the directory holding path, so that a rename into it is durable. */
static int fsync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? mx_xstrndup(path, slash == path ? 1 : (size_t)(slash - path))
			  : mx_xstrdup(".");
	int rc = 0;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		rc = MX_EIO;
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

int mx_signing_key_save(const struct mx_signing_key *k, const char *path)
{
	char line[160];
	char *seed_b64 = NULL;
	char *tmp = mx_xasprintf("%s.XXXXXX", path);
	bool created = false; /* tmp exists and must be unlinked on error */
	int fd = -1, rc = 0;
	int n;

	if (strncmp(k->key_id, MX_KEY_PREFIX, MX_KEY_PREFIX_LEN) != 0) {
		rc = MX_EINVALID;
		goto out;
	}
	seed_b64 = mx_base64_encode(k->seed, sizeof(k->seed), MX_BASE64_STD);
	n = snprintf(line, sizeof(line), "%s %s %s\n", MX_SIGNING_KEY_ALG,
		     mx_signing_key_version(k), seed_b64);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		rc = MX_EINVALID;
		goto out;
	}
	/* mkstemp creates the file 0600 with O_EXCL; fchmod in case of an odd umask. */
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = MX_EIO;
		goto out;
	}
	created = true;
	if (fchmod(fd, S_IRUSR | S_IWUSR) != 0 || write_all(fd, line, (size_t)n) != 0 ||
	    fsync(fd) != 0) {
		rc = MX_EIO;
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = MX_EIO;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		rc = MX_EIO;
		goto out;
	}
	created = false;
	rc = fsync_parent(path);
out:
	if (fd >= 0)
		close(fd);
	if (rc && created)
		unlink(tmp);
	sodium_memzero(line, sizeof(line));
	if (seed_b64) {
		sodium_memzero(seed_b64, strlen(seed_b64));
		free(seed_b64);
	}
	free(tmp);
	return rc;
}

int mx_signing_key_load_or_generate(struct mx_signing_key *k, const char *path,
				    bool *generated)
{
	int rc = mx_signing_key_load(k, path);
	if (generated)
		*generated = false;
	if (rc != MX_ENOTFOUND)
		return rc;
	mx_signing_key_generate(k);
	rc = mx_signing_key_save(k, path);
	if (rc) {
		mx_signing_key_release(k);
		return rc;
	}
	if (generated)
		*generated = true;
	return 0;
}
