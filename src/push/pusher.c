/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP pushers: queues, the delivery thread and the notification body.
 * See pusher.h.
 *
 * Why one thread with a curl multi handle and not the job pool: a push
 * gateway can be slow or dead for hours, and requests to it wait up to
 * MX_PUSHER_TIMEOUT_MS. On the job pool (8 threads shared with the
 * requests that park HTTP clients) a few dead gateways would hold every
 * job thread and stall remote joins and media for everyone. One thread
 * driving a multi handle keeps any number of pushers in flight at once,
 * each with its single request, and the multi handle's connection cache
 * keeps one connection per gateway open across notifications (Sygnal
 * behind TLS costs a handshake otherwise). The body is built on the same
 * thread, with its own read connection: reads are local and short.
 *
 * Locks: p->lock guards the pushers table, each pusher's queue and flags.
 * The sink (push's listener, on sending threads) and the API only take it
 * for short, non-blocking work; the delivery thread never holds it across
 * a database read or a network call. Only the delivery thread frees a
 * pusher or pops a queue's head, so the head it is sending stays put.
 */
#include "push/pusher.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/server.h"
#include "core/strhash.h"
#include "db/db.h"
#include "http/ipguard.h"
#include "push/push.h"
#include "room/room.h"
#include "store/push.h"
#include "store/pushers.h"
#include "store/receipts.h"
#include "store/rooms.h"

#define MX_PUSHER_BUCKETS 1024           /* power of two */
#define MX_PUSHER_QUEUE_MAX 1000         /* per pusher in memory; past it the database holds them */
#define MX_PUSHER_RELOAD 50              /* notifications read back from the database at a time */
#define MX_PUSHER_CONNECT_TIMEOUT_MS 10000
#define MX_PUSHER_TIMEOUT_MS 30000
#define MX_PUSHER_RESPONSE_MAX 65536
#define MX_PUSHER_TICK_MS 1000           /* the longest the thread sleeps */
#define MX_PUSHER_POS_FLUSH_MS 250       /* the longest a position waits before it is written */
#define MX_PUSHER_LOCALPART_MAX 255
#define MX_PUSHER_USER_AGENT "Myelin/" MX_VERSION

/* One notification waiting in a pusher's queue (heap strings). */
struct mx_pusher_item {
	struct mx_pusher_item *next;
	int64_t nid;
	char *room_id, *event_id;
	char *actions; /* the user's actions, JSON text */
};

struct mx_pusher_one {
	struct mx_pusher_one *next; /* in its bucket (by localpart) */
	int64_t id;
	char *user_id;
	char *localpart;
	/* under p->lock */
	struct mx_pusher_item *head, *tail;
	size_t n_items;
	bool backlog;        /* the database holds notifications the queue lacks */
	bool removed;
	bool kick;           /* the API touched it: retry now */
	bool busy;           /* the head is being sent: it stays queued until the answer */
	int64_t due_ms;      /* monotonic: no request before */
	int64_t pos;         /* newest nid sent or given up (written by the thread only) */
	/* delivery thread only */
	struct mx_pusher_backoff backoff;
	uint64_t pos_gen;    /* == p->pos_gen: p->pos[pos_idx] is this pusher's unwritten position */
	size_t pos_idx;
};

struct mx_pusher_xfer {
	struct mx_pusher_xfer *next;
	struct mx_pusher_one *one;
	CURL *h;
	struct curl_slist *hdrs;
	char *body;
	char *pushkey;            /* as sent, to recognise it in "rejected" */
	struct mx_buf resp;
	struct mx_ipguard guard;
	int64_t nid;
	int64_t t0_us;
};

struct mx_pusher {
	struct mx_server *srv;
	pthread_mutex_t lock;
	struct mx_pusher_one *buckets[MX_PUSHER_BUCKETS];
	size_t n_pushers;
	bool stop;
	CURLM *multi;
	pthread_t thread;
	/* delivery thread only */
	struct mx_worker w;
	struct mx_ipguard lists;
	struct mx_pusher_xfer *xfers;      /* in flight */
	struct mx_store_pusher_pos *pos;   /* positions to write */
	size_t n_pos, cap_pos;
	int64_t pos_since_ms;              /* monotonic: when the oldest of them came */
	uint64_t pos_gen;                  /* bumped by every write of them */
	struct mx_pusher_one **work;       /* pushers to serve this round */
	size_t n_work, cap_work;
};

/* ---- pure parts ---- */

int mx_pusher_check_url(const char *url, const char **why)
{
	int rc = MX_EINVALIDPARAM;
	char *scheme = NULL, *host = NULL, *path = NULL;
	CURLU *u = curl_url();
	if (!u)
		MX_BUG("curl_url");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
		*why = "'url' is not a valid URL";
		goto out;
	}
	if (strcasecmp(scheme, "https") != 0 && strcasecmp(scheme, "http") != 0) {
		*why = "'url' must be an http or https URL";
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK ||
	    strcmp(path, MX_PUSHER_NOTIFY_PATH) != 0) {
		*why = "'url' must have a path of '" MX_PUSHER_NOTIFY_PATH "'";
		goto out;
	}
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(path);
	curl_url_cleanup(u);
	return rc;
}

