/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The notifier: where waiting /sync requests park until something for
 * their user happens or their timeout passes. An idle long-poll is a
 * suspended connection and costs no CPU; a wake-up resumes it at once.
 *
 * Lost wake-ups are avoided with per-user sequence numbers: a handler
 * reads mx_notifier_seq() before computing its answer and passes it to
 * mx_notifier_park(), which refuses to park if the user was woken since.
 */
#ifndef MX_SYNC_NOTIFIER_H
#define MX_SYNC_NOTIFIER_H

#include <stddef.h>
#include <stdint.h>

struct mx_notifier;
struct mx_req;

struct mx_notifier *mx_notifier_new(void);
/*
 * Resume every parked request and refuse new parks (so long-polls answer
 * at once during a graceful stop); stops the deadline thread.
 */
void mx_notifier_shutdown(struct mx_notifier *n);
/* Shut down if needed, then free. */
void mx_notifier_free(struct mx_notifier *n);

/* The user's wake-up sequence number (0 if never woken). */
uint64_t mx_notifier_seq(struct mx_notifier *n, const char *user_id);

/*
 * Park req for user_id until a wake-up or deadline_ms (monotonic). Returns
 * 0 when parked (the handler then returns MX_ESUSPENDED), or MX_ECONFLICT
 * if the user's sequence moved past seen (compute again instead).
 */
int mx_notifier_park(struct mx_notifier *n, struct mx_req *req, const char *user_id,
		     uint64_t seen, int64_t deadline_ms);
/* Forget req if it is still parked (called when a request ends). */
void mx_notifier_unpark(struct mx_notifier *n, struct mx_req *req);

/* Wake every parked request of these users and bump their sequences. */
void mx_notifier_wake(struct mx_notifier *n, const char *const *user_ids, size_t count);

/* How many requests are parked (benchmarks, tests). */
size_t mx_notifier_parked(struct mx_notifier *n);

#endif
