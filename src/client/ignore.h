/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ignoring users: the m.ignored_user_list global account data of the
 * requesting user, read once per request (per run of a parked /sync) and
 * consulted by the timelines of /sync and /messages and by /sync's
 * invites.
 * SPEC: client-server-api#ignoring-users
 */
#ifndef MX_CLIENT_IGNORE_H
#define MX_CLIENT_IGNORE_H

#include <stdbool.h>

struct mx_req;

/* The account data type holding the list. */
#define MX_IGNORED_USER_LIST "m.ignored_user_list"

/*
 * Whether the requesting user ignores sender (a key of the list's
 * "ignored_users" object). Never true for the user themself or when
 * unauthenticated; a missing or malformed list ignores nobody.
 */
bool mx_ignored(struct mx_req *req, const char *sender);
/* Forget the cached list (a resumed /sync reads it again). */
void mx_ignored_reset(struct mx_req *req);

#endif
