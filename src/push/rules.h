/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Push rules: the server-default rule set, the user's own rules merged
 * with it, and the evaluator that turns an event into actions (notify,
 * highlight, sound) for one user. Everything here is pure: no database, no
 * locks, so it can be unit-tested and fuzzed on its own.
 * SPEC: client-server-api#push-rules
 *
 * Storage format. A user's rules live in global account data of type
 * m.push_rules as {"global": {"override": [...], "content": [...],
 * "room": [...], "sender": [...], "underride": [...]}} (Synapse's shape),
 * holding only what the user changed:
 *  - user-defined rules, complete ({rule_id, enabled, actions, conditions
 *    or pattern}), most important first;
 *  - for server-default rules (rule_id starting with '.') only the fields
 *    the user changed: {rule_id, enabled} and/or {rule_id, actions}.
 * The default rules themselves are merged in at read time, so a newer
 * server's defaults reach every user.
 *
 * Order of evaluation (SPEC: client-server-api#predefined-rules):
 * .m.rule.master, then per kind override, content, room, sender,
 * underride, the user's rules of a kind before the server's.
 *
 * The spec (v1.17) removed the "legacy" mention rules that look into the
 * plain-text body (.m.rule.contains_display_name, .m.rule.roomnotif,
 * .m.rule.contains_user_name). We keep them as Synapse does, because
 * clients that do not send m.mentions (matrix-js-sdk's sendTextMessage,
 * bridges, bots) would otherwise never highlight anyone; like Synapse they
 * are skipped for events whose content has an "m.mentions" property.
 */
#ifndef MX_PUSH_RULES_H
#define MX_PUSH_RULES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The global account data type holding a user's rules. */
#define MX_PUSH_RULES_TYPE "m.push_rules"

/* Limits on what a user may store (each refused with MX_EBADREQUEST). */
#define MX_PUSH_MAX_USER_RULES 500  /* user-defined rules, all kinds */
#define MX_PUSH_MAX_CONDITIONS 32   /* per rule */
#define MX_PUSH_MAX_ACTIONS 32      /* per rule */
#define MX_PUSH_RULE_ID_MAX 255     /* bytes */
#define MX_PUSH_PATTERN_MAX 1024    /* bytes of a glob pattern or key */
#define MX_PUSH_STORED_MAX (1024 * 1024) /* bytes of a user's stored rules */

enum mx_push_kind {
	MX_PUSH_OVERRIDE = 0,
	MX_PUSH_CONTENT,
	MX_PUSH_ROOM,
	MX_PUSH_SENDER,
	MX_PUSH_UNDERRIDE,
	MX_PUSH_KINDS
};

/* "override", ... for a kind; NULL for an out-of-range value. */
const char *mx_push_kind_name(int kind);
/* The kind named s, or -1. */
int mx_push_kind_parse(const char *s);

/* ---- compiled rule sets ---- */

/*
 * A compiled, immutable rule set: the defaults merged with one user's
 * stored rules. Reference-counted (atomically), so a cache can hand it to
 * several threads.
 */
struct mx_push_rules;

/*
 * Compile the defaults merged with stored (the m.push_rules content, or
 * NULL for none). Malformed stored entries are skipped, never fatal: the
 * user keeps the defaults. Caller owns the one reference.
 */
struct mx_push_rules *mx_push_rules_new(const json_t *stored);
struct mx_push_rules *mx_push_rules_ref(struct mx_push_rules *r);
void mx_push_rules_unref(struct mx_push_rules *r);

/* True if some enabled rule uses contains_display_name (so the caller
 * needs the user's display name at all). */
bool mx_push_rules_need_display_name(const struct mx_push_rules *r);

/*
 * The rules as clients see them: {"global": {"override": [...], ...}}
 * with every rule's rule_id, default, enabled, actions and conditions or
 * pattern; the defaults' placeholders filled in for user_id. New reference.
 */
json_t *mx_push_rules_to_json(const struct mx_push_rules *r, const char *user_id);
/* One rule in that form (new reference), or NULL if there is none. */
json_t *mx_push_rules_get(const struct mx_push_rules *r, int kind, const char *rule_id,
			  const char *user_id);

/* ---- evaluation ---- */

/*
 * An event prepared once for evaluation against many users: its PDU
 * (borrowed, must outlive it) and its body case-folded. Release with
 * mx_push_event_release().
 */
struct mx_push_event {
	const json_t *pdu;
	const json_t *content;
	bool has_mentions;      /* content has "m.mentions": legacy rules are off */
	uint32_t *body;         /* content.body as folded code points, or NULL */
	size_t body_len;
};
void mx_push_event_init(struct mx_push_event *e, const json_t *pdu);
void mx_push_event_release(struct mx_push_event *e);

/* What one user's evaluation needs besides the event. */
struct mx_push_user {
	const char *user_id;
	const char *display_name;    /* in this room; NULL or "" if none */
	int64_t member_count;        /* joined members of the room */
	int64_t sender_power;        /* the sender's power level in the room */
	const json_t *power_levels;  /* content of m.room.power_levels, or NULL */
};

struct mx_push_actions {
	bool matched;           /* some enabled rule matched */
	bool notify;
	bool highlight;
	const char *sound;      /* set_tweak sound value, or NULL */
	const char *rule_id;    /* the matching rule (borrowed from the rules) */
	const json_t *actions;  /* its actions array (borrowed from the rules) */
};

/*
 * Evaluate the rules for one user: the first enabled rule (in priority
 * order) whose conditions all hold gives the actions. No match: nothing
 * set but matched = false. The caller excludes the event's own sender
 * (SPEC: "Homeservers MUST NOT notify ... for events that the user has
 * sent themselves").
 */
void mx_push_rules_eval(const struct mx_push_rules *r, const struct mx_push_event *ev,
			const struct mx_push_user *u, struct mx_push_actions *out);

/* ---- editing the stored rules (the /pushrules API) ---- */

/*
 * Each edits stored (an m.push_rules content object, changed in place)
 * and returns 0, MX_ENOTFOUND when the rule does not exist, or another
 * MX_E* with a reason in *why (static or borrowed from the input):
 * MX_EINVALIDPARAM for a bad kind or rule id, MX_EBADJSON for a malformed
 * body, MX_EBADREQUEST for a request that cannot be honoured (unknown
 * before/after rule, a server-default rule there, too many rules).
 */

/*
 * SPEC: client-server-api#put_matrixclientv3pushrulesglobalkindruleid
 * Create or replace the user-defined rule (kind, rule_id) from body
 * ({actions, conditions?, pattern?}); before/after (may be NULL) place it
 * relative to another user-defined rule of the kind; a new rule without
 * them becomes the most important of its kind, a replaced one keeps its
 * place and its enabled flag.
 */
int mx_push_stored_put(json_t *stored, int kind, const char *rule_id, const json_t *body,
		       const char *before, const char *after, const char **why);
/* Delete a user-defined rule; server-default ones cannot be (MX_EBADREQUEST). */
int mx_push_stored_delete(json_t *stored, int kind, const char *rule_id, const char **why);
/* Enable or disable any rule, user-defined or server-default. */
int mx_push_stored_set_enabled(json_t *stored, int kind, const char *rule_id, bool enabled);
/* Replace the actions of any rule (validated as for put). */
int mx_push_stored_set_actions(json_t *stored, int kind, const char *rule_id,
			       const json_t *actions, const char **why);
/* True if (kind, rule_id) is a server-default rule. */
bool mx_push_is_default_rule(int kind, const char *rule_id);

/*
 * Validate an actions array; on success *clean is a new array without the
 * historical "dont_notify" and "coalesce" (SPEC: #historical-actions).
 */
int mx_push_actions_validate(const json_t *actions, json_t **clean, const char **why);

/* ---- matching primitives (exported for tests and other modules) ---- */

/*
 * SPEC: appendices#glob-style-matching: does the glob pattern match text,
 * case-insensitively? Whole value, or with words set any substring that
 * starts and ends at a word boundary (SPEC: push conditions, content.body).
 */
bool mx_push_glob_match(const char *pattern, const char *text, bool words);

#endif
