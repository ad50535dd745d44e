/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Federation transactions in the database (migration 016): the outbox of
 * EDUs waiting for their destination (federation/sender.h drains it), and
 * on the receiving side the transactions and to-device message ids
 * already processed, so that retries are answered without being processed
 * twice. docs/internals/federation-sender.md tells the whole story.
 *
 * Functions named mx__store_* run inside the caller's write job (c is the
 * writer's connection), so that an EDU is queued in the same transaction
 * as the change that caused it. Strings returned live in the given arena.
 */
#ifndef MX_STORE_FEDERATION_H
#define MX_STORE_FEDERATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mx_arena;
struct mx_db;
struct mx_db_conn;
struct mx_to_device_msg;

/* Inbound transactions and to-device message ids are remembered this long. */
#define MX_FED_INBOUND_KEEP_MS (24LL * 3600 * 1000)

/* One EDU for one destination (all borrowed). */
struct mx_fed_edu {
	const char *destination;  /* server name */
	const char *type;         /* edu_type, e.g. "m.direct_to_device" */
	const char *content;      /* the EDU's content: a JSON object, as text */
};

/* ---- outbox ---- */

/* Inside a write job: append edus to the outbox, created at now_ms. 0 or MX_EDB. */
int mx__store_fed_outbox_add(struct mx_db_conn *c, const struct mx_fed_edu *edus, size_t n,
			     int64_t now_ms);

/* The same as a write of its own: durable when it returns. */
int mx_store_fed_outbox_add(struct mx_db *db, const struct mx_fed_edu *edus, size_t n);

/* The distinct destinations with rows in the outbox (arena). 0 or MX_EDB. */
int mx_store_fed_outbox_destinations(struct mx_db_conn *c, struct mx_arena *a, const char ***out,
				     size_t *n);

/* One outbox row; strings borrowed for the call. Return non-zero to stop. */
typedef int (*mx_store_fed_row_fn)(void *ctx, int64_t id, int64_t created_ts, const char *type,
				   const char *content);
/*
 * destination's rows with after < id <= upto, oldest first, at most limit.
 * 0 (also when fn stopped early) or MX_EDB.
 */
int mx_store_fed_outbox_read(struct mx_db_conn *c, const char *destination, int64_t after,
			     int64_t upto, int limit, mx_store_fed_row_fn fn, void *ctx);

/* Inside a write job: delete destination's rows with id <= upto. */
int mx__store_fed_outbox_delete(struct mx_db_conn *c, const char *destination, int64_t upto);

/* Rows queued for destination (NULL: for all); -1 on a database error. */
int64_t mx_store_fed_outbox_count(struct mx_db_conn *c, const char *destination);

/* ---- inbound ---- */

/* One m.direct_to_device EDU from an inbound transaction, checked already. */
struct mx_fed_to_device_in {
	const char *message_id, *sender, *type;
	const struct mx_to_device_msg *msgs;  /* local recipient devices */
	size_t n;
	/* outputs */
	bool duplicate;     /* the origin sent this message_id before: not delivered again */
	size_t skipped;     /* devices left out: their inbox was full */
};

/* One inbound transaction to record (all borrowed). */
struct mx_fed_txn_in {
	const char *origin, *txn_id;
	const char *response;     /* the answer it gets, JSON text */
	struct mx_fed_to_device_in *to_device;
	size_t n_to_device;
	int64_t max_pending;      /* the inbox bound per device */
	int64_t now_ms;
	/* output on MX_EEXISTS: the answer recorded earlier, in arena a */
	struct mx_arena *a;
	const char *earlier;
};

/*
 * Process t in one write: if (origin, txn_id) was recorded already,
 * MX_EEXISTS with t->earlier set and nothing else done. Otherwise deliver
 * each to-device EDU whose (origin, message_id) is new (devices whose
 * inbox is full are skipped), record the message ids and the transaction
 * with its answer, and return 0 once durable. MX_EDB on failure (nothing
 * stored).
 */
int mx_store_fed_txn_commit(struct mx_db *db, struct mx_fed_txn_in *t);

/* The answer recorded for (origin, txn_id) (arena): 0, MX_ENOTFOUND or MX_EDB. */
int mx_store_fed_txn_get(struct mx_db_conn *c, struct mx_arena *a, const char *origin,
			 const char *txn_id, const char **response);

/* Inside a write job: forget inbound transactions and message ids received before before_ms. */
int mx__store_fed_inbound_prune(struct mx_db_conn *c, int64_t before_ms);

/* The same, queued on the writer without waiting (fire and forget). */
void mx_store_fed_inbound_prune_async(struct mx_db *db, int64_t before_ms);

#endif
