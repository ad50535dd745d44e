/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server's ed25519 signing key, kept on disk in Synapse's signing key
 * file format so that an existing Synapse key (and with it the server's
 * identity towards federation) carries over unchanged:
 *
 *     ed25519 a_AbCd <unpadded base64 of the 32-byte seed>\n
 *
 * one key per line; like Synapse, the first line is the key in use. The
 * version ("a_AbCd") must match [a-zA-Z0-9_]+ (SPEC: server-server-api
 * "Verify Key": "The version must have characters matching [a-zA-Z0-9_]").
 *
 * A struct mx_signing_key holds secrets: wipe it with
 * mx_signing_key_release() when done.
 */
#ifndef MX_CRYPTO_KEYS_H
#define MX_CRYPTO_KEYS_H

#include <stdbool.h>

#define MX_SIGNING_KEY_ALG "ed25519"
/* Longest file accepted by mx_signing_key_load(): a few keys' worth. */
#define MX_SIGNING_KEY_FILE_MAX 4096

struct mx_signing_key {
	char key_id[64];         /* "ed25519:a_XXXX", NUL-terminated */
	unsigned char seed[32];  /* what the file stores */
	unsigned char pk[32];    /* public key */
	unsigned char sk[64];    /* libsodium secret key (seed || pk) */
};

/* True if version is a valid key version: 1..55 chars of [a-zA-Z0-9_]. */
bool mx_signing_key_version_valid(const char *version);

/*
 * Derive a key from a seed and a version ("a_XXXX", "1", ...); key_id
 * becomes "ed25519:<version>". Returns 0 or MX_EINVALID for a bad version.
 */
int mx_signing_key_from_seed(struct mx_signing_key *k, const char *version,
			     const unsigned char seed[32]);

/* A fresh random key with version "a_" + 4 random [A-Za-z0-9]. Returns 0. */
int mx_signing_key_generate(struct mx_signing_key *k);

/*
 * Read the key file at path and load its first key. Returns 0, or
 * MX_ENOTFOUND if the file does not exist, MX_EIO if it cannot be read,
 * MX_EINVALID if it is not a valid key file (any malformed line, an
 * algorithm other than ed25519, an empty file, or more than
 * MX_SIGNING_KEY_FILE_MAX bytes). k is wiped on error.
 */
int mx_signing_key_load(struct mx_signing_key *k, const char *path);

/*
 * Write k to path in the key file format, replacing any file there
 * atomically: the data goes to a temporary file (mode 0600) beside path,
 * which is fsync()ed and renamed over path, and then the directory is
 * fsync()ed. Returns 0, MX_EINVALID if k has no valid key id, or MX_EIO.
 * Unless only the final directory fsync failed, path is untouched on error.
 */
int mx_signing_key_save(const struct mx_signing_key *k, const char *path);

/*
 * Load the key at path; if there is no file there, generate a key and save
 * it. *generated (if non-NULL) tells which happened. Returns 0 or the error
 * of the load or save; a file that exists but is invalid is an error, never
 * overwritten.
 */
int mx_signing_key_load_or_generate(struct mx_signing_key *k, const char *path,
				    bool *generated);

/* The public key as unpadded base64 (43 chars); caller frees. */
char *mx_signing_key_public_b64(const struct mx_signing_key *k);

/* The version part of key_id (after "ed25519:"); borrowed from k. */
const char *mx_signing_key_version(const struct mx_signing_key *k);

/* Wipe the key's secrets (and everything else in it). */
void mx_signing_key_release(struct mx_signing_key *k);

#endif
