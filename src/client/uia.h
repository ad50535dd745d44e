/* SPDX-License-Identifier: Apache-2.0 */
/*
 * User-interactive authentication for the endpoints that need it
 * (register, device deletion, password change, deactivation, cross-signing).
 * SPEC: client-server-api#user-interactive-authentication-api
 */
#ifndef MX_CLIENT_UIA_H
#define MX_CLIENT_UIA_H

#include <jansson.h>
#include <stddef.h>

struct mx_req;

#define MX_UIA_PASSWORD "m.login.password"
#define MX_UIA_DUMMY "m.login.dummy"
#define MX_UIA_REGTOKEN "m.login.registration_token"

struct mx_uia_flow {
	const char *stages[3];
};

struct mx_uia_result {
	const char *session;          /* the completed session id (arena) */
	const char *registration_token; /* set if that stage was completed (arena) */
};

/*
 * Run UIA on req for an operation named purpose (a session can only be used
 * for the purpose it was created for), on behalf of user_id (the account a
 * password stage must prove; NULL for registration). Returns 0 when a flow
 * is complete, else it has sent the 401 (flows, session, completed, and an
 * errcode if the attempt failed) or another error and returns it.
 */
int mx_uia_run(struct mx_req *req, const char *purpose, const char *user_id,
	       const struct mx_uia_flow *flows, size_t n_flows, struct mx_uia_result *out);

/* Drop the session once the operation it authorised has been done. */
void mx_uia_finish(struct mx_req *req, const struct mx_uia_result *res);

/*
 * Check a password login identifier ({type: m.id.user, user} or the legacy
 * "user" field) and password; if expect_user is set the identifier must name
 * that user. On success *user_id_out is the fully-qualified id (arena).
 * On failure returns the error and sets *msg; nothing is sent. Shared by
 * /login and the password stage.
 */
int mx_uia_check_password(struct mx_req *req, const json_t *auth, const char *expect_user,
			  const char **user_id_out, const char **msg);

#endif
