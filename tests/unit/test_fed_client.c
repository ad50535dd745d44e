/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for src/federation/client against a real HTTPS server in the
 * test process (libmicrohttpd with a throw-away self-signed certificate for
 * 127.0.0.1, trusted through federation_custom_ca_list): certificate checks
 * against an IP SAN, the Host header, X-Matrix signatures over the
 * canonical body, buffering, streaming, limits, Location, JSON parsing,
 * connection reuse across requests and threads, and a 5xx backing the
 * destination off.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/canonjson.h"
#include "core/config.h"
#include "core/error.h"
#include "core/mem.h"
#include "core/rand.h"
#include "core/server.h"
#include "crypto/keys.h"
#include "federation/client.h"
#include "federation/xmatrix.h"

/* ---- a self-signed certificate ---- */

static char *bio_string(BIO *b)
{
	char *p;
	long n = BIO_get_mem_data(b, &p);
	return mx_xstrndup(p, (size_t)n);
}

/* A P-256 key and a certificate for 127.0.0.1 and localhost, as PEM. */
static void make_cert(char **cert_pem, char **key_pem)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	assert_non_null(pkey);
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, pkey);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"myelin test",
				   -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	X509_EXTENSION *san =
		X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
	X509_EXTENSION *bc = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "CA:TRUE");
	assert_non_null(san);
	assert_non_null(bc);
	X509_add_ext(x, san, -1);
	X509_add_ext(x, bc, -1);
	X509_EXTENSION_free(san);
	X509_EXTENSION_free(bc);
	assert_true(X509_sign(x, pkey, EVP_sha256()) > 0);
	BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(cb, x);
	PEM_write_bio_PrivateKey(kb, pkey, NULL, NULL, 0, NULL, NULL);
	*cert_pem = bio_string(cb);
	*key_pem = bio_string(kb);
	BIO_free(cb);
	BIO_free(kb);
	X509_free(x);
	EVP_PKEY_free(pkey);
}

/* ---- the server ---- */

struct seen {
	char method[16];
	char url[256];
	char host[300];
	char auth[1024];
	char body[4096];
	size_t body_len;
};

struct test_server {
	struct MHD_Daemon *d;
	unsigned port;
	char *cert, *key;
	char ca_path[64];
	pthread_mutex_t lock;
	int connections;
	struct seen last;
};

static struct test_server ts;

struct upload {
	struct mx_buf b;
};

