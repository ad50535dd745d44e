/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The authorisation rules of room versions 1-12 (SPEC: rooms/v1 .. v12,
 * "Authorization rules"; the shared texts are rooms/fragments/v1-auth-rules,
 * v3-auth-rules and v8-auth-rules). One code path for every version: the
 * differences are asked of the version row (event/version.h) or of the
 * local helpers below, never of the version string. Rule numbers in the
 * SPEC tags are those of the version named in the tag; versions renumber
 * the same rule as rules are added or removed before it.
 */
#include "auth/auth.h"

#include <math.h>
#include <string.h>

#include "core/base64.h"
#include "core/error.h"
#include "crypto/sign.h"
#include "event/refhash.h"

#define T_CREATE "m.room.create"
#define T_MEMBER "m.room.member"
#define T_JOIN_RULES "m.room.join_rules"
#define T_POWER_LEVELS "m.room.power_levels"
#define T_TPI "m.room.third_party_invite"
#define T_REDACTION "m.room.redaction"
#define T_ALIASES "m.room.aliases"
#define K_AUTHORISER "join_authorised_via_users_server"

/* Most (public key, signature) pairs tried for one third-party invite. */
#define TPI_MAX_TRIES 64

/* --- version features the row has no flag for (local: the row is shared) -- */

/* SPEC: rooms/v12#authorization-rules: creators' power level is infinite. */
static bool creators_infinite(const struct mx_room_version *v)
{
	return v->auth >= MX_AUTH_V12;
}

/* SPEC: rooms/v6#authorization-rules: notifications join the PL change checks. */
static bool notifications_checked(const struct mx_room_version *v)
{
	return v->auth >= MX_AUTH_V6;
}

/* SPEC: rooms/v1#authorization-rules rule 11: the redact level and domain check. */
static bool redaction_auth(const struct mx_room_version *v)
{
	return v->auth == MX_AUTH_V1;
}

/* v1-v5 events need not be canonical JSON, so power levels may be floats. */
static bool float_power_levels(const struct mx_room_version *v)
{
	return !v->strict_canonical_json;
}

/* --- small JSON and identifier helpers ---------------------------------- */

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static const json_t *jcontent(const json_t *ev)
{
	const json_t *c = json_object_get(ev, "content");
	return json_is_object(c) ? c : NULL;
}

static bool eq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* The server name part of a user, room (v1-v11) or event (v1, v2) id. */
static const char *id_domain(const char *id)
{
	const char *colon = id ? strchr(id, ':') : NULL;
	return colon ? colon + 1 : NULL;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* SPEC: appendices#server-name */
static bool server_name_valid(const char *s)
{
	const char *p = s, *end;
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end || end - p - 1 < 2 || end - p - 1 > 45)
			return false;
		for (p++; p < end; p++)
			if (!is_hex(*p) && *p != ':' && *p != '.')
				return false;
		p = end + 1;
	} else {
		for (; *p && *p != ':'; p++)
			if (!is_alpha(*p) && !is_digit(*p) && *p != '-' && *p != '.')
				return false;
		if (p == s || p - s > 255)
			return false;
	}
	if (*p == '\0')
		return true;
	if (*p++ != ':')
		return false;
	size_t n = 0;
	for (; is_digit(*p); p++)
		n++;
	return *p == '\0' && n >= 1 && n <= 5;
}

/*
 * SPEC: appendices#user-identifiers, with #historical-user-ids: "@", a
 * localpart of anything but ':' (and NUL), ":", a server name; at most 255
 * bytes. len is the JSON string's length, to catch embedded NULs.
 */
static bool user_id_valid(const char *s, size_t len)
{
	if (!s || len != strlen(s) || len > 255 || s[0] != '@')
		return false;
	const char *colon = strchr(s, ':');
	return colon && server_name_valid(colon + 1);
}

/* --- power level values ---------------------------------------------------- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/*
 * SPEC: rooms/v1#mroompower_levels-events-accept-values-as-strings:
 * optional whitespace, an optional single sign, base 10 digits (leading
 * zeroes allowed), optional whitespace. 0 or -1 (malformed, or outside
 * int64).
 */
static int parse_stringy(const char *s, size_t len, int64_t *out)
{
	const char *p = s, *end = s + len;
	bool neg = false;
	uint64_t mag = 0, lim;

	if (len != strlen(s))
		return -1;
	while (p < end && is_space(*p))
		p++;
	if (p < end && (*p == '+' || *p == '-'))
		neg = *p++ == '-';
	if (p == end || !is_digit(*p))
		return -1;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; p < end && is_digit(*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (mag > (lim - d) / 10)
			return -1;
		mag = mag * 10 + d;
	}
	while (p < end && is_space(*p))
		p++;
	if (p != end)
		return -1;
	if (neg)
		*out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
	else
		*out = (int64_t)mag;
	return 0;
}

