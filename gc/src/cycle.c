/*
 * cycle.c — the collection cycle (Go's mgc.go), in two modes from one code
 * path: cms (concurrent) and stw (everything with the world stopped).
 *
 * A cycle, run by the controller goroutine (DESIGN.md §5):
 *   1. Sweep termination. Finish sweeping the last cycle's spans (on the
 *      controller, concurrently), then stop the world briefly: reset the
 *      cycle's counters, compute the assist ratio, set phase MARK and
 *      allocate-black. Start the world.
 *   2. Mark (cms). Turn the write barrier on and wait for a ragged
 *      safepoint (every worker passed a safepoint, so every goroutine sees
 *      it before any root is scanned). Scan roots: registered roots,
 *      finalizer roots, the finalizer queue, then every goroutine stack
 *      once (sched_visit_stacks: parked ones here, running ones by
 *      themselves at their next safepoint). Background workers (the
 *      controller and ceil(procs * 25%) - 1 more goroutines) drain gray
 *      objects at their CPU share; allocating goroutines pay assists in
 *      proportion to what they allocate. With the hybrid barrier (shade
 *      old and new on every heap pointer store) stacks are never rescanned.
 *   3. Mark termination. When no marker holds work and the global lists
 *      are empty, stop the world; flush each worker's barrier buffer; if
 *      that found work, start the world and go on marking (Go's mark-done
 *      restart). Otherwise, still stopped: barrier and allocate-black off,
 *      verify (TOC_GCVERIFY), record the marked bytes, flip sweepgen, empty
 *      the caches onto the unswept lists, set the next goal. Start the world.
 *   4. Sweep: lazily by allocators and by the background sweeper.
 * In stw mode step 2 happens inside the stop of step 3.
 *
 * Who runs when. The controller and the background workers are urgent
 * goroutines (sched_set_urgent): readied by a trigger or a timer, they run
 * at the next poll of the goroutine on their worker, as Go puts its GC
 * workers ahead of the run queue; a background worker then drains until it
 * has used its share of the mark's wall time and sleeps the excess off. A
 * heap trigger is tested again before a cycle starts (Go's gcStart does):
 * a request left over from the last cycle's sweep must not start another
 * cycle. An allocator past the goal waits for the mark to begin, and during
 * the mark drains until it ends (Go's assist queue): the heap at mark end
 * stays within GC_HARD_GOAL_FACTOR of the goal however little CPU the
 * collector gets.
 *
 * CPU accounting. Every piece of collector work runs with a scheduler CPU
 * account open (GC_ACCT_* in internal.h): assists, background drains and
 * root scans, sweeps, and the stopper's work while the world is stopped.
 * The scheduler stops the clock whenever the goroutine is switched out, so
 * a drain that polls and resumes elsewhere is charged its own time only.
 *
 * Stop-the-world work is bounded by the number of workers and size
 * classes: never by goroutines (their stacks are scanned concurrently),
 * finalizers (swept and run concurrently) or the heap (swept lazily).
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "sched/chan.h"
#include "sched/sync.h"

struct gc_state gc_st;
int gc_barrier_on;
const struct gc_layer *gc_layer;
size_t gc_local_large_pages;
static const struct gc_layer *registered_layer;

void gc_register_layer(const struct gc_layer *layer)
{
	registered_layer = layer;
}
const char *const gc_phase_names[] = {"off", "mark", "markterm"};

static struct sched_chan *ctl_wake;     /* token: want_cycle was set */
static struct sched_chan *sweep_wake;   /* token: a flip happened */
static _Atomic int services_started;
static _Atomic int forced_pending;
static struct sched_mutex services_lock;
static int64_t start_ns;                /* gc_init time, for gctrace */

/* --- stop-the-world with timing ------------------------------------------------------ */

static int64_t stw_t0;
static int stw_prev_account;   /* the stopper's account before the stop; one stopper at a time */

/* The stopper's CPU from the stop request to the release is pause CPU
 * (waiting for the workers included). */
static void stw_begin(void)
{
	stw_prev_account = sched_account_swap(GC_ACCT_PAUSE);
	stw_t0 = sched_nanotime();
	sched_stop_the_world();
	gc_record_ttsp((uint64_t)(sched_nanotime() - stw_t0));
}

/* The pause ends when the world is released: timed before the wake-ups,
 * whose return to this thread can wait a whole scheduler tick (a woken
 * worker preempts the waker) while the goroutines already run. */
static uint64_t stw_end(void)
{
	uint64_t ns = (uint64_t)(sched_nanotime() - stw_t0);
	sched_start_the_world();
	sched_account_swap(stw_prev_account);
	gc_record_pause(ns);
	return ns;
}

/* --- services ---------------------------------------------------------------------------- */

static void controller_main(void *arg);

