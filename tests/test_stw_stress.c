/*
 * test_stw_stress.c — a seeded stress test of the stopped world.
 *
 * What it checks: while the world is stopped (sched_stop_the_world returned)
 * no goroutine but the stopper runs, and every goroutine's stack can be
 * visited (sched_visit_stacks_stopped, which aborts with "runs in a stopped
 * world" on a RUNNING goroutine that did not record its stop_sp).
 *
 * How: each iteration starts a runtime (2 or 3 workers on however many
 * cores) with goroutines that keep crossing the edges of the stopped state:
 *   - syscallers enter and leave sched_syscall (returning at once, giving
 *     the thread away, spinning or sleeping inside), sleep on timers, yield;
 *   - ping-pong pairs over unbuffered channels, so a parking goroutine hands
 *     its worker straight to its readied partner (the direct hand-off);
 *   - pollers spin through sched_poll, sometimes giving the OS thread away,
 *     and now and then wake an urgent goroutine (sched_set_urgent: it goes
 *     to the waker's runnext and asks the waker to yield at its next poll);
 *   - a spawner starts batches of short-lived goroutines that poll, call,
 *     yield or exit at once (spawns and exits: the exit hand-off);
 * against two stopper goroutines and one stopper thread that stop and start
 * the world back to back (the second stopper waits for the first's world to
 * run again, parked for it). Inside each stop the stopper reads the
 * goroutines' progress counter, visits every stack, spins a little, and
 * reads the counter again: it must not have moved. The scheduler's chaos
 * points (internal.h) inject random yields and spins into the windows
 * between publishing a state and acting on it.
 *
 * A second test has workers go idle and wake (on timers) in the middle of
 * stops while a thread plays the monitor, many times faster: it asks random
 * workers to yield (sched_preempt_request), and their goroutines withdraw
 * the requests as they switch. A stop must hold whatever the poll word's
 * other reasons do: a worker woken from idle reads the poll word to learn
 * of a stop.
 *
 * Every third iteration ends differently: the main goroutine returns as a
 * stop is requested, while the stopper goroutines go on stopping until they
 * see the runtime shut down, so the shutdown lands in a stop (the count of
 * stops it began in, waiting or stopped, is printed). A stop in progress
 * must hold through the shutdown: parked goroutines and callers stay
 * stopped until it ends.
 *
 * Knobs: TOC_TEST_SEED=N repeats a run's random choices (the OS schedule
 * aside); TOC_STW_STRESS_ITERS=N sets the number of iterations (default 50,
 * enough for tests/run; the reproduction runs use 1,000 and more).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "harness.h"
#include "internal.h"   /* sched_syscall, the chaos points */
#include "toc/chan.h"
#include "toc/sched.h"
#include "toc/sync.h"

#define SYSCALLERS 3
#define PAIRS 2
#define POLLERS 2
#define SPAWN_BATCH 6
#define SLEEPERS 3
#define STOPPER_GS 2
#define STOPS_PER_STOPPER 60
#define CHAOS_RATE 96          /* out of 1024 chaos points */
#define DEFAULT_ITERS 50

static _Atomic uint64_t progress;   /* goroutine code (never a stopper, never inside a call) */
static _Atomic int done;
static _Atomic long stops_done;
static _Atomic long ranges_seen;
static _Atomic long stops_over_shutdown;   /* stops the runtime's shutdown began in */
static struct sched_waitgroup workers_wg, stoppers_wg;
static uint64_t iter_seed;
static bool shutdown_iter;   /* this iteration's main returns while the stoppers stop */
static struct pair {
	struct sched_chan *ping;
	struct sched_chan *pong;
} pairs[PAIRS];
static struct sched_chan *kick;   /* wakes the urgent goroutine */

static uint64_t rng_for(uint64_t who)
{
	uint64_t s = iter_seed ^ (who * 0x9e3779b97f4a7c15ull);
	return harness_rand(&s);
}

static void spin_ns(int64_t ns)
{
	int64_t until = sched_nanotime() + ns;
	while (sched_nanotime() < until)
		__builtin_ia32_pause();
}

/* --- the goroutines that cross the edges ---------------------------------------- */

/* Inside sched_syscall: the worker counts as stopped meanwhile. */
static long call_body(void *arg)
{
	uint64_t r = *(uint64_t *)arg;
	switch (r % 4) {
	case 0:
		break;
	case 1:
		sched_yield();
		break;
	case 2:
		spin_ns((int64_t)(r >> 8) % 5000);
		break;
	default: {
		struct timespec ts = {0, (long)((r >> 8) % 20000)};
		nanosleep(&ts, NULL);
		break;
	}
	}
	return 7;
}

