/* SPDX-License-Identifier: Apache-2.0 */
/* PDU validation, content hashes and signatures of events. */
#include "event/event.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/canonjson.h"
#include "core/error.h"
#include "core/mem.h"
#include "crypto/hash.h"
#include "crypto/sign.h"
#include "event/redact.h"
#include "event/refhash.h"
#include "event/version.h"

/* A JSON string without embedded NUL (so C string functions see all of it). */
static const char *cstr(const json_t *v)
{
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return json_string_value(v);
}

static bool str_is(const json_t *v, const char *s)
{
	const char *c = cstr(v);
	return c && !strcmp(c, s);
}

/* ---- validation ---------------------------------------------------------- */

static int fail(const char **why, int rc, const char *reason)
{
	if (why)
		*why = reason;
	return rc;
}

/*
 * SPEC: client-server-api#size-limits: "when formatted with the federation
 * event format, including any signatures, and encoded as Canonical JSON".
 */
static int check_size(const json_t *pdu, const struct mx_room_version *v)
{
	struct mx_buf b;
	int rc;

	mx_buf_init(&b, MX_EVENT_MAX_BYTES);
	rc = mx_canonjson_encode(pdu, &b);
	mx_buf_release(&b);
	if (rc == MX_EBADJSON && !v->strict_canonical_json) {
		/*
		 * v1-v5 events may hold reals and integers beyond 2^53, which
		 * have no canonical form; measure jansson's compact sorted
		 * encoding instead (what Synapse's encoder would write, give or
		 * take the digits of a real).
		 */
		char *s = json_dumps(pdu, JSON_COMPACT | JSON_SORT_KEYS);
		if (!s)
			return MX_EBADJSON;
		rc = strlen(s) > MX_EVENT_MAX_BYTES ? MX_ETOOLARGE : 0;
		free(s);
	}
	return rc;
}

/* prev_events / auth_events in the version's shape. */
static int check_refs(const json_t *a, const struct mx_room_version *v, size_t max,
		      const char **why, const char *not_array, const char *too_many,
		      const char *bad_item)
{
	size_t i;
	json_t *it;

	if (!json_is_array(a))
		return fail(why, MX_EBADJSON, not_array);
	if (json_array_size(a) > max)
		return fail(why, MX_EBADJSON, too_many);
	json_array_foreach(a, i, it) {
		if (v->auth_events_are_pairs) {
			/* SPEC: server-server-api pdu_v1: [event id, {"sha256": ...}] */
			if (!json_is_array(it) || json_array_size(it) != 2 ||
			    !mx_id_event_valid(cstr(json_array_get(it, 0)), v) ||
			    !json_is_object(json_array_get(it, 1)))
				return fail(why, MX_EBADJSON, bad_item);
		} else if (!mx_id_event_valid(cstr(it), v)) {
			return fail(why, MX_EBADJSON, bad_item);
		}
	}
	return 0;
}

static int check_signatures_shape(const json_t *sigs)
{
	const char *server, *key_id;
	json_t *ent, *sig;

	if (!json_is_object(sigs))
		return MX_EBADJSON;
	json_object_foreach((json_t *)sigs, server, ent) {
		if (!json_is_object(ent))
			return MX_EBADJSON;
		json_object_foreach(ent, key_id, sig)
			if (!json_is_string(sig))
				return MX_EBADJSON;
	}
	return 0;
}

