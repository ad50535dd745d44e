/* SPDX-License-Identifier: Apache-2.0 */
/*
 * homeserver.yaml reader and generator.
 *
 * The file is loaded with libyaml into a yaml_document_t and the known keys
 * are mapped onto struct mx_config. Key names and value syntaxes (durations
 * such as "5m", sizes such as "50M", YAML 1.1 booleans yes/no/on/off) follow
 * Synapse, so a Synapse homeserver.yaml loads: unknown keys are ignored, but
 * a known key holding the wrong type is an error that names the file, line
 * and key path ("homeserver.yaml:12: listeners[0].port: ...").
 *
 * Deliberate differences from Synapse:
 *  - the admin API is never part of the "client" resource; it needs a
 *    listener naming "admin", and one on 127.0.0.1:8009 is added when no
 *    listener in the file names it;
 *  - relative paths resolve against the config file's directory, not the
 *    working directory;
 */
#include "core/config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <yaml.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/iprange.h"
#include "core/mem.h"

#define CFG_PATH_MAX 256
/* Bounds on extra_well_known_client_content, so that alias cycles or
 * "billion laughs" anchors cannot make the JSON conversion run away. */
#define CFG_JSON_MAX_DEPTH 32
#define CFG_JSON_MAX_NODES 10000

struct cfg {
	const char *file;     /* for messages: the path as given */
	yaml_document_t *doc;
	char *err;
	size_t errlen;
	size_t json_nodes;
};

/* ---- error reporting ---------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (n < 0)
		err[0] = '\0';
}

/* "file:line: path: message"; returns MX_EINVALID so callers can
 * `return cfg_fail(...)`. n may be NULL when no node is at fault. */
static int cfg_fail(struct cfg *c, const yaml_node_t *n, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int cfg_fail(struct cfg *c, const yaml_node_t *n, const char *path, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r < 0)
		msg[0] = '\0';
	if (n)
		set_err(c->err, c->errlen, "%s:%zu: %s: %s", c->file, n->start_mark.line + 1, path,
			msg);
	else
		set_err(c->err, c->errlen, "%s: %s: %s", c->file, path, msg);
	return MX_EINVALID;
}

/* Key paths for messages: "a.b", "a[3]". Truncation is harmless. */
static void path_key(char *out, size_t n, const char *base, const char *key)
{
	int r = base && *base ? snprintf(out, n, "%s.%s", base, key) : snprintf(out, n, "%s", key);
	if (r < 0)
		out[0] = '\0';
}

static void path_idx(char *out, size_t n, const char *base, size_t i)
{
	int r = snprintf(out, n, "%s[%zu]", base, i);
	if (r < 0)
		out[0] = '\0';
}

/* ---- YAML node helpers -------------------------------------------------- */

static yaml_node_t *node_at(struct cfg *c, int idx)
{
	return yaml_document_get_node(c->doc, idx);
}

static const char *scalar_str(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool scalar_is(const yaml_node_t *n, const char *s)
{
	size_t len = strlen(s);
	return n->type == YAML_SCALAR_NODE && n->data.scalar.length == len &&
	       memcmp(n->data.scalar.value, s, len) == 0;
}

static bool is_plain(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* YAML 1.1 null: an empty plain scalar, ~ or null. */
static bool is_null(const yaml_node_t *n)
{
	if (!is_plain(n))
		return false;
	const char *s = scalar_str(n);
	return n->data.scalar.length == 0 || !strcmp(s, "~") || !strcmp(s, "null") ||
	       !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* The value for key in a mapping, or NULL. Duplicate keys: the last wins,
 * as with PyYAML. map may be NULL (an absent section). */
static yaml_node_t *map_get(struct cfg *c, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	yaml_node_t *found = NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node_at(c, p->key);
		if (k && scalar_is(k, key))
			found = node_at(c, p->value);
	}
	return found;
}

/* Present and not null. */
static yaml_node_t *map_val(struct cfg *c, yaml_node_t *map, const char *key)
{
	yaml_node_t *v = map_get(c, map, key);
	return v && !is_null(v) ? v : NULL;
}

static size_t seq_len(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static yaml_node_t *seq_at(struct cfg *c, const yaml_node_t *n, size_t i)
{
	return node_at(c, n->data.sequence.items.start[i]);
}

/* ---- scalar parsing ----------------------------------------------------- */

static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on"};
	static const char *const no[] = {"false", "no", "off"};
	for (size_t i = 0; i < MX_ARRAY_LEN(yes); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return true;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return true;
		}
	}
	return false;
}

static bool parse_i64(const char *s, int64_t *out)
{
	if (!*s || !(s[0] == '-' || s[0] == '+' || (s[0] >= '0' && s[0] <= '9')))
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return false;
	*out = v;
	return true;
}

/* Leading decimal digits of s as a non-negative integer; *end is set past them. */
static bool parse_digits(const char *s, int64_t *out, const char **end)
{
	int64_t v = 0;
	const char *p = s;
	while (*p >= '0' && *p <= '9') {
		int d = *p - '0';
		if (v > (INT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
		p++;
	}
	if (p == s)
		return false;
	*out = v;
	*end = p;
	return true;
}

static bool parse_number(const char *s, double *out)
{
	/* Accept decimal notation only: strtod would also take "nan", "inf"
	 * and hex floats. */
	const char *p = s;
	if (*p == '+' || *p == '-')
		p++;
	bool digits = false;
	while ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' ||
	       ((*p == '+' || *p == '-') && (p[-1] == 'e' || p[-1] == 'E'))) {
		if (*p >= '0' && *p <= '9')
			digits = true;
		p++;
	}
	if (!digits || *p)
		return false;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || !isfinite(v))
		return false;
	*out = v;
	return true;
}

/* Synapse's parse_duration: an integer is milliseconds; otherwise a
 * non-negative integer with one of the suffixes ms s m h d w y. */
static bool parse_duration(const char *s, int64_t *out)
{
	static const struct {
		const char *suffix;
		int64_t ms;
	} units[] = {
		{"", 1},
		{"ms", 1},
		{"s", 1000},
		{"m", 60 * 1000},
		{"h", 3600 * 1000},
		{"d", 86400 * 1000},
		{"w", 7 * 86400 * 1000},
		{"y", 365LL * 86400 * 1000},
	};
	int64_t v;
	const char *end;
	if (!parse_digits(s, &v, &end))
		return false;
	for (size_t i = 0; i < MX_ARRAY_LEN(units); i++) {
		if (strcmp(end, units[i].suffix))
			continue;
		if (v > INT64_MAX / units[i].ms)
			return false;
		*out = v * units[i].ms;
		return true;
	}
	return false;
}

/* Synapse's parse_size: an integer is bytes; K, M, G, T suffixes are powers
 * of 1024 (either case). */
static bool parse_size(const char *s, int64_t *out)
{
	int64_t v;
	const char *end;
	if (!parse_digits(s, &v, &end))
		return false;
	int64_t mult;
	switch (*end) {
	case '\0': mult = 1; break;
	case 'k': case 'K': mult = 1LL << 10; break;
	case 'm': case 'M': mult = 1LL << 20; break;
	case 'g': case 'G': mult = 1LL << 30; break;
	case 't': case 'T': mult = 1LL << 40; break;
	default: return false;
	}
	if (*end && end[1])
		return false;
	if (v > INT64_MAX / mult)
		return false;
	*out = v * mult;
	return true;
}

/* ---- typed getters -----------------------------------------------------
 * Each looks key up in map (which may be NULL) and leaves *out untouched
 * when the key is absent or null; returns 0 or MX_EINVALID with a message.
 */

static int want_scalar(struct cfg *c, yaml_node_t *v, const char *path, const char *what)
{
	if (v->type != YAML_SCALAR_NODE)
		return cfg_fail(c, v, path, "expected %s", what);
	return 0;
}

static int node_str(struct cfg *c, yaml_node_t *v, const char *path, char **out)
{
	int rc = want_scalar(c, v, path, "a string");
	if (rc)
		return rc;
	if (strlen(scalar_str(v)) != v->data.scalar.length)
		return cfg_fail(c, v, path, "contains a NUL character");
	free(*out);
	*out = mx_xstrdup(scalar_str(v));
	return 0;
}

static int get_str(struct cfg *c, yaml_node_t *map, const char *base, const char *key, char **out)
{
	yaml_node_t *v = map_val(c, map, key);
	if (!v)
		return 0;
	char path[CFG_PATH_MAX];
	path_key(path, sizeof(path), base, key);
	return node_str(c, v, path, out);
}

static int node_bool(struct cfg *c, yaml_node_t *v, const char *path, bool *out)
{
	if (v->type != YAML_SCALAR_NODE || !parse_bool(scalar_str(v), out))
		return cfg_fail(c, v, path, "expected a boolean (true or false)");
	return 0;
}

static int get_bool(struct cfg *c, yaml_node_t *map, const char *base, const char *key, bool *out)
{
	yaml_node_t *v = map_val(c, map, key);
	if (!v)
		return 0;
	char path[CFG_PATH_MAX];
	path_key(path, sizeof(path), base, key);
	return node_bool(c, v, path, out);
}

static int node_int(struct cfg *c, yaml_node_t *v, const char *path, int64_t lo, int64_t hi,
		    int64_t *out)
{
	int64_t x;
	if (v->type != YAML_SCALAR_NODE || !parse_i64(scalar_str(v), &x) || x < lo || x > hi)
		return cfg_fail(c, v, path, "expected an integer in %lld..%lld", (long long)lo,
				(long long)hi);
	*out = x;
	return 0;
}

static int get_int(struct cfg *c, yaml_node_t *map, const char *base, const char *key, int lo,
		   int hi, int *out)
{
	yaml_node_t *v = map_val(c, map, key);
	if (!v)
		return 0;
	char path[CFG_PATH_MAX];
	path_key(path, sizeof(path), base, key);
	int64_t x;
	int rc = node_int(c, v, path, lo, hi, &x);
	if (!rc)
		*out = (int)x;
	return rc;
}

static int get_number(struct cfg *c, yaml_node_t *map, const char *base, const char *key,
		      double *out)
{
	yaml_node_t *v = map_val(c, map, key);
	if (!v)
		return 0;
	char path[CFG_PATH_MAX];
	path_key(path, sizeof(path), base, key);
	double x;
	if (v->type != YAML_SCALAR_NODE || !parse_number(scalar_str(v), &x))
		return cfg_fail(c, v, path, "expected a number");
	if (x < 0)
		return cfg_fail(c, v, path, "expected a number >= 0");
	*out = x;
	return 0;
}

static int get_duration(struct cfg *c, yaml_node_t *map, const char *base, const char *key,
			int64_t *out)
{
	yaml_node_t *v = map_val(c, map, key);
	if (!v)
		return 0;
	char path[CFG_PATH_MAX];
	path_key(path, sizeof(path), base, key);
	if (v->type != YAML_SCALAR_NODE || !parse_duration(scalar_str(v), out))
		return cfg_fail(c, v, path,
				"expected a duration such as 500ms, 30s, 5m, 1h, 1d, 2w, 1y "
				"or an integer number of milliseconds");
	return 0;
}

static int get_size(struct cfg *c, yaml_node_t *map, const char *base, const char *key,
		    int64_t *out)
{
	yaml_node_t *v = map_val(c, map, key);
	if (!v)
		return 0;
	char path[CFG_PATH_MAX];
	path_key(path, sizeof(path), base, key);
	if (v->type != YAML_SCALAR_NODE || !parse_size(scalar_str(v), out))
		return cfg_fail(c, v, path,
				"expected a size such as 100K, 50M, 1G or an integer number of bytes");
	return 0;
}

/* A section: *out is the mapping, or NULL when absent or null. */
static int get_map(struct cfg *c, yaml_node_t *map, const char *base, const char *key,
		   yaml_node_t **out)
{
	*out = NULL;
	yaml_node_t *v = map_val(c, map, key);
	if (!v)
		return 0;
	if (v->type != YAML_MAPPING_NODE) {
		char path[CFG_PATH_MAX];
		path_key(path, sizeof(path), base, key);
		return cfg_fail(c, v, path, "expected a mapping");
	}
	*out = v;
	return 0;
}

static int get_seq(struct cfg *c, yaml_node_t *map, const char *base, const char *key,
		   yaml_node_t **out)
{
	*out = NULL;
	yaml_node_t *v = map_val(c, map, key);
	if (!v)
		return 0;
	if (v->type != YAML_SEQUENCE_NODE) {
		char path[CFG_PATH_MAX];
		path_key(path, sizeof(path), base, key);
		return cfg_fail(c, v, path, "expected a list");
	}
	*out = v;
	return 0;
}

static int get_ratelimit(struct cfg *c, yaml_node_t *map, const char *base, const char *key,
			 struct mx_config_ratelimit *out)
{
	yaml_node_t *sec;
	char path[CFG_PATH_MAX];
	path_key(path, sizeof(path), base, key);
	int rc = get_map(c, map, base, key, &sec);
	if (!rc)
		rc = get_number(c, sec, path, "per_second", &out->per_second);
	if (!rc)
		rc = get_number(c, sec, path, "burst_count", &out->burst_count);
	return rc;
}

/* ---- paths --------------------------------------------------------------- */

static char *path_join(const char *dir, const char *p)
{
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	if (!*p || !strcmp(p, "."))
		return mx_xstrdup(dir);
	if (!strcmp(dir, "/"))
		return mx_xasprintf("/%s", p);
	return mx_xasprintf("%s/%s", dir, p);
}

/* p made absolute against the working directory (no symlink resolution,
 * like Python's os.path.abspath without the normalisation). NULL if the
 * working directory is unknown. */
static char *path_abs(const char *p)
{
	if (p[0] == '/')
		return mx_xstrdup(p);
	char *cwd = getcwd(NULL, 0);
	if (!cwd)
		return NULL;
	char *r = path_join(cwd, p);
	free(cwd);
	return r;
}

/* Directory part of an absolute path; caller frees. */
static char *path_dirname(const char *p)
{
	const char *slash = strrchr(p, '/');
	if (!slash)
		return mx_xstrdup(".");
	if (slash == p)
		return mx_xstrdup("/");
	return mx_xstrndup(p, (size_t)(slash - p));
}

/* Make a relative path in *p absolute against the config directory. */
static void resolve_path(const struct mx_config *cfg, char **p)
{
	if (!*p || (*p)[0] == '/')
		return;
	char *r = path_join(cfg->config_dir, *p);
	free(*p);
	*p = r;
}

/* ---- server_name -------------------------------------------------------- */

/* SPEC: appendices#server-name: hostname [ ":" port ], where the hostname
 * is a DNS name, an IPv4 address or a bracketed IPv6 literal. On success
 * *host_len is the length of the hostname and *has_port says if a port
 * follows it. */
static bool server_name_split(const char *s, size_t *host_len, bool *has_port)
{
	const char *p = s;
	if (*p == '[') {
		p++;
		while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
		       (*p >= 'A' && *p <= 'F') || *p == ':' || *p == '.')
			p++;
		if (*p != ']' || p == s + 1)
			return false;
		p++;
	} else {
		while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		       (*p >= 'A' && *p <= 'Z') || *p == '-' || *p == '.')
			p++;
		if (p == s || p - s > 255)
			return false;
	}
	*host_len = (size_t)(p - s);
	*has_port = false;
	if (!*p)
		return true;
	if (*p != ':')
		return false;
	int64_t port;
	const char *end;
	if (!parse_digits(p + 1, &port, &end) || *end || port < 1 || port > 65535 || end - p > 6)
		return false;
	*has_port = true;
	return true;
}

