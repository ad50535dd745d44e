/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Push rules: defaults, merging, compilation and evaluation. See rules.h.
 *
 * A rule set is compiled once (per user, cached by push.c) into plain C
 * structures: key paths split, glob patterns decoded into case-folded code
 * points, actions reduced to notify/highlight/sound. Evaluating an event
 * for a user then costs a few hash lookups per condition and one pass of a
 * small NFA over each matched string, with no allocation for short values.
 */
#include "push/rules.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/error.h"
#include "core/mem.h"

/* The spec writes these placeholders into the default rules; we fill
 * them in per user (only in the defaults, never in user rules). */
#define MX_PUSH_PH_USER_ID "[the user's Matrix ID]"
#define MX_PUSH_PH_LOCALPART "[the local part of the user's Matrix ID]"

/*
 * SPEC: client-server-api#predefined-rules, the server-default rules in
 * priority order, exactly as the spec defines them; plus the three legacy
 * body-mention rules the spec dropped in v1.17 (with their v1.16
 * definitions, placed where Synapse places them), see rules.h.
 */
static const char *const mx_push_defaults_text[MX_PUSH_KINDS] = {
	[MX_PUSH_OVERRIDE] = "["
	/* SPEC: #mrulemaster */
	"{\"rule_id\": \".m.rule.master\", \"enabled\": false, \"conditions\": [], \"actions\": []},"
	/* SPEC: #mrulesuppress_notices */
	"{\"rule_id\": \".m.rule.suppress_notices\", \"enabled\": true, \"conditions\": ["
	"  {\"kind\": \"event_match\", \"key\": \"content.msgtype\", \"pattern\": \"m.notice\"}],"
	" \"actions\": []},"
	/* SPEC: #mruleinvite_for_me */
	"{\"rule_id\": \".m.rule.invite_for_me\", \"enabled\": true, \"conditions\": ["
	"  {\"key\": \"type\", \"kind\": \"event_match\", \"pattern\": \"m.room.member\"},"
	"  {\"key\": \"content.membership\", \"kind\": \"event_match\", \"pattern\": \"invite\"},"
	"  {\"key\": \"state_key\", \"kind\": \"event_match\", \"pattern\": \"" MX_PUSH_PH_USER_ID "\"}],"
	" \"actions\": [\"notify\", {\"set_tweak\": \"sound\", \"value\": \"default\"}]},"
	/* SPEC: #mrulemember_event */
	"{\"rule_id\": \".m.rule.member_event\", \"enabled\": true, \"conditions\": ["
	"  {\"key\": \"type\", \"kind\": \"event_match\", \"pattern\": \"m.room.member\"}],"
	" \"actions\": []},"
	/* SPEC: #_m_rule_is_user_mention */
	"{\"rule_id\": \".m.rule.is_user_mention\", \"enabled\": true, \"conditions\": ["
	"  {\"kind\": \"event_property_contains\", \"key\": \"content.m\\\\.mentions.user_ids\","
	"   \"value\": \"" MX_PUSH_PH_USER_ID "\"}],"
	" \"actions\": [\"notify\", {\"set_tweak\": \"sound\", \"value\": \"default\"},"
	"  {\"set_tweak\": \"highlight\"}]},"
	/* Legacy (spec v1.16): the display name in the plain-text body. */
	"{\"rule_id\": \".m.rule.contains_display_name\", \"enabled\": true, \"conditions\": ["
	"  {\"kind\": \"contains_display_name\"}],"
	" \"actions\": [\"notify\", {\"set_tweak\": \"sound\", \"value\": \"default\"},"
	"  {\"set_tweak\": \"highlight\"}]},"
	/* SPEC: #_m_rule_is_room_mention */
	"{\"rule_id\": \".m.rule.is_room_mention\", \"enabled\": true, \"conditions\": ["
	"  {\"kind\": \"event_property_is\", \"key\": \"content.m\\\\.mentions.room\", \"value\": true},"
	"  {\"kind\": \"sender_notification_permission\", \"key\": \"room\"}],"
	" \"actions\": [\"notify\", {\"set_tweak\": \"highlight\"}]},"
	/* Legacy (spec v1.16): "@room" in the plain-text body. */
	"{\"rule_id\": \".m.rule.roomnotif\", \"enabled\": true, \"conditions\": ["
	"  {\"kind\": \"event_match\", \"key\": \"content.body\", \"pattern\": \"@room\"},"
	"  {\"kind\": \"sender_notification_permission\", \"key\": \"room\"}],"
	" \"actions\": [\"notify\", {\"set_tweak\": \"highlight\"}]},"
	/* SPEC: #mruletombstone */
	"{\"rule_id\": \".m.rule.tombstone\", \"enabled\": true, \"conditions\": ["
	"  {\"kind\": \"event_match\", \"key\": \"type\", \"pattern\": \"m.room.tombstone\"},"
	"  {\"kind\": \"event_match\", \"key\": \"state_key\", \"pattern\": \"\"}],"
	" \"actions\": [\"notify\", {\"set_tweak\": \"highlight\"}]},"
	/* SPEC: #mrulereaction */
	"{\"rule_id\": \".m.rule.reaction\", \"enabled\": true, \"conditions\": ["
	"  {\"kind\": \"event_match\", \"key\": \"type\", \"pattern\": \"m.reaction\"}],"
	" \"actions\": []},"
	/* SPEC: #mruleroomserver_acl */
	"{\"rule_id\": \".m.rule.room.server_acl\", \"enabled\": true, \"conditions\": ["
	"  {\"kind\": \"event_match\", \"key\": \"type\", \"pattern\": \"m.room.server_acl\"},"
	"  {\"kind\": \"event_match\", \"key\": \"state_key\", \"pattern\": \"\"}],"
	" \"actions\": []},"
	/* SPEC: #mrulesuppress_edits */
	"{\"rule_id\": \".m.rule.suppress_edits\", \"enabled\": true, \"conditions\": ["
	"  {\"kind\": \"event_property_is\", \"key\": \"content.m\\\\.relates_to.rel_type\","
	"   \"value\": \"m.replace\"}],"
	" \"actions\": []}"
	"]",
	[MX_PUSH_CONTENT] = "["
	/* Legacy (spec v1.16): the user's localpart in the plain-text body. */
	"{\"rule_id\": \".m.rule.contains_user_name\", \"enabled\": true,"
	" \"pattern\": \"" MX_PUSH_PH_LOCALPART "\","
	" \"actions\": [\"notify\", {\"set_tweak\": \"sound\", \"value\": \"default\"},"
	"  {\"set_tweak\": \"highlight\"}]}"
	"]",
	[MX_PUSH_ROOM] = "[]",
	[MX_PUSH_SENDER] = "[]",
	[MX_PUSH_UNDERRIDE] = "["
	/* SPEC: #mrulecall */
	"{\"rule_id\": \".m.rule.call\", \"enabled\": true, \"conditions\": ["
	"  {\"key\": \"type\", \"kind\": \"event_match\", \"pattern\": \"m.call.invite\"}],"
	" \"actions\": [\"notify\", {\"set_tweak\": \"sound\", \"value\": \"ring\"}]},"
	/* SPEC: #mruleencrypted_room_one_to_one */
	"{\"rule_id\": \".m.rule.encrypted_room_one_to_one\", \"enabled\": true, \"conditions\": ["
	"  {\"kind\": \"room_member_count\", \"is\": \"2\"},"
	"  {\"kind\": \"event_match\", \"key\": \"type\", \"pattern\": \"m.room.encrypted\"}],"
	" \"actions\": [\"notify\", {\"set_tweak\": \"sound\", \"value\": \"default\"}]},"
	/* SPEC: #mruleroom_one_to_one */
	"{\"rule_id\": \".m.rule.room_one_to_one\", \"enabled\": true, \"conditions\": ["
	"  {\"kind\": \"room_member_count\", \"is\": \"2\"},"
	"  {\"kind\": \"event_match\", \"key\": \"type\", \"pattern\": \"m.room.message\"}],"
	" \"actions\": [\"notify\", {\"set_tweak\": \"sound\", \"value\": \"default\"}]},"
	/* SPEC: #mrulemessage */
	"{\"rule_id\": \".m.rule.message\", \"enabled\": true, \"conditions\": ["
	"  {\"kind\": \"event_match\", \"key\": \"type\", \"pattern\": \"m.room.message\"}],"
	" \"actions\": [\"notify\"]},"
	/* SPEC: #mruleencrypted */
	"{\"rule_id\": \".m.rule.encrypted\", \"enabled\": true, \"conditions\": ["
	"  {\"kind\": \"event_match\", \"key\": \"type\", \"pattern\": \"m.room.encrypted\"}],"
	" \"actions\": [\"notify\"]}"
	"]",
};

