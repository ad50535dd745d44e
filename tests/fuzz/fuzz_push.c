/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer driver for push rules (src/push/rules.c): stored rules, rule
 * bodies and events all come from users, so compilation, the API's edits
 * and evaluation must take anything without crashing, leaking or taking
 * super-linear time. The input is up to four NUL-separated parts:
 * stored rules JSON, event JSON, a glob pattern, a text.
 *  - the stored rules compile and evaluate the event for two users;
 *  - the event, taken as a rule body, goes through every edit, and a
 *    rule set compiled from the edited content evaluates too;
 *  - the pattern is matched against the text, whole and by words.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "push/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next NUL-terminated part of [*p, end), copied; NULL when none is left. */
static char *next_part(const uint8_t **p, const uint8_t *end)
{
	if (*p > end)
		return NULL;
	const uint8_t *z = memchr(*p, 0, (size_t)(end - *p));
	size_t n = z ? (size_t)(z - *p) : (size_t)(end - *p);
	char *s = malloc(n + 1);
	memcpy(s, *p, n);
	s[n] = '\0';
	*p += n + 1;
	return s;
}

static void evaluate(const struct mx_push_rules *r, const json_t *pdu)
{
	struct mx_push_event ev;
	mx_push_event_init(&ev, pdu);
	struct mx_push_user users[] = {
		{.user_id = "@alice:example.org", .display_name = "Alice", .member_count = 2,
		 .sender_power = 50},
		{.user_id = "@*?:x", .display_name = "*a?", .member_count = 100, .sender_power = -1},
	};
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		struct mx_push_actions a;
		mx_push_rules_eval(r, &ev, &users[i], &a);
		if (a.matched && !a.rule_id)
			abort();
	}
	mx_push_event_release(&ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	const uint8_t *p = data, *end = data + size;
	char *stored_s = next_part(&p, end), *event_s = next_part(&p, end);
	char *pattern = next_part(&p, end), *text = next_part(&p, end);
	json_t *stored = stored_s ? json_loads(stored_s, 0, NULL) : NULL;
	json_t *pdu = event_s ? json_loads(event_s, 0, NULL) : NULL;

	struct mx_push_rules *r = mx_push_rules_new(json_is_object(stored) ? stored : NULL);
	if (pdu)
		evaluate(r, pdu);
	json_decref(mx_push_rules_to_json(r, "@alice:example.org"));
	mx_push_rules_unref(r);

	if (json_is_object(pdu)) {
		json_t *s = json_is_object(stored) ? json_deep_copy(stored) : json_object();
		const char *why = NULL;
		for (int k = -1; k <= MX_PUSH_KINDS; k++) {
			mx_push_stored_put(s, k, "r", pdu, NULL, NULL, &why);
			mx_push_stored_put(s, k, "!r:x", pdu, "r", NULL, &why);
			mx_push_stored_put(s, k, "@r:x", pdu, NULL, "r", &why);
			mx_push_stored_set_enabled(s, k, "r", false);
			mx_push_stored_set_actions(s, k, ".m.rule.message", json_object_get(pdu, "actions"), &why);
		}
		struct mx_push_rules *r2 = mx_push_rules_new(s);
		evaluate(r2, pdu);
		mx_push_rules_unref(r2);
		mx_push_stored_delete(s, MX_PUSH_OVERRIDE, "r", &why);
		json_decref(s);
	}

	if (pattern && text) {
		mx_push_glob_match(pattern, text, false);
		mx_push_glob_match(pattern, text, true);
	}
	json_decref(stored);
	json_decref(pdu);
	free(stored_s);
	free(event_s);
	free(pattern);
	free(text);
	return 0;
}
