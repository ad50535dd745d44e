/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `myelin register-user`, after Synapse's register_new_matrix_user
 * (synapse/_scripts/register_new_matrix_user.py): fetch a nonce from
 * GET /_synapse/admin/v1/register, then POST the account with the
 * HMAC-SHA1 of the shared secret over it (admin/register.h). The options,
 * prompts and messages follow Synapse's script so that instructions
 * written for it carry over; the differences are that the default server
 * is the config's admin listener (Synapse's script looks for the client
 * listener, which here does not serve the admin API), and that prompts go
 * to stderr.
 *
 * This runs once in a short-lived process, so libcurl's easy interface is
 * used and every buffer is released on the one `out:` path.
 */
#include "admin/cli.h"

#include <ctype.h>
#include <getopt.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "admin/register.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/error.h"
#include "core/mem.h"
#include "core/rand.h"

#define MX_CLI_NAME "myelin register-user"
/* Longest answer accepted from the server; ours are a few hundred bytes. */
#define MX_CLI_RESPONSE_MAX (64 * 1024)
/* Longest line read from the terminal or a password file. */
#define MX_CLI_LINE_MAX 1024
/* Default server when neither a URL nor a config names one: the generated config's admin listener. */
#define MX_CLI_DEFAULT_URL "http://127.0.0.1:8009"
#define MX_CLI_REGISTER_PATH "/_synapse/admin/v1/register"

struct mx_cli_reg {
	const char *config_path;
	const char *user;
	const char *password;
	const char *password_file;
	const char *user_type;
	const char *secret;
	const char *url;
	int admin; /* -1: not given */
	bool exists_ok;
};

static void mx_cli_usage(FILE *f)
{
	fprintf(f,
		"usage: myelin register-user [-c FILE] [-u USER] [-p PASSWORD | --password-file FILE]\n"
		"                            [-t USER_TYPE] [-a | --no-admin] [-k SHARED_SECRET]\n"
		"                            [--exists-ok] [SERVER_URL]\n"
		"\n"
		"Create a user through the shared-secret registration API of a running server.\n"
		"\n"
		"  -c, --config FILE         homeserver.yaml to read registration_shared_secret\n"
		"                            and the admin listener's address from\n"
		"  -u, --user NAME           localpart of the new user (prompted if missing)\n"
		"  -p, --password PASSWORD   its password (prompted if missing)\n"
		"      --password-file FILE  read the password from FILE (whitespace around it\n"
		"                            is stripped; - for stdin)\n"
		"  -t, --user_type TYPE      user type: support or bot\n"
		"  -a, --admin               make the user a server admin\n"
		"      --no-admin            do not make the user an admin (the default\n"
		"                            when stdin is not a terminal)\n"
		"  -k, --shared-secret S     shared secret (overrides the config)\n"
		"      --exists-ok           do not fail if the user already exists\n"
		"  SERVER_URL                e.g. http://127.0.0.1:8009 (default: the config's\n"
		"                            admin listener, else " MX_CLI_DEFAULT_URL ")\n");
}

/* Strip a trailing "\n" or "\r\n". Returns false if the line had no end (too long). */
static bool mx_cli_chomp(char *s)
{
	size_t n = strlen(s);
	if (n == 0 || s[n - 1] != '\n')
		return false;
	s[--n] = '\0';
	if (n && s[n - 1] == '\r')
		s[n - 1] = '\0';
	return true;
}

/*
 * Prompt on stderr and read a line from the terminal on stdin into buf, as
 * glibc's getpass does when !echo: echo and signal keys off for the read,
 * so an interrupt cannot leave the terminal without echo (^C then reads as
 * a character, which cancels). Returns 0, MX_EIO at end of input,
 * MX_ETOOLARGE for an overlong line, MX_EINVALID if cancelled.
 */
static int mx_cli_prompt(const char *prompt, bool echo, char *buf, size_t n)
{
	struct termios old, quiet;
	bool restore = false;
	fputs(prompt, stderr);
	fflush(stderr);
	if (!echo && tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ISIG);
		restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
	}
	int rc = 0;
	if (!fgets(buf, (int)n, stdin)) {
		buf[0] = '\0';
		rc = MX_EIO;
	} else if (!mx_cli_chomp(buf)) {
		rc = feof(stdin) ? 0 : MX_ETOOLARGE;
		/* Drain the rest of an overlong line so the next prompt starts clean. */
		for (int c = 0; rc && c != '\n' && c != EOF;)
			c = getchar();
	}
	if (restore) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (!rc && strchr(buf, '\x03'))
		rc = MX_EINVALID;
	if (rc)
		sodium_memzero(buf, n);
	return rc;
}

