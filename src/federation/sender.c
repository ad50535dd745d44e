/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The outbound federation sender (sender.h). A table of destinations in
 * memory, each IDLE (nothing known to send), READY (in the ready queue),
 * WAITING (in the waiting list until its retry time) or BUSY (a thread is
 * sending its transaction), so a destination never has two transactions
 * in flight. MX_FED_SENDER_THREADS threads take READY destinations in
 * turn. The outbox itself is the queue: memory holds, per destination, only
 * where its acknowledged rows end and the range of the transaction being
 * retried, never the EDUs.
 *
 * Why threads of our own and not the shared job pool (core/jobs.h):
 * mx_fed_request() blocks for up to its timeout, and the job pool also
 * fetches the keys that inbound requests wait for; a few dead destinations
 * must not starve those. Why several and not one: one thread would let a
 * single slow destination hold up every other.
 *
 * Lock order: the sender's lock is never held while calling into the
 * federation client or the database (the writer may call our release
 * callback inline).
 */
#include "federation/sender.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/canonjson.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/rand.h"
#include "core/server.h"
#include "core/strhash.h"
#include "db/db.h"
#include "event/ids.h"
#include "federation/client.h"
#include "store/federation.h"

/* A retry when the destination's record gives no time (e.g. a probe of another request is out). */
#define MX_FS_RECHECK_MAX_MS (60 * 1000)
/* 429 without retry_after_ms, and the bounds of the one given. */
#define MX_FS_429_DEFAULT_MS (10 * 1000)
#define MX_FS_429_MIN_MS 1000
#define MX_FS_429_MAX_MS (3600 * 1000)
/* After a database error reading the outbox. */
#define MX_FS_DB_RETRY_MS (10 * 1000)
/*
 * Rows a destination has answered for are deleted this long after, in one
 * write with whatever else finished meanwhile: a lone sender's next
 * messages do not each pay a commit of their own for the deletion.
 */
#define MX_FS_DELETE_DELAY_MS 1000
/* How often inbound transaction records are pruned. */
#define MX_FS_PRUNE_EVERY_MS (3600 * 1000)
#define MX_FS_TXN_TIMEOUT_MS (30 * 1000)

/* ---- transaction ids ---- */

void mx_fed_txn_id(char out[MX_FED_TXN_ID_SIZE], int64_t first_ts, int64_t first, int64_t last)
{
	snprintf(out, MX_FED_TXN_ID_SIZE, "%" PRId64 "_%" PRId64 "_%" PRId64, first_ts, first, last);
}

/* A non-negative decimal without leading zeros up to sep; advances *p past sep. */
static int mx_fs_parse_num(const char **p, char sep, int64_t *out)
{
	const char *s = *p;
	int64_t v = 0;
	size_t n = 0;
	for (; *s >= '0' && *s <= '9'; s++, n++) {
		int d = *s - '0';
		if (v > (INT64_MAX - d) / 10)
			return MX_EINVALID;
		v = v * 10 + d;
	}
	if (n == 0 || (n > 1 && (*p)[0] == '0') || *s != sep)
		return MX_EINVALID;
	*out = v;
	*p = sep ? s + 1 : s;
	return 0;
}

int mx_fed_txn_id_parse(const char *id, int64_t *first_ts, int64_t *first, int64_t *last)
{
	const char *p = id;
	if (!p || mx_fs_parse_num(&p, '_', first_ts) || mx_fs_parse_num(&p, '_', first) ||
	    mx_fs_parse_num(&p, '\0', last) || *first > *last)
		return MX_EINVALID;
	return 0;
}

/* ---- the transaction builder ---- */

void mx_fed_txn_init(struct mx_fed_txn *t)
{
	memset(t, 0, sizeof(*t));
	t->edus = json_array();
}

void mx_fed_txn_release(struct mx_fed_txn *t)
{
	json_decref(t->edus);
	t->edus = NULL;
}

static void mx_fs_txn_consume(struct mx_fed_txn *t, int64_t id, int64_t created_ts)
{
	if (!t->first) {
		t->first = id;
		t->first_ts = created_ts;
	}
	t->last = id;
}

