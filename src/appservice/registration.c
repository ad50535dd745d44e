/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Application service registrations: loading, checking and namespace
 * matching. See registration.h.
 *
 * The YAML is walked with libyaml's document API, as core/config.c does;
 * every problem names the file and the key ("as.yaml: namespaces.users[0].regex: ...").
 */
#include "appservice/registration.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/config.h"
#include "core/error.h"
#include "core/mem.h"

#define MX_AS_FILE_MAX (1024 * 1024)

struct mx_as_parse {
	yaml_document_t *doc;
	const char *file;
	char *err;
	size_t errlen;
};

static int mx_as_fail(struct mx_as_parse *p, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int mx_as_fail(struct mx_as_parse *p, const char *key, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	if (p->err && p->errlen)
		snprintf(p->err, p->errlen, "%s: %s: %s", p->file, key, msg);
	return MX_EINVALID;
}

static yaml_node_t *mx_as_get(struct mx_as_parse *p, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
	     pr++) {
		yaml_node_t *k = yaml_document_get_node(p->doc, pr->key);
		if (k && k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, key))
			return yaml_document_get_node(p->doc, pr->value);
	}
	return NULL;
}

/* A plain null (~, null, empty) counts as absent. */
static bool mx_as_is_null(const yaml_node_t *n)
{
	if (!n)
		return true;
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *s = (const char *)n->data.scalar.value;
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

/* A string key: required ones fail when absent; optional ones give NULL. */
static int mx_as_str(struct mx_as_parse *p, yaml_node_t *map, const char *key, bool required,
		     char **out)
{
	yaml_node_t *n = mx_as_get(p, map, key);
	if (mx_as_is_null(n)) {
		*out = NULL;
		return required ? mx_as_fail(p, key, "required") : 0;
	}
	if (n->type != YAML_SCALAR_NODE)
		return mx_as_fail(p, key, "expected a string");
	*out = mx_xstrdup((const char *)n->data.scalar.value);
	return 0;
}

static int mx_as_bool(struct mx_as_parse *p, yaml_node_t *map, const char *key, const char *path,
		      bool dflt, bool *out)
{
	yaml_node_t *n = mx_as_get(p, map, key);
	*out = dflt;
	if (mx_as_is_null(n))
		return 0;
	const char *s = n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : "";
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "yes"))
		*out = true;
	else if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "no"))
		*out = false;
	else
		return mx_as_fail(p, path, "expected true or false");
	return 0;
}

static int mx_as_compile(struct mx_as_parse *p, const char *path, struct mx_as_namespace *ns)
{
	int code;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)ns->regex, PCRE2_ZERO_TERMINATED, PCRE2_UTF,
				       &code, &off, NULL);
	if (!re) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(code, msg, sizeof(msg));
		return mx_as_fail(p, path, "invalid regex at offset %zu: %s", (size_t)off,
				  (const char *)msg);
	}
	ns->re = re;
	return 0;
}

static int mx_as_parse_ns(struct mx_as_parse *p, yaml_node_t *nss, const char *kind,
			  struct mx_as_namespaces *out)
{
	char path[96];
	snprintf(path, sizeof(path), "namespaces.%s", kind);
	yaml_node_t *seq = mx_as_get(p, nss, kind);
	if (mx_as_is_null(seq))
		return 0;
	if (seq->type != YAML_SEQUENCE_NODE)
		return mx_as_fail(p, path, "expected a list");
	size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	out->v = mx_xcalloc(n ? n : 1, sizeof(*out->v));
	for (size_t i = 0; i < n; i++) {
		char ipath[128], rpath[160];
		snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
		yaml_node_t *item = yaml_document_get_node(p->doc, seq->data.sequence.items.start[i]);
		if (!item || item->type != YAML_MAPPING_NODE)
			return mx_as_fail(p, ipath, "expected a mapping with exclusive and regex");
		struct mx_as_namespace *ns = &out->v[out->n++];
		snprintf(rpath, sizeof(rpath), "%s.regex", ipath);
		yaml_node_t *r = mx_as_get(p, item, "regex");
		if (mx_as_is_null(r) || r->type != YAML_SCALAR_NODE)
			return mx_as_fail(p, rpath, "required (a string)");
		ns->regex = mx_xstrdup((const char *)r->data.scalar.value);
		char epath[160];
		snprintf(epath, sizeof(epath), "%s.exclusive", ipath);
		int rc = mx_as_bool(p, item, "exclusive", epath, false, &ns->exclusive);
		if (!rc)
			rc = mx_as_compile(p, rpath, ns);
		if (rc)
			return rc;
	}
	return 0;
}

