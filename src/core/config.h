/* SPDX-License-Identifier: Apache-2.0 */
/*
 * homeserver.yaml: the server configuration, read once at start-up and
 * read-only afterwards. Key names follow Synapse's where the feature exists
 * so that an existing Synapse config carries over.
 */
#ifndef MX_CORE_CONFIG_H
#define MX_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/iprange.h"

enum mx_listener_resource {
	MX_RES_CLIENT = 1 << 0,     /* /_matrix/client, /.well-known/matrix/client */
	MX_RES_FEDERATION = 1 << 1, /* /_matrix/federation, /.well-known/matrix/server */
	MX_RES_KEYS = 1 << 2,       /* /_matrix/key */
	MX_RES_MEDIA = 1 << 3,      /* /_matrix/media, /_matrix/client/v1/media */
	MX_RES_ADMIN = 1 << 4,      /* /_synapse/admin, /_myelin/admin */
	MX_RES_HEALTH = 1 << 5,     /* /health */
};

struct mx_config_listener {
	char *bind_address;   /* one address per listener entry; "::" or "0.0.0.0" for all */
	uint16_t port;
	unsigned resources;   /* MX_RES_* bits */
	bool x_forwarded;     /* trust X-Forwarded-For from a reverse proxy */
	bool tls;             /* tls: HTTPS with tls_certificate_path / tls_private_key_path */
};

struct mx_config_ratelimit {
	double per_second;
	double burst_count;
};

#define MX_CONFIG_MAX_THUMBNAIL_SIZES 16
#define MX_CONFIG_MAX_UPLOAD_LIMITS 16

/* trusted_key_servers bounds: notaries, and pinned keys per notary. */
#define MX_CONFIG_MAX_KEY_SERVERS 16
#define MX_CONFIG_MAX_PINNED_KEYS 8

/* One trusted_key_servers entry (Synapse's format). */
struct mx_config_key_server {
	char server_name[256];
	struct mx_config_pinned_key {
		char key_id[64];            /* "ed25519:auto" */
		unsigned char key[32];      /* the decoded public key */
	} verify_keys[MX_CONFIG_MAX_PINNED_KEYS];
	size_t n_verify_keys;           /* 0: the notary is trusted on its TLS certificate */
	bool accept_keys_insecurely;    /* accepted; only matters without certificate checks */
};

struct mx_config {
	char *config_path;            /* the file read */
	char *config_dir;             /* its directory: relative paths resolve here */
	char *server_name;            /* server_name */
	char *public_baseurl;         /* public_baseurl (with trailing slash) */
	char *serve_server_wellknown_host; /* from serve_server_wellknown + server_name; NULL = not served */
	bool serve_server_wellknown;
	char *extra_well_known_client_content; /* JSON text merged into /.well-known/matrix/client, or NULL */

	struct mx_config_listener *listeners;
	size_t n_listeners;

	char *database_engine;        /* database.name: "sqlite3" or "psycopg2" */
	char *database_path;          /* database.args.database for sqlite3 */
	char *database_conninfo;      /* libpq conninfo built from database.args for psycopg2 */

	char *signing_key_path;       /* signing_key_path */
	char *tls_certificate_path;   /* tls_certificate_path: PEM (+ chain), NULL = unset */
	char *tls_private_key_path;   /* tls_private_key_path: unencrypted PEM, NULL = unset */
	int64_t key_valid_for_ms;     /* key_refresh_interval (default 1d) */

	bool enable_registration;                     /* enable_registration */
	bool enable_registration_without_verification;/* accepted for compatibility */
	bool registration_requires_token;             /* registration_requires_token */
	char *registration_shared_secret;             /* registration_shared_secret, NULL = disabled */
	bool allow_guest_access;                      /* allow_guest_access */
	bool password_login_enabled;                  /* password_config.enabled */
	int password_min_length;                      /* password_config.policy.minimum_length (0 if policy.enabled: false) */
	bool inhibit_user_in_use_error;               /* inhibit_user_in_use_error */

	int64_t refreshable_access_token_lifetime_ms; /* refreshable_access_token_lifetime (default 5m) */
	int64_t refresh_token_lifetime_ms;            /* refresh_token_lifetime (0 = never expires) */
	int64_t nonrefreshable_access_token_lifetime_ms; /* 0 = never */

	struct mx_config_ratelimit rc_registration;   /* rc_registration */
	struct mx_config_ratelimit rc_login_address;  /* rc_login.address */
	struct mx_config_ratelimit rc_login_account;  /* rc_login.account */
	struct mx_config_ratelimit rc_login_failed;   /* rc_login.failed_attempts */
	struct mx_config_ratelimit rc_message;        /* rc_message */

	char *default_room_version;   /* default_room_version */
	char *media_store_path;       /* media_store_path */
	int64_t max_upload_size;      /* max_upload_size in bytes (default 50M) */
	int64_t max_request_body_size;/* myelin: JSON request body limit (default 1M) */
	int64_t max_image_pixels;     /* max_image_pixels: no thumbnails above (default 32M) */
	int max_pending_media_uploads;/* max_pending_media_uploads per user (default 5) */
	int64_t unused_expiration_time_ms; /* unused_expiration_time: async upload window (24h) */
	struct mx_config_thumbnail {  /* thumbnail_sizes: pre-generated at upload */
		int width, height;
		bool crop;                /* method: crop (else scale) */
	} thumbnail_sizes[MX_CONFIG_MAX_THUMBNAIL_SIZES];
	size_t n_thumbnail_sizes;
	struct mx_config_upload_limit { /* media_upload_limits: per-user upload quota */
		int64_t time_period_ms;   /* time_period */
		int64_t max_size;         /* max_size: bytes per user within the period */
	} media_upload_limits[MX_CONFIG_MAX_UPLOAD_LIMITS];
	size_t n_media_upload_limits; /* 0: no quota (the default) */
	bool url_preview_enabled;     /* url_preview_enabled (default false) */
	struct mx_iprange *url_preview_ip_range_blacklist; /* required when enabled; + 0.0.0.0, :: */
	size_t n_url_preview_ip_range_blacklist;
	struct mx_iprange *url_preview_ip_range_whitelist; /* url_preview_ip_range_whitelist */
	size_t n_url_preview_ip_range_whitelist;
	int64_t max_spider_size;      /* max_spider_size: largest page or image fetched (10M) */