/*
 * One power level value as room version v reads it: a JSON integer; in
 * v1-v9 also a string holding an integer; in v1-v5 also a float, truncated
 * (SPEC: rooms/v1#mroompower_levels-events-accept-values-as-floats). SPEC:
 * rooms/v10#values-in-mroompower_levels-events-must-be-integers. Returns 0
 * or -1 (anything else: bool, null, object, non-finite or huge float).
 */
static int pl_parse(const struct mx_room_version *v, const json_t *val, int64_t *out)
{
	if (json_is_integer(val)) {
		*out = json_integer_value(val);
		return 0;
	}
	if (json_is_real(val) && float_power_levels(v)) {
		double d = json_real_value(val);
		if (!isfinite(d) || d >= 9223372036854775808.0 || d < -9223372036854775808.0)
			return -1;
		*out = (int64_t)d;
		return 0;
	}
	if (json_is_string(val) && !v->integer_power_levels)
		return parse_stringy(json_string_value(val), json_string_length(val), out);
	return -1;
}

/*
 * Read a level when using it (not when comparing two power levels events):
 * absent or JSON null means def, as in Synapse's get_named_level. An
 * unreadable value is -1, or def when lenient.
 */
static int level_read(const struct mx_room_version *v, const json_t *val, int64_t def,
		      bool lenient, int64_t *out)
{
	if (!val || json_is_null(val)) {
		*out = def;
		return 0;
	}
	if (pl_parse(v, val, out) == 0)
		return 0;
	if (!lenient)
		return -1;
	*out = def;
	return 0;
}

/* A member of the power levels content that should be an object (or absent). */
static int pl_map(const json_t *pc, const char *name, bool lenient, const json_t **out)
{
	const json_t *m = json_object_get(pc, name);
	*out = NULL;
	if (!m || json_is_null(m))
		return 0;
	if (json_is_object(m)) {
		*out = m;
		return 0;
	}
	return lenient ? 0 : -1;
}

/* SPEC: client-server-api#mroomcreate: who "the creator" is for the 100-without-PL rule. */
static bool is_creator(const struct mx_room_version *v, const json_t *create, const char *user)
{
	const json_t *cc = jcontent(create);
	if (!user || !json_is_object(create))
		return false;
	if (v->create_has_creator)
		return eq(jstr(cc, "creator"), user);
	if (eq(jstr(create, "sender"), user))
		return true;
	if (creators_infinite(v)) {
		const json_t *ac = json_object_get(cc, "additional_creators");
		size_t i;
		const json_t *x;
		if (json_is_array(ac))
			json_array_foreach(ac, i, x)
				if (eq(json_string_value(x), user))
					return true;
	}
	return false;
}

/* SPEC: rooms/v1#authorization-rules, the note on inferred power levels. */
static int user_level(const struct mx_room_version *v, const json_t *pl, const json_t *create,
		      const char *user, bool lenient, int64_t *out)
{
	const json_t *pc, *users, *val;

	if (creators_infinite(v) && is_creator(v, create, user)) {
		*out = INT64_MAX;
		return 0;
	}
	if (!pl) {
		*out = is_creator(v, create, user) ? 100 : 0;
		return 0;
	}
	pc = jcontent(pl);
	if (pl_map(pc, "users", lenient, &users))
		return -1;
	val = json_object_get(users, user);
	if (val && !json_is_null(val)) {
		if (pl_parse(v, val, out) == 0)
			return 0;
		if (!lenient)
			return -1;
	}
	return level_read(v, json_object_get(pc, "users_default"), 0, lenient, out);
}

/* SPEC: client-server-api#mroompower_levels: events, then state_default / events_default. */
static int send_level(const struct mx_room_version *v, const json_t *pl, const char *type,
		      bool is_state, bool lenient, int64_t *out)
{
	const json_t *pc = jcontent(pl), *events, *val;

	if (pl_map(pc, "events", lenient, &events))
		return -1;
	val = json_object_get(events, type);
	if (val && !json_is_null(val)) {
		if (pl_parse(v, val, out) == 0)
			return 0;
		if (!lenient)
			return -1;
	}
	if (is_state)
		return level_read(v, json_object_get(pc, "state_default"), 50, lenient, out);
	return level_read(v, json_object_get(pc, "events_default"), 0, lenient, out);
}

