/* SPDX-License-Identifier: Apache-2.0 */
/* Pushing events to application services. See sender.h. */
#include "appservice/sender.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "appservice/registration.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/server.h"
#include "db/db.h"
#include "room/room.h"
#include "store/appservice.h"

#define MX_AS_CONNECT_TIMEOUT_MS 10000
#define MX_AS_TIMEOUT_MS 60000
#define MX_AS_RESPONSE_MAX 65536
#define MX_AS_POLL_MS 1000

struct mx_as_thread {
	struct mx_as_sender *s;
	const struct mx_appservice *as;
	pthread_t thread;
	struct mx_db_conn *rconn;
	bool started;
};

struct mx_as_sender {
	struct mx_server *srv;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	uint64_t gen; /* bumped by every persisted event */
	struct mx_as_thread *t;
	size_t n;
};

int64_t mx_as_backoff_next(int64_t prev_ms)
{
	if (prev_ms <= 0)
		return MX_AS_BACKOFF_FIRST_MS;
	return prev_ms >= MX_AS_BACKOFF_MAX_MS / 2 ? MX_AS_BACKOFF_MAX_MS : prev_ms * 2;
}

/* ---- one request ---- */

struct mx_as_resp {
	char *data;
	size_t len;
};

static size_t mx_as_write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct mx_as_resp *r = ud;
	size_t n = size * nmemb;
	if (r->len + n > MX_AS_RESPONSE_MAX)
		return 0;
	r->data = mx_xrealloc(r->data, r->len + n + 1);
	memcpy(r->data + r->len, ptr, n);
	r->len += n;
	r->data[r->len] = '\0';
	return n;
}

int mx_as_request(const struct mx_appservice *as, const char *method, const char *path,
		  const char *body, long timeout_ms, long *status, char **body_out,
		  bool *timed_out)
{
	*status = 0;
	*timed_out = false;
	if (body_out)
		*body_out = NULL;
	size_t ulen = strlen(as->url);
	while (ulen && as->url[ulen - 1] == '/')
		ulen--;
	char *url = mx_xasprintf("%.*s%s", (int)ulen, as->url, path);
	char *auth = mx_xasprintf("Authorization: Bearer %s", as->hs_token);
	struct curl_slist *hdrs = curl_slist_append(NULL, auth);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	struct mx_as_resp resp = {0};
	CURL *h = curl_easy_init();
	if (!h || !hdrs)
		MX_BUG("curl_easy_init");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "{}");
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)MX_AS_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "Myelin/" MX_VERSION);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, mx_as_write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
	CURLcode cc = curl_easy_perform(h);
	int rc = 0;
	if (cc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
		if (body_out) {
			*body_out = resp.data;
			resp.data = NULL;
		}
	} else {
		*timed_out = cc == CURLE_OPERATION_TIMEDOUT;
		rc = MX_EREMOTE;
	}
	free(resp.data);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	free(auth);
	free(url);
	return rc;
}

/* ---- interest ---- */

struct mx_as_room_seen {
	const char *room_id;
	bool interested;
};

static bool mx_as_user_match(const struct mx_appservice *as, const char *user_id)
{
	return user_id && (!strcmp(user_id, as->sender) ||
			   mx_as_namespaces_match(&as->users, user_id, false));
}

/* Whether the AS wants events of room_id (its id, aliases, joined members). */
static bool mx_as_room_interest(struct mx_as_thread *t, struct mx_arena *a, const char *room_id)
{
	const struct mx_appservice *as = t->as;
	if (mx_as_namespaces_match(&as->rooms, room_id, false))
		return true;
	const char **v;
	size_t n;
	if (as->aliases.n && !mx_store_as_room_aliases(t->rconn, a, room_id, &v, &n))
		for (size_t i = 0; i < n; i++)
			if (mx_as_namespaces_match(&as->aliases, v[i], false))
				return true;
	if (!mx_store_as_room_members(t->rconn, a, room_id, &v, &n))
		for (size_t i = 0; i < n; i++)
			if (mx_as_user_match(as, v[i]))
				return true;
	return false;
}

