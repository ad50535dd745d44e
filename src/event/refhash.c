/* SPDX-License-Identifier: Apache-2.0 */
/* Reference hashes, hash-based event and room ids, v1/v2 event ids. */
#include "event/refhash.h"

#include <string.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/canonjson.h"
#include "core/error.h"
#include "core/rand.h"
#include "crypto/hash.h"
#include "event/redact.h"
#include "event/version.h"

int mx_event_reference_hash(const json_t *event, const struct mx_room_version *v,
			    unsigned char out[32])
{
	/* SPEC: server-server-api#calculating-the-reference-hash-for-an-event */
	static const char *const omit[] = {"signatures", "unsigned", "age_ts", NULL};
	struct mx_buf b;
	json_t *redacted;
	int rc;

	mx_buf_init(&b, MX_CANONJSON_MAX_BYTES);
	redacted = mx_event_redact(event, v);
	if (!redacted) {
		rc = MX_EBADJSON;
		goto out;
	}
	if ((rc = mx_canonjson_encode_except(redacted, omit, &b)))
		goto out;
	mx_sha256(b.data, b.len, out);
out:
	json_decref(redacted);
	mx_buf_release(&b);
	return rc;
}

/* sigil + the reference hash in alphabet a, into out (64 bytes). */
static int hash_id(const json_t *event, const struct mx_room_version *v, char sigil,
		   enum mx_base64_alphabet a, char out[64])
{
	unsigned char digest[MX_SHA256_BYTES];
	struct mx_buf b;
	int rc;

	out[0] = '\0';
	if ((rc = mx_event_reference_hash(event, v, digest)))
		return rc;
	mx_buf_init(&b, 63);
	if (!(rc = mx_buf_putc(&b, sigil)) && !(rc = mx_base64_encode_buf(&b, digest, sizeof(digest), a)))
		memcpy(out, b.data, b.len + 1);
	mx_buf_release(&b);
	return rc;
}

int mx_event_compute_id(const json_t *event, const struct mx_room_version *v, char out[64])
{
	out[0] = '\0';
	if (!v)
		return MX_EINVALID;
	switch (v->event_id) {
	case MX_EVID_V3: /* SPEC: rooms/v3#event-ids */
		return hash_id(event, v, '$', MX_BASE64_STD, out);
	case MX_EVID_V4: /* SPEC: rooms/v4#event-ids */
		return hash_id(event, v, '$', MX_BASE64_URL, out);
	case MX_EVID_V1:
		break;
	}
	return MX_EINVALID;
}

int mx_event_room_id_from_create(const json_t *create, const struct mx_room_version *v,
				 char out[64])
{
	json_t *type = json_object_get(create, "type");

	out[0] = '\0';
	if (!v || !v->room_id_from_create || !json_is_string(type) ||
	    json_string_length(type) != strlen("m.room.create") ||
	    strcmp(json_string_value(type), "m.room.create") != 0)
		return MX_EINVALID;
	/* SPEC: appendices#room-ids: the create event's id with "!" as the sigil */
	return hash_id(create, v, '!', MX_BASE64_URL, out);
}

int mx_event_generate_v1_id(const char *server_name, char out[MX_ID_MAX_LEN + 1])
{
	char rnd[MX_EVENT_V1_ID_RANDOM_LEN + 1];
	struct mx_buf b;
	int rc;

	out[0] = '\0';
	if (!mx_id_server_name_valid(server_name))
		return MX_EINVALID;
	mx_rand_token(rnd, sizeof(rnd));
	mx_buf_init(&b, MX_ID_MAX_LEN);
	rc = mx_buf_printf(&b, "$%s:%s", rnd, server_name);
	if (!rc)
		memcpy(out, b.data, b.len + 1);
	else
		rc = MX_EINVALID;
	mx_buf_release(&b);
	return rc;
}