static void ensure_started(void)
{
	if (atomic_load_explicit(&services_started, memory_order_acquire))
		return;
	sched_mutex_lock(&services_lock);
	if (!atomic_load(&services_started)) {
		ctl_wake = sched_chan_new(1, 1);
		sweep_wake = sched_chan_new(1, 1);
		if (!ctl_wake || !sweep_wake || !sched_go(controller_main, NULL) ||
		    !sched_go(gc_sweeper_main, sweep_wake))
			gc_fatal("cannot start the collector's goroutines");
		gc_finalizer_start();
		atomic_store_explicit(&services_started, 1, memory_order_release);
	}
	sched_mutex_unlock(&services_lock);
}

static void request_cycle(void)
{
	ensure_started();
	atomic_store(&gc_st.want_cycle, 1);
	uint8_t token = 1;
	sched_chan_trysend(ctl_wake, &token);
}

/* Go's gcTrigger{kind: heap}.test(): not marking, and the paced heap at
 * the trigger. The controller tests it again before a cycle begins, so a
 * request made while the last cycle was still sweeping (the heap was past
 * the trigger until its mark termination) does not start a second cycle
 * right after the first. */
static bool heap_trigger_test(void)
{
	return atomic_load_explicit(&gc_st.phase, memory_order_relaxed) == GC_PHASE_OFF &&
	       atomic_load(&gc_st.heap_live) >= atomic_load(&gc_st.trigger);
}

void gc_trigger_check(void)
{
	if (!heap_trigger_test())
		return;
	/* The controller is urgent: readied here, it starts the cycle at this
	 * goroutine's next poll (Go starts it on the allocating goroutine). */
	if (!atomic_load_explicit(&gc_st.want_cycle, memory_order_relaxed))
		request_cycle();
	/* An allocator already past the goal waits for the mark to begin (its
	 * assists then hold the heap at the goal): otherwise a controller slow
	 * to get a CPU lets the heap run on past the goal with no assist. */
	if (sched_self()) {
		uint64_t c0 = atomic_load(&gc_st.cycle);
		int64_t w0 = 0;
		while (atomic_load(&gc_st.phase) == GC_PHASE_OFF && atomic_load(&gc_st.cycle) == c0 &&
		       atomic_load(&gc_st.heap_live) >= atomic_load(&gc_st.goal) && !atomic_load(&gc_st.limiter_on)) {
			if (!w0)
				w0 = sched_nanotime();
			sched_sleep(20000);
		}
		if (w0)
			gc_stat_add(&gc_counters.assist_wait_ns, (uint64_t)(sched_nanotime() - w0));
	}
}

/* --- marking helpers ---------------------------------------------------------------------- */

static _Atomic uint64_t stack_bytes_cycle;

/* The marker for shading from the calling thread: this worker's barrier
 * marker, or *tmp off the workers (the caller flushes it with done_here). */
static struct gc_marker *marker_here(struct gc_marker *tmp)
{
	int w = sched_worker_index();
	if (w >= 0)
		return gc_caches[w].barrier;
	gc_marker_init(tmp, false);
	return tmp;
}

static void done_here(struct gc_marker *m, struct gc_marker *tmp)
{
	if (m == tmp)
		gc_marker_flush(tmp);
}

static void stack_visitor(struct sched_g *g, const void *lo, const void *hi, void *arg)
{
	(void)g;
	(void)arg;
	/* A mark worker or a stopper visiting keeps its account; a mutator
	 * visiting its own stack at a safepoint is assisting. */
	int prev = sched_account_swap(GC_ACCT_ASSIST);
	if (prev)
		sched_account_swap(prev);
	struct gc_marker tmp, *m = marker_here(&tmp);
	gc_scan_conservative(m, lo, hi);
	done_here(m, &tmp);
	if (!prev)
		sched_account_swap(0);
	atomic_fetch_add_explicit(&stack_bytes_cycle, (uint64_t)((const char *)hi - (const char *)lo),
				  memory_order_relaxed);
}

/* Shades p from any thread (the spawn hook may run on one). */
static void shade_anywhere(uintptr_t p)
{
	struct gc_marker tmp, *m = marker_here(&tmp);
	gc_shade(m, p);
	done_here(m, &tmp);
}

/* A goroutine spawned during mark may never be visited: its stack holds
 * only its argument, shaded here (the child is black from birth). */
static void hook_spawn(struct sched_g *parent, struct sched_g *child)
{
	if (atomic_load_explicit(&gc_st.phase, memory_order_acquire) == GC_PHASE_MARK)
		shade_anywhere((uintptr_t)sched_g_arg(child));
	if (gc_layer && gc_layer->hooks.spawn)
		gc_layer->hooks.spawn(parent, child);
}

/* The layer's other hooks run as it installed them. */
static void hook_exit(struct sched_g *g)
{
	gc_layer->hooks.exit(g);
}