json_t *mx_pusher_tweaks(const json_t *actions)
{
	json_t *tweaks = json_object();
	size_t i;
	json_t *a;
	json_array_foreach (actions, i, a) {
		const char *name = json_string_value(json_object_get(a, "set_tweak"));
		if (!name)
			continue;
		/* SPEC: "If a highlight tweak is given with no value, its value is
		 * defined to be true"; Synapse does so for every tweak. */
		json_t *v = json_object_get(a, "value");
		json_object_set_new(tweaks, name, v ? json_deep_copy(v) : json_true());
	}
	return tweaks;
}

/* Whether a tweak is set to something that alerts (true, a non-empty string, non-zero). */
static bool mx_pusher_tweak_on(const json_t *tweaks, const char *name)
{
	const json_t *v = json_object_get(tweaks, name);
	if (json_is_string(v))
		return json_string_length(v) > 0;
	if (json_is_number(v))
		return json_number_value(v) != 0;
	return json_is_true(v);
}

/* s cut to at most max bytes on a UTF-8 character boundary (new string). */
static json_t *mx_pusher_cut(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n > max) {
		n = max;
		while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	return json_stringn(s, n);
}

static void mx_pusher_set_cut(json_t *o, const char *key, const char *s, size_t max)
{
	if (s && *s) {
		json_t *v = mx_pusher_cut(s, max);
		if (v)
			json_object_set_new(o, key, v);
	}
}

/* The content to send: all of it when small, else msgtype and the start of body, else none. */
static json_t *mx_pusher_content(const json_t *content)
{
	if (!json_is_object(content) || !json_object_size(content))
		return NULL;
	char *text = json_dumps(content, JSON_COMPACT);
	size_t len = text ? strlen(text) : SIZE_MAX;
	free(text);
	if (len <= MX_PUSHER_CONTENT_MAX)
		return json_deep_copy(content);
	json_t *out = json_object();
	mx_pusher_set_cut(out, "msgtype", json_string_value(json_object_get(content, "msgtype")),
			  MX_PUSHER_NAME_MAX);
	mx_pusher_set_cut(out, "body", json_string_value(json_object_get(content, "body")),
			  MX_PUSHER_BODY_MAX);
	if (!json_object_size(out)) {
		json_decref(out);
		return NULL;
	}
	return out;
}

json_t *mx_pusher_body(const struct mx_pusher_notif *n)
{
	json_t *tweaks = mx_pusher_tweaks(n->actions);
	const char *type = json_string_value(json_object_get(n->event, "type"));
	/* Synapse: high only for what alerts, or may (encrypted: unknown). */
	bool high = (type && !strcmp(type, "m.room.encrypted")) ||
		    mx_pusher_tweak_on(tweaks, "highlight") || mx_pusher_tweak_on(tweaks, "sound");
	/* SPEC: devices[].data is the pusher's data "minus the url key". */
	json_t *data = json_is_object(n->data) ? json_deep_copy(n->data) : json_object();
	json_object_del(data, "url");
	const char *format = json_string_value(json_object_get(n->data, "format"));
	bool id_only = format && !strcmp(format, "event_id_only");

	json_t *device = json_object();
	json_object_set_new(device, "app_id", json_string(n->app_id));
	json_object_set_new(device, "pushkey", json_string(n->pushkey));
	json_object_set_new(device, "pushkey_ts", json_integer(n->pushkey_ts_ms / 1000));
	json_object_set_new(device, "data", data);
	json_object_set_new(device, "tweaks", tweaks);

	json_t *notif = json_object();
	json_object_set_new(notif, "event_id", json_string(n->event_id));
	json_object_set_new(notif, "room_id", json_string(n->room_id));
	json_object_set_new(notif, "prio", json_string(high ? "high" : "low"));
	/* SPEC: counts "whose value is zero should be omitted"; unread is
	 * always sent, as Synapse does, so that a badge can go back to 0.
	 * Missed calls are not counted. */
	json_object_set_new(notif, "counts", json_pack("{s:I}", "unread", (json_int_t)n->unread));
	json_t *devices = json_array();
	json_array_append_new(devices, device);
	json_object_set_new(notif, "devices", devices);
	if (!id_only && json_is_object(n->event)) {
		const char *sender = json_string_value(json_object_get(n->event, "sender"));
		if (type)
			json_object_set_new(notif, "type", json_string(type));
		if (sender)
			json_object_set_new(notif, "sender", json_string(sender));
		mx_pusher_set_cut(notif, "sender_display_name", n->sender_display_name,
				  MX_PUSHER_NAME_MAX);
		mx_pusher_set_cut(notif, "room_name", n->room_name, MX_PUSHER_NAME_MAX);
		mx_pusher_set_cut(notif, "room_alias", n->room_alias, MX_PUSHER_NAME_MAX);
		const json_t *content = json_object_get(n->event, "content");
		const char *state_key = json_string_value(json_object_get(n->event, "state_key"));
		if (type && !strcmp(type, "m.room.member") && state_key) {
			const char *m = json_string_value(json_object_get(content, "membership"));
			if (m)
				json_object_set_new(notif, "membership", json_string(m));
			json_object_set_new(notif, "user_is_target",
					    json_boolean(n->user_id && !strcmp(state_key, n->user_id)));
		}
		json_t *c = mx_pusher_content(content);
		if (c)
			json_object_set_new(notif, "content", c);
	}
	return json_pack("{s:o}", "notification", notif);
}

void mx_pusher_backoff_reset(struct mx_pusher_backoff *b)
{
	b->delay_ms = 0;
	b->failing_since_ms = 0;
	b->failing = false;
}