static const char *mx_cli_prompt_error(int rc)
{
	return rc == MX_ETOOLARGE ? "input too long" : rc == MX_EINVALID ? "cancelled" : "end of input";
}

/*
 * The password in file path ("-": stdin) into buf (n bytes): the whole
 * file with surrounding whitespace stripped, as Synapse's script reads it.
 * 0 or MX_EIO/MX_ETOOLARGE.
 */
static int mx_cli_read_password_file(const char *path, char *buf, size_t n)
{
	FILE *f = !strcmp(path, "-") ? stdin : fopen(path, "r");
	if (!f)
		return MX_EIO;
	size_t len = fread(buf, 1, n - 1, f);
	int rc = ferror(f) ? MX_EIO : !feof(f) && fgetc(f) != EOF ? MX_ETOOLARGE : 0;
	if (f != stdin)
		fclose(f);
	buf[len] = '\0';
	while (len && isspace((unsigned char)buf[len - 1]))
		buf[--len] = '\0';
	size_t lead = 0;
	while (buf[lead] && isspace((unsigned char)buf[lead]))
		lead++;
	memmove(buf, buf + lead, len - lead + 1);
	if (rc)
		sodium_memzero(buf, n);
	return rc;
}

/*
 * http://HOST:PORT of the first listener serving the admin resource, with
 * wildcard binds replaced by the loopback address of their family.
 * Caller frees; NULL if there is none.
 */
static char *mx_cli_admin_url(const struct mx_config *cfg)
{
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		const struct mx_config_listener *l = &cfg->listeners[i];
		if (!(l->resources & MX_RES_ADMIN))
			continue;
		const char *host = l->bind_address && *l->bind_address ? l->bind_address : "127.0.0.1";
		if (!strcmp(host, "0.0.0.0"))
			host = "127.0.0.1";
		else if (!strcmp(host, "::"))
			host = "::1";
		bool v6 = strchr(host, ':') != NULL;
		return mx_xasprintf("http://%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "",
				    (unsigned)l->port);
	}
	return NULL;
}

static size_t mx_cli_on_data(char *p, size_t size, size_t nmemb, void *ud)
{
	/* Returning less than given makes libcurl fail with CURLE_WRITE_ERROR. */
	if (size && nmemb > MX_CLI_RESPONSE_MAX / size)
		return 0;
	return mx_buf_append(ud, p, size * nmemb) ? 0 : size * nmemb;
}

/*
 * One request to url: GET if body is NULL, else POST of a JSON body. The
 * response body goes into resp (reset first), the status into *status.
 * Returns 0 if an HTTP response arrived (whatever its status), else
 * MX_EIO with a message on stderr.
 */
