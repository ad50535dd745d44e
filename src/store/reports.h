/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Content reports (SPEC: client-server-api#reporting-content): what users
 * report about events, rooms and other users, kept for the server's
 * administrators. Writes only; nothing here is shown back to clients.
 */
#ifndef MX_STORE_REPORTS_H
#define MX_STORE_REPORTS_H

#include <stdbool.h>
#include <stdint.h>

struct mx_db;

/*
 * Record that user_id reported event_id of room_id (event_id NULL: the
 * room itself). reason may be NULL; score is stored only if has_score.
 */
int mx_store_report_event(struct mx_db *db, const char *room_id, const char *event_id,
			  const char *user_id, const char *reason, bool has_score, int64_t score);

/* Record that user_id reported the (local) user target. */
int mx_store_report_user(struct mx_db *db, const char *target, const char *user_id,
			 const char *reason);

#endif
