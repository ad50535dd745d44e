/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The keyring: other servers' ed25519 keys, believed only once a key
 * response has been checked (server_name, every verify_key's
 * self-signature, a notary's pinned signature), then kept in the
 * server_keys table and in an in-memory hash table in front of it.
 *
 * Look-ups from HTTP threads use the memory table only
 * (mx_keyring_lookup_cached); job threads fall back to the database and
 * the network (mx_keyring_get). Fetches of one server are serialised: a
 * caller that finds a fetch of the same server in progress waits for it
 * and uses its result, and a server is not asked again within
 * KR_REFETCH_MIN_MS of the last attempt, so a flood of requests signed
 * with made-up key ids costs the origin one request a minute.
 * SPEC: server-server-api#retrieving-server-keys
 */
#include "federation/keyring.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/arena.h"
#include "core/base64.h"
#include "core/canonjson.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/server.h"
#include "crypto/keys.h"
#include "crypto/sign.h"
#include "db/db.h"
#include "event/ids.h"
#include "federation/client.h"

#define KR_BUCKETS 4096           /* power of two */
#define KR_MAX_ENTRIES 65536      /* keys held in memory; the database holds the rest */
#define KR_MAX_FETCH_RECORDS 4096 /* per-server fetch records kept for the refetch interval */
#define KR_REFETCH_MIN_MS (60 * 1000)
#define KR_FETCH_TIMEOUT_MS (15 * 1000)
#define KR_SERVER_MAX_BODY (64 * 1024)   /* a /key/v2/server answer */
#define KR_NOTARY_MAX_BODY (512 * 1024)  /* a notary's answer */
#define KR_NOTARY_MAX_ENTRIES 32         /* server_keys entries looked at */
#define KR_SERVER_NAME_MAX 300           /* above any valid server name */

struct kr_key {
	struct kr_key *next;
	char *server, *key_id;
	unsigned char pk[32];
	int64_t published_until; /* valid_until_ts as published: a newer answer replaces */
	int64_t valid_until;     /* the lesser of that and fetch time + 7 days */
	int64_t expired_ts;      /* an old key: when it stopped; 0: a current key */
};

/* One server's fetch: who is fetching, and when it was last asked. */
struct kr_fetch {
	struct kr_fetch *next;
	char *server;
	bool busy;
	unsigned waiters;
	int64_t done_ms; /* monotonic end of the last attempt; 0: none */
	int rc;          /* its outcome: 0 (a valid answer) or MX_EREMOTE */
};

struct mx_keyring {
	struct mx_server *srv;
	unsigned char hash_key[crypto_shorthash_KEYBYTES]; /* server names are chosen by others */

	pthread_rwlock_t lock; /* buckets, n_keys */
	struct kr_key *buckets[KR_BUCKETS];
	size_t n_keys;

	pthread_mutex_t fetch_lock; /* fetches, n_fetches */
	pthread_cond_t fetch_done;
	struct kr_fetch *fetches;
	size_t n_fetches;
};

/* ---- pure checks ---------------------------------------------------------- */

/* The lesser of valid_until_ts and 7 days after the fetch. */
static int64_t kr_effective_until(int64_t valid_until_ts, int64_t fetched_ts)
{
	int64_t cap = fetched_ts > INT64_MAX - MX_KEYRING_MAX_VALIDITY_MS
			      ? INT64_MAX
			      : fetched_ts + MX_KEYRING_MAX_VALIDITY_MS;
	return valid_until_ts < cap ? valid_until_ts : cap;
}

bool mx_keyring_key_usable(int64_t valid_until_ts, int64_t fetched_ts, int64_t expired_ts,
			   int64_t at_ts)
{
	if (expired_ts > 0)
		return at_ts < expired_ts;
	return at_ts <= kr_effective_until(valid_until_ts, fetched_ts);
}

/* A key id we keep: "ed25519:" and a version the spec allows. */
static bool kr_ed25519_id(const char *key_id)
{
	return !strncmp(key_id, "ed25519:", 8) && strlen(key_id) <= MX_SERVER_KEY_ID_MAX &&
	       mx_signing_key_version_valid(key_id + 8);
}

/* The 32-byte key of a {"key": base64} object. */
static int kr_decode_key(const json_t *v, unsigned char pk[32])
{
	const json_t *k = json_object_get(v, "key");
	if (!json_is_string(k) || strlen(json_string_value(k)) != json_string_length(k) ||
	    mx_base64_decode_exact(json_string_value(k), MX_BASE64_STD, pk, 32))
		return MX_EBADJSON;
	return 0;
}

static struct mx_server_key *kr_response_find(struct mx_key_response *r, const char *key_id)
{
	for (size_t i = 0; i < r->n_keys; i++)
		if (!strcmp(r->keys[i].key_id, key_id))
			return &r->keys[i];
	return NULL;
}

/* SPEC: server-server-api#get_matrixkeyv2server (the Server Keys object). */
int mx_keyring_check_response(const json_t *resp, const char *server,
			      int64_t min_valid_until_ts, struct mx_key_response *out)
{
	const char *key_id;
	json_t *v;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(resp) || !server)
		return MX_EBADJSON;
	const json_t *sn = json_object_get(resp, "server_name");
	if (!json_is_string(sn))
		return MX_EBADJSON;
	if (json_string_length(sn) != strlen(server) || strcmp(json_string_value(sn), server))
		return MX_EFORBIDDEN;
	const json_t *vut = json_object_get(resp, "valid_until_ts");
	if (!json_is_integer(vut) || json_integer_value(vut) < 0)
		return MX_EBADJSON;
	out->valid_until_ts = json_integer_value(vut);
	json_t *vk = json_object_get(resp, "verify_keys");
	json_t *old = json_object_get(resp, "old_verify_keys");
	if (!json_is_object(vk) || (old && !json_is_object(old) && !json_is_null(old)))
		return MX_EBADJSON;

	json_object_foreach(vk, key_id, v) {
		if (!kr_ed25519_id(key_id)) /* other algorithms, or ids we cannot name */
			continue;
		if (out->n_keys == MX_KEYRING_MAX_KEYS)
			return MX_ETOOLARGE;
		struct mx_server_key *k = &out->keys[out->n_keys];
		if (!json_is_object(v) || kr_decode_key(v, k->pk))
			return MX_EBADJSON;
		/* Every key the server lists must have signed what it lists. */
		int rc = mx_verify_json(resp, server, key_id, k->pk);
		if (rc)
			return rc == MX_EBADJSON ? MX_EBADJSON : MX_EFORBIDDEN;
		memcpy(k->key_id, key_id, strlen(key_id) + 1);
		k->expired_ts = 0;
		out->n_keys++;
	}
	if (!out->n_keys)
		return MX_EFORBIDDEN;

	if (json_is_object(old)) {
		json_object_foreach(old, key_id, v) {
			if (!kr_ed25519_id(key_id) || kr_response_find(out, key_id))
				continue;
			if (out->n_keys == MX_KEYRING_MAX_KEYS)
				return MX_ETOOLARGE;
			struct mx_server_key *k = &out->keys[out->n_keys];
			const json_t *exp = json_object_get(v, "expired_ts");
			if (!json_is_object(v) || kr_decode_key(v, k->pk) || !json_is_integer(exp))
				return MX_EBADJSON;
			if (json_integer_value(exp) <= 0) /* never usable: at_ts < expired_ts */
				continue;
			memcpy(k->key_id, key_id, strlen(key_id) + 1);
			k->expired_ts = json_integer_value(exp);
			out->n_keys++;
		}
	}
	if (out->valid_until_ts < min_valid_until_ts)
		return MX_EFORBIDDEN;
	return 0;
}