bool mx_pusher_backoff_failed(struct mx_pusher_backoff *b, int64_t now_ms, int64_t *retry_ms)
{
	if (!b->failing) {
		b->failing = true;
		b->failing_since_ms = now_ms;
	}
	if (now_ms - b->failing_since_ms >= MX_PUSHER_GIVE_UP_MS) {
		/* Synapse: "we really only give up so that if the URL gets
		 * fixed, we don't suddenly deliver a load of old notifications". */
		mx_pusher_backoff_reset(b);
		*retry_ms = 0;
		return false;
	}
	int64_t delay = b->delay_ms ? b->delay_ms : MX_PUSHER_BACKOFF_FIRST_MS;
	*retry_ms = delay;
	b->delay_ms = delay >= MX_PUSHER_BACKOFF_MAX_MS / 2 ? MX_PUSHER_BACKOFF_MAX_MS : delay * 2;
	return true;
}

enum mx_pusher_outcome mx_pusher_outcome_of(bool ok, long status)
{
	if (!ok || !status)
		return MX_PUSHER_RETRY;
	if (status >= 200 && status < 300)
		return MX_PUSHER_SENT;
	if (status >= 500 || status == 408 || status == 429)
		return MX_PUSHER_RETRY;
	return MX_PUSHER_DROP;
}

/* ---- the pushers table ---- */

static size_t mx_pusher_bucket(const char *localpart)
{
	return mx_strhash(localpart) & (MX_PUSHER_BUCKETS - 1);
}

/* user_id's localpart (heap). */
static char *mx_pusher_localpart(const char *user_id)
{
	const char *s = user_id[0] == '@' ? user_id + 1 : user_id;
	const char *colon = strchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);
	char *lp = mx_xmalloc(n + 1);
	memcpy(lp, s, n);
	lp[n] = '\0';
	return lp;
}

static void mx_pusher_item_free(struct mx_pusher_item *it)
{
	free(it->room_id);
	free(it->event_id);
	free(it->actions);
	free(it);
}

static void mx_pusher_queue_clear(struct mx_pusher_one *one)
{
	for (struct mx_pusher_item *it = one->head, *next; it; it = next) {
		next = it->next;
		mx_pusher_item_free(it);
	}
	one->head = one->tail = NULL;
	one->n_items = 0;
}

static void mx_pusher_one_free(struct mx_pusher_one *one)
{
	mx_pusher_queue_clear(one);
	free(one->user_id);
	free(one->localpart);
	free(one);
}

/* The pusher with this id in user_id's bucket (p->lock held), or NULL. */
static struct mx_pusher_one *mx_pusher_find(struct mx_pusher *p, int64_t id, const char *localpart)
{
	for (struct mx_pusher_one *one = p->buckets[mx_pusher_bucket(localpart)]; one; one = one->next)
		if (one->id == id)
			return one;
	return NULL;
}

/* Add a pusher that delivers what comes after last_nid (p->lock held). */
static struct mx_pusher_one *mx_pusher_insert(struct mx_pusher *p, int64_t id, const char *user_id,
					      int64_t last_nid)
{
	struct mx_pusher_one *one = mx_xcalloc(1, sizeof(*one));
	one->id = id;
	one->user_id = mx_xstrdup(user_id);
	one->localpart = mx_pusher_localpart(user_id);
	one->pos = last_nid;
	/* Rows may have been stored between the position and now: read them. */
	one->backlog = true;
	size_t b = mx_pusher_bucket(one->localpart);
	one->next = p->buckets[b];
	p->buckets[b] = one;
	p->n_pushers++;
	return one;
}

void mx_pusher_added(struct mx_pusher *p, int64_t id, const char *user_id, int64_t last_nid)
{
	if (!p)
		return;
	char *lp = mx_pusher_localpart(user_id);
	pthread_mutex_lock(&p->lock);
	struct mx_pusher_one *one = mx_pusher_find(p, id, lp);
	if (!one || one->removed)
		mx_pusher_insert(p, id, user_id, last_nid);
	else
		one->kick = true;
	pthread_mutex_unlock(&p->lock);
	free(lp);
	curl_multi_wakeup(p->multi);
}

void mx_pusher_removed(struct mx_pusher *p, int64_t id, const char *user_id)
{
	if (!p)
		return;
	char *lp = mx_pusher_localpart(user_id);
	pthread_mutex_lock(&p->lock);
	struct mx_pusher_one *one = mx_pusher_find(p, id, lp);
	if (one)
		one->removed = true;
	pthread_mutex_unlock(&p->lock);
	free(lp);
	curl_multi_wakeup(p->multi);
}

/* ---- rows in ---- */

/*
 * Queue row r for one (p->lock held). other: r's actions_other parsed, or
 * NULL.
 *
 * Rows come in the order listeners run, which is not quite nid order
 * (two sends in a room release its lock, then run their listeners), so
 * a row is queued whatever its nid. A row is never offered twice, and it
 * is offered before push stores it: so a reload, which reads only stored
 * rows after emptying push's queue of the user's, never reads a row the
 * sink will offer later; one it read and the sink also queued is merged.
 */