bool mx_fed_txn_add(struct mx_fed_txn *t, int64_t id, int64_t created_ts, const char *edu_type,
		    const char *content)
{
	size_t len = strlen(content) + strlen(edu_type);
	if (t->n_edus >= MX_FED_TXN_MAX_EDUS ||
	    (t->n_edus && t->bytes + len > MX_FED_TXN_MAX_BYTES)) {
		t->full = true;
		return false;
	}
	mx_fs_txn_consume(t, id, created_ts);
	json_t *c = mx_json_parse_strict(content, strlen(content), NULL);
	if (!json_is_object(c) || mx_canonjson_check(c) || !edu_type[0]) {
		json_decref(c);
		t->skipped++;
		return true;
	}
	json_array_append_new(t->edus, json_pack("{s:s, s:o}", "edu_type", edu_type, "content", c));
	t->n_edus++;
	t->bytes += len;
	return true;
}

json_t *mx_fed_txn_body(const struct mx_fed_txn *t, const char *origin, int64_t now_ms)
{
	/* SPEC: server-server-api#put_matrixfederationv1sendtxnid: pdus is required. */
	return json_pack("{s:s, s:I, s:[], s:O}", "origin", origin, "origin_server_ts",
			 (json_int_t)now_ms, "pdus", "edus", t->edus);
}

/* ---- to-device EDUs ---- */

/* SPEC: m.direct_to_device message_id: "of maximum length 32 codepoints". */
#define MX_FS_MESSAGE_ID_LEN 24

static json_t *mx_fs_to_device_edu(const char *sender, const char *type, json_t *messages)
{
	char id[MX_FS_MESSAGE_ID_LEN + 1];
	mx_rand_token(id, sizeof(id));
	return json_pack("{s:s, s:s, s:s, s:o}", "sender", sender, "type", type, "message_id", id,
			 "messages", messages);
}

json_t *mx_fed_to_device_edus(const char *sender, const char *type, const json_t *messages)
{
	json_t *out = json_array();
	json_t *cur = json_object();
	size_t cur_bytes = 0;
	const char *user, *dev;
	json_t *devs, *content;
	json_object_foreach ((json_t *)messages, user, devs) {
		json_object_foreach (devs, dev, content) {
			/* The entry's share of the encoding: its content, keys, quotes and commas. */
			size_t n = json_dumpb(content, NULL, 0, JSON_COMPACT) + strlen(user) +
				   strlen(dev) + 8;
			if (cur_bytes && cur_bytes + n > MX_FED_EDU_MAX_BYTES) {
				json_array_append_new(out, mx_fs_to_device_edu(sender, type, cur));
				cur = json_object();
				cur_bytes = 0;
			}
			json_t *u = json_object_get(cur, user);
			if (!u) {
				u = json_object();
				json_object_set_new(cur, user, u);
			}
			json_object_set(u, dev, content);
			cur_bytes += n;
		}
	}
	if (json_object_size(cur))
		json_array_append_new(out, mx_fs_to_device_edu(sender, type, cur));
	else
		json_decref(cur);
	return out;
}

/* ---- the sender ---- */

enum mx_fs_state { MX_FS_IDLE, MX_FS_READY, MX_FS_WAITING, MX_FS_BUSY };

struct mx_fs_dest {
	struct mx_fs_dest *hnext;         /* hash chain */
	struct mx_fs_dest *next, *prev;   /* the ready queue or the waiting list */
	enum mx_fs_state state;
	bool more;                        /* woken while BUSY: look again */
	int64_t acked;                    /* rows with id <= acked are done with */
	int64_t txn_last;                 /* a transaction (acked, txn_last] is being retried; 0 none */
	int64_t retry_at;                 /* WAITING: ms since the epoch */
	struct mx_fs_dest *dnext;         /* the list of destinations with rows to delete */
	bool dirty;                       /* in that list: acked > deleted */
	int deletes;                      /* deletes of its rows not yet committed */
	char name[];
};

struct mx_fs_list {
	struct mx_fs_dest *head, *tail;
};

struct mx_fs_thread {
	struct mx_fed_sender *s;
	struct mx_db_conn *conn;
	pthread_t tid;
	bool started;
};

