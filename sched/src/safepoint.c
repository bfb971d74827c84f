/*
 * safepoint.c — stop-the-world, ragged safepoints and stack visits.
 *
 * A safepoint is any point where a worker is in the scheduler (g0) or its
 * goroutine calls sched_poll() and finds sched_poll_word non-zero. Every
 * request that needs workers to pass a safepoint raises sched_poll_word for
 * its duration (it is a count of reasons, so requests overlap freely), and
 * the slow path works out which requests are pending (sched_safepoint_g).
 * A goroutine that does not poll is brought to the same slow path by a
 * signal, when it lands in the program's own code: an asynchronous safe
 * point, where it stops, visits or reports in place inside the handler and
 * never leaves its worker (preempt.c). The waits below send the signals.
 *
 * Stop-the-world. The stopper sets stw_pending, then waits until every other
 * worker has active == 0: sleeping idle, parked in sched_stw_park, or inside
 * sched_syscall. A worker sets active = 1 before it looks at stw_pending
 * again (both seq_cst), so a worker waking from idle either is seen active by
 * the stopper or sees the request itself (Dekker). The world restarts by
 * bumping stw_gen.
 *
 * What makes a stopped world stopped. "active == 0" is a promise the worker
 * keeps until it has published active = 1 AND then seen stw_pending == 0:
 *   1. while active == 0 the worker runs no goroutine code, and its
 *      goroutine, if it has one (w->cur, RUNNING), has stop_sp pointing at
 *      its spilled callee-saved registers; on g0, w->cur is NULL;
 *   2. to leave, the worker stores active = 1, then loads stw_pending; if a
 *      stop is pending it stores active = 0 again and waits, still inside the
 *      stopped state (stop_sp kept). Only sched_stw_park leaves, and it
 *      returns only after seeing no stop pending after its active = 1; only
 *      then may its caller clear stop_sp and run goroutine code.
 * A stopper that saw active == 0 after its stw_pending = 1 is thus safe even
 * if the worker was on its way out: that worker's next load of stw_pending
 * comes after its store of active = 1, so (seq_cst) it sees the request and
 * stays. The old code broke rule 2 twice: sched_stw_park returned after a
 * load of stw_pending made before its active = 1 (a stopper could count the
 * worker stopped in between), and its callers then cleared stop_sp and ran
 * on (sched_syscall's return path did not even look again), so a stopped
 * world could find a RUNNING goroutine with no stop_sp, or watch it run.
 *
 * So with the world stopped, a goroutine is RUNNING only if it is
 *   - the stopper itself (stop_sp NULL; it visits its own stack by
 *     spilling its registers), or
 *   - stopped on its own stack: at a safepoint (sched_poll, a signal
 *     handler at an asynchronous safe point, or a second stopper waiting
 *     for the first) or inside sched_syscall, stop_sp set (below the
 *     handler's frames and the kernel's signal frame, which hold every
 *     register of the interrupted code);
 * every other goroutine is RUNNABLE or WAITING with its sp saved by the
 * switch (finish_prev runs before its worker can reach a safepoint, and a
 * worker is never stopped between making a g RUNNING and switching to it).
 * Why: a worker makes a g RUNNING (execute, or a direct hand-off in
 * sched_switch_out) and leaves the previous g RUNNING until finish_prev
 * only with active == 1, and nothing on that stretch parks (the wait for
 * a visitor's SCAN bit, the visit before execute, park commits and chaos
 * points do not), so a stopper counts the worker stopped either before it
 * or after it. The stop_sp of a stopped goroutine is set before its worker
 * stores active = 0 and cleared only after sched_stw_park saw the world
 * run. The stopper's own worker must not leave its goroutine while the
 * world is stopped (its other goroutines would run in it): sched_poll does
 * not preempt the stopper, checked builds reject a switch (sched.c), and a
 * stopper waiting for the lock gives its thread away (the OS's
 * sched_yield), never its worker.
 *
 * A stop holds through shutdown. sched_run sets shutdown when the main
 * goroutine returns, which may be in the middle of a stop (a collector's
 * cycle). Parking used to end on shutdown too: a goroutine parked in
 * sched_poll then cleared its stop_sp and ran on to its preemption, one
 * back from sched_syscall ran goroutine code, and a worker parked on g0
 * went on to execute a goroutine, all in a world its stopper still took
 * for stopped (its visits found RUNNING goroutines without stop_sp, as the
 * current or the previous goroutine of a worker with active == 1). Now
 * nothing leaves a park before the world runs: the stopper always ends its
 * stop (a goroutine cannot leave its worker meanwhile, a thread runs on),
 * and the workers see the shutdown after it. A stop that begins after the
 * shutdown waits for each worker to park or to exit (worker_main stores
 * active = 0 on g0).
 *
 * The poll word never counts fewer reasons than are pending. A worker
 * waking from idle looks at the poll word, not at stw_pending, after its
 * active = 1 (find_runnable), so the Dekker pair above holds only if no
 * other party's decrement can take the stopper's count away. Every reason
 * is counted before it is published and uncounted after it is withdrawn.
 * A preemption request (internal.h) used to publish its flag first: the
 * owner's clear, coming between the flag and the count, lowered the word,
 * which then read 0 with a stop pending, and the woken worker ran a
 * goroutine in the stopped world (its current, with active == 1).
 *
 * Ragged barrier. Workers are urcu QSBR readers: online while they run,
 * offline while they sleep or are stopped, and they report a quiescent state
 * at every safepoint while a barrier is pending. synchronize_rcu() therefore
 * returns once every worker passed a safepoint or was idle.
 *
 * Stack visits. A visit bumps visit_epoch; a goroutine is covered when its
 * scanned_epoch equals it. Who visits whom, so that each g is visited once:
 *   - a RUNNABLE or WAITING g: whoever sets SCHED_G_SCAN on it first (the
 *     visitor's loop); execute() and sched_ready() wait for the bit to clear;
 *   - a RUNNING g: itself, at its next safepoint or switch (its registers
 *     spilled by sched_ctx_spill), or the worker about to resume it, before
 *     the switch (the g is RUNNING but not yet on its stack).
 * The visitor then waits for the running ones to be covered.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include <urcu-qsbr.h>
#include <valgrind/memcheck.h>

#include "internal.h"

static void poll_word_add(int d)
{
	__atomic_fetch_add(&sched_poll_word, d, __ATOMIC_SEQ_CST);
}

/* --- chaos points --------------------------------------------------------------- */

