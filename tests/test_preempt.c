/*
 * test_preempt.c — asynchronous preemption (sched/src/preempt.c).
 *
 *   Stops and visits: a goroutine on every worker but the stopper's spins in
 *     a loop of plain C (a volatile counter: no poll, no allocation, no
 *     call). The stopper stops and restarts the world 1,000 times and visits
 *     every stack 200 times. Every call returns (without the signals the
 *     first stop waits forever: run it with TOC_ASYNCPREEMPT=0 under
 *     timeout), the spinners stand still while the world is stopped and move
 *     between stops, each visit sees each spinner once, and the handler's
 *     stopped and visited counts grew. The latencies are printed (median,
 *     p99, max), never asserted: the machine may be loaded.
 *     TOC_TEST_POLL_EVERY=N makes the spinners poll every N iterations, so
 *     that the test ends with TOC_ASYNCPREEMPT=0 too (the figures without
 *     signals); TOC_TEST_PROCS=3|4 sets the workers (default 3).
 *   Ragged barrier: spinners that never poll do not hold it up.
 *   The stop trace: with signals off, a goroutine that spins 30 ms without
 *     polling holds up a stop; TOC_STOPTRACE=2000 (the config field) makes
 *     the stop report on stderr that it waited for that worker, which ran a
 *     goroutine (stderr is captured in a file for the check).
 *   A pointer held only in a register: a spinner keeps the one reference to
 *     a heap object in r12 (an assembly loop, its stack scrubbed below it)
 *     while collections run, concurrent and stop-the-world; the object
 *     survives, found in the signal frame by the stack visits.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "toc/gc.h"
#include "toc/sched.h"
#include "toc/sync.h"

#define MAX_PROCS 4
#define STOPS 1000
#define VISITS 200
#define RAGGED 100
#define PROGRESS_WAIT_NS (10 * 1000000000ll)

struct spinner {
	volatile uint64_t count;
	struct sched_g *g;
	int worker;
	_Atomic int started;
	_Atomic int visits;   /* in the current visit */
} __attribute__((aligned(64)));

static struct spinner spinners[MAX_PROCS];
static int nspinners;
static _Atomic int spin_stop;
static long poll_every;   /* TOC_TEST_POLL_EVERY; 0: never */
static struct sched_waitgroup spin_wg;

static long env_long(const char *name, long deflt, long min, long max)
{
	const char *s = getenv(name);
	long v = s ? strtol(s, NULL, 10) : deflt;
	return v < min ? min : v > max ? max : v;
}

static void spin(void *arg)
{
	struct spinner *s = arg;
	s->g = sched_self();
	s->worker = sched_worker_index();
	atomic_store(&s->started, 1);
	long n = 0;
	while (!atomic_load_explicit(&spin_stop, memory_order_relaxed)) {
		s->count++;
		if (poll_every && ++n == poll_every) {
			n = 0;
			sched_poll();
		}
	}
	sched_wg_done(&spin_wg);
}

/* Starts one spinner per worker but the caller's; false if they did not all
 * get a worker of their own. */
static bool spinners_start(int procs)
{
	atomic_store(&spin_stop, 0);
	nspinners = procs - 1;
	memset(spinners, 0, sizeof spinners);
	sched_wg_add(&spin_wg, nspinners);
	for (int i = 0; i < nspinners; i++)
		TCHECK(sched_go(spin, &spinners[i]) != 0);
	int64_t give_up = sched_nanotime() + PROGRESS_WAIT_NS;
	for (int i = 0; i < nspinners; i++)
		while (!atomic_load(&spinners[i].started) && sched_nanotime() < give_up)
			sched_sleep(100000);
	int self = sched_worker_index();
	bool ok = true;
	for (int i = 0; i < nspinners; i++) {
		ok &= TCHECK(atomic_load(&spinners[i].started));
		ok &= TCHECK(spinners[i].worker != self);
		for (int j = 0; j < i; j++)
			ok &= TCHECK(spinners[i].worker != spinners[j].worker);
	}
	return ok;
}

static void spinners_stop(void)
{
	atomic_store(&spin_stop, 1);
	sched_wg_wait(&spin_wg);
}

/* Waits (on this worker, without polling: the caller may be the stopper)
 * until every spinner counted past since[]. */
