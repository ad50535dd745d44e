/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server: one struct, built by main.c at start-up and read-only while
 * requests are served (STYLE.md rule 8). Each thread that touches the
 * database also has a struct mx_worker holding its own read connection.
 * Only forward declarations here so that every layer can include it.
 */
#ifndef MX_CORE_SERVER_H
#define MX_CORE_SERVER_H

#include <stdint.h>

struct mx_config;
struct mx_db;
struct mx_db_conn;
struct mx_signing_key;
struct mx_ratelimiter;
struct mx_http;
struct mx_notifier;
struct mx_rooms;
struct mx_admin_nonces;
struct mx_typing;
struct mx_presence;
struct mx_push;
struct mx_pusher;
struct mx_jobs;
struct mx_fed;
struct mx_fed_sender;
struct mx_keyring;
struct mx_req;
struct mx_media_remote;
struct mx_ttlcache;
struct mx_appservices;
struct mx_as_sender;

struct mx_server {
	const struct mx_config *cfg;
	const struct mx_signing_key *key;   /* the server's ed25519 signing key */
	struct mx_db *db;
	struct mx_ratelimiter *rl;
	struct mx_http *http;
	struct mx_notifier *notifier;       /* parked /sync requests */
	struct mx_rooms *rooms;             /* the room cache and event pipeline */
	struct mx_admin_nonces *admin_nonces; /* shared-secret registration nonces (own lock) */
	struct mx_typing *typing;           /* who is typing where (own lock, timer thread) */
	struct mx_presence *presence;       /* local users' presence (own lock, timer thread) */
	struct mx_push *push;               /* push rules cache, notification counts (own lock, writer thread) */
	struct mx_pusher *pusher;           /* HTTP pushers: delivery to push gateways (own lock and thread) */
	struct mx_jobs *jobs;               /* threads for work that waits on the network */
	struct mx_fed *fed;                 /* outbound federation: discovery, signing, backoff */
	struct mx_fed_sender *fed_sender;   /* outbound transactions: the outbox drained per destination */
	struct mx_keyring *keyring;         /* other servers' signing keys */
	struct mx_media_remote *remote_media; /* remote media fetches in flight (own lock) */
	struct mx_ttlcache *remote_profiles; /* other servers' profile answers (own lock,
					       * federation/query_client.h) */
	struct mx_ttlcache *remote_hierarchy; /* other servers' space hierarchy answers
						* (own lock, federation/hierarchy.h) */
	/* Checks X-Matrix on MX_ROUTE_FEDERATION routes: 0, MX_ESUSPENDED
	 * (parked), or an error already replied (federation/auth.c). */
	int (*fed_auth)(struct mx_req *req);
	const struct mx_appservices *appservices; /* registrations (appservice/registration.h) */
	struct mx_as_sender *as_sender;     /* event pushes to them (own threads, appservice/sender.h) */
	unsigned long long pw_opslimit;     /* argon2id cost for new password hashes */
	size_t pw_memlimit;
	int64_t start_ms;
};

struct mx_worker {
	struct mx_server *srv;
	struct mx_db_conn *rconn;           /* this thread's read connection */
};

#endif
