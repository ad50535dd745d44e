/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared-secret registration: GET and POST /_synapse/admin/v1/register,
 * as Synapse's UserRegisterServlet (synapse/rest/admin/users.py), with the
 * same request body, MAC, error codes and messages, so that
 * register_new_matrix_user and `myelin register-user` work unchanged.
 *
 * Deliberate differences from Synapse, none visible to a correct client:
 *  - the MAC is checked before the password is hashed (Synapse hashes
 *    first), so requests without the secret cost no argon2 work;
 *  - the nonce table is bounded (MX_ADMIN_NONCE_MAX);
 *  - wrong JSON types are 400 M_BAD_JSON where Synapse would answer 500;
 *  - user_type is checked and covered by the MAC but not stored, as
 *    Myelin has no user types yet ("support" and "bot" only change MAU
 *    accounting and the user directory in Synapse).
 * SPEC: Synapse admin API, docs/admin_api/register_api.md
 */
#include "admin/register.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "admin/routes.h"
#include "client/util.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/rand.h"
#include "crypto/password.h"
#include "http/request.h"
#include "store/accounts.h"

/* Synapse's limit on username and password in this API (bytes here). */
#define MX_ADMIN_FIELD_MAX 512

/* ---- the nonce table ---- */

struct mx_admin_nonce {
	char value[MX_ADMIN_NONCE_LEN + 1]; /* "" = free slot */
	int64_t issued_ms;
};

struct mx_admin_nonces {
	pthread_mutex_t lock;
	struct mx_admin_nonce slots[MX_ADMIN_NONCE_MAX];
};