/* ban, kick, redact (default 50) and invite (default 0). */
static int named_level(const struct mx_room_version *v, const json_t *pl, const char *name,
		       int64_t *out)
{
	int64_t def = strcmp(name, "invite") ? 50 : 0;
	return level_read(v, json_object_get(jcontent(pl), name), def, false, out);
}

/* --- the check ------------------------------------------------------------- */

struct auth_ctx {
	const struct mx_room_version *v;
	const json_t *ev;
	const struct mx_auth_state *st;
	const char *type;
	const char *sender;
	const char *state_key;    /* NULL for non-state events */
	const json_t *content;
	const char *room_id;
	const json_t *create;
	const json_t *pl;         /* the power levels event, or NULL */
	bool foreign;             /* read a state event of another room */
};

#define DENY(msg)                        \
	do {                             \
		*why = (msg);            \
		return MX_EFORBIDDEN;    \
	} while (0)

/*
 * Look up state. A state event that is not an object counts as absent; one
 * of another room is counted as absent and remembered, so the whole check
 * fails (SPEC: rooms/v1#authorization-rules rule 2.5). The v12 create event
 * has no room_id.
 */
static const json_t *sget(struct auth_ctx *c, const char *type, const char *state_key)
{
	const json_t *e;

	if (!c->st || !c->st->get || !state_key)
		return NULL;
	e = c->st->get(c->st->ctx, type, state_key);
	if (!json_is_object(e))
		return NULL;
	if (c->v->room_id_from_create && !strcmp(type, T_CREATE) && !*state_key)
		return e;
	if (!eq(jstr(e, "room_id"), c->room_id)) {
		c->foreign = true;
		return NULL;
	}
	return e;
}

static const char *membership_of(struct auth_ctx *c, const char *user)
{
	return jstr(jcontent(sget(c, T_MEMBER, user)), "membership");
}

static int level_of(struct auth_ctx *c, const char *user, int64_t *out)
{
	return user_level(c->v, c->pl, c->create, user, false, out);
}

/*
 * SPEC: rooms/v1#authorization-rules rule 1 (v11: creator dropped;
 * v12: room_id and additional_creators).
 */
static int check_create(struct auth_ctx *c, const char **why)
{
	const struct mx_room_version *v = c->v;
	const json_t *prev = json_object_get(c->ev, "prev_events"), *rv, *ac, *x;
	size_t i;

	/* Not in the spec's text: anything else named m.room.create could only
	 * be a second root of the room's graph. */
	if (!eq(c->state_key, ""))
		DENY("m.room.create must have an empty state_key");
	/* SPEC: rooms/v1 rule 1.1 */
	if (prev && !(json_is_array(prev) && json_array_size(prev) == 0))
		DENY("m.room.create must not have prev_events");
	if (v->room_id_from_create) {
		/* SPEC: rooms/v12#authorization-rules rule 1.2 */
		if (json_object_get(c->ev, "room_id"))
			DENY("m.room.create must not have a room_id in this room version");
	} else {
		/* SPEC: rooms/v1 rule 1.2 */
		const char *rd = id_domain(jstr(c->ev, "room_id")), *sd = id_domain(c->sender);
		if (!rd || !sd || strcmp(rd, sd))
			DENY("room id domain does not match the sender's");
	}
	/* SPEC: rooms/v1 rule 1.3 */
	rv = json_object_get(c->content, "room_version");
	if (rv && !mx_room_version_get(json_string_value(rv)))
		DENY("m.room.create names an unknown room_version");
	/* SPEC: rooms/v1#authorization-rules rule 1.4 (removed in v11) */
	if (v->create_has_creator && !json_object_get(c->content, "creator"))
		DENY("m.room.create has no creator");
	/* SPEC: rooms/v12#authorization-rules rule 1.4 */
	if (creators_infinite(v)) {
		ac = json_object_get(c->content, "additional_creators");
		if (ac && !json_is_array(ac))
			DENY("additional_creators is not an array");
		json_array_foreach(ac, i, x)
			if (!json_is_string(x) ||
			    !user_id_valid(json_string_value(x), json_string_length(x)))
				DENY("additional_creators holds an invalid user id");
	}
	return 0;
}

/*
 * SPEC: rooms/v1#authorization-rules rule 5.2.1 ("the only previous event
 * is an m.room.create"): compare the single prev_event with the create
 * event's id, which v1/v2 events carry and v3+ ids are the reference hash
 * of. A create event that cannot be hashed (v3-v5 content that is not
 * canonical JSON) counts as the previous event only when the state is that
 * of the create event alone: no power levels, join rules or membership of
 * the joining user.
 */