int mx_keyring_check_notary(const json_t *resp, const struct mx_config_key_server *notary)
{
	if (!notary->n_verify_keys)
		return 0;
	const json_t *mine = json_object_get(json_object_get(resp, "signatures"),
					     notary->server_name);
	bool signed_by_pinned = false;
	for (size_t i = 0; i < notary->n_verify_keys; i++) {
		const struct mx_config_pinned_key *pk = &notary->verify_keys[i];
		if (!json_object_get(mine, pk->key_id))
			continue;
		if (mx_verify_json(resp, notary->server_name, pk->key_id, pk->key))
			return MX_EFORBIDDEN;
		signed_by_pinned = true;
	}
	return signed_by_pinned ? 0 : MX_EFORBIDDEN;
}

/* ---- the memory table ----------------------------------------------------- */

static bool kr_is_own(const struct mx_keyring *kr, const char *server)
{
	return !strcmp(server, kr->srv->cfg->server_name);
}

/* Names too long to be valid never reach the table. */
static bool kr_names_ok(const char *server, const char *key_id)
{
	return server && key_id && strnlen(server, KR_SERVER_NAME_MAX + 1) <= KR_SERVER_NAME_MAX &&
	       strnlen(key_id, MX_SERVER_KEY_ID_MAX + 1) <= MX_SERVER_KEY_ID_MAX;
}