struct mx_fed_sender {
	struct mx_server *srv;
	pthread_mutex_t lock;
	pthread_cond_t cond;      /* work, a nearer timer, or stop */
	pthread_cond_t drained;   /* deletes reached 0 */
	struct mx_fs_dest **buckets;
	size_t n_buckets, count;
	struct mx_fs_list ready, waiting;
	int64_t next_check;       /* earliest retry_at in the waiting list; INT64_MAX: none */
	int64_t next_prune;
	struct mx_fs_dest *dirty;  /* destinations whose finished rows are still to delete */
	int64_t next_flush;        /* when to delete them; INT64_MAX: none */
	int deletes;
	bool stopping;
	struct mx_fs_thread threads[MX_FED_SENDER_THREADS];
	uint64_t txns, edus, dropped;
};

static void mx_fs_list_push(struct mx_fs_list *l, struct mx_fs_dest *d)
{
	d->next = NULL;
	d->prev = l->tail;
	if (l->tail)
		l->tail->next = d;
	else
		l->head = d;
	l->tail = d;
}

static void mx_fs_list_remove(struct mx_fs_list *l, struct mx_fs_dest *d)
{
	if (d->prev)
		d->prev->next = d->next;
	else
		l->head = d->next;
	if (d->next)
		d->next->prev = d->prev;
	else
		l->tail = d->prev;
	d->next = d->prev = NULL;
}

static struct mx_fs_dest **mx_fs_slot(struct mx_fed_sender *s, const char *name)
{
	struct mx_fs_dest **p = &s->buckets[mx_strhash(name) & (s->n_buckets - 1)];
	while (*p && strcmp((*p)->name, name))
		p = &(*p)->hnext;
	return p;
}

