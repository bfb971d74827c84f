/*
 * test_sync.c — wait groups, join and the parking mutex
 * (toc/sync.h).
 *
 * Covers: a wait group over many goroutines, with several waiters and reuse
 * across rounds; waiting on a zero wait group returns without parking;
 * sched_task_start / sched_task_join (the task's writes are visible after
 * join); a sched_mutex keeping a plain counter exact under contention, with
 * yields inside the critical section; and hand-off between many contenders,
 * some holding the mutex across a sleep so the others park, without deadlock.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "toc/chan.h"
#include "toc/sched.h"
#include "toc/sync.h"

#define MS(x) ((int64_t)(x) * 1000000)
#define US(x) ((int64_t)(x) * 1000)

/* --- wait groups ---------------------------------------------------------- */

#define WG_WORKERS 1000
#define WG_WAITERS 5

struct wg_ctx {
	struct sched_waitgroup wg;       /* the workers */
	struct sched_waitgroup waiters;  /* the waiters, for main */
	struct sched_chan *gate;         /* closed to let the workers finish */
	atomic_int done;
	atomic_int released;
	atomic_int saw_all;              /* waiters that saw every worker done */
};

static void wg_worker(void *p)
{
	struct wg_ctx *c = p;
	sched_chan_recv(c->gate, NULL);
	atomic_fetch_add(&c->done, 1);
	sched_wg_done(&c->wg);
}

static void wg_waiter(void *p)
{
	struct wg_ctx *c = p;
	sched_wg_wait(&c->wg);
	if (atomic_load(&c->done) == WG_WORKERS)
		atomic_fetch_add(&c->saw_all, 1);
	atomic_fetch_add(&c->released, 1);
	sched_wg_done(&c->waiters);
}

static void wg_body(void *p)
{
	struct wg_ctx *c = p;
	c->gate = sched_chan_new(0, 0);
	/* Half added up front, half one by one. */
	sched_wg_add(&c->wg, WG_WORKERS / 2);
	for (int i = 0; i < WG_WORKERS; i++) {
		if (i >= WG_WORKERS / 2)
			sched_wg_add(&c->wg, 1);
		TCHECK(sched_go(wg_worker, c) != 0);
	}
	sched_wg_add(&c->waiters, WG_WAITERS);
	for (int i = 0; i < WG_WAITERS; i++)
		TCHECK(sched_go(wg_waiter, c) != 0);
	sched_sleep(MS(2));
	/* Nobody is released while the workers are held at the gate. */
	TCHECK(atomic_load(&c->released) == 0 && atomic_load(&c->done) == 0);
	sched_chan_close(c->gate);
	sched_wg_wait(&c->wg);
	TCHECK(atomic_load(&c->done) == WG_WORKERS);
	sched_wg_wait(&c->waiters);
	TCHECK(atomic_load(&c->released) == WG_WAITERS);
	TCHECK(atomic_load(&c->saw_all) == WG_WAITERS);
	sched_chan_free(c->gate);
}

static void test_wg_many(void)
{
	for (int procs = 1; procs <= 2; procs++) {
		struct wg_ctx c;
		memset(&c, 0, sizeof c);
		harness_run(procs, wg_body, &c);
		CU_ASSERT_EQUAL(atomic_load(&c.done), WG_WORKERS);
		CU_ASSERT_EQUAL(atomic_load(&c.released), WG_WAITERS);
	}
}

struct wg_round {
	struct sched_waitgroup *wg;
	atomic_int *count;
};

static void wg_round_worker(void *p)
{
	struct wg_round *r = p;
	sched_gosched();
	atomic_fetch_add(r->count, 1);
	sched_wg_done(r->wg);
}

/* One wait group reused over many rounds: each wait covers its own round. */
static void wg_reuse_body(void *unused)
{
	(void)unused;
	struct sched_waitgroup wg = {0};
	atomic_int count = 0;
	struct wg_round r = {&wg, &count};
	for (int round = 1; round <= 200; round++) {
		sched_wg_add(&wg, 3);
		for (int i = 0; i < 3; i++)
			TCHECK(sched_go(wg_round_worker, &r) != 0);
		sched_wg_wait(&wg);
		if (!TCHECK(atomic_load(&count) == 3 * round))
			break;
	}
}

