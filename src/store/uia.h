/* SPDX-License-Identifier: Apache-2.0 */
/* User-interactive auth sessions and registration tokens. */
#ifndef MX_STORE_UIA_H
#define MX_STORE_UIA_H

#include <stdbool.h>
#include <stdint.h>

struct mx_arena;
struct mx_db;
struct mx_db_conn;

struct mx_uia_session {
	const char *purpose;
	const char *user_id;    /* NULL for registration */
	const char *completed;  /* JSON array text of completed stage types */
	const char *params;     /* JSON text pinned at creation, or NULL */
	int64_t created_ts;
};

int mx_store_uia_create(struct mx_db *db, const char *session_id, const char *purpose,
			const char *user_id, const char *params);
/* MX_ENOTFOUND if unknown. */
int mx_store_uia_get(struct mx_db_conn *c, struct mx_arena *a, const char *session_id,
		     struct mx_uia_session *out);
/* Replace the completed-stages list. */
int mx_store_uia_set_completed(struct mx_db *db, const char *session_id, const char *completed);
int mx_store_uia_delete(struct mx_db *db, const char *session_id);

/* SPEC: client-server-api#token-authenticated-registration */
bool mx_store_regtoken_valid(struct mx_db_conn *c, const char *token, int64_t now_ms);
/* Count a pending use of a token (when its UIA stage completes). */
int mx_store_regtoken_add_pending(struct mx_db *db, const char *token);

#endif
