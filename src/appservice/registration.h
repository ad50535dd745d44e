/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Application service registrations: the YAML files named by the config key
 * app_service_config_files (Synapse's format), parsed and checked at start,
 * and the namespace matching that authentication, registration, aliases and
 * the event sender share.
 * SPEC: application-service-api#registration
 *
 * A registration has id, url (null: no pushes), as_token, hs_token,
 * sender_localpart, namespaces {users, aliases, rooms: [{exclusive, regex}]},
 * rate_limited and protocols. Regexes are PCRE2, matched anchored at the
 * start of the string and not at its end, as Synapse's re.match does.
 * Everything is read-only after loading: any thread may match.
 */
#ifndef MX_APPSERVICE_REGISTRATION_H
#define MX_APPSERVICE_REGISTRATION_H

#include <stdbool.h>
#include <stddef.h>

struct mx_config;

struct mx_as_namespace {
	char *regex;
	bool exclusive;
	void *re; /* pcre2_code */
};

struct mx_as_namespaces {
	struct mx_as_namespace *v;
	size_t n;
};

struct mx_appservice {
	char *file;             /* where it was read, for messages */
	char *id;
	char *url;              /* NULL: the AS takes no pushes */
	char *as_token;
	char *hs_token;
	char *sender_localpart;
	char *sender;           /* @sender_localpart:server_name */
	struct mx_as_namespaces users, aliases, rooms;
	bool rate_limited;      /* default true */
	char **protocols;
	size_t n_protocols;
};

struct mx_appservices {
	struct mx_appservice *v;
	size_t n;
};

/*
 * Parse one registration from YAML text into *as (zeroed by the caller).
 * file names it in messages. 0, or MX_EINVALID with err set to
 * "file: key: problem". *as must be released either way.
 */
int mx_appservice_parse(struct mx_appservice *as, const char *text, size_t len, const char *file,
			const char *server_name, char *err, size_t errlen);
void mx_appservice_release(struct mx_appservice *as);

/*
 * Read every file of cfg->app_service_config_files and check that ids and
 * as_tokens are unique. Returns a new set (caller frees; empty when none
 * configured), or NULL with err set.
 */
struct mx_appservices *mx_appservices_load(const struct mx_config *cfg, char *err, size_t errlen);
/* Check uniqueness of ids and as_tokens: 0 or MX_EINVALID with err set. */
int mx_appservices_check(const struct mx_appservices *set, char *err, size_t errlen);
void mx_appservices_free(struct mx_appservices *set);

/* The registration whose as_token is token (constant-time compare), or NULL. */
const struct mx_appservice *mx_appservices_by_token(const struct mx_appservices *set,
						    const char *token);
/* The registration with this id, or NULL. */
const struct mx_appservice *mx_appservices_by_id(const struct mx_appservices *set, const char *id);

/* Whether s matches one of ns (any, or exclusive ones only). */
bool mx_as_namespaces_match(const struct mx_as_namespaces *ns, const char *s, bool exclusive_only);

/* Whether the AS may act as user_id: its sender, or in its users namespaces. */
bool mx_appservice_owns_user(const struct mx_appservice *as, const char *user_id);

/*
 * The registration, other than self (may be NULL), that claims user_id
 * (users) or alias (aliases) in an exclusive namespace, or NULL.
 */
const struct mx_appservice *mx_appservices_exclusive_user(const struct mx_appservices *set,
							  const struct mx_appservice *self,
							  const char *user_id);
const struct mx_appservice *mx_appservices_exclusive_alias(const struct mx_appservices *set,
							   const struct mx_appservice *self,
							   const char *alias);

#endif