static void test_wg_reuse(void)
{
	harness_run(1, wg_reuse_body, NULL);
	harness_run(2, wg_reuse_body, NULL);
}

/* Waiting on a zero wait group returns at once: the one goroutine of a
 * one-worker runtime does not park (the parks statistic does not move). */
static void wg_zero_body(void *unused)
{
	(void)unused;
	struct sched_waitgroup wg = {0};
	struct sched_stats before, after;
	sched_read_stats(&before);
	sched_wg_wait(&wg);
	sched_wg_add(&wg, 2);
	sched_wg_add(&wg, -2);
	sched_wg_wait(&wg);
	sched_wg_wait(&wg);
	sched_read_stats(&after);
	TCHECK(after.parks == before.parks);
}

static void test_wg_zero(void)
{
	harness_run(1, wg_zero_body, NULL);
	/* Also from a plain thread, with no runtime at all. */
	struct sched_waitgroup wg = {0};
	sched_wg_wait(&wg);
	CU_PASS("sched_wg_wait on a zero wait group returned");
}

/* --- join ----------------------------------------------------------------- */

#define TASKS 64

struct task_arg {
	int64_t delay;
	int value;     /* written by the task, plain int */
	int64_t *log;  /* the task's own slot */
};

static void task_fn(void *p)
{
	struct task_arg *a = p;
	sched_sleep(a->delay);
	a->value = 1000 + (int)(a->delay % 1000);
	*a->log = sched_g_id(sched_self());
}

static void join_body(void *unused)
{
	(void)unused;
	static struct sched_task tasks[TASKS];
	static struct task_arg args[TASKS];
	static int64_t log[TASKS];
	uint64_t rng = harness_seed();
	for (int i = 0; i < TASKS; i++) {
		args[i] = (struct task_arg){.delay = (int64_t)(harness_rand(&rng) % (uint64_t)MS(2)),
					    .log = &log[i]};
		log[i] = 0;
		TCHECK(sched_task_start(&tasks[i], task_fn, &args[i]) == 0);
		TCHECK(tasks[i].id > 0);
	}
	/* Join in reverse start order: each join sees its task's writes. */
	for (int i = TASKS - 1; i >= 0; i--) {
		sched_task_join(&tasks[i]);
		TCHECK(args[i].value == 1000 + (int)(args[i].delay % 1000));
		TCHECK(log[i] == (int64_t)tasks[i].id);
	}
	/* Joining a finished task again returns at once. */
	sched_task_join(&tasks[0]);
	for (int i = 1; i < TASKS; i++)
		TCHECK(tasks[i].id != tasks[i - 1].id);
}

static void test_task_join(void)
{
	harness_run(1, join_body, NULL);
	harness_run(2, join_body, NULL);
}

/* --- mutex ---------------------------------------------------------------- */

#define MUTEX_GOROUTINES 8
#define MUTEX_ITERS 10000

struct counter_ctx {
	struct sched_mutex mu;
	long counter;          /* plain: protected by mu only */
	atomic_int inside;     /* goroutines in the critical section */
	atomic_int overlaps;   /* times two were inside at once */
	struct sched_waitgroup wg;
	atomic_int next_id;
	uint64_t seed;
};

static void counter_worker(void *p)
{
	struct counter_ctx *c = p;
	uint64_t rng = c->seed + (uint64_t)atomic_fetch_add(&c->next_id, 1);
	for (int i = 0; i < MUTEX_ITERS; i++) {
		uint64_t r = harness_rand(&rng);
		sched_mutex_lock(&c->mu);
		if (atomic_fetch_add(&c->inside, 1) != 0)
			atomic_fetch_add(&c->overlaps, 1);
		long v = c->counter;
		/* Yield mid-update now and then: only the mutex keeps others out. */
		if (r % 64 == 0)
			sched_gosched();
		c->counter = v + 1;
		atomic_fetch_sub(&c->inside, 1);
		sched_mutex_unlock(&c->mu);
		if (r % 64 == 1)
			sched_gosched();
	}
	sched_wg_done(&c->wg);
}

