/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The myelin command: serve, generate-config, register-user, media purge.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "admin/cli.h"
#include "admin/media_cli.h"
#include "admin/register.h"
#include "admin/routes.h"
#include "appservice/api.h"
#include "appservice/registration.h"
#include "appservice/sender.h"
#include "client/routes.h"
#include "client/user_directory.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/rand.h"
#include "core/server.h"
#include "core/ttlcache.h"
#include "crypto/keys.h"
#include "crypto/password.h"
#include "db/db.h"
#include "core/jobs.h"
#include "federation/auth.h"
#include "federation/client.h"
#include "federation/hierarchy.h"
#include "federation/keyring.h"
#include "federation/sender.h"
#include "federation/query_client.h"
#include "federation/routes.h"
#include "media/remote.h"
#include "http/ratelimit.h"
#include "http/router.h"
#include "http/server.h"
#include "push/push.h"
#include "push/pusher.h"
#include "sync/notifier.h"
#include "sync/presence.h"
#include "sync/typing.h"
#include "sync/sync.h"
#include "room/room.h"

static void mx_usage(FILE *f)
{
	fprintf(f,
		"usage: myelin serve -c FILE\n"
		"       myelin generate-config --server-name NAME [--data-dir DIR] "
		"[--enable-registration] [-c FILE]\n"
		"       myelin register-user [-c FILE] [-k SECRET] [-u USER] [-p PASSWORD] "
		"[-a|--no-admin] [URL]\n"
		"       myelin media purge --before YYYY-MM-DD|UNIX_MS [-c FILE]\n"
		"       myelin --version\n");
}

static struct mx_router *mx_build_router(void)
{
	struct mx_router *r = mx_router_new();
	mx_router_add(r, mx_discovery_routes, mx_discovery_routes_count);
	mx_router_add(r, mx_account_routes, mx_account_routes_count);
	mx_router_add(r, mx_devices_routes, mx_devices_routes_count);
	mx_router_add(r, mx_profile_routes, mx_profile_routes_count);
	mx_router_add(r, mx_account_data_routes, mx_account_data_routes_count);
	mx_router_add(r, mx_filter_routes, mx_filter_routes_count);
	mx_router_add(r, mx_user_directory_routes, mx_user_directory_routes_count);
	mx_router_add(r, mx_create_room_routes, mx_create_room_routes_count);
	mx_router_add(r, mx_membership_routes, mx_membership_routes_count);
	mx_router_add(r, mx_room_events_routes, mx_room_events_routes_count);
	mx_router_add(r, mx_sync_routes, mx_sync_routes_count);
	mx_router_add(r, mx_typing_routes, mx_typing_routes_count);
	mx_router_add(r, mx_receipts_routes, mx_receipts_routes_count);
	mx_router_add(r, mx_presence_routes, mx_presence_routes_count);
	mx_router_add(r, mx_tags_routes, mx_tags_routes_count);
	mx_router_add(r, mx_relations_routes, mx_relations_routes_count);
	mx_router_add(r, mx_directory_routes, mx_directory_routes_count);
	mx_router_add(r, mx_report_routes, mx_report_routes_count);
	mx_router_add(r, mx_upgrade_routes, mx_upgrade_routes_count);
	mx_router_add(r, mx_pushrules_routes, mx_pushrules_routes_count);
	mx_router_add(r, mx_pushers_routes, mx_pushers_routes_count);
	mx_router_add(r, mx_media_routes, mx_media_routes_count);
	mx_router_add(r, mx_keys_routes, mx_keys_routes_count);
	mx_router_add(r, mx_to_device_routes, mx_to_device_routes_count);
	mx_router_add(r, mx_key_backup_routes, mx_key_backup_routes_count);
	mx_router_add(r, mx_cross_signing_routes, mx_cross_signing_routes_count);
	mx_router_add(r, mx_search_routes, mx_search_routes_count);
	mx_router_add(r, mx_spaces_routes, mx_spaces_routes_count);
	mx_router_add(r, mx_federation_routes, mx_federation_routes_count);
	mx_router_add(r, mx_federation_media_routes, mx_federation_media_routes_count);
	mx_router_add(r, mx_federation_user_keys_routes, mx_federation_user_keys_routes_count);
	mx_router_add(r, mx_federation_query_routes, mx_federation_query_routes_count);
	mx_router_add(r, mx_federation_transaction_routes, mx_federation_transaction_routes_count);
	mx_router_add(r, mx_federation_hierarchy_routes, mx_federation_hierarchy_routes_count);
	mx_router_add(r, mx_admin_routes, mx_admin_routes_count);
	mx_router_add(r, mx_appservice_routes, mx_appservice_routes_count);
	return r;
}

