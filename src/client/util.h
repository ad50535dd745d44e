/* SPDX-License-Identifier: Apache-2.0 */
/* Identifier checks and body-field helpers shared by the client handlers. */
#ifndef MX_CLIENT_UTIL_H
#define MX_CLIENT_UTIL_H

#include <jansson.h>
#include <stdbool.h>

struct mx_req;

/* SPEC: appendices#user-identifiers: localpart of a new account. */
bool mx_client_localpart_valid(const char *localpart);
/*
 * Any syntactically acceptable user id (historical localparts allowed,
 * length <= 255, server name valid).
 */
bool mx_client_user_id_valid(const char *user_id);
/* The server name part of a user/room/event id (after the first ':'), or NULL. */
const char *mx_client_id_server(const char *id);
/* True if user_id is on this server. */
bool mx_client_is_local(struct mx_req *req, const char *user_id);
/*
 * Turn "alice", "@alice:server" or "@Alice:server" into our canonical
 * "@alice:server" (localparts are lower-cased, as Synapse does at login).
 * NULL if it names another server or is malformed. Lives in the arena.
 */
const char *mx_client_qualify_user(struct mx_req *req, const char *user);

/* A new device id: ten upper-case letters, as Synapse makes them (arena). */
const char *mx_client_new_device_id(struct mx_req *req);

/*
 * Optional typed body fields: return 0 and set *out (NULL/false/def when
 * absent); on a wrong type reply M_BAD_JSON naming the field and return it.
 */
int mx_client_opt_string(struct mx_req *req, json_t *obj, const char *key, const char **out);
int mx_client_opt_bool(struct mx_req *req, json_t *obj, const char *key, bool def, bool *out);

#endif
