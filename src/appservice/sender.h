/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pushing events to application services.
 * SPEC: application-service-api#put_matrixappv1transactionstxnid
 *
 * One thread per registration with a url (registrations are few and set by
 * the admin; a dead or slow one only holds its own thread). Each follows
 * the events stream from its position in appservice_state: it reads what
 * came after, keeps the events the AS is interested in (sender or
 * membership target in its users namespaces or its sender, a room whose id
 * matches its rooms namespaces, whose aliases match its aliases namespaces,
 * or that has a joined member in its users namespaces) and PUTs them to
 * {url}/_matrix/app/v1/transactions/{txnId} with "Authorization: Bearer
 * hs_token". The transaction (id and body) is written to the database
 * before its first try; a failure is retried with the same id and body,
 * with exponential backoff (1 s doubling up to 5 minutes), forever and in
 * order, as Synapse. Persisted events wake the threads (a room listener);
 * a one-second poll covers anything else.
 *
 * AS URLs are configured by the admin: the IP range blacklist does not
 * apply to them (as Synapse).
 */
#ifndef MX_APPSERVICE_SENDER_H
#define MX_APPSERVICE_SENDER_H

#include <stdbool.h>
#include <stdint.h>

struct mx_server;
struct mx_room_event;
struct mx_appservice;

#define MX_AS_BACKOFF_FIRST_MS 1000
#define MX_AS_BACKOFF_MAX_MS (5 * 60 * 1000)
#define MX_AS_TXN_EVENTS 100

/* Start a thread per registration with a url (srv->appservices). Aborts on failure. */
struct mx_as_sender *mx_as_sender_new(struct mx_server *srv);
/* Stop the threads (a request in flight is abandoned: retried after the next start). NULL is a no-op. */
void mx_as_sender_free(struct mx_as_sender *s);
/* Room listener (mx_rooms_add_listener): wakes the threads. */
void mx_as_sender_on_room_event(void *ctx, const struct mx_room_event *ev);

/* The next backoff after prev_ms (0: the first failure). */
int64_t mx_as_backoff_next(int64_t prev_ms);

/*
 * One HTTP request to an application service (blocking, on the caller's
 * thread): method to {as->url}{path} with Bearer hs_token and a JSON body.
 * Returns 0 with *status and *body_out (heap, caller frees; may be NULL),
 * MX_EREMOTE when no answer came (*timed_out set if it was a timeout).
 */
int mx_as_request(const struct mx_appservice *as, const char *method, const char *path,
		  const char *body, long timeout_ms, long *status, char **body_out,
		  bool *timed_out);

#endif