static const char *const mx_push_kind_names[MX_PUSH_KINDS] = {
	"override", "content", "room", "sender", "underride",
};

const char *mx_push_kind_name(int kind)
{
	return kind >= 0 && kind < MX_PUSH_KINDS ? mx_push_kind_names[kind] : NULL;
}

int mx_push_kind_parse(const char *s)
{
	for (int k = 0; s && k < MX_PUSH_KINDS; k++)
		if (!strcmp(s, mx_push_kind_names[k]))
			return k;
	return -1;
}

/* ---- text: UTF-8 code points, case folding, word characters ---- */

/* Next code point of s (advancing *p); malformed bytes read as U+FFFD. */
static uint32_t mx_push_utf8_next(const unsigned char **p)
{
	const unsigned char *s = *p;
	utf8proc_int32_t cp;
	utf8proc_ssize_t n = utf8proc_iterate(s, -1, &cp);
	if (n <= 0) {
		*p = s + 1;
		return 0xFFFD;
	}
	*p = s + n;
	return (uint32_t)cp;
}

/* The spec leaves "case-insensitive" to the server: Unicode simple
 * lower-casing, as Synapse's regexes with IGNORECASE do. */
static uint32_t mx_push_fold(uint32_t cp)
{
	return (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
}

/* SPEC: push conditions: word characters are [A-Za-z0-9_]. */
static bool mx_push_is_word(uint32_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* Decode and fold s into out (capacity cap); the number of code points,
 * which may exceed cap (then only cap were written). */
static size_t mx_push_decode(const char *s, uint32_t *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;
	while (*p) {
		uint32_t c = mx_push_fold(mx_push_utf8_next(&p));
		if (n < cap)
			out[n] = c;
		n++;
	}
	return n;
}

/* ---- glob patterns ---- */

enum { MX_GLOB_LIT, MX_GLOB_ONE, MX_GLOB_STAR };

struct mx_glob_tok {
	uint32_t cp;
	uint8_t kind;
};

/*
 * Compile pattern (literal: '*' and '?' are plain characters) into out
 * (capacity cap). Runs of '*' collapse. Returns the token count, or
 * SIZE_MAX if it does not fit.
 */
static size_t mx_glob_compile(const char *pattern, bool literal, struct mx_glob_tok *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)pattern;
	size_t n = 0;
	while (*p) {
		uint32_t c = mx_push_utf8_next(&p);
		uint8_t kind = MX_GLOB_LIT;
		if (!literal && c == '*')
			kind = MX_GLOB_STAR;
		else if (!literal && c == '?')
			kind = MX_GLOB_ONE;
		if (kind == MX_GLOB_STAR && n && out[n - 1].kind == MX_GLOB_STAR)
			continue;
		if (n == cap)
			return SIZE_MAX;
		out[n].kind = kind;
		out[n].cp = kind == MX_GLOB_LIT ? mx_push_fold(c) : 0;
		n++;
	}
	return n;
}

/* A match may start at pos: the value's start, or next to a non-word character. */
static bool mx_glob_can_start(const uint32_t *s, size_t n, size_t pos)
{
	return pos == 0 || pos == n || !mx_push_is_word(s[pos - 1]) || !mx_push_is_word(s[pos]);
}

static bool mx_glob_can_end(const uint32_t *s, size_t n, size_t pos)
{
	return pos == 0 || pos == n || !mx_push_is_word(s[pos]) || !mx_push_is_word(s[pos - 1]);
}

/* Add state q (and what a '*' at q lets through) to a list stamped stamp. */
static size_t mx_glob_add(const struct mx_glob_tok *t, size_t m, uint32_t *mark, size_t *list,
			  size_t n, size_t q, uint32_t stamp)
{
	for (;;) {
		if (mark[q] == stamp)
			return n;
		mark[q] = stamp;
		list[n++] = q;
		if (q < m && t[q].kind == MX_GLOB_STAR)
			q++;
		else
			return n;
	}
}

#define MX_GLOB_STACK 64

/*
 * Run the pattern's NFA over s. Whole value: one start at 0, accept at n.
 * Words: a start at every boundary, accept at any boundary. Time is
 * O(n * active states), memory O(m); no backtracking blow-up.
 */
static bool mx_glob_run(const struct mx_glob_tok *t, size_t m, const uint32_t *s, size_t n,
			bool words)
{
	uint32_t mark_s[MX_GLOB_STACK + 1];
	size_t a_s[MX_GLOB_STACK + 1], b_s[MX_GLOB_STACK + 1];
	uint32_t *mark = mark_s;
	size_t *cur = a_s, *nxt = b_s;
	if (m > MX_GLOB_STACK) {
		mark = mx_xmalloc((m + 1) * sizeof(*mark));
		cur = mx_xmalloc((m + 1) * sizeof(*cur));
		nxt = mx_xmalloc((m + 1) * sizeof(*nxt));
	}
	memset(mark, 0, (m + 1) * sizeof(*mark));
	uint32_t stamp = 1;
	size_t nc = 0;
	bool ok = false;
	for (size_t pos = 0;; pos++) {
		if (words ? mx_glob_can_start(s, n, pos) : pos == 0)
			nc = mx_glob_add(t, m, mark, cur, nc, 0, stamp);
		if (nc && mark[m] == stamp && (words ? mx_glob_can_end(s, n, pos) : pos == n)) {
			ok = true;
			break;
		}
		if (pos == n || (!nc && !words))
			break;
		uint32_t c = s[pos], ns = stamp + 1;
		size_t nn = 0;
		for (size_t i = 0; i < nc; i++) {
			size_t q = cur[i];
			if (q == m)
				continue;
			if (t[q].kind == MX_GLOB_STAR)
				nn = mx_glob_add(t, m, mark, nxt, nn, q, ns);
			else if (t[q].kind == MX_GLOB_ONE || t[q].cp == c)
				nn = mx_glob_add(t, m, mark, nxt, nn, q + 1, ns);
		}
		size_t *tmp = cur;
		cur = nxt;
		nxt = tmp;
		nc = nn;
		stamp = ns;
	}
	if (m > MX_GLOB_STACK) {
		free(mark);
		free(cur);
		free(nxt);
	}
	return ok;
}

/* Match compiled tokens against a UTF-8 string. */
static bool mx_glob_match_str(const struct mx_glob_tok *t, size_t m, const char *s, bool words)
{
	uint32_t buf[256];
	size_t n = mx_push_decode(s, buf, MX_ARRAY_LEN(buf));
	if (n <= MX_ARRAY_LEN(buf))
		return mx_glob_run(t, m, buf, n, words);
	uint32_t *big = mx_xmalloc(n * sizeof(*big));
	mx_push_decode(s, big, n);
	bool ok = mx_glob_run(t, m, big, n, words);
	free(big);
	return ok;
}

/* Match a pattern given as text (compiled on the fly) against code points. */
static bool mx_glob_match_cps(const char *pattern, bool literal, const uint32_t *s, size_t n,
			      bool words)
{
	struct mx_glob_tok buf[128];
	size_t m = mx_glob_compile(pattern, literal, buf, MX_ARRAY_LEN(buf));
	if (m != SIZE_MAX)
		return mx_glob_run(buf, m, s, n, words);
	size_t cap = strlen(pattern);
	struct mx_glob_tok *big = mx_xmalloc(cap * sizeof(*big));
	m = mx_glob_compile(pattern, literal, big, cap);
	bool ok = mx_glob_run(big, m, s, n, words);
	free(big);
	return ok;
}

bool mx_push_glob_match(const char *pattern, const char *text, bool words)
{
	if (!pattern || !text)
		return false;
	size_t cap = strlen(text) + 1;
	uint32_t *s = mx_xmalloc(cap * sizeof(*s));
	size_t n = mx_push_decode(text, s, cap);
	bool ok = mx_glob_match_cps(pattern, false, s, n, words);
	free(s);
	return ok;
}

/* ---- compiled rules ---- */

enum mx_push_cond_kind {
	MX_COND_EVENT_MATCH,
	MX_COND_PROPERTY_IS,
	MX_COND_PROPERTY_CONTAINS,
	MX_COND_DISPLAY_NAME,
	MX_COND_MEMBER_COUNT,
	MX_COND_SENDER_PERMISSION,
	MX_COND_ROOM_IS,   /* room rules: the rule id is the room */
	MX_COND_SENDER_IS, /* sender rules: the rule id is the sender */
	MX_COND_NEVER,     /* unknown or malformed: the rule never matches */
};

enum mx_push_subst { MX_SUBST_NONE, MX_SUBST_USER_ID, MX_SUBST_LOCALPART };

enum mx_push_cmp { MX_CMP_EQ, MX_CMP_LT, MX_CMP_GT, MX_CMP_LE, MX_CMP_GE };

struct mx_push_cond {
	enum mx_push_cond_kind kind;
	char **path;               /* the key, split at unescaped dots */
	size_t n_path;
	bool body;                 /* key is content.body: word matching */
	struct mx_glob_tok *pat;   /* event_match */
	size_t n_pat;
	enum mx_push_subst subst;  /* the pattern or value is the user's id/localpart */
	json_t *value;             /* event_property_is/contains */
	enum mx_push_cmp cmp;      /* room_member_count */
	int64_t count;
	char *str;                 /* permission key, room or sender id */
};

struct mx_push_rule {
	int kind;
	char *rule_id;
	bool is_default;
	bool enabled;
	bool legacy;               /* a body-mention rule: off when m.mentions is present */
	struct mx_push_cond *conds;
	size_t n_conds;
	json_t *actions;
	bool notify, highlight;
	const char *sound;         /* borrowed from actions */
	json_t *conditions;        /* as given, for clients (override/underride) */
	char *pattern;             /* content rules */
};

struct mx_push_rules {
	atomic_int refs;
	struct mx_push_rule *rules;
	size_t n;
	bool need_display_name;
};

static void mx_push_cond_release(struct mx_push_cond *c)
{
	for (size_t i = 0; i < c->n_path; i++)
		free(c->path[i]);
	free(c->path);
	free(c->pat);
	json_decref(c->value);
	free(c->str);
}

static void mx_push_rule_release(struct mx_push_rule *r)
{
	for (size_t i = 0; i < r->n_conds; i++)
		mx_push_cond_release(&r->conds[i]);
	free(r->conds);
	free(r->rule_id);
	json_decref(r->actions);
	json_decref(r->conditions);
	free(r->pattern);
}

/*
 * SPEC: appendices#dot-separated-property-paths: split key at dots that
 * are not escaped; "\." is a dot and "\\" a backslash inside a name, any
 * other backslash is literal.
 */
static bool mx_push_split_path(const char *key, struct mx_push_cond *c)
{
	size_t len = strlen(key);
	if (!len || len > MX_PUSH_PATTERN_MAX)
		return false;
	char *seg = mx_xmalloc(len + 1);
	size_t sn = 0, cap = 4;
	c->path = mx_xmalloc(cap * sizeof(char *));
	c->n_path = 0;
	for (const char *p = key;; p++) {
		if (*p == '\\' && (p[1] == '.' || p[1] == '\\')) {
			seg[sn++] = *++p;
			continue;
		}
		if (*p == '.' || !*p) {
			if (c->n_path == cap) {
				cap *= 2;
				c->path = mx_xrealloc(c->path, cap * sizeof(char *));
			}
			c->path[c->n_path++] = mx_xstrndup(seg, sn);
			sn = 0;
			if (!*p)
				break;
			continue;
		}
		seg[sn++] = *p;
	}
	free(seg);
	c->body = c->n_path == 2 && !strcmp(c->path[0], "content") && !strcmp(c->path[1], "body");
	return true;
}

/* SPEC: push conditions: "non-compound canonical JSON values". */
static bool mx_push_simple_value(const json_t *v)
{
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		return i >= -(((json_int_t)1 << 53) - 1) && i <= ((json_int_t)1 << 53) - 1;
	}
	return json_is_string(v) || json_is_boolean(v) || json_is_null(v);
}