static void mx_raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int mx_cmd_serve(const char *config_path)
{
	char err[1024] = "";
	struct mx_config cfg;
	struct mx_signing_key key;
	struct mx_server srv = {0};
	struct mx_router *router = NULL;
	struct mx_http *http = NULL;
	int rc;
	int64_t t0 = mx_clock_mono_us();

	if (mx_rand_init()) {
		fprintf(stderr, "myelin: cannot initialise libsodium\n");
		return 1;
	}
	/* Before any thread: URL previews use libcurl from the HTTP threads. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "myelin: cannot initialise libcurl\n");
		return 1;
	}
	rc = mx_config_load(&cfg, config_path, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "myelin: %s\n", err);
		return 1;
	}
	int level = mx_log_level_parse(cfg.log_level ? cfg.log_level : "info");
	mx_log_set_level(level < 0 ? MX_LOG_INFO : (enum mx_log_level)level);
	mx_raise_fd_limit();

	bool generated = false;
	rc = mx_signing_key_load_or_generate(&key, cfg.signing_key_path, &generated);
	if (rc) {
		fprintf(stderr, "myelin: signing_key_path %s: cannot load or create the key\n",
			cfg.signing_key_path);
		goto out_config;
	}
	if (generated)
		mx_log_info("generated signing key %s at %s", key.key_id, cfg.signing_key_path);

	/* Block the stop signals in every thread; this one waits for them. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	srv.cfg = &cfg;
	srv.key = &key;
	srv.start_ms = mx_clock_now_ms();
	srv.pw_opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
	srv.pw_memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
	rc = mx_db_open(&srv.db, &cfg, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "myelin: %s\n", err);
		goto out_key;
	}
	struct mx_appservices *appservices = mx_appservices_load(&cfg, err, sizeof(err));
	if (!appservices) {
		fprintf(stderr, "myelin: %s\n", err);
		rc = MX_EINVALID;
		goto out_db;
	}
	srv.appservices = appservices;
	if ((rc = mx_appservices_ensure_senders(&srv))) {
		fprintf(stderr, "myelin: cannot create the application services' users (%d)\n", rc);
		goto out_db;
	}
	srv.rl = mx_ratelimiter_new();
	srv.notifier = mx_notifier_new();
	srv.rooms = mx_rooms_new(&srv);
	/* Push before sync: a /sync woken by an event finds its counts queued. */
	srv.push = mx_push_new(&srv);
	mx_rooms_add_listener(srv.rooms, mx_push_on_room_event, srv.push);
	mx_rooms_add_listener(srv.rooms, mx_sync_on_room_event, srv.notifier);
	srv.typing = mx_typing_new(srv.db, srv.notifier, cfg.server_name);
	srv.presence = mx_presence_new(srv.db, srv.notifier, cfg.server_name);
	mx_rooms_add_listener(srv.rooms, mx_presence_on_room_event, srv.presence);
	mx_user_directory_start(&srv);
	srv.admin_nonces = mx_admin_nonces_new();
	/* Threads that wait on other servers (key fetches for inbound
	 * requests, remote media, previews, queries): mostly idle, so plenty,
	 * that slow remote media cannot starve the key fetches. */
	srv.jobs = mx_jobs_new(32);
	srv.remote_media = mx_media_remote_new();
	srv.remote_profiles = mx_ttlcache_new(MX_FED_PROFILE_CACHE_ENTRIES,
					      MX_FED_PROFILE_CACHE_BYTES, MX_FED_PROFILE_CACHE_MS);
	srv.remote_hierarchy = mx_ttlcache_new(MX_FED_HIERARCHY_CACHE_ENTRIES,
					       MX_FED_HIERARCHY_CACHE_BYTES,
					       MX_FED_HIERARCHY_CACHE_MS);
	if ((rc = mx_fed_new(&srv, &srv.fed)) || (rc = mx_keyring_new(&srv, &srv.keyring))) {
		fprintf(stderr, "myelin: cannot start the federation client (%d)\n", rc);
		goto out_db;
	}
	srv.fed_auth = mx_fed_authenticate;
	/* Transactions queued before a stop or crash go out now. */
	if ((rc = mx_fed_sender_new(&srv, &srv.fed_sender))) {
		fprintf(stderr, "myelin: cannot start the federation sender (%d)\n", rc);
		goto out_db;
	}
	/* Pushers resume their pending notifications on their own thread. */
	srv.pusher = mx_pusher_new(&srv);
	srv.as_sender = mx_as_sender_new(&srv);
	mx_rooms_add_listener(srv.rooms, mx_as_sender_on_room_event, srv.as_sender);
	router = mx_build_router();
	rc = mx_http_start(&srv, router, &http, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "myelin: %s\n", err);
		goto out_db;
	}
	mx_log_info("myelin %s serving %s (started in %.1f ms)", MX_VERSION, cfg.server_name,
		    (double)(mx_clock_mono_us() - t0) / 1000.0);

	int sig = 0;
	sigwait(&stop, &sig);
	mx_log_info("received %s: finishing in-flight requests", sig == SIGINT ? "SIGINT" : "SIGTERM");
	mx_notifier_shutdown(srv.notifier); /* parked long-polls answer now */
	mx_fed_sender_stop(srv.fed_sender); /* its transactions in flight end meanwhile */
	mx_jobs_stop(srv.jobs);             /* requests parked on jobs answer now */
	mx_http_stop(http, 10000);
	uint64_t batches, jobs;
	mx_db_write_stats(srv.db, &batches, &jobs);
	mx_log_info("database: %llu write jobs in %llu commits", (unsigned long long)jobs,
		    (unsigned long long)batches);
	rc = 0;
