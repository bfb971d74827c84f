/*
 * sched.c — workers, goroutine life cycle, the scheduling loop.
 *
 * Every worker runs worker_main on its thread's own stack (its g0). A
 * goroutine that leaves its stack (yield, park, exit) records the request in
 * w->prev / w->prev_op and switches straight to the next goroutine of its
 * worker's local queue when it may (direct_ok), else to g0. Whoever runs next
 * carries the request out (finish_prev): requeue, park commit, stack free.
 * This keeps Go's mcall guarantee — the commit callback that publishes "I am
 * waiting on X" runs only after the goroutine's registers are saved, so a
 * waker on another worker can never resume a half-parked stack — with one
 * context switch per hand-off instead of two.
 *
 * Finding work (find_runnable), in order: local run queue (runnext first),
 * global queue, the network poller (non-blocking), stealing half of another
 * worker's queue, then sleeping (idle.c: the spinning protocol, Go's). The
 * runtime's life and the monitor are runtime.c.
 *
 * Lock order: sched_rt.idle_lock is a leaf; run queues are lock-free; the
 * global queue's dequeue takes its internal mutex (a leaf).
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <urcu-qsbr.h>

#include "internal.h"

struct sched sched_rt;
__thread struct sched_worker *sched_tls_worker;
__thread int sched_tls_worker_index = -1;
int sched_poll_word;

const char *const sched_gstatus_names[] = {"free", "runnable", "running", "waiting", "dead"};

_Atomic int sched_monitor_sleeping;

/* --- goroutine states --------------------------------------------------------- */

static bool legal_transition(uint32_t from, uint32_t to)
{
	switch (from) {
	case SCHED_G_FREE:
		return to == SCHED_G_RUNNABLE;
	case SCHED_G_RUNNABLE:
		return to == SCHED_G_RUNNING || to == (SCHED_G_RUNNABLE | SCHED_G_SCAN);
	case SCHED_G_RUNNING:
		return to == SCHED_G_RUNNABLE || to == SCHED_G_WAITING || to == SCHED_G_DEAD;
	case SCHED_G_WAITING:
		return to == SCHED_G_RUNNABLE || to == (SCHED_G_WAITING | SCHED_G_SCAN);
	case SCHED_G_DEAD:
		return to == SCHED_G_FREE;
	case SCHED_G_RUNNABLE | SCHED_G_SCAN:
	case SCHED_G_WAITING | SCHED_G_SCAN:
		return to == (from & ~SCHED_G_SCAN);
	default:
		return false;
	}
}

/* The one way to change a goroutine's status. Returns false if g was not in
 * `from`. Transitions are checked in checked builds. */
bool sched_g_cas(struct sched_g *g, uint32_t from, uint32_t to)
{
	SCHED_CHECK(legal_transition(from, to));
	return atomic_compare_exchange_strong_explicit(&g->status, &from, to, memory_order_acq_rel,
						       memory_order_acquire);
}

/* Moves g from `from` to `to`, waiting while a stack visitor holds it. */
static void g_transition(struct sched_g *g, uint32_t from, uint32_t to)
{
	for (unsigned spins = 0; !sched_g_cas(g, from, to); spins++) {
		uint32_t s = atomic_load_explicit(&g->status, memory_order_relaxed);
		if (s == from)
			continue; /* the visitor let go between the CAS and the load */
		if (s != (from | SCHED_G_SCAN))
			sched_fatal("goroutine %llu: status %s (%#x), expected %s",
				    (unsigned long long)g->id,
				    sched_gstatus_names[(s & 0xff) < 5 ? (s & 0xff) : 0], s,
				    sched_gstatus_names[from]);
		if (spins > 64)
			sched_yield();
		else
			__builtin_ia32_pause();
	}
}

/* --- run queues ----------------------------------------------------------------- */

static void gq_put(struct sched_g *g)
{
	cds_wfcq_node_init(&g->gq_node);
	cds_wfcq_enqueue(&sched_rt.gq_head, &sched_rt.gq_tail, &g->gq_node);
	atomic_fetch_add_explicit(&sched_rt.gq_len, 1, memory_order_relaxed);
}

bool sched_gq_empty(void)
{
	return cds_wfcq_empty(&sched_rt.gq_head, &sched_rt.gq_tail);
}