/* SPEC: room_member_count "is": an optional ==, <, >, >= or <= then a decimal integer. */
static bool mx_push_parse_is(const char *s, enum mx_push_cmp *cmp, int64_t *count)
{
	static const struct {
		const char *prefix;
		enum mx_push_cmp cmp;
	} ops[] = {{"==", MX_CMP_EQ}, {">=", MX_CMP_GE}, {"<=", MX_CMP_LE},
		   {"<", MX_CMP_LT},  {">", MX_CMP_GT}};
	*cmp = MX_CMP_EQ;
	for (size_t i = 0; i < MX_ARRAY_LEN(ops); i++) {
		size_t n = strlen(ops[i].prefix);
		if (!strncmp(s, ops[i].prefix, n)) {
			*cmp = ops[i].cmp;
			s += n;
			break;
		}
	}
	if (!*s || strlen(s) > 15)
		return false;
	int64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (*s - '0');
	}
	*count = v;
	return true;
}

/* Compile one condition object; anything unusable becomes MX_COND_NEVER. */
static void mx_push_cond_compile(const json_t *cj, bool is_default, struct mx_push_cond *c)
{
	memset(c, 0, sizeof(*c));
	c->kind = MX_COND_NEVER;
	const char *kind = json_string_value(json_object_get(cj, "kind"));
	const char *key = json_string_value(json_object_get(cj, "key"));
	const json_t *value = json_object_get(cj, "value");
	if (!kind)
		return;
	if (!strcmp(kind, "event_match")) {
		const char *pattern = json_string_value(json_object_get(cj, "pattern"));
		if (!key || !pattern || strlen(pattern) > MX_PUSH_PATTERN_MAX || !mx_push_split_path(key, c))
			return;
		if (is_default && !strcmp(pattern, MX_PUSH_PH_USER_ID))
			c->subst = MX_SUBST_USER_ID;
		else if (is_default && !strcmp(pattern, MX_PUSH_PH_LOCALPART))
			c->subst = MX_SUBST_LOCALPART;
		else {
			size_t cap = strlen(pattern) + 1;
			c->pat = mx_xmalloc(cap * sizeof(*c->pat));
			c->n_pat = mx_glob_compile(pattern, false, c->pat, cap);
		}
		c->kind = MX_COND_EVENT_MATCH;
	} else if (!strcmp(kind, "event_property_is") || !strcmp(kind, "event_property_contains")) {
		if (!key || !value || !mx_push_simple_value(value) || !mx_push_split_path(key, c))
			return;
		if (is_default && json_is_string(value) &&
		    !strcmp(json_string_value(value), MX_PUSH_PH_USER_ID))
			c->subst = MX_SUBST_USER_ID;
		c->value = json_incref((json_t *)value);
		c->kind = !strcmp(kind, "event_property_is") ? MX_COND_PROPERTY_IS : MX_COND_PROPERTY_CONTAINS;
	} else if (!strcmp(kind, "contains_display_name")) {
		c->kind = MX_COND_DISPLAY_NAME;
	} else if (!strcmp(kind, "room_member_count")) {
		const char *is = json_string_value(json_object_get(cj, "is"));
		if (is && mx_push_parse_is(is, &c->cmp, &c->count))
			c->kind = MX_COND_MEMBER_COUNT;
	} else if (!strcmp(kind, "sender_notification_permission")) {
		if (key) {
			c->str = mx_xstrdup(key);
			c->kind = MX_COND_SENDER_PERMISSION;
		}
	}
}

