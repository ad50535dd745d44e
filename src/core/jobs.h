/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A pool of job threads for work that may wait on the network (federation
 * requests, key fetches, remote media). An HTTP handler parks its request
 * (mx_req_suspend), submits a job, and the job resumes the request when it
 * is done: no HTTP thread ever blocks on another server (DESIGN.md,
 * "Threads").
 */
#ifndef MX_CORE_JOBS_H
#define MX_CORE_JOBS_H

#include <stddef.h>

struct mx_jobs;

typedef void (*mx_job_fn)(void *arg);

/* Start n threads (n >= 1). */
struct mx_jobs *mx_jobs_new(unsigned n);
/*
 * Run every queued job and join the threads (at shutdown, while the HTTP
 * server still runs, so parked requests are resumed and answered). Jobs
 * submitted afterwards run at once on the submitting thread.
 */
void mx_jobs_stop(struct mx_jobs *j);
/* Stop (if not yet) and free the pool. */
void mx_jobs_free(struct mx_jobs *j);
/*
 * Queue fn(arg) to run on a pool thread (FIFO). arg must stay valid until
 * fn runs; fn owns whatever it must release. Never blocks, except after
 * mx_jobs_stop, when fn runs before it returns.
 */
void mx_jobs_submit(struct mx_jobs *j, mx_job_fn fn, void *arg);
/* Jobs queued but not yet started (for back-pressure decisions). */
size_t mx_jobs_pending(struct mx_jobs *j);

#endif
