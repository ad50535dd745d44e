/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The outbound federation sender: drains the durable outbox
 * (store/federation.h) into transactions, PUT /_matrix/federation/v1/send/
 * {txnId}, at most one in flight per destination, each carrying up to
 * MX_FED_TXN_MAX_EDUS EDUs (and, once rooms federate, MX_FED_TXN_MAX_PDUS
 * PDUs). Rows leave the outbox only when the destination has answered
 * their transaction: a 2xx (delivered) or a 4xx other than 429 (refused:
 * dropped with a warning). Transport failures and 5xx back the destination
 * off (federation/destinations.h); it is then left alone until its retry
 * time, when one transaction goes as the probe.
 *
 * A transaction's id names the outbox rows it carries, so a retry, even
 * after a crash and restart, reuses the id for the same rows and the
 * receiver's idempotency does the rest. See
 * docs/internals/federation-sender.md.
 *
 * SPEC: server-server-api#transactions, #put_matrixfederationv1sendtxnid
 */
#ifndef MX_FEDERATION_SENDER_H
#define MX_FEDERATION_SENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mx_server;
struct mx_fed_sender;

/* SPEC: "Transactions are limited in size; they can have at most 50 PDUs and 100 EDUs." */
#define MX_FED_TXN_MAX_PDUS 50
#define MX_FED_TXN_MAX_EDUS 100
/*
 * Bytes of EDU content per outbound transaction: the next EDU that would
 * go past it waits for the next transaction (an EDU larger than this goes
 * alone), so that receivers' request-body limits are not hit.
 */
#define MX_FED_TXN_MAX_BYTES (1024 * 1024)
/* m.direct_to_device EDUs are split to keep their messages under this. */
#define MX_FED_EDU_MAX_BYTES (64 * 1024)
/* Sender threads: transactions to different destinations in flight at once. */
#define MX_FED_SENDER_THREADS 8
/* Buffer size for a transaction id (see mx_fed_txn_id). */
#define MX_FED_TXN_ID_SIZE 64

/* ---- the sender ---- */

/*
 * Create the sender for srv (srv->db and srv->fed must be set) and start
 * its threads; destinations with rows in the outbox are resumed at once.
 * 0, or MX_EDB if the outbox cannot be read.
 */
int mx_fed_sender_new(struct mx_server *srv, struct mx_fed_sender **out);

/*
 * Ask the threads to stop after their current transaction (which may take
 * up to the request timeout). Wakes after this are ignored: rows queued
 * meanwhile are durable and go after the next start.
 */
void mx_fed_sender_stop(struct mx_fed_sender *s);

/* Stop, join the threads and free. Call before the database closes. NULL is fine. */
void mx_fed_sender_free(struct mx_fed_sender *s);

/*
 * Outbox rows for destination have been committed: send them soon (at
 * once unless the destination is backed off or busy). s may be NULL.
 */
void mx_fed_sender_wake(struct mx_fed_sender *s, const char *destination);

/*
 * origin reached us (an inbound transaction, whose authentication reset
 * its backoff): if transactions to it were waiting to be retried, retry
 * now. s may be NULL.
 */
void mx_fed_sender_heard_from(struct mx_fed_sender *s, const char *origin);

/*
 * The one way to queue any EDU (presence, typing, receipts, device lists,
 * ...) for one destination: stored durably in the outbox, then sent.
 * content (borrowed) must be a JSON object that canonical JSON can encode.
 * Callers that must queue the EDU in the same write as their own change
 * call mx__store_fed_outbox_add() inside their write job instead, then
 * mx_fed_sender_wake(). 0, MX_EBADJSON, MX_EINVALIDPARAM (not a server
 * name, or our own) or MX_EDB.
 */
int mx_fed_sender_send_edu(struct mx_fed_sender *s, const char *destination, const char *edu_type,
			   const json_t *content);

/* Counters since start: transactions answered 2xx, EDUs in them, EDUs dropped. */
void mx_fed_sender_stats(struct mx_fed_sender *s, uint64_t *txns, uint64_t *edus,
			 uint64_t *dropped);

/* ---- transactions (pure, unit-tested) ---- */

/*
 * The transaction id for the outbox rows first..last of one destination,
 * the first created at first_ts (ms): "<first_ts>_<first>_<last>". Row ids
 * are never reused, so ids are unique per destination; the time keeps them
 * unique even across a database restored from a backup. Deterministic, so
 * a retry of the same rows carries the same id.
 */
void mx_fed_txn_id(char out[MX_FED_TXN_ID_SIZE], int64_t first_ts, int64_t first, int64_t last);

/* Parse an id made by mx_fed_txn_id(): 0 or MX_EINVALID. */
int mx_fed_txn_id_parse(const char *id, int64_t *first_ts, int64_t *first, int64_t *last);

/* An outbound transaction being filled from outbox rows in id order. */
struct mx_fed_txn {
	json_t *edus;       /* [{edu_type, content}] (owned) */
	size_t n_edus;
	size_t bytes;       /* EDU content bytes so far */
	int64_t first, last;/* outbox ids carried (skipped rows included); 0 when empty */
	int64_t first_ts;
	size_t skipped;     /* rows left out: content not a canonical JSON object */
	bool full;          /* a row was refused for lack of room */
};

void mx_fed_txn_init(struct mx_fed_txn *t);
void mx_fed_txn_release(struct mx_fed_txn *t);

/*
 * Add outbox row id (the next in order). True if the row is consumed: added,
 * or skipped because its content is not a canonical-JSON object (it is
 * still in the id range, so it is deleted with the others). False, with
 * t->full set, if the transaction has MX_FED_TXN_MAX_EDUS EDUs already or
 * the row would take it past MX_FED_TXN_MAX_BYTES (never for the first row).
 */
bool mx_fed_txn_add(struct mx_fed_txn *t, int64_t id, int64_t created_ts, const char *edu_type,
		    const char *content);

/* The request body {origin, origin_server_ts, pdus: [], edus} (new reference). */
json_t *mx_fed_txn_body(const struct mx_fed_txn *t, const char *origin, int64_t now_ms);

/*
 * The m.direct_to_device EDU contents carrying messages ({user: {device:
 * content}}, all users of one destination) of type from sender: one EDU,
 * or several when the messages' encoding exceeds MX_FED_EDU_MAX_BYTES
 * (split between devices; one device's message may exceed it alone). Each
 * has a fresh random message_id. Returns a new array of content objects.
 * SPEC: server-server-api#send-to-device-messaging
 */
json_t *mx_fed_to_device_edus(const char *sender, const char *type, const json_t *messages);

#endif