static void hook_park(struct sched_g *g)
{
	gc_layer->hooks.park(g);
}

static void hook_resume(struct sched_g *g)
{
	gc_layer->hooks.resume(g);
}

/* A sent value may wait in a channel buffer whose scan already ran:
 * during the mark it is shaded here, word by word (Dijkstra's half of the
 * barrier, for the buffer as a root). */
static void hook_send(const void *elem, size_t size)
{
	if (__atomic_load_n(&gc_barrier_on, __ATOMIC_RELAXED) & GC_BARRIER_MARK) {
		struct gc_marker tmp, *m = marker_here(&tmp);
		gc_scan_conservative(m, elem, (const char *)elem + size);
		done_here(m, &tmp);
	}
	if (gc_layer && gc_layer->hooks.send)
		gc_layer->hooks.send(elem, size);
}

/* The assist ratio for the heap now (Go's revise()): every allocation of
 * a mark asks, so the ratio follows the heap between the controller's
 * updates. Sets the effective goal the ratio aims at. */
static double assist_ratio_now(void)
{
	uint64_t live = atomic_load(&gc_st.heap_live);
	uint64_t roots = atomic_load(&gc_st.stack_bytes) + gc_roots_bytes();
	uint64_t scan_last = atomic_load(&gc_st.heap_scan_last);
	struct gc_assist_in in = {
		.goal = atomic_load(&gc_st.goal),
		.triggered = atomic_load(&gc_st.triggered),
		.live = live,
		/* The first cycle has no last scan: plan for all of the heap. */
		.scan_expected = (scan_last ? scan_last : live) + roots,
		.scan_worst = live + roots,
		.scan_done = atomic_load(&gc_st.mark_scan_work),
	};
	uint64_t eff;
	double r = gc_pacer_assist_ratio(&in, &eff);
	atomic_store_explicit(&gc_st.eff_goal, eff, memory_order_relaxed);
	atomic_store_explicit(&gc_st.assist_ratio, r, memory_order_relaxed);
	return r;
}

static void update_assist_ratio(void)
{
	(void)assist_ratio_now();
}

/* Parks the caller until the mark ends or gray work shows up (Go's assist
 * queue); the wait is assist wait, not CPU. */
static void assist_wait(void)
{
	int64_t w0 = sched_nanotime();
	sched_sleep(20000);
	gc_stat_add(&gc_counters.assist_wait_ns, (uint64_t)(sched_nanotime() - w0));
}

/* Pays c's assist debt in scan work: background credit first, then
 * draining. Past the effective goal the allocator drains until the mark
 * ends, waiting when no gray work is in sight, so the heap stops growing
 * while the mark lags (unless the CPU limiter says the collector already
 * takes too much). */
void gc_assist(struct gc_cache *c)
{
	uint64_t debt = c->assist_debt;
	c->assist_debt = 0;
	if (atomic_load(&gc_st.phase) != GC_PHASE_MARK || atomic_load(&gc_st.limiter_on))
		return;
	double ratio = assist_ratio_now();
	bool over = atomic_load(&gc_st.heap_live) >= atomic_load_explicit(&gc_st.eff_goal, memory_order_relaxed);
	int64_t work = over ? INT64_MAX : (int64_t)((double)debt * ratio);
	if (work <= 0)
		return;
	if (!over) {
		/* Background credit first. */
		int64_t credit = atomic_load(&gc_st.bg_credit);
		while (credit > 0) {
			int64_t take = credit < work ? credit : work;
			if (atomic_compare_exchange_weak(&gc_st.bg_credit, &credit, credit - take)) {
				work -= take;
				break;
			}
		}
		if (work <= 0)
			return;
	}
	int prev = sched_account_swap(GC_ACCT_ASSIST);
	struct gc_marker m;
	gc_marker_init(&m, false);
	for (;;) {
		atomic_fetch_add(&gc_st.nbusy, 1);
		uint64_t done = gc_drain(&m, over ? 0 : (uint64_t)work, true);
		gc_marker_flush(&m);
		atomic_fetch_sub(&gc_st.nbusy, 1);
		if (!over || atomic_load(&gc_st.phase) != GC_PHASE_MARK || atomic_load(&gc_st.limiter_on) ||
		    atomic_load(&gc_st.heap_live) < atomic_load_explicit(&gc_st.eff_goal, memory_order_relaxed))
			break;
		if (done == 0)
			assist_wait();
	}
	sched_account_swap(prev);
}

/* --- background mark workers ------------------------------------------------------------- */

static int64_t mark_start_ns;
static double bg_fraction;     /* CPU share of each background worker */
static _Atomic int bg_alive;

/* Stops the world if marking is complete; returns true with it stopped. */
static bool mark_done(void)
{
	if (!atomic_load(&gc_st.roots_done) || atomic_load(&gc_st.nbusy) != 0 || gc_work_available())
		return false;
	stw_begin();
	bool more = gc_flush_barrier_buffers();
	if (more || gc_work_available() || atomic_load(&gc_st.nbusy) != 0) {
		stw_end();
		return false;
	}
	return true;
}