/* notify/highlight/sound of an actions array (already validated). */
static void mx_push_rule_set_actions(struct mx_push_rule *r, json_t *actions)
{
	json_decref(r->actions);
	r->actions = actions;
	r->notify = r->highlight = false;
	r->sound = NULL;
	size_t i;
	json_t *a;
	json_array_foreach (actions, i, a) {
		if (json_is_string(a) && !strcmp(json_string_value(a), "notify")) {
			r->notify = true;
			continue;
		}
		const char *tweak = json_string_value(json_object_get(a, "set_tweak"));
		json_t *v = json_object_get(a, "value");
		if (!tweak)
			continue;
		/* SPEC: #actions: highlight without a value means true. */
		if (!strcmp(tweak, "highlight"))
			r->highlight = !v || json_is_true(v);
		else if (!strcmp(tweak, "sound"))
			r->sound = json_string_value(v);
	}
}

static bool mx_push_is_legacy(const char *rule_id)
{
	return !strcmp(rule_id, ".m.rule.contains_display_name") ||
	       !strcmp(rule_id, ".m.rule.roomnotif") || !strcmp(rule_id, ".m.rule.contains_user_name");
}

/*
 * Compile a rule of kind from its JSON (a default template or a stored
 * user rule). actions must be valid already. Returns false for a rule
 * that cannot be used at all (then r holds nothing).
 */
static bool mx_push_rule_compile(int kind, const json_t *rj, bool is_default, json_t *actions,
				 bool enabled, struct mx_push_rule *r)
{
	memset(r, 0, sizeof(*r));
	const char *rule_id = json_string_value(json_object_get(rj, "rule_id"));
	if (!rule_id || !actions)
		return false;
	r->kind = kind;
	r->rule_id = mx_xstrdup(rule_id);
	r->is_default = is_default;
	r->enabled = enabled;
	r->legacy = is_default && mx_push_is_legacy(rule_id);
	mx_push_rule_set_actions(r, json_incref(actions));
	if (kind == MX_PUSH_OVERRIDE || kind == MX_PUSH_UNDERRIDE) {
		json_t *conds = json_object_get(rj, "conditions");
		if (conds && !json_is_array(conds)) {
			mx_push_rule_release(r);
			return false; /* malformed: dropped rather than matching everything */
		}
		r->conditions = conds ? json_incref(conds) : json_array();
		r->n_conds = json_array_size(r->conditions);
		r->conds = mx_xcalloc(r->n_conds ? r->n_conds : 1, sizeof(*r->conds));
		for (size_t i = 0; i < r->n_conds; i++)
			mx_push_cond_compile(json_array_get(r->conditions, i), is_default, &r->conds[i]);
	} else if (kind == MX_PUSH_CONTENT) {
		const char *pattern = json_string_value(json_object_get(rj, "pattern"));
		if (!pattern) {
			mx_push_rule_release(r);
			return false;
		}
		r->pattern = mx_xstrdup(pattern);
		json_t *cj = json_pack("{s:s, s:s, s:s}", "kind", "event_match", "key", "content.body",
				       "pattern", pattern);
		r->conds = mx_xcalloc(1, sizeof(*r->conds));
		r->n_conds = 1;
		mx_push_cond_compile(cj, is_default, &r->conds[0]);
		json_decref(cj);
	} else {
		r->conds = mx_xcalloc(1, sizeof(*r->conds));
		r->n_conds = 1;
		r->conds[0].kind = kind == MX_PUSH_ROOM ? MX_COND_ROOM_IS : MX_COND_SENDER_IS;
		r->conds[0].str = mx_xstrdup(rule_id);
	}
	return true;
}

