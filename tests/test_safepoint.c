/*
 * test_safepoint.c — stop-the-world, the ragged barrier and stack visits,
 * each under load from goroutines that only reach safepoints by polling.
 *
 *   STW: while the world is stopped nothing else runs (counters frozen),
 *        whether the stopper is a goroutine or a plain thread.
 *   Ragged barrier: the RCU property — once it returns, no goroutine is
 *        still inside a poll-free section that began before the call
 *        (with asynchronous preemption off: a signal is a safepoint too).
 *   Visits: every goroutine (parked, runnable, running, and the caller) is
 *        visited exactly once per visit, and its range holds both a marker
 *        kept in a stack variable and one kept in a callee-saved register.
 *   System calls: a goroutine inside sched_syscall does not hold up a
 *        stop-the-world, and does not run on until the world runs again.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "internal.h"   /* sched_syscall */
#include "toc/chan.h"
#include "toc/sched.h"
#include "toc/sync.h"

static struct sched_waitgroup wg;
static _Atomic int stop;

static void spin_ns(int64_t ns)
{
	int64_t until = sched_nanotime() + ns;
	while (sched_nanotime() < until)
		;
}

/* --- stop-the-world ------------------------------------------------------------ */

#define LOOPERS 3
static _Atomic long counters[LOOPERS];

static void looper(void *arg)
{
	int i = (int)(intptr_t)arg;
	while (!atomic_load(&stop)) {
		atomic_fetch_add(&counters[i], 1);
		sched_poll();
	}
	sched_wg_done(&wg);
}

static void start_loopers(void)
{
	atomic_store(&stop, 0);
	for (int i = 0; i < LOOPERS; i++)
		atomic_store(&counters[i], 0);
	sched_wg_add(&wg, LOOPERS);
	for (intptr_t i = 0; i < LOOPERS; i++)
		sched_go(looper, (void *)i);
}

static void check_frozen(void)
{
	long before[LOOPERS];
	sched_stop_the_world();
	for (int i = 0; i < LOOPERS; i++)
		before[i] = atomic_load(&counters[i]);
	spin_ns(300 * 1000);
	for (int i = 0; i < LOOPERS; i++)
		TCHECK(atomic_load(&counters[i]) == before[i]);
	sched_start_the_world();
}

static void stw_body(void *unused)
{
	(void)unused;
	start_loopers();
	for (int round = 0; round < 30; round++) {
		sched_sleep(500 * 1000);
		check_frozen();
	}
	atomic_store(&stop, 1);
	sched_wg_wait(&wg);
	for (int i = 0; i < LOOPERS; i++)
		TCHECK(atomic_load(&counters[i]) > 0);
}

static void test_stw_from_goroutine(void)
{
	harness_run(2, stw_body, NULL);
}

static _Atomic int stw_thread_done;

static void *stw_thread(void *unused)
{
	(void)unused;
	for (int round = 0; round < 30; round++) {
		struct timespec ts = {0, 500 * 1000};
		nanosleep(&ts, NULL);
		check_frozen();
	}
	atomic_store(&stw_thread_done, 1);
	return NULL;
}

static void stw_thread_body(void *unused)
{
	(void)unused;
	start_loopers();
	pthread_t t;
	TCHECK(pthread_create(&t, NULL, stw_thread, NULL) == 0);
	/* A worker blocked in pthread_join would never reach a safepoint and the
	 * stopper would wait for it forever: wait by sleeping instead. */
	atomic_store(&stw_thread_done, 0);
	while (!atomic_load(&stw_thread_done))
		sched_sleep(1000 * 1000);
	pthread_join(t, NULL);
	atomic_store(&stop, 1);
	sched_wg_wait(&wg);
}

static void test_stw_from_thread(void)
{
	harness_run(2, stw_thread_body, NULL);
}

/* --- ragged barrier -------------------------------------------------------------- */

#define IN_SECTION_NONE (-1L)
static _Atomic long epoch;
static _Atomic long section_epoch[LOOPERS];

/* Between polls, a "section" remembers the epoch it started in. */
static void section_looper(void *arg)
{
	int i = (int)(intptr_t)arg;
	while (!atomic_load(&stop)) {
		atomic_store(&section_epoch[i], atomic_load(&epoch));
		spin_ns(2000);
		atomic_store(&section_epoch[i], IN_SECTION_NONE);
		sched_poll();
	}
	sched_wg_done(&wg);
}

