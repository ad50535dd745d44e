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
 * servers are asked of their servers (federation query/directory), which
 * parks the request: the caller returns MX_ESUSPENDED as it is and runs
 * this again, with the same arguments, when the request resumes.
 * SPEC: client-server-api#put_matrixclientv3roomsroomidstateeventtypestatekey (400s)
 * Returns 0, MX_ESUSPENDED, or replies M_INVALID_PARAM (bad syntax,
 * alt_aliases not a list), M_BAD_ALIAS (does not point to the room) or 502
 * (another server could not be asked) and returns the error.
 */
int mx_directory_check_canonical_alias(struct mx_req *req, const char *room_id,
				       const char *state_key, const json_t *content);

#endif