static size_t kr_bucket(const struct mx_keyring *kr, const char *server, const char *key_id)
{
	char buf[KR_SERVER_NAME_MAX + MX_SERVER_KEY_ID_MAX + 2];
	size_t ns = strlen(server), nk = strlen(key_id);
	memcpy(buf, server, ns);
	buf[ns] = '\0';
	memcpy(buf + ns + 1, key_id, nk);
	uint64_t h;
	crypto_shorthash((unsigned char *)&h, (const unsigned char *)buf, ns + 1 + nk,
			 kr->hash_key);
	return (size_t)(h & (KR_BUCKETS - 1));
}

static struct kr_key *kr_find(struct mx_keyring *kr, size_t b, const char *server,
			      const char *key_id)
{
	for (struct kr_key *e = kr->buckets[b]; e; e = e->next)
		if (!strcmp(e->server, server) && !strcmp(e->key_id, key_id))
			return e;
	return NULL;
}

static void kr_key_free(struct kr_key *e)
{
	free(e->server);
	free(e->key_id);
	free(e);
}

/*
 * Make room (write lock held): drop keys no longer usable now, and if the
 * table is still full, everything (the database still has it all).
 */
static void kr_make_room(struct mx_keyring *kr)
{
	int64_t now = mx_clock_now_ms();
	for (int pass = 0; pass < 2 && kr->n_keys >= KR_MAX_ENTRIES; pass++) {
		for (size_t b = 0; b < KR_BUCKETS; b++) {
			struct kr_key **pp = &kr->buckets[b];
			while (*pp) {
				struct kr_key *e = *pp;
				bool stale = e->expired_ts > 0 ? e->expired_ts <= now
								: e->valid_until < now;
				if (pass == 1 || stale) {
					*pp = e->next;
					kr_key_free(e);
					kr->n_keys--;
				} else {
					pp = &e->next;
				}
			}
		}
	}
}

/* Remember a verified key, unless an answer published later is already held. */
static void kr_cache_put(struct mx_keyring *kr, const char *server, const struct mx_server_key *k,
			 int64_t published_until, int64_t fetched_ts)
{
	if (!kr_names_ok(server, k->key_id))
		return;
	size_t b = kr_bucket(kr, server, k->key_id);
	pthread_rwlock_wrlock(&kr->lock);
	struct kr_key *e = kr_find(kr, b, server, k->key_id);
	if (e && e->published_until > published_until)
		goto out;
	if (!e) {
		if (kr->n_keys >= KR_MAX_ENTRIES)
			kr_make_room(kr);
		e = mx_xcalloc(1, sizeof(*e));
		e->server = mx_xstrdup(server);
		e->key_id = mx_xstrdup(k->key_id);
		e->next = kr->buckets[b];
		kr->buckets[b] = e;
		kr->n_keys++;
	}
	memcpy(e->pk, k->pk, sizeof(e->pk));
	e->published_until = published_until;
	e->valid_until = kr_effective_until(published_until, fetched_ts);
	e->expired_ts = k->expired_ts;
out:
	pthread_rwlock_unlock(&kr->lock);
}

int mx_keyring_lookup_cached(struct mx_keyring *kr, const char *server, const char *key_id,
			     int64_t at_ts, unsigned char pk[32])
{
	if (!kr || !kr_names_ok(server, key_id))
		return MX_ENOTFOUND;
	if (kr_is_own(kr, server)) {
		if (strcmp(key_id, kr->srv->key->key_id))
			return MX_ENOTFOUND;
		memcpy(pk, kr->srv->key->pk, 32);
		return 0;
	}
	size_t b = kr_bucket(kr, server, key_id);
	int rc = MX_ENOTFOUND;
	pthread_rwlock_rdlock(&kr->lock);
	struct kr_key *e = kr_find(kr, b, server, key_id);
	if (e && (e->expired_ts > 0 ? at_ts < e->expired_ts : at_ts <= e->valid_until)) {
		memcpy(pk, e->pk, 32);
		rc = 0;
	}
	pthread_rwlock_unlock(&kr->lock);
	return rc;
}

/* ---- storing a response ----------------------------------------------------- */