static bool mx_pusher_offer(struct mx_pusher_one *one, const struct mx_store_push_row *r,
			    const json_t *other)
{
	if (one->removed || one->backlog)
		return false;
	if (one->n_items >= MX_PUSHER_QUEUE_MAX) {
		/*
		 * The database is the overflow: drop what a read after the
		 * position will bring back (nid above it), keep the rest (the
		 * head being sent, rows that came late below the position).
		 */
		struct mx_pusher_item **pp = &one->head;
		one->tail = NULL;
		one->n_items = 0;
		while (*pp) {
			struct mx_pusher_item *it = *pp;
			if ((it == one->head && one->busy) || it->nid <= one->pos) {
				one->tail = it;
				one->n_items++;
				pp = &it->next;
				continue;
			}
			*pp = it->next;
			mx_pusher_item_free(it);
		}
		one->backlog = true;
		mx_log_info("pusher %" PRId64 " of %s: more than %d notifications waiting: reading"
			    " them back from the database as it goes",
			    one->id, one->user_id, MX_PUSHER_QUEUE_MAX);
		return false;
	}
	struct mx_pusher_item *it = mx_xcalloc(1, sizeof(*it));
	it->nid = r->event_nid;
	it->room_id = mx_xstrdup(r->room_id);
	it->event_id = mx_xstrdup(r->event_id);
	const json_t *mine = json_object_get(other, one->localpart);
	if (json_is_array(mine))
		it->actions = json_dumps(mine, JSON_COMPACT);
	if (!it->actions)
		it->actions = mx_xstrdup(r->actions ? r->actions : "[]");
	/* In nid order: at the end but for a row that came late (never
	 * before the head being sent). */
	struct mx_pusher_item **pp = &one->head;
	if (one->tail && one->tail->nid < it->nid)
		pp = &one->tail->next;
	else if (one->head && one->busy)
		pp = &one->head->next;
	while (*pp && (*pp)->nid < it->nid)
		pp = &(*pp)->next;
	it->next = *pp;
	*pp = it;
	if (!it->next)
		one->tail = it;
	one->n_items++;
	return true;
}

/* The rows push's listener queues (mx_push_rows_fn), on the sending thread. */
static void mx_pusher_on_rows(void *ctx, const struct mx_store_push_row *rows, size_t n)
{
	struct mx_pusher *p = ctx;
	bool wake = false;
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < n && p->n_pushers; i++) {
		const struct mx_store_push_row *r = &rows[i];
		json_t *other = NULL;
		bool other_read = false;
		/* r->notify: SEP localpart SEP localpart ... SEP */
		for (const char *s = r->notify; s && *s;) {
			if (*s == MX_STORE_PUSH_SEP) {
				s++;
				continue;
			}
			const char *end = strchr(s, MX_STORE_PUSH_SEP);
			size_t len = end ? (size_t)(end - s) : strlen(s);
			char lp[MX_PUSHER_LOCALPART_MAX + 1];
			if (len <= MX_PUSHER_LOCALPART_MAX) {
				memcpy(lp, s, len);
				lp[len] = '\0';
				for (struct mx_pusher_one *one = p->buckets[mx_pusher_bucket(lp)]; one;
				     one = one->next) {
					if (strcmp(one->localpart, lp) != 0)
						continue;
					if (!other_read && r->actions_other) {
						other = json_loads(r->actions_other, 0, NULL);
						other_read = true;
					}
					wake |= mx_pusher_offer(one, r, other);
				}
			}
			s += len;
		}
		json_decref(other);
	}
	pthread_mutex_unlock(&p->lock);
	if (wake)
		curl_multi_wakeup(p->multi);
}

/* ---- the delivery thread ---- */

/* Record that one is done with nid (sent or given up): pop it, move the position. */
static void mx_pusher_done_with(struct mx_pusher *p, struct mx_pusher_one *one, int64_t nid)
{
	pthread_mutex_lock(&p->lock);
	struct mx_pusher_item *it = one->head;
	if (it && it->nid == nid) {
		one->head = it->next;
		if (!one->head)
			one->tail = NULL;
		one->n_items--;
		mx_pusher_item_free(it);
	}
	bool moved = nid > one->pos;
	if (moved)
		one->pos = nid;
	pthread_mutex_unlock(&p->lock);
	if (!moved)
		return;
	if (one->pos_gen == p->pos_gen) {
		p->pos[one->pos_idx].last_nid = nid;
		return;
	}
	if (p->n_pos == p->cap_pos) {
		p->cap_pos = p->cap_pos ? p->cap_pos * 2 : 16;
		p->pos = mx_xrealloc(p->pos, p->cap_pos * sizeof(*p->pos));
	}
	if (!p->n_pos)
		p->pos_since_ms = mx_clock_mono_ms();
	one->pos_gen = p->pos_gen;
	one->pos_idx = p->n_pos;
	p->pos[p->n_pos++] = (struct mx_store_pusher_pos){one->id, nid};
}

/*
 * Write the positions gathered (one async write job) once the oldest has
 * waited MX_PUSHER_POS_FLUSH_MS, or now if force. Under load a pusher
 * moves many times in that while and its row is written once; the price
 * is that a crash (not a clean stop, which forces) may send the last
 * quarter second's notifications again. Returns the ms until the next
 * write is due (MX_PUSHER_TICK_MS when none is).
 */
static int64_t mx_pusher_flush_positions(struct mx_pusher *p, bool force)
{
	if (!p->n_pos)
		return MX_PUSHER_TICK_MS;
	int64_t left = p->pos_since_ms + MX_PUSHER_POS_FLUSH_MS - mx_clock_mono_ms();
	if (!force && left > 0)
		return left;
	mx_store_pushers_advance(p->srv->db, p->pos, p->n_pos);
	p->pos = NULL;
	p->n_pos = p->cap_pos = 0;
	p->pos_gen++;
	return MX_PUSHER_TICK_MS;
}