/* Takes one goroutine to run and moves a fair share more into w's queue. */
static struct sched_g *gq_get(struct sched_worker *w)
{
	if (sched_gq_empty())
		return NULL;
	uint64_t len = atomic_load_explicit(&sched_rt.gq_len, memory_order_relaxed);
	uint64_t want = len / (uint64_t)sched_rt.cfg.procs + 1;
	if (want > SCHED_RUNQ_SIZE / 2)
		want = SCHED_RUNQ_SIZE / 2;
	struct sched_g *first = NULL;
	for (uint64_t i = 0; i < want; i++) {
		struct cds_wfcq_node *n = cds_wfcq_dequeue_blocking(&sched_rt.gq_head, &sched_rt.gq_tail);
		if (!n)
			break;
		atomic_fetch_sub_explicit(&sched_rt.gq_len, 1, memory_order_relaxed);
		struct sched_g *g = caa_container_of(n, struct sched_g, gq_node);
		if (!first)
			first = g;
		else if (!sched_runq_push(&w->runq, g))
			gq_put(g);
	}
	return first;
}

/* Puts g on w's queue; next: into runnext (the previous occupant moves to the
 * ring). A full ring spills half of itself to the global queue. */
static void runq_put(struct sched_worker *w, struct sched_g *g, bool next)
{
	if (next) {
		g = atomic_exchange_explicit(&w->runq.next, g, memory_order_release);
		if (!g)
			return;
	}
	if (sched_runq_push(&w->runq, g))
		return;
	struct sched_g *batch;
	uint32_t n = sched_runq_spill(&w->runq, g, &batch);
	while (n--) {
		struct sched_g *x = batch;
		batch = x->next;
		gq_put(x);
	}
}

/* Makes a batch (linked by ->next) runnable: on this worker's queue if we are
 * a worker, else on the global queue; wakes helpers for the rest. */
void sched_ready_batch(struct sched_g *list, uint32_t n)
{
	struct sched_worker *w = sched_worker_self();
	while (list) {
		struct sched_g *g = list;
		list = g->next;
		if (w)
			runq_put(w, g, false);
		else
			gq_put(g);
	}
	for (uint32_t i = 0; i < n && atomic_load(&sched_rt.nidle) > 0; i++)
		sched_wakep();
}

void sched_ready(struct sched_g *g)
{
	g_transition(g, SCHED_G_WAITING, SCHED_G_RUNNABLE);
	struct sched_worker *w = sched_worker_self();
	if (w) {
		runq_put(w, g, true);
		/* An urgent goroutine runs next here: the goroutine that
		 * readied it (if one runs on this worker) yields at its next
		 * poll, as Go's scheduler puts a GC worker ahead of the queue. */
		if (g->urgent && w->cur)
			sched_preempt_request(w);
	} else {
		gq_put(g);
	}
	sched_wakep();
}

void sched_set_urgent(bool on)
{
	struct sched_worker *w = sched_worker_self();
	if (w && w->cur)
		w->cur->urgent = on;
}

/* Every 61st tick the global queue goes first, so goroutines that keep a
 * local queue busy cannot starve it (Go's rule); direct hand-offs are off on
 * those ticks so the worker passes through find_runnable. */
static inline bool fairness_tick(struct sched_worker *w)
{
	return atomic_load_explicit(&w->schedtick, memory_order_relaxed) % 61 == 0;
}

/* --- finding work ------------------------------------------------------------------- */

static struct sched_g *steal_work(struct sched_worker *w)
{
	int procs = sched_rt.cfg.procs;
	for (int round = 0; round < 4; round++) {
		bool last = round == 3;
		int start = (int)(sched_rand(w) % (uint64_t)procs);
		for (int k = 0; k < procs; k++) {
			struct sched_worker *v = &sched_rt.workers[(start + k) % procs];
			if (v == w)
				continue;
			if (last && atomic_load_explicit(&v->runq.next, memory_order_relaxed)) {
				/* Give the victim ~3us to run its runnext itself (Go). */
				uint64_t tick = atomic_load(&v->schedtick);
				int64_t until = sched_nanotime() + 3000;
				while (sched_nanotime() < until && atomic_load(&v->schedtick) == tick)
					__builtin_ia32_pause();
			}
			struct sched_g *g = sched_runq_steal(&w->runq, &v->runq, last);
			if (g) {
				w->stats.steals++;
				return g;
			}
		}
	}
	return NULL;
}

