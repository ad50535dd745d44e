/* SPDX-License-Identifier: Apache-2.0 */
/* Cross-signing keys and uploaded signatures (SQL side). */
#include "store/cross_signing.h"

#include <stdbool.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "db/db.h"

int mx_store_cross_signing_sigs_merge(struct mx_db_conn *c, const char *target_user,
				      const char *target_key_id, json_t *obj)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT signer_user_id, signer_key_id, signature "
			     "FROM cross_signing_signatures "
			     "WHERE target_user_id = ? AND target_key_id = ?",
			     "ss", target_user, target_key_id);
	while (rc == MX_DB_ROW) {
		json_t *sigs = json_object_get(obj, "signatures");
		if (!json_is_object(sigs)) {
			sigs = json_object();
			json_object_set_new(obj, "signatures", sigs);
		}
		const char *signer = mx_db_col_text(st, 0);
		json_t *by = json_object_get(sigs, signer);
		if (!json_is_object(by)) {
			by = json_object();
			json_object_set_new(sigs, signer, by);
		}
		json_object_set_new(by, mx_db_col_text(st, 1), json_string(mx_db_col_text(st, 2)));
		rc = mx_db_step(st);
	}
	if (rc < 0)
		return rc;
	/* a finished step has reset the statement */
	return 0;
}

int mx_store_cross_signing_key_get(struct mx_db_conn *c, struct mx_arena *a,
				   const char *user_id, const char *usage, json_t **key)
{
	struct mx_db_stmt *st;
	int rc = mx_db_query(c, &st,
			     "SELECT key_id, key_json FROM cross_signing_keys "
			     "WHERE user_id = ? AND usage = ?",
			     "ss", user_id, usage);
	if (rc < 0)
		return rc;
	if (rc == MX_DB_DONE)
		return MX_ENOTFOUND;
	const char *kid = mx_arena_strdup(a, mx_db_col_text(st, 0));
	json_t *k = mx_arena_json(a, json_loads(mx_db_col_text(st, 1), 0, NULL));
	mx_db_done(st);
	if (!json_is_object(k))
		return MX_EDB;
	/* Signatures name the target master key by its bare public key. */
	if (!strncmp(kid, "ed25519:", 8))
		kid += 8;
	rc = mx_store_cross_signing_sigs_merge(c, user_id, kid, k);
	if (!rc)
		*key = k;
	return rc;
}

/* A device-list change of user_id, as store/e2ee records them. */
static int mx_store_cs_list_change(struct mx_db_conn *c, const char *user_id)
{
	int rc = mx_db_run(c,
			   "INSERT INTO stream_positions (stream, position) VALUES ('device_lists', 1)"
			   " ON CONFLICT (stream) DO UPDATE SET position = position + 1",
			   "");
	if (!rc)
		rc = mx_db_run(c,
			       "INSERT INTO device_list_changes (stream_id, user_id) VALUES "
			       "((SELECT position FROM stream_positions WHERE stream = "
			       "'device_lists'), ?)",
			       "s", user_id);
	return rc;
}

struct mx_cs_keys_job {
	const char *user_id;
	const char *const *usage, *const *key_ids, *const *keys;
	size_t n;
};

static int mx_store_cs_keys_job(struct mx_db_conn *c, void *arg)
{
	struct mx_cs_keys_job *j = arg;
	int rc = 0;
	for (size_t i = 0; i < j->n && !rc; i++)
		rc = mx_db_run(c,
			       "INSERT INTO cross_signing_keys (user_id, usage, key_id, key_json, "
			       "stream_id) VALUES (?, ?, ?, ?, (SELECT coalesce(max(stream_id), 0) "
			       "+ 1 FROM cross_signing_keys)) ON CONFLICT (user_id, usage) DO UPDATE "
			       "SET key_id = excluded.key_id, key_json = excluded.key_json, "
			       "stream_id = excluded.stream_id",
			       "ssss", j->user_id, j->usage[i], j->key_ids[i], j->keys[i]);
	if (!rc)
		rc = mx_store_cs_list_change(c, j->user_id);
	return rc;
}

int mx_store_cross_signing_keys_put(struct mx_db *db, const char *user_id,
				    const char *const *usage, const char *const *key_ids,
				    const char *const *keys, size_t n)
{
	struct mx_cs_keys_job j = {user_id, usage, key_ids, keys, n};
	return mx_db_write(db, mx_store_cs_keys_job, &j);
}

struct mx_cs_sigs_job {
	const struct mx_cs_signature *sigs;
	size_t n;
};

static int mx_store_cs_sigs_job(struct mx_db_conn *c, void *arg)
{
	struct mx_cs_sigs_job *j = arg;
	int rc = 0;
	for (size_t i = 0; i < j->n && !rc; i++) {
		const struct mx_cs_signature *s = &j->sigs[i];
		rc = mx_db_run(c,
			       "INSERT OR REPLACE INTO cross_signing_signatures (target_user_id, "
			       "target_key_id, signer_user_id, signer_key_id, signature) "
			       "VALUES (?, ?, ?, ?, ?)",
			       "sssss", s->target_user_id, s->target_key_id, s->signer_user_id,
			       s->signer_key_id, s->signature);
		/* One change per distinct target user (the list is short). */
		bool seen = false;
		for (size_t k = 0; k < i && !seen; k++)
			seen = !strcmp(j->sigs[k].target_user_id, s->target_user_id);
		if (!rc && !seen)
			rc = mx_store_cs_list_change(c, s->target_user_id);
	}
	return rc;
}

int mx_store_cross_signing_sigs_put(struct mx_db *db, const struct mx_cs_signature *sigs,
				    size_t n)
{
	struct mx_cs_sigs_job j = {sigs, n};
	return n ? mx_db_write(db, mx_store_cs_sigs_job, &j) : 0;
}