static int mx_as_parse_doc(struct mx_as_parse *p, struct mx_appservice *as, const char *server_name)
{
	yaml_node_t *root = yaml_document_get_root_node(p->doc);
	if (!root || root->type != YAML_MAPPING_NODE)
		return mx_as_fail(p, "(top level)", "expected a mapping");
	int rc;
	if ((rc = mx_as_str(p, root, "id", true, &as->id)) ||
	    (rc = mx_as_str(p, root, "url", false, &as->url)) ||
	    (rc = mx_as_str(p, root, "as_token", true, &as->as_token)) ||
	    (rc = mx_as_str(p, root, "hs_token", true, &as->hs_token)) ||
	    (rc = mx_as_str(p, root, "sender_localpart", true, &as->sender_localpart)) ||
	    (rc = mx_as_bool(p, root, "rate_limited", "rate_limited", true, &as->rate_limited)))
		return rc;
	if (!*as->id || !*as->as_token || !*as->hs_token || !*as->sender_localpart)
		return mx_as_fail(p, !*as->id ? "id" : !*as->as_token ? "as_token"
					: !*as->hs_token ? "hs_token" : "sender_localpart",
				  "must not be empty");
	if (as->url && strncmp(as->url, "http://", 7) != 0 && strncmp(as->url, "https://", 8) != 0)
		return mx_as_fail(p, "url", "expected an http or https URL, or null");
	for (const char *c = as->sender_localpart; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || strchr("=_-./+", *c)))
			return mx_as_fail(p, "sender_localpart",
					  "may only contain a-z, 0-9 and =_-./+");
	as->sender = mx_xasprintf("@%s:%s", as->sender_localpart, server_name);
	yaml_node_t *nss = mx_as_get(p, root, "namespaces");
	if (!mx_as_is_null(nss) && nss->type != YAML_MAPPING_NODE)
		return mx_as_fail(p, "namespaces", "expected a mapping");
	if ((rc = mx_as_parse_ns(p, nss, "users", &as->users)) ||
	    (rc = mx_as_parse_ns(p, nss, "aliases", &as->aliases)) ||
	    (rc = mx_as_parse_ns(p, nss, "rooms", &as->rooms)))
		return rc;
	yaml_node_t *prot = mx_as_get(p, root, "protocols");
	if (!mx_as_is_null(prot)) {
		if (prot->type != YAML_SEQUENCE_NODE)
			return mx_as_fail(p, "protocols", "expected a list of strings");
		size_t n = (size_t)(prot->data.sequence.items.top - prot->data.sequence.items.start);
		as->protocols = mx_xcalloc(n ? n : 1, sizeof(*as->protocols));
		for (size_t i = 0; i < n; i++) {
			yaml_node_t *it =
				yaml_document_get_node(p->doc, prot->data.sequence.items.start[i]);
			if (!it || it->type != YAML_SCALAR_NODE)
				return mx_as_fail(p, "protocols", "expected a list of strings");
			as->protocols[as->n_protocols++] = mx_xstrdup((const char *)it->data.scalar.value);
		}
	}
	return 0;
}

int mx_appservice_parse(struct mx_appservice *as, const char *text, size_t len, const char *file,
			const char *server_name, char *err, size_t errlen)
{
	struct mx_as_parse p = {.file = file, .err = err, .errlen = errlen};
	yaml_parser_t parser;
	yaml_document_t doc;
	as->file = mx_xstrdup(file);
	if (!yaml_parser_initialize(&parser))
		MX_BUG("yaml_parser_initialize");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "%s:%zu: %s", file, parser.problem_mark.line + 1,
			 parser.problem ? parser.problem : "invalid YAML");
		yaml_parser_delete(&parser);
		return MX_EINVALID;
	}
	p.doc = &doc;
	int rc = mx_as_parse_doc(&p, as, server_name);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

static void mx_as_ns_release(struct mx_as_namespaces *ns)
{
	for (size_t i = 0; i < ns->n; i++) {
		free(ns->v[i].regex);
		pcre2_code_free(ns->v[i].re);
	}
	free(ns->v);
	ns->v = NULL;
	ns->n = 0;
}

void mx_appservice_release(struct mx_appservice *as)
{
	free(as->file);
	free(as->id);
	free(as->url);
	free(as->as_token);
	free(as->hs_token);
	free(as->sender_localpart);
	free(as->sender);
	mx_as_ns_release(&as->users);
	mx_as_ns_release(&as->aliases);
	mx_as_ns_release(&as->rooms);
	for (size_t i = 0; i < as->n_protocols; i++)
		free(as->protocols[i]);
	free(as->protocols);
	memset(as, 0, sizeof(*as));
}