/* ---- extra_well_known_client_content ------------------------------------ */

/* JSON for a YAML node, resolving plain scalars as YAML 1.1 does (null,
 * booleans, integers, floats); quoted scalars stay strings. */
static int yaml_to_json(struct cfg *c, yaml_node_t *n, const char *path, int depth, json_t **out)
{
	*out = NULL;
	if (depth > CFG_JSON_MAX_DEPTH || ++c->json_nodes > CFG_JSON_MAX_NODES)
		return cfg_fail(c, n, path, "nested too deeply or too large");
	switch (n->type) {
	case YAML_SCALAR_NODE: {
		const char *s = scalar_str(n);
		if (is_plain(n)) {
			bool b;
			int64_t i;
			double d;
			if (is_null(n))
				*out = json_null();
			else if (parse_bool(s, &b))
				*out = json_boolean(b);
			else if (parse_i64(s, &i))
				*out = json_integer((json_int_t)i);
			else if (parse_number(s, &d))
				*out = json_real(d);
			if (*out)
				return 0;
		}
		*out = json_stringn(s, n->data.scalar.length);
		if (!*out)
			return cfg_fail(c, n, path, "not valid UTF-8");
		return 0;
	}
	case YAML_SEQUENCE_NODE: {
		json_t *arr = json_array();
		for (size_t i = 0; i < seq_len(n); i++) {
			char sub[CFG_PATH_MAX];
			path_idx(sub, sizeof(sub), path, i);
			json_t *item;
			int rc = yaml_to_json(c, seq_at(c, n, i), sub, depth + 1, &item);
			if (rc) {
				json_decref(arr);
				return rc;
			}
			json_array_append_new(arr, item);
		}
		*out = arr;
		return 0;
	}
	case YAML_MAPPING_NODE: {
		json_t *obj = json_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = node_at(c, p->key);
			if (k->type != YAML_SCALAR_NODE ||
			    strlen(scalar_str(k)) != k->data.scalar.length) {
				json_decref(obj);
				return cfg_fail(c, k, path, "keys must be strings");
			}
			char sub[CFG_PATH_MAX];
			path_key(sub, sizeof(sub), path, scalar_str(k));
			json_t *item;
			int rc = yaml_to_json(c, node_at(c, p->value), sub, depth + 1, &item);
			if (rc) {
				json_decref(obj);
				return rc;
			}
			json_object_set_new(obj, scalar_str(k), item);
		}
		*out = obj;
		return 0;
	}
	default:
		return cfg_fail(c, n, path, "unsupported YAML node");
	}
}

/* ---- listeners ----------------------------------------------------------- */

static void add_listener(struct mx_config *cfg, const char *addr, uint16_t port,
			 unsigned resources, bool x_forwarded, bool tls)
{
	cfg->listeners = mx_xrealloc(cfg->listeners,
				     (cfg->n_listeners + 1) * sizeof(*cfg->listeners));
	struct mx_config_listener *l = &cfg->listeners[cfg->n_listeners++];
	l->bind_address = mx_xstrdup(addr);
	l->port = port;
	l->resources = resources;
	l->x_forwarded = x_forwarded;
	l->tls = tls;
}

/* Resource names as Synapse's homeserver.py wires them: "client" and
 * "federation" also serve the media repository, and "federation" also
 * serves /_matrix/key. Unknown names (openid, static, metrics, ...) are
 * ignored. */
static unsigned resource_bits(const char *name)
{
	static const struct {
		const char *name;
		unsigned bits;
	} map[] = {
		{"client", MX_RES_CLIENT | MX_RES_MEDIA},
		{"federation", MX_RES_FEDERATION | MX_RES_KEYS | MX_RES_MEDIA},
		{"keys", MX_RES_KEYS},
		{"media", MX_RES_MEDIA},
		{"health", MX_RES_HEALTH},
		{"admin", MX_RES_ADMIN},
	};
	for (size_t i = 0; i < MX_ARRAY_LEN(map); i++)
		if (!strcmp(name, map[i].name))
			return map[i].bits;
	return 0;
}