static int mx_pusher_item_cmp(const void *x, const void *y)
{
	const struct mx_pusher_item *a = *(struct mx_pusher_item *const *)x;
	const struct mx_pusher_item *b = *(struct mx_pusher_item *const *)y;
	return a->nid < b->nid ? -1 : a->nid > b->nid ? 1 : 0;
}

/*
 * Read one's unread notifications after its position from the database
 * and merge them into its queue (which holds only what the sink added
 * since backlog was cleared: the queue was empty and nothing in flight).
 */
static void mx_pusher_reload(struct mx_pusher *p, struct mx_pusher_one *one)
{
	pthread_mutex_lock(&p->lock);
	one->backlog = false; /* from now on the sink queues new rows */
	pthread_mutex_unlock(&p->lock);
	/* Rows the sink passed over may still wait in push's queue: have
	 * them stored, so that the read below finds them. */
	mx_push_flush_user(p->srv->push, one->user_id, NULL);

	struct mx_arena a;
	mx_arena_init(&a);
	struct mx_store_pusher_notif *v = NULL;
	size_t n = 0;
	int rc = mx_store_pusher_pending(p->w.rconn, &a, one->user_id, one->pos, MX_PUSHER_RELOAD,
					 &v, &n);
	pthread_mutex_lock(&p->lock);
	if (rc) {
		mx_log_warn("pusher %" PRId64 ": reading pending notifications: %s", one->id,
			    mx_error_message(rc));
		one->backlog = true;
		one->due_ms = mx_clock_mono_ms() + MX_PUSHER_BACKOFF_FIRST_MS;
		goto out;
	}
	if (one->removed || !n)
		goto out;
	size_t total = one->n_items + n, k = 0;
	struct mx_pusher_item **all = mx_xmalloc(total * sizeof(*all));
	for (struct mx_pusher_item *it = one->head; it; it = it->next)
		all[k++] = it;
	for (size_t i = 0; i < n; i++) {
		struct mx_pusher_item *it = mx_xcalloc(1, sizeof(*it));
		it->nid = v[i].event_nid;
		it->room_id = mx_xstrdup(v[i].room_id);
		it->event_id = mx_xstrdup(v[i].event_id);
		it->actions = mx_xstrdup(v[i].actions);
		all[k++] = it;
	}
	qsort(all, total, sizeof(*all), mx_pusher_item_cmp);
	int64_t last = v[n - 1].event_nid;
	/* A full read may have left more behind: what the sink queued past
	 * it comes back with the next read, in order. */
	bool more = n == MX_PUSHER_RELOAD;
	one->head = one->tail = NULL;
	one->n_items = 0;
	int64_t prev = INT64_MIN;
	for (size_t i = 0; i < total; i++) {
		struct mx_pusher_item *it = all[i];
		/* the same row from the sink and from the read: keep one */
		if (it->nid == prev || (more && it->nid > last)) {
			mx_pusher_item_free(it);
			continue;
		}
		prev = it->nid;
		it->next = NULL;
		if (one->tail)
			one->tail->next = it;
		else
			one->head = it;
		one->tail = it;
		one->n_items++;
	}
	free(all);
	if (more)
		one->backlog = true;
out:
	pthread_mutex_unlock(&p->lock);
	mx_arena_release(&a);
}

static size_t mx_pusher_write(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	struct mx_pusher_xfer *x = ctx;
	size_t len = size * nmemb;
	return mx_buf_append(&x->resp, ptr, len) ? 0 : len;
}

static void mx_pusher_xfer_free(struct mx_pusher_xfer *x)
{
	if (x->h)
		curl_easy_cleanup(x->h);
	curl_slist_free_all(x->hdrs);
	free(x->body);
	free(x->pushkey);
	mx_buf_release(&x->resp);
	free(x);
}

/* A state event's content field as a string, or NULL (json in a). */
static const char *mx_pusher_state_str(struct mx_pusher *p, struct mx_arena *a, const char *room_id,
				       const char *type, const char *state_key, const char *field)
{
	json_t *ev = NULL;
	if (mx_room_state_get(p->srv->rooms, &p->w, a, room_id, type, state_key, &ev, NULL) || !ev)
		return NULL;
	const char *s = json_string_value(json_object_get(json_object_get(ev, "content"), field));
	return s && *s ? s : NULL;
}

/* A member's display name, or their id. */
static const char *mx_pusher_member_name(struct mx_pusher *p, struct mx_arena *a,
					 const char *room_id, const char *user_id)
{
	const char *dn = mx_pusher_state_str(p, a, room_id, "m.room.member", user_id, "displayname");
	return dn ? dn : user_id;
}

/*
 * The room's name as Synapse names it in pushes: m.room.name, else the
 * canonical alias, else the other joined members ("Bob", "Bob and
 * Carol", "Bob and 3 others"); NULL when the user is alone.
 */
static const char *mx_pusher_room_name(struct mx_pusher *p, struct mx_arena *a, const char *room_id,
				       const char *user_id, const char *alias)
{
	const char *name = mx_pusher_state_str(p, a, room_id, "m.room.name", "", "name");
	if (name)
		return name;
	if (alias)
		return alias;
	const char **members = NULL;
	size_t n = 0;
	if (mx_room_members(p->srv->rooms, &p->w, a, room_id, "join", &members, &n))
		return NULL;
	const char *others[2];
	size_t k = 0, n_others = 0;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(members[i], user_id))
			continue;
		if (k < 2)
			others[k++] = members[i];
		n_others++;
	}
	if (!n_others)
		return NULL;
	const char *first = mx_pusher_member_name(p, a, room_id, others[0]);
	if (n_others == 1)
		return first;
	if (n_others == 2)
		return mx_arena_printf(a, "%s and %s", first,
				       mx_pusher_member_name(p, a, room_id, others[1]));
	return mx_arena_printf(a, "%s and %zu others", first, n_others - 1);
}