	/* Outbound federation (federation/client.h). Addresses are checked after
	 * DNS resolution; + 0.0.0.0 and :: are always on every blacklist. */
	struct mx_iprange *ip_range_blacklist; /* ip_range_blocklist, alias ip_range_blacklist;
						* default: Synapse's private, loopback, link-local,
						* CGNAT, multicast and documentation ranges */
	size_t n_ip_range_blacklist;
	struct mx_iprange *ip_range_whitelist; /* ip_range_allowlist, alias ip_range_whitelist */
	size_t n_ip_range_whitelist;
	struct mx_iprange *federation_ip_range_blacklist; /* deprecated federation_ip_range_blacklist:
							   * NULL when unset; when set it replaces
							   * ip_range_blacklist and the whitelist
							   * for federation, as in Synapse */
	size_t n_federation_ip_range_blacklist;
	bool federation_verify_certificates;   /* federation_verify_certificates (default true) */
	char **federation_custom_ca_list;      /* federation_custom_ca_list: absolute paths of PEM
						* files trusted instead of the system CAs; NULL = system */
	size_t n_federation_custom_ca_list;
	char **app_service_config_files;       /* app_service_config_files: registration YAML files
						* (absolute paths; appservice/registration.h) */
	size_t n_app_service_config_files;
	char **federation_domain_whitelist;    /* federation_domain_whitelist: NULL = any destination;
						* else only these (possibly none) */
	size_t n_federation_domain_whitelist;
	bool allow_public_rooms_over_federation;   /* allow_public_rooms_over_federation
						    * (default false, as Synapse: the list
						    * is not scraped by any server) */
	bool allow_profile_lookup_over_federation; /* allow_profile_lookup_over_federation
						    * (default true) */
	bool allow_device_name_lookup_over_federation; /* same name; default false, as
							* Synapse: names can identify people */
	int64_t destination_min_retry_interval_ms; /* federation.destination_min_retry_interval (10m) */
	double destination_retry_multiplier;       /* federation.destination_retry_multiplier (2) */
	int64_t destination_max_retry_interval_ms; /* federation.destination_max_retry_interval (1w) */

	/* trusted_key_servers: notaries asked for keys a server cannot give
	 * us itself (federation/keyring.h). Default: matrix.org, unpinned;
	 * an explicit empty list (or null) means none. Heap array. */
	struct mx_config_key_server *trusted_key_servers;
	size_t n_trusted_key_servers;

	int http_threads;             /* myelin: HTTP threads, 0 = one per core */
	int max_connections;          /* myelin: concurrent connection limit */
	int room_cache_size;          /* myelin: rooms kept in the room cache (LRU beyond) */
	char *log_level;              /* log_level: debug, info, warn, error */
};

/*
 * Read and validate a config file. On failure returns MX_EIO (cannot read)
 * or MX_EINVALID (bad YAML or a bad value) and writes a message naming the
 * file, line and offending key (e.g. "homeserver.yaml:12: listeners[0].port:
 * expected an integer in 1..65535") into err (size errlen). cfg is zeroed
 * first; on failure it is released. Relative paths in the file resolve
 * against the file's directory, and all path fields are absolute on return
 * (database_path may also be ":memory:").
 *
 * Unknown keys are ignored so a Synapse homeserver.yaml loads. Resource
 * names map as Synapse wires them: "client" and "federation" imply
 * MX_RES_MEDIA, "federation" implies MX_RES_KEYS, and MX_RES_HEALTH is set
 * on every HTTP listener; unlike Synapse, "client" never implies
 * MX_RES_ADMIN. Non-http listener types (metrics, manhole, ...) are skipped.
 * A listener with tls: true needs tls_certificate_path and
 * tls_private_key_path (an error naming the missing key otherwise); the
 * files themselves are read when the listeners start (mx_http_start).
 * Without a listeners key there is one listener on 127.0.0.1:8008; if no
 * listener names "admin", one on 127.0.0.1:8009 serving only the admin API
 * (and /health) is appended.
 */
int mx_config_load(struct mx_config *cfg, const char *path, char *err, size_t errlen);
void mx_config_release(struct mx_config *cfg);

/*
 * Write a commented default homeserver.yaml for server_name with its data
 * under data_dir (database, signing key, media; data_dir is made absolute
 * and created with mode 0700 if missing). The file is written with mode
 * 0600 atomically (temp file, fsync, link/rename). It does not create the
 * signing key: the caller does that at the signing_key_path it names
 * (<data_dir>/<server_name>.signing.key). Fails with MX_EIO if path exists,
 * MX_EINVALID for a bad server name. Registration is enabled only if
 * enable_registration is true; a random 32-character
 * registration_shared_secret is always written.
 */
int mx_config_generate(const char *path, const char *server_name, const char *data_dir,
		       bool enable_registration, char *err, size_t errlen);

#endif