static int parse_resources(struct cfg *c, yaml_node_t *lst, const char *base, unsigned *bits)
{
	yaml_node_t *res;
	int rc = get_seq(c, lst, base, "resources", &res);
	if (rc || !res)
		return rc;
	char rpath[CFG_PATH_MAX];
	path_key(rpath, sizeof(rpath), base, "resources");
	for (size_t i = 0; i < seq_len(res); i++) {
		char epath[CFG_PATH_MAX];
		path_idx(epath, sizeof(epath), rpath, i);
		yaml_node_t *r = seq_at(c, res, i);
		if (r->type != YAML_MAPPING_NODE)
			return cfg_fail(c, r, epath, "expected a mapping with names");
		bool compress = false;
		rc = get_bool(c, r, epath, "compress", &compress);
		if (rc)
			return rc;
		yaml_node_t *names;
		rc = get_seq(c, r, epath, "names", &names);
		if (rc)
			return rc;
		if (!names)
			continue;
		char npath[CFG_PATH_MAX];
		path_key(npath, sizeof(npath), epath, "names");
		for (size_t j = 0; j < seq_len(names); j++) {
			yaml_node_t *nm = seq_at(c, names, j);
			if (nm->type != YAML_SCALAR_NODE) {
				char p[CFG_PATH_MAX];
				path_idx(p, sizeof(p), npath, j);
				return cfg_fail(c, nm, p, "expected a string");
			}
			*bits |= resource_bits(scalar_str(nm));
		}
	}
	return 0;
}

static int parse_listener(struct cfg *c, struct mx_config *cfg, yaml_node_t *lst, size_t idx)
{
	char base[CFG_PATH_MAX], p[CFG_PATH_MAX];
	path_idx(base, sizeof(base), "listeners", idx);
	if (lst->type != YAML_MAPPING_NODE)
		return cfg_fail(c, lst, base, "expected a mapping");

	char *type = NULL;
	int rc = get_str(c, lst, base, "type", &type);
	if (rc)
		return rc;
	/* manhole, metrics, replication: Synapse-only, skipped. */
	bool http = !type || !strcmp(type, "http");
	free(type);
	if (!http)
		return 0;

	bool tls = false, x_forwarded = false;
	if ((rc = get_bool(c, lst, base, "tls", &tls)) ||
	    (rc = get_bool(c, lst, base, "x_forwarded", &x_forwarded)))
		return rc;
	/* The paths are parsed before the listeners (parse_root). */
	const char *missing = !cfg->tls_certificate_path   ? "tls_certificate_path"
			      : !cfg->tls_private_key_path ? "tls_private_key_path"
							   : NULL;
	if (tls && missing) {
		path_key(p, sizeof(p), base, "tls");
		return cfg_fail(c, map_get(c, lst, "tls"), p,
				"a TLS listener needs %s (PEM); set it, or tls: false to "
				"terminate TLS in a reverse proxy",
				missing);
	}

	yaml_node_t *portn = map_val(c, lst, "port");
	path_key(p, sizeof(p), base, "port");
	if (!portn) {
		if (map_val(c, lst, "path"))
			return cfg_fail(c, lst, base,
					"UNIX socket listeners (path) are not supported; use port");
		return cfg_fail(c, lst, p, "missing: expected an integer in 1..65535");
	}
	int64_t port;
	if ((rc = node_int(c, portn, p, 1, 65535, &port)))
		return rc;

	unsigned bits = MX_RES_HEALTH; /* Synapse serves /health on every HTTP listener */
	if ((rc = parse_resources(c, lst, base, &bits)))
		return rc;

	yaml_node_t *addrs;
	if ((rc = get_seq(c, lst, base, "bind_addresses", &addrs)))
		return rc;
	if (!addrs) {
		/* Synapse's older single-address spelling. */
		char *one = NULL;
		if ((rc = get_str(c, lst, base, "bind_address", &one)))
			return rc;
		if (one) {
			add_listener(cfg, one, (uint16_t)port, bits, x_forwarded, tls);
			free(one);
		} else {
			add_listener(cfg, "::1", (uint16_t)port, bits, x_forwarded, tls);
			add_listener(cfg, "127.0.0.1", (uint16_t)port, bits, x_forwarded, tls);
		}
		return 0;
	}
	path_key(p, sizeof(p), base, "bind_addresses");
	if (seq_len(addrs) == 0)
		return cfg_fail(c, addrs, p, "expected at least one address");
	for (size_t i = 0; i < seq_len(addrs); i++) {
		yaml_node_t *a = seq_at(c, addrs, i);
		char ap[CFG_PATH_MAX];
		path_idx(ap, sizeof(ap), p, i);
		if (a->type != YAML_SCALAR_NODE || is_null(a) || !a->data.scalar.length ||
		    strlen(scalar_str(a)) != a->data.scalar.length)
			return cfg_fail(c, a, ap, "expected an IP address");
		add_listener(cfg, scalar_str(a), (uint16_t)port, bits, x_forwarded, tls);
	}
	return 0;
}

static int parse_listeners(struct cfg *c, struct mx_config *cfg, yaml_node_t *root)
{
	yaml_node_t *seq;
	int rc = get_seq(c, root, "", "listeners", &seq);
	if (rc)
		return rc;
	if (!seq) {
		add_listener(cfg, "127.0.0.1", 8008,
			     MX_RES_CLIENT | MX_RES_FEDERATION | MX_RES_KEYS | MX_RES_MEDIA |
				     MX_RES_HEALTH,
			     false, false);
	} else {
		for (size_t i = 0; i < seq_len(seq); i++)
			if ((rc = parse_listener(c, cfg, seq_at(c, seq, i), i)))
				return rc;
		if (!cfg->n_listeners)
			return cfg_fail(c, seq, "listeners", "no HTTP listener configured");
	}
	bool admin = false;
	for (size_t i = 0; i < cfg->n_listeners; i++)
		if (cfg->listeners[i].resources & MX_RES_ADMIN)
			admin = true;
	/* The admin API only ever gets a listener of its own, on localhost. */
	if (!admin)
		add_listener(cfg, "127.0.0.1", 8009, MX_RES_ADMIN | MX_RES_HEALTH, false, false);
	return 0;
}

/* ---- database ------------------------------------------------------------ */

/* libpq conninfo value: always single-quoted, with \ and ' escaped. */
static void conninfo_add(struct mx_buf *b, const char *key, const char *val)
{
	if (b->len)
		mx_buf_putc(b, ' ');
	mx_buf_printf(b, "%s='", key);
	for (const char *p = val; *p; p++) {
		if (*p == '\\' || *p == '\'')
			mx_buf_putc(b, '\\');
		mx_buf_putc(b, *p);
	}
	mx_buf_putc(b, '\'');
}

static int parse_database(struct cfg *c, struct mx_config *cfg, yaml_node_t *root)
{
	yaml_node_t *db, *args = NULL;
	int rc = get_map(c, root, "", "database", &db);
	if (!rc)
		rc = get_str(c, db, "database", "name", &cfg->database_engine);
	if (!rc)
		rc = get_map(c, db, "database", "args", &args);
	if (rc)
		return rc;
	if (!cfg->database_engine)
		cfg->database_engine = mx_xstrdup("sqlite3");

	if (!strcmp(cfg->database_engine, "sqlite3")) {
		if ((rc = get_str(c, args, "database.args", "database", &cfg->database_path)))
			return rc;
		if (!cfg->database_path)
			cfg->database_path = mx_xstrdup("homeserver.db");
		if (strcmp(cfg->database_path, ":memory:"))
			resolve_path(cfg, &cfg->database_path);
		return 0;
	}
	if (strcmp(cfg->database_engine, "psycopg2"))
		return cfg_fail(c, map_get(c, db, "name"), "database.name",
				"expected sqlite3 or psycopg2");

	/* Every arg is handed to libpq as psycopg2 would, except Synapse's
	 * connection-pool settings (cp_*); "database" is psycopg2's alias for
	 * dbname. */
	struct mx_buf b;
	mx_buf_init(&b, MX_BUF_UNLIMITED);
	for (yaml_node_pair_t *p = args ? args->data.mapping.pairs.start : NULL;
	     args && p < args->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(c, p->key), *v = node_at(c, p->value);
		if (k->type != YAML_SCALAR_NODE || is_null(v))
			continue;
		const char *key = scalar_str(k);
		if (!strncmp(key, "cp_", 3))
			continue;
		char path[CFG_PATH_MAX];
		path_key(path, sizeof(path), "database.args", key);
		bool ok = key[0] != '\0';
		for (const char *q = key; *q; q++)
			if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '_'))
				ok = false;
		if (!ok) {
			rc = cfg_fail(c, k, path, "not a libpq connection parameter name");
			goto out;
		}
		if (v->type != YAML_SCALAR_NODE ||
		    strlen(scalar_str(v)) != v->data.scalar.length) {
			rc = cfg_fail(c, v, path, "expected a string or number");
			goto out;
		}
		conninfo_add(&b, !strcmp(key, "database") ? "dbname" : key, scalar_str(v));
	}
	cfg->database_conninfo = mx_xstrdup(b.len ? b.data : "");
out:
	mx_buf_release(&b);
	return rc;
}

/* ---- top level ------------------------------------------------------------ */

