/*
 * runtime.c — the runtime's life and its background thread: sched_run
 * (configuration, the workers' threads, the main goroutine, shutdown), the
 * monitor (Go's sysmon: time slices, overdue timers, network polling), the
 * statistics, and the small helpers every file uses (fatal errors, the spin
 * lock, futexes, the clock, the per-worker random numbers).
 *
 * The scheduling itself (queues, idle workers, finding work, switching,
 * spawning) is sched.c; each worker thread runs sched_schedule on its g0.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <urcu-qsbr.h>

#include "internal.h"

static pthread_t *worker_threads;
static pthread_t monitor_thread;

/* --- small helpers ---------------------------------------------------------- */

_Noreturn void sched_fatal(const char *fmt, ...)
{
	va_list ap;
	fputs("sched: fatal: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

void sched_spin_lock(int *lock)
{
	for (unsigned spins = 0;; spins++) {
		if (!__atomic_load_n(lock, __ATOMIC_RELAXED) &&
		    !__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE))
			return;
		if (spins < 64)
			__builtin_ia32_pause();
		else
			sched_yield();
	}
}

void sched_futex_wait(_Atomic uint32_t *addr, uint32_t expected, int64_t timeout_ns)
{
	struct timespec ts, *tp = NULL;
	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tp = &ts;
	}
	syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, expected, tp, NULL, 0);
}

void sched_futex_wake(_Atomic uint32_t *addr, int count)
{
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
}

int64_t sched_nanotime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint64_t sched_rand(struct sched_worker *w)
{
	uint64_t x = w->rand;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return w->rand = x;
}

/* --- the monitor (Go's sysmon) -------------------------------------------------------- */

#define SCHED_TIMESLICE_NS 10000000

/* Every 10 ms: asks goroutines that held a worker for a whole period to
 * yield at their next poll (and wakes an idle worker if work waits behind
 * one), polls the network if nobody did lately, and gets
 * overdue timers run by a worker (waking an idle one, or preempting a busy
 * one so that it passes through its scheduler, which runs them and queues the
 * woken goroutines locally). Sleeps while every worker is idle. */
static void *monitor_main(void *unused)
{
	(void)unused;
	uint64_t *last = calloc((size_t)sched_rt.cfg.procs, sizeof *last);
	/* The futex word is a count: a waker bumps it before its wake, and the
	 * monitor waits only while it still holds the value read before it
	 * looked at shutdown and at the sleeping flag. A wake with the word
	 * unchanged was lost when it came before the wait: sched_run's at
	 * shutdown then left the monitor asleep for good and sched_run
	 * joining it (seen under valgrind, where threads run one at a time). */
	for (;;) {
		uint32_t seq = atomic_load(&sched_rt.monitor_wake);
		if (atomic_load(&sched_rt.shutdown))
			break;
		if (atomic_load(&sched_monitor_sleeping))
			sched_futex_wait(&sched_rt.monitor_wake, seq, -1);
		else
			sched_futex_wait(&sched_rt.monitor_wake, seq, SCHED_TIMESLICE_NS);
		if (atomic_load(&sched_rt.shutdown))
			break;
		for (int i = 0; i < sched_rt.cfg.procs; i++) {
			struct sched_worker *w = &sched_rt.workers[i];
			uint64_t t = atomic_load(&w->schedtick);
			if (t == last[i] && __atomic_load_n(&w->cur, __ATOMIC_RELAXED)) {
				sched_preempt_request(w);
				/* Work waits behind it (a lone spawn sits in runnext
				 * and woke nobody) while another worker sleeps. */
				if (!sched_runq_empty(&w->runq) && atomic_load(&sched_rt.nidle) > 0)
					sched_wakep();
			}
			last[i] = t;
		}
		int64_t now = sched_nanotime();
		if (sched_netpoll_waiting() && !atomic_load(&sched_rt.poller_busy) &&
		    now - atomic_load(&sched_rt.last_poll) > SCHED_TIMESLICE_NS) {
			struct sched_g *batch = NULL;
			uint32_t n = sched_netpoll(0, &batch);
			if (n)
				sched_ready_batch(batch, n);
		}
		if (!atomic_load(&sched_rt.poller_busy) && sched_timers_next() < now - 1000000) {
			if (atomic_load(&sched_rt.nidle) > 0) {
				sched_wakep();
			} else {
				sched_preempt_request(&sched_rt.workers[0]);
			}
		}
	}
	free(last);
	return NULL;
}

