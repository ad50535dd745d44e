/* SPDX-License-Identifier: Apache-2.0 */
/* The table of room versions. SPEC: rooms/_index (room version grammar). */
#include "event/version.h"

#include <string.h>

#define V(id_, evid, red, auth_, sr, strict, intpl, knock_, restr, krestr, alias, keyv, creator, rid, evfield, pairs, createauth) \
	{id_, evid, red, auth_, sr, strict, intpl, knock_, restr, krestr, alias, keyv, creator, rid, evfield, pairs, createauth}

static const struct mx_room_version mx_room_versions_table[] = {
	/* id   evid         redaction      auth         state res         strict int   knock restr kres alias keyv creator rid   evid  pairs createauth */
	V("1",  MX_EVID_V1, MX_REDACT_V1,  MX_AUTH_V1,  MX_STATE_RES_V1,  false, false, false, false, false, true,  false, true,  false, true,  true,  true),
	V("2",  MX_EVID_V1, MX_REDACT_V1,  MX_AUTH_V1,  MX_STATE_RES_V2,  false, false, false, false, false, true,  false, true,  false, true,  true,  true),
	V("3",  MX_EVID_V3, MX_REDACT_V1,  MX_AUTH_V3,  MX_STATE_RES_V2,  false, false, false, false, false, true,  false, true,  false, false, false, true),
	V("4",  MX_EVID_V4, MX_REDACT_V1,  MX_AUTH_V3,  MX_STATE_RES_V2,  false, false, false, false, false, true,  false, true,  false, false, false, true),
	V("5",  MX_EVID_V4, MX_REDACT_V1,  MX_AUTH_V3,  MX_STATE_RES_V2,  false, false, false, false, false, true,  true,  true,  false, false, false, true),
	V("6",  MX_EVID_V4, MX_REDACT_V6,  MX_AUTH_V6,  MX_STATE_RES_V2,  true,  false, false, false, false, false, true,  true,  false, false, false, true),
	V("7",  MX_EVID_V4, MX_REDACT_V6,  MX_AUTH_V7,  MX_STATE_RES_V2,  true,  false, true,  false, false, false, true,  true,  false, false, false, true),
	V("8",  MX_EVID_V4, MX_REDACT_V8,  MX_AUTH_V8,  MX_STATE_RES_V2,  true,  false, true,  true,  false, false, true,  true,  false, false, false, true),
	V("9",  MX_EVID_V4, MX_REDACT_V9,  MX_AUTH_V8,  MX_STATE_RES_V2,  true,  false, true,  true,  false, false, true,  true,  false, false, false, true),
	V("10", MX_EVID_V4, MX_REDACT_V9,  MX_AUTH_V10, MX_STATE_RES_V2,  true,  true,  true,  true,  true,  false, true,  true,  false, false, false, true),
	V("11", MX_EVID_V4, MX_REDACT_V11, MX_AUTH_V11, MX_STATE_RES_V2,  true,  true,  true,  true,  true,  false, true,  false, false, false, false, true),
	V("12", MX_EVID_V4, MX_REDACT_V11, MX_AUTH_V12, MX_STATE_RES_V21, true,  true,  true,  true,  true,  false, true,  false, true,  false, false, false),
};

const char *const mx_room_version_ids[] = {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", NULL};

const struct mx_room_version *mx_room_version_get(const char *id)
{
	if (!id)
		return NULL;
	for (size_t i = 0; i < sizeof(mx_room_versions_table) / sizeof(mx_room_versions_table[0]); i++)
		if (!strcmp(mx_room_versions_table[i].id, id))
			return &mx_room_versions_table[i];
	return NULL;
}