static void set_defaults(struct mx_config *cfg)
{
	cfg->key_valid_for_ms = 86400LL * 1000;
	cfg->password_login_enabled = true;
	cfg->refreshable_access_token_lifetime_ms = 5 * 60 * 1000;
	/* Synapse's ratelimiting.py defaults. */
	cfg->rc_registration = (struct mx_config_ratelimit){0.17, 3};
	cfg->rc_login_address = (struct mx_config_ratelimit){0.003, 5};
	cfg->rc_login_account = (struct mx_config_ratelimit){0.003, 5};
	cfg->rc_login_failed = (struct mx_config_ratelimit){0.17, 3};
	cfg->rc_message = (struct mx_config_ratelimit){0.2, 10};
	cfg->max_upload_size = 50LL << 20;
	cfg->max_request_body_size = 1LL << 20;
	cfg->max_image_pixels = 32LL << 20;
	cfg->max_pending_media_uploads = 5;
	cfg->unused_expiration_time_ms = 24LL * 3600 * 1000;
	/* SPEC: client-server-api#thumbnails: the sizes servers SHOULD produce. */
	static const struct mx_config_thumbnail thumbs[] = {
		{32, 32, true}, {96, 96, true}, {320, 240, false}, {640, 480, false},
		{800, 600, false}};
	memcpy(cfg->thumbnail_sizes, thumbs, sizeof(thumbs));
	cfg->n_thumbnail_sizes = MX_ARRAY_LEN(thumbs);
	cfg->http_threads = 0;
	cfg->max_connections = 10000;
	cfg->room_cache_size = 2000;
	cfg->max_spider_size = 10LL << 20;
	cfg->federation_verify_certificates = true;
	cfg->allow_profile_lookup_over_federation = true;
	cfg->allow_device_name_lookup_over_federation = false;
	cfg->destination_min_retry_interval_ms = 10LL * 60 * 1000;
	cfg->destination_retry_multiplier = 2;
	cfg->destination_max_retry_interval_ms = 7LL * 86400 * 1000;
}

/*
 * A list of CIDR ranges (url_preview_ip_range_*). *out is heap (released
 * with the config); extra entries (NULL-terminated) are appended.
 */
static int parse_ipranges(struct cfg *c, yaml_node_t *root, const char *key,
			  const char *const *extra, struct mx_iprange **out, size_t *n)
{
	yaml_node_t *seq;
	int rc = get_seq(c, root, "", key, &seq);
	if (rc)
		return rc;
	size_t len = seq ? (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start)
			 : 0;
	size_t n_extra = 0;
	while (extra && extra[n_extra])
		n_extra++;
	*out = mx_xmalloc((len + n_extra + 1) * sizeof(**out));
	*n = 0;
	for (size_t i = 0; i < len; i++) {
		yaml_node_t *v = yaml_document_get_node(c->doc, seq->data.sequence.items.start[i]);
		char path[CFG_PATH_MAX];
		snprintf(path, sizeof(path), "%s[%zu]", key, i);
		if (!v || v->type != YAML_SCALAR_NODE ||
		    mx_iprange_parse(scalar_str(v), &(*out)[*n]))
			return cfg_fail(c, v ? v : seq, path,
					"expected an IP address or CIDR range");
		(*n)++;
	}
	for (size_t i = 0; i < n_extra; i++)
		if (!mx_iprange_parse(extra[i], &(*out)[*n]))
			(*n)++;
	return 0;
}

/*
 * Synapse's DEFAULT_IP_RANGE_BLOCKLIST: addresses no other homeserver
 * legitimately has (private, loopback, link-local, CGNAT, benchmarking,
 * multicast, documentation and deprecated site-local ranges).
 */
static const char *const default_ip_range_blacklist[] = {
	"127.0.0.0/8",    "10.0.0.0/8",      "172.16.0.0/12",  "192.168.0.0/16",
	"100.64.0.0/10",  "192.0.0.0/24",    "169.254.0.0/16", "192.88.99.0/24",
	"198.18.0.0/15",  "192.0.2.0/24",    "198.51.100.0/24", "203.0.113.0/24",
	"224.0.0.0/4",    "::1/128",         "fe80::/10",      "fc00::/7",
	"2001:db8::/32",  "ff00::/8",        "fec0::/10",
	"0.0.0.0",        "::",              NULL}; /* the last two: always blocked */

/* A list of strings: *out is NULL when the key is absent or null, else a
 * heap array (with room for at least one entry) of heap strings. */
static int parse_str_list(struct cfg *c, yaml_node_t *root, const char *base, const char *key,
			  char ***out, size_t *n)
{
	yaml_node_t *seq;
	int rc = get_seq(c, root, base, key, &seq);
	if (rc || !seq)
		return rc;
	char path[CFG_PATH_MAX];
	path_key(path, sizeof(path), base, key);
	*out = mx_xcalloc(seq_len(seq) + 1, sizeof(**out));
	*n = 0;
	for (size_t i = 0; i < seq_len(seq); i++) {
		char ipath[CFG_PATH_MAX];
		path_idx(ipath, sizeof(ipath), path, i);
		yaml_node_t *v = seq_at(c, seq, i);
		if (!v)
			return cfg_fail(c, seq, ipath, "expected a string");
		if ((rc = node_str(c, v, ipath, &(*out)[*n])))
			return rc;
		(*n)++;
	}
	return 0;
}

/* The outbound federation keys (federation/client.h), named as in Synapse. */
static int parse_federation_client(struct cfg *c, struct mx_config *cfg, yaml_node_t *root)
{
	static const char *const always_blocked[] = {"0.0.0.0", "::", NULL};
	const char *key;
	yaml_node_t *sec;
	int rc;
	/* ip_range_blocklist wins over its older name; an explicit list (even
	 * an empty one) replaces the default. */
	key = map_val(c, root, "ip_range_blocklist") ? "ip_range_blocklist" : "ip_range_blacklist";
	if (map_val(c, root, key))
		rc = parse_ipranges(c, root, key, always_blocked, &cfg->ip_range_blacklist,
				    &cfg->n_ip_range_blacklist);
	else
		rc = parse_ipranges(c, NULL, key, default_ip_range_blacklist,
				    &cfg->ip_range_blacklist, &cfg->n_ip_range_blacklist);
	if (rc)
		return rc;
	key = map_val(c, root, "ip_range_allowlist") ? "ip_range_allowlist" : "ip_range_whitelist";
	if ((rc = parse_ipranges(c, root, key, NULL, &cfg->ip_range_whitelist,
				 &cfg->n_ip_range_whitelist)))
		return rc;
	if (map_val(c, root, "federation_ip_range_blacklist") &&
	    (rc = parse_ipranges(c, root, "federation_ip_range_blacklist", always_blocked,
				 &cfg->federation_ip_range_blacklist,
				 &cfg->n_federation_ip_range_blacklist)))
		return rc;
	if ((rc = get_bool(c, root, "", "federation_verify_certificates",
			   &cfg->federation_verify_certificates)) ||
	    (rc = parse_str_list(c, root, "", "federation_custom_ca_list",
				 &cfg->federation_custom_ca_list, &cfg->n_federation_custom_ca_list)) ||
	    (rc = parse_str_list(c, root, "", "federation_domain_whitelist",
				 &cfg->federation_domain_whitelist,
				 &cfg->n_federation_domain_whitelist)) ||
	    (rc = get_bool(c, root, "", "allow_public_rooms_over_federation",
			   &cfg->allow_public_rooms_over_federation)) ||
	    (rc = get_bool(c, root, "", "allow_profile_lookup_over_federation",
			   &cfg->allow_profile_lookup_over_federation)) ||
	    (rc = get_bool(c, root, "", "allow_device_name_lookup_over_federation",
			   &cfg->allow_device_name_lookup_over_federation)))
		return rc;
	for (size_t i = 0; i < cfg->n_federation_custom_ca_list; i++)
		resolve_path(cfg, &cfg->federation_custom_ca_list[i]);
	if (cfg->federation_custom_ca_list && !cfg->n_federation_custom_ca_list) {
		free(cfg->federation_custom_ca_list); /* an empty list: the system CAs */
		cfg->federation_custom_ca_list = NULL;
	}
	if ((rc = parse_str_list(c, root, "", "app_service_config_files",
				 &cfg->app_service_config_files, &cfg->n_app_service_config_files)))
		return rc;
	for (size_t i = 0; i < cfg->n_app_service_config_files; i++)
		resolve_path(cfg, &cfg->app_service_config_files[i]);
	if ((rc = get_map(c, root, "", "federation", &sec)) ||
	    (rc = get_duration(c, sec, "federation", "destination_min_retry_interval",
			       &cfg->destination_min_retry_interval_ms)) ||
	    (rc = get_number(c, sec, "federation", "destination_retry_multiplier",
			     &cfg->destination_retry_multiplier)) ||
	    (rc = get_duration(c, sec, "federation", "destination_max_retry_interval",
			       &cfg->destination_max_retry_interval_ms)))
		return rc;
	if (cfg->destination_min_retry_interval_ms < 1)
		return cfg_fail(c, map_get(c, sec, "destination_min_retry_interval"),
				"federation.destination_min_retry_interval", "must be positive");
	if (cfg->destination_retry_multiplier < 1 || cfg->destination_retry_multiplier > 1000)
		return cfg_fail(c, map_get(c, sec, "destination_retry_multiplier"),
				"federation.destination_retry_multiplier",
				"expected a number from 1 to 1000");
	if (cfg->destination_max_retry_interval_ms < cfg->destination_min_retry_interval_ms)
		return cfg_fail(c, map_get(c, sec, "destination_max_retry_interval"),
				"federation.destination_max_retry_interval",
				"must not be less than destination_min_retry_interval");
	return 0;
}

