/* SPDX-License-Identifier: Apache-2.0 */
/* The job pool: every job runs exactly once, FIFO on one thread, all
 * queued jobs run before mx_jobs_free returns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <unistd.h>

#include "core/jobs.h"

struct order {
	int seen[100];
	int n;
};

struct step {
	struct order *o;
	int i;
};

static void record(void *arg)
{
	struct step *s = arg;
	s->o->seen[s->o->n++] = s->i; /* one thread: no race */
}

static void test_fifo_on_one_thread(void **state)
{
	struct order o = {0};
	struct step steps[100];
	struct mx_jobs *j = mx_jobs_new(1);
	for (int i = 0; i < 100; i++) {
		steps[i] = (struct step){&o, i};
		mx_jobs_submit(j, record, &steps[i]);
	}
	mx_jobs_free(j);
	assert_int_equal(o.n, 100);
	for (int i = 0; i < 100; i++)
		assert_int_equal(o.seen[i], i);
}

static atomic_int counter;

static void bump(void *arg)
{
	(void)arg;
	usleep(100);
	atomic_fetch_add(&counter, 1);
}

static void test_all_jobs_run_before_free(void **state)
{
	atomic_store(&counter, 0);
	struct mx_jobs *j = mx_jobs_new(4);
	for (int i = 0; i < 1000; i++)
		mx_jobs_submit(j, bump, NULL);
	mx_jobs_free(j);
	assert_int_equal(atomic_load(&counter), 1000);
}

static void test_after_stop_runs_inline(void **state)
{
	atomic_store(&counter, 0);
	struct mx_jobs *j = mx_jobs_new(2);
	assert_int_equal(mx_jobs_pending(j), 0);
	mx_jobs_stop(j);
	mx_jobs_submit(j, bump, NULL); /* no thread left: runs here */
	assert_int_equal(atomic_load(&counter), 1);
	mx_jobs_stop(j);
	mx_jobs_free(j);
	mx_jobs_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_on_one_thread),
		cmocka_unit_test(test_all_jobs_run_before_free),
		cmocka_unit_test(test_after_stop_runs_inline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