static void syscaller(void *arg)
{
	uint64_t r = rng_for((uint64_t)(uintptr_t)arg);
	while (!atomic_load(&done)) {
		r = harness_rand(&r);
		long v = sched_syscall(call_body, &r);
		TCHECK(v == 7);
		/* Goroutine code without a safepoint: a goroutine let out of
		 * its call into a stopped world would be caught running here. */
		int64_t until = sched_nanotime() + (int64_t)((r >> 20) % 10000);
		do
			atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
		while (sched_nanotime() < until);
		switch ((r >> 40) % 8) {
		case 0:
			sched_gosched();
			break;
		case 1:
			sched_sleep((int64_t)((r >> 48) % 30000));
			break;
		default:
			sched_poll();
			break;
		}
	}
	sched_wg_done(&workers_wg);
}

/* Sends until done, then a -1 that tells the partner to leave. */
static void pinger(void *arg)
{
	struct pair *p = arg;
	for (long i = 0;; i++) {
		long v = atomic_load(&done) ? -1 : i;
		sched_chan_send(p->ping, &v);
		if (v < 0)
			break;
		long back;
		sched_chan_recv(p->pong, &back);
		TCHECK(back == i + 1);
		atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
		/* A pair handing off through runnext never lets its worker's
		 * ring run (each hand-off is a new tick to the monitor): give it
		 * a turn now and then. */
		if (i % 8 == 7)
			sched_gosched();
	}
	sched_wg_done(&workers_wg);
}

static void ponger(void *arg)
{
	struct pair *p = arg;
	for (;;) {
		long v;
		sched_chan_recv(p->ping, &v);
		if (v < 0)
			break;
		atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
		v++;
		sched_chan_send(p->pong, &v);
	}
	sched_wg_done(&workers_wg);
}

static void poller(void *arg)
{
	uint64_t r = rng_for(100 + (uint64_t)(uintptr_t)arg);
	while (!atomic_load(&done)) {
		atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
		sched_poll();
		r = harness_rand(&r);
		if (r % 64 == 0)
			sched_yield();
		else if (r % 64 == 1)
			sched_gosched();
		else if (r % 64 == 2)
			sched_chan_trysend(kick, &(char){1});
	}
	sched_wg_done(&workers_wg);
}

/* Readied by the pollers: each wake-up puts it in the waker's runnext and
 * asks the waker to yield at its next poll. A 0 tells it to leave. */
static void urgent(void *arg)
{
	(void)arg;
	sched_set_urgent(true);
	char v;
	while (sched_chan_recv(kick, &v) && v) {
		atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
		sched_poll();
	}
	sched_wg_done(&workers_wg);
}

static void child(void *arg)
{
	struct sched_waitgroup *wg = arg;
	uint64_t r = rng_for(400 + atomic_load_explicit(&progress, memory_order_relaxed));
	switch (r % 4) {
	case 0:
		break;   /* exits at once: its exit hands the worker on */
	case 1:
		for (int i = 0; i < 64; i++) {
			atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
			sched_poll();
		}
		break;
	case 2:
		TCHECK(sched_syscall(call_body, &r) == 7);
		break;
	default:
		sched_gosched();
		break;
	}
	sched_wg_done(wg);
}

/* Spawns batches of short-lived goroutines and waits for each batch. */
static void spawner(void *arg)
{
	(void)arg;
	while (!atomic_load(&done)) {
		struct sched_waitgroup wg = {0};
		sched_wg_add(&wg, SPAWN_BATCH);
		for (int i = 0; i < SPAWN_BATCH; i++)
			if (!TCHECK(sched_go(child, &wg) != 0))
				sched_wg_done(&wg);
		sched_wg_wait(&wg);
	}
	sched_wg_done(&workers_wg);
}

/* --- the stoppers ---------------------------------------------------------------- */

static void count_range(struct sched_g *g, const void *lo, const void *hi, void *arg)
{
	(void)g;
	(void)arg;
	TCHECK(lo <= hi);
	atomic_fetch_add_explicit(&ranges_seen, 1, memory_order_relaxed);
}

/* One stop: nothing may move while it lasts, and every stack is visitable. */
static void one_stop(uint64_t r)
{
	bool shut = atomic_load(&sched_rt.shutdown);
	sched_stop_the_world();
	uint64_t before = atomic_load(&progress);
	sched_visit_stacks_stopped(count_range, NULL);
	/* Long stops when the shutdown should come in one. */
	spin_ns((int64_t)(r % 20000) + (shutdown_iter ? 200000 : 0));
	sched_visit_stacks_stopped(count_range, NULL);
	uint64_t after = atomic_load(&progress);
	TCHECK(before == after);   /* a goroutine ran in the stopped world */
	if (!shut && atomic_load(&sched_rt.shutdown))
		atomic_fetch_add(&stops_over_shutdown, 1);
	sched_start_the_world();
	atomic_fetch_add(&stops_done, 1);
}