unsigned sched_chaos_rate;
uint64_t sched_chaos_seed;
static __thread uint64_t chaos_state;

void sched_chaos_slow(void)
{
	uint64_t x = chaos_state;
	if (!x)
		x = (sched_chaos_seed ^ (uint64_t)(uintptr_t)&chaos_state) | 1;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	chaos_state = x;
	if ((x & 1023) >= __atomic_load_n(&sched_chaos_rate, __ATOMIC_RELAXED))
		return;
	if (x & 1024) {
		sched_yield();
		return;
	}
	for (unsigned i = (unsigned)(x >> 11) & 1023; i; i--)
		__builtin_ia32_pause();
}

/* --- stop-the-world ---------------------------------------------------------- */

/* Parks the calling worker until the world runs, shutdown or not. Returns
 * with active == 1, having seen stw_pending == 0 after storing it: a stop
 * that begins later waits for this worker's next safepoint (rule 2 above). */
void sched_stw_park(struct sched_worker *w)
{
	rcu_thread_offline();
	for (;;) {
		uint32_t gen = atomic_load(&sched_rt.stw_gen);
		/* seq_cst: pairs with the stopper's store of stw_pending and its
		 * loads of active (sched_stop_the_world). */
		atomic_store(&w->active, 0);
		if (atomic_load(&sched_rt.stw_pending)) {
			sched_futex_wait(&sched_rt.stw_gen, gen, -1);
			continue;
		}
		sched_chaos_point();
		/* Announce, then look again: a stopper may have set stw_pending
		 * and seen active == 0 since the load above. */
		atomic_store(&w->active, 1);
		if (!atomic_load(&sched_rt.stw_pending))
			break;
	}
	rcu_thread_online();
}

/* A goroutine that stops for the world on its own stack records where its
 * registers were spilled, so a stopped-world stack visit sees them. */