enum mx_pusher_start_result {
	MX_PUSHER_STARTED,
	MX_PUSHER_SKIPPED, /* the head was dropped (read, gone): go on at once */
	MX_PUSHER_LATER,   /* nothing to do now */
};

/*
 * Send one's head notification: read the pusher's row and the event,
 * build the body, start the request. The head stays queued until the
 * answer comes.
 */
static enum mx_pusher_start_result mx_pusher_start(struct mx_pusher *p, struct mx_pusher_one *one)
{
	struct mx_arena a;
	mx_arena_init(&a);
	enum mx_pusher_start_result res = MX_PUSHER_LATER;
	struct mx_pusher_xfer *x = NULL;
	json_t *pdu = NULL, *data = NULL, *actions = NULL, *body = NULL;

	/* busy from here: the sink keeps the head if the queue overflows */
	pthread_mutex_lock(&p->lock);
	struct mx_pusher_item *it = one->head;
	int64_t nid = it->nid;
	const char *room_id = mx_arena_strdup(&a, it->room_id);
	const char *event_id = mx_arena_strdup(&a, it->event_id);
	const char *actions_text = mx_arena_strdup(&a, it->actions);
	one->busy = true;
	pthread_mutex_unlock(&p->lock);

	struct mx_store_pusher row;
	int rc = mx_store_pusher_get(p->w.rconn, &a, one->id, &row);
	if (rc == MX_ENOTFOUND || (!rc && strcmp(row.kind, "http") != 0)) {
		mx_log_info("pusher %" PRId64 " of %s is gone: stopping it", one->id, one->user_id);
		pthread_mutex_lock(&p->lock);
		one->removed = true;
		pthread_mutex_unlock(&p->lock);
		goto out;
	}
	if (rc) {
		mx_log_warn("pusher %" PRId64 ": reading it: %s", one->id, mx_error_message(rc));
		pthread_mutex_lock(&p->lock);
		one->due_ms = mx_clock_mono_ms() + MX_PUSHER_BACKOFF_FIRST_MS;
		pthread_mutex_unlock(&p->lock);
		goto out;
	}
	/* Synapse pushes unread notifications only: the user may have read
	 * this one on another device while it waited. */
	if (nid <= mx_store_receipt_read_nid(p->w.rconn, room_id, one->user_id, NULL)) {
		mx_pusher_done_with(p, one, nid);
		res = MX_PUSHER_SKIPPED;
		goto out;
	}
	struct mx_store_event ev;
	rc = mx_store_event_get(p->w.rconn, &a, event_id, &ev);
	if (!rc && !ev.redacted_by)
		pdu = json_loads(ev.json, 0, NULL);
	if (!json_is_object(pdu)) {
		/* gone or redacted: nothing worth a push */
		mx_pusher_done_with(p, one, nid);
		res = MX_PUSHER_SKIPPED;
		goto out;
	}
	data = json_loads(row.data, 0, NULL);
	actions = json_loads(actions_text, 0, NULL);
	const char *url = json_string_value(json_object_get(data, "url"));
	if (!url) {
		mx_pusher_done_with(p, one, nid);
		res = MX_PUSHER_SKIPPED;
		goto out;
	}
	const char *format = json_string_value(json_object_get(data, "format"));
	bool id_only = format && !strcmp(format, "event_id_only");
	struct mx_pusher_notif n = {
		.event_id = event_id,
		.room_id = room_id,
		.event = pdu,
		.actions = actions,
		.user_id = one->user_id,
		.app_id = row.app_id,
		.pushkey = row.pushkey,
		.pushkey_ts_ms = row.pushkey_ts,
		.data = data,
	};
	if (!id_only) {
		n.room_alias = mx_pusher_state_str(p, &a, room_id, "m.room.canonical_alias", "", "alias");
		n.room_name = mx_pusher_room_name(p, &a, room_id, one->user_id, n.room_alias);
		n.sender_display_name = mx_pusher_state_str(p, &a, room_id, "m.room.member", ev.sender,
							    "displayname");
	}
	rc = mx_store_pusher_badge(p->w.rconn, one->user_id, room_id, &n.unread);
	if (rc)
		mx_log_warn("pusher %" PRId64 ": counting unread rooms: %s", one->id, mx_error_message(rc));
	body = mx_pusher_body(&n);

	x = mx_xcalloc(1, sizeof(*x));
	x->one = one;
	x->nid = nid;
	x->pushkey = mx_xstrdup(row.pushkey);
	x->body = json_dumps(body, JSON_COMPACT);
	x->guard = p->lists;
	x->t0_us = mx_clock_mono_us();
	mx_buf_init(&x->resp, MX_PUSHER_RESPONSE_MAX);
	x->h = curl_easy_init();
	if (!x->h || !x->body)
		MX_BUG("pusher: cannot start a request");
	x->hdrs = curl_slist_append(x->hdrs, "Content-Type: application/json");
	x->hdrs = curl_slist_append(x->hdrs, "Expect:");
	if (!x->hdrs)
		MX_BUG("curl_slist_append");
	CURL *h = x->h;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)MX_PUSHER_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)MX_PUSHER_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_USERAGENT, MX_PUSHER_USER_AGENT);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, x->body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(x->body));
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, mx_pusher_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_PRIVATE, x);
	mx_ipguard_install(&x->guard, h);
	if (curl_multi_add_handle(p->multi, h) != CURLM_OK)
		MX_BUG("curl_multi_add_handle");
	x->next = p->xfers;
	p->xfers = x;
	res = MX_PUSHER_STARTED;