static struct sched_g *find_runnable(struct sched_worker *w)
{
	struct sched_g *g;
	for (;;) {
		if (atomic_load_explicit(&sched_rt.shutdown, memory_order_relaxed))
			return NULL;
		/* seq_cst: after worker_sleep's store of active = 1, this load
		 * must not be hoisted above it (the stop-the-world Dekker pair,
		 * safepoint.c); a plain mov on x86. */
		if (__atomic_load_n(&sched_poll_word, __ATOMIC_SEQ_CST))
			sched_safepoint_g0(w);
		int64_t next = sched_timers_next();
		if (next != INT64_MAX && next <= sched_nanotime())
			sched_timers_run(sched_nanotime());
		if (fairness_tick(w) && (g = gq_get(w)))
			goto found;
		if ((g = sched_runq_pop(&w->runq)) || (g = gq_get(w)))
			goto found;
		if (sched_netpoll_waiting() && !atomic_load(&sched_rt.poller_busy)) {
			struct sched_g *batch = NULL;
			uint32_t n = sched_netpoll(0, &batch);
			if (n) {
				g = batch;
				sched_inject(w, batch->next, n - 1);
				goto found;
			}
		}
		int procs = sched_rt.cfg.procs;
		if (procs > 1 && (w->spinning || 2 * atomic_load(&sched_rt.nspinning) <
							 procs - atomic_load(&sched_rt.nidle))) {
			if (!w->spinning) {
				w->spinning = true;
				atomic_fetch_add(&sched_rt.nspinning, 1);
			}
			if ((g = steal_work(w)) || (g = gq_get(w)))
				goto found;
		}
		sched_worker_sleep(w);
	}
found:
	if (w->spinning) {
		w->spinning = false;
		/* The last spinner found work: there may be more, keep one looking. */
		if (atomic_fetch_sub(&sched_rt.nspinning, 1) == 1)
			sched_wakep();
	}
	return g;
}

/* --- switching ---------------------------------------------------------------------- */

/* Transitions out of RUNNING are made only by the worker running the g, and
 * no visitor sets SCHED_G_SCAN on a RUNNING g: a release store suffices. */
static inline void g_leave_running(struct sched_g *g, uint32_t to)
{
	SCHED_CHECK(atomic_load_explicit(&g->status, memory_order_relaxed) == SCHED_G_RUNNING);
	atomic_store_explicit(&g->status, to, memory_order_release);
}

/* g has just become RUNNING on w: bookkeeping before switching to it. */
static inline void prepare_execute(struct sched_worker *w, struct sched_g *g)
{
	if (atomic_load_explicit(&sched_rt.visit_active, memory_order_relaxed))
		sched_visit_before_execute(g);
	sched_preempt_clear(w);
	w->cur = g;
	atomic_store_explicit(&w->schedtick, w->schedtick + 1, memory_order_relaxed);
	w->stats.switches++;
}

/* Carries out the request of the goroutine that last left this worker. Runs
 * on the next goroutine's stack or on g0, never on the one it concerns. */
static void finish_prev(struct sched_worker *w)
{
	struct sched_g *g = w->prev;
	if (!g)
		return;
	w->prev = NULL;
	switch (w->prev_op) {
	case SCHED_OP_YIELD:
	case SCHED_OP_PREEMPT:
		g_leave_running(g, SCHED_G_RUNNABLE);
		runq_put(w, g, false);
		return;
	case SCHED_OP_PARK:
		sched_chaos_point();
		g_leave_running(g, SCHED_G_WAITING);
		sched_callout_begin(w);
		bool committed = w->park_commit(g, w->park_arg);
		sched_callout_end(w);
		if (committed)
			return;
		/* The event came first: run it again next. */
		g_transition(g, SCHED_G_WAITING, SCHED_G_RUNNABLE);
		runq_put(w, g, true);
		return;
	case SCHED_OP_EXIT:
		g_leave_running(g, SCHED_G_DEAD);
		sched_san_unpoison(g->sp, (size_t)((char *)sched_stack_top(g) - (char *)g->sp));
		w->stats.exited++;
		g->id = 0;
		g_transition(g, SCHED_G_DEAD, SCHED_G_FREE);
		sched_stack_free(w, g);
		return;
	case SCHED_OP_NONE:
		break;
	}
	sched_fatal("goroutine left its stack without a request");
}

/* May a goroutine hand its worker straight to the next local goroutine?
 * Not when a safepoint request is pending, every 61st switch (so the global
 * queue is not starved, as in Go), nor every 8th while timers are armed (g0
 * checks them). */