int mx_event_validate_pdu(const json_t *pdu, const struct mx_room_version *v, const char **why)
{
	const json_t *type, *state_key, *room_id, *depth, *hashes, *unsig, *event_id, *redacts;
	json_int_t d;
	int rc;

	if (why)
		*why = NULL;
	if (!v)
		return fail(why, MX_EBADJSON, "unknown room version");
	if (!json_is_object(pdu))
		return fail(why, MX_EBADJSON, "event is not a JSON object");

	/* SPEC: rooms/v6#canonical-json */
	if (v->strict_canonical_json && mx_canonjson_check(pdu))
		return fail(why, MX_EBADJSON,
			    "event is not canonical JSON (reals or integers out of range)");
	/* SPEC: client-server-api#size-limits */
	if ((rc = check_size(pdu, v)))
		return fail(why, rc,
			    rc == MX_ETOOLARGE ? "event is larger than 65536 bytes"
					       : "event cannot be encoded as canonical JSON");

	type = json_object_get(pdu, "type");
	if (!cstr(type))
		return fail(why, MX_EBADJSON, "'type' must be a string");
	if (json_string_length(type) > MX_EVENT_KEY_MAX_BYTES)
		return fail(why, MX_ETOOLARGE, "'type' is longer than 255 bytes");

	state_key = json_object_get(pdu, "state_key");
	if (state_key) {
		if (!cstr(state_key))
			return fail(why, MX_EBADJSON, "'state_key' must be a string");
		if (json_string_length(state_key) > MX_EVENT_KEY_MAX_BYTES)
			return fail(why, MX_ETOOLARGE, "'state_key' is longer than 255 bytes");
	}

	/* SPEC: appendices#user-identifiers: the 255-byte limit is part of the grammar */
	if (!mx_id_user_valid(cstr(json_object_get(pdu, "sender"))))
		return fail(why, MX_EBADJSON, "'sender' must be a user id");

	room_id = json_object_get(pdu, "room_id");
	if (v->room_id_from_create && str_is(type, "m.room.create") && str_is(state_key, "")) {
		/* SPEC: rooms/v12 pdu format: room_id is omitted from m.room.create */
		if (room_id && !json_is_string(room_id))
			return fail(why, MX_EBADJSON, "'room_id' must be a string");
	} else if (!mx_id_room_valid(cstr(room_id), v)) {
		return fail(why, MX_EBADJSON,
			    room_id ? "'room_id' is not a room id for this room version"
				    : "'room_id' is missing");
	}

	if (!json_is_object(json_object_get(pdu, "content")))
		return fail(why, MX_EBADJSON, "'content' must be an object");
	if (!json_is_integer(json_object_get(pdu, "origin_server_ts")))
		return fail(why, MX_EBADJSON, "'origin_server_ts' must be an integer");

	depth = json_object_get(pdu, "depth");
	if (!json_is_integer(depth))
		return fail(why, MX_EBADJSON, "'depth' must be an integer");
	d = json_integer_value(depth);
	if (d < 0 || d > (v->strict_canonical_json ? MX_CANONJSON_INT_MAX : MX_EVENT_MAX_DEPTH_V1))
		return fail(why, MX_EBADJSON, "'depth' is out of range");

	hashes = json_object_get(pdu, "hashes");
	if (!json_is_object(hashes) || !json_is_string(json_object_get(hashes, "sha256")))
		return fail(why, MX_EBADJSON, "'hashes' must be an object with a string 'sha256'");
	if (check_signatures_shape(json_object_get(pdu, "signatures")))
		return fail(why, MX_EBADJSON, "'signatures' must be an object of objects of strings");
	unsig = json_object_get(pdu, "unsigned");
	if (unsig && !json_is_object(unsig))
		return fail(why, MX_EBADJSON, "'unsigned' must be an object");

	if ((rc = check_refs(json_object_get(pdu, "prev_events"), v, MX_EVENT_MAX_PREV_EVENTS,
			     why, "'prev_events' must be an array", "too many 'prev_events'",
			     "'prev_events' holds an invalid event reference")))
		return rc;
	if ((rc = check_refs(json_object_get(pdu, "auth_events"), v, MX_EVENT_MAX_AUTH_EVENTS,
			     why, "'auth_events' must be an array", "too many 'auth_events'",
			     "'auth_events' holds an invalid event reference")))
		return rc;

	event_id = json_object_get(pdu, "event_id");
	if (v->has_event_id_field) {
		if (!mx_id_event_valid(cstr(event_id), v))
			return fail(why, MX_EBADJSON, "'event_id' must be an event id");
	} else if (event_id) {
		return fail(why, MX_EBADJSON, "'event_id' is not part of this room version's events");
	}

	redacts = json_object_get(pdu, "redacts");
	if (redacts && !json_is_string(redacts))
		return fail(why, MX_EBADJSON, "'redacts' must be a string");
	return 0;
}

/* ---- hashing and signing ------------------------------------------------- */

/* obj[key], created as {} if absent; NULL if present but not an object. */
static json_t *object_member(json_t *obj, const char *key)
{
	json_t *m = json_object_get(obj, key);
	if (m)
		return json_is_object(m) ? m : NULL;
	m = json_object();
	if (!m || json_object_set_new(obj, key, m))
		MX_BUG("out of memory building JSON");
	return m;
}

