/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The job pool: a mutex-protected FIFO of {fn, arg} and n threads taking
 * from it. Jobs are few and slow (network round trips), so one lock and a
 * linked list are enough; nothing here is on a per-event hot path.
 */
#include "core/jobs.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "core/mem.h"

struct mx_job {
	struct mx_job *next;
	mx_job_fn fn;
	void *arg;
};

struct mx_jobs {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct mx_job *head, *tail;
	size_t pending;
	bool stopping;
	unsigned n_threads;
	pthread_t *threads;
};

static void *mx_jobs_main(void *p)
{
	struct mx_jobs *j = p;
	pthread_mutex_lock(&j->lock);
	for (;;) {
		while (!j->head && !j->stopping)
			pthread_cond_wait(&j->cond, &j->lock);
		struct mx_job *job = j->head;
		if (!job)
			break; /* stopping and drained */
		j->head = job->next;
		if (!j->head)
			j->tail = NULL;
		j->pending--;
		pthread_mutex_unlock(&j->lock);
		job->fn(job->arg);
		free(job);
		pthread_mutex_lock(&j->lock);
	}
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

struct mx_jobs *mx_jobs_new(unsigned n)
{
	struct mx_jobs *j = mx_xcalloc(1, sizeof(*j));
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	if (n < 1)
		n = 1;
	j->threads = mx_xcalloc(n, sizeof(*j->threads));
	for (unsigned i = 0; i < n; i++) {
		if (pthread_create(&j->threads[i], NULL, mx_jobs_main, j) != 0)
			MX_BUG("cannot start a job thread");
		j->n_threads++;
	}
	return j;
}

void mx_jobs_stop(struct mx_jobs *j)
{
	pthread_mutex_lock(&j->lock);
	bool was = j->stopping;
	j->stopping = true;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
	if (was)
		return;
	for (unsigned i = 0; i < j->n_threads; i++)
		pthread_join(j->threads[i], NULL);
}

void mx_jobs_free(struct mx_jobs *j)
{
	if (!j)
		return;
	mx_jobs_stop(j);
	free(j->threads);
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->lock);
	free(j);
}

void mx_jobs_submit(struct mx_jobs *j, mx_job_fn fn, void *arg)
{
	pthread_mutex_lock(&j->lock);
	if (j->stopping) {
		/* The threads may be gone: nobody else would ever run it. */
		pthread_mutex_unlock(&j->lock);
		fn(arg);
		return;
	}
	struct mx_job *job = mx_xmalloc(sizeof(*job));
	job->next = NULL;
	job->fn = fn;
	job->arg = arg;
	if (j->tail)
		j->tail->next = job;
	else
		j->head = job;
	j->tail = job;
	j->pending++;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

size_t mx_jobs_pending(struct mx_jobs *j)
{
	pthread_mutex_lock(&j->lock);
	size_t n = j->pending;
	pthread_mutex_unlock(&j->lock);
	return n;
}
