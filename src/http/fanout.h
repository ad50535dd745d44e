/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fan-out: one request runs several blocking tasks (requests to other
 * servers) on the job pool at once and parks until the last is done or
 * its deadline passes, whichever comes first; then its handler runs again
 * and answers with what is done.
 *
 * A task that finishes after the request answered must not touch the
 * request, which may be gone: so tasks never see the request. The fan-out
 * is refcounted, held by the request (until its arena is released) and by
 * every submitted task until it has run; tasks are freed with the last
 * reference. The request is woken through the notifier (sync/notifier.h),
 * which also resumes it at the deadline, so it is resumed exactly once
 * per park whatever the tasks do.
 *
 *	struct mx_fanout *f = mx_fanout_new(req, deadline);   (first run)
 *	mx_fanout_add(f, &my_task->base); ...
 *	state->f = f;  req->handler_state = state;
 *	return mx_fanout_wait(f, req);      (MX_ESUSPENDED: parked)
 *	...
 *	if (mx_fanout_wait(f, req) == MX_ESUSPENDED)    (every later run)
 *		return MX_ESUSPENDED;
 *	for each task: mx_fanout_done(f, t) ? use (take) its results : timed out
 *
 * Results: a task writes only into its own struct, and only while it runs;
 * once mx_fanout_done() said true the handler may read them and take them
 * over (set the task's pointers to NULL so its free function skips them).
 * A task that is not done must not be read.
 */
#ifndef MX_HTTP_FANOUT_H
#define MX_HTTP_FANOUT_H

#include <stdbool.h>
#include <stdint.h>

struct mx_fanout;
struct mx_req;

/* Embed first in the task's own struct; the fan-out owns it once added. */
struct mx_fanout_task {
	/* Runs once on a job thread; may block. Never touches the request. */
	void (*run)(struct mx_fanout_task *t);
	/* Frees the embedding struct and what it holds (any thread, once). */
	void (*free)(struct mx_fanout_task *t);
	/* the fan-out's */
	struct mx_fanout *f;
	struct mx_fanout_task *next;
	bool done;
};

/*
 * A fan-out for req whose tasks must be done by deadline_ms (monotonic).
 * req's reference is dropped when its arena is released.
 */
struct mx_fanout *mx_fanout_new(struct mx_req *req, int64_t deadline_ms);

/* Add a task (before the first mx_fanout_wait); the fan-out owns it. */
void mx_fanout_add(struct mx_fanout *f, struct mx_fanout_task *t);

/*
 * On the first call, submit every task to the job pool. Then, if every
 * task is done, the deadline has passed, or the server is stopping,
 * return 0; else park req (its handler runs again on a wake-up or at the
 * deadline) and return MX_ESUSPENDED, which the handler returns.
 */
int mx_fanout_wait(struct mx_fanout *f, struct mx_req *req);

/* True once t has run (its results may then be read). */
bool mx_fanout_done(struct mx_fanout *f, const struct mx_fanout_task *t);

#endif
