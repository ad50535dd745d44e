/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Room aliases and the published room directory (client/directory.c), and
 * the check other handlers make before an m.room.canonical_alias is sent.
 */
#ifndef MX_CLIENT_DIRECTORY_H
#define MX_CLIENT_DIRECTORY_H

#include <jansson.h>

struct mx_req;

/*
 * Before the requesting user sends m.room.canonical_alias (state_key) with
 * content to room_id: every alias the event adds (alias, if it changed,
 * and the alt_aliases entries the current event does not have, as Synapse
 * checks) must be a valid alias that maps to room_id. Aliases of other
 * servers cannot be resolved yet and are refused.
 * SPEC: client-server-api#put_matrixclientv3roomsroomidstateeventtypestatekey (400s)
 * Returns 0, or replies M_INVALID_PARAM (bad syntax, alt_aliases not a
 * list) or M_BAD_ALIAS (does not point to the room) and returns the error.
 */
int mx_directory_check_canonical_alias(struct mx_req *req, const char *room_id,
				       const char *state_key, const json_t *content);

#endif