static void notify_conn(void *cls, struct MHD_Connection *c, void **socket_ctx,
			enum MHD_ConnectionNotificationCode code)
{
	(void)cls;
	(void)c;
	(void)socket_ctx;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		pthread_mutex_lock(&ts.lock);
		ts.connections++;
		pthread_mutex_unlock(&ts.lock);
	}
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
			     const char *body, size_t len, const char *location)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (type)
		MHD_add_response_header(r, "Content-Type", type);
	if (location)
		MHD_add_response_header(r, "Location", location);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_size, void **con_cls)
{
	(void)cls;
	(void)version;
	struct upload *u = *con_cls;
	if (!u) {
		u = mx_xcalloc(1, sizeof(*u));
		mx_buf_init(&u->b, 1 << 20);
		*con_cls = u;
		return MHD_YES;
	}
	if (*upload_size) {
		mx_buf_append(&u->b, upload_data, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	pthread_mutex_lock(&ts.lock);
	memset(&ts.last, 0, sizeof(ts.last));
	snprintf(ts.last.method, sizeof(ts.last.method), "%s", method);
	snprintf(ts.last.url, sizeof(ts.last.url), "%s", url);
	snprintf(ts.last.host, sizeof(ts.last.host), "%s", host ? host : "");
	snprintf(ts.last.auth, sizeof(ts.last.auth), "%s", auth ? auth : "");
	ts.last.body_len = u->b.len < sizeof(ts.last.body) - 1 ? u->b.len : sizeof(ts.last.body) - 1;
	if (u->b.len)
		memcpy(ts.last.body, u->b.data, ts.last.body_len);
	pthread_mutex_unlock(&ts.lock);

	if (!strcmp(url, "/ok") || !strcmp(url, "/echo")) {
		const char *b = "{\"ok\":true}";
		return reply(c, 200, "application/json", b, strlen(b), NULL);
	}
	if (!strcmp(url, "/big")) {
		size_t n = 100 * 1024;
		char *b = mx_xmalloc(n);
		memset(b, 'x', n);
		enum MHD_Result r = reply(c, 200, "application/octet-stream", b, n, NULL);
		free(b);
		return r;
	}
	if (!strcmp(url, "/notfound")) {
		const char *b = "{\"errcode\":\"M_NOT_FOUND\",\"error\":\"no\"}";
		return reply(c, 404, "application/json", b, strlen(b), NULL);
	}
	if (!strcmp(url, "/redirect"))
		return reply(c, 302, "text/plain", "moved", 5, "/ok");
	if (!strcmp(url, "/text"))
		return reply(c, 200, "text/plain", "[1,2]", 5, NULL);
	if (!strcmp(url, "/empty"))
		return reply(c, 204, NULL, "", 0, NULL);
	if (!strcmp(url, "/err500"))
		return reply(c, 500, "application/json", "{}", 2, NULL);
	return reply(c, 400, "text/plain", "?", 1, NULL);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct upload *u = *con_cls;
	if (u) {
		mx_buf_release(&u->b);
		free(u);
		*con_cls = NULL;
	}
}

static int server_start(void)
{
	pthread_mutex_init(&ts.lock, NULL);
	make_cert(&ts.cert, &ts.key);
	snprintf(ts.ca_path, sizeof(ts.ca_path), "/tmp/myelin-test-fedca-XXXXXX");
	int fd = mkstemp(ts.ca_path);
	if (fd < 0 || write(fd, ts.cert, strlen(ts.cert)) != (ssize_t)strlen(ts.cert))
		return -1;
	close(fd);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ts.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS |
					MHD_USE_ERROR_LOG,
				0, NULL, NULL, handler, NULL, MHD_OPTION_HTTPS_MEM_KEY, ts.key,
				MHD_OPTION_HTTPS_MEM_CERT, ts.cert, MHD_OPTION_NOTIFY_CONNECTION,
				notify_conn, NULL, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
	if (!ts.d)
		return -1;
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(ts.d, MHD_DAEMON_INFO_BIND_PORT);
	ts.port = info ? info->port : 0;
	return ts.port ? 0 : -1;
}

/* ---- the client ---- */

struct client {
	struct mx_config cfg;
	struct mx_signing_key key;
	struct mx_server srv;
	struct mx_fed *fed;
	char dest[64];
};

static void client_open(struct client *cl, const char *extra_yaml)
{
	memset(cl, 0, sizeof(*cl));
	char *yaml = mx_xasprintf("server_name: me.org\n"
				  "ip_range_whitelist: ['127.0.0.1']\n"
				  "%s",
				  extra_yaml);
	char path[] = "/tmp/myelin-test-fedclient-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
	free(yaml);
	char err[256];
	int rc = mx_config_load(&cl->cfg, path, err, sizeof(err));
	unlink(path);
	if (rc)
		fail_msg("config: %s", err);
	assert_int_equal(mx_signing_key_generate(&cl->key), 0);
	cl->srv.cfg = &cl->cfg;
	cl->srv.key = &cl->key;
	assert_int_equal(mx_fed_new(&cl->srv, &cl->fed), 0);
	snprintf(cl->dest, sizeof(cl->dest), "127.0.0.1:%u", ts.port);
}

static void client_open_trusting(struct client *cl)
{
	char *y = mx_xasprintf("federation_custom_ca_list: ['%s']\n", ts.ca_path);
	client_open(cl, y);
	free(y);
}

static void client_close(struct client *cl)
{
	mx_fed_free(cl->fed);
	mx_config_release(&cl->cfg);
}

static int do_get(struct client *cl, const char *uri, struct mx_fed_response *resp)
{
	struct mx_fed_request rq = {.destination = cl->dest, .method = "GET", .uri = uri,
				    .sign = true, .timeout_ms = 10000};
	return mx_fed_request(cl->fed, &rq, resp);
}

static void test_get_json(void **state)
{
	(void)state;
	struct client cl;
	client_open_trusting(&cl);
	struct mx_fed_response r;
	assert_int_equal(do_get(&cl, "/ok?x=%20y", &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.content_type, "application/json");
	assert_non_null(r.json);
	assert_true(json_is_true(json_object_get(r.json, "ok")));
	assert_string_equal(r.body, "{\"ok\":true}");
	assert_int_equal(r.body_len, 11);
	assert_null(r.location);
	/* SPEC: the Host header is the server name, port included */
	assert_string_equal(ts.last.host, cl.dest);
	assert_string_equal(ts.last.method, "GET");
	mx_fed_response_release(&r);

	/* a JSON array or a non-JSON body is returned, not parsed */
	assert_int_equal(do_get(&cl, "/text", &r), 0);
	assert_string_equal(r.body, "[1,2]");
	assert_null(r.json);
	mx_fed_response_release(&r);
	assert_int_equal(do_get(&cl, "/empty", &r), 0);
	assert_int_equal(r.status, 204);
	assert_string_equal(r.body, "");
	mx_fed_response_release(&r);

	/* 4xx is an answer: 0, the caller reads it; the destination is fine */
	assert_int_equal(do_get(&cl, "/notfound", &r), 0);
	assert_int_equal(r.status, 404);
	assert_string_equal(json_string_value(json_object_get(r.json, "errcode")), "M_NOT_FOUND");
	assert_false(mx_fed_destination_backed_off(cl.fed, cl.dest));
	mx_fed_response_release(&r);

	/* redirects are not followed; Location comes back absolute */
	assert_int_equal(do_get(&cl, "/redirect", &r), 0);
	assert_int_equal(r.status, 302);
	char *want = mx_xasprintf("https://%s/ok", cl.dest);
	assert_string_equal(r.location, want);
	free(want);
	mx_fed_response_release(&r);
	client_close(&cl);
}

static void test_signed_put(void **state)
{
	(void)state;
	struct client cl;
	client_open_trusting(&cl);
	json_t *body = json_pack("{s:i, s:s, s:{s:b}}", "b", 2, "a", "\xc3\xa9", "c", "z", 1);
	struct mx_fed_request rq = {.destination = cl.dest, .method = "PUT",
				    .uri = "/echo?q=1", .body = body, .sign = true};
	struct mx_fed_response r;
	assert_int_equal(mx_fed_request(cl.fed, &rq, &r), 0);
	assert_int_equal(r.status, 200);
	mx_fed_response_release(&r);
	assert_string_equal(ts.last.method, "PUT");
	/* the body on the wire is the canonical encoding */
	char *canon = mx_canonjson_dumps(body, 1 << 20, NULL);
	assert_string_equal(ts.last.body, canon);
	free(canon);
	/* the X-Matrix header verifies with our key over what was sent */
	struct mx_xmatrix x;
	assert_int_equal(mx_xmatrix_parse(ts.last.auth, &x), 0);
	assert_string_equal(x.origin, "me.org");
	assert_string_equal(x.destination, cl.dest);
	assert_string_equal(x.key_id, cl.key.key_id);
	assert_int_equal(mx_xmatrix_verify(&x, "PUT", "/echo?q=1", body, cl.key.pk), 0);
	json_decref(body);

	/* unsigned: no Authorization; a POST without a body */
	struct mx_fed_request post = {.destination = cl.dest, .method = "POST", .uri = "/echo"};
	assert_int_equal(mx_fed_request(cl.fed, &post, &r), 0);
	assert_string_equal(ts.last.auth, "");
	assert_string_equal(ts.last.method, "POST");
	assert_int_equal(ts.last.body_len, 0);
	mx_fed_response_release(&r);
	client_close(&cl);
}

struct sink {
	size_t bytes;
	int heads;
	long status;
	char type[64];
	size_t fail_after;
};

static int sink_fn(void *ctx, const char *p, size_t n)
{
	struct sink *s = ctx;
	(void)p;
	s->bytes += n;
	if (s->fail_after && s->bytes > s->fail_after)
		return MX_ENOTFOUND;
	return 0;
}

static int head_fn(void *ctx, long status, const char *type, const char *disposition)
{
	struct sink *s = ctx;
	(void)disposition;
	s->heads++;
	s->status = status;
	snprintf(s->type, sizeof(s->type), "%s", type ? type : "");
	return 0;
}

static void test_limits_and_sinks(void **state)
{
	(void)state;
	struct client cl;
	client_open_trusting(&cl);
	struct mx_fed_response r;
	struct mx_fed_request rq = {.destination = cl.dest, .method = "GET", .uri = "/big",
				    .max_body = 1000};
	assert_int_equal(mx_fed_request(cl.fed, &rq, &r), MX_ETOOLARGE);
	assert_null(r.body);
	/* the default limit (1 MiB) lets 100 KiB through */
	rq.max_body = 0;
	assert_int_equal(mx_fed_request(cl.fed, &rq, &r), 0);
	assert_int_equal(r.body_len, 100 * 1024);
	mx_fed_response_release(&r);

	/* streaming: the body goes to the sink, on_head first */
	struct sink s = {0};
	rq.sink = sink_fn;
	rq.sink_ctx = &s;
	rq.on_head = head_fn;
	assert_int_equal(mx_fed_request(cl.fed, &rq, &r), 0);
	assert_int_equal(r.status, 200);
	assert_null(r.body);
	assert_int_equal(s.bytes, 100 * 1024);
	assert_int_equal(s.heads, 1);
	assert_int_equal(s.status, 200);
	assert_string_equal(s.type, "application/octet-stream");
	mx_fed_response_release(&r);
	/* the sink's error aborts the request */
	memset(&s, 0, sizeof(s));
	s.fail_after = 1000;
	assert_int_equal(mx_fed_request(cl.fed, &rq, &r), MX_ENOTFOUND);
	/* an error answer is buffered for the caller, not streamed */
	memset(&s, 0, sizeof(s));
	rq.uri = "/notfound";
	assert_int_equal(mx_fed_request(cl.fed, &rq, &r), 0);
	assert_int_equal(s.bytes, 0);
	assert_int_equal(s.status, 404);
	assert_non_null(r.json);
	mx_fed_response_release(&r);

	/* plain GETs of a URL: redirects followed, same limits */
	char *url = mx_xasprintf("https://%s/redirect", cl.dest);
	assert_int_equal(mx_fed_get_url(cl.fed, url, 10000, 0, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"ok\":true}");
	mx_fed_response_release(&r);
	free(url);
	url = mx_xasprintf("https://%s/big", cl.dest);
	assert_int_equal(mx_fed_get_url(cl.fed, url, 10000, 10, NULL, &r), MX_ETOOLARGE);
	memset(&s, 0, sizeof(s));
	struct mx_fed_request stream = {.sink = sink_fn, .sink_ctx = &s, .on_head = head_fn};
	assert_int_equal(mx_fed_get_url(cl.fed, url, 10000, 0, &stream, &r), 0);
	assert_int_equal(s.bytes, 100 * 1024);
	assert_int_equal(s.heads, 1);
	mx_fed_response_release(&r);
	free(url);
	client_close(&cl);
}

static void test_tls_verification(void **state)
{
	(void)state;
	struct client cl;
	struct mx_fed_response r;
	/* the system CAs do not know our certificate */
	client_open(&cl, "");
	assert_int_equal(do_get(&cl, "/ok", &r), MX_EREMOTE);
	client_close(&cl);
	/* unless verification is off */
	client_open(&cl, "federation_verify_certificates: false\n");
	assert_int_equal(do_get(&cl, "/ok", &r), 0);
	assert_int_equal(r.status, 200);
	mx_fed_response_release(&r);
	/* an IPv6 literal (v4-mapped, to reach the IPv4 test server) */
	int s6 = socket(AF_INET6, SOCK_STREAM, 0);
	if (s6 >= 0) {
		close(s6);
		snprintf(cl.dest, sizeof(cl.dest), "[::ffff:127.0.0.1]:%u", ts.port);
		assert_int_equal(do_get(&cl, "/ok", &r), 0);
		assert_int_equal(r.status, 200);
		assert_string_equal(ts.last.host, cl.dest);
		mx_fed_response_release(&r);
	}
	client_close(&cl);
	/* a CA file that does not exist stops start-up */
	memset(&cl, 0, sizeof(cl));
	char err[256];
	char path[] = "/tmp/myelin-test-fedclient-XXXXXX";
	int fd = mkstemp(path);
	const char *y = "server_name: me.org\nfederation_custom_ca_list: [/nonexistent/ca.pem]\n";
	assert_int_equal(write(fd, y, strlen(y)), (ssize_t)strlen(y));
	close(fd);
	assert_int_equal(mx_config_load(&cl.cfg, path, err, sizeof(err)), 0);
	unlink(path);
	cl.srv.cfg = &cl.cfg;
	assert_int_equal(mx_fed_new(&cl.srv, &cl.fed), MX_EIO);
	mx_config_release(&cl.cfg);
}

struct worker_arg {
	struct client *cl;
	int ok;
};

static void *worker(void *p)
{
	struct worker_arg *a = p;
	for (int i = 0; i < 20; i++) {
		struct mx_fed_response r;
		if (do_get(a->cl, "/ok", &r) == 0 && r.status == 200 && r.json)
			a->ok++;
		mx_fed_response_release(&r);
	}
	return NULL;
}

static void test_reuse_and_threads(void **state)
{
	(void)state;
	struct client cl;
	client_open_trusting(&cl);
	struct mx_fed_response r;
	assert_int_equal(do_get(&cl, "/ok", &r), 0);
	mx_fed_response_release(&r);
	pthread_mutex_lock(&ts.lock);
	int before = ts.connections;
	pthread_mutex_unlock(&ts.lock);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(do_get(&cl, "/ok", &r), 0);
		mx_fed_response_release(&r);
	}
	pthread_mutex_lock(&ts.lock);
	assert_int_equal(ts.connections, before); /* one connection, kept alive */
	pthread_mutex_unlock(&ts.lock);

	enum { N = 6 };
	pthread_t th[N];
	struct worker_arg args[N];
	for (int i = 0; i < N; i++) {
		args[i] = (struct worker_arg){&cl, 0};
		assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].ok, 20);
	}
	pthread_mutex_lock(&ts.lock);
	assert_true(ts.connections - before <= N); /* at most one per thread */
	pthread_mutex_unlock(&ts.lock);
	client_close(&cl);
}

static void test_5xx_backs_off(void **state)
{
	(void)state;
	struct client cl;
	client_open_trusting(&cl);
	struct mx_fed_response r;
	assert_int_equal(do_get(&cl, "/err500", &r), 0);
	assert_int_equal(r.status, 500);
	mx_fed_response_release(&r);
	assert_true(mx_fed_destination_backed_off(cl.fed, cl.dest));
	assert_int_equal(do_get(&cl, "/ok", &r), MX_EREMOTE);
	mx_fed_destination_seen(cl.fed, cl.dest);
	assert_int_equal(do_get(&cl, "/ok", &r), 0);
	mx_fed_response_release(&r);

	/* Backed off again: a request that ignores the backoff still goes, and
	 * its success ends the backoff for everyone. */
	assert_int_equal(do_get(&cl, "/err500", &r), 0);
	mx_fed_response_release(&r);
	assert_true(mx_fed_destination_backed_off(cl.fed, cl.dest));
	struct mx_fed_request rq = {.destination = cl.dest, .method = "GET", .uri = "/ok",
				    .ignore_backoff = true};
	assert_int_equal(mx_fed_request(cl.fed, &rq, &r), 0);
	assert_int_equal(r.status, 200);
	mx_fed_response_release(&r);
	assert_false(mx_fed_destination_backed_off(cl.fed, cl.dest));
	client_close(&cl);
}

static int setup(void **state)
{
	(void)state;
	if (mx_rand_init() || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	return server_start();
}

static int teardown(void **state)
{
	(void)state;
	if (ts.d)
		MHD_stop_daemon(ts.d);
	unlink(ts.ca_path);
	free(ts.cert);
	free(ts.key);
	pthread_mutex_destroy(&ts.lock);
	curl_global_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_json),
		cmocka_unit_test(test_signed_put),
		cmocka_unit_test(test_limits_and_sinks),
		cmocka_unit_test(test_tls_verification),
		cmocka_unit_test(test_reuse_and_threads),
		cmocka_unit_test(test_5xx_backs_off),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