/* The event as clients see it (new reference), or NULL if its JSON is bad. */
static json_t *mx_as_client_event(const struct mx_store_as_event *e)
{
	json_t *pdu = json_loads(e->json, 0, NULL);
	if (!json_is_object(pdu)) {
		json_decref(pdu);
		return NULL;
	}
	json_t *out = json_object();
	json_object_set_new(out, "event_id", json_string(e->event_id));
	json_object_set_new(out, "room_id", json_string(e->room_id));
	json_object_set_new(out, "sender", json_string(e->sender));
	json_object_set_new(out, "type", json_string(e->type));
	if (e->state_key)
		json_object_set_new(out, "state_key", json_string(e->state_key));
	static const char *const keep[] = {"content", "origin_server_ts", "unsigned", "redacts"};
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		json_t *v = json_object_get(pdu, keep[i]);
		if (v)
			json_object_set(out, keep[i], v);
	}
	if (!json_object_get(out, "content"))
		json_object_set_new(out, "content", json_object());
	json_decref(pdu);
	return out;
}

/*
 * The next transaction after st->last_nid: *body (arena) is NULL when the
 * events read were all uninteresting; *upto is the newest nid read.
 * Returns 0 or a database error.
 */
static int mx_as_build(struct mx_as_thread *t, struct mx_arena *a, int64_t after, int64_t max,
		       const char **body, int64_t *upto)
{
	struct mx_store_as_event *ev;
	size_t n;
	*body = NULL;
	*upto = max;
	int rc = mx_store_as_events(t->rconn, a, after, max, MX_AS_TXN_EVENTS, &ev, &n);
	if (rc)
		return rc;
	if (n == MX_AS_TXN_EVENTS)
		*upto = ev[n - 1].nid;
	struct mx_as_room_seen *seen = mx_arena_alloc(a, (n ? n : 1) * sizeof(*seen));
	size_t n_seen = 0;
	json_t *events = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct mx_store_as_event *e = &ev[i];
		bool want = mx_as_user_match(t->as, e->sender) ||
			    (e->state_key && !strcmp(e->type, "m.room.member") &&
			     mx_as_user_match(t->as, e->state_key));
		if (!want) {
			size_t j = 0;
			while (j < n_seen && strcmp(seen[j].room_id, e->room_id) != 0)
				j++;
			if (j == n_seen) {
				seen[j].room_id = e->room_id;
				seen[j].interested = mx_as_room_interest(t, a, e->room_id);
				n_seen++;
			}
			want = seen[j].interested;
		}
		json_t *ce = want ? mx_as_client_event(e) : NULL;
		if (ce)
			json_array_append_new(events, ce);
	}
	if (json_array_size(events)) {
		json_t *o = json_pack("{s:o}", "events", events);
		char *text = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		if (!text)
			MX_BUG("json_dumps");
		*body = mx_arena_strdup(a, text);
		free(text);
	} else {
		json_decref(events);
	}
	return 0;
}

/* ---- the threads ---- */

/* Wait until an event is persisted, timeout_ms passes or the sender stops. */
static bool mx_as_wait(struct mx_as_sender *s, uint64_t *seen_gen, int64_t timeout_ms,
		       bool any_event)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->lock);
	while (!s->stop && (!any_event || s->gen == *seen_gen))
		if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) == ETIMEDOUT)
			break;
	*seen_gen = s->gen;
	bool stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return !stop;
}