/* Drains at the worker's CPU share until marking ends. The controller
 * returns with the world stopped for mark termination. */
static void bg_mark_loop(bool controller)
{
	struct gc_marker m;
	gc_marker_init(&m, false);
	uint64_t busy = 0;
	unsigned idle_spins = 0;
	/* The account stays open across sleeps: parked, nothing is charged. */
	int prev = sched_account_swap(GC_ACCT_MARK);
	while (atomic_load(&gc_st.phase) == GC_PHASE_MARK) {
		if (controller && mark_done())
			return;   /* the world is stopped, the stop's account open (run_cycle closes it) */
		atomic_fetch_add(&gc_st.nbusy, 1);
		sched_account_swap(GC_ACCT_MARK);   /* books the time so far */
		uint64_t t0 = sched_account_own_ns();
		uint64_t scanned = gc_drain(&m, 256 * 1024, true);
		gc_marker_flush(&m);
		atomic_fetch_sub(&gc_st.nbusy, 1);
		sched_account_swap(GC_ACCT_MARK);
		busy += sched_account_own_ns() - t0;
		atomic_fetch_add(&gc_st.bg_credit, (int64_t)scanned);
		if (controller)
			update_assist_ratio();
		if (scanned == 0) {
			/* Nothing to do now: roots still being scanned, or others
			 * hold the last work. */
			if (idle_spins++ < 4)
				sched_gosched();
			else
				sched_sleep(20000);
			continue;
		}
		idle_spins = 0;
		int64_t elapsed = sched_nanotime() - mark_start_ns;
		double allowed = bg_fraction * (double)elapsed;
		/* Over its share it sleeps the excess off; under it, it goes on
		 * at once. A yield here would put it behind every mutator on the
		 * worker for a whole time slice after each chunk, and background
		 * marking would get a few percent instead of its share (the
		 * drain polls, so the monitor's time slice still applies). */
		if ((double)busy > allowed && bg_fraction < 1.0)
			sched_sleep((int64_t)(((double)busy - allowed) / bg_fraction));
	}
	sched_account_swap(prev);
}

static void bg_worker_main(void *arg)
{
	(void)arg;
	sched_set_urgent(true);
	bg_mark_loop(false);
	atomic_fetch_sub(&bg_alive, 1);
}

/* --- the cycle ---------------------------------------------------------------------------- */

static double mb(uint64_t b)
{
	return (double)b / 1048576.0;
}

static uint64_t process_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Feeds the cons/mark history with a finished mark (the controller, world
 * stopped) and returns the sample. */
static double cons_mark_update(uint64_t heap_start, uint64_t heap_end, uint64_t scan_work, uint64_t gc_ns,
			       uint64_t proc_ns)
{
	/* The collector's share of the CPU the process actually got during
	 * the mark (Go divides by wall time x GOMAXPROCS, which assumes the
	 * machine is the program's alone; on a shared one the mutator's CPU
	 * would be overstated and the runway understated). Goroutines waiting
	 * at the goal use no CPU, so their wait does not lower the estimate. */
	double util = proc_ns ? (double)gc_ns / (double)proc_ns : GC_GOAL_UTILIZATION;
	double sample = gc_pacer_cons_mark(heap_end > heap_start ? heap_end - heap_start : 0, scan_work, util);
	double max = sample;
	for (int i = 0; i < GC_CONS_MARK_HISTORY; i++)
		if (gc_st.cons_mark_hist[i] > max)
			max = gc_st.cons_mark_hist[i];
	memmove(gc_st.cons_mark_hist, gc_st.cons_mark_hist + 1, sizeof gc_st.cons_mark_hist[0] * (GC_CONS_MARK_HISTORY - 1));
	gc_st.cons_mark_hist[GC_CONS_MARK_HISTORY - 1] = sample;
	gc_st.cons_mark = max;
	return sample;
}

/* Sets phase, barrier and allocate-black for a cms mark, in the one order
 * that is safe: the barrier first, everywhere; only then allocate black.
 * The other order would let a goroutine that does not yet see the barrier
 * store a white object into a black one unshaded. */
static void mark_phase_enter(void)
{
	__atomic_or_fetch(&gc_barrier_on, GC_BARRIER_MARK, __ATOMIC_SEQ_CST);
	sched_ragged_barrier();
	atomic_store(&gc_st.alloc_black, 1);
	sched_ragged_barrier();   /* no stack is scanned before all allocate black */
}