static bool only_prev_is_create(struct auth_ctx *c)
{
	const json_t *prev = json_object_get(c->ev, "prev_events"), *p;
	const char *id;
	char cid[64];

	if (!json_is_array(prev) || json_array_size(prev) != 1)
		return false;
	p = json_array_get(prev, 0);
	if (json_is_array(p)) /* v1, v2: [event_id, {hashes}] */
		p = json_array_get(p, 0);
	id = json_string_value(p);
	if (!id)
		return false;
	if (c->v->event_id == MX_EVID_V1)
		return eq(id, jstr(c->create, "event_id"));
	if (mx_event_compute_id(c->create, c->v, cid) == 0)
		return !strcmp(id, cid);
	return !c->pl && !sget(c, T_JOIN_RULES, "") && !sget(c, T_MEMBER, c->state_key);
}

/* The user the "creator joins first" rule means (v11+: the create's sender). */
static const char *first_creator(struct auth_ctx *c)
{
	if (c->v->create_has_creator)
		return jstr(jcontent(c->create), "creator");
	return jstr(c->create, "sender");
}

/*
 * SPEC: rooms/v1#authorization-rules rule 5.3.1 (third-party invites):
 * does any signature on signed verify with any of the invite's public keys?
 */
static bool tpi_signed_ok(const json_t *signed_obj, const json_t *invite)
{
	unsigned char keys[TPI_MAX_TRIES][32];
	size_t nkeys = 0, tries = 0, i;
	const json_t *ic = jcontent(invite), *list, *sigs, *block, *sig;
	const char *server, *key_id, *b64;

	list = json_object_get(ic, "public_keys");
	for (i = 0;; i++) {
		if (i == 0)
			b64 = jstr(ic, "public_key");
		else if (i - 1 < json_array_size(list))
			b64 = jstr(json_array_get(list, i - 1), "public_key");
		else
			break;
		if (!b64 || nkeys == TPI_MAX_TRIES)
			continue;
		if (!mx_base64_decode_exact(b64, MX_BASE64_STD, keys[nkeys], 32) ||
		    !mx_base64_decode_exact(b64, MX_BASE64_URL, keys[nkeys], 32))
			nkeys++;
	}
	sigs = json_object_get(signed_obj, "signatures");
	if (!json_is_object(sigs))
		return false;
	json_object_foreach((json_t *)sigs, server, block) {
		if (!json_is_object(block))
			continue;
		json_object_foreach((json_t *)block, key_id, sig) {
			if (strncmp(key_id, "ed25519:", 8) || !json_is_string(sig))
				continue;
			for (i = 0; i < nkeys; i++) {
				if (++tries > TPI_MAX_TRIES)
					return false;
				if (mx_verify_json(signed_obj, server, key_id, keys[i]) == 0)
					return true;
			}
		}
	}
	return false;
}

/* SPEC: rooms/v1#authorization-rules rule 5.3.1 */
static int check_third_party_invite(struct auth_ctx *c, const char *target_m, const char **why)
{
	const json_t *tpi = json_object_get(c->content, "third_party_invite"), *signed_obj, *inv;
	const char *mxid, *token;

	if (eq(target_m, "ban"))
		DENY("the invited user is banned");
	signed_obj = json_object_get(tpi, "signed");
	if (!json_is_object(signed_obj))
		DENY("third_party_invite has no signed object");
	mxid = jstr(signed_obj, "mxid");
	token = jstr(signed_obj, "token");
	if (!mxid || !token)
		DENY("third_party_invite.signed lacks mxid or token");
	if (strcmp(mxid, c->state_key))
		DENY("third_party_invite.signed.mxid does not match the state_key");
	inv = sget(c, T_TPI, token);
	if (!inv)
		DENY("no m.room.third_party_invite event for this token");
	if (!eq(jstr(inv, "sender"), c->sender))
		DENY("the third-party invite was made by another user");
	if (!tpi_signed_ok(signed_obj, inv))
		DENY("third_party_invite.signed has no valid signature from the invite's keys");
	return 0;
}