/* thumbnail_sizes: [{width, height, method: crop|scale}], as Synapse. */
static int parse_thumbnail_sizes(struct cfg *c, struct mx_config *cfg, yaml_node_t *root)
{
	yaml_node_t *seq;
	int rc = get_seq(c, root, "", "thumbnail_sizes", &seq);
	if (rc || !seq)
		return rc;
	if (seq_len(seq) > MX_CONFIG_MAX_THUMBNAIL_SIZES)
		return cfg_fail(c, seq, "thumbnail_sizes", "at most 16 sizes");
	cfg->n_thumbnail_sizes = 0;
	for (size_t i = 0; i < seq_len(seq); i++) {
		yaml_node_t *e = seq_at(c, seq, i);
		char base[CFG_PATH_MAX];
		snprintf(base, sizeof(base), "thumbnail_sizes[%zu]", i);
		if (!e || e->type != YAML_MAPPING_NODE)
			return cfg_fail(c, e ? e : seq, base, "expected a mapping");
		struct mx_config_thumbnail *t = &cfg->thumbnail_sizes[i];
		char *method = NULL;
		t->width = t->height = 0;
		if ((rc = get_int(c, e, base, "width", 1, 10000, &t->width)) ||
		    (rc = get_int(c, e, base, "height", 1, 10000, &t->height)) ||
		    (rc = get_str(c, e, base, "method", &method)))
			return rc;
		t->crop = method && !strcmp(method, "crop");
		bool ok = !method || t->crop || !strcmp(method, "scale");
		free(method);
		if (!ok)
			return cfg_fail(c, e, base, "method: expected crop or scale");
		if (!t->width || !t->height)
			return cfg_fail(c, e, base, "width and height are required");
		cfg->n_thumbnail_sizes++;
	}
	return 0;
}

/* media_upload_limits: [{time_period, max_size}], as Synapse. */
static int parse_media_upload_limits(struct cfg *c, struct mx_config *cfg, yaml_node_t *root)
{
	yaml_node_t *seq;
	int rc = get_seq(c, root, "", "media_upload_limits", &seq);
	if (rc || !seq)
		return rc;
	if (seq_len(seq) > MX_CONFIG_MAX_UPLOAD_LIMITS)
		return cfg_fail(c, seq, "media_upload_limits", "at most 16 limits");
	cfg->n_media_upload_limits = 0;
	for (size_t i = 0; i < seq_len(seq); i++) {
		yaml_node_t *e = seq_at(c, seq, i);
		char base[CFG_PATH_MAX];
		snprintf(base, sizeof(base), "media_upload_limits[%zu]", i);
		if (!e || e->type != YAML_MAPPING_NODE)
			return cfg_fail(c, e ? e : seq, base, "expected a mapping");
		struct mx_config_upload_limit *l = &cfg->media_upload_limits[i];
		l->time_period_ms = l->max_size = -1;
		if ((rc = get_duration(c, e, base, "time_period", &l->time_period_ms)) ||
		    (rc = get_size(c, e, base, "max_size", &l->max_size)))
			return rc;
		if (l->time_period_ms <= 0 || l->max_size < 0)
			return cfg_fail(c, e, base, "time_period and max_size are required");
		cfg->n_media_upload_limits++;
	}
	return 0;
}

/* A signing key id as the spec allows it: "ed25519:" and a version of
 * 1..55 characters of [a-zA-Z0-9_] (SPEC: server-server-api "Verify Key"). */