static void run_cycle(bool forced)
{
	int procs = sched_procs();
	int64_t t_begin = sched_nanotime();
	gc_sweep_all();
	gc_scavenge_after_sweep();   /* the sweep is complete: fragmentation is known */

	/* 1. sweep termination */
	stw_begin();
	gc_central_check_swept();
	uint64_t cycle = atomic_fetch_add(&gc_st.cycle, 1) + 1;
	uint64_t heap_start = atomic_load(&gc_st.heap_live);
	uint64_t goal = atomic_load(&gc_st.goal);
	atomic_store(&gc_st.triggered, heap_start);
	atomic_store(&gc_st.mark_scan_work, 0);
	atomic_store(&gc_st.marked_bytes, 0);
	atomic_store(&gc_st.bg_credit, 0);
	atomic_store(&gc_st.roots_done, 0);
	atomic_store(&stack_bytes_cycle, 0);
	int n = gc_ncaches();
	for (int w = 0; w < n; w++) {
		gc_caches[w].black_bytes = 0;
		gc_caches[w].assist_debt = 0;
	}
	update_assist_ratio();
	bool cms = gc_st.cfg.mode == GC_MODE_CMS;
	if (cms)
		atomic_store(&gc_st.phase, GC_PHASE_MARK);
	uint64_t proc0 = process_cpu_ns();
	uint64_t assist0 = sched_account_ns(GC_ACCT_ASSIST);
	uint64_t bg0 = sched_account_ns(GC_ACCT_MARK);
	uint64_t pausecpu0 = sched_account_ns(GC_ACCT_PAUSE);
	uint64_t pause1 = 0, pause1_cpu = 0;
	uint64_t mark_wall;
	int64_t t_mark;
	if (cms) {
		pause1 = stw_end();
		pause1_cpu = sched_account_ns(GC_ACCT_PAUSE) - pausecpu0;
		/* 2. mark */
		t_mark = sched_nanotime();
		mark_start_ns = t_mark;
		mark_phase_enter();
		double share = (double)procs * gc_st.cfg.bg_percent / 100.0;
		int nbg = (int)ceil(share - 1e-9);
		if (nbg < 1)
			nbg = 1;
		bg_fraction = share / nbg;
		for (int i = 1; i < nbg; i++) {
			atomic_fetch_add(&bg_alive, 1);
			if (!sched_go(bg_worker_main, NULL))
				atomic_fetch_sub(&bg_alive, 1);
		}
		int prev = sched_account_swap(GC_ACCT_MARK);
		struct gc_marker m;
		gc_marker_init(&m, false);
		gc_roots_scan_all(&m);
		gc_marker_flush(&m);
		sched_visit_stacks(stack_visitor, NULL);
		atomic_store(&gc_st.roots_done, 1);
		sched_account_swap(prev);
		bg_mark_loop(true);   /* returns with the world stopped */
		mark_wall = (uint64_t)(sched_nanotime() - t_mark);
	} else {
		pause1 = (uint64_t)(sched_nanotime() - stw_t0);  /* the same stop continues */
		t_mark = sched_nanotime();
		atomic_store(&gc_st.phase, GC_PHASE_MARK);
		struct gc_marker m;
		gc_marker_init(&m, false);
		gc_roots_scan_all(&m);
		sched_visit_stacks_stopped(stack_visitor, NULL);
		gc_flush_barrier_buffers();
		gc_drain(&m, 0, false);
		gc_marker_flush(&m);
		mark_wall = (uint64_t)(sched_nanotime() - t_mark);
	}

	/* 3. mark termination: the world is stopped */
	int64_t t_term = sched_nanotime();
	atomic_store(&gc_st.phase, GC_PHASE_MARKTERM);
	__atomic_and_fetch(&gc_barrier_on, ~GC_BARRIER_MARK, __ATOMIC_SEQ_CST);
	atomic_store(&gc_st.alloc_black, 0);
	if (gc_st.cfg.verify)
		gc_verify_heap();
	uint64_t marked = atomic_load(&gc_st.marked_bytes);
	for (int w = 0; w < n; w++)
		marked += gc_caches[w].black_bytes;
	uint64_t heap_end = atomic_load(&gc_st.heap_live);
	struct gc_stats hs;
	gc_read_stats(&hs);
	uint64_t scan_heap = atomic_load(&gc_st.mark_scan_work);
	uint64_t stack_scan = atomic_load(&stack_bytes_cycle);
	uint64_t assist = sched_account_ns(GC_ACCT_ASSIST) - assist0;
	uint64_t bg = sched_account_ns(GC_ACCT_MARK) - bg0;
	double cm = cms ? cons_mark_update(heap_start, heap_end, scan_heap + stack_scan + gc_roots_bytes(),
					   assist + bg, process_cpu_ns() - proc0)
			: 0;
	atomic_store(&gc_st.heap_marked, marked);
	atomic_store(&gc_st.heap_scan_last, scan_heap);
	atomic_store(&gc_st.stack_bytes, stack_scan);
	atomic_fetch_add(&gc_heap.sweepgen, 2);
	gc_sweep_reset();
	for (int w = 0; w < n; w++) {
		gc_cache_release_all(&gc_caches[w]);
		/* The running windows' spans are stale now: their next allocation
		 * goes through the layer, which moves to a fresh window (parked
		 * goroutines find out when they resume). */
		gc_caches[w].local = NULL;
	}
	atomic_store(&gc_st.heap_live, marked);
	gc_pacer_recompute();
	atomic_store(&gc_st.phase, GC_PHASE_OFF);
	atomic_fetch_add(&gc_st.cycles_done, 1);
	gc_stat_add(&gc_counters.cycles, 1);
	gc_stat_add(&gc_counters.mark_ns, mark_wall);
	if (forced)
		gc_stat_add(&gc_counters.forced_cycles, 1);
	uint64_t pause2_start = (uint64_t)(t_term - stw_t0);
	uint64_t pausecpu2 = sched_account_ns(GC_ACCT_PAUSE);
	uint64_t pause2 = stw_end();
	uint64_t pause2_cpu = sched_account_ns(GC_ACCT_PAUSE) - pausecpu2;
	if (!cms) {
		/* One stop covered all three phases; stw_end recorded it whole. */
		pause2 = pause2 > pause2_start ? pause2 - pause2_start : 0;
	}
	uint8_t token = 1;
	sched_chan_trysend(sweep_wake, &token);

	/* GC CPU limiter: the collector's CPU against the CPU the process used
	 * since the last cycle, plus the other workers' share of each pause
	 * on both sides (held stopped, they ran no mutator). Go divides by
	 * wall time x GOMAXPROCS less idle time; the process's CPU is that
	 * figure measured, and goroutines waiting for the collector are idle. */
	int64_t now = sched_nanotime();
	struct gc_stats st;
	gc_read_stats(&st);
	uint64_t held = st.stw_total_ns * (uint64_t)(procs - 1);
	uint64_t limiter_gc = st.gc_cpu_ns + held;
	uint64_t limiter_total = process_cpu_ns() + held;
	if (gc_st.limiter_last_total_ns)
		gc_limiter_update((int64_t)(limiter_gc - gc_st.limiter_last_gc_ns),
				  (int64_t)(limiter_total - gc_st.limiter_last_total_ns), procs);
	gc_st.limiter_last_total_ns = limiter_total;
	gc_st.limiter_last_gc_ns = limiter_gc;

	struct gc_cycle_record rec = {
		.cycle = cycle,
		.start_ns = t_begin,
		.mark_wall_ns = cms ? mark_wall : 0,
		.heap_trigger = heap_start,
		.heap_end = heap_end,
		.heap_inuse_end = hs.heap_inuse,
		.marked = marked,
		.goal = goal,
		.next_goal = atomic_load(&gc_st.goal),
		.next_trigger = atomic_load(&gc_st.trigger),
		.assist_ns = assist,
		.bg_mark_ns = bg,
		.cons_mark = cm,
		.forced = forced,
		.limiter_on = atomic_load(&gc_st.limiter_on),
	};
	gc_record_cycle(&rec);

	if (gc_st.cfg.gctrace) {
		char layer[256] = "";
		if (gc_layer)
			gc_layer->trace(layer, sizeof layer);
		double since = (double)(now - start_ns) / 1e9;
		double pct = since > 0 ? 100.0 * (double)st.gc_cpu_ns / 1e9 / (since * procs) : 0;
		fprintf(stderr,
			"gc %" PRIu64 " @%.3fs %.0f%%: %.3f+%.3f+%.3f ms clock, "
			"%.3f+%.3f/%.3f/%.3f+%.3f ms cpu, %.0f->%.0f->%.0f MB, %.0f MB goal, "
			"%.0f MB stacks, %.0f MB globals, %d P%s%s%s\n",
			cycle, (double)(t_begin - start_ns) / 1e9, pct, pause1 / 1e6,
			cms ? mark_wall / 1e6 : 0.0, (cms ? pause2 : pause2 + mark_wall) / 1e6,
			pause1_cpu / 1e6, assist / 1e6, bg / 1e6, 0.0,
			pause2_cpu / 1e6, mb(heap_start), mb(heap_end),
			mb(marked), goal == UINT64_MAX ? 0.0 : mb(goal), mb(atomic_load(&gc_st.stack_bytes)),
			mb(gc_roots_bytes()), procs, cms ? "" : " (stw)", forced ? " (forced)" : "", layer);
	}
}