static void stopper_g(void *arg)
{
	uint64_t r = rng_for(200 + (uint64_t)(uintptr_t)arg);
	for (int i = 0; shutdown_iter ? !atomic_load(&sched_rt.shutdown) : i < STOPS_PER_STOPPER; i++) {
		r = harness_rand(&r);
		one_stop(r >> 16);
		/* Mostly back to back: the window is a restart followed at once
		 * by the next stop (always, when the shutdown should come in one). */
		if (shutdown_iter)
			continue;
		if (r % 4 == 0)
			sched_gosched();
		else if (r % 4 == 1)
			spin_ns((int64_t)(r >> 40) % 20000);
	}
	sched_wg_done(&stoppers_wg);
}

static void *stopper_thread(void *arg)
{
	(void)arg;
	uint64_t r = rng_for(300);
	for (int i = 0; i < STOPS_PER_STOPPER; i++) {
		r = harness_rand(&r);
		one_stop(r >> 16);
		if (r % 2 == 0)
			sched_yield();
	}
	return NULL;
}

static long join_call(void *arg)
{
	return pthread_join(*(pthread_t *)arg, NULL);
}

/* Fresh counts and channels for an iteration (a shutdown iteration leaves
 * its goroutines' counts behind). */
static void make_chans(void)
{
	atomic_store(&done, 0);
	workers_wg = (struct sched_waitgroup){0};
	stoppers_wg = (struct sched_waitgroup){0};
	for (int i = 0; i < PAIRS; i++) {
		pairs[i].ping = sched_chan_new(sizeof(long), 0);
		pairs[i].pong = sched_chan_new(sizeof(long), 0);
	}
	kick = sched_chan_new(1, 1);
}

static void body(void *arg)
{
	(void)arg;
	make_chans();
	sched_wg_add(&workers_wg, SYSCALLERS + 2 * PAIRS + POLLERS + 2);
	for (intptr_t i = 0; i < SYSCALLERS; i++)
		TCHECK(sched_go(syscaller, (void *)i) != 0);
	for (int i = 0; i < PAIRS; i++) {
		TCHECK(sched_go(pinger, &pairs[i]) != 0);
		TCHECK(sched_go(ponger, &pairs[i]) != 0);
	}
	for (intptr_t i = 0; i < POLLERS; i++)
		TCHECK(sched_go(poller, (void *)i) != 0);
	TCHECK(sched_go(urgent, NULL) != 0);
	TCHECK(sched_go(spawner, NULL) != 0);
	sched_wg_add(&stoppers_wg, STOPPER_GS);
	for (intptr_t i = 0; i < STOPPER_GS; i++)
		TCHECK(sched_go(stopper_g, (void *)i) != 0);
	if (shutdown_iter) {
		/* Let the stoppers stop a while, then return the moment a stop
		 * is requested (it waits for this goroutine's worker too):
		 * sched_run's shutdown comes while it waits or after. */
		long want = atomic_load(&stops_done) + 10 + (long)(iter_seed % 40);
		while (atomic_load(&stops_done) < want)
			sched_sleep(20000);
		for (;;) {
			int64_t until = sched_nanotime() + 2000000;
			while (!atomic_load(&sched_rt.stw_pending) && sched_nanotime() < until)
				__builtin_ia32_pause();
			if (atomic_load(&sched_rt.stw_pending))
				return;
			sched_gosched();
		}
	}
	pthread_t t;
	TCHECK(pthread_create(&t, NULL, stopper_thread, NULL) == 0);
	/* A worker blocked in pthread_join would hold up every stop. */
	TCHECK(sched_syscall(join_call, &t) == 0);
	sched_wg_wait(&stoppers_wg);
	atomic_store(&done, 1);
	sched_chan_send(kick, &(char){0});
	sched_wg_wait(&workers_wg);
}

/* After the runtime ended: a shutdown iteration's goroutines were discarded
 * while parked on these. */
static void free_chans(void)
{
	for (int i = 0; i < PAIRS; i++) {
		sched_chan_free(pairs[i].ping);
		sched_chan_free(pairs[i].pong);
	}
	sched_chan_free(kick);
}