int mx_keyring_add_response(struct mx_keyring *kr, const json_t *resp, const char *server,
			    const char *from_server, int64_t min_valid_until_ts, int64_t now)
{
	struct mx_key_response r;
	int rc = mx_keyring_check_response(resp, server, min_valid_until_ts, &r);
	if (rc)
		return rc;
	/* Keep what the server signed, with its own signatures only: a notary
	 * that serves it again adds its own (matrix-org/synapse#8441). */
	json_t *copy = json_deep_copy(resp);
	json_t *own = json_object_get(json_object_get(copy, "signatures"), server);
	json_object_set_new(copy, "signatures", json_pack("{s:O}", server, own));
	json_object_del(copy, "unsigned");
	int err = 0;
	char *text = mx_canonjson_dumps(copy, KR_NOTARY_MAX_BODY, &err);
	json_decref(copy);
	if (!text)
		return MX_EBADJSON;
	if (kr->srv->db) {
		rc = mx_store_server_keys_put(kr->srv->db, server, from_server, text,
					      r.valid_until_ts, now, r.keys, r.n_keys);
		if (rc)
			mx_log_warn("keyring: cannot store the keys of %s", server);
	}
	free(text);
	for (size_t i = 0; i < r.n_keys; i++)
		kr_cache_put(kr, server, &r.keys[i], r.valid_until_ts, now);
	return 0;
}

/* ---- sources ---------------------------------------------------------------- */

/* The key from the database, if it is there and usable at at_ts. */
static int kr_from_db(struct mx_keyring *kr, struct mx_worker *w, const char *server,
		      const char *key_id, int64_t at_ts, unsigned char pk[32])
{
	struct mx_db_conn *conn = w ? w->rconn : NULL, *mine = NULL;
	if (!conn) {
		if (!kr->srv->db || mx_db_conn_open(kr->srv->db, &mine))
			return MX_ENOTFOUND;
		conn = mine;
	}
	struct mx_arena a;
	mx_arena_init(&a);
	struct mx_server_key_row row;
	int rc = mx_store_server_key_get(conn, &a, server, key_id, &row);
	if (rc == 0) {
		struct mx_server_key k = {.expired_ts = row.expired_ts};
		memcpy(k.key_id, key_id, strlen(key_id) + 1);
		memcpy(k.pk, row.pk, 32);
		kr_cache_put(kr, server, &k, row.valid_until_ts, row.fetched_ts);
		if (mx_keyring_key_usable(row.valid_until_ts, row.fetched_ts, row.expired_ts, at_ts))
			memcpy(pk, row.pk, 32);
		else
			rc = MX_ENOTFOUND;
	}
	mx_arena_release(&a);
	mx_db_conn_close(mine);
	return rc ? MX_ENOTFOUND : 0;
}