struct mx_admin_nonces *mx_admin_nonces_new(void)
{
	struct mx_admin_nonces *t = mx_xcalloc(1, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

void mx_admin_nonces_free(struct mx_admin_nonces *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static bool mx_admin_nonce_expired(const struct mx_admin_nonce *n, int64_t now_ms)
{
	return now_ms - n->issued_ms > MX_ADMIN_NONCE_TTL_MS;
}

void mx_admin_nonces_issue(struct mx_admin_nonces *t, int64_t now_ms,
			   char out[MX_ADMIN_NONCE_LEN + 1])
{
	unsigned char rnd[MX_ADMIN_NONCE_LEN / 2];
	mx_rand_bytes(rnd, sizeof(rnd));
	sodium_bin2hex(out, MX_ADMIN_NONCE_LEN + 1, rnd, sizeof(rnd));

	pthread_mutex_lock(&t->lock);
	struct mx_admin_nonce *slot = NULL, *oldest = NULL;
	for (size_t i = 0; i < MX_ADMIN_NONCE_MAX; i++) {
		struct mx_admin_nonce *n = &t->slots[i];
		if (n->value[0] && mx_admin_nonce_expired(n, now_ms))
			n->value[0] = '\0';
		if (!n->value[0]) {
			if (!slot)
				slot = n;
		} else if (!oldest || n->issued_ms < oldest->issued_ms) {
			oldest = n;
		}
	}
	if (!slot) {
		/* Full of live nonces: someone is flooding GETs. Keep memory bounded. */
		mx_log_warn("admin register: nonce table full, evicting the oldest nonce");
		slot = oldest;
	}
	memcpy(slot->value, out, MX_ADMIN_NONCE_LEN + 1);
	slot->issued_ms = now_ms;
	pthread_mutex_unlock(&t->lock);
}

int mx_admin_nonces_take(struct mx_admin_nonces *t, const char *nonce, int64_t now_ms)
{
	int rc = MX_ENOTFOUND;
	if (strlen(nonce) != MX_ADMIN_NONCE_LEN)
		return rc;
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < MX_ADMIN_NONCE_MAX; i++) {
		struct mx_admin_nonce *n = &t->slots[i];
		if (!n->value[0] || strcmp(n->value, nonce) != 0)
			continue;
		if (!mx_admin_nonce_expired(n, now_ms))
			rc = 0;
		n->value[0] = '\0';
		break;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

/* ---- the MAC ---- */

int mx_admin_register_mac(const char *secret, const char *nonce, const char *user,
			  const char *password, bool admin, const char *user_type,
			  char out_hex[41])
{
	const char *parts[5] = {nonce, user, password, admin ? "admin" : "notadmin",
				user_type && *user_type ? user_type : NULL};
	size_t total = 0;
	for (size_t i = 0; i < 5 && parts[i]; i++)
		total += strlen(parts[i]) + 1;
	/* One buffer "a\0b\0c\0d[\0e]": HMAC() is the one-shot API both OpenSSL 1.1 and 3 keep. */
	unsigned char *msg = mx_xmalloc(total);
	size_t off = 0;
	for (size_t i = 0; i < 5 && parts[i]; i++) {
		size_t n = strlen(parts[i]);
		if (off)
			msg[off++] = '\0';
		memcpy(msg + off, parts[i], n);
		off += n;
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	int rc = 0;
	size_t klen = strlen(secret);
	if (klen > (size_t)INT_MAX ||
	    !HMAC(EVP_sha1(), secret, (int)klen, msg, off, md, &md_len) || md_len != 20) {
		out_hex[0] = '\0';
		rc = MX_EUNKNOWN;
		goto out;
	}
	sodium_bin2hex(out_hex, 41, md, md_len);
out:
	/* msg holds the password. */
	OPENSSL_cleanse(msg, total);
	free(msg);
	return rc;
}

/* ---- handlers ---- */

/* Synapse's SynapseError(400, msg) with no errcode: 400 M_UNKNOWN. */
static int mx_admin_fail400(struct mx_req *req, const char *msg)
{
	return mx_req_fail_json(req, MX_EINVALIDPARAM, 400,
				json_pack("{s:s, s:s}", "errcode", "M_UNKNOWN", "error", msg));
}

/* A required string of at most MX_ADMIN_FIELD_MAX bytes, as Synapse checks it. */
static int mx_admin_field(struct mx_req *req, const char *key, const char *invalid,
			  const char **out)
{
	int rc = mx_client_opt_string(req, req->json, key, out);
	if (rc)
		return rc;
	if (!*out)
		return mx_req_fail(req, MX_EBADJSON, "%s must be specified", key);
	if (invalid && strlen(*out) > MX_ADMIN_FIELD_MAX)
		return mx_admin_fail400(req, invalid);
	return 0;
}

/* SPEC: Synapse register_api.md: "GET /_synapse/admin/v1/register" */
static int mx_admin_register_nonce(struct mx_req *req)
{
	char nonce[MX_ADMIN_NONCE_LEN + 1];
	mx_admin_nonces_issue(req->srv->admin_nonces, mx_clock_mono_ms(), nonce);
	return mx_req_reply_json(req, 200, json_pack("{s:s}", "nonce", nonce));
}

/* Synapse's RegistrationHandler.check_username, minus the parts done elsewhere. */
static int mx_admin_check_localpart(struct mx_req *req, const char *lp, const char **user_id)
{
	if (!*lp)
		return mx_req_fail(req, MX_EINVALIDUSERNAME, "User ID cannot be empty");
	if (strspn(lp, "abcdefghijklmnopqrstuvwxyz0123456789._=-/+") != strlen(lp))
		return mx_req_fail(req, MX_EINVALIDUSERNAME,
				   "User ID can only contain characters a-z, 0-9, or '=_-./+'");
	if (lp[0] == '_')
		return mx_req_fail(req, MX_EINVALIDUSERNAME, "User ID may not begin with _");
	const char *uid = mx_arena_printf(&req->arena, "@%s:%s", lp, req->srv->cfg->server_name);
	if (strlen(uid) > 255)
		return mx_req_fail(req, MX_EINVALIDUSERNAME,
				   "User ID may not be longer than 255 characters");
	if (strspn(lp, "0123456789") == strlen(lp))
		return mx_req_fail(req, MX_EINVALIDUSERNAME,
				   "Numeric user IDs are reserved for guest users.");
	if (mx_store_user_exists(req->w->rconn, uid))
		return mx_req_fail(req, MX_EUSERINUSE, "User ID already taken.");
	*user_id = uid;
	return 0;
}

/* SPEC: Synapse register_api.md: "POST /_synapse/admin/v1/register" */
static int mx_admin_register(struct mx_req *req)
{
	const struct mx_config *cfg = req->srv->cfg;
	json_t *body = req->json;
	const char *secret = cfg->registration_shared_secret;
	if (!secret || !*secret)
		return mx_admin_fail400(req, "Shared secret registration is not enabled");

	const char *nonce;
	int rc = mx_admin_field(req, "nonce", NULL, &nonce);
	if (rc)
		return rc;
	/* Taken before anything else is checked: a nonce never serves twice. */
	if (mx_admin_nonces_take(req->srv->admin_nonces, nonce, mx_clock_mono_ms()))
		return mx_admin_fail400(req, "unrecognised nonce");

	const char *username, *password, *displayname, *user_type, *mac;
	const char *device_id, *device_name;
	bool inhibit, want_refresh;
	json_t *admin_v = json_object_get(body, "admin");
	rc = mx_admin_field(req, "username", "Invalid username", &username);
	if (!rc)
		rc = mx_admin_field(req, "password", "Invalid password", &password);
	if (rc)
		return rc;
	/* Synapse tests `if admin`; we take a boolean, or null for no. */
	if (admin_v && !json_is_boolean(admin_v) && !json_is_null(admin_v))
		return mx_req_fail(req, MX_EBADJSON, "'admin' must be a boolean");
	bool admin = json_is_true(admin_v);
	rc = mx_client_opt_string(req, body, "user_type", &user_type);
	if (!rc)
		rc = mx_client_opt_string(req, body, "displayname", &displayname);
	if (rc)
		return rc;
	/* Synapse's UserTypes.ALL_USER_TYPES. */
	if (user_type && strcmp(user_type, "support") != 0 && strcmp(user_type, "bot") != 0)
		return mx_admin_fail400(req, "Invalid user type");
	rc = mx_admin_field(req, "mac", NULL, &mac);
	if (rc)
		return rc;

	char want[41];
	if (mx_admin_register_mac(secret, nonce, username, password, admin, user_type, want))
		return mx_req_fail(req, MX_EUNKNOWN, "Could not compute the MAC");
	/* Constant time in the MAC's content; only its length (public) leaks. */
	if (strlen(mac) != 40 || CRYPTO_memcmp(want, mac, 40) != 0)
		return mx_req_fail(req, MX_EFORBIDDEN, "HMAC incorrect");

	rc = mx_client_opt_bool(req, body, "refresh_token", false, &want_refresh);
	if (!rc)
		rc = mx_client_opt_bool(req, body, "inhibit_login", false, &inhibit);
	if (!rc)
		rc = mx_client_opt_string(req, body, "device_id", &device_id);
	if (!rc)
		rc = mx_client_opt_string(req, body, "initial_device_display_name", &device_name);
	if (rc)
		return rc;
	if (device_id && (!*device_id || strlen(device_id) > 255))
		return mx_req_fail(req, MX_EINVALIDPARAM, "device_id must be 1-255 characters");

	/* The MAC covers the name as sent; the account gets it lower-cased, as in Synapse. */
	char *lp = mx_arena_strdup(&req->arena, username);
	for (char *p = lp; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	const char *user_id = NULL;
	rc = mx_admin_check_localpart(req, lp, &user_id);
	if (rc)
		return rc;

	char hash[MX_PASSWORD_HASH_MAX];
	struct mx_password_cost cost = {req->srv->pw_opslimit, req->srv->pw_memlimit};
	if (mx_password_hash(password, hash, &cost))
		return mx_req_fail(req, MX_EUNKNOWN, "Password hashing failed");

	struct mx_new_user u = {0};
	u.user_id = user_id;
	u.password_hash = hash;
	u.is_admin = admin;
	u.displayname = displayname ? displayname : lp;
	u.audit_actor = "shared-secret";
	if (!inhibit) {
		u.device_id = device_id ? device_id : mx_client_new_device_id(req);
		u.device_display_name = device_name;
		u.want_refresh = want_refresh;
		u.access_lifetime_ms = want_refresh ? cfg->refreshable_access_token_lifetime_ms
						    : cfg->nonrefreshable_access_token_lifetime_ms;
		u.refresh_lifetime_ms = cfg->refresh_token_lifetime_ms;
	}
	struct mx_session_tokens t;
	rc = mx_store_user_create(req->srv->db, &u, &t);
	if (rc == MX_EUSERINUSE)
		return mx_req_fail(req, rc, "User ID already taken.");
	if (rc)
		return mx_req_fail(req, rc, NULL);
	mx_log_info("admin register: created %s%s%s%s (shared secret, from %s)", user_id,
		    admin ? " as admin" : "", user_type ? ", user_type " : "",
		    user_type ? user_type : "", req->client_ip);
	if (user_type)
		mx_log_warn("admin register: user_type '%s' of %s is not stored", user_type, user_id);

	json_t *r = json_pack("{s:s, s:s}", "user_id", user_id, "home_server", cfg->server_name);
	if (!inhibit) {
		json_object_set_new(r, "access_token", json_string(t.access_token));
		json_object_set_new(r, "device_id", json_string(u.device_id));
		if (t.refresh_token[0])
			json_object_set_new(r, "refresh_token", json_string(t.refresh_token));
		if (t.expires_in_ms)
			json_object_set_new(r, "expires_in_ms", json_integer(t.expires_in_ms));
	}
	sodium_memzero(&t, sizeof(t));
	return mx_req_reply_json(req, 200, r);
}

#define A MX_RES_ADMIN
const struct mx_route mx_admin_routes[] = {
	{MX_GET, "/_synapse/admin/v1/register", mx_admin_register_nonce, 0, A, MX_RL_NONE, 0},
	{MX_POST, "/_synapse/admin/v1/register", mx_admin_register, MX_ROUTE_JSON, A, MX_RL_NONE, 0},
};
const size_t mx_admin_routes_count = sizeof(mx_admin_routes) / sizeof(mx_admin_routes[0]);