static int mx_cli_request(CURL *h, const char *url, const char *body, long *status,
			  struct mx_buf *resp)
{
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	mx_buf_reset(resp);
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	/* Password hashing on the server takes a moment; a minute is ample. */
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, mx_cli_on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "myelin-register-user/" MX_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85: CURLOPT_PROTOCOLS_STR */
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	if (body) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	CURLcode cc = curl_easy_perform(h);
	curl_slist_free_all(hdrs);
	if (cc != CURLE_OK) {
		fprintf(stderr, MX_CLI_NAME ": %s: %s\n", url,
			errbuf[0] ? errbuf : curl_easy_strerror(cc));
		return MX_EIO;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	return 0;
}

/* Print a non-200 answer as Synapse's script does, with the Matrix error if there is one. */
static void mx_cli_print_failure(long status, const struct mx_buf *resp)
{
	json_t *v = resp->len ? json_loadb(resp->data, resp->len, 0, NULL) : NULL;
	const char *errcode = json_string_value(json_object_get(v, "errcode"));
	const char *error = json_string_value(json_object_get(v, "error"));
	if (errcode || error)
		fprintf(stderr, "ERROR! Received %ld %s: %s\n", status, errcode ? errcode : "",
			error ? error : "");
	else
		fprintf(stderr, "ERROR! Received %ld: %.200s\n", status, resp->len ? resp->data : "");
	json_decref(v);
}

static bool mx_cli_is_errcode(const struct mx_buf *resp, const char *errcode)
{
	json_t *v = resp->len ? json_loadb(resp->data, resp->len, 0, NULL) : NULL;
	const char *e = json_string_value(json_object_get(v, "errcode"));
	bool yes = e && !strcmp(e, errcode);
	json_decref(v);
	return yes;
}

/* GET a nonce, POST the registration. 0 on success, 1 on failure (reported). */
static int mx_cli_register(const struct mx_cli_reg *o, const char *secret, const char *password,
			   bool admin)
{
	int ret = 1;
	long status = 0;
	char *post = NULL;
	json_t *v = NULL, *req = NULL;
	struct mx_buf resp;
	mx_buf_init(&resp, MX_CLI_RESPONSE_MAX);
	size_t ulen = strlen(o->url);
	while (ulen && o->url[ulen - 1] == '/')
		ulen--;
	char *url = mx_xasprintf("%.*s" MX_CLI_REGISTER_PATH, (int)ulen, o->url);
	CURL *h = curl_easy_init();
	if (!h) {
		fprintf(stderr, MX_CLI_NAME ": cannot initialise libcurl\n");
		goto out;
	}

	if (mx_cli_request(h, url, NULL, &status, &resp))
		goto out;
	if (status != 200) {
		mx_cli_print_failure(status, &resp);
		goto out;
	}
	v = json_loadb(resp.data, resp.len, 0, NULL);
	const char *nonce = json_string_value(json_object_get(v, "nonce"));
	if (!nonce) {
		fprintf(stderr, MX_CLI_NAME ": %s: the answer has no nonce\n", url);
		goto out;
	}
	char mac[41];
	if (mx_admin_register_mac(secret, nonce, o->user, password, admin, o->user_type, mac)) {
		fprintf(stderr, MX_CLI_NAME ": cannot compute the MAC\n");
		goto out;
	}
	/* The body Synapse's script sends (user_type only when given). */
	req = json_pack("{s:s, s:s, s:s, s:s, s:b}", "nonce", nonce, "username", o->user,
			"password", password, "mac", mac, "admin", admin);
	if (!req) {
		fprintf(stderr, MX_CLI_NAME ": the user name and password must be UTF-8\n");
		goto out;
	}
	if (o->user_type)
		json_object_set_new(req, "user_type", json_string(o->user_type));
	post = json_dumps(req, JSON_COMPACT);

	printf("Sending registration request...\n");
	fflush(stdout);
	if (mx_cli_request(h, url, post, &status, &resp))
		goto out;
	if (status == 200) {
		printf("Success!\n");
		ret = 0;
	} else if (o->exists_ok && mx_cli_is_errcode(&resp, "M_USER_IN_USE")) {
		printf("User already exists. Skipping.\n");
		ret = 0;
	} else {
		mx_cli_print_failure(status, &resp);
	}
out:
	if (post) {
		sodium_memzero(post, strlen(post));
		free(post);
	}
	json_decref(req);
	json_decref(v);
	if (h)
		curl_easy_cleanup(h);
	mx_buf_release(&resp);
	free(url);
	return ret;
}

static int mx_cli_parse(int argc, char **argv, struct mx_cli_reg *o)
{
	enum { OPT_NO_ADMIN = 256, OPT_PASSWORD_FILE, OPT_EXISTS_OK };
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"user", required_argument, NULL, 'u'},
		{"password", required_argument, NULL, 'p'},
		{"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
		{"user_type", required_argument, NULL, 't'},
		{"user-type", required_argument, NULL, 't'},
		{"admin", no_argument, NULL, 'a'},
		{"no-admin", no_argument, NULL, OPT_NO_ADMIN},
		{"shared-secret", required_argument, NULL, 'k'},
		{"exists-ok", no_argument, NULL, OPT_EXISTS_OK},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "c:u:p:t:ak:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': o->config_path = optarg; break;
		case 'u': o->user = optarg; break;
		case 'p': o->password = optarg; break;
		case OPT_PASSWORD_FILE: o->password_file = optarg; break;
		case 't': o->user_type = optarg; break;
		case 'a': o->admin = 1; break;
		case OPT_NO_ADMIN: o->admin = 0; break;
		case 'k': o->secret = optarg; break;
		case OPT_EXISTS_OK: o->exists_ok = true; break;
		case 'h': mx_cli_usage(stdout); return 0;
		default: mx_cli_usage(stderr); return 2;
		}
	}
	if (optind < argc)
		o->url = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, MX_CLI_NAME ": unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (o->password && o->password_file) {
		fprintf(stderr, MX_CLI_NAME ": give -p or --password-file, not both\n");
		return 2;
	}
	if (!o->config_path && !o->secret) {
		fprintf(stderr, MX_CLI_NAME ": give a config file (-c) or a shared secret (-k)\n");
		return 2;
	}
	return -1;
}

