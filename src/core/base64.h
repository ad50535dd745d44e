/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Base64 as Matrix uses it (SPEC: appendices#unpadded-base64): the RFC 4648
 * standard alphabet for keys, signatures and hashes, the URL-safe alphabet
 * (SPEC: appendices#url-safe-unpadded-base64) for event ids in room
 * versions 4+. Output is always unpadded.
 *
 * Decoding accepts input with or without "=" padding (the spec says it
 * SHOULD), but only in the alphabet asked for and with no whitespace or any
 * other byte. Like Python's base64 module, which Synapse uses, it ignores
 * non-zero bits left over in the last character: the spec's own test seed
 * ("...XA1") has them, and libsodium's strict decoder would reject it.
 */
#ifndef MX_CORE_BASE64_H
#define MX_CORE_BASE64_H

#include <stddef.h>

#include "core/buf.h"

enum mx_base64_alphabet {
	MX_BASE64_STD, /* A-Z a-z 0-9 + / */
	MX_BASE64_URL, /* A-Z a-z 0-9 - _ */
};

/* Length of the unpadded encoding of n bytes, without the NUL. */
size_t mx_base64_encoded_len(size_t n);

/* Largest number of bytes len characters of base64 can decode to. */
size_t mx_base64_decoded_max(size_t len);

/* Unpadded encoding of n bytes as a fresh heap string; caller frees. */
char *mx_base64_encode(const void *p, size_t n, enum mx_base64_alphabet a);

/* Append the unpadded encoding of n bytes to out. 0 or MX_ETOOLARGE. */
int mx_base64_encode_buf(struct mx_buf *out, const void *p, size_t n,
			 enum mx_base64_alphabet a);

/*
 * Decode len characters of in into out (room for out_max bytes), storing
 * the decoded length in *out_len. Returns 0, MX_EINVALID if in is not
 * base64 of alphabet a (padded or not), or MX_ETOOLARGE if it decodes to
 * more than out_max bytes. out is unspecified on error.
 */
int mx_base64_decode(const char *in, size_t len, enum mx_base64_alphabet a,
		     unsigned char *out, size_t out_max, size_t *out_len);

/*
 * Decode a NUL-terminated string that must decode to exactly n bytes (a key,
 * seed, signature or hash). Returns 0 or MX_EINVALID.
 */
int mx_base64_decode_exact(const char *in, enum mx_base64_alphabet a,
			   unsigned char *out, size_t n);

#endif
