/* SPDX-License-Identifier: Apache-2.0 */
/*
 * End-to-end encryption storage: device keys, one-time and fallback keys,
 * the device-list change stream and the to-device inbox. Writes go through
 * the group-commit writer and return once durable; reads take the caller's
 * read connection. Strings returned live in the given arena; json_t values
 * returned are new references the caller owns.
 */
#ifndef MX_STORE_E2EE_H
#define MX_STORE_E2EE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mx_arena;
struct mx_db;
struct mx_db_conn;

/* stream_positions rows of the two streams. */
#define MX_STREAM_DEVICE_LISTS "device_lists"
#define MX_STREAM_TO_DEVICE "to_device"

/* One one-time or fallback key: "algorithm:key_id" -> key_json (JSON text). */
struct mx_e2ee_key {
	const char *algorithm;
	const char *key_id;
	const char *key_json;
};

struct mx_e2ee_upload {
	const char *user_id, *device_id;
	const char *device_keys;          /* JSON text, NULL: unchanged */
	const struct mx_e2ee_key *otks;
	size_t n_otks;
	const struct mx_e2ee_key *fallbacks;
	size_t n_fallbacks;
	/* outputs */
	bool keys_changed;                /* device keys new or different: a device-list change */
	char conflict[160];               /* the clashing "algorithm:key_id" on MX_EINVALIDPARAM */
};

/*
 * Store an upload in one write: device keys (replacing, and recording a
 * device-list change if they differ), new one-time keys, fallback keys
 * (replacing per algorithm; re-uploading the same key keeps its used
 * flag). A one-time key id already stored with other content is
 * MX_EINVALIDPARAM (u->conflict names it) and nothing is stored.
 */
int mx_store_e2ee_upload(struct mx_db *db, struct mx_e2ee_upload *u);

/* A device's stored device_keys JSON text; MX_ENOTFOUND if none. */
int mx_store_e2ee_device_keys_get(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
				  const char *device_id, const char **json);

/* {algorithm: count} of a device's unclaimed one-time keys (new object). */
json_t *mx_store_e2ee_otk_counts(struct mx_db_conn *c, const char *user_id, const char *device_id);
/* [algorithm, ...] of a device's unused fallback keys (new array). */
json_t *mx_store_e2ee_fallback_unused(struct mx_db_conn *c, const char *user_id,
				      const char *device_id);

/* One device with keys, for /keys/query. */
struct mx_e2ee_device {
	const char *device_id;
	const char *key_json;
	const char *display_name;  /* NULL: none */
};
/*
 * The devices of user_id that have uploaded keys (all of them, or only
 * device_id when it is non-NULL).
 */
int mx_store_e2ee_devices(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			  const char *device_id, struct mx_e2ee_device **out, size_t *n);

/* One claim of /keys/claim; the writer fills key_id/key_json (NULL: none left). */
struct mx_e2ee_claim {
	const char *user_id, *device_id, *algorithm;
	const char *key_id, *key_json;  /* in the arena given to the claim */
};
/*
 * Claim keys in one write job: each claim takes (and deletes) the oldest
 * one-time key of that device and algorithm, or else its fallback key,
 * which is marked used. Concurrent claims never get the same one-time key.
 */
int mx_store_e2ee_claim(struct mx_db *db, struct mx_arena *a, struct mx_e2ee_claim *claims,
			size_t n);

/*
 * Inside a write job: forget a deleted device's keys and pending messages
 * and record a device-list change of its user.
 */
int mx__store_e2ee_device_gone(struct mx_db_conn *c, const char *user_id, const char *device_id);

/*
 * Inside a write job: the same for every device of user_id except keep
 * (NULL: all of them), with one device-list change. For logout/all,
 * password changes with logout_devices, and deactivation.
 */
int mx__store_e2ee_user_devices_gone(struct mx_db_conn *c, const char *user_id, const char *keep);

/*
 * The device-list stream position of user_id's latest change (0 if none):
 * the stream_id of GET /_matrix/federation/v1/user/devices.
 */