static char *mx_as_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open the application service registration", path);
		return NULL;
	}
	char *buf = mx_xmalloc(MX_AS_FILE_MAX + 1);
	size_t n = fread(buf, 1, MX_AS_FILE_MAX + 1, f);
	bool bad = ferror(f) != 0;
	fclose(f);
	if (bad || n > MX_AS_FILE_MAX) {
		snprintf(err, errlen, "%s: cannot read it, or larger than %d bytes", path,
			 MX_AS_FILE_MAX);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

int mx_appservices_check(const struct mx_appservices *set, char *err, size_t errlen)
{
	for (size_t i = 0; i < set->n; i++)
		for (size_t j = 0; j < i; j++) {
			const struct mx_appservice *a = &set->v[i], *b = &set->v[j];
			if (!strcmp(a->id, b->id)) {
				snprintf(err, errlen, "%s: id: '%s' is also the id of %s", a->file,
					 a->id, b->file);
				return MX_EINVALID;
			}
			if (!strcmp(a->as_token, b->as_token)) {
				snprintf(err, errlen, "%s: as_token: the same as in %s", a->file,
					 b->file);
				return MX_EINVALID;
			}
		}
	return 0;
}

struct mx_appservices *mx_appservices_load(const struct mx_config *cfg, char *err, size_t errlen)
{
	struct mx_appservices *set = mx_xcalloc(1, sizeof(*set));
	size_t n = cfg->n_app_service_config_files;
	set->v = mx_xcalloc(n ? n : 1, sizeof(*set->v));
	for (size_t i = 0; i < n; i++) {
		const char *path = cfg->app_service_config_files[i];
		size_t len;
		char *text = mx_as_read_file(path, &len, err, errlen);
		if (!text)
			goto fail;
		int rc = mx_appservice_parse(&set->v[set->n++], text, len, path, cfg->server_name,
					     err, errlen);
		free(text);
		if (rc)
			goto fail;
	}
	if (mx_appservices_check(set, err, errlen))
		goto fail;
	return set;
fail:
	mx_appservices_free(set);
	return NULL;
}

void mx_appservices_free(struct mx_appservices *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++)
		mx_appservice_release(&set->v[i]);
	free(set->v);
	free(set);
}

const struct mx_appservice *mx_appservices_by_token(const struct mx_appservices *set,
						    const char *token)
{
	if (!set)
		return NULL;
	size_t tlen = strlen(token);
	const struct mx_appservice *found = NULL;
	for (size_t i = 0; i < set->n; i++) {
		const char *t = set->v[i].as_token;
		if (strlen(t) == tlen && !sodium_memcmp(t, token, tlen) && !found)
			found = &set->v[i];
	}
	return found;
}

const struct mx_appservice *mx_appservices_by_id(const struct mx_appservices *set, const char *id)
{
	for (size_t i = 0; set && i < set->n; i++)
		if (!strcmp(set->v[i].id, id))
			return &set->v[i];
	return NULL;
}

bool mx_as_namespaces_match(const struct mx_as_namespaces *ns, const char *s, bool exclusive_only)
{
	if (!s)
		return false;
	for (size_t i = 0; i < ns->n; i++) {
		if (exclusive_only && !ns->v[i].exclusive)
			continue;
		pcre2_match_data *md = pcre2_match_data_create(1, NULL);
		if (!md)
			MX_BUG("pcre2_match_data_create");
		/* Anchored at the start only, as Synapse's re.match. */
		int r = pcre2_match(ns->v[i].re, (PCRE2_SPTR)s, strlen(s), 0, PCRE2_ANCHORED, md,
				    NULL);
		pcre2_match_data_free(md);
		if (r >= 0)
			return true;
	}
	return false;
}

bool mx_appservice_owns_user(const struct mx_appservice *as, const char *user_id)
{
	return !strcmp(user_id, as->sender) || mx_as_namespaces_match(&as->users, user_id, false);
}

const struct mx_appservice *mx_appservices_exclusive_user(const struct mx_appservices *set,
							  const struct mx_appservice *self,
							  const char *user_id)
{
	for (size_t i = 0; set && i < set->n; i++)
		if (&set->v[i] != self && mx_as_namespaces_match(&set->v[i].users, user_id, true))
			return &set->v[i];
	return NULL;
}

const struct mx_appservice *mx_appservices_exclusive_alias(const struct mx_appservices *set,
							   const struct mx_appservice *self,
							   const char *alias)
{
	for (size_t i = 0; set && i < set->n; i++)
		if (&set->v[i] != self && mx_as_namespaces_match(&set->v[i].aliases, alias, true))
			return &set->v[i];
	return NULL;
}
