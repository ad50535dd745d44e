/* SPDX-License-Identifier: Apache-2.0 */
/* Event and room filters. */
#include "client/filter_match.h"

#include <string.h>

bool mx_filter_glob(const char *p, const char *s)
{
	/* Iterative with one backtrack point: linear for '*'-only patterns. */
	const char *star = NULL, *ss = NULL;
	while (*s) {
		if (*p == '*') {
			star = p++;
			ss = s;
		} else if (*p == *s) {
			p++;
			s++;
		} else if (star) {
			p = star + 1;
			s = ++ss;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return !*p;
}

static bool mx_filter_list_has(const json_t *list, const char *s, bool glob)
{
	size_t i;
	json_t *v;
	json_array_foreach (list, i, v) {
		const char *p = json_string_value(v);
		if (p && (glob ? mx_filter_glob(p, s) : !strcmp(p, s)))
			return true;
	}
	return false;
}

/* Not in the "not_" list, and in the allow list when there is one. */
static bool mx_filter_pass(const json_t *filter, const char *allow, const char *deny,
			   const char *s, bool glob)
{
	if (!s)
		return true;
	if (mx_filter_list_has(json_object_get(filter, deny), s, glob))
		return false;
	json_t *a = json_object_get(filter, allow);
	return !json_is_array(a) || mx_filter_list_has(a, s, glob);
}

bool mx_filter_room_allowed(const json_t *filter, const char *room_id)
{
	return !filter || mx_filter_pass(filter, "rooms", "not_rooms", room_id, false);
}

bool mx_filter_event_matches(const json_t *filter, const char *type, const char *sender,
			     const char *room_id, const json_t *content)
{
	if (!json_is_object(filter))
		return true;
	if (!mx_filter_pass(filter, "types", "not_types", type, true) ||
	    !mx_filter_pass(filter, "senders", "not_senders", sender, false) ||
	    !mx_filter_pass(filter, "rooms", "not_rooms", room_id, false))
		return false;
	json_t *cu = json_object_get(filter, "contains_url");
	if (json_is_boolean(cu)) {
		bool has = json_is_string(json_object_get(content, "url"));
		if (has != json_is_true(cu))
			return false;
	}
	return true;
}

int mx_filter_limit(const json_t *filter, int def, int max)
{
	json_t *l = json_object_get(filter, "limit");
	int v = def;
	if (json_is_integer(l) && json_integer_value(l) > 0)
		v = json_integer_value(l) > max ? max : (int)json_integer_value(l);
	return v > max ? max : v;
}