static inline bool direct_ok(struct sched_worker *w)
{
	if (__atomic_load_n(&sched_poll_word, __ATOMIC_RELAXED) || fairness_tick(w))
		return false;
	return (atomic_load_explicit(&w->schedtick, memory_order_relaxed) & 7) != 0 ||
	       sched_timers_next() == INT64_MAX;
}

/* Called on a goroutine: leave its stack with request op. Returns when the
 * goroutine is resumed, possibly on another worker. */
void sched_switch_out(struct sched_worker *w, enum sched_op op)
{
	struct sched_g *g = w->cur;
	/* A stopper that left its worker would let the worker's other
	 * goroutines run in its stopped world (safepoint.c). */
	if (TOC_CHECK_LEVEL >= 1 && __atomic_load_n(&sched_rt.stw_owner, __ATOMIC_RELAXED) == w)
		sched_fatal("goroutine %llu left its worker with the world stopped",
			    (unsigned long long)g->id);
	if (atomic_load_explicit(&sched_rt.visit_active, memory_order_relaxed))
		sched_visit_before_switch(g);
	if (op == SCHED_OP_PARK && sched_rt.hooks.park)
		sched_rt.hooks.park(g);
	if (g->account)
		sched_account_stop(w, g);
	w->prev = g;
	w->prev_op = op;
	void **fake = op == SCHED_OP_EXIT ? NULL : &g->asan_fake_stack;
	struct sched_g *next =
		op != SCHED_OP_PREEMPT && direct_ok(w) ? sched_runq_pop(&w->runq) : NULL;
	sched_chaos_point();
	if (next) {
		g_transition(next, SCHED_G_RUNNABLE, SCHED_G_RUNNING);
		prepare_execute(w, next);
		sched_san_start_switch_g(fake, next);
		sched_ctx_switch(&g->sp, next->sp);
	} else {
		w->cur = NULL;
		sched_san_start_switch(fake, w->g0_stack_lo, w->g0_stack_size);
		sched_ctx_switch(&g->sp, w->g0_sp);
	}
	/* Resumed: by g0's execute or by a goroutine handing over directly. */
	w = sched_worker_self();
	sched_san_finish_switch(g->asan_fake_stack);
	finish_prev(w);
	if (g->account)
		sched_account_restart(g);
	if (sched_rt.hooks.resume)
		sched_rt.hooks.resume(g);
}

void sched_g_main(struct sched_g *g)
{
	sched_san_finish_switch(NULL);
	finish_prev(sched_worker_self());
	if (sched_rt.hooks.resume)
		sched_rt.hooks.resume(g);
	g->fn(g->arg);
	sched_exit();
}

_Noreturn void sched_exit(void)
{
	struct sched_worker *w = sched_worker_self();
	if (!w || !w->cur)
		sched_fatal("sched_exit called outside a goroutine");
	if (sched_rt.hooks.exit)
		sched_rt.hooks.exit(w->cur);
	sched_switch_out(w, SCHED_OP_EXIT);
	sched_fatal("dead goroutine resumed");
}

void sched_gosched(void)
{
	struct sched_worker *w = sched_worker_self();
	if (!w || !w->cur)
		return;
	sched_switch_out(w, SCHED_OP_YIELD);
}

void sched_park(bool (*commit)(struct sched_g *, void *), void *arg, const char *reason)
{
	struct sched_worker *w = sched_worker_self();
	if (!w || !w->cur)
		sched_fatal("sched_park called outside a goroutine (%s)", reason);
	w->park_commit = commit;
	w->park_arg = arg;
	w->cur->wait_reason = reason;
	w->stats.parks++;
	sched_switch_out(w, SCHED_OP_PARK);
}

static __thread void *g0_fake_stack;

/* From g0: runs g until the worker comes back to g0, then finishes the
 * request of the goroutine that came back. */
static void execute(struct sched_worker *w, struct sched_g *g)
{
	g_transition(g, SCHED_G_RUNNABLE, SCHED_G_RUNNING);
	prepare_execute(w, g);
	sched_san_start_switch_g(&g0_fake_stack, g);
	sched_ctx_switch(&w->g0_sp, g->sp);
	sched_san_finish_switch(g0_fake_stack);
	finish_prev(w);
}

/* --- spawning ------------------------------------------------------------------------ */