/* --- the runtime's life ------------------------------------------------------------------ */

static void *worker_main(void *arg)
{
	struct sched_worker *w = arg;
	sched_tls_worker = w;
	sched_tls_worker_index = w->id;
	sched_preempt_worker_init(w);
	rcu_register_thread();
	sched_overflow_altstack(w);
	pthread_attr_t attr;
	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		pthread_attr_getstack(&attr, &w->g0_stack_lo, &w->g0_stack_size);
		pthread_attr_destroy(&attr);
	}
	atomic_store(&w->active, 1);
	sched_schedule(w);
	atomic_store(&w->active, 0);
	sched_overflow_altstack_remove(w);
	rcu_unregister_thread();
	sched_tls_worker = NULL;
	sched_tls_worker_index = -1;
	return NULL;
}

struct main_ctx {
	void (*fn)(void *);
	void *arg;
};

static void main_trampoline(void *p)
{
	struct main_ctx *m = p;
	m->fn(m->arg);
	atomic_store(&sched_rt.main_done, 1);
	sched_futex_wake(&sched_rt.main_done, 1);
}

static struct sched_stats retired_stats;   /* the last runtime's, once it returned */

static void runtime_free(void)
{
	sched_read_stats(&retired_stats);
	sched_accounts_retire();
	for (int i = 0; i < sched_rt.cfg.procs && sched_rt.workers; i++)
		sched_stacks_worker_fini(&sched_rt.workers[i]);
	free(sched_rt.workers);
	free(worker_threads);
	sched_rt.workers = NULL;
	worker_threads = NULL;
	sched_netpoll_fini();
	sched_timers_fini();
	sched_stacks_fini();
	cds_wfcq_destroy(&sched_rt.gq_head, &sched_rt.gq_tail);
}

