/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fan-outs (fanout.h). The wake-up goes through the notifier under one of
 * a few fixed keys, chosen by the fan-out's address: the notifier keeps
 * an entry per key for good, so a key per fan-out would grow without end.
 * A request woken for another fan-out of the same key finds its own tasks
 * still running and parks again; lost wake-ups are avoided as for /sync,
 * by reading the key's sequence before looking at the tasks.
 */
#include "http/fanout.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/jobs.h"
#include "core/mem.h"
#include "http/request.h"
#include "sync/notifier.h"

#define MX_FANOUT_KEYS 16

struct mx_fanout {
	pthread_mutex_t lock;
	int refs;                  /* the request's, and one per task not yet run */
	size_t pending;            /* tasks submitted and not yet run */
	bool started;
	struct mx_server *srv;
	int64_t deadline_ms;
	struct mx_fanout_task *head, *tail;
	char key[24];              /* the notifier key it wakes */
};

static void mx_fanout_unref(struct mx_fanout *f)
{
	pthread_mutex_lock(&f->lock);
	bool last = --f->refs == 0;
	pthread_mutex_unlock(&f->lock);
	if (!last)
		return;
	for (struct mx_fanout_task *t = f->head, *next; t; t = next) {
		next = t->next;
		t->free(t);
	}
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static void mx_fanout_req_gone(void *p)
{
	mx_fanout_unref(p);
}

struct mx_fanout *mx_fanout_new(struct mx_req *req, int64_t deadline_ms)
{
	struct mx_fanout *f = mx_xcalloc(1, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	f->refs = 1;
	f->srv = req->srv;
	f->deadline_ms = deadline_ms;
	snprintf(f->key, sizeof(f->key), "fanout:%u",
		 (unsigned)(((uintptr_t)f >> 6) % MX_FANOUT_KEYS));
	mx_arena_defer(&req->arena, mx_fanout_req_gone, f);
	return f;
}

void mx_fanout_add(struct mx_fanout *f, struct mx_fanout_task *t)
{
	MX_ASSERT(!f->started);
	t->f = f;
	t->next = NULL;
	t->done = false;
	if (f->tail)
		f->tail->next = t;
	else
		f->head = t;
	f->tail = t;
}

/* Job thread: run one task, and wake the request after the last. */
static void mx_fanout_job(void *arg)
{
	struct mx_fanout_task *t = arg;
	struct mx_fanout *f = t->f;
	t->run(t);
	pthread_mutex_lock(&f->lock);
	t->done = true;
	bool last = --f->pending == 0;
	pthread_mutex_unlock(&f->lock);
	if (last) {
		const char *key = f->key;
		mx_notifier_wake(f->srv->notifier, &key, 1);
	}
	mx_fanout_unref(f);
}

int mx_fanout_wait(struct mx_fanout *f, struct mx_req *req)
{
	struct mx_notifier *n = f->srv->notifier;
	if (!f->started) {
		f->started = true;
		size_t count = 0;
		for (struct mx_fanout_task *t = f->head; t; t = t->next)
			count++;
		/* Every reference first: a task may finish before the next is queued. */
		pthread_mutex_lock(&f->lock);
		f->refs += (int)count;
		f->pending = count;
		pthread_mutex_unlock(&f->lock);
		/* Collected before submitting: a task run inline (server stopping)
		 * could otherwise be the last reference and free the list. */
		struct mx_fanout_task **all = mx_arena_alloc(&req->arena,
							      (count ? count : 1) * sizeof(*all));
		size_t i = 0;
		for (struct mx_fanout_task *t = f->head; t; t = t->next)
			all[i++] = t;
		for (i = 0; i < count; i++)
			mx_jobs_submit(f->srv->jobs, mx_fanout_job, all[i]);
	}
	for (;;) {
		uint64_t seq = mx_notifier_seq(n, f->key);
		pthread_mutex_lock(&f->lock);
		bool all_done = f->pending == 0;
		pthread_mutex_unlock(&f->lock);
		if (all_done || mx_clock_mono_ms() >= f->deadline_ms)
			return 0;
		if (!mx_notifier_park(n, req, f->key, seq, f->deadline_ms))
			return MX_ESUSPENDED;
		/* Refused: a wake-up came in between (look again), or, when the
		 * sequence did not move, the notifier is shutting down. */
		if (mx_notifier_seq(n, f->key) == seq)
			return 0;
	}
}

bool mx_fanout_done(struct mx_fanout *f, const struct mx_fanout_task *t)
{
	pthread_mutex_lock(&f->lock);
	bool done = t->done;
	pthread_mutex_unlock(&f->lock);
	return done;
}