/* stored.global[kind] if it is an array, else NULL. */
static json_t *mx_push_stored_kind(const json_t *stored, int kind)
{
	json_t *a = json_object_get(json_object_get(stored, "global"), mx_push_kind_names[kind]);
	return json_is_array(a) ? a : NULL;
}

/* The stored entry of rule_id in arr, its index in *idx. */
static json_t *mx_push_find(const json_t *arr, const char *rule_id, size_t *idx)
{
	size_t i;
	json_t *e;
	json_array_foreach (arr, i, e) {
		const char *id = json_string_value(json_object_get(e, "rule_id"));
		if (id && !strcmp(id, rule_id)) {
			if (idx)
				*idx = i;
			return e;
		}
	}
	return NULL;
}

static json_t *mx_push_defaults(int kind)
{
	json_t *v = json_loads(mx_push_defaults_text[kind], 0, NULL);
	if (!json_is_array(v))
		MX_BUG("bad default push rules");
	return v;
}

static void mx_push_rules_append(struct mx_push_rules *rs, size_t *cap, struct mx_push_rule *r)
{
	if (rs->n == *cap) {
		*cap = *cap ? *cap * 2 : 32;
		rs->rules = mx_xrealloc(rs->rules, *cap * sizeof(*rs->rules));
	}
	rs->rules[rs->n++] = *r;
	if (r->enabled)
		for (size_t i = 0; i < r->n_conds; i++)
			if (r->conds[i].kind == MX_COND_DISPLAY_NAME)
				rs->need_display_name = true;
}

/* A default rule with the user's changes to enabled/actions applied. */
static void mx_push_add_default(struct mx_push_rules *rs, size_t *cap, int kind, const json_t *d,
				const json_t *stored_arr)
{
	const char *id = json_string_value(json_object_get(d, "rule_id"));
	const json_t *ov = stored_arr ? mx_push_find(stored_arr, id, NULL) : NULL;
	bool enabled = json_is_true(json_object_get(d, "enabled"));
	json_t *en = json_object_get(ov, "enabled");
	if (json_is_boolean(en))
		enabled = json_is_true(en);
	json_t *actions = NULL;
	if (!ov || mx_push_actions_validate(json_object_get(ov, "actions"), &actions, NULL))
		actions = json_incref(json_object_get(d, "actions"));
	struct mx_push_rule r;
	if (mx_push_rule_compile(kind, d, true, actions, enabled, &r))
		mx_push_rules_append(rs, cap, &r);
	json_decref(actions);
}

/* The user's own rules of a kind, in stored order (duplicates and invalid ones skipped). */
static void mx_push_add_user(struct mx_push_rules *rs, size_t *cap, int kind, const json_t *arr)
{
	size_t i;
	json_t *e;
	json_array_foreach (arr, i, e) {
		const char *id = json_string_value(json_object_get(e, "rule_id"));
		if (!id || !id[0] || id[0] == '.' || mx_push_find(arr, id, NULL) != e)
			continue;
		json_t *actions;
		if (mx_push_actions_validate(json_object_get(e, "actions"), &actions, NULL))
			continue;
		json_t *en = json_object_get(e, "enabled");
		struct mx_push_rule r;
		if (mx_push_rule_compile(kind, e, false, actions, !json_is_false(en), &r))
			mx_push_rules_append(rs, cap, &r);
		json_decref(actions);
	}
}

struct mx_push_rules *mx_push_rules_new(const json_t *stored)
{
	struct mx_push_rules *rs = mx_xcalloc(1, sizeof(*rs));
	atomic_init(&rs->refs, 1);
	size_t cap = 0;
	for (int k = 0; k < MX_PUSH_KINDS; k++) {
		json_t *defs = mx_push_defaults(k), *arr = mx_push_stored_kind(stored, k);
		size_t i = 0;
		/* SPEC: .m.rule.master is "always a higher priority than other rules, even user defined ones". */
		if (k == MX_PUSH_OVERRIDE)
			mx_push_add_default(rs, &cap, k, json_array_get(defs, i++), arr);
		mx_push_add_user(rs, &cap, k, arr);
		for (; i < json_array_size(defs); i++)
			mx_push_add_default(rs, &cap, k, json_array_get(defs, i), arr);
		json_decref(defs);
	}
	return rs;
}

struct mx_push_rules *mx_push_rules_ref(struct mx_push_rules *r)
{
	atomic_fetch_add(&r->refs, 1);
	return r;
}

void mx_push_rules_unref(struct mx_push_rules *r)
{
	if (!r || atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	for (size_t i = 0; i < r->n; i++)
		mx_push_rule_release(&r->rules[i]);
	free(r->rules);
	free(r);
}

bool mx_push_rules_need_display_name(const struct mx_push_rules *r)
{
	return r->need_display_name;
}

/* ---- the client view ---- */

/* A copy of v with the placeholders filled in (defaults only). */
static json_t *mx_push_subst_json(const json_t *v, const char *user_id, const char *localpart)
{
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		if (!strcmp(s, MX_PUSH_PH_USER_ID))
			return json_string(user_id);
		if (!strcmp(s, MX_PUSH_PH_LOCALPART))
			return json_string(localpart);
		return json_incref((json_t *)v);
	}
	if (json_is_array(v)) {
		json_t *out = json_array();
		size_t i;
		json_t *e;
		json_array_foreach (v, i, e)
			json_array_append_new(out, mx_push_subst_json(e, user_id, localpart));
		return out;
	}
	if (json_is_object(v)) {
		json_t *out = json_object();
		const char *k;
		json_t *e;
		json_object_foreach ((json_t *)v, k, e)
			json_object_set_new(out, k, mx_push_subst_json(e, user_id, localpart));
		return out;
	}
	return json_incref((json_t *)v);
}