int mx_event_sign(json_t *ev, const struct mx_room_version *v, const char *server_name,
		  const struct mx_signing_key *k)
{
	char content_hash[64];
	json_t *redacted = NULL, *hashes, *sigs, *ent, *sig;
	int rc;

	if (!json_is_object(ev) || !v || !server_name || !k) {
		rc = MX_EBADJSON;
		goto out;
	}
	/* Check everything that can fail before touching ev. */
	hashes = json_object_get(ev, "hashes");
	sigs = json_object_get(ev, "signatures");
	if ((hashes && !json_is_object(hashes)) || (sigs && !json_is_object(sigs)) ||
	    (sigs && json_object_get(sigs, server_name) &&
	     !json_is_object(json_object_get(sigs, server_name)))) {
		rc = MX_EBADJSON;
		goto out;
	}
	/* SPEC: server-server-api#calculating-the-content-hash-for-an-event */
	if ((rc = mx_event_content_hash(ev, content_hash)))
		goto out;

	/*
	 * The redacted copy gets the new hash too (hashes survive redaction
	 * and are what ties the signature to the full content).
	 */
	redacted = mx_event_redact(ev, v);
	if (json_object_set_new(object_member(redacted, "hashes"), "sha256",
				json_string(content_hash)))
		MX_BUG("out of memory building JSON");
	if ((rc = mx_sign_json(redacted, server_name, k)))
		goto out;
	sig = json_object_get(json_object_get(json_object_get(redacted, "signatures"), server_name),
			      k->key_id);
	if (!sig)
		MX_BUG("mx_sign_json() left no signature");

	/* Copy the hash and signature back to the original. */
	if (json_object_set_new(object_member(ev, "hashes"), "sha256", json_string(content_hash)))
		MX_BUG("out of memory building JSON");
	ent = object_member(object_member(ev, "signatures"), server_name);
	if (json_object_set(ent, k->key_id, sig))
		MX_BUG("out of memory building JSON");
out:
	json_decref(redacted);
	return rc;
}

int mx_event_finalize_local(json_t *ev, const struct mx_room_version *v,
			    const char *server_name, const struct mx_signing_key *k,
			    char event_id_out[MX_ID_MAX_LEN + 1])
{
	char id[MX_ID_MAX_LEN + 1];
	const char *existing;
	int rc;

	event_id_out[0] = '\0';
	if (!json_is_object(ev) || !v)
		return MX_EBADJSON;
	if (!mx_id_server_name_valid(server_name))
		return MX_EINVALID;
	if (v->has_event_id_field) {
		/* SPEC: rooms/v1#event-ids: the origin chooses the id */
		existing = cstr(json_object_get(ev, "event_id"));
		if (!existing) {
			if (json_object_get(ev, "event_id"))
				return MX_EBADJSON;
			if ((rc = mx_event_generate_v1_id(server_name, id)))
				return rc;
			if (json_object_set_new(ev, "event_id", json_string(id)))
				MX_BUG("out of memory building JSON");
		}
	} else if (json_object_get(ev, "event_id")) {
		return MX_EINVALID;
	}
	if ((rc = mx_event_sign(ev, v, server_name, k)))
		return rc;
	if ((rc = mx_event_validate_pdu(ev, v, NULL)))
		return rc;
	if (v->has_event_id_field) {
		existing = cstr(json_object_get(ev, "event_id"));
		memcpy(event_id_out, existing, strlen(existing) + 1); /* validated: <= 255 */
		return 0;
	}
	return mx_event_compute_id(ev, v, event_id_out);
}

int mx_event_verify_content_hash(const json_t *pdu)
{
	unsigned char want[MX_SHA256_BYTES], have[MX_SHA256_BYTES];
	char computed[64];
	const char *claimed;

	/* SPEC: server-server-api#validating-hashes-and-signatures-on-received-events */
	claimed = cstr(json_object_get(json_object_get(pdu, "hashes"), "sha256"));
	if (!claimed || mx_base64_decode_exact(claimed, MX_BASE64_STD, want, sizeof(want)))
		return MX_EFORBIDDEN;
	if (mx_event_content_hash(pdu, computed) ||
	    mx_base64_decode_exact(computed, MX_BASE64_STD, have, sizeof(have)))
		return MX_EFORBIDDEN;
	return memcmp(want, have, sizeof(want)) ? MX_EFORBIDDEN : 0;
}