out:
	if (res != MX_PUSHER_STARTED) {
		pthread_mutex_lock(&p->lock);
		one->busy = false;
		pthread_mutex_unlock(&p->lock);
	}
	json_decref(body);
	json_decref(actions);
	json_decref(data);
	json_decref(pdu);
	mx_arena_release(&a);
	return res;
}

/* The gateway's answer rejects the pushkey we sent? */
static bool mx_pusher_rejected(const struct mx_pusher_xfer *x)
{
	json_t *v = x->resp.data ? json_loads(x->resp.data, 0, NULL) : NULL;
	bool rejected = false;
	size_t i;
	json_t *k;
	json_array_foreach (json_object_get(v, "rejected"), i, k) {
		const char *s = json_string_value(k);
		/* As Synapse: only the pushkey this request carried counts. */
		if (s && !strcmp(s, x->pushkey))
			rejected = true;
	}
	json_decref(v);
	return rejected;
}

/* A request ended: move on, or back off. */
static void mx_pusher_finish(struct mx_pusher *p, struct mx_pusher_xfer *x, CURLcode cc)
{
	struct mx_pusher_one *one = x->one;
	long status = 0;
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
	int64_t ms = (mx_clock_mono_us() - x->t0_us) / 1000;
	enum mx_pusher_outcome o = mx_pusher_outcome_of(cc == CURLE_OK, status);
	int64_t now = mx_clock_mono_ms();
	bool removed = false;
	switch (o) {
	case MX_PUSHER_SENT:
		mx_log_debug("pusher %" PRId64 ": notified %s of nid %" PRId64 " (%ld, %" PRId64 " ms)",
			     one->id, one->user_id, x->nid, status, ms);
		mx_pusher_backoff_reset(&one->backoff);
		mx_pusher_done_with(p, one, x->nid);
		if (mx_pusher_rejected(x)) {
			/* SPEC push-gateway-api: "Homeservers must cease sending
			 * notification requests for these pushkeys and remove the
			 * associated pushers". */
			mx_log_info("pusher %" PRId64 " of %s: the gateway rejected its pushkey: removing it",
				    one->id, one->user_id);
			int rc = mx_store_pusher_delete_id(p->srv->db, one->id);
			if (rc)
				mx_log_warn("pusher %" PRId64 ": deleting it: %s", one->id,
					    mx_error_message(rc));
			removed = true;
		}
		break;
	case MX_PUSHER_DROP:
		mx_log_warn("pusher %" PRId64 " of %s: the gateway answered %ld: dropping the"
			    " notification of nid %" PRId64,
			    one->id, one->user_id, status, x->nid);
		mx_pusher_backoff_reset(&one->backoff);
		mx_pusher_done_with(p, one, x->nid);
		break;
	case MX_PUSHER_RETRY: {
		int64_t wait = 0;
		const char *why = x->guard.blocked ? "address blocked by ip_range_blacklist"
				  : cc != CURLE_OK  ? curl_easy_strerror(cc)
						    : "server error";
		if (mx_pusher_backoff_failed(&one->backoff, now, &wait)) {
			mx_log_info("pusher %" PRId64 " of %s: push failed (%ld, %s): retrying in %" PRId64
				    " ms",
				    one->id, one->user_id, status, why, wait);
		} else {
			mx_log_warn("pusher %" PRId64 " of %s: failing for a day (%s): giving up on the"
				    " notification of nid %" PRId64,
				    one->id, one->user_id, why, x->nid);
			mx_pusher_done_with(p, one, x->nid);
		}
		pthread_mutex_lock(&p->lock);
		one->due_ms = now + wait;
		pthread_mutex_unlock(&p->lock);
		break;
	}
	}
	pthread_mutex_lock(&p->lock);
	one->busy = false;
	if (removed)
		one->removed = true;
	pthread_mutex_unlock(&p->lock);
}