/* The response body as strict JSON, for a 200 answer. NULL otherwise. */
static json_t *kr_body_json(const struct mx_fed_response *r)
{
	if (r->status != 200 || !r->body)
		return NULL;
	json_t *doc = mx_json_parse_strict(r->body, r->body_len, NULL);
	if (doc && !json_is_object(doc)) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

/* GET /_matrix/key/v2/server from the server itself. 0 or MX_EREMOTE. */
static int kr_fetch_direct(struct mx_keyring *kr, const char *server)
{
	if (!kr->srv->fed)
		return MX_EREMOTE;
	struct mx_fed_request rq = {.destination = server, .method = "GET",
				    .uri = "/_matrix/key/v2/server", .sign = false,
				    /* at most once a minute per server (kr_fetch) */
				    .ignore_backoff = true,
				    .timeout_ms = KR_FETCH_TIMEOUT_MS,
				    .max_body = KR_SERVER_MAX_BODY};
	struct mx_fed_response r;
	json_t *doc;
	memset(&r, 0, sizeof(r));
	int rc = mx_fed_request(kr->srv->fed, &rq, &r);
	if (rc) {
		mx_log_info("keyring: cannot fetch the keys of %s: %s", server,
			    mx_error_message(rc));
		rc = MX_EREMOTE;
		goto out;
	}
	if (!(doc = kr_body_json(&r))) {
		mx_log_info("keyring: %s answered its key request with HTTP %ld and no keys",
			    server, r.status);
		rc = MX_EREMOTE;
		goto out;
	}
	/* A server's own answer must be valid now. */
	rc = mx_keyring_add_response(kr, doc, server, server, mx_clock_now_ms(),
				     mx_clock_now_ms());
	json_decref(doc);
	if (rc) {
		mx_log_warn("keyring: %s served keys that fail the checks (%s)", server,
			    mx_error_message(rc));
		rc = MX_EREMOTE;
	}
out:
	mx_fed_response_release(&r);
	return rc;
}

/*
 * POST /_matrix/key/v2/query to a notary for server (key_id, or all keys
 * when NULL). 0 when it gave at least one valid response, else MX_EREMOTE.
 */
static int kr_fetch_notary(struct mx_keyring *kr, const struct mx_config_key_server *notary,
			   const char *server, const char *key_id, int64_t at_ts)
{
	if (!kr->srv->fed)
		return MX_EREMOTE;
	json_t *criteria = json_object();
	if (key_id) {
		json_t *k = json_object();
		if (at_ts > 0)
			json_object_set_new(k, "minimum_valid_until_ts", json_integer(at_ts));
		json_object_set_new(criteria, key_id, k);
	}
	json_t *body = json_pack("{s:{s:o}}", "server_keys", server, criteria);
	struct mx_fed_request rq = {.destination = notary->server_name, .method = "POST",
				    .uri = "/_matrix/key/v2/query", .body = body, .sign = false,
				    .timeout_ms = KR_FETCH_TIMEOUT_MS,
				    .max_body = KR_NOTARY_MAX_BODY};
	struct mx_fed_response r;
	json_t *doc = NULL, *e;
	size_t i;
	int64_t now;
	memset(&r, 0, sizeof(r));
	int rc = mx_fed_request(kr->srv->fed, &rq, &r);
	json_decref(body);
	if (rc || !(doc = kr_body_json(&r))) {
		mx_log_info("keyring: notary %s could not give the keys of %s",
			    notary->server_name, server);
		rc = MX_EREMOTE;
		goto out;
	}
	rc = MX_EREMOTE;
	now = mx_clock_now_ms();
	json_array_foreach(json_object_get(doc, "server_keys"), i, e) {
		if (i >= KR_NOTARY_MAX_ENTRIES)
			break;
		const char *sn = json_string_value(json_object_get(e, "server_name"));
		if (!sn || strcmp(sn, server)) /* we asked about one server only */
			continue;
		if (mx_keyring_check_notary(e, notary)) {
			mx_log_warn("keyring: notary %s's answer for %s is not signed with its "
				    "pinned key", notary->server_name, server);
			continue;
		}
		/* Stale copies are fine for old events, not for at_ts. */
		int err = mx_keyring_add_response(kr, e, server, notary->server_name,
						  at_ts > 0 ? at_ts : 0, now);
		if (!err)
			rc = 0;
		else
			mx_log_info("keyring: notary %s's answer for %s refused (%s)",
				    notary->server_name, server, mx_error_message(err));
	}
out:
	json_decref(doc);
	mx_fed_response_release(&r);
	return rc;
}

static bool kr_have(struct mx_keyring *kr, const char *server, const char *key_id,
		    int64_t at_ts)
{
	unsigned char pk[32];
	return !key_id || mx_keyring_lookup_cached(kr, server, key_id, at_ts, pk) == 0;
}

/* Ask the server, then (if notaries) each trusted key server. */
static int kr_fetch_sources(struct mx_keyring *kr, const char *server, const char *key_id,
			    int64_t at_ts, bool notaries)
{
	bool answered = false;
	if (kr_fetch_direct(kr, server) == 0) {
		answered = true;
		if (kr_have(kr, server, key_id, at_ts))
			return 0;
	}
	const struct mx_config *cfg = kr->srv->cfg;
	for (size_t i = 0; notaries && i < cfg->n_trusted_key_servers; i++) {
		const struct mx_config_key_server *n = &cfg->trusted_key_servers[i];
		if (!strcmp(n->server_name, server) || kr_is_own(kr, n->server_name))
			continue;
		if (kr_fetch_notary(kr, n, server, key_id, at_ts) == 0) {
			answered = true;
			if (kr_have(kr, server, key_id, at_ts))
				return 0;
		}
	}
	return answered ? 0 : MX_EREMOTE;
}

/* The fetch record of server (fetch_lock held), created if need be. */
static struct kr_fetch *kr_fetch_record(struct mx_keyring *kr, const char *server)
{
	for (struct kr_fetch *f = kr->fetches; f; f = f->next)
		if (!strcmp(f->server, server))
			return f;
	if (kr->n_fetches >= KR_MAX_FETCH_RECORDS) {
		/* Forget servers whose refetch interval has passed. */
		int64_t now = mx_clock_mono_ms();
		struct kr_fetch **pp = &kr->fetches;
		while (*pp) {
			struct kr_fetch *f = *pp;
			if (!f->busy && !f->waiters && now - f->done_ms >= KR_REFETCH_MIN_MS) {
				*pp = f->next;
				free(f->server);
				free(f);
				kr->n_fetches--;
			} else {
				pp = &f->next;
			}
		}
	}
	struct kr_fetch *f = mx_xcalloc(1, sizeof(*f));
	f->server = mx_xstrdup(server);
	f->next = kr->fetches;
	kr->fetches = f;
	kr->n_fetches++;
	return f;
}

/*
 * One fetch of server at a time: wait for one in progress, and take the
 * outcome of an attempt that ended less than KR_REFETCH_MIN_MS ago.
 */
static int kr_fetch(struct mx_keyring *kr, const char *server, const char *key_id,
		    int64_t at_ts, bool notaries)
{
	pthread_mutex_lock(&kr->fetch_lock);
	struct kr_fetch *f = kr_fetch_record(kr, server);
	while (f->busy) {
		f->waiters++;
		pthread_cond_wait(&kr->fetch_done, &kr->fetch_lock);
		f->waiters--;
	}
	if (f->done_ms && mx_clock_mono_ms() - f->done_ms < KR_REFETCH_MIN_MS) {
		int rc = f->rc;
		pthread_mutex_unlock(&kr->fetch_lock);
		return rc;
	}
	f->busy = true;
	pthread_mutex_unlock(&kr->fetch_lock);

	int rc = kr_fetch_sources(kr, server, key_id, at_ts, notaries);

	pthread_mutex_lock(&kr->fetch_lock);
	f->busy = false;
	f->done_ms = mx_clock_mono_ms();
	if (!f->done_ms)
		f->done_ms = 1;
	f->rc = rc;
	pthread_cond_broadcast(&kr->fetch_done);
	pthread_mutex_unlock(&kr->fetch_lock);
	return rc;
}

int mx_keyring_get(struct mx_keyring *kr, struct mx_worker *w, const char *server,
		   const char *key_id, int64_t at_ts, unsigned char pk[32])
{
	if (mx_keyring_lookup_cached(kr, server, key_id, at_ts, pk) == 0)
		return 0;
	if (!kr || !kr_names_ok(server, key_id) || kr_is_own(kr, server) ||
	    !mx_id_server_name_valid(server))
		return MX_ENOTFOUND;
	if (kr_from_db(kr, w, server, key_id, at_ts, pk) == 0)
		return 0;
	int rc = kr_fetch(kr, server, key_id, at_ts, true);
	if (mx_keyring_lookup_cached(kr, server, key_id, at_ts, pk) == 0)
		return 0;
	return rc == MX_EREMOTE ? MX_EREMOTE : MX_ENOTFOUND;
}

int mx_keyring_refresh(struct mx_keyring *kr, struct mx_worker *w, const char *server,
		       int64_t min_valid_until_ts)
{
	(void)w; /* the direct fetch reads nothing from the database */
	if (!kr || !server || strnlen(server, KR_SERVER_NAME_MAX + 1) > KR_SERVER_NAME_MAX ||
	    kr_is_own(kr, server) || !mx_id_server_name_valid(server))
		return MX_EINVALID;
	return kr_fetch(kr, server, NULL, min_valid_until_ts, false);
}

/* ---- lifetime --------------------------------------------------------------- */

int mx_keyring_new(struct mx_server *srv, struct mx_keyring **out)
{
	if (sodium_init() < 0)
		MX_BUG("sodium_init");
	struct mx_keyring *kr = mx_xcalloc(1, sizeof(*kr));
	kr->srv = srv;
	randombytes_buf(kr->hash_key, sizeof(kr->hash_key));
	if (pthread_rwlock_init(&kr->lock, NULL) || pthread_mutex_init(&kr->fetch_lock, NULL) ||
	    pthread_cond_init(&kr->fetch_done, NULL))
		MX_BUG("keyring locks");
	*out = kr;
	return 0;
}

void mx_keyring_free(struct mx_keyring *kr)
{
	if (!kr)
		return;
	for (size_t b = 0; b < KR_BUCKETS; b++) {
		struct kr_key *e = kr->buckets[b];
		while (e) {
			struct kr_key *next = e->next;
			kr_key_free(e);
			e = next;
		}
	}
	struct kr_fetch *f = kr->fetches;
	while (f) {
		struct kr_fetch *next = f->next;
		free(f->server);
		free(f);
		f = next;
	}
	pthread_rwlock_destroy(&kr->lock);
	pthread_mutex_destroy(&kr->fetch_lock);
	pthread_cond_destroy(&kr->fetch_done);
	free(kr);
}
