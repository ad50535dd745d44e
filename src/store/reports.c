/* SPDX-License-Identifier: Apache-2.0 */
/* Content reports: one row per report, stamped with the time it arrived. */
#include "store/reports.h"

#include "core/clock.h"
#include "db/db.h"

struct mx_report_job {
	const char *room_id, *event_id, *user_id, *reason, *target;
	bool has_score;
	int64_t score, ts;
};

static int mx_store_report_event_job(struct mx_db_conn *c, void *arg)
{
	struct mx_report_job *j = arg;
	if (j->has_score)
		return mx_db_run(c,
				 "INSERT INTO event_reports (room_id, event_id, user_id, reason, score, ts)"
				 " VALUES (?, ?, ?, ?, ?, ?)",
				 "ssssii", j->room_id, j->event_id, j->user_id, j->reason, j->score,
				 j->ts);
	return mx_db_run(c,
			 "INSERT INTO event_reports (room_id, event_id, user_id, reason, score, ts)"
			 " VALUES (?, ?, ?, ?, NULL, ?)",
			 "ssssi", j->room_id, j->event_id, j->user_id, j->reason, j->ts);
}

int mx_store_report_event(struct mx_db *db, const char *room_id, const char *event_id,
			  const char *user_id, const char *reason, bool has_score, int64_t score)
{
	struct mx_report_job j = {.room_id = room_id, .event_id = event_id, .user_id = user_id,
				  .reason = reason, .has_score = has_score, .score = score,
				  .ts = mx_clock_now_ms()};
	return mx_db_write(db, mx_store_report_event_job, &j);
}

static int mx_store_report_user_job(struct mx_db_conn *c, void *arg)
{
	struct mx_report_job *j = arg;
	return mx_db_run(c,
			 "INSERT INTO user_reports (target_user_id, user_id, reason, ts) VALUES (?, ?, ?, ?)",
			 "sssi", j->target, j->user_id, j->reason, j->ts);
}

int mx_store_report_user(struct mx_db *db, const char *target, const char *user_id,
			 const char *reason)
{
	struct mx_report_job j = {.target = target, .user_id = user_id, .reason = reason,
				  .ts = mx_clock_now_ms()};
	return mx_db_write(db, mx_store_report_user_job, &j);
}