static bool spinners_moved(const uint64_t *since)
{
	int64_t give_up = sched_nanotime() + PROGRESS_WAIT_NS;
	for (int i = 0; i < nspinners; i++)
		while (spinners[i].count <= since[i])
			if (sched_nanotime() > give_up)
				return false;
	return true;
}

static void read_counts(uint64_t *out)
{
	for (int i = 0; i < nspinners; i++)
		out[i] = spinners[i].count;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void print_latency(const char *what, int64_t *ns, int n)
{
	qsort(ns, (size_t)n, sizeof *ns, cmp_i64);
	printf("\n    %s latency (us, %d calls): median %.1f, p99 %.1f, max %.1f (min %.1f, p10 %.1f, p90 %.1f)",
	       what, n, ns[n / 2] / 1e3, ns[(n * 99) / 100] / 1e3, ns[n - 1] / 1e3, ns[0] / 1e3, ns[n / 10] / 1e3,
	       ns[(n * 9) / 10] / 1e3);
}

/* --- stops and visits ------------------------------------------------------------- */

static void count_visit(struct sched_g *g, const void *lo, const void *hi, void *arg)
{
	(void)lo;
	(void)hi;
	(void)arg;
	for (int i = 0; i < nspinners; i++)
		if (spinners[i].g == g)
			atomic_fetch_add(&spinners[i].visits, 1);
}

static void stops_body(void *arg)
{
	int procs = *(int *)arg;
	if (!spinners_start(procs)) {
		spinners_stop();
		return;
	}
	static int64_t stop_ns[STOPS], visit_ns[VISITS];
	uint64_t frozen[MAX_PROCS], later[MAX_PROCS];
	struct sched_stats s0, s1;
	sched_read_stats(&s0);
	for (int k = 0; k < STOPS; k++) {
		int64_t t0 = sched_nanotime();
		sched_stop_the_world();
		stop_ns[k] = sched_nanotime() - t0;
		read_counts(frozen);
		int64_t until = sched_nanotime() + 20000;
		while (sched_nanotime() < until)
			;
		read_counts(later);
		for (int i = 0; i < nspinners; i++)
			TCHECK(later[i] == frozen[i]);
		sched_start_the_world();
		TCHECK(spinners_moved(frozen));
	}
	for (int k = 0; k < VISITS; k++) {
		for (int i = 0; i < nspinners; i++)
			atomic_store(&spinners[i].visits, 0);
		read_counts(frozen);
		int64_t t0 = sched_nanotime();
		sched_visit_stacks(count_visit, NULL);
		visit_ns[k] = sched_nanotime() - t0;
		for (int i = 0; i < nspinners; i++)
			TCHECK(atomic_load(&spinners[i].visits) == 1);
		TCHECK(spinners_moved(frozen));
	}
	sched_read_stats(&s1);
	spinners_stop();
	printf("\n    %d workers, %d spinners, %s, %s", procs, nspinners,
	       s1.async_preempt ? "asynchronous preemption on" : "asynchronous preemption off",
	       poll_every ? "spinners poll" : "spinners never poll");
	print_latency("stop-the-world", stop_ns, STOPS);
	print_latency("stack visit", visit_ns, VISITS);
	harness_print_signals(&s0, &s1);
	if (s1.async_preempt && !poll_every) {
		TCHECK(s1.preempt_stopped - s0.preempt_stopped > 0);
		TCHECK(s1.preempt_visited - s0.preempt_visited > 0);
	}
	/* Per worker: a signal is handled once at most, and what it did at a
	 * safe point is counted under safe. */
	for (int i = 0; i < procs; i++) {
		struct sched_stats w;
		TCHECK(sched_read_worker_stats(i, &w) == 0);
		uint64_t handled = w.preempt_safe + w.preempt_idle + w.preempt_callout + w.preempt_stack +
				   w.preempt_foreign + w.preempt_runtime + w.preempt_barrier;
		TCHECK(handled <= w.preempt_sent);
		TCHECK(w.preempt_stopped <= w.preempt_safe && w.preempt_visited <= w.preempt_safe);
	}
	struct sched_stats none;
	TCHECK(sched_read_worker_stats(procs, &none) == -1);
}

static void test_stops_and_visits(void)
{
	static int procs;
	procs = (int)env_long("TOC_TEST_PROCS", 3, 2, MAX_PROCS);
	poll_every = env_long("TOC_TEST_POLL_EVERY", 0, 0, 1L << 40);
	harness_run(procs, stops_body, &procs);
}

/* --- the stop trace ----------------------------------------------------------------------- */

#define LATE_SPIN_NS 30000000ll

static _Atomic int late_worker = -1;

static void late_spin(void *unused)
{
	(void)unused;
	atomic_store(&late_worker, sched_worker_index());
	int64_t until = sched_nanotime() + LATE_SPIN_NS;
	while (sched_nanotime() < until)
		;
	sched_wg_done(&spin_wg);
}

/* The stop needs the spinner on the other worker. Spawned from here it may
 * run on this one (then this goroutine runs again only once it is done, if
 * the other worker's thread did not take this one meanwhile): then again. */
static void stoptrace_body(void *unused)
{
	(void)unused;
	for (int attempt = 0; attempt < 20; attempt++) {
		atomic_store(&late_worker, -1);
		sched_wg_add(&spin_wg, 1);
		TCHECK(sched_go(late_spin, NULL) != 0);
		while (atomic_load(&late_worker) < 0)
			sched_gosched();
		bool apart = atomic_load(&late_worker) != sched_worker_index();
		if (apart) {
			int64_t t0 = sched_nanotime();
			sched_stop_the_world();
			sched_start_the_world();
			printf("\n    the stop waited %.1f ms for the spinner", (double)(sched_nanotime() - t0) / 1e6);
		}
		sched_wg_wait(&spin_wg);
		if (apart)
			return;
	}
	TCHECK(!"in 20 tries the spinner never ran on the other worker than the stopper's");
}

static void test_stoptrace(void)
{
	char path[] = "/tmp/toc-stoptrace-XXXXXX";
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	CU_ASSERT_FATAL(saved >= 0 && dup2(fd, STDERR_FILENO) >= 0);
	atomic_store(&late_worker, -1);
	struct sched_config scfg = {.procs = 2, .async_preempt = SCHED_OFF, .stoptrace_us = 2000};
	harness_run_cfg(&scfg, stoptrace_body, NULL);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	char buf[4096] = "";
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	unlink(path);
	buf[n > 0 ? n : 0] = '\0';
	char want[64];
	snprintf(want, sizeof want, "for worker %d (running a goroutine", atomic_load(&late_worker));
	printf("\n    %s", strtok(buf, "\n") ? buf : "(nothing on stderr)");
	CU_ASSERT(strstr(buf, "sched: stoptrace: stop waited") != NULL);
	CU_ASSERT(strstr(buf, want) != NULL);
}

/* --- ragged barriers -------------------------------------------------------------------- */

static void ragged_body(void *unused)
{
	(void)unused;
	if (spinners_start(3)) {
		uint64_t before[MAX_PROCS];
		for (int k = 0; k < RAGGED; k++) {
			read_counts(before);
			sched_ragged_barrier();
			TCHECK(spinners_moved(before));
		}
	}
	spinners_stop();
}

static void test_ragged(void)
{
	poll_every = 0;
	harness_run(3, ragged_body, NULL);
}

/* --- a pointer only in a register ------------------------------------------------------------ */

#define HIDE_KEY 0xa5a5a5a5a5a5a5a5ull
#define OBJ_WORDS 8
#define OBJ_MAGIC 0x6f626a6563742121ull

/* void *spin_holding(uintptr_t hidden, volatile int *stop, volatile uint64_t *count):
 * the object's address, hidden ^ HIDE_KEY, lives in r12 only while it
 * counts until *stop; then it is returned. */
__asm__(".text\n"
	".type spin_holding, @function\n"
	"spin_holding:\n\t"
	"pushq %r12\n\t"
	"movabsq $0xa5a5a5a5a5a5a5a5, %rax\n\t"
	"xorq %rdi, %rax\n\t"
	"movq %rax, %r12\n\t"
	"xorl %eax, %eax\n\t"
	"xorl %edi, %edi\n"
	"1:\n\t"
	"incq (%rdx)\n\t"
	"cmpl $0, (%rsi)\n\t"
	"je 1b\n\t"
	"movq %r12, %rax\n\t"
	"popq %r12\n\t"
	"ret\n\t"
	".size spin_holding, .-spin_holding\n");
void *spin_holding(uintptr_t hidden, volatile int *stop, volatile uint64_t *count);

static volatile int holder_stop;
static volatile uint64_t holder_count;
static _Atomic int holder_ok;

/* The object, allocated and filled, returned hidden: no copy of its address
 * is left in this frame, which is gone when the spinner starts. */
static __attribute__((noinline)) uintptr_t make_hidden(void)
{
	uint64_t *p = gc_alloc_bytes(OBJ_WORDS * sizeof(uint64_t));
	for (int i = 0; i < OBJ_WORDS; i++)
		p[i] = OBJ_MAGIC + (uint64_t)i;
	return (uintptr_t)p ^ HIDE_KEY;
}

/* Zeroes the stack below the caller: stale copies of the address (in dead
 * frames of the allocation) would keep the object alive without the
 * registers' help. */
static __attribute__((noinline)) void scrub_below(void)
{
	volatile char pad[16384];
	memset((char *)pad, 0, sizeof pad);
}

static void holder(void *unused)
{
	(void)unused;
	uintptr_t hidden = make_hidden();
	scrub_below();
	uint64_t *p = spin_holding(hidden, &holder_stop, &holder_count);
	bool ok = gc_base(p) == p;
	for (int i = 0; ok && i < OBJ_WORDS; i++)
		ok = p[i] == OBJ_MAGIC + (uint64_t)i;
	atomic_store(&holder_ok, ok ? 1 : -1);
	sched_wg_done(&spin_wg);
}

static void register_body(void *arg)
{
	const char *mode = arg;
	holder_stop = 0;
	holder_count = 0;
	atomic_store(&holder_ok, 0);
	sched_wg_add(&spin_wg, 1);
	TCHECK(sched_go(holder, NULL) != 0);
	int64_t give_up = sched_nanotime() + PROGRESS_WAIT_NS;
	while (!holder_count && sched_nanotime() < give_up)
		sched_sleep(100000);
	TCHECK(holder_count > 0);
	struct sched_stats s0, s1;
	sched_read_stats(&s0);
	struct gc_stats g0, g1;
	gc_read_stats(&g0);
	/* Collections while the holder spins, and objects of the same size
	 * class meanwhile, to take its slot if it were freed. */
	for (int c = 0; c < 4; c++) {
		gc_collect();
		for (int i = 0; i < 20000; i++) {
			uint64_t *q = gc_alloc_bytes(OBJ_WORDS * sizeof(uint64_t));
			memset(q, 0x5a, OBJ_WORDS * sizeof(uint64_t));
		}
	}
	gc_read_stats(&g1);
	sched_read_stats(&s1);
	holder_stop = 1;
	sched_wg_wait(&spin_wg);
	TCHECK(atomic_load(&holder_ok) == 1);
	TCHECK(g1.cycles - g0.cycles >= 4);
	printf("\n    %s: %llu cycles while the holder spun", mode, (unsigned long long)(g1.cycles - g0.cycles));
	harness_print_signals(&s0, &s1);
	if (strcmp(mode, "stw") == 0)
		TCHECK(s1.preempt_stopped > s0.preempt_stopped);
	else
		TCHECK(s1.preempt_visited > s0.preempt_visited);
}

static void register_run(const char *mode)
{
	struct gc_config gcfg;
	char err[256];
	CU_ASSERT_EQUAL_FATAL(gc_config_from_env(&gcfg, err, sizeof err), 0);
	CU_ASSERT_EQUAL_FATAL(gc_config_set(&gcfg, "mode", "--mode", mode, err, sizeof err), 0);
	gcfg.verify = 1;
	gcfg.poison = 1;
	CU_ASSERT_EQUAL_FATAL(gc_init(&gcfg), 0);
	struct sched_config scfg = {.procs = 2};
	harness_run_cfg(&scfg, register_body, (void *)mode);
	gc_fini();
}

static void test_register_cms(void)
{
	register_run("cms");
}

static void test_register_stw(void)
{
	register_run("stw");
}

int main(void)
{
	static const struct harness_test tests[] = {
		{"spinners that never poll: 1,000 stops and 200 stack visits", test_stops_and_visits},
		{"spinners that never poll: ragged barriers", test_ragged},
		{"a stop that waits for a worker says why (TOC_STOPTRACE)", test_stoptrace},
		{"a pointer only in a register survives concurrent collections", test_register_cms},
		{"a pointer only in a register survives stop-the-world collections", test_register_stw},
		{NULL, NULL},
	};
	return harness_main("preempt", tests);
}