static int check_join(struct auth_ctx *c, const char *sender_m, const char *join_rule,
		      const char **why)
{
	const struct mx_room_version *v = c->v;
	bool member = eq(sender_m, "join") || eq(sender_m, "invite");
	int64_t lvl, invite;

	/* SPEC: rooms/v11#authorization-rules rule 4.3.1 (v1: 5.2.1) */
	if (eq(first_creator(c), c->state_key) && only_prev_is_create(c))
		return 0;
	/* SPEC: rooms/v1 rule 5.2.2 */
	if (strcmp(c->sender, c->state_key))
		DENY("cannot join on behalf of another user");
	/* SPEC: rooms/v1 rule 5.2.3 */
	if (eq(sender_m, "ban"))
		DENY("the sender is banned from the room");
	/* SPEC: rooms/v1 rule 5.2.4; rooms/v7 adds knock */
	if (eq(join_rule, "invite") || (v->knock && eq(join_rule, "knock"))) {
		if (member)
			return 0;
		DENY("the room is invite-only and the sender is not invited");
	}
	/* SPEC: rooms/v8#authorization-rules rule 4.3.5; rooms/v10 adds knock_restricted */
	if ((v->restricted_join && eq(join_rule, "restricted")) ||
	    (v->knock_restricted && eq(join_rule, "knock_restricted"))) {
		const char *au = jstr(c->content, K_AUTHORISER);
		if (member)
			return 0;
		if (!au)
			DENY("restricted join without join_authorised_via_users_server");
		if (!eq(membership_of(c, au), "join"))
			DENY("the authorising user is not in the room");
		if (level_of(c, au, &lvl) || named_level(v, c->pl, "invite", &invite))
			DENY("invalid power level in the room state");
		if (lvl < invite)
			DENY("the authorising user cannot invite users");
		return 0;
	}
	/* SPEC: rooms/v1 rule 5.2.5 */
	if (eq(join_rule, "public"))
		return 0;
	DENY("the join rule does not allow joining");
}

/* SPEC: rooms/v1#authorization-rules rule 5; v7 rule 4 (knock), v8 (restricted). */
static int check_member(struct auth_ctx *c, const char **why)
{
	const struct mx_room_version *v = c->v;
	const char *membership = jstr(c->content, "membership");
	const char *target = c->state_key, *sender_m, *target_m, *join_rule;
	const json_t *jr;
	int64_t me, them, need, ban;

	/* SPEC: rooms/v1 rule 5.1 */
	if (!target || !membership)
		DENY("m.room.member needs a state_key and content.membership");
	/* SPEC: rooms/v8#authorization-rules rule 4.2 is a signature check:
	 * mx_event_check_signatures() (event/event.h) does it. */

	sender_m = membership_of(c, c->sender);
	target_m = membership_of(c, target);
	jr = sget(c, T_JOIN_RULES, "");
	/* Not in the spec: no join rules event means "invite", as in Synapse. */
	join_rule = jr ? jstr(jcontent(jr), "join_rule") : "invite";
	if (jr && !json_object_get(jcontent(jr), "join_rule"))
		join_rule = "invite";

	if (!strcmp(membership, "join"))
		return check_join(c, sender_m, join_rule, why);

	if (!strcmp(membership, "invite")) {
		if (json_object_get(c->content, "third_party_invite"))
			return check_third_party_invite(c, target_m, why);
		/* SPEC: rooms/v1 rule 5.3.2 - 5.3.5 */
		if (!eq(sender_m, "join"))
			DENY("the sender is not in the room");
		if (eq(target_m, "join") || eq(target_m, "ban"))
			DENY("the invited user is already joined or banned");
		if (level_of(c, c->sender, &me) || named_level(v, c->pl, "invite", &need))
			DENY("invalid power level in the room state");
		if (me >= need)
			return 0;
		DENY("the sender's power level is below the invite level");
	}

	if (!strcmp(membership, "leave")) {
		/* SPEC: rooms/v1 rule 5.4.1; rooms/v7 adds knock */
		if (!strcmp(c->sender, target)) {
			if (eq(sender_m, "join") || eq(sender_m, "invite") ||
			    (v->knock && eq(sender_m, "knock")))
				return 0;
			DENY("the sender is not joined, invited or knocking");
		}
		/* SPEC: rooms/v1 rule 5.4.2 - 5.4.5 */
		if (!eq(sender_m, "join"))
			DENY("the sender is not in the room");
		if (level_of(c, c->sender, &me) || level_of(c, target, &them) ||
		    named_level(v, c->pl, "kick", &need))
			DENY("invalid power level in the room state");
		if (eq(target_m, "ban")) {
			if (named_level(v, c->pl, "ban", &ban))
				DENY("invalid power level in the room state");
			if (me < ban)
				DENY("the sender's power level is below the ban level needed to unban");
		}
		if (me >= need && them < me)
			return 0;
		DENY("the sender cannot kick this user");
	}

	if (!strcmp(membership, "ban")) {
		/* SPEC: rooms/v1 rule 5.5 */
		if (!eq(sender_m, "join"))
			DENY("the sender is not in the room");
		if (level_of(c, c->sender, &me) || level_of(c, target, &them) ||
		    named_level(v, c->pl, "ban", &ban))
			DENY("invalid power level in the room state");
		if (me >= ban && them < me)
			return 0;
		DENY("the sender cannot ban this user");
	}

	if (v->knock && !strcmp(membership, "knock")) {
		/* SPEC: rooms/v7#authorization-rules rule 4.7; rooms/v10 adds knock_restricted */
		if (!eq(join_rule, "knock") &&
		    !(v->knock_restricted && eq(join_rule, "knock_restricted")))
			DENY("the join rule does not allow knocking");
		if (strcmp(c->sender, target))
			DENY("cannot knock on behalf of another user");
		if (eq(sender_m, "ban") || eq(sender_m, "invite") || eq(sender_m, "join"))
			DENY("a banned, invited or joined user cannot knock");
		return 0;
	}
	DENY("unknown membership");
}

