/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Accounts, devices and tokens. Reads take the caller's read connection;
 * writes go through the group-commit writer (mx_db_write) and return once
 * durable. Strings returned live in the given arena.
 */
#ifndef MX_STORE_ACCOUNTS_H
#define MX_STORE_ACCOUNTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct mx_arena;
struct mx_db;
struct mx_db_conn;

struct mx_token_info {
	const char *user_id;
	const char *device_id;
	bool is_guest;
	bool is_admin;
	bool deactivated;
	int64_t expires_ts;   /* 0 = never */
	int64_t refresh_id;   /* 0 = not from a refresh token */
	bool used;
	int64_t last_seen_ts; /* of the token's device; 0 = never */
};

/* MX_ENOTFOUND if no such token. */
int mx_store_token_lookup(struct mx_db_conn *c, struct mx_arena *a, const char *token_hash,
			  struct mx_token_info *out);
/*
 * First use of a token issued by a refresh: revoke the refresh token it
 * replaced and that token's access tokens (spec: refreshing access tokens).
 */
int mx_store_token_first_use(struct mx_db *db, const char *token_hash, int64_t refresh_id);

struct mx_user {
	const char *user_id;
	const char *password_hash;  /* NULL: no password */
	bool is_guest;
	bool is_admin;
	bool deactivated;
	int64_t created_ts;
};

/* MX_ENOTFOUND if no such user. */
int mx_store_user_get(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
		      struct mx_user *out);
bool mx_store_user_exists(struct mx_db_conn *c, const char *user_id);

/* A new session's tokens, in clear (to hand to the client once). */
struct mx_session_tokens {
	char access_token[64];
	char refresh_token[64];   /* "" unless requested */
	int64_t expires_in_ms;    /* 0 = does not expire */
};

struct mx_new_user {
	const char *user_id;
	const char *password_hash;    /* NULL for no password */
	bool is_guest;
	bool is_admin;
	const char *displayname;      /* stored as given: NULL = none (callers pass the localpart) */
	/* Device and tokens: skipped if device_id is NULL (inhibit_login). */
	const char *device_id;
	const char *device_display_name;
	bool want_refresh;
	int64_t access_lifetime_ms;   /* 0 = never expires */
	int64_t refresh_lifetime_ms;  /* 0 = never expires */
	const char *registration_token; /* counted as completed if non-NULL */
	const char *audit_actor;      /* non-NULL: write an audit record */
};

/* Create a user (and a first device). MX_EUSERINUSE if the id exists. */
int mx_store_user_create(struct mx_db *db, const struct mx_new_user *u,
			 struct mx_session_tokens *tokens);

struct mx_new_login {
	const char *user_id;
	const char *device_id;           /* created if new; its old tokens revoked */
	const char *device_display_name; /* set only when the device is new */
	bool want_refresh;
	int64_t access_lifetime_ms;
	int64_t refresh_lifetime_ms;
};
int mx_store_login(struct mx_db *db, const struct mx_new_login *l, struct mx_session_tokens *tokens);

/*
 * Exchange a refresh token for new tokens. MX_ETOKENINCORRECT if it is
 * unknown or expired. user/device are written to the arena.
 */
int mx_store_refresh(struct mx_db *db, struct mx_arena *a, const char *refresh_token,
		     int64_t access_lifetime_ms, int64_t refresh_lifetime_ms,
		     struct mx_session_tokens *tokens);

int mx_store_logout(struct mx_db *db, const char *token_hash);
int mx_store_logout_all(struct mx_db *db, const char *user_id);

/* Devices. */
struct mx_device {
	const char *device_id;
	const char *display_name;
	int64_t last_seen_ts;  /* 0 = never */
	const char *last_seen_ip;
};
int mx_store_devices_list(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			  struct mx_device **out, size_t *n);
int mx_store_device_get(struct mx_db_conn *c, struct mx_arena *a, const char *user_id,
			const char *device_id, struct mx_device *out);
/* MX_ENOTFOUND if the device does not exist. */
int mx_store_device_set_name(struct mx_db *db, const char *user_id, const char *device_id,
			     const char *name);
/* Delete devices and revoke their tokens. Unknown ids are ignored. */
int mx_store_devices_delete(struct mx_db *db, const char *user_id, const char *const *device_ids,
			    size_t n);
/* Record a device's last activity (callers throttle: it is a write). */
int mx_store_device_touch(struct mx_db *db, const char *user_id, const char *device_id,
			  const char *ip, int64_t now_ms);

/*
 * Change the password hash; if keep_device is non-NULL, revoke every other
 * device's tokens and delete those devices (logout_devices), else keep all.
 */
int mx_store_set_password(struct mx_db *db, const char *user_id, const char *password_hash,
			  bool logout_devices, const char *keep_device);
/* Deactivate: revoke everything, clear password and profile; the id stays taken. */
int mx_store_deactivate(struct mx_db *db, const char *user_id, const char *actor);

#endif