/* Collect finished transfers and handle them; returns how many. */
static size_t mx_pusher_collect(struct mx_pusher *p)
{
	CURLMsg *m;
	int left;
	size_t n = 0;
	while ((m = curl_multi_info_read(p->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		char *priv = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		struct mx_pusher_xfer *x = (struct mx_pusher_xfer *)priv;
		CURLcode cc = m->data.result;
		curl_multi_remove_handle(p->multi, x->h);
		for (struct mx_pusher_xfer **pp = &p->xfers; *pp; pp = &(*pp)->next)
			if (*pp == x) {
				*pp = x->next;
				break;
			}
		mx_pusher_finish(p, x, cc);
		mx_pusher_xfer_free(x);
		n++;
	}
	return n;
}

static void mx_pusher_work_add(struct mx_pusher *p, struct mx_pusher_one *one)
{
	if (p->n_work == p->cap_work) {
		p->cap_work = p->cap_work ? p->cap_work * 2 : 64;
		p->work = mx_xrealloc(p->work, p->cap_work * sizeof(*p->work));
	}
	p->work[p->n_work++] = one;
}

/*
 * One round: free removed pushers, pick those with work (p->lock held).
 * Returns how long the thread may sleep after it, in ms.
 */
static int64_t mx_pusher_pick(struct mx_pusher *p, int64_t now)
{
	int64_t sleep = MX_PUSHER_TICK_MS;
	p->n_work = 0;
	for (size_t b = 0; b < MX_PUSHER_BUCKETS; b++) {
		for (struct mx_pusher_one **pp = &p->buckets[b]; *pp;) {
			struct mx_pusher_one *one = *pp;
			if (one->removed && !one->busy) {
				*pp = one->next;
				p->n_pushers--;
				mx_pusher_one_free(one);
				continue;
			}
			pp = &one->next;
			if (one->busy || one->removed)
				continue;
			if (one->kick) {
				one->kick = false;
				one->due_ms = 0;
				mx_pusher_backoff_reset(&one->backoff);
			}
			if (!one->n_items && !one->backlog)
				continue;
			if (one->due_ms > now) {
				if (one->due_ms - now < sleep)
					sleep = one->due_ms - now;
				continue;
			}
			mx_pusher_work_add(p, one);
		}
	}
	return sleep;
}

static void *mx_pusher_thread(void *arg)
{
	struct mx_pusher *p = arg;
	for (;;) {
		int64_t now = mx_clock_mono_ms();
		pthread_mutex_lock(&p->lock);
		bool stop = p->stop;
		int64_t sleep = stop ? 0 : mx_pusher_pick(p, now);
		pthread_mutex_unlock(&p->lock);
		if (stop)
			break;
		for (size_t i = 0; i < p->n_work; i++) {
			struct mx_pusher_one *one = p->work[i];
			pthread_mutex_lock(&p->lock);
			bool empty = !one->n_items, backlog = one->backlog;
			pthread_mutex_unlock(&p->lock);
			if (empty && backlog) {
				mx_pusher_reload(p, one);
				sleep = 0; /* serve what it read */
			} else if (!empty && mx_pusher_start(p, one) == MX_PUSHER_SKIPPED) {
				sleep = 0;
			}
		}
		int running = 0;
		curl_multi_perform(p->multi, &running);
		if (mx_pusher_collect(p))
			sleep = 0; /* their pushers may have more to send */
		int64_t pos_due = mx_pusher_flush_positions(p, false);
		if (pos_due < sleep)
			sleep = pos_due;
		curl_multi_poll(p->multi, NULL, 0, (int)sleep, NULL);
		curl_multi_perform(p->multi, &running);
		mx_pusher_collect(p);
	}
	/* Abandon what is in flight: not acknowledged, so sent again next time. */
	while (p->xfers) {
		struct mx_pusher_xfer *x = p->xfers;
		p->xfers = x->next;
		curl_multi_remove_handle(p->multi, x->h);
		mx_pusher_xfer_free(x);
	}
	mx_pusher_flush_positions(p, true);
	return NULL;
}

/* ---- lifecycle ---- */

struct mx_pusher *mx_pusher_new(struct mx_server *srv)
{
	struct mx_pusher *p = mx_xcalloc(1, sizeof(*p));
	p->srv = srv;
	pthread_mutex_init(&p->lock, NULL);
	p->pos_gen = 1; /* pushers start at 0: none has a position waiting */
	p->w.srv = srv;
	if (mx_db_conn_open(srv->db, &p->w.rconn))
		MX_BUG("pusher: cannot open a database connection");
	/* As Synapse's pushers: ip_range_blacklist less ip_range_whitelist. */
	const struct mx_config *cfg = srv->cfg;
	p->lists = (struct mx_ipguard){
		.block = cfg->ip_range_blacklist,
		.n_block = cfg->n_ip_range_blacklist,
		.allow = cfg->ip_range_whitelist,
		.n_allow = cfg->n_ip_range_whitelist,
	};
	p->multi = curl_multi_init();
	if (!p->multi)
		MX_BUG("curl_multi_init");

	struct mx_arena a;
	mx_arena_init(&a);
	struct mx_store_pusher *v;
	size_t n = 0;
	int rc = mx_store_pushers_list(p->w.rconn, &a, NULL, &v, &n);
	if (rc)
		mx_log_error("pusher: cannot load the pushers: %s", mx_error_message(rc));
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].kind, "http"))
			mx_pusher_insert(p, v[i].id, v[i].user_id, v[i].last_nid);
	mx_arena_release(&a);
	if (p->n_pushers)
		mx_log_info("pusher: %zu pushers, resuming their pending notifications", p->n_pushers);

	if (pthread_create(&p->thread, NULL, mx_pusher_thread, p))
		MX_BUG("pusher: cannot start the delivery thread");
	mx_push_set_rows_listener(srv->push, mx_pusher_on_rows, p);
	return p;
}

void mx_pusher_free(struct mx_pusher *p)
{
	if (!p)
		return;
	mx_push_set_rows_listener(p->srv->push, NULL, NULL);
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_mutex_unlock(&p->lock);
	curl_multi_wakeup(p->multi);
	pthread_join(p->thread, NULL);
	for (size_t b = 0; b < MX_PUSHER_BUCKETS; b++)
		for (struct mx_pusher_one *one = p->buckets[b], *next; one; one = next) {
			next = one->next;
			mx_pusher_one_free(one);
		}
	curl_multi_cleanup(p->multi);
	mx_db_conn_close(p->w.rconn);
	free(p->pos);
	free(p->work);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