static bool ed25519_key_id_valid(const char *s)
{
	if (strncmp(s, "ed25519:", 8))
		return false;
	size_t n = 0;
	for (const char *p = s + 8; *p; p++, n++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return n >= 1 && n <= 55;
}

/* One trusted_key_servers entry: {server_name, verify_keys, accept_keys_insecurely}. */
static int parse_key_server(struct cfg *c, struct mx_config *cfg, yaml_node_t *e,
			    const char *base, struct mx_config_key_server *ks)
{
	char p[CFG_PATH_MAX];
	if (!e || e->type != YAML_MAPPING_NODE)
		return cfg_fail(c, e, base, "expected a mapping with a server_name");
	char *name = NULL;
	int rc = get_str(c, e, base, "server_name", &name);
	if (rc)
		return rc;
	path_key(p, sizeof(p), base, "server_name");
	size_t host_len;
	bool has_port;
	bool ok = name && strlen(name) < sizeof(ks->server_name) &&
		  server_name_split(name, &host_len, &has_port);
	if (ok)
		memcpy(ks->server_name, name, strlen(name) + 1);
	free(name);
	if (!ok)
		return cfg_fail(c, e, p, "expected a server name (required)");
	if ((rc = get_bool(c, e, base, "accept_keys_insecurely", &ks->accept_keys_insecurely)))
		return rc;
	yaml_node_t *vk;
	if ((rc = get_map(c, e, base, "verify_keys", &vk)))
		return rc;
	char vpath[CFG_PATH_MAX];
	path_key(vpath, sizeof(vpath), base, "verify_keys");
	for (yaml_node_pair_t *kv = vk ? vk->data.mapping.pairs.start : NULL;
	     vk && kv < vk->data.mapping.pairs.top; kv++) {
		yaml_node_t *k = node_at(c, kv->key), *v = node_at(c, kv->value);
		if (!k || k->type != YAML_SCALAR_NODE || !ed25519_key_id_valid(scalar_str(k)) ||
		    strlen(scalar_str(k)) >= sizeof(ks->verify_keys[0].key_id))
			return cfg_fail(c, k ? k : vk, vpath,
					"keys must be key ids such as ed25519:auto");
		path_key(p, sizeof(p), vpath, scalar_str(k));
		if (ks->n_verify_keys == MX_CONFIG_MAX_PINNED_KEYS)
			return cfg_fail(c, k, p, "at most 8 keys per key server");
		struct mx_config_pinned_key *pk = &ks->verify_keys[ks->n_verify_keys];
		if (!v || v->type != YAML_SCALAR_NODE ||
		    mx_base64_decode_exact(scalar_str(v), MX_BASE64_STD, pk->key, sizeof(pk->key)))
			return cfg_fail(c, v ? v : k, p,
					"expected the base64 of a 32-byte ed25519 public key");
		memcpy(pk->key_id, scalar_str(k), strlen(scalar_str(k)) + 1);
		ks->n_verify_keys++;
	}
	/* As Synapse: unpinned, the key server is trusted on its TLS
	 * certificate, so without certificate checks it must be pinned. */
	if (!ks->n_verify_keys && !cfg->federation_verify_certificates &&
	    !ks->accept_keys_insecurely)
		return cfg_fail(c, e, base,
				"with federation_verify_certificates off, anyone who can spoof "
				"DNS could pose as this key server: pin its verify_keys, or set "
				"accept_keys_insecurely: true");
	return 0;
}

/*
 * trusted_key_servers (Synapse's format). Absent: matrix.org with no
 * pinned keys, Synapse's default; null or an empty list: no notary.
 */
static int parse_trusted_key_servers(struct cfg *c, struct mx_config *cfg, yaml_node_t *root)
{
	yaml_node_t *seq = map_get(c, root, "trusted_key_servers");
	cfg->trusted_key_servers =
		mx_xcalloc(MX_CONFIG_MAX_KEY_SERVERS, sizeof(*cfg->trusted_key_servers));
	cfg->n_trusted_key_servers = 0;
	if (!seq) {
		memcpy(cfg->trusted_key_servers[0].server_name, "matrix.org", sizeof("matrix.org"));
		cfg->n_trusted_key_servers = 1;
		return 0;
	}
	if (is_null(seq))
		return 0;
	if (seq->type != YAML_SEQUENCE_NODE)
		return cfg_fail(c, seq, "trusted_key_servers", "expected a list");
	if (seq_len(seq) > MX_CONFIG_MAX_KEY_SERVERS)
		return cfg_fail(c, seq, "trusted_key_servers", "at most 16 key servers");
	for (size_t i = 0; i < seq_len(seq); i++) {
		char base[CFG_PATH_MAX];
		path_idx(base, sizeof(base), "trusted_key_servers", i);
		int rc = parse_key_server(c, cfg, seq_at(c, seq, i), base,
					  &cfg->trusted_key_servers[i]);
		if (rc)
			return rc;
		cfg->n_trusted_key_servers++;
	}
	return 0;
}

static int parse_password_config(struct cfg *c, struct mx_config *cfg, yaml_node_t *root)
{
	yaml_node_t *pc, *policy;
	int rc = get_map(c, root, "", "password_config", &pc);
	if (rc)
		return rc;
	yaml_node_t *en = map_val(c, pc, "enabled");
	/* "only_for_reauth": no password login, which is what this flag means. */
	if (en && en->type == YAML_SCALAR_NODE && !strcmp(scalar_str(en), "only_for_reauth"))
		cfg->password_login_enabled = false;
	else if ((rc = get_bool(c, pc, "password_config", "enabled", &cfg->password_login_enabled)))
		return rc;
	if ((rc = get_map(c, pc, "password_config", "policy", &policy)))
		return rc;
	/* Unlike Synapse, a policy block applies unless it says enabled: false. */
	bool policy_on = true;
	int min_len = 0;
	if ((rc = get_bool(c, policy, "password_config.policy", "enabled", &policy_on)) ||
	    (rc = get_int(c, policy, "password_config.policy", "minimum_length", 0, 1024, &min_len)))
		return rc;
	cfg->password_min_length = policy_on ? min_len : 0;
	return 0;
}

static int parse_root(struct cfg *c, struct mx_config *cfg, yaml_node_t *root)
{
	int rc;
	yaml_node_t *sec, *v;

	if (!(v = map_val(c, root, "server_name")))
		return cfg_fail(c, NULL, "server_name", "missing (required)");
	if ((rc = node_str(c, v, "server_name", &cfg->server_name)))
		return rc;
	size_t host_len;
	bool has_port;
	if (!server_name_split(cfg->server_name, &host_len, &has_port))
		return cfg_fail(c, v, "server_name", "expected a hostname with an optional :port");

	if ((rc = get_str(c, root, "", "public_baseurl", &cfg->public_baseurl)))
		return rc;
	if (cfg->public_baseurl) {
		if (strncmp(cfg->public_baseurl, "https://", 8) &&
		    strncmp(cfg->public_baseurl, "http://", 7))
			return cfg_fail(c, map_get(c, root, "public_baseurl"), "public_baseurl",
					"expected an http:// or https:// URL");
		size_t n = strlen(cfg->public_baseurl);
		if (cfg->public_baseurl[n - 1] != '/') {
			char *s = mx_xasprintf("%s/", cfg->public_baseurl);
			free(cfg->public_baseurl);
			cfg->public_baseurl = s;
		}
	} else {
		cfg->public_baseurl = mx_xasprintf("https://%s/", cfg->server_name);
	}

	if ((rc = get_bool(c, root, "", "serve_server_wellknown", &cfg->serve_server_wellknown)))
		return rc;
	if (cfg->serve_server_wellknown)
		/* As Synapse: https://<server_name>/ reaches us, so delegate to 443. */
		cfg->serve_server_wellknown_host =
			has_port ? mx_xstrdup(cfg->server_name)
				 : mx_xasprintf("%.*s:443", (int)host_len, cfg->server_name);

	if ((v = map_val(c, root, "extra_well_known_client_content"))) {
		if (v->type != YAML_MAPPING_NODE)
			return cfg_fail(c, v, "extra_well_known_client_content",
					"expected a mapping");
		json_t *j;
		if ((rc = yaml_to_json(c, v, "extra_well_known_client_content", 0, &j)))
			return rc;
		char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(j);
		if (!s)
			return cfg_fail(c, v, "extra_well_known_client_content",
					"cannot be written as JSON");
		cfg->extra_well_known_client_content = mx_xstrdup(s);
		free(s);
	}

	/* Before the listeners, which check that TLS ones have both. */
	if ((rc = get_str(c, root, "", "tls_certificate_path", &cfg->tls_certificate_path)) ||
	    (rc = get_str(c, root, "", "tls_private_key_path", &cfg->tls_private_key_path)))
		return rc;
	char **tls_paths[] = {&cfg->tls_certificate_path, &cfg->tls_private_key_path};
	for (size_t i = 0; i < MX_ARRAY_LEN(tls_paths); i++) {
		if (*tls_paths[i] && !**tls_paths[i]) {
			free(*tls_paths[i]);
			*tls_paths[i] = NULL;
		}
		resolve_path(cfg, tls_paths[i]);
	}

	if ((rc = parse_listeners(c, cfg, root)) || (rc = parse_database(c, cfg, root)))
		return rc;

	if ((rc = get_str(c, root, "", "signing_key_path", &cfg->signing_key_path)) ||
	    (rc = get_duration(c, root, "", "key_refresh_interval", &cfg->key_valid_for_ms)) ||
	    (rc = get_bool(c, root, "", "enable_registration", &cfg->enable_registration)) ||
	    (rc = get_bool(c, root, "", "enable_registration_without_verification",
			   &cfg->enable_registration_without_verification)) ||
	    (rc = get_bool(c, root, "", "registration_requires_token",
			   &cfg->registration_requires_token)) ||
	    (rc = get_str(c, root, "", "registration_shared_secret",
			  &cfg->registration_shared_secret)) ||
	    (rc = get_bool(c, root, "", "allow_guest_access", &cfg->allow_guest_access)) ||
	    (rc = parse_password_config(c, cfg, root)) ||
	    (rc = get_bool(c, root, "", "inhibit_user_in_use_error",
			   &cfg->inhibit_user_in_use_error)) ||
	    (rc = get_duration(c, root, "", "refreshable_access_token_lifetime",
			       &cfg->refreshable_access_token_lifetime_ms)) ||
	    (rc = get_duration(c, root, "", "refresh_token_lifetime",
			       &cfg->refresh_token_lifetime_ms)) ||
	    (rc = get_duration(c, root, "", "nonrefreshable_access_token_lifetime",
			       &cfg->nonrefreshable_access_token_lifetime_ms)))
		return rc;
	if (cfg->registration_shared_secret && !cfg->registration_shared_secret[0]) {
		free(cfg->registration_shared_secret);
		cfg->registration_shared_secret = NULL;
	}

	if ((rc = get_ratelimit(c, root, "", "rc_registration", &cfg->rc_registration)) ||
	    (rc = get_ratelimit(c, root, "", "rc_message", &cfg->rc_message)) ||
	    (rc = get_map(c, root, "", "rc_login", &sec)) ||
	    (rc = get_ratelimit(c, sec, "rc_login", "address", &cfg->rc_login_address)) ||
	    (rc = get_ratelimit(c, sec, "rc_login", "account", &cfg->rc_login_account)) ||
	    (rc = get_ratelimit(c, sec, "rc_login", "failed_attempts", &cfg->rc_login_failed)))
		return rc;

	if ((rc = get_str(c, root, "", "default_room_version", &cfg->default_room_version)) ||
	    (rc = get_str(c, root, "", "media_store_path", &cfg->media_store_path)) ||
	    (rc = get_size(c, root, "", "max_upload_size", &cfg->max_upload_size)) ||
	    (rc = get_size(c, root, "", "max_request_body_size", &cfg->max_request_body_size)) ||
	    (rc = get_size(c, root, "", "max_image_pixels", &cfg->max_image_pixels)) ||
	    (rc = get_int(c, root, "", "max_pending_media_uploads", 1, 1000000,
			  &cfg->max_pending_media_uploads)) ||
	    (rc = get_duration(c, root, "", "unused_expiration_time",
			       &cfg->unused_expiration_time_ms)) ||
	    (rc = parse_thumbnail_sizes(c, cfg, root)) ||
	    (rc = parse_media_upload_limits(c, cfg, root)) ||
	    (rc = get_bool(c, root, "", "url_preview_enabled", &cfg->url_preview_enabled)) ||
	    (rc = get_size(c, root, "", "max_spider_size", &cfg->max_spider_size)) ||
	    (rc = parse_ipranges(c, root, "url_preview_ip_range_whitelist", NULL,
				 &cfg->url_preview_ip_range_whitelist,
				 &cfg->n_url_preview_ip_range_whitelist)) ||
	    (rc = get_int(c, root, "", "http_threads", 0, 1024, &cfg->http_threads)) ||
	    (rc = get_int(c, root, "", "max_connections", 1, 1000000, &cfg->max_connections)) ||
	    (rc = get_int(c, root, "", "room_cache_size", 10, 10000000, &cfg->room_cache_size)) ||
	    (rc = get_str(c, root, "", "log_level", &cfg->log_level)))
		return rc;
	/* As Synapse: previews need an explicit blacklist, and 0.0.0.0 and ::
	 * (unroutable, but "this host" to connect()) are always on it. */
	static const char *const always_blocked[] = {"0.0.0.0", "::", NULL};
	if (cfg->url_preview_enabled && !map_get(c, root, "url_preview_ip_range_blacklist"))
		return cfg_fail(c, map_get(c, root, "url_preview_enabled"), "url_preview_enabled",
				"url_preview_ip_range_blacklist is required when URL previews "
				"are enabled");
	if ((rc = parse_ipranges(c, root, "url_preview_ip_range_blacklist", always_blocked,
				 &cfg->url_preview_ip_range_blacklist,
				 &cfg->n_url_preview_ip_range_blacklist)))
		return rc;
	if ((rc = parse_federation_client(c, cfg, root)))
		return rc;
	if (cfg->max_request_body_size < 1024)
		return cfg_fail(c, map_get(c, root, "max_request_body_size"),
				"max_request_body_size", "must be at least 1K");
	/* After the federation keys: it reads federation_verify_certificates. */
	if ((rc = parse_trusted_key_servers(c, cfg, root)))
		return rc;

	if (cfg->log_level) {
		static const char *const levels[] = {"debug", "info", "warn", "warning", "error"};
		size_t i;
		for (i = 0; i < MX_ARRAY_LEN(levels); i++)
			if (!strcasecmp(cfg->log_level, levels[i]))
				break;
		if (i == MX_ARRAY_LEN(levels))
			return cfg_fail(c, map_get(c, root, "log_level"), "log_level",
					"expected one of debug, info, warn, error");
		free(cfg->log_level);
		cfg->log_level = mx_xstrdup(i == 3 ? "warn" : levels[i]);
	} else {
		cfg->log_level = mx_xstrdup("info");
	}
	if (!cfg->default_room_version)
		cfg->default_room_version = mx_xstrdup("12");
	if (!cfg->signing_key_path)
		cfg->signing_key_path = mx_xasprintf("%s.signing.key", cfg->server_name);
	if (!cfg->media_store_path)
		cfg->media_store_path = mx_xstrdup("media_store");
	resolve_path(cfg, &cfg->signing_key_path);
	resolve_path(cfg, &cfg->media_store_path);
	return 0;
}

int mx_config_load(struct mx_config *cfg, const char *path, char *err, size_t errlen)
{
	int rc = 0;
	FILE *f = NULL;
	yaml_parser_t parser;
	yaml_document_t doc;
	bool parser_ok = false, doc_ok = false;
	struct cfg c = {.file = path, .doc = &doc, .err = err, .errlen = errlen};

	memset(cfg, 0, sizeof(*cfg));
	if (err && errlen)
		err[0] = '\0';
	set_defaults(cfg);

	cfg->config_path = path_abs(path);
	if (!cfg->config_path) {
		set_err(err, errlen, "%s: cannot determine the working directory: %s", path,
			strerror(errno));
		rc = MX_EIO;
		goto out;
	}
	cfg->config_dir = path_dirname(cfg->config_path);

	f = fopen(path, "rb");
	if (!f) {
		set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		rc = MX_EIO;
		goto out;
	}
	if (!yaml_parser_initialize(&parser))
		MX_BUG("yaml_parser_initialize");
	parser_ok = true;
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		if (parser.error == YAML_MEMORY_ERROR)
			MX_BUG("libyaml out of memory");
		set_err(err, errlen, "%s:%zu:%zu: invalid YAML: %s%s%s", path,
			parser.problem_mark.line + 1, parser.problem_mark.column + 1,
			parser.problem ? parser.problem : "syntax error",
			parser.context ? " " : "", parser.context ? parser.context : "");
		rc = MX_EINVALID;
		goto out;
	}
	doc_ok = true;

	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (root && is_null(root))
		root = NULL;
	if (root && root->type != YAML_MAPPING_NODE) {
		rc = cfg_fail(&c, root, "(top level)", "expected a mapping of keys to values");
		goto out;
	}
	rc = parse_root(&c, cfg, root);

out:
	if (doc_ok)
		yaml_document_delete(&doc);
	if (parser_ok)
		yaml_parser_delete(&parser);
	if (f)
		fclose(f);
	if (rc)
		mx_config_release(cfg);
	return rc;
}