/* The localpart of a user id ("" if malformed), in buf. */
static const char *mx_push_localpart(const char *user_id, char *buf, size_t cap)
{
	buf[0] = '\0';
	if (!user_id || user_id[0] != '@')
		return buf;
	const char *colon = strchr(user_id, ':');
	size_t n = colon ? (size_t)(colon - user_id - 1) : strlen(user_id + 1);
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, user_id + 1, n);
	buf[n] = '\0';
	return buf;
}

static json_t *mx_push_rule_json(const struct mx_push_rule *r, const char *user_id)
{
	char lp[256];
	mx_push_localpart(user_id, lp, sizeof(lp));
	json_t *o = json_pack("{s:s, s:b, s:b, s:O}", "rule_id", r->rule_id, "default", r->is_default,
			      "enabled", r->enabled, "actions", r->actions);
	if (r->conditions)
		json_object_set_new(o, "conditions",
				    r->is_default ? mx_push_subst_json(r->conditions, user_id, lp)
						  : json_incref(r->conditions));
	if (r->pattern) {
		json_t *p = json_string(r->pattern);
		json_object_set_new(o, "pattern", r->is_default ? mx_push_subst_json(p, user_id, lp) : json_incref(p));
		json_decref(p);
	}
	return o;
}

json_t *mx_push_rules_to_json(const struct mx_push_rules *r, const char *user_id)
{
	json_t *global = json_object();
	for (int k = 0; k < MX_PUSH_KINDS; k++)
		json_object_set_new(global, mx_push_kind_names[k], json_array());
	for (size_t i = 0; i < r->n; i++)
		json_array_append_new(json_object_get(global, mx_push_kind_names[r->rules[i].kind]),
				      mx_push_rule_json(&r->rules[i], user_id));
	return json_pack("{s:o}", "global", global);
}

json_t *mx_push_rules_get(const struct mx_push_rules *r, int kind, const char *rule_id,
			  const char *user_id)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->rules[i].kind == kind && !strcmp(r->rules[i].rule_id, rule_id))
			return mx_push_rule_json(&r->rules[i], user_id);
	return NULL;
}

/* ---- evaluation ---- */

void mx_push_event_init(struct mx_push_event *e, const json_t *pdu)
{
	memset(e, 0, sizeof(*e));
	e->pdu = pdu;
	e->content = json_is_object(json_object_get(pdu, "content")) ? json_object_get(pdu, "content") : NULL;
	e->has_mentions = json_object_get(e->content, "m.mentions") != NULL;
	const char *body = json_string_value(json_object_get(e->content, "body"));
	if (body) {
		size_t cap = strlen(body) + 1;
		e->body = mx_xmalloc(cap * sizeof(*e->body));
		e->body_len = mx_push_decode(body, e->body, cap);
	}
}

void mx_push_event_release(struct mx_push_event *e)
{
	free(e->body);
	e->body = NULL;
}

static const json_t *mx_push_lookup(const json_t *pdu, const struct mx_push_cond *c)
{
	const json_t *v = pdu;
	for (size_t i = 0; v && i < c->n_path; i++)
		v = json_is_object(v) ? json_object_get(v, c->path[i]) : NULL;
	return v;
}

/* An integer in a power levels event, as a number or a numeric string (older room versions). */
static bool mx_push_int(const json_t *v, int64_t *out)
{
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return true;
	}
	const char *s = json_string_value(v);
	if (!s || !*s)
		return false;
	char *end;
	long long x = strtoll(s, &end, 10);
	if (*end)
		return false;
	*out = x;
	return true;
}

static bool mx_push_cond_holds(const struct mx_push_cond *c, const struct mx_push_event *ev,
			       const struct mx_push_user *u)
{
	switch (c->kind) {
	case MX_COND_EVENT_MATCH: {
		/* SPEC: #conditions-1 event_match: absent or non-string never matches. */
		const json_t *v = mx_push_lookup(ev->pdu, c);
		if (!json_is_string(v))
			return false;
		if (c->subst != MX_SUBST_NONE) {
			char lp[256];
			const char *pat = c->subst == MX_SUBST_USER_ID
						  ? u->user_id
						  : mx_push_localpart(u->user_id, lp, sizeof(lp));
			if (!pat || !*pat)
				return false;
			if (c->body && ev->body)
				return mx_glob_match_cps(pat, true, ev->body, ev->body_len, true);
			size_t cap = strlen(json_string_value(v)) + 1;
			uint32_t *s = mx_xmalloc(cap * sizeof(*s));
			size_t n = mx_push_decode(json_string_value(v), s, cap);
			bool ok = mx_glob_match_cps(pat, true, s, n, false);
			free(s);
			return ok;
		}
		if (c->body && ev->body)
			return mx_glob_run(c->pat, c->n_pat, ev->body, ev->body_len, true);
		return mx_glob_match_str(c->pat, c->n_pat, json_string_value(v), c->body);
	}
	case MX_COND_PROPERTY_IS: {
		const json_t *v = mx_push_lookup(ev->pdu, c);
		if (!v || !mx_push_simple_value(v))
			return false;
		if (c->subst == MX_SUBST_USER_ID)
			return json_is_string(v) && u->user_id && !strcmp(json_string_value(v), u->user_id);
		return json_equal(v, c->value);
	}
	case MX_COND_PROPERTY_CONTAINS: {
		const json_t *arr = mx_push_lookup(ev->pdu, c);
		if (!json_is_array(arr))
			return false;
		size_t i;
		json_t *e;
		json_array_foreach (arr, i, e) {
			if (!mx_push_simple_value(e))
				continue; /* SPEC: "Array values not of those types are ignored." */
			if (c->subst == MX_SUBST_USER_ID) {
				if (json_is_string(e) && u->user_id && !strcmp(json_string_value(e), u->user_id))
					return true;
			} else if (json_equal(e, c->value))
				return true;
		}
		return false;
	}
	case MX_COND_DISPLAY_NAME:
		/* The display name as a whole word (or words) of the body, literally. */
		if (!ev->body || !u->display_name || !u->display_name[0])
			return false;
		return mx_glob_match_cps(u->display_name, true, ev->body, ev->body_len, true);
	case MX_COND_MEMBER_COUNT:
		switch (c->cmp) {
		case MX_CMP_EQ: return u->member_count == c->count;
		case MX_CMP_LT: return u->member_count < c->count;
		case MX_CMP_GT: return u->member_count > c->count;
		case MX_CMP_LE: return u->member_count <= c->count;
		case MX_CMP_GE: return u->member_count >= c->count;
		}
		return false;
	case MX_COND_SENDER_PERMISSION: {
		/* SPEC: m.room.power_levels: notifications.room defaults to 50. */
		int64_t need;
		const json_t *n = json_object_get(json_object_get(u->power_levels, "notifications"), c->str);
		if (!mx_push_int(n, &need)) {
			if (strcmp(c->str, "room") != 0)
				return false;
			need = 50;
		}
		return u->sender_power >= need;
	}
	case MX_COND_ROOM_IS: {
		const char *room = json_string_value(json_object_get(ev->pdu, "room_id"));
		return room && !strcmp(room, c->str);
	}
	case MX_COND_SENDER_IS: {
		const char *sender = json_string_value(json_object_get(ev->pdu, "sender"));
		return sender && !strcmp(sender, c->str);
	}
	case MX_COND_NEVER:
		return false;
	}
	return false;
}