/* ---- signature checks ---------------------------------------------------- */

static int add_signer(const char *out[MX_EVENT_MAX_SIGNERS], int n, const char *server)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(out[i], server))
			return n;
	out[n] = server;
	return n + 1;
}

int mx_event_signing_servers(const json_t *pdu, const struct mx_room_version *v,
			     const char *out[MX_EVENT_MAX_SIGNERS])
{
	const json_t *content, *type;
	const char *sender, *membership, *s;
	int n = 0;

	if (!json_is_object(pdu) || !v)
		return MX_EBADJSON;
	sender = cstr(json_object_get(pdu, "sender"));
	if (!mx_id_user_valid(sender))
		return MX_EBADJSON;
	type = json_object_get(pdu, "type");
	content = json_object_get(pdu, "content");
	membership = str_is(type, "m.room.member") ? cstr(json_object_get(content, "membership"))
						   : NULL;

	/*
	 * SPEC: server-server-api#validating-hashes-and-signatures-on-received-events:
	 * "unless the event is a 3rd party invite, only the signature(s) from
	 * the originating server ... are required"; a 3pid invite "may be sent
	 * by a different server", so the sender's server is not required (as
	 * in Synapse: type m.room.member, membership invite, third_party_invite
	 * in content).
	 */
	if (!(membership && !strcmp(membership, "invite") &&
	      json_object_get(content, "third_party_invite")))
		n = add_signer(out, n, mx_id_server(sender));

	/* "Room versions 1 and 2 also require ... the domain in the event_id" */
	if (v->has_event_id_field) {
		s = cstr(json_object_get(pdu, "event_id"));
		if (!mx_id_event_valid(s, v))
			return MX_EBADJSON;
		n = add_signer(out, n, mx_id_server(s));
	}

	/*
	 * SPEC: rooms/v8 auth rule 4.2: a restricted join is "validly signed
	 * by the homeserver of the user ID denoted by" join_authorised_via_users_server.
	 */
	if (v->restricted_join && membership && !strcmp(membership, "join")) {
		const json_t *auth = json_object_get(content, "join_authorised_via_users_server");
		if (auth) {
			s = cstr(auth);
			if (!mx_id_user_valid(s))
				return MX_EBADJSON;
			n = add_signer(out, n, mx_id_server(s));
		}
	}
	return n;
}

int mx_event_check_signatures(const json_t *pdu, const struct mx_room_version *v,
			      mx_event_key_lookup_fn lookup, void *ctx)
{
	const char *servers[MX_EVENT_MAX_SIGNERS];
	const char *key_id;
	json_t *redacted = NULL, *sigs, *ent, *sig;
	int64_t valid_at = -1;
	int n, rc = 0;

	if ((n = mx_event_signing_servers(pdu, v, servers)) < 0)
		return n;
	/* SPEC: rooms/v5#signing-key-validity-period */
	if (v->strict_key_validity) {
		json_t *ts = json_object_get(pdu, "origin_server_ts");
		if (!json_is_integer(ts))
			return MX_EBADJSON;
		valid_at = json_integer_value(ts);
		if (valid_at < 0)
			valid_at = 0;
	}
	/* SPEC: server-server-api: "The event is redacted ... and the resultant object is checked" */
	redacted = mx_event_redact(pdu, v);
	sigs = json_object_get(redacted, "signatures");
	if (check_signatures_shape(sigs)) {
		rc = sigs ? MX_EBADJSON : MX_EFORBIDDEN;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		int verified = 0;
		ent = json_object_get(sigs, servers[i]);
		if (!ent) {
			rc = MX_EFORBIDDEN;
			goto out;
		}
		json_object_foreach(ent, key_id, sig) {
			const unsigned char *pk;
			if (strncmp(key_id, "ed25519:", 8) != 0)
				continue; /* an algorithm we do not know: skipped */
			pk = lookup(servers[i], key_id, valid_at, ctx);
			if (!pk)
				continue; /* unknown or expired key: skipped */
			if ((rc = mx_verify_json(redacted, servers[i], key_id, pk)))
				goto out;
			verified++;
		}
		if (!verified) {
			rc = MX_EFORBIDDEN;
			goto out;
		}
	}
out:
	json_decref(redacted);
	return rc;
}