void mx_config_release(struct mx_config *cfg)
{
	free(cfg->config_path);
	free(cfg->config_dir);
	free(cfg->server_name);
	free(cfg->public_baseurl);
	free(cfg->serve_server_wellknown_host);
	free(cfg->extra_well_known_client_content);
	for (size_t i = 0; i < cfg->n_listeners; i++)
		free(cfg->listeners[i].bind_address);
	free(cfg->listeners);
	free(cfg->database_engine);
	free(cfg->database_path);
	free(cfg->database_conninfo);
	free(cfg->signing_key_path);
	free(cfg->tls_certificate_path);
	free(cfg->tls_private_key_path);
	free(cfg->registration_shared_secret);
	free(cfg->default_room_version);
	free(cfg->media_store_path);
	free(cfg->url_preview_ip_range_blacklist);
	free(cfg->url_preview_ip_range_whitelist);
	free(cfg->ip_range_blacklist);
	free(cfg->ip_range_whitelist);
	free(cfg->federation_ip_range_blacklist);
	for (size_t i = 0; cfg->federation_custom_ca_list && i < cfg->n_federation_custom_ca_list; i++)
		free(cfg->federation_custom_ca_list[i]);
	free(cfg->federation_custom_ca_list);
	for (size_t i = 0; cfg->app_service_config_files && i < cfg->n_app_service_config_files; i++)
		free(cfg->app_service_config_files[i]);
	free(cfg->app_service_config_files);
	for (size_t i = 0; cfg->federation_domain_whitelist && i < cfg->n_federation_domain_whitelist;
	     i++)
		free(cfg->federation_domain_whitelist[i]);
	free(cfg->federation_domain_whitelist);
	free(cfg->trusted_key_servers);
	free(cfg->log_level);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- generation ------------------------------------------------------------ */

/* A YAML double-quoted scalar. */
static void yaml_quote(struct mx_buf *b, const char *s)
{
	mx_buf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			mx_buf_putc(b, '\\');
			mx_buf_putc(b, (char)*p);
		} else if (*p < 0x20 || *p == 0x7f) {
			mx_buf_printf(b, "\\x%02x", *p);
		} else {
			mx_buf_putc(b, (char)*p);
		}
	}
	mx_buf_putc(b, '"');
}

static void emit_kv(struct mx_buf *b, const char *indent, const char *key, const char *val)
{
	mx_buf_printf(b, "%s%s: ", indent, key);
	yaml_quote(b, val);
	mx_buf_putc(b, '\n');
}

/* mkdir -p with the given mode for directories it creates. */
static int mkdir_p(const char *dir, mode_t mode, char *err, size_t errlen)
{
	char *p = mx_xstrdup(dir);
	int rc = 0;
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char saved = *s;
		*s = '\0';
		if (mkdir(p, mode) && errno != EEXIST) {
			set_err(err, errlen, "%s: cannot create directory: %s", p, strerror(errno));
			rc = MX_EIO;
			goto out;
		}
		*s = saved;
		if (!saved)
			break;
	}
	struct stat st;
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		set_err(err, errlen, "%s: not a directory", dir);
		rc = MX_EIO;
	}
out:
	free(p);
	return rc;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write path with mode 0600 atomically (temp file, fsync, then link or
 * rename into place), never replacing an existing file. */