static const char *const pl_named[] = {
	"users_default", "events_default", "state_default", "ban", "redact", "kick", "invite",
};

/*
 * SPEC: rooms/v1#authorization-rules rules 10.4-10.7 (v10: 9.6-9.9) for one
 * map of the power levels: "events", "notifications" (strict: a change at
 * a level above the sender's) or "users" (a change to anyone else at or
 * above the sender's level). Values are compared as integers, so "50" and
 * 50 are no change. JSON null counts as a malformed value here, as in
 * Synapse's int() of it.
 */
static int check_pl_map(struct auth_ctx *c, const char *name, bool users, int64_t me,
			const char **why)
{
	const struct mx_room_version *v = c->v;
	const json_t *om, *nm, *ov, *nv;
	const char *k;
	int64_t o = 0, n = 0;

	if (pl_map(jcontent(c->pl), name, false, &om) || pl_map(c->content, name, false, &nm))
		DENY("power levels map is not an object");
	json_object_foreach((json_t *)om, k, ov) {
		nv = json_object_get(nm, k);
		if (pl_parse(v, ov, &o) || (nv && pl_parse(v, nv, &n)))
			DENY("invalid power level value");
		if (nv && n == o)
			continue;
		if (users ? (strcmp(k, c->sender) && o >= me) : o > me)
			DENY(users ? "cannot change the power level of a user at or above your own"
				   : "cannot change a power level that is above your own");
		if (nv && n > me)
			DENY("cannot set a power level above your own");
	}
	json_object_foreach((json_t *)nm, k, nv) {
		if (json_object_get(om, k))
			continue;
		if (pl_parse(v, nv, &n))
			DENY("invalid power level value");
		if (n > me)
			DENY("cannot set a power level above your own");
	}
	return 0;
}