void mx_push_rules_eval(const struct mx_push_rules *r, const struct mx_push_event *ev,
			const struct mx_push_user *u, struct mx_push_actions *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < r->n; i++) {
		const struct mx_push_rule *rule = &r->rules[i];
		if (!rule->enabled || (rule->legacy && ev->has_mentions))
			continue;
		size_t c = 0;
		while (c < rule->n_conds && mx_push_cond_holds(&rule->conds[c], ev, u))
			c++;
		if (c < rule->n_conds)
			continue;
		out->matched = true;
		out->notify = rule->notify;
		out->highlight = rule->highlight;
		out->sound = rule->sound;
		out->rule_id = rule->rule_id;
		out->actions = rule->actions;
		return;
	}
}

/* ---- validation and editing ---- */

int mx_push_actions_validate(const json_t *actions, json_t **clean, const char **why)
{
	const char *dummy;
	if (!why)
		why = &dummy;
	*clean = NULL;
	if (!json_is_array(actions)) {
		*why = "actions must be an array";
		return MX_EBADJSON;
	}
	if (json_array_size(actions) > MX_PUSH_MAX_ACTIONS) {
		*why = "too many actions";
		return MX_EBADJSON;
	}
	json_t *out = json_array();
	size_t i;
	json_t *a;
	json_array_foreach (actions, i, a) {
		const char *s = json_string_value(a);
		if (s) {
			/* SPEC: #historical-actions: dont_notify and coalesce are stripped. */
			if (!strcmp(s, "dont_notify") || !strcmp(s, "coalesce"))
				continue;
			if (!strcmp(s, "notify")) {
				json_array_append(out, a);
				continue;
			}
		} else if (json_is_object(a)) {
			const char *tweak = json_string_value(json_object_get(a, "set_tweak"));
			json_t *v = json_object_get(a, "value");
			if (tweak && *tweak && strlen(tweak) <= MX_PUSH_RULE_ID_MAX &&
			    (strcmp(tweak, "highlight") != 0 || !v || json_is_boolean(v)) &&
			    (strcmp(tweak, "sound") != 0 || !v || json_is_string(v))) {
				json_array_append(out, a);
				continue;
			}
			json_decref(out);
			*why = "a set_tweak action needs a set_tweak name (a highlight value is a boolean, a sound value a string)";
			return MX_EBADJSON;
		}
		json_decref(out);
		*why = "unrecognised action";
		return MX_EBADJSON;
	}
	*clean = out;
	return 0;
}

/* A condition a client sends: known kinds with their parameters. */
static int mx_push_condition_validate(const json_t *c, const char **why)
{
	const char *kind = json_string_value(json_object_get(c, "kind"));
	if (!json_is_object(c) || !kind) {
		*why = "each condition must be an object with a kind";
		return MX_EBADJSON;
	}
	const json_t *key = json_object_get(c, "key");
	bool keyed = !strcmp(kind, "event_match") || !strcmp(kind, "event_property_is") ||
		     !strcmp(kind, "event_property_contains") ||
		     !strcmp(kind, "sender_notification_permission");
	if (keyed && (!json_is_string(key) || !json_string_length(key) ||
		      json_string_length(key) > MX_PUSH_PATTERN_MAX)) {
		*why = "the condition needs a key";
		return MX_EBADJSON;
	}
	if (!strcmp(kind, "event_match")) {
		const json_t *p = json_object_get(c, "pattern");
		if (!json_is_string(p) || json_string_length(p) > MX_PUSH_PATTERN_MAX) {
			*why = "event_match needs a pattern";
			return MX_EBADJSON;
		}
	} else if (!strcmp(kind, "event_property_is") || !strcmp(kind, "event_property_contains")) {
		const json_t *v = json_object_get(c, "value");
		if (!v || !mx_push_simple_value(v)) {
			*why = "the condition's value must be a string, an integer, a boolean or null";
			return MX_EBADJSON;
		}
	} else if (!strcmp(kind, "room_member_count")) {
		const char *is = json_string_value(json_object_get(c, "is"));
		enum mx_push_cmp cmp;
		int64_t n;
		if (!is || !mx_push_parse_is(is, &cmp, &n)) {
			*why = "room_member_count needs \"is\": an optional ==, <, >, <= or >= and a number";
			return MX_EBADJSON;
		}
	}
	/* Other kinds are kept: they never match (SPEC: "Unrecognised
	 * conditions MUST NOT match any events"). */
	return 0;
}

static bool mx_push_utf8_valid(const char *s)
{
	json_t *v = json_string(s);
	json_decref(v);
	return v != NULL;
}

/* SPEC: put_matrixclientv3pushrulesglobalkindruleid: the ruleId parameter. */
static int mx_push_rule_id_check(int kind, const char *rule_id, const char **why)
{
	size_t n = strlen(rule_id);
	if (!n || n > MX_PUSH_RULE_ID_MAX || !mx_push_utf8_valid(rule_id)) {
		*why = "rule_id must be 1-255 bytes of UTF-8";
		return MX_EINVALIDPARAM;
	}
	if (rule_id[0] == '.') {
		*why = "rule_ids starting with '.' are reserved for server-default rules";
		return MX_EINVALIDPARAM;
	}
	if (strchr(rule_id, '/') || strchr(rule_id, '\\')) {
		*why = "rule_id may not contain slashes or backslashes";
		return MX_EINVALIDPARAM;
	}
	/* SPEC: #push-rules: room rules are named by the room, sender rules by the user. */
	if (kind == MX_PUSH_ROOM && rule_id[0] != '!') {
		*why = "the rule_id of a room rule is a room ID";
		return MX_EINVALIDPARAM;
	}
	if (kind == MX_PUSH_SENDER && (rule_id[0] != '@' || !strchr(rule_id, ':'))) {
		*why = "the rule_id of a sender rule is a user ID";
		return MX_EINVALIDPARAM;
	}
	return 0;
}

/* stored.global[kind], created (and repaired) as needed. */
static json_t *mx_push_stored_kind_mut(json_t *stored, int kind)
{
	json_t *g = json_object_get(stored, "global");
	if (!json_is_object(g)) {
		g = json_object();
		json_object_set_new(stored, "global", g);
	}
	json_t *a = json_object_get(g, mx_push_kind_names[kind]);
	if (!json_is_array(a)) {
		a = json_array();
		json_object_set_new(g, mx_push_kind_names[kind], a);
	}
	return a;
}