int mx_store_e2ee_list_position(struct mx_db_conn *c, const char *user_id, int64_t *pos);

/* The distinct users with device-list changes in (from, to] (arena). */
int mx_store_e2ee_changed_users(struct mx_db_conn *c, struct mx_arena *a, int64_t from, int64_t to,
				const char ***users, size_t *n);
/*
 * Users newly sharing a room with user_id in events (from, to]: the
 * joined members of rooms user_id joined, and users who joined user_id's
 * joined rooms. Not yet filtered for still sharing.
 */
int mx_store_e2ee_newly_shared(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			       int64_t from, int64_t to, const char ***users, size_t *n);
/*
 * Candidates for device_lists.left in events (from, to]: members of rooms
 * user_id left, and users who left rooms user_id was ever in. The caller
 * keeps those who no longer share a room.
 */
int mx_store_e2ee_left_candidates(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
				  int64_t from, int64_t to, const char ***users, size_t *n);

/* ---- to-device ---- */

/*
 * The bounds of the to-device inbox, the same for messages from local
 * senders (client/to_device.c) and from other servers
 * (federation/transactions.c): one message's content, encoded; the
 * messages waiting for one device; the recipient devices of one request
 * or one m.direct_to_device EDU.
 */
#define MX_TO_DEVICE_MAX_BYTES (64 * 1024)
#define MX_TO_DEVICE_MAX_PENDING 10000
#define MX_TO_DEVICE_MAX_MSGS 10000

struct mx_to_device_msg {
	const char *user_id, *device_id;
	const char *content;  /* JSON text */
};

struct mx_fed_edu;

/* One sendToDevice request, as one write. */
struct mx_to_device_send {
	const char *sender, *sender_device, *txn_id, *type;
	const struct mx_to_device_msg *msgs;  /* local recipient devices */
	size_t n;
	const struct mx_fed_edu *edus;        /* remote recipients: outbox rows (store/federation.h) */
	size_t n_edus;
	int64_t max_pending;
};

/*
 * Queue s's messages in one write: the local inbox rows and the outbox
 * rows of the EDUs for other servers commit together. MX_EEXISTS (nothing
 * stored) if that device used txn_id already; MX_ELIMIT (nothing stored)
 * if a local recipient device would hold more than max_pending messages.
 */
int mx_store_to_device_queue(struct mx_db *db, const struct mx_to_device_send *s);

/* mx_store_to_device_queue() for local recipients only. */
int mx_store_to_device_send(struct mx_db *db, const char *sender, const char *sender_device,
			    const char *txn_id, const char *type, const struct mx_to_device_msg *msgs,
			    size_t n, int64_t max_pending);

/*
 * Inside a write job: append messages of one type from sender to the
 * recipients' inboxes, advancing the to-device stream. A device that
 * already holds max_pending messages makes it fail with MX_ELIMIT when
 * skipped is NULL (the caller's job then rolls back); otherwise that
 * message is left out and counted in *skipped (messages from other
 * servers, which cannot be refused one by one).
 */
int mx__store_to_device_deliver(struct mx_db_conn *c, const char *sender, const char *type,
				const struct mx_to_device_msg *msgs, size_t n, int64_t max_pending,
				size_t *skipped);

/* Per pending message; return non-zero to stop. */
typedef int (*mx_to_device_cb)(void *ctx, int64_t stream_id, const char *sender, const char *type,
			       const char *content);
/* A device's messages with after < stream_id <= upto, oldest first, at most limit. */
int mx_store_to_device_fetch(struct mx_db_conn *c, const char *user_id, const char *device_id,
			     int64_t after, int64_t upto, int limit, mx_to_device_cb cb, void *ctx);
/* Whether the device has messages with stream_id <= upto (a read: skip the write if not). */
bool mx_store_to_device_has_upto(struct mx_db_conn *c, const char *user_id, const char *device_id,
				 int64_t upto);
/* Delete a device's messages with stream_id <= upto (acknowledged by a sync). */
int mx_store_to_device_ack(struct mx_db *db, const char *user_id, const char *device_id,
			   int64_t upto);

#endif