static void stw_park_spilled(void *sp, void *arg)
{
	struct sched_worker *w = arg;
	w->cur->stop_sp = sp;
	sched_stw_park(w);
	sched_chaos_point();
	w->cur->stop_sp = NULL;   /* the world runs: sched_stw_park saw it after active = 1 */
}

static bool stw_is_owner(struct sched_worker *w);

struct syscall_call {
	struct sched_worker *w;
	long (*fn)(void *);
	void *arg;
	long ret;
	int err;
};

static void syscall_spilled(void *sp, void *p)
{
	struct syscall_call *c = p;
	struct sched_worker *w = c->w;
	w->cur->stop_sp = sp;
	rcu_thread_offline();
	atomic_store(&w->active, 0);   /* seq_cst: the stopper reads it after setting stw_pending */
	c->ret = c->fn(c->arg);
	c->err = errno;
	sched_chaos_point();
	rcu_thread_online();
	/* Back to goroutine code, but not while the world is stopped: announce
	 * ourselves, then look (seq_cst both sides, as sched_stop_the_world).
	 * If a stop is pending, sched_stw_park returns only once the world
	 * runs and no new stop began after its own announcement; until then
	 * stop_sp stays set. The stopper's own goroutine may make calls. */
	atomic_store(&w->active, 1);
	if (atomic_load(&sched_rt.stw_pending) && !stw_is_owner(w))
		sched_stw_park(w);
	sched_chaos_point();
	w->cur->stop_sp = NULL;
}

long sched_syscall(long (*fn)(void *), void *arg)
{
	struct sched_worker *w = sched_worker_self();
	if (!w || !w->cur)
		return fn(arg);
	struct syscall_call c = {w, fn, arg, 0, 0};
	sched_ctx_spill(syscall_spilled, &c);
	errno = c.err;
	return c.ret;
}

static void stw_park_g(struct sched_worker *w)
{
	if (w->cur)
		sched_ctx_spill(stw_park_spilled, w);
	else
		sched_stw_park(w);
}

static bool stw_is_owner(struct sched_worker *w)
{
	return w && __atomic_load_n(&sched_rt.stw_owner, __ATOMIC_ACQUIRE) == w;
}

void sched_stop_the_world(void)
{
	struct sched_worker *self = sched_worker_self();
	/* One stopper at a time; a waiting stopper must itself stop for the
	 * other's request, or the two would wait for each other. */
	while (__atomic_exchange_n(&sched_rt.stw_lock, 1, __ATOMIC_ACQUIRE)) {
		if (self && atomic_load(&sched_rt.stw_pending))
			stw_park_g(self);
		sched_yield();
	}
	__atomic_store_n(&sched_rt.stw_owner, self, __ATOMIC_RELEASE);
	sched_chaos_point();
	atomic_store(&sched_rt.stw_pending, 1);
	poll_word_add(1);
	struct sched_preempt_wait pw;
	sched_preempt_wait_init(&pw);
	bool trace = sched_rt.cfg.stoptrace_us > 0;
	struct sched_stoptrace st;
	if (trace)
		sched_stoptrace_begin(&st, sched_nanotime());
	for (int i = 0; i < sched_rt.cfg.procs; i++) {
		struct sched_worker *w = &sched_rt.workers[i];
		if (w == self)
			continue;
		for (unsigned spins = 0; atomic_load(&w->active); spins++) {
			if (trace)
				sched_stoptrace_check(&st, w, sched_nanotime());
			/* A goroutine that does not poll is stopped in place
			 * by a signal (preempt.c), every one at once. */
			if (sched_preempt_due(&pw))
				for (int k = i; k < sched_rt.cfg.procs; k++)
					if (&sched_rt.workers[k] != self)
						sched_preempt_signal(&sched_rt.workers[k]);
			/* The stopper is at a safepoint: say so, and visit its
			 * own stack if a visit is on, or a worker blocked in
			 * sched_ragged_barrier or sched_visit_stacks waits for
			 * us while we wait for it. */
			if (self) {
				rcu_quiescent_state();
				if (self->cur && atomic_load_explicit(&sched_rt.visit_active, memory_order_acquire))
					sched_visit_before_switch(self->cur);
			}
			if (spins < 256 || sched_preempt_spin(&pw))
				__builtin_ia32_pause();
			else
				sched_yield();
		}
		if (trace) {
			sched_stoptrace_end(&st, w, sched_nanotime());
			st.late = false;   /* the next worker's wait counts from the stop's start */
		}
	}
	if (self)
		self->stats.stw++;
}