bool mx_push_is_default_rule(int kind, const char *rule_id)
{
	if (kind < 0 || kind >= MX_PUSH_KINDS || !rule_id || rule_id[0] != '.')
		return false;
	json_t *defs = mx_push_defaults(kind);
	bool found = mx_push_find(defs, rule_id, NULL) != NULL;
	json_decref(defs);
	return found;
}

static size_t mx_push_count_user_rules(const json_t *stored)
{
	size_t n = 0;
	for (int k = 0; k < MX_PUSH_KINDS; k++) {
		size_t i;
		json_t *e;
		json_array_foreach (mx_push_stored_kind(stored, k), i, e) {
			const char *id = json_string_value(json_object_get(e, "rule_id"));
			if (id && id[0] != '.')
				n++;
		}
	}
	return n;
}

int mx_push_stored_put(json_t *stored, int kind, const char *rule_id, const json_t *body,
		       const char *before, const char *after, const char **why)
{
	if (kind < 0 || kind >= MX_PUSH_KINDS) {
		*why = "unknown rule kind";
		return MX_EINVALIDPARAM;
	}
	int rc = mx_push_rule_id_check(kind, rule_id, why);
	if (rc)
		return rc;
	if (!json_is_object(body)) {
		*why = "the body must be an object";
		return MX_EBADJSON;
	}
	json_t *actions;
	if (!json_object_get(body, "actions")) {
		*why = "actions is required";
		return MX_EBADJSON;
	}
	rc = mx_push_actions_validate(json_object_get(body, "actions"), &actions, why);
	if (rc)
		return rc;
	json_t *rule = json_pack("{s:s, s:o}", "rule_id", rule_id, "actions", actions);
	if (kind == MX_PUSH_OVERRIDE || kind == MX_PUSH_UNDERRIDE) {
		json_t *conds = json_object_get(body, "conditions");
		if (conds && !json_is_array(conds)) {
			*why = "conditions must be an array";
			rc = MX_EBADJSON;
			goto out;
		}
		if (json_array_size(conds) > MX_PUSH_MAX_CONDITIONS) {
			*why = "too many conditions";
			rc = MX_EBADJSON;
			goto out;
		}
		size_t i;
		json_t *c;
		json_array_foreach (conds, i, c)
			if ((rc = mx_push_condition_validate(c, why)))
				goto out;
		json_object_set_new(rule, "conditions", conds ? json_deep_copy(conds) : json_array());
	} else if (kind == MX_PUSH_CONTENT) {
		json_t *p = json_object_get(body, "pattern");
		if (!json_is_string(p) || json_string_length(p) > MX_PUSH_PATTERN_MAX) {
			*why = "a content rule needs a pattern";
			rc = MX_EBADJSON;
			goto out;
		}
		json_object_set(rule, "pattern", p);
	}
	json_t *arr = mx_push_stored_kind_mut(stored, kind);
	size_t old_idx = 0;
	json_t *old = mx_push_find(arr, rule_id, &old_idx);
	json_object_set_new(rule, "enabled", json_boolean(!old || !json_is_false(json_object_get(old, "enabled"))));
	const char *rel = before ? before : after;
	size_t rel_idx = 0;
	if (rel) {
		if (rel[0] == '.') {
			*why = "a rule cannot be placed relative to a server-default rule";
			rc = MX_EBADREQUEST;
			goto out;
		}
		if (!strcmp(rel, rule_id) || !mx_push_find(arr, rel, NULL)) {
			*why = "before/after rule not found";
			rc = MX_EBADREQUEST;
			goto out;
		}
	}
	if (!old && mx_push_count_user_rules(stored) >= MX_PUSH_MAX_USER_RULES) {
		*why = "too many push rules";
		rc = MX_EBADREQUEST;
		goto out;
	}
	size_t at = 0;
	if (old)
		json_array_remove(arr, old_idx);
	if (rel) {
		mx_push_find(arr, rel, &rel_idx);
		at = before ? rel_idx : rel_idx + 1;
	} else if (old) {
		at = old_idx; /* an update keeps its place */
	}
	json_array_insert(arr, at, rule);
	rc = 0;
out:
	json_decref(rule);
	return rc;
}

int mx_push_stored_delete(json_t *stored, int kind, const char *rule_id, const char **why)
{
	if (kind < 0 || kind >= MX_PUSH_KINDS) {
		*why = "unknown rule kind";
		return MX_EINVALIDPARAM;
	}
	if (rule_id[0] == '.') {
		if (!mx_push_is_default_rule(kind, rule_id))
			return MX_ENOTFOUND;
		*why = "server-default rules cannot be deleted";
		return MX_EBADREQUEST;
	}
	json_t *arr = mx_push_stored_kind(stored, kind);
	size_t idx;
	if (!arr || !mx_push_find(arr, rule_id, &idx))
		return MX_ENOTFOUND;
	json_array_remove(arr, idx);
	return 0;
}

/* The stored entry to change for (kind, rule_id): a user rule, or the
 * (new) entry recording changes to a default rule. NULL: no such rule. */
static json_t *mx_push_stored_target(json_t *stored, int kind, const char *rule_id)
{
	if (kind < 0 || kind >= MX_PUSH_KINDS || !rule_id)
		return NULL;
	if (rule_id[0] == '.') {
		if (!mx_push_is_default_rule(kind, rule_id))
			return NULL;
		json_t *arr = mx_push_stored_kind_mut(stored, kind);
		json_t *e = mx_push_find(arr, rule_id, NULL);
		if (!e) {
			e = json_pack("{s:s}", "rule_id", rule_id);
			json_array_append_new(arr, e);
		}
		return e;
	}
	return mx_push_find(mx_push_stored_kind(stored, kind), rule_id, NULL);
}

int mx_push_stored_set_enabled(json_t *stored, int kind, const char *rule_id, bool enabled)
{
	json_t *e = mx_push_stored_target(stored, kind, rule_id);
	if (!e)
		return MX_ENOTFOUND;
	json_object_set_new(e, "enabled", json_boolean(enabled));
	return 0;
}

int mx_push_stored_set_actions(json_t *stored, int kind, const char *rule_id,
			       const json_t *actions, const char **why)
{
	json_t *clean;
	int rc = mx_push_actions_validate(actions, &clean, why);
	if (rc)
		return rc;
	json_t *e = mx_push_stored_target(stored, kind, rule_id);
	if (!e) {
		json_decref(clean);
		return MX_ENOTFOUND;
	}
	json_object_set_new(e, "actions", clean);
	return 0;
}