/* --- idle wake-ups against preemption requests ----------------------------------------- */

static _Atomic int preempting;

/* Plays the monitor, many times faster: asks a random worker that runs a
 * goroutine to yield. */
static void *preempter_thread(void *arg)
{
	(void)arg;
	uint64_t r = rng_for(500);
	while (atomic_load(&preempting)) {
		r = harness_rand(&r);
		struct sched_worker *w = &sched_rt.workers[r % (uint64_t)sched_rt.cfg.procs];
		if (__atomic_load_n(&w->cur, __ATOMIC_RELAXED))
			sched_preempt_request(w);
		if (r & 0x100)
			sched_yield();
		else
			spin_ns(20000 + (int64_t)((r >> 16) % 80000));
	}
	return NULL;
}

/* Sleeps a few microseconds at a time: its worker goes idle and wakes on
 * the timer, often inside a stop. */
static void sleeper(void *arg)
{
	uint64_t r = rng_for(600 + (uint64_t)(uintptr_t)arg);
	while (!atomic_load(&done)) {
		r = harness_rand(&r);
		atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
		sched_sleep(1000 + (int64_t)(r % 30000));
	}
	sched_wg_done(&workers_wg);
}

static void idle_body(void *arg)
{
	(void)arg;
	make_chans();
	sched_wg_add(&workers_wg, SLEEPERS + 2);
	for (intptr_t i = 0; i < SLEEPERS; i++)
		TCHECK(sched_go(sleeper, (void *)i) != 0);
	TCHECK(sched_go(pinger, &pairs[0]) != 0);   /* hand-offs: each withdraws a request */
	TCHECK(sched_go(ponger, &pairs[0]) != 0);
	atomic_store(&preempting, 1);
	pthread_t t;
	TCHECK(pthread_create(&t, NULL, preempter_thread, NULL) == 0);
	sched_wg_add(&stoppers_wg, STOPPER_GS);
	for (intptr_t i = 0; i < STOPPER_GS; i++)
		TCHECK(sched_go(stopper_g, (void *)i) != 0);
	sched_wg_wait(&stoppers_wg);
	atomic_store(&done, 1);
	sched_wg_wait(&workers_wg);
	atomic_store(&preempting, 0);
	TCHECK(sched_syscall(join_call, &t) == 0);
}

static long iterations(void)
{
	const char *s = getenv("TOC_STW_STRESS_ITERS");
	if (!s)
		return DEFAULT_ITERS;
	char *end;
	long n = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || n < 1) {
		fprintf(stderr, "TOC_STW_STRESS_ITERS=\"%s\": not a positive integer\n", s);
		exit(2);
	}
	return n;
}

/* Runs the iterations of one scenario; every third one ends in a shutdown
 * if asked. */
static void stress(void (*fn)(void *), bool shutdowns)
{
	uint64_t seed = harness_seed();
	long n = iterations();
	long failed = 0;
	atomic_store(&stops_done, 0);
	atomic_store(&stops_over_shutdown, 0);
	atomic_store(&ranges_seen, 0);
	for (long it = 0; it < n && !failed; it++) {
		uint64_t s = seed + (uint64_t)it;
		iter_seed = harness_rand(&s);
		sched_chaos_seed = iter_seed;
		shutdown_iter = shutdowns && it % 3 == 2;
		__atomic_store_n(&sched_chaos_rate, CHAOS_RATE, __ATOMIC_RELAXED);
		harness_run(2 + (int)(it % 2), fn, NULL);
		__atomic_store_n(&sched_chaos_rate, 0, __ATOMIC_RELAXED);
		free_chans();
		if (harness_failures())
			failed = it + 1;
	}
	if (failed)
		fprintf(stderr, "  iteration %ld failed\n", failed - 1);
	fprintf(stderr, "  %ld iterations, %ld stops (%ld the shutdown began in), %ld stack ranges visited\n", n,
		(long)atomic_load(&stops_done), (long)atomic_load(&stops_over_shutdown),
		(long)atomic_load(&ranges_seen));
	CU_ASSERT_EQUAL(failed, 0);
}

static void test_stw_stress(void)
{
	stress(body, true);
}

static void test_idle_wakeups(void)
{
	stress(idle_body, false);
}

int main(void)
{
	static const struct harness_test tests[] = {
		{"stopped world: nothing runs, every stack visitable (syscalls, parks, hand-offs, spawns, shutdown)",
		 test_stw_stress},
		{"stopped world: idle workers wake inside stops while preemption requests come and go",
		 test_idle_wakeups},
		{NULL, NULL},
	};
	return harness_main("stw_stress", tests);
}