void sched_start_the_world(void)
{
	atomic_store(&sched_rt.stw_pending, 0);
	__atomic_store_n(&sched_rt.stw_owner, NULL, __ATOMIC_RELEASE);
	poll_word_add(-1);
	atomic_fetch_add(&sched_rt.stw_gen, 1);
	sched_futex_wake(&sched_rt.stw_gen, INT_MAX);
	sched_chaos_point();
	if (sched_rt.cfg.stoptrace_us)
		sched_stoptrace_flush();
	__atomic_store_n(&sched_rt.stw_lock, 0, __ATOMIC_RELEASE);
}

/* --- ragged barrier ------------------------------------------------------------ */

void sched_ragged_barrier(void)
{
	poll_word_add(1);
	sched_preempt_ragged(1);   /* goroutines that do not poll report at a signal */
	synchronize_rcu();
	sched_preempt_ragged(-1);
	poll_word_add(-1);
}

/* --- the safepoint slow paths --------------------------------------------------- */

/* On g0, in the scheduling loop. */
void sched_safepoint_g0(struct sched_worker *w)
{
	while (atomic_load(&sched_rt.stw_pending) && !stw_is_owner(w))
		sched_stw_park(w);
	rcu_quiescent_state();
}

/* On a goroutine (w->cur), at sched_poll or at an asynchronous safe point
 * (preempt.c). A running visit goes first: its visitor may be a goroutine
 * whose worker a stopper waits for while it waits for us. After a stop,
 * again: a visit may have begun meanwhile. */
unsigned sched_safepoint_g(struct sched_worker *w)
{
	unsigned did = 0;
	for (;;) {
		if (atomic_load_explicit(&sched_rt.visit_active, memory_order_acquire) &&
		    sched_visit_before_switch(w->cur))
			did |= SCHED_SAFEPOINT_VISITED;
		/* Not on shutdown: a stop holds through it (see above). */
		if (!atomic_load(&sched_rt.stw_pending) || stw_is_owner(w))
			break;
		stw_park_g(w);
		did |= SCHED_SAFEPOINT_STOPPED;
	}
	rcu_quiescent_state();
	return did;
}

/* On a goroutine, from sched_poll(). Not inlined into callers: it reads the
 * worker after possibly switching. */
__attribute__((noinline)) void sched_poll_slow(void)
{
	struct sched_worker *w = sched_worker_self();
	if (!w || !w->cur)
		return;
	sched_safepoint_g(w);
	/* The stopper keeps its worker until it restarts the world: a yield
	 * here would run this worker's other goroutines in the stopped world. */
	if (stw_is_owner(w))
		return;
	if (atomic_load_explicit(&w->preempt, memory_order_relaxed) || atomic_load(&sched_rt.shutdown)) {
		sched_preempt_clear(w);
		sched_switch_out(w, SCHED_OP_PREEMPT);
	}
}

/* --- stack visits ------------------------------------------------------------------ */

static int visit_lock;

/* Hands [lo, hi) to the visitor. A conservative scan reads every word,
 * initialised or not: tell valgrind that is intended. The visitor is a
 * callout: not an asynchronous safe point (a second visit, or a stop while
 * visit_lock is held, would begin inside it). */
static void visit_range(struct sched_g *g, const void *lo, const void *hi)
{
	struct sched_worker *w = sched_worker_self();
	VALGRIND_MAKE_MEM_DEFINED(lo, (size_t)((const char *)hi - (const char *)lo));
	sched_callout_begin(w);
	sched_rt.visit_fn(g, lo, hi, sched_rt.visit_arg);
	sched_callout_end(w);
}

static bool needs_visit(struct sched_g *g, uint32_t epoch)
{
	return atomic_load_explicit(&g->scanned_epoch, memory_order_acquire) != epoch;
}

