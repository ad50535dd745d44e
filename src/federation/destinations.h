/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The health record of each federation destination (DESIGN.md "Federation
 * manners"): consecutive failures, the backoff interval, when the next
 * attempt may be made and the last success. Every kind of outbound request
 * asks mx_fed_dests_begin() first and reports to mx_fed_dests_end() after,
 * so transactions, key fetches, queries and backfill share one backoff.
 *
 * The rule: a transport failure or a 5xx backs the destination off for
 * destination_min_retry_interval, and each further failure multiplies the
 * interval by destination_retry_multiplier up to
 * destination_max_retry_interval, stretched by a little random jitter so
 * that many servers do not retry in step. While the retry time is in the
 * future every request fails fast without touching the network. Once it
 * has passed, one request at a time goes through as a probe (the others
 * still fail fast) until one gets an answer. Any answer with a status
 * below 500, or an inbound request from the destination
 * (mx_fed_dests_seen()), resets the record.
 *
 * Times are explicit arguments (ms since the epoch: records persist across
 * restarts), so the rules are unit-tested without a clock. The table is
 * thread-safe (one mutex). Records persist through store/destinations.h
 * without waiting for durability.
 */
#ifndef MX_FEDERATION_DESTINATIONS_H
#define MX_FEDERATION_DESTINATIONS_H

#include <stdbool.h>
#include <stdint.h>

struct mx_db;
struct mx_db_conn;
struct mx_fed_dests;

/* The backoff policy (config: federation.destination_*). */
struct mx_fed_backoff {
	int64_t min_ms;     /* first interval */
	int64_t max_ms;     /* cap */
	double multiplier;  /* growth per further failure (>= 1) */
	double jitter;      /* waits are stretched by up to this fraction (0.1; 0 in tests) */
};

/* One destination's record. */
struct mx_fed_dest_state {
	int64_t failures;          /* consecutive failures; 0 = healthy */
	int64_t retry_interval_ms; /* the current interval (without jitter); 0 when healthy */
	int64_t retry_at_ms;       /* no request before this; 0 when healthy */
	int64_t last_success_ms;   /* last answered request; 0 = never */
};

/*
 * The backoff math, pure: s after a failure at now. r in [0, 1) picks the
 * jitter: the wait is interval * (1 + policy->jitter * r).
 */
void mx_fed_backoff_fail(const struct mx_fed_backoff *p, struct mx_fed_dest_state *s, int64_t now,
			 double r);
/* s after an answer at now: healthy, last success now. */
void mx_fed_backoff_reset(struct mx_fed_dest_state *s, int64_t now);

/*
 * A table of records. db may be NULL (memory only); otherwise changes are
 * saved to it without waiting. The policy is copied.
 */
struct mx_fed_dests *mx_fed_dests_new(const struct mx_fed_backoff *policy, struct mx_db *db);
void mx_fed_dests_free(struct mx_fed_dests *d);

/* Load the persisted records through c (at start-up). 0 or MX_EDB. */
int mx_fed_dests_load(struct mx_fed_dests *d, struct mx_db_conn *c);

enum mx_fed_dest_verdict {
	MX_FED_DEST_GO,         /* healthy: go ahead */
	MX_FED_DEST_PROBE,      /* backed off, retry time passed: go, as the one probe */
	MX_FED_DEST_BACKED_OFF, /* fail fast (MX_EREMOTE) without network */
};

/*
 * May a request to destination start at now? GO and PROBE must be paired
 * with exactly one mx_fed_dests_end() (passing probe = verdict == PROBE).
 * A probe that has not ended after MX_FED_DEST_PROBE_STALE_MS is presumed
 * lost and another may start.
 */
#define MX_FED_DEST_PROBE_STALE_MS (10 * 60 * 1000)
enum mx_fed_dest_verdict mx_fed_dests_begin(struct mx_fed_dests *d, const char *destination,
					    int64_t now);

enum mx_fed_dest_outcome {
	MX_FED_DEST_OK,      /* an HTTP answer with status < 500 */
	MX_FED_DEST_FAILED,  /* a transport failure or a 5xx */
	MX_FED_DEST_NEUTRAL, /* says nothing about the destination (refused locally) */
};

enum mx_fed_dest_change {
	MX_FED_DEST_UNCHANGED,
	MX_FED_DEST_NOW_BACKED_OFF, /* was healthy, is backed off now: warn once */
	MX_FED_DEST_STILL_FAILING,  /* a probe failed: the interval grew */
	MX_FED_DEST_RECOVERED,      /* was backed off, is healthy now */
};

/*
 * Record how a request that mx_fed_dests_begin() let through ended. A
 * failure of a non-probe request while the destination is already backed
 * off is not counted again (concurrent requests failing together count
 * once).
 */
enum mx_fed_dest_change mx_fed_dests_end(struct mx_fed_dests *d, const char *destination,
					 bool probe, enum mx_fed_dest_outcome outcome, int64_t now);

/* The destination reached us: reset its backoff. True if it was backed off. */
bool mx_fed_dests_seen(struct mx_fed_dests *d, const char *destination);

/* Whether destination's retry time is after now. */
bool mx_fed_dests_backed_off(struct mx_fed_dests *d, const char *destination, int64_t now);

/* A copy of destination's record: 0, or MX_ENOTFOUND when it has none. */
int mx_fed_dests_get(struct mx_fed_dests *d, const char *destination,
		     struct mx_fed_dest_state *out);

#endif