static void ragged_body(void *unused)
{
	(void)unused;
	atomic_store(&stop, 0);
	for (int i = 0; i < LOOPERS; i++)
		atomic_store(&section_epoch[i], IN_SECTION_NONE);
	sched_wg_add(&wg, LOOPERS);
	for (intptr_t i = 0; i < LOOPERS; i++)
		sched_go(section_looper, (void *)i);
	for (long k = 1; k <= 200; k++) {
		atomic_store(&epoch, k);
		sched_ragged_barrier();
		for (int i = 0; i < LOOPERS; i++) {
			long e = atomic_load(&section_epoch[i]);
			TCHECK(e == IN_SECTION_NONE || e >= k);
		}
	}
	atomic_store(&stop, 1);
	sched_wg_wait(&wg);
}

/* The property holds for sections between polls only without
 * asynchronous preemption: a signal is a safepoint too (test_preempt). */
static void test_ragged_barrier(void)
{
	struct sched_config cfg = {.procs = 2, .async_preempt = SCHED_OFF};
	harness_run_cfg(&cfg, ragged_body, NULL);
}

/* --- stack visits -------------------------------------------------------------------- */

#define VISITED_G 300
#define MARK_MEM 0x6d656d0000000000ull /* "mem" */
#define MARK_REG 0x7265670000000000ull /* "reg" */

static _Atomic int visits[VISITED_G + 1];
static _Atomic int found_mem[VISITED_G + 1];
static _Atomic int found_reg[VISITED_G + 1];
static _Atomic int bad_range;
static struct sched_chan *park_ch;
static struct sched_waitgroup started;

/* The slot holds index + 1; scanning reads raw stack words. */
__attribute__((no_sanitize("address"))) static void visitor(struct sched_g *g, const void *lo,
							    const void *hi, void *arg)
{
	(void)arg;
	uintptr_t idx = (uintptr_t)*sched_g_slot(g);
	if (idx == 0 || idx > VISITED_G + 1)
		return; /* a goroutine this test does not track */
	idx--;
	if ((uintptr_t)lo >= (uintptr_t)hi || (uintptr_t)hi - (uintptr_t)lo > (1u << 20))
		atomic_fetch_add(&bad_range, 1);
	atomic_fetch_add(&visits[idx], 1);
	for (const uint64_t *p = lo; (const void *)(p + 1) <= hi; p++) {
		if (*p == (MARK_MEM | idx))
			atomic_store(&found_mem[idx], 1);
		if (*p == (MARK_REG | idx))
			atomic_store(&found_reg[idx], 1);
	}
}

enum { KIND_PARKED, KIND_RUNNABLE, KIND_RUNNING };

/* A few goroutines that only poll (they keep the workers busy; each holds
 * one for a whole 10 ms time slice), the rest parked or yielding. */
#define RUNNING_KIND 4
static int kind_of(uintptr_t idx)
{
	return idx < RUNNING_KIND ? KIND_RUNNING : idx % 2 ? KIND_RUNNABLE : KIND_PARKED;
}

static void visited(void *arg)
{
	uintptr_t idx = (uintptr_t)arg;
	*sched_g_slot(sched_self()) = (void *)(idx + 1);
	volatile uint64_t mem_marker = MARK_MEM | idx;
	register uint64_t reg_marker __asm__("r12") = MARK_REG | idx;
	__asm__ volatile("" : "+r"(reg_marker));
	sched_wg_done(&started);
	switch (kind_of(idx)) {
	case KIND_PARKED:
		sched_chan_recv(park_ch, NULL);
		break;
	case KIND_RUNNABLE:
		while (!atomic_load(&stop))
			sched_gosched();
		break;
	case KIND_RUNNING:
		while (!atomic_load(&stop)) {
			__asm__ volatile("" : "+r"(reg_marker));
			sched_poll();
		}
		break;
	}
	__asm__ volatile("" : "+r"(reg_marker));
	TCHECK(mem_marker == (MARK_MEM | idx) && reg_marker == (MARK_REG | idx));
	sched_wg_done(&wg);
}

struct visit_params {
	int goroutines; /* <= VISITED_G */
	int rounds;
};