static int write_new_file(const char *path, const char *data, size_t len, char *err,
			  size_t errlen)
{
	int rc = MX_EIO, fd = -1;
	char *tmp = mx_xasprintf("%s.tmp.XXXXXX", path);
	char *dir = NULL;
	bool tmp_exists = false;

	fd = mkstemp(tmp);
	if (fd < 0) {
		set_err(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
		goto out;
	}
	tmp_exists = true;
	if (fchmod(fd, 0600) || write_all(fd, data, len) || fsync(fd)) {
		set_err(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		goto out;
	}
	int cr = close(fd);
	fd = -1;
	if (cr) {
		set_err(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		goto out;
	}
	/* link() fails with EEXIST instead of replacing, which rename() would
	 * do; fall back to rename() on file systems without hard links. */
	if (link(tmp, path) == 0) {
		unlink(tmp);
		tmp_exists = false;
	} else if (errno == EEXIST) {
		set_err(err, errlen, "%s: already exists; refusing to overwrite it", path);
		goto out;
	} else {
		struct stat st;
		if (lstat(path, &st) == 0) {
			set_err(err, errlen, "%s: already exists; refusing to overwrite it", path);
			goto out;
		}
		if (rename(tmp, path)) {
			set_err(err, errlen, "%s: cannot rename into place: %s", path,
				strerror(errno));
			goto out;
		}
		tmp_exists = false;
	}
	dir = path_dirname(path);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp_exists)
		unlink(tmp);
	free(tmp);
	free(dir);
	return rc;
}

static void emit_ratelimit(struct mx_buf *b, const char *indent, const char *key,
			   struct mx_config_ratelimit rl)
{
	mx_buf_printf(b, "%s%s:\n%s  per_second: %g\n%s  burst_count: %g\n", indent, key, indent,
		      rl.per_second, indent, rl.burst_count);
}

int mx_config_generate(const char *path, const char *server_name, const char *data_dir,
		       bool enable_registration, char *err, size_t errlen)
{
	int rc;
	struct mx_buf b;
	char *abs_path = NULL, *abs_data = NULL, *conf_dir = NULL, *text = NULL;
	char *signing = NULL, *dbpath = NULL, *media = NULL;
	size_t host_len;
	bool has_port;

	mx_buf_init(&b, MX_BUF_UNLIMITED);
	if (err && errlen)
		err[0] = '\0';
	if (!server_name_split(server_name, &host_len, &has_port)) {
		set_err(err, errlen, "%s: not a valid server name", server_name);
		rc = MX_EINVALID;
		goto out;
	}
	abs_path = path_abs(path);
	abs_data = path_abs(data_dir);
	if (!abs_path || !abs_data) {
		set_err(err, errlen, "cannot determine the working directory: %s", strerror(errno));
		rc = MX_EIO;
		goto out;
	}
	struct stat st;
	if (lstat(abs_path, &st) == 0) {
		set_err(err, errlen, "%s: already exists; refusing to overwrite it", path);
		rc = MX_EIO;
		goto out;
	}
	conf_dir = path_dirname(abs_path);
	if ((rc = mkdir_p(conf_dir, 0700, err, errlen)) ||
	    (rc = mkdir_p(abs_data, 0700, err, errlen)))
		goto out;

	if (sodium_init() < 0)
		MX_BUG("sodium_init");
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	char secret[33];
	for (size_t i = 0; i < 32; i++)
		secret[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
	secret[32] = '\0';

	bool local = (host_len == 9 && !strncmp(server_name, "localhost", 9)) ||
		     (host_len == 9 && !strncmp(server_name, "127.0.0.1", 9));
	char *baseurl = local ? mx_xstrdup("http://127.0.0.1:8008/")
			      : mx_xasprintf("https://%s/", server_name);
	signing = mx_xasprintf("%s/%s.signing.key", abs_data, server_name);
	dbpath = mx_xasprintf("%s/homeserver.db", abs_data);
	media = mx_xasprintf("%s/media_store", abs_data);
	const char *reg = enable_registration ? "true" : "false";

	mx_buf_puts(&b,
		"# Myelin homeserver configuration.\n"
		"#\n"
		"# Key names follow Synapse's homeserver.yaml, so most of a Synapse\n"
		"# config carries over; keys Myelin does not know are ignored.\n"
		"# Relative paths are resolved against this file's directory.\n"
		"# Durations take a suffix (500ms, 30s, 5m, 1h, 1d, 2w, 1y) or are\n"
		"# milliseconds; sizes take K, M or G (powers of 1024) or are bytes.\n"
		"\n"
		"## Server ##\n"
		"\n"
		"# The domain in user IDs and room aliases (@user:server_name). It cannot\n"
		"# be changed once users and rooms exist.\n");
	emit_kv(&b, "", "server_name", server_name);
	mx_buf_puts(&b,
		"\n"
		"# The URL clients and other servers use to reach this server, as seen\n"
		"# from outside (through the reverse proxy, if there is one).\n");
	emit_kv(&b, "", "public_baseurl", baseurl);
	free(baseurl);
	mx_buf_puts(&b,
		"\n"
		"# Serve /.well-known/matrix/server, delegating federation to port 443 of\n"
		"# server_name, so no SRV record or port 8448 is needed.\n"
		"serve_server_wellknown: false\n"
		"\n"
		"# Log verbosity: debug, info, warn or error.\n"
		"log_level: info\n"
		"\n"
		"## Listeners ##\n"
		"\n"
		"# HTTP listeners. Usually a reverse proxy (nginx, Caddy, ...) in\n"
		"# front terminates TLS; a listener can also serve HTTPS itself\n"
		"# (tls: true, below), e.g. federation on port 8448.\n"
		"#\n"
		"# port: the TCP port.\n"
		"# bind_addresses: addresses to listen on ('::' or '0.0.0.0' for all).\n"
		"# x_forwarded: trust X-Forwarded-For from the reverse proxy for the\n"
		"#   client address. Only enable it when the proxy is the only way in.\n"
		"# resources: which APIs this listener serves: client, federation,\n"
		"#   keys, media, health, admin. The admin API should stay on its own\n"
		"#   listener bound to localhost.\n"
		"# tls: serve HTTPS, with tls_certificate_path and tls_private_key_path.\n"
		"listeners:\n"
		"  - port: 8008\n"
		"    bind_addresses: ['127.0.0.1']\n"
		"    type: http\n"
		"    tls: false\n"
		"    x_forwarded: true\n"
		"    resources:\n"
		"      - names: [client, federation, keys, media, health]\n"
		"        compress: false\n"
		"\n"
		"  # Admin API (/_synapse/admin, /_myelin/admin): localhost only.\n"
		"  - port: 8009\n"
		"    bind_addresses: ['127.0.0.1']\n"
		"    type: http\n"
		"    tls: false\n"
		"    resources:\n"
		"      - names: [admin]\n"
		"\n"
		"  # Federation over HTTPS on 8448, without a reverse proxy:\n"
		"  #- port: 8448\n"
		"  #  bind_addresses: ['::', '0.0.0.0']\n"
		"  #  type: http\n"
		"  #  tls: true\n"
		"  #  resources:\n"
		"  #    - names: [federation]\n"
		"\n"
		"# Certificate and private key (PEM) for listeners with tls: true, read\n"
		"# at start-up (restart to renew). The certificate file may hold the\n"
		"# chain after it; the key must not be encrypted.\n"
		"#tls_certificate_path: /etc/letsencrypt/live/example.org/fullchain.pem\n"
		"#tls_private_key_path: /etc/letsencrypt/live/example.org/privkey.pem\n"
		"\n"
		"# Largest JSON request body accepted, in bytes.\n"
		"max_request_body_size: 1M\n"
		"\n"
		"# Threads serving HTTP; 0 means one per CPU core.\n"
		"http_threads: 0\n"
		"\n"
		"# Concurrent connections accepted before new ones are refused.\n"
		"max_connections: 10000\n"
		"\n"
		"# Rooms whose current state is kept in memory; the least recently used\n"
		"# beyond this are dropped and reloaded from the database when needed.\n"
		"room_cache_size: 2000\n"
		"\n"
		"## Database ##\n"
		"\n"
		"# name: sqlite3 (args.database is the file) or psycopg2 for PostgreSQL\n"
		"# (args: user, password, dbname, host, port).\n"
		"database:\n"
		"  name: sqlite3\n"
		"  args:\n");
	emit_kv(&b, "    ", "database", dbpath);
	mx_buf_puts(&b,
		"\n"
		"## Media ##\n"
		"\n"
		"# Directory where uploaded and cached remote media is kept.\n");
	emit_kv(&b, "", "media_store_path", media);
	mx_buf_puts(&b,
		"\n"
		"# Largest upload accepted.\n"
		"max_upload_size: 50M\n"
		"\n"
		"# URL previews fetch pages on behalf of users: off by default. When\n"
		"# enabled, addresses in url_preview_ip_range_blacklist (required) are\n"
		"# never fetched unless listed in url_preview_ip_range_whitelist.\n"
		"url_preview_enabled: false\n"
		"url_preview_ip_range_blacklist:\n"
		"  - '127.0.0.0/8'\n"
		"  - '10.0.0.0/8'\n"
		"  - '172.16.0.0/12'\n"
		"  - '192.168.0.0/16'\n"
		"  - '100.64.0.0/10'\n"
		"  - '192.0.0.0/24'\n"
		"  - '169.254.0.0/16'\n"
		"  - '192.88.99.0/24'\n"
		"  - '198.18.0.0/15'\n"
		"  - '192.0.2.0/24'\n"
		"  - '198.51.100.0/24'\n"
		"  - '203.0.113.0/24'\n"
		"  - '224.0.0.0/4'\n"
		"  - '::1/128'\n"
		"  - 'fe80::/10'\n"
		"  - 'fc00::/7'\n"
		"  - '2001:db8::/32'\n"
		"  - 'ff00::/8'\n"
		"  - 'fec0::/10'\n"
		"#url_preview_ip_range_whitelist:\n"
		"#  - '192.168.1.1'\n"
		"max_spider_size: 10M\n"
		"\n"
		"## Signing keys ##\n"
		"\n"
		"# The server's ed25519 signing key file.\n"
		"# Keep it safe: other servers pin it.\n");
	emit_kv(&b, "", "signing_key_path", signing);
	mx_buf_puts(&b,
		"\n"
		"# How long other servers may cache our signing keys.\n"
		"key_refresh_interval: 1d\n"
		"\n"
		"# Notaries asked for another server's signing keys when that server\n"
		"# cannot be reached itself (an empty list: none). Each one's answers\n"
		"# are trusted on its TLS certificate unless verify_keys pins the keys\n"
		"# it must sign them with (at least one must have signed).\n"
		"trusted_key_servers:\n"
		"  - server_name: \"matrix.org\"\n"
		"#    verify_keys:\n"
		"#      \"ed25519:auto\": \"Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw\"\n"
		"\n"
		"# Let other servers list our published rooms (/publicRooms over\n"
		"# federation), and look up our users' profiles.\n"
		"allow_public_rooms_over_federation: false\n"
		"allow_profile_lookup_over_federation: true\n"
		"# Device names (\"Alice's phone\") stay private unless this is true.\n"
		"allow_device_name_lookup_over_federation: false\n"
		"\n"
		"## Registration ##\n"
		"\n"
		"# Allow anyone to register an account. With registration open and no\n"
		"# token or verification required, anyone can create accounts: prefer\n"
		"# registration_requires_token on a public server.\n");
	mx_buf_printf(&b, "enable_registration: %s\n", reg);
	mx_buf_puts(&b,
		"\n"
		"# Synapse refuses open registration without email or captcha unless\n"
		"# this is set; accepted for compatibility.\n");
	mx_buf_printf(&b, "enable_registration_without_verification: %s\n", reg);
	mx_buf_puts(&b,
		"\n"
		"# Require a registration token (created through the admin API).\n"
		"registration_requires_token: false\n"
		"\n"
		"# Shared secret for the admin registration API\n"
		"# (/_synapse/admin/v1/register), used to create the first admin.\n"
		"# Anyone who knows it can create admin accounts: keep it secret.\n");
	emit_kv(&b, "", "registration_shared_secret", secret);
	sodium_memzero(secret, sizeof(secret));
	mx_buf_puts(&b,
		"\n"
		"# Allow guest accounts.\n"
		"allow_guest_access: false\n"
		"\n"
		"# Return no M_USER_IN_USE from /register/available, so that usernames\n"
		"# cannot be probed.\n"
		"inhibit_user_in_use_error: false\n"
		"\n"
		"# Password login, and the rules new passwords must follow.\n"
		"password_config:\n"
		"  enabled: true\n"
		"  policy:\n"
		"    minimum_length: 0\n"
		"\n"
		"## Sessions ##\n"
		"\n"
		"# Lifetime of access tokens for clients that support refresh tokens.\n"
		"refreshable_access_token_lifetime: 5m\n"
		"\n"
		"# Lifetime of refresh tokens; unset means they never expire.\n"
		"#refresh_token_lifetime: 24h\n"
		"\n"
		"# Lifetime of access tokens for clients without refresh token support;\n"
		"# unset means they never expire.\n"
		"#nonrefreshable_access_token_lifetime: 24h\n"
		"\n"
		"## Rooms ##\n"
		"\n"
		"# Room version for new rooms.\n"
		"default_room_version: \"12\"\n"
		"\n"
		"## Rate limiting ##\n"
		"\n"
		"# Each limit is a token bucket: burst_count actions at once, refilled\n"
		"# at per_second actions per second.\n"
		"\n"
		"# Sending messages, per user.\n");
	struct mx_config d;
	memset(&d, 0, sizeof(d));
	set_defaults(&d);
	emit_ratelimit(&b, "", "rc_message", d.rc_message);
	mx_buf_puts(&b, "\n# Registration, per client address.\n");
	emit_ratelimit(&b, "", "rc_registration", d.rc_registration);
	mx_buf_puts(&b,
		"\n"
		"# Login: address is per client address, account per account being\n"
		"# logged in to, failed_attempts per account for wrong passwords.\n"
		"rc_login:\n");
	emit_ratelimit(&b, "  ", "address", d.rc_login_address);
	emit_ratelimit(&b, "  ", "account", d.rc_login_account);
	emit_ratelimit(&b, "  ", "failed_attempts", d.rc_login_failed);

	size_t len;
	text = mx_buf_detach(&b, &len);
	rc = write_new_file(abs_path, text, len, err, errlen);
	sodium_memzero(text, len);
out:
	mx_buf_release(&b);
	free(text);
	free(abs_path);
	free(abs_data);
	free(conf_dir);
	free(signing);
	free(dbpath);
	free(media);
	return rc;
}