int mx_cli_register_user(int argc, char **argv)
{
	struct mx_cli_reg o = {.admin = -1};
	int ret = mx_cli_parse(argc, argv, &o);
	if (ret >= 0)
		return ret;
	ret = 1;

	char *secret = NULL, *url = NULL, err[1024] = "";
	char user[MX_CLI_LINE_MAX], pw[MX_CLI_LINE_MAX] = "", confirm[MX_CLI_LINE_MAX] = "";
	const bool tty = isatty(STDIN_FILENO);
	int rc;
	if (mx_rand_init()) {
		fprintf(stderr, MX_CLI_NAME ": cannot initialise libsodium\n");
		return 1;
	}
	if (o.config_path) {
		struct mx_config cfg;
		if (mx_config_load(&cfg, o.config_path, err, sizeof(err))) {
			fprintf(stderr, MX_CLI_NAME ": %s\n", err);
			return 1;
		}
		if (!o.secret && cfg.registration_shared_secret && *cfg.registration_shared_secret)
			secret = mx_xstrdup(cfg.registration_shared_secret);
		if (!o.url)
			url = mx_cli_admin_url(&cfg);
		mx_config_release(&cfg);
	}
	if (o.secret)
		secret = mx_xstrdup(o.secret);
	if (!secret) {
		fprintf(stderr, MX_CLI_NAME ": no 'registration_shared_secret' defined in %s\n",
			o.config_path);
		goto out;
	}
	if (!o.url)
		o.url = url ? url : MX_CLI_DEFAULT_URL;

	if (!o.user) {
		if (!tty) {
			fprintf(stderr, MX_CLI_NAME ": no user given (-u) and stdin is not a terminal\n");
			goto out;
		}
		const struct passwd *pwd = getpwuid(getuid());
		const char *def = pwd && pwd->pw_name ? pwd->pw_name : "";
		char prompt[256];
		snprintf(prompt, sizeof(prompt), "New user localpart [%s]: ", def);
		if ((rc = mx_cli_prompt(prompt, true, user, sizeof(user)))) {
			fprintf(stderr, MX_CLI_NAME ": %s\n", mx_cli_prompt_error(rc));
			goto out;
		}
		if (!user[0])
			snprintf(user, sizeof(user), "%s", def);
		o.user = user;
	}
	if (!o.user[0]) {
		fprintf(stderr, "Invalid user name\n");
		goto out;
	}

	if (o.password_file) {
		if ((rc = mx_cli_read_password_file(o.password_file, pw, sizeof(pw)))) {
			fprintf(stderr, MX_CLI_NAME ": %s: %s\n", o.password_file,
				rc == MX_ETOOLARGE ? "line too long" : "cannot read a password");
			goto out;
		}
		o.password = pw;
	} else if (!o.password) {
		if (!tty) {
			fprintf(stderr, MX_CLI_NAME ": no password given (-p or --password-file) and "
					"stdin is not a terminal\n");
			goto out;
		}
		if ((rc = mx_cli_prompt("Password: ", false, pw, sizeof(pw))) ||
		    (pw[0] && (rc = mx_cli_prompt("Confirm password: ", false, confirm,
						   sizeof(confirm))))) {
			fprintf(stderr, MX_CLI_NAME ": %s\n", mx_cli_prompt_error(rc));
			goto out;
		}
		if (pw[0] && strcmp(pw, confirm) != 0) {
			fprintf(stderr, "Passwords do not match\n");
			goto out;
		}
		o.password = pw;
	}
	if (!o.password[0]) {
		fprintf(stderr, "Password cannot be blank.\n");
		goto out;
	}

	if (o.admin < 0) {
		/* Synapse's script asks; without a terminal the safe answer is no. */
		o.admin = 0;
		char answer[64];
		if (tty) {
			if ((rc = mx_cli_prompt("Make admin [no]: ", true, answer, sizeof(answer)))) {
				fprintf(stderr, MX_CLI_NAME ": %s\n", mx_cli_prompt_error(rc));
				goto out;
			}
			o.admin = !strcasecmp(answer, "y") || !strcasecmp(answer, "yes") ||
				  !strcasecmp(answer, "true");
		}
	}

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, MX_CLI_NAME ": cannot initialise libcurl\n");
		goto out;
	}
	ret = mx_cli_register(&o, secret, o.password, o.admin == 1);
	curl_global_cleanup();
out:
	sodium_memzero(pw, sizeof(pw));
	sodium_memzero(confirm, sizeof(confirm));
	if (secret) {
		sodium_memzero(secret, strlen(secret));
		free(secret);
	}
	free(url);
	return ret;
}