static void counter_body(void *p)
{
	struct counter_ctx *c = p;
	sched_wg_add(&c->wg, MUTEX_GOROUTINES);
	for (int i = 0; i < MUTEX_GOROUTINES; i++)
		TCHECK(sched_go(counter_worker, c) != 0);
	sched_wg_wait(&c->wg);
	sched_mutex_lock(&c->mu);
	TCHECK(c->counter == MUTEX_GOROUTINES * MUTEX_ITERS);
	sched_mutex_unlock(&c->mu);
}

static void test_mutex_counter(void)
{
	for (int procs = 1; procs <= 2; procs++) {
		struct counter_ctx c;
		memset(&c, 0, sizeof c);
		c.seed = harness_seed();
		harness_run(procs, counter_body, &c);
		CU_ASSERT_EQUAL(c.counter, (long)MUTEX_GOROUTINES * MUTEX_ITERS);
		CU_ASSERT_EQUAL(atomic_load(&c.overlaps), 0);
		CU_ASSERT_EQUAL(c.mu.state, 0); /* free at the end */
	}
}

/* Many contenders; every 25th acquisition holds the mutex across a sleep so
 * the others exhaust their spin and park, which exercises the waiter queue
 * and the wake-up on unlock. A lost wake-up would leave goroutines parked
 * forever: main waits for them with a generous deadline (a deadlock
 * detector, not a timing check) so such a bug fails instead of hanging. */
#define HANDOFF_GOROUTINES 32
#define HANDOFF_ITERS 250

struct handoff_ctx {
	struct sched_mutex mu;
	long counter;
	atomic_int inside;
	atomic_int overlaps;
	atomic_int finished;
	struct sched_chan *done;
};

static void handoff_worker(void *p)
{
	struct handoff_ctx *c = p;
	for (int i = 0; i < HANDOFF_ITERS; i++) {
		sched_mutex_lock(&c->mu);
		if (atomic_fetch_add(&c->inside, 1) != 0)
			atomic_fetch_add(&c->overlaps, 1);
		c->counter++;
		if (i % 25 == 0)
			sched_sleep(US(50));
		atomic_fetch_sub(&c->inside, 1);
		sched_mutex_unlock(&c->mu);
	}
	atomic_fetch_add(&c->finished, 1);
	sched_chan_send(c->done, NULL);
}

static void handoff_body(void *p)
{
	struct handoff_ctx *c = p;
	c->done = sched_chan_new(0, HANDOFF_GOROUTINES);
	for (int i = 0; i < HANDOFF_GOROUTINES; i++)
		TCHECK(sched_go(handoff_worker, c) != 0);
	int64_t deadline = sched_nanotime() + MS(30000);
	for (int i = 0; i < HANDOFF_GOROUTINES; i++) {
		struct sched_select_case cs[1] = {
			{.dir = SCHED_SELECT_RECV, .chan = c->done, .elem = NULL}};
		if (!TCHECK(sched_select_until(cs, 1, deadline) == 0))
			return; /* deadlocked: the runtime frees the parked goroutines */
	}
	TCHECK(c->counter == HANDOFF_GOROUTINES * HANDOFF_ITERS);
	sched_chan_free(c->done);
}

static void test_mutex_handoff(void)
{
	/* 4 workers on a 2-core machine: the OS also preempts workers at
	 * arbitrary points inside lock and unlock. */
	static const int procs[] = {1, 2, 4};
	for (int k = 0; k < 3; k++) {
		struct handoff_ctx c;
		memset(&c, 0, sizeof c);
		harness_run(procs[k], handoff_body, &c);
		CU_ASSERT_EQUAL(atomic_load(&c.finished), HANDOFF_GOROUTINES);
		CU_ASSERT_EQUAL(c.counter, (long)HANDOFF_GOROUTINES * HANDOFF_ITERS);
		CU_ASSERT_EQUAL(atomic_load(&c.overlaps), 0);
	}
}

int main(void)
{
	static const struct harness_test tests[] = {
		{"wait group: many goroutines, several waiters", test_wg_many},
		{"wait group reused over rounds", test_wg_reuse},
		{"wait on a zero wait group returns at once", test_wg_zero},
		{"task start / join", test_task_join},
		{"mutex keeps a plain counter exact", test_mutex_counter},
		{"mutex hand-off under contention", test_mutex_handoff},
		{NULL, NULL},
	};
	return harness_main("wait groups, join, mutex", tests);
}
