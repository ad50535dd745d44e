/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The X-Matrix Authorization scheme of Server-Server requests: parsing the
 * header, building the signed request object, signing outbound requests and
 * verifying inbound ones. Pure functions: no network, no database.
 * SPEC: server-server-api#request-authentication
 */
#ifndef MX_FEDERATION_XMATRIX_H
#define MX_FEDERATION_XMATRIX_H

#include <jansson.h>
#include <stdbool.h>

struct mx_signing_key;

struct mx_xmatrix {
	char origin[256];       /* a valid server name */
	char destination[256];  /* "" when the header had none */
	char key_id[128];       /* "ed25519:abc" */
	char sig[128];          /* unpadded base64 */
};

/*
 * Parse an Authorization header value ("X-Matrix origin=...,key=...,sig=...").
 * Returns 0, or MX_EUNAUTHORIZED for anything malformed (unknown scheme,
 * missing origin/key/sig, a bad server name, over-long values).
 */
int mx_xmatrix_parse(const char *header, struct mx_xmatrix *out);

/*
 * The Authorization header value for an outbound request (malloc'd, caller
 * frees), signed with key as origin. content may be NULL.
 */
char *mx_xmatrix_sign(const struct mx_signing_key *key, const char *origin,
		      const char *destination, const char *method, const char *uri,
		      json_t *content);

/*
 * Check x's signature over {method, uri, origin, destination, content} with
 * the origin's 32-byte ed25519 public key. Returns 0 or MX_EUNAUTHORIZED.
 */
int mx_xmatrix_verify(const struct mx_xmatrix *x, const char *method, const char *uri,
		      json_t *content, const unsigned char pk[32]);

#endif