static void visit_done(struct sched_g *g, uint32_t epoch)
{
	atomic_store_explicit(&g->scanned_epoch, epoch, memory_order_release);
}

static void self_visit(void *sp, void *arg)
{
	struct sched_g *g = arg;
	visit_range(g, sp, sched_stack_top(g));
}

/* On a running goroutine (its only visitor). */
bool sched_visit_before_switch(struct sched_g *g)
{
	uint32_t epoch = atomic_load_explicit(&sched_rt.visit_epoch, memory_order_acquire);
	if (!atomic_load(&sched_rt.visit_active) || !needs_visit(g, epoch))
		return false;
	sched_ctx_spill(self_visit, g);
	visit_done(g, epoch);
	return true;
}

/* On g0, for g that is RUNNING but not yet switched to (its only visitor). */
void sched_visit_before_execute(struct sched_g *g)
{
	uint32_t epoch = atomic_load_explicit(&sched_rt.visit_epoch, memory_order_acquire);
	if (!atomic_load(&sched_rt.visit_active) || !needs_visit(g, epoch))
		return;
	visit_range(g, g->sp, sched_stack_top(g));
	visit_done(g, epoch);
}

/* Tries to visit a goroutine that is not running. Returns true when g needs
 * nothing more from the visitor (visited, free, dead, or covered by others). */
static bool try_visit_parked(struct sched_g *g, uint32_t epoch)
{
	for (;;) {
		if (!needs_visit(g, epoch))
			return true;
		uint32_t s = atomic_load_explicit(&g->status, memory_order_acquire);
		switch (s) {
		case SCHED_G_FREE:
		case SCHED_G_DEAD:
			return true;
		case SCHED_G_RUNNING:
			return false;
		case SCHED_G_RUNNABLE:
		case SCHED_G_WAITING:
			if (!sched_g_cas(g, s, s | SCHED_G_SCAN))
				continue;
			if (needs_visit(g, epoch)) {
				visit_range(g, g->sp, sched_stack_top(g));
				visit_done(g, epoch);
			}
			sched_g_cas(g, s | SCHED_G_SCAN, s);
			return true;
		default: /* someone else holds the scan bit */
			sched_yield();
			continue;
		}
	}
}

/* Signals the workers that run a goroutine still to be visited. */
static void signal_runners(uint32_t epoch)
{
	for (int i = 0; i < sched_rt.cfg.procs; i++) {
		struct sched_worker *w = &sched_rt.workers[i];
		struct sched_g *g = __atomic_load_n(&w->cur, __ATOMIC_RELAXED);
		if (g && needs_visit(g, epoch))
			sched_preempt_signal(w);
	}
}

/* Both visits begin by spilling the caller's registers, before their own
 * frames hold anything but their arguments, and visit the caller's stack
 * from that spill: the visits' own frames lie below it and are not scanned.
 * They hold whatever earlier, deeper calls left in them, such as addresses
 * the collector's controller had just marked; scanned, those kept their
 * objects alive cycle after cycle (a Debug build's chat smoke run kept one
 * connection so through 20 forced cycles). */
struct visit_call {
	sched_stack_visitor visit;
	void *arg;
};

