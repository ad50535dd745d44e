/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-256 based hashes. */
#include "crypto/hash.h"

#include <string.h>

#include <sodium.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/canonjson.h"
#include "core/error.h"

void mx_sha256(const void *p, size_t n, unsigned char out[MX_SHA256_BYTES])
{
	crypto_hash_sha256(out, p, n);
}

int mx_event_content_hash(const json_t *event, char out_b64[64])
{
	/* SPEC: server-server-api#calculating-the-content-hash-for-an-event */
	static const char *const omit[] = {"unsigned", "signatures", "hashes", NULL};
	unsigned char digest[MX_SHA256_BYTES];
	struct mx_buf b;
	int rc;

	out_b64[0] = '\0';
	mx_buf_init(&b, MX_CANONJSON_MAX_BYTES);
	if ((rc = mx_canonjson_encode_except(event, omit, &b)))
		goto out;
	mx_sha256(b.data, b.len, digest);
	sodium_bin2base64(out_b64, 64, digest, sizeof(digest),
			  sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
out:
	mx_buf_release(&b);
	return rc;
}

int mx_hash_token(const char *token, char out_hex[65])
{
	unsigned char digest[MX_SHA256_BYTES];
	mx_sha256(token, strlen(token), digest);
	sodium_bin2hex(out_hex, 65, digest, sizeof(digest));
	return 0;
}