out_db:
	mx_pusher_free(srv.pusher); /* before the rooms, push and the database it reads */
	mx_as_sender_free(srv.as_sender); /* before the rooms and the database */
	mx_jobs_free(srv.jobs); /* before what its jobs use */
	mx_fed_sender_free(srv.fed_sender); /* before the federation client and the database */
	mx_keyring_free(srv.keyring);
	mx_fed_free(srv.fed);
	mx_media_remote_free(srv.remote_media);
	mx_ttlcache_free(srv.remote_profiles);
	mx_ttlcache_free(srv.remote_hierarchy);
	mx_router_free(router);
	mx_ratelimiter_free(srv.rl);
	mx_rooms_free(srv.rooms);
	mx_typing_free(srv.typing);
	mx_presence_free(srv.presence);
	mx_notifier_free(srv.notifier);
	mx_admin_nonces_free(srv.admin_nonces);
	mx_push_free(srv.push); /* stores what is still queued */
	mx_db_close(srv.db);
	/* Owned here; the server only reads them. */
	mx_appservices_free((struct mx_appservices *)srv.appservices);
out_key:
	mx_signing_key_release(&key);
out_config:
	mx_config_release(&cfg);
	if (!rc)
		mx_log_info("stopped");
	return rc ? 1 : 0;
}

static int mx_cmd_generate_config(int argc, char **argv)
{
	static const struct option opts[] = {
		{"server-name", required_argument, NULL, 's'},
		{"data-dir", required_argument, NULL, 'd'},
		{"config", required_argument, NULL, 'c'},
		{"enable-registration", no_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	const char *name = NULL, *data_dir = "data", *path = NULL;
	bool reg = false;
	int c;
	while ((c = getopt_long(argc, argv, "s:d:c:r", opts, NULL)) != -1) {
		switch (c) {
		case 's': name = optarg; break;
		case 'd': data_dir = optarg; break;
		case 'c': path = optarg; break;
		case 'r': reg = true; break;
		default: mx_usage(stderr); return 2;
		}
	}
	if (!name) {
		fprintf(stderr, "myelin generate-config: --server-name is required\n");
		return 2;
	}
	char *def = NULL;
	if (!path) {
		def = mx_xasprintf("%s/homeserver.yaml", data_dir);
		path = def;
	}
	if (mx_rand_init())
		return 1;
	char err[1024] = "";
	int rc = mx_config_generate(path, name, data_dir, reg, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "myelin generate-config: %s\n", err);
		free(def);
		return 1;
	}
	/* Create the signing key now so the config is complete on disk. */
	struct mx_config cfg;
	if (mx_config_load(&cfg, path, err, sizeof(err)) == 0) {
		struct mx_signing_key key;
		if (mx_signing_key_load_or_generate(&key, cfg.signing_key_path, NULL) == 0)
			mx_signing_key_release(&key);
		else
			fprintf(stderr, "myelin generate-config: cannot write %s\n",
				cfg.signing_key_path);
		mx_config_release(&cfg);
	}
	printf("wrote %s\n", path);
	free(def);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		mx_usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
		printf("myelin %s\n", MX_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		mx_usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "serve")) {
		const char *path = NULL;
		for (int i = 2; i < argc; i++) {
			if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
				path = argv[++i];
			else {
				mx_usage(stderr);
				return 2;
			}
		}
		if (!path) {
			fprintf(stderr, "myelin serve: -c FILE is required\n");
			return 2;
		}
		return mx_cmd_serve(path);
	}
	if (!strcmp(cmd, "generate-config"))
		return mx_cmd_generate_config(argc - 1, argv + 1);
	if (!strcmp(cmd, "register-user"))
		return mx_cli_register_user(argc - 1, argv + 1);
	if (!strcmp(cmd, "media"))
		return mx_cli_media(argc - 1, argv + 1);
	mx_usage(stderr);
	return 2;
}