static void controller_main(void *arg)
{
	(void)arg;
	/* Woken by a trigger or after a background worker's sleep, the
	 * controller runs at once rather than after a mutator's time slice. */
	sched_set_urgent(true);
	uint8_t token;
	while (sched_chan_recv(ctl_wake, &token)) {
		while (atomic_exchange(&gc_st.want_cycle, 0)) {
			bool forced = atomic_exchange(&forced_pending, 0);
			/* A heap trigger must still hold (Go's gcStart tests it
			 * again under its lock): a request made while the last
			 * cycle's mark was ending would start a needless cycle. */
			if (!forced && !heap_trigger_test())
				continue;
			run_cycle(forced);
			while (atomic_load(&bg_alive))
				sched_sleep(10000);
		}
	}
}

/* --- pacing -------------------------------------------------------------------------------- */

static uint64_t memlimit_overhead(void)
{
	struct gc_stats st;
	gc_read_stats(&st);
	uint64_t free_committed = st.heap_committed - st.heap_inuse;
	/* Spans hold more than their live objects (free slots, tails): what
	 * the last full sweep left beyond the marked bytes counts too. */
	return atomic_load(&gc_st.stack_bytes) + atomic_load(&gc_heap.metadata_bytes) + free_committed +
	       atomic_load(&gc_st.frag_bytes);
}