static bool mx_as_stopping(struct mx_as_sender *s)
{
	pthread_mutex_lock(&s->lock);
	bool stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

static void *mx_as_thread_main(void *arg)
{
	struct mx_as_thread *t = arg;
	struct mx_as_sender *s = t->s;
	struct mx_db *db = s->srv->db;
	const struct mx_appservice *as = t->as;
	struct mx_arena a;
	struct mx_store_as_state st = {0};
	uint64_t gen = 0;
	int64_t backoff = 0;
	mx_arena_init(&a);
	int rc = mx_store_as_state_get(t->rconn, &a, as->id, &st);
	if (rc == MX_ENOTFOUND) {
		/* A new registration starts at the present, as in Synapse. */
		st.last_nid = mx_store_as_max_nid(t->rconn);
		st.next_txn = 1;
		rc = mx_store_as_state_put(db, as->id, &st);
	}
	if (rc) {
		mx_log_error("appservice %s: cannot read its stream position (%d)", as->id, rc);
		goto out;
	}
	/* The pending body lives in a heap copy across arena resets. */
	char *pending = st.pending_txn ? mx_xstrdup(st.pending_body) : NULL;
	while (!mx_as_stopping(s)) {
		mx_arena_release(&a);
		mx_arena_init(&a);
		if (!pending) {
			int64_t max = mx_store_as_max_nid(t->rconn);
			if (max <= st.last_nid) {
				if (!mx_as_wait(s, &gen, MX_AS_POLL_MS, true))
					break;
				continue;
			}
			const char *body;
			int64_t upto;
			rc = mx_as_build(t, &a, st.last_nid, max, &body, &upto);
			if (rc) {
				mx_as_wait(s, &gen, MX_AS_POLL_MS, false);
				continue;
			}
			struct mx_store_as_state next = st;
			if (body) {
				next.pending_txn = st.next_txn;
				next.pending_upto = upto;
				next.pending_body = body;
			} else {
				next.last_nid = upto;
			}
			if (mx_store_as_state_put(db, as->id, &next)) {
				mx_as_wait(s, &gen, MX_AS_POLL_MS, false);
				continue;
			}
			st = next;
			st.pending_body = NULL;
			if (!body)
				continue;
			pending = mx_xstrdup(body);
		}
		char path[96];
		snprintf(path, sizeof(path), "/_matrix/app/v1/transactions/%" PRId64, st.pending_txn);
		long status;
		bool timed_out;
		rc = mx_as_request(as, "PUT", path, pending, MX_AS_TIMEOUT_MS, &status, NULL,
				   &timed_out);
		if (!rc && status >= 200 && status < 300) {
			struct mx_store_as_state next = {.last_nid = st.pending_upto,
							 .next_txn = st.pending_txn + 1};
			if (!mx_store_as_state_put(db, as->id, &next)) {
				st = next;
				free(pending);
				pending = NULL;
				backoff = 0;
				continue;
			}
		}
		backoff = mx_as_backoff_next(backoff);
		mx_log_warn("appservice %s: transaction %" PRId64 " failed (%s %ld); retrying in %" PRId64
			    " ms",
			    as->id, st.pending_txn, rc ? "no answer" : "status", status, backoff);
		if (!mx_as_wait(s, &gen, backoff, false))
			break;
	}
	free(pending);
out:
	mx_arena_release(&a);
	return NULL;
}

struct mx_as_sender *mx_as_sender_new(struct mx_server *srv)
{
	struct mx_as_sender *s = mx_xcalloc(1, sizeof(*s));
	s->srv = srv;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	const struct mx_appservices *set = srv->appservices;
	size_t n = set ? set->n : 0;
	s->t = mx_xcalloc(n ? n : 1, sizeof(*s->t));
	for (size_t i = 0; i < n; i++) {
		if (!set->v[i].url)
			continue;
		struct mx_as_thread *t = &s->t[s->n++];
		t->s = s;
		t->as = &set->v[i];
		if (mx_db_conn_open(srv->db, &t->rconn))
			MX_BUG("appservice sender: cannot open a read connection");
		if (pthread_create(&t->thread, NULL, mx_as_thread_main, t))
			MX_BUG("appservice sender: pthread_create");
		t->started = true;
	}
	return s;
}

void mx_as_sender_free(struct mx_as_sender *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < s->n; i++) {
		if (s->t[i].started)
			pthread_join(s->t[i].thread, NULL);
		mx_db_conn_close(s->t[i].rconn);
	}
	free(s->t);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void mx_as_sender_on_room_event(void *ctx, const struct mx_room_event *ev)
{
	struct mx_as_sender *s = ctx;
	(void)ev;
	pthread_mutex_lock(&s->lock);
	s->gen++;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}