/* SPEC: rooms/v1#authorization-rules rule 10; rooms/v10 rule 9; rooms/v12 rule 10. */
static int check_power_levels(struct auth_ctx *c, int64_t me, const char **why)
{
	const struct mx_room_version *v = c->v;
	const json_t *users, *m, *x, *oc, *ov, *nv;
	const char *k;
	int64_t o = 0, n = 0;

	if (v->integer_power_levels) {
		/* SPEC: rooms/v10#authorization-rules rules 9.1, 9.2 */
		for (size_t i = 0; i < sizeof(pl_named) / sizeof(pl_named[0]); i++) {
			x = json_object_get(c->content, pl_named[i]);
			if (x && !json_is_integer(x))
				DENY("power levels must be integers in this room version");
		}
		static const char *const maps[] = {"events", "notifications"};
		for (size_t i = 0; i < 2; i++) {
			m = json_object_get(c->content, maps[i]);
			if (!m)
				continue;
			if (!json_is_object(m))
				DENY("power levels events/notifications is not an object");
			json_object_foreach((json_t *)m, k, x)
				if (!json_is_integer(x))
					DENY("power levels must be integers in this room version");
		}
	}
	/* SPEC: rooms/v1 rule 10.1; rooms/v10 rule 9.3 */
	users = json_object_get(c->content, "users");
	if (users && !json_is_object(users))
		DENY("power levels users is not an object");
	json_object_foreach((json_t *)users, k, x) {
		if (!user_id_valid(k, strlen(k)))
			DENY("power levels users has a key that is not a user id");
		if (pl_parse(v, x, &n))
			DENY("power levels users has a value that is not an integer");
	}
	/* SPEC: rooms/v12#authorization-rules rule 10.4 (looked up creator by
	 * creator: both lists can be long, their product must not matter). */
	if (creators_infinite(v) && users) {
		const json_t *ac = json_object_get(jcontent(c->create), "additional_creators");
		const char *cs = jstr(c->create, "sender");
		size_t i;
		if (cs && json_object_get(users, cs))
			DENY("room creators cannot be listed in power levels users");
		if (json_is_array(ac))
			json_array_foreach(ac, i, x)
				if (json_is_string(x) && json_object_get(users, json_string_value(x)))
					DENY("room creators cannot be listed in power levels users");
	}
	/* SPEC: rooms/v1 rule 10.2 */
	if (!c->pl)
		return 0;
	/* SPEC: rooms/v1 rule 10.3 */
	oc = jcontent(c->pl);
	for (size_t i = 0; i < sizeof(pl_named) / sizeof(pl_named[0]); i++) {
		ov = json_object_get(oc, pl_named[i]);
		nv = json_object_get(c->content, pl_named[i]);
		if (!ov && !nv)
			continue;
		if ((ov && pl_parse(v, ov, &o)) || (nv && pl_parse(v, nv, &n)))
			DENY("invalid power level value");
		if (ov && nv && o == n)
			continue;
		if ((ov && o > me) || (nv && n > me))
			DENY("cannot change a power level above your own");
	}
	/* SPEC: rooms/v1 rules 10.4, 10.5; rooms/v6 adds notifications */
	if (check_pl_map(c, "events", false, me, why))
		return MX_EFORBIDDEN;
	if (notifications_checked(v) && check_pl_map(c, "notifications", false, me, why))
		return MX_EFORBIDDEN;
	/* SPEC: rooms/v1 rules 10.6, 10.7 */
	return check_pl_map(c, "users", true, me, why);
}

static int check(struct auth_ctx *c, const char **why)
{
	const struct mx_room_version *v = c->v;
	const json_t *sk;
	int64_t me, need;

	if (!json_is_object(c->ev))
		DENY("event is not an object");
	c->type = jstr(c->ev, "type");
	c->sender = jstr(c->ev, "sender");
	if (!c->type || !c->sender)
		DENY("event lacks a type or sender");
	sk = json_object_get(c->ev, "state_key");
	if (sk && !json_is_string(sk))
		DENY("state_key is not a string");
	c->state_key = json_string_value(sk);
	c->content = jcontent(c->ev);
	if (!c->content)
		DENY("event content is not an object");

	/* SPEC: rooms/v1 rule 1 */
	if (!strcmp(c->type, T_CREATE))
		return check_create(c, why);

	c->room_id = jstr(c->ev, "room_id");
	if (!c->room_id)
		DENY("event has no room_id");
	/* SPEC: rooms/v1 rule 2.4 (v12: implied by rule 2, checked by the caller) */
	c->create = sget(c, T_CREATE, "");
	if (!c->create)
		DENY("no m.room.create event in the room state");

	/* SPEC: rooms/v1 rule 3 */
	if (json_is_false(json_object_get(jcontent(c->create), "m.federate"))) {
		const char *a = id_domain(c->sender), *b = id_domain(jstr(c->create, "sender"));
		if (!a || !b || strcmp(a, b))
			DENY("the room does not federate with the sender's server");
	}

	/* SPEC: rooms/v1 rule 4 (removed in v6) */
	if (v->special_aliases_auth && !strcmp(c->type, T_ALIASES)) {
		if (!c->state_key)
			DENY("m.room.aliases needs a state_key");
		if (!eq(id_domain(c->sender), c->state_key))
			DENY("m.room.aliases state_key must be the sender's server");
		return 0;
	}

	c->pl = sget(c, T_POWER_LEVELS, "");

	/* SPEC: rooms/v1 rule 5 */
	if (!strcmp(c->type, T_MEMBER))
		return check_member(c, why);

	/* SPEC: rooms/v1 rule 6 */
	if (!eq(membership_of(c, c->sender), "join"))
		DENY("the sender is not in the room");
	if (level_of(c, c->sender, &me))
		DENY("invalid power level in the room state");

	/* SPEC: rooms/v1 rule 7 */
	if (!strcmp(c->type, T_TPI)) {
		if (named_level(v, c->pl, "invite", &need))
			DENY("invalid power level in the room state");
		if (me >= need)
			return 0;
		DENY("the sender's power level is below the invite level");
	}

	/* SPEC: rooms/v1 rule 8 */
	if (send_level(v, c->pl, c->type, c->state_key != NULL, false, &need))
		DENY("invalid power level in the room state");
	if (need > me)
		DENY("the sender's power level is too low to send this event");

	/* SPEC: rooms/v1 rule 9 */
	if (c->state_key && c->state_key[0] == '@' && strcmp(c->state_key, c->sender))
		DENY("state_key starting with '@' must be the sender");

	/* SPEC: rooms/v1 rule 10 */
	if (!strcmp(c->type, T_POWER_LEVELS))
		return check_power_levels(c, me, why);

	/* SPEC: rooms/v1 rule 11 (v3+: checked when the redaction is applied) */
	if (redaction_auth(v) && !strcmp(c->type, T_REDACTION)) {
		if (named_level(v, c->pl, "redact", &need))
			DENY("invalid power level in the room state");
		if (me >= need)
			return 0;
		const char *a = id_domain(jstr(c->ev, "event_id"));
		const char *b = id_domain(jstr(c->ev, "redacts"));
		if (a && b && !strcmp(a, b))
			return 0;
		DENY("the sender cannot redact events of other servers");
	}
	return 0;
}