static void mx_fs_grow(struct mx_fed_sender *s)
{
	size_t nb = s->n_buckets * 2;
	struct mx_fs_dest **b = mx_xcalloc(nb, sizeof(*b));
	for (size_t i = 0; i < s->n_buckets; i++) {
		struct mx_fs_dest *d = s->buckets[i], *next;
		for (; d; d = next) {
			next = d->hnext;
			size_t h = mx_strhash(d->name) & (nb - 1);
			d->hnext = b[h];
			b[h] = d;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->n_buckets = nb;
}

/* The entry of name, created IDLE if missing (lock held). */
static struct mx_fs_dest *mx_fs_get(struct mx_fed_sender *s, const char *name)
{
	struct mx_fs_dest **p = mx_fs_slot(s, name);
	if (*p)
		return *p;
	if (s->count + 1 > s->n_buckets * 2) {
		mx_fs_grow(s);
		p = mx_fs_slot(s, name);
	}
	size_t n = strlen(name) + 1;
	struct mx_fs_dest *d = mx_xcalloc(1, sizeof(*d) + n);
	memcpy(d->name, name, n);
	*p = d;
	s->count++;
	return d;
}

/* Forget an IDLE entry that no delete still needs (lock held). */
static void mx_fs_maybe_free(struct mx_fed_sender *s, struct mx_fs_dest *d)
{
	if (d->state != MX_FS_IDLE || d->deletes || d->dirty)
		return;
	struct mx_fs_dest **p = mx_fs_slot(s, d->name);
	*p = d->hnext;
	s->count--;
	free(d);
}

static void mx_fs_make_ready(struct mx_fed_sender *s, struct mx_fs_dest *d)
{
	d->state = MX_FS_READY;
	mx_fs_list_push(&s->ready, d);
	pthread_cond_signal(&s->cond);
}

/* Move WAITING destinations whose time has come to the ready queue (lock held). */
static void mx_fs_due(struct mx_fed_sender *s, int64_t now)
{
	int64_t next = INT64_MAX;
	struct mx_fs_dest *d = s->waiting.head, *nx;
	for (; d; d = nx) {
		nx = d->next;
		if (d->retry_at <= now) {
			mx_fs_list_remove(&s->waiting, d);
			mx_fs_make_ready(s, d);
		} else if (d->retry_at < next) {
			next = d->retry_at;
		}
	}
	s->next_check = next;
}

void mx_fed_sender_wake(struct mx_fed_sender *s, const char *destination)
{
	if (!s || !destination)
		return;
	pthread_mutex_lock(&s->lock);
	if (!s->stopping) {
		struct mx_fs_dest *d = mx_fs_get(s, destination);
		if (d->state == MX_FS_IDLE)
			mx_fs_make_ready(s, d);
		else if (d->state == MX_FS_BUSY)
			d->more = true;
		/* READY: it will read the rows; WAITING: they go at its retry time. */
	}
	pthread_mutex_unlock(&s->lock);
}

void mx_fed_sender_heard_from(struct mx_fed_sender *s, const char *origin)
{
	if (!s || !origin)
		return;
	pthread_mutex_lock(&s->lock);
	struct mx_fs_dest *d = *mx_fs_slot(s, origin);
	if (d && d->state == MX_FS_WAITING && !s->stopping) {
		mx_fs_list_remove(&s->waiting, d);
		mx_fs_make_ready(s, d);
		mx_log_debug("federation: %s reached us: sending its transactions now", origin);
	}
	pthread_mutex_unlock(&s->lock);
}

/* ---- one transaction ---- */

enum mx_fs_verdict {
	MX_FS_EMPTY,  /* nothing to send */
	MX_FS_DONE,   /* rows up to .upto are finished (sent or dropped) */
	MX_FS_RETRY,  /* try the same transaction again at .retry_at */
};

struct mx_fs_outcome {
	enum mx_fs_verdict verdict;
	int64_t upto;
	int64_t retry_at;
	bool full;
	size_t edus;        /* EDUs in the transaction */
	size_t skipped;     /* rows that could not be sent at all */
	bool delivered;
};

static int mx_fs_row(void *ctx, int64_t id, int64_t created_ts, const char *type,
		     const char *content)
{
	return mx_fed_txn_add(ctx, id, created_ts, type, content) ? 0 : 1;
}

/* When to retry after a failure: the destination's retry time, else soon. */
static int64_t mx_fs_retry_time(struct mx_fed_sender *s, const char *dest, int64_t now)
{
	int64_t at = mx_fed_destination_retry_at(s->srv->fed, dest);
	if (at > now)
		return at;
	int64_t wait = s->srv->cfg->destination_min_retry_interval_ms;
	if (wait > MX_FS_RECHECK_MAX_MS || wait <= 0)
		wait = MX_FS_RECHECK_MAX_MS;
	return now + wait;
}

static int64_t mx_fs_retry_after(const json_t *err)
{
	json_t *v = json_object_get(err, "retry_after_ms");
	int64_t ms = json_is_integer(v) ? (int64_t)json_integer_value(v) : MX_FS_429_DEFAULT_MS;
	return ms < MX_FS_429_MIN_MS ? MX_FS_429_MIN_MS : ms > MX_FS_429_MAX_MS ? MX_FS_429_MAX_MS : ms;
}

/*
 * Send d's next transaction (the one being retried, or a new one from the
 * oldest rows). Runs without the lock: while BUSY only this thread touches
 * d's cursor fields.
 */
static struct mx_fs_outcome mx_fs_attempt(struct mx_fed_sender *s, struct mx_db_conn *conn,
					  struct mx_fs_dest *d)
{
	struct mx_fs_outcome o = {.verdict = MX_FS_EMPTY};
	struct mx_fed_txn t;
	mx_fed_txn_init(&t);
	int64_t now = mx_clock_now_ms();
	int rc = mx_store_fed_outbox_read(conn, d->name, d->acked, d->txn_last ? d->txn_last : INT64_MAX,
					  MX_FED_TXN_MAX_EDUS, mx_fs_row, &t);
	if (rc) {
		mx_log_error("federation: cannot read the outbox of %s (error %d)", d->name, rc);
		o.verdict = MX_FS_RETRY;
		o.retry_at = now + MX_FS_DB_RETRY_MS;
		goto out;
	}
	o.full = t.full || t.n_edus + t.skipped == MX_FED_TXN_MAX_EDUS;
	if (!t.first) {
		d->txn_last = 0;
		goto out;
	}
	if (t.skipped)
		mx_log_warn("federation: dropping %zu EDUs for %s that are not canonical JSON objects",
			    t.skipped, d->name);
	o.verdict = MX_FS_DONE;
	o.upto = t.last;
	o.skipped = t.skipped;
	if (!t.n_edus)
		goto out;
	d->txn_last = t.last; /* a retry carries exactly these rows again */
	char txn_id[MX_FED_TXN_ID_SIZE];
	mx_fed_txn_id(txn_id, t.first_ts, t.first, t.last);
	char uri[sizeof("/_matrix/federation/v1/send/") + MX_FED_TXN_ID_SIZE];
	snprintf(uri, sizeof(uri), "/_matrix/federation/v1/send/%s", txn_id);
	json_t *body = mx_fed_txn_body(&t, s->srv->cfg->server_name, now);
	struct mx_fed_request rq = {
		.destination = d->name,
		.method = "PUT",
		.uri = uri,
		.body = body,
		.sign = true,
		.timeout_ms = MX_FS_TXN_TIMEOUT_MS,
	};
	struct mx_fed_response resp;
	rc = mx_fed_request(s->srv->fed, &rq, &resp);
	json_decref(body);
	now = mx_clock_now_ms();
	o.edus = t.n_edus;
	if (rc == MX_EFORBIDDEN || rc == MX_EINVALIDPARAM) {
		/* Our own rules forbid this destination (whitelist, blacklisted address). */
		mx_log_warn("federation: dropping %zu EDUs for %s: the destination is not allowed",
			    t.n_edus, d->name);
	} else if (rc) {
		mx_log_debug("federation: transaction %s to %s failed (error %d); will retry", txn_id,
			     d->name, rc);
		o.verdict = MX_FS_RETRY;
		o.retry_at = mx_fs_retry_time(s, d->name, now);
	} else if (resp.status >= 200 && resp.status < 300) {
		o.delivered = true;
		mx_log_debug("federation: transaction %s to %s: %zu EDUs delivered", txn_id, d->name,
			     t.n_edus);
	} else if (resp.status == 429) {
		o.verdict = MX_FS_RETRY;
		o.retry_at = now + mx_fs_retry_after(resp.json);
		mx_log_info("federation: %s rate-limits our transactions; retrying in %" PRId64 " ms",
			    d->name, o.retry_at - now);
	} else if (resp.status == 401) {
		/* Usually the receiver could not fetch our key yet: not a refusal
		 * of the content, and to-device messages carry E2EE keys. */
		mx_log_info("federation: %s did not accept our signature on %s; will retry",
			    d->name, txn_id);
		o.verdict = MX_FS_RETRY;
		o.retry_at = mx_fs_retry_time(s, d->name, now);
	} else if (resp.status >= 400 && resp.status < 500) {
		json_t *e = json_object_get(resp.json, "errcode");
		mx_log_warn("federation: %s refused transaction %s with %ld %s: dropping its %zu EDUs",
			    d->name, txn_id, resp.status, json_is_string(e) ? json_string_value(e) : "",
			    t.n_edus);
	} else {
		mx_log_debug("federation: transaction %s to %s answered %ld; will retry", txn_id,
			     d->name, resp.status);
		o.verdict = MX_FS_RETRY;
		o.retry_at = mx_fs_retry_time(s, d->name, now);
	}
	if (!rc)
		mx_fed_response_release(&resp);
out:
	mx_fed_txn_release(&t);
	return o;
}

/* ---- deleting finished rows ---- */

struct mx_fs_delete {
	struct mx_fed_sender *s;
	struct mx_fs_dest *d;     /* kept alive while d->deletes > 0 */
	int64_t upto;
};

static int mx_fs_delete_job(struct mx_db_conn *c, void *arg)
{
	struct mx_fs_delete *x = arg;
	return mx__store_fed_outbox_delete(c, x->d->name, x->upto);
}

static void mx_fs_delete_done(void *arg, int result)
{
	struct mx_fs_delete *x = arg;
	struct mx_fed_sender *s = x->s;
	/* A lost delete only means the rows go again after a restart: the
	 * receiver knows the transaction or the message ids. */
	if (result < 0 && result != MX_EUNAVAILABLE)
		mx_log_warn("federation: could not delete sent EDUs of %s (error %d)", x->d->name,
			    result);
	pthread_mutex_lock(&s->lock);
	x->d->deletes--;
	mx_fs_maybe_free(s, x->d);
	if (--s->deletes == 0)
		pthread_cond_broadcast(&s->drained);
	pthread_mutex_unlock(&s->lock);
	free(x);
}

/*
 * Queue the deletes of every destination's finished rows (lock held on
 * entry and exit; released meanwhile: the writer may call
 * mx_fs_delete_done() inline).
 */
static void mx_fs_flush_deletes(struct mx_fed_sender *s)
{
	struct mx_fs_delete *batch = NULL;
	size_t n = 0, cap = 0;
	for (struct mx_fs_dest *d = s->dirty, *next; d; d = next) {
		next = d->dnext;
		d->dnext = NULL;
		d->dirty = false;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			batch = mx_xrealloc(batch, cap * sizeof(*batch));
		}
		batch[n++] = (struct mx_fs_delete){s, d, d->acked};
		d->deletes++;
		s->deletes++;
	}
	s->dirty = NULL;
	s->next_flush = INT64_MAX;
	if (!n)
		return;
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < n; i++) {
		struct mx_fs_delete *x = mx_xmalloc(sizeof(*x));
		*x = batch[i];
		mx_db_write_async(s->srv->db, mx_fs_delete_job, x, mx_fs_delete_done);
	}
	free(batch);
	pthread_mutex_lock(&s->lock);
}