uint64_t sched_go(void (*fn)(void *), void *arg)
{
	if (!atomic_load(&sched_rt.running)) {
		errno = ESRCH;
		return 0;
	}
	struct sched_worker *w = sched_worker_self();
	/* Backpressure: rather than commit a brand-new stack (a guard install
	 * and a page fault), let the goroutines waiting here run first; they
	 * exit and hand back warm slots. If that freed nothing (they are
	 * long-lived), make the next 64 stacks without yielding: at most one
	 * wasted yield per 64 fresh stacks. */
	if (w && w->cur && !sched_stack_has_free(w)) {
		if (w->spawn_no_yield) {
			w->spawn_no_yield--;
		} else if (!sched_runq_empty(&w->runq)) {
			/* The spawner goes to the ring, where a helper can take
			 * it: wake one. Without this, a spawner that yields at
			 * every spawn (one stack free, taken by each new
			 * goroutine) runs its goroutines one after another on
			 * this worker, with never more than the new goroutine
			 * in the queue (in runnext, which the rule below does
			 * not wake for) while the other workers sleep: in 14
			 * of 20 runs of the spawn driver one worker ran every
			 * request. */
			sched_wakep();
			sched_gosched();
			w = sched_worker_self();
			if (!sched_stack_has_free(w))
				w->spawn_no_yield = 64;
		}
	}
	struct sched_g *g = sched_stack_alloc(w);
	if (!g)
		return 0;
	uint64_t id = atomic_fetch_add_explicit(&sched_rt.next_id, 1, memory_order_relaxed);
	g->id = id;
	g->fn = fn;
	g->arg = arg;
	g->slot = NULL;
	g->next = NULL;
	g->param = NULL;
	g->wait_reason = NULL;
	g->asan_fake_stack = NULL;
	g->account = 0;
	g->account_own = 0;
	g->urgent = false;
	atomic_store_explicit(&g->select_done, 0, memory_order_relaxed);
	atomic_store_explicit(&g->scanned_epoch, atomic_load(&sched_rt.visit_epoch),
			      memory_order_relaxed);
	/* Initial frame, popped by sched_ctx_switch: r15 r14 r13 r12 rbx rbp ret. */
	void **sp = (void **)sched_stack_top(g);
	*--sp = (void *)sched_ctx_entry;
	for (int i = 0; i < 6; i++)
		*--sp = NULL;
	sp[3] = g; /* r12 */
	g->sp = sp;
	if (sched_rt.hooks.spawn)
		sched_rt.hooks.spawn(w ? w->cur : NULL, g);
	g_transition(g, SCHED_G_FREE, SCHED_G_RUNNABLE);
	if (w) {
		w->stats.spawned++;
		runq_put(w, g, true);
		/* The new goroutine sits in runnext, which thieves leave alone for a
		 * while: wake a helper only when the ring holds stealable work. */
		if (sched_runq_len(&w->runq) > 1)
			sched_wakep();
	} else {
		atomic_fetch_add(&sched_rt.spawned_from_threads, 1);
		gq_put(g);
		sched_wakep();
	}
	return id;
}

/* Out of line on purpose: each call looks errno up on the current thread. */
__attribute__((noinline)) int sched_errno(void)
{
	__asm__ volatile("");
	return errno;
}

__attribute__((noinline)) void sched_set_errno(int e)
{
	__asm__ volatile("");
	errno = e;
}

struct sched_g *sched_self(void)
{
	struct sched_worker *w = sched_worker_self();
	return w ? w->cur : NULL;
}

uint64_t sched_g_id(const struct sched_g *g)
{
	return g->id;
}

void **sched_g_slot(struct sched_g *g)
{
	return &g->slot;
}

void *sched_g_arg(const struct sched_g *g)
{
	return g->arg;
}

void *sched_g_stack_top(const struct sched_g *g)
{
	return sched_stack_top(g);
}

int sched_procs(void)
{
	return atomic_load(&sched_rt.running) ? sched_rt.cfg.procs : 0;
}

void sched_set_hooks(const struct sched_hooks *hooks)
{
	if (hooks)
		sched_rt.hooks = *hooks;
	else
		memset(&sched_rt.hooks, 0, sizeof sched_rt.hooks);
}

/* --- the scheduling loop --------------------------------------------------------------- */

void sched_schedule(struct sched_worker *w)
{
	struct sched_g *g;
	while ((g = find_runnable(w)))
		execute(w, g);
}