static void visit_body(void *arg)
{
	const struct visit_params *vp = arg;
	int n = vp->goroutines;
	uint64_t rng = harness_seed();
	for (int round = 0; round < vp->rounds; round++) {
		memset(visits, 0, sizeof visits);
		memset(found_mem, 0, sizeof found_mem);
		memset(found_reg, 0, sizeof found_reg);
		atomic_store(&stop, 0);
		park_ch = sched_chan_new(0, 0);
		/* The caller is tracked as the last index. */
		*sched_g_slot(sched_self()) = (void *)(uintptr_t)(VISITED_G + 1);
		sched_wg_add(&wg, n);
		sched_wg_add(&started, n);
		for (uintptr_t i = 0; i < (uintptr_t)n; i++)
			sched_go(visited, (void *)i);
		sched_wg_wait(&started);
		/* Let them settle into their kinds for a random while. */
		sched_sleep((int64_t)(harness_rand(&rng) % 3000000));
		sched_visit_stacks(visitor, NULL);
		for (int i = 0; i < n; i++) {
			TCHECK(atomic_load(&visits[i]) == 1);
			TCHECK(atomic_load(&found_mem[i]) == 1);
			TCHECK(atomic_load(&found_reg[i]) == 1);
		}
		TCHECK(atomic_load(&visits[VISITED_G]) == 1); /* the caller itself */
		atomic_store(&stop, 1);
		sched_chan_close(park_ch);
		sched_wg_wait(&wg);
		sched_chan_free(park_ch);
		*sched_g_slot(sched_self()) = NULL;
	}
	TCHECK(atomic_load(&bad_range) == 0);
}

static void test_visit_each_once(void)
{
	struct visit_params p = {VISITED_G, 10};
	harness_run(2, visit_body, &p);
}

/* Goroutines that only poll give up a lone worker every 10 ms: keep few. */
static void test_visit_one_worker(void)
{
	struct visit_params p = {12, 3};
	harness_run(1, visit_body, &p);
}

/* --- a goroutine in a system call does not hold up a stop-the-world ------------------------ */

/* The "system call" waits until the stopper has stopped the world (which it
 * could not, if the call held it up) and released it; the code after the
 * call must not run until the world runs again. */
static _Atomic int in_call, released, after_call;

static long slow_call(void *arg)
{
	(void)arg;
	atomic_store(&in_call, 1);
	int64_t give_up = sched_nanotime() + 10 * 1000000000ll;
	while (!atomic_load(&released) && sched_nanotime() < give_up) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	return 42;
}

static void caller(void *arg)
{
	(void)arg;
	long r = sched_syscall(slow_call, NULL);
	atomic_store(&after_call, r == 42 ? 1 : -1);
	sched_wg_done(&wg);
}

/* Records the marker a stopped-world visit finds in the caller's range. */
static void syscall_body(void *arg)
{
	(void)arg;
	atomic_store(&in_call, 0);
	atomic_store(&released, 0);
	atomic_store(&after_call, 0);
	sched_wg_add(&wg, 1);
	TCHECK(sched_go(caller, NULL) != 0);
	while (!atomic_load(&in_call))
		sched_sleep(1000000);
	sched_stop_the_world();   /* returns although the caller is inside its call */
	atomic_store(&released, 1);
	struct timespec ts = {0, 50000000};
	nanosleep(&ts, NULL);   /* the call returns meanwhile; the code after it must wait */
	TCHECK(atomic_load(&after_call) == 0);
	sched_start_the_world();
	sched_wg_wait(&wg);
	TCHECK(atomic_load(&after_call) == 1);
}

static void test_syscall(void)
{
	harness_run(2, syscall_body, NULL);
}

int main(void)
{
	static const struct harness_test tests[] = {
		{"stop-the-world from a goroutine freezes everyone", test_stw_from_goroutine},
		{"stop-the-world from a thread freezes everyone", test_stw_from_thread},
		{"ragged barrier: no section older than the call survives it (signals off)", test_ragged_barrier},
		{"visit: each goroutine once, markers found (2 workers)", test_visit_each_once},
		{"visit: each goroutine once, markers found (1 worker)", test_visit_one_worker},
		{"a goroutine in a system call does not hold up stop-the-world", test_syscall},
		{NULL, NULL},
	};
	return harness_main("safepoint", tests);
}