/* Record o for d, which this thread holds BUSY (lock held). */
static void mx_fs_settle(struct mx_fed_sender *s, struct mx_fs_dest *d,
			 const struct mx_fs_outcome *o)
{
	switch (o->verdict) {
	case MX_FS_EMPTY:
		d->state = MX_FS_IDLE;
		if (d->more)
			mx_fs_make_ready(s, d);
		else
			mx_fs_maybe_free(s, d);
		break;
	case MX_FS_DONE:
		d->acked = o->upto;
		d->txn_last = 0;
		if (!d->dirty) {
			d->dirty = true;
			d->dnext = s->dirty;
			s->dirty = d;
			if (s->next_flush == INT64_MAX) {
				s->next_flush = mx_clock_now_ms() + MX_FS_DELETE_DELAY_MS;
				pthread_cond_broadcast(&s->cond);
			}
		}
		if (o->delivered) {
			s->txns++;
			s->edus += o->edus;
		} else {
			s->dropped += o->edus;
		}
		s->dropped += o->skipped;
		d->state = MX_FS_IDLE;
		if (d->more || o->full)
			mx_fs_make_ready(s, d);
		else
			mx_fs_maybe_free(s, d);
		break;
	case MX_FS_RETRY:
		d->state = MX_FS_WAITING;
		d->retry_at = o->retry_at;
		mx_fs_list_push(&s->waiting, d);
		if (o->retry_at < s->next_check) {
			s->next_check = o->retry_at;
			pthread_cond_broadcast(&s->cond); /* sleepers recompute their timeout */
		}
		break;
	}
	d->more = false;
}