int sched_run(const struct sched_config *cfg_in, void (*main_fn)(void *), void *arg)
{
	char err[256];
	struct sched_config cfg;
	/* The environment first; the caller's non-zero fields (flags) override. */
	if (sched_config_from_env(&cfg, err, sizeof err)) {
		fprintf(stderr, "sched: %s\n", err);
		errno = EINVAL;
		return -1;
	}
	if (cfg_in && cfg_in->procs)
		cfg.procs = cfg_in->procs;
	if (cfg_in && cfg_in->stack_size)
		cfg.stack_size = cfg_in->stack_size;
	if (cfg_in && cfg_in->max_goroutines)
		cfg.max_goroutines = cfg_in->max_goroutines;
	if (cfg_in && cfg_in->async_preempt)
		cfg.async_preempt = cfg_in->async_preempt;
	if (cfg_in && cfg_in->preempt_chaos_us)
		cfg.preempt_chaos_us = cfg_in->preempt_chaos_us;
	if (cfg_in && cfg_in->stoptrace_us)
		cfg.stoptrace_us = cfg_in->stoptrace_us;
	if (sched_config_check(&cfg, err, sizeof err)) {
		fprintf(stderr, "sched: %s\n", err);
		errno = EINVAL;
		return -1;
	}
	if (cfg.procs == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		cfg.procs = n < 1 ? 1 : n > SCHED_MAX_PROCS ? SCHED_MAX_PROCS : (int)n;
	}
	if (!cfg.stack_size)
		cfg.stack_size = SCHED_DEFAULT_STACK_SIZE;
	if (!cfg.max_goroutines)
		cfg.max_goroutines = SCHED_DEFAULT_MAX_GOROUTINES;
	if (atomic_load(&sched_rt.running)) {
		errno = EBUSY;
		return -1;
	}

	struct sched_hooks hooks = sched_rt.hooks;
	memset(&sched_rt, 0, sizeof sched_rt);
	sched_rt.hooks = hooks;
	sched_rt.cfg = cfg;
	sched_rt.next_id = 1;
	sched_accounts_reset();
	sched_poll_word = 0;
	sched_monitor_sleeping = 0;
	cds_wfcq_init(&sched_rt.gq_head, &sched_rt.gq_tail);
	sched_timers_init();
	if (sched_stacks_init(&cfg) || sched_netpoll_init() || sched_overflow_handler_install()) {
		int e = errno;
		runtime_free();
		errno = e;
		return -1;
	}
	sched_rt.workers = aligned_alloc(64, sizeof(struct sched_worker) * (size_t)cfg.procs);
	worker_threads = calloc((size_t)cfg.procs, sizeof *worker_threads);
	if (!sched_rt.workers || !worker_threads)
		sched_fatal("out of memory for %d workers", cfg.procs);
	memset(sched_rt.workers, 0, sizeof(struct sched_worker) * (size_t)cfg.procs);
	for (int i = 0; i < cfg.procs; i++) {
		struct sched_worker *w = &sched_rt.workers[i];
		w->id = i;
		w->rand = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
		sched_stacks_worker_init(w);
	}
	if (sched_preempt_start())
		sched_fatal("cannot install the preemption signal's handler");
	atomic_store(&sched_rt.running, 1);

	struct main_ctx m = {main_fn, arg};
	if (!sched_go(main_trampoline, &m)) {
		int e = errno;
		atomic_store(&sched_rt.shutdown, 1);
		sched_preempt_stop();
		atomic_store(&sched_rt.running, 0);
		runtime_free();
		errno = e;
		return -1;
	}
	for (int i = 0; i < cfg.procs; i++)
		if (pthread_create(&worker_threads[i], NULL, worker_main, &sched_rt.workers[i]))
			sched_fatal("cannot start worker thread %d", i);
	if (pthread_create(&monitor_thread, NULL, monitor_main, NULL))
		sched_fatal("cannot start the monitor thread");

	while (!atomic_load(&sched_rt.main_done))
		sched_futex_wait(&sched_rt.main_done, 0, -1);

	/* Main returned: stop every worker at its next safepoint. A stop in
	 * progress is not cut short: its parked workers wait for its restart
	 * (safepoint.c), so they are not woken here. */
	atomic_store(&sched_rt.shutdown, 1);
	sched_preempt_stop();   /* it signals the workers' threads: not once they exited */
	__atomic_fetch_add(&sched_poll_word, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < cfg.procs; i++) {
		atomic_store(&sched_rt.workers[i].wake, 1);
		sched_futex_wake(&sched_rt.workers[i].wake, 1);
	}
	sched_netpoll_break();
	atomic_fetch_add(&sched_rt.monitor_wake, 1);
	sched_futex_wake(&sched_rt.monitor_wake, 1);
	for (int i = 0; i < cfg.procs; i++)
		pthread_join(worker_threads[i], NULL);
	pthread_join(monitor_thread, NULL);
	atomic_store(&sched_rt.running, 0);
	runtime_free();
	return 0;
}

static void stats_add(struct sched_stats *out, const struct sched_stats *s)
{
#define SCHED_STAT_SUM(name, doc) out->name += __atomic_load_n(&s->name, __ATOMIC_RELAXED);
	SCHED_STATS(SCHED_STAT_SUM)
#undef SCHED_STAT_SUM
}

static void stats_runtime(struct sched_stats *out)
{
	out->stack_slots_used = sched_stack_high_water();
	out->procs = sched_rt.cfg.procs;
	out->async_preempt = sched_preempt_on();
}

void sched_read_stats(struct sched_stats *out)
{
	if (!sched_rt.workers) {
		*out = retired_stats;
		return;
	}
	memset(out, 0, sizeof *out);
	for (int i = 0; i < sched_rt.cfg.procs; i++)
		stats_add(out, &sched_rt.workers[i].stats);
	out->spawned += atomic_load(&sched_rt.spawned_from_threads);
	out->live_goroutines = out->spawned - out->exited;
	stats_runtime(out);
}

int sched_read_worker_stats(int worker, struct sched_stats *out)
{
	memset(out, 0, sizeof *out);
	if (!sched_rt.workers || worker < 0 || worker >= sched_rt.cfg.procs)
		return -1;
	stats_add(out, &sched_rt.workers[worker].stats);
	out->live_goroutines = out->spawned - out->exited;
	stats_runtime(out);
	return 0;
}