void gc_pacer_recompute(void)
{
	struct gc_pacer_in in = {
		.marked = atomic_load(&gc_st.heap_marked),
		.stacks = atomic_load(&gc_st.stack_bytes),
		.globals = gc_roots_bytes(),
		.gogc = gc_st.cfg.gogc,
		.memlimit = gc_st.cfg.memlimit,
		.overhead = gc_st.cfg.memlimit ? memlimit_overhead() : 0,
	};
	bool limited;
	uint64_t goal = gc_pacer_goal(&in, &limited);
	if (limited)
		gc_stat_add(&gc_counters.memlimit_cycles, 1);
	atomic_store(&gc_st.goal, goal);
	atomic_store(&gc_st.eff_goal, goal);
	atomic_store(&gc_counters.heap_goal, goal);
	if (goal != UINT64_MAX)
		gc_stat_max(&gc_counters.heap_goal_max, goal);
	/* The runway: what the mutator allocates while the collector does the
	 * expected work at 25% of the CPU, from the cons/mark history (none
	 * yet: trigger at the lowest point). */
	uint64_t scan_last = atomic_load(&gc_st.heap_scan_last);
	uint64_t expected = (scan_last ? scan_last : in.marked) + in.stacks + in.globals;
	gc_st.runway = gc_st.cons_mark > 0 ? gc_pacer_runway(gc_st.cons_mark, expected) : UINT64_MAX;
	atomic_store(&gc_st.trigger, gc_pacer_trigger(in.marked, goal, gc_st.runway));
}

void gc_scavenge_after_sweep(void)
{
	struct gc_stats st;
	gc_read_stats(&st);
	uint64_t marked = atomic_load(&gc_st.heap_marked);
	atomic_store(&gc_st.frag_bytes, st.heap_inuse > marked ? st.heap_inuse - marked : 0);
	if (gc_st.cfg.memlimit && atomic_load(&gc_st.phase) == GC_PHASE_OFF)
		gc_pacer_recompute();
	/* Retain what the largest goal of the last few cycles needs: a goal that
	 * dips for one cycle would otherwise release pages the next cycle faults
	 * back in (Go's scavenger gets the same hysteresis from its pacing). */
	uint64_t goal = atomic_load(&gc_st.goal);
	gc_st.goal_history[gc_st.ngoals++ % GC_GOAL_HISTORY] = goal;
	for (unsigned i = 0; i < GC_GOAL_HISTORY && i < gc_st.ngoals; i++)
		if (gc_st.goal_history[i] > goal)
			goal = gc_st.goal_history[i];
	uint64_t target = goal == UINT64_MAX ? st.heap_inuse : (goal > st.heap_inuse ? goal : st.heap_inuse);
	target += target / 10;
	if (gc_st.cfg.memlimit) {
		uint64_t other = atomic_load(&gc_st.stack_bytes) + atomic_load(&gc_heap.metadata_bytes);
		uint64_t cap = gc_st.cfg.memlimit > other ? gc_st.cfg.memlimit - other : 0;
		if (cap < target)
			target = cap;
	}
	size_t keep = target > st.heap_inuse ? target - st.heap_inuse : 0;
	gc_pages_scavenge(keep);
}

void gc_set_gogc(int gogc)
{
	gc_st.cfg.gogc = gogc;
	gc_pacer_recompute();
	gc_trigger_check();
}

void gc_set_memlimit(uint64_t bytes)
{
	gc_st.cfg.memlimit = bytes;
	__atomic_store_n(&gc_heap.memlimit, bytes, __ATOMIC_RELAXED);
	gc_pacer_recompute();
	gc_trigger_check();
}

/* --- the public entry points ------------------------------------------------------------- */