static void mx_fs_timedwait(struct mx_fed_sender *s, int64_t until_ms)
{
	struct timespec ts;
	ts.tv_sec = (time_t)(until_ms / 1000);
	ts.tv_nsec = (long)(until_ms % 1000) * 1000000L;
	pthread_cond_timedwait(&s->cond, &s->lock, &ts);
}

static void *mx_fs_thread_main(void *arg)
{
	struct mx_fs_thread *th = arg;
	struct mx_fed_sender *s = th->s;
	bool pruner = th == &s->threads[0];
	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		int64_t now = mx_clock_now_ms();
		if (now >= s->next_check)
			mx_fs_due(s, now);
		if (now >= s->next_flush) {
			mx_fs_flush_deletes(s);
			continue;
		}
		if (pruner && now >= s->next_prune) {
			s->next_prune = now + MX_FS_PRUNE_EVERY_MS;
			pthread_mutex_unlock(&s->lock);
			mx_store_fed_inbound_prune_async(s->srv->db, now - MX_FED_INBOUND_KEEP_MS);
			pthread_mutex_lock(&s->lock);
			continue;
		}
		struct mx_fs_dest *d = s->ready.head;
		if (!d) {
			int64_t until = s->next_check < s->next_flush ? s->next_check : s->next_flush;
			if (pruner && s->next_prune < until)
				until = s->next_prune;
			if (until > now + MX_FS_PRUNE_EVERY_MS)
				until = now + MX_FS_PRUNE_EVERY_MS;
			mx_fs_timedwait(s, until);
			continue;
		}
		mx_fs_list_remove(&s->ready, d);
		d->state = MX_FS_BUSY;
		d->more = false;
		pthread_mutex_unlock(&s->lock);

		struct mx_fs_outcome o = mx_fs_attempt(s, th->conn, d);
		pthread_mutex_lock(&s->lock);
		mx_fs_settle(s, d, &o);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int mx_fed_sender_new(struct mx_server *srv, struct mx_fed_sender **out)
{
	struct mx_fed_sender *s = mx_xcalloc(1, sizeof(*s));
	struct mx_db_conn *c = NULL;
	struct mx_arena a;
	int rc;
	*out = NULL;
	mx_arena_init(&a);
	s->srv = srv;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	pthread_cond_init(&s->drained, NULL);
	s->n_buckets = 64;
	s->buckets = mx_xcalloc(s->n_buckets, sizeof(*s->buckets));
	s->next_check = INT64_MAX;
	s->next_flush = INT64_MAX;
	/* The first prune a minute after start, not in the rush of start-up. */
	s->next_prune = mx_clock_now_ms() + 60 * 1000;

	const char **dests;
	size_t n;
	if ((rc = mx_db_conn_open(srv->db, &c)) ||
	    (rc = mx_store_fed_outbox_destinations(c, &a, &dests, &n)))
		goto out;
	for (size_t i = 0; i < n; i++)
		mx_fs_make_ready(s, mx_fs_get(s, dests[i]));
	if (n)
		mx_log_info("federation: resuming transactions to %zu destination%s", n,
			    n == 1 ? "" : "s");
	for (size_t i = 0; i < MX_FED_SENDER_THREADS; i++) {
		struct mx_fs_thread *th = &s->threads[i];
		th->s = s;
		if ((rc = mx_db_conn_open(srv->db, &th->conn)))
			goto out;
		if (pthread_create(&th->tid, NULL, mx_fs_thread_main, th))
			MX_BUG("pthread_create");
		th->started = true;
	}
	*out = s;
out:
	if (c)
		mx_db_conn_close(c);
	mx_arena_release(&a);
	if (rc) {
		mx_log_error("federation: cannot start the sender (error %d)", rc);
		mx_fed_sender_free(s);
	}
	return rc;
}

void mx_fed_sender_stop(struct mx_fed_sender *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void mx_fed_sender_free(struct mx_fed_sender *s)
{
	if (!s)
		return;
	mx_fed_sender_stop(s);
	for (size_t i = 0; i < MX_FED_SENDER_THREADS; i++) {
		struct mx_fs_thread *th = &s->threads[i];
		if (th->started)
			pthread_join(th->tid, NULL);
		if (th->conn)
			mx_db_conn_close(th->conn);
	}
	pthread_mutex_lock(&s->lock);
	mx_fs_flush_deletes(s); /* the writer still runs: they commit before the database closes */
	while (s->deletes)
		pthread_cond_wait(&s->drained, &s->lock);
	pthread_mutex_unlock(&s->lock);
	if (s->txns || s->dropped)
		mx_log_info("federation: %" PRIu64 " transactions sent with %" PRIu64
			    " EDUs, %" PRIu64 " EDUs dropped",
			    s->txns, s->edus, s->dropped);
	for (size_t i = 0; i < s->n_buckets; i++) {
		struct mx_fs_dest *d = s->buckets[i], *next;
		for (; d; d = next) {
			next = d->hnext;
			free(d);
		}
	}
	free(s->buckets);
	pthread_cond_destroy(&s->drained);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void mx_fed_sender_stats(struct mx_fed_sender *s, uint64_t *txns, uint64_t *edus,
			 uint64_t *dropped)
{
	pthread_mutex_lock(&s->lock);
	*txns = s->txns;
	*edus = s->edus;
	*dropped = s->dropped;
	pthread_mutex_unlock(&s->lock);
}

int mx_fed_sender_send_edu(struct mx_fed_sender *s, const char *destination, const char *edu_type,
			   const json_t *content)
{
	if (!mx_id_server_name_valid(destination) ||
	    !strcmp(destination, s->srv->cfg->server_name))
		return MX_EINVALIDPARAM;
	if (!json_is_object(content) || mx_canonjson_check(content))
		return MX_EBADJSON;
	char *text = json_dumps(content, JSON_COMPACT);
	if (!text)
		return MX_EBADJSON;
	struct mx_fed_edu e = {destination, edu_type, text};
	int rc = mx_store_fed_outbox_add(s->srv->db, &e, 1);
	free(text);
	if (!rc)
		mx_fed_sender_wake(s, destination);
	return rc;
}