int mx_auth_check(const struct mx_room_version *v, const json_t *event,
		  const struct mx_auth_state *state, const char **why)
{
	struct auth_ctx c = {.v = v, .ev = event, .st = state};
	const char *reason = NULL;
	int rc;

	if (why)
		*why = NULL;
	if (!v || !event)
		return MX_EINVALID;
	rc = check(&c, &reason);
	if (rc == 0 && c.foreign) {
		rc = MX_EFORBIDDEN;
		reason = "an auth event belongs to another room";
	}
	if (rc && why)
		*why = reason;
	return rc;
}

/* --- auth events selection ------------------------------------------------- */

static void add_key(struct mx_auth_key *out, size_t max, size_t *n, const char *type,
		    const char *state_key)
{
	if (!state_key)
		return;
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(out[i].type, type) && !strcmp(out[i].state_key, state_key))
			return;
	if (*n < max)
		out[(*n)++] = (struct mx_auth_key){type, state_key};
}

/* SPEC: server-server-api#auth-events-selection */
size_t mx_auth_event_types(const struct mx_room_version *v, const json_t *event,
			   struct mx_auth_key *out, size_t max)
{
	const char *type, *membership;
	const json_t *content;
	size_t n = 0;

	if (!v || !json_is_object(event) || !out)
		return 0;
	type = jstr(event, "type");
	if (eq(type, T_CREATE))
		return 0;
	if (v->create_in_auth_events)
		add_key(out, max, &n, T_CREATE, "");
	add_key(out, max, &n, T_POWER_LEVELS, "");
	add_key(out, max, &n, T_MEMBER, jstr(event, "sender"));
	if (!eq(type, T_MEMBER))
		return n;
	content = jcontent(event);
	membership = jstr(content, "membership");
	add_key(out, max, &n, T_MEMBER, jstr(event, "state_key"));
	if (eq(membership, "join") || eq(membership, "invite") || eq(membership, "knock"))
		add_key(out, max, &n, T_JOIN_RULES, "");
	if (eq(membership, "invite")) {
		const json_t *tpi = json_object_get(content, "third_party_invite");
		add_key(out, max, &n, T_TPI, jstr(json_object_get(tpi, "signed"), "token"));
	}
	if (eq(membership, "join") && v->restricted_join)
		add_key(out, max, &n, T_MEMBER, jstr(content, K_AUTHORISER));
	return n;
}

/* --- helpers for the rest of the server ------------------------------------ */

bool mx_auth_is_creator(const struct mx_room_version *v, const json_t *create_event,
			const char *user_id)
{
	return v && is_creator(v, create_event, user_id);
}

int64_t mx_auth_user_power(const struct mx_room_version *v, const json_t *power_levels,
			   const json_t *create_event, const char *user_id)
{
	int64_t out = 0;
	if (!v || !user_id)
		return 0;
	if (!json_is_object(power_levels))
		power_levels = NULL;
	user_level(v, power_levels, create_event, user_id, true, &out);
	return out;
}

int64_t mx_auth_event_power(const struct mx_room_version *v, const json_t *power_levels,
			    const char *event_type, bool is_state)
{
	int64_t out = is_state ? 50 : 0;
	if (!v || !event_type)
		return out;
	send_level(v, json_is_object(power_levels) ? power_levels : NULL, event_type, is_state,
		   true, &out);
	return out;
}