void gc_collect(void)
{
	if (!sched_self())
		gc_fatal("gc_collect: called outside a goroutine");
	ensure_started();
	uint64_t target = atomic_load(&gc_st.cycle) + 1;
	atomic_store(&forced_pending, 1);
	request_cycle();
	while (atomic_load(&gc_st.cycles_done) < target) {
		sched_sleep(20000);
		if (atomic_load(&gc_st.cycles_done) < target && !atomic_load(&gc_st.want_cycle) &&
		    atomic_load(&gc_st.cycle) < target)
			request_cycle(); /* the request was taken by a cycle that began before it */
	}
	gc_sweep_all();
}

void gc_get_config(struct gc_config *out)
{
	*out = gc_st.cfg;
}

int gc_init(const struct gc_config *cfg)
{
	char err[256];
	struct gc_config c;
	if (cfg) {
		c = *cfg;
	} else if (gc_config_from_env(&c, err, sizeof err)) {
		fprintf(stderr, "gc: %s\n", err);
		return -1;
	}
	if (c.gogc == 0)
		c.gogc = GC_DEFAULT_GOGC;
	if (c.gogc < GC_GOGC_OFF) {
		fprintf(stderr, "gc: gogc=%d: must be positive or off\n", c.gogc);
		return -1;
	}
	if (!c.maxheap)
		c.maxheap = GC_DEFAULT_MAXHEAP;
	if (c.bg_percent <= 0 || c.bg_percent > 100)
		c.bg_percent = 25;
	gc_sizeclass_init();
	memset(&gc_st, 0, sizeof gc_st);
	memset(&gc_heap, 0, sizeof gc_heap);
	gc_st.cfg = c;
	gc_heap.maxheap = c.maxheap;
	gc_heap.memlimit = c.memlimit;
	atomic_store(&gc_heap.sweepgen, 2);
	gc_stats_reset();
	gc_pages_reset();
	if (gc_arena_init(c.numa)) {
		fprintf(stderr, "gc: cannot reserve the arena map\n");
		return -1;
	}
	gc_central_init();
	gc_mark_init();
	gc_caches_init(SCHED_MAX_PROCS);
	gc_barrier_on = 0;
	gc_layer = NULL;
	if (c.toc) {
		if (c.mode != GC_MODE_CMS) {
			fprintf(stderr, "gc: TOC_MODE=toc runs on the concurrent collector only\n");
			return -1;
		}
		if (!registered_layer) {
			fprintf(stderr, "gc: TOC_MODE=toc: the transaction layer (toc/) is not linked into this "
					"program; link the toc library and call into toc/toc.h\n");
			return -1;
		}
		if (registered_layer->init(&gc_st.cfg))
			return -1;
		gc_layer = registered_layer;
		gc_barrier_on = GC_BARRIER_TOC;
	}
	services_started = 0;
	forced_pending = 0;
	bg_alive = 0;
	start_ns = sched_nanotime();
	gc_pacer_recompute();
	static const struct sched_hooks hooks = {.spawn = hook_spawn, .send = hook_send};
	static const struct sched_hooks layer_hooks = {
		.spawn = hook_spawn, .exit = hook_exit, .park = hook_park, .resume = hook_resume, .send = hook_send};
	sched_set_hooks(gc_layer ? &layer_hooks : &hooks);
	return 0;
}

void gc_fini(void)
{
	sched_set_hooks(NULL);
	__atomic_store_n(&gc_barrier_on, 0, __ATOMIC_SEQ_CST);
	if (gc_layer)
		gc_layer->fini();
	gc_layer = NULL;
	atomic_store(&gc_st.phase, GC_PHASE_OFF);
	/* The service goroutines were discarded by sched_run while parked on
	 * these channels; sched_chan_free allows that once the runtime stopped. */
	if (sched_procs() != 0)
		gc_fatal("gc_fini: called while the runtime runs");
	sched_chan_free(ctl_wake);
	sched_chan_free(sweep_wake);
	ctl_wake = sweep_wake = NULL;
	gc_finalizer_fini();
	/* Span metadata is freed with the arenas' spans. */
	for (struct gc_arena *a = gc_heap.arenas; a; a = a->next)
		for (size_t i = 0; i < GC_ARENA_PAGES; i++) {
			struct gc_span *s = atomic_load(&a->spans[i]);
			if (s && s->base == a->base + i * GC_PAGE_SIZE) {
				while (s->specials) {
					struct gc_special *sp = s->specials;
					s->specials = sp->next;
					free(sp);
				}
				gc_span_free_meta(s);
			}
		}
	gc_caches_fini();
	gc_mark_fini();
	gc_roots_fini();
	gc_arena_fini();
	gc_pages_reset();
}

int gc_run(const struct gc_config *gcfg, const struct sched_config *scfg, void (*main_fn)(void *), void *arg)
{
	if (gc_init(gcfg))
		return -1;
	int rc = sched_run(scfg, main_fn, arg);
	gc_fini();
	return rc;
}