static void visit_running_world(void *sp, void *p)
{
	const struct visit_call *c = p;
	sched_spin_lock(&visit_lock);
	sched_rt.visit_fn = c->visit;
	sched_rt.visit_arg = c->arg;
	uint32_t epoch = atomic_fetch_add(&sched_rt.visit_epoch, 1) + 1;
	atomic_store(&sched_rt.visit_active, 1);
	poll_word_add(1);

	struct sched_g *self = sched_self();
	if (self && needs_visit(self, epoch)) {
		visit_range(self, sp, sched_stack_top(self));
		visit_done(self, epoch);
	}

	size_t n = sched_stack_high_water();
	size_t npending = 0, cap = 0;
	size_t *pending = NULL;
	for (size_t i = 0; i < n; i++) {
		struct sched_g *g = sched_stack_g(i);
		if (try_visit_parked(g, epoch))
			continue;
		if (npending == cap) {
			cap = cap ? cap * 2 : 64;
			size_t *q = realloc(pending, cap * sizeof *q);
			if (!q)
				sched_fatal("out of memory in sched_visit_stacks");
			pending = q;
		}
		pending[npending++] = i;
	}
	/* Running goroutines visit themselves at their next safepoint (one
	 * that does not poll, at a signal: preempt.c); if one parks first, we
	 * do it. One that stopped for another goroutine's stop-the-world
	 * before it saw the visit visits itself only when that world runs
	 * again, and the stopper waits for this worker: so the visitor stops
	 * too (its own stack is visited already). */
	struct sched_preempt_wait pw;
	sched_preempt_wait_init(&pw);
	struct sched_worker *self_w = sched_worker_self();
	for (size_t k = 0; k < npending; k++) {
		struct sched_g *g = sched_stack_g(pending[k]);
		for (unsigned spins = 0; !try_visit_parked(g, epoch); spins++) {
			if (self_w && atomic_load(&sched_rt.stw_pending) && !stw_is_owner(self_w))
				stw_park_g(self_w);
			if (sched_preempt_due(&pw))
				signal_runners(epoch);
			if (spins < 128 || sched_preempt_spin(&pw))
				__builtin_ia32_pause();
			else
				sched_yield();
		}
	}
	free(pending);
	atomic_store(&sched_rt.visit_active, 0);
	poll_word_add(-1);
	sched_spin_unlock(&visit_lock);
}

void sched_visit_stacks(sched_stack_visitor visit, void *arg)
{
	struct visit_call c = {visit, arg};
	sched_ctx_spill(visit_running_world, &c);
}

/* With the world stopped every goroutine but the caller is off its worker
 * (RUNNABLE or WAITING, its sp saved by the switch) or stopped at a
 * safepoint on its own stack (RUNNING, stop_sp set). */
static void visit_stopped_world(void *sp, void *p)
{
	const struct visit_call *c = p;
	sched_spin_lock(&visit_lock);
	sched_rt.visit_fn = c->visit;
	sched_rt.visit_arg = c->arg;
	struct sched_g *self = sched_self();
	if (self)
		visit_range(self, sp, sched_stack_top(self));
	size_t n = sched_stack_high_water();
	for (size_t i = 0; i < n; i++) {
		struct sched_g *g = sched_stack_g(i);
		if (g == self)
			continue;
		uint32_t s = atomic_load_explicit(&g->status, memory_order_acquire) & ~SCHED_G_SCAN;
		switch (s) {
		case SCHED_G_RUNNABLE:
		case SCHED_G_WAITING:
			visit_range(g, g->sp, sched_stack_top(g));
			break;
		case SCHED_G_RUNNING:
			if (!g->stop_sp) {
				/* Which worker runs it, and in what state: what a
				 * report of this breach needs. */
				int on = -1, active = -1, owner = -1;
				for (int k = 0; k < sched_rt.cfg.procs; k++) {
					struct sched_worker *v = &sched_rt.workers[k];
					if (__atomic_load_n(&v->cur, __ATOMIC_RELAXED) == g || v->prev == g) {
						on = k;
						active = atomic_load(&v->active);
					}
					if (__atomic_load_n(&sched_rt.stw_owner, __ATOMIC_RELAXED) == v)
						owner = k;
				}
				sched_fatal("sched_visit_stacks_stopped: goroutine %llu runs in a stopped world "
					    "(worker %d, active %d, its cur %s, wait reason %s; the stopper is on worker %d)",
					    (unsigned long long)g->id, on, active,
					    on >= 0 && sched_rt.workers[on].cur == g ? "is it" : "is not it (prev)",
					    g->wait_reason ? g->wait_reason : "none", owner);
			}
			visit_range(g, g->stop_sp, sched_stack_top(g));
			break;
		default:
			break;
		}
	}
	sched_spin_unlock(&visit_lock);
}

void sched_visit_stacks_stopped(sched_stack_visitor visit, void *arg)
{
	if (!atomic_load(&sched_rt.stw_pending))
		sched_fatal("sched_visit_stacks_stopped: the world is not stopped");
	struct visit_call c = {visit, arg};
	sched_ctx_spill(visit_stopped_world, &c);
}
