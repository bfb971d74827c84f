/*
 * cycle.c — the collection cycle (Go's mgc.go), in two modes from one code
 * path: cms (concurrent) and stw (everything with the world stopped).
 *
 * A cycle, run by the controller goroutine (docs/architecture.md):
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
#include "toc/chan.h"
#include "toc/sync.h"

struct gc_state gc_st;
int gc_barrier_on;
const struct gc_layer *gc_layer;
size_t gc_local_large_pages;
const struct gc_layer *gc_registered_layer;

void gc_register_layer(const struct gc_layer *layer)
{
	gc_registered_layer = layer;
}
const char *const gc_phase_names[] = {"off", "mark", "markterm"};


/* --- stop-the-world with timing ------------------------------------------------------ */

static int64_t stw_t0;
static int stw_prev_account;   /* the stopper's account before the stop; one stopper at a time */

/* The stopper's CPU from the stop request to the release is pause CPU
 * (waiting for the workers included). */
void gc_stw_begin(void)
{
	stw_prev_account = sched_account_swap(GC_ACCT_PAUSE);
	stw_t0 = sched_nanotime();
	sched_stop_the_world();
	gc_record_ttsp((uint64_t)(sched_nanotime() - stw_t0));
}

/* The pause ends when the world is released: timed before the wake-ups,
 * whose return to this thread can wait a whole scheduler tick (a woken
 * worker preempts the waker) while the goroutines already run. */
uint64_t gc_stw_end(void)
{
	uint64_t ns = (uint64_t)(sched_nanotime() - stw_t0);
	/* Recorded before the world runs again: a goroutine that sees the
	 * cycle done (cycles_done moved inside the stop) sees its pauses. */
	gc_record_pause(ns);
	sched_start_the_world();
	sched_account_swap(stw_prev_account);
	return ns;
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
	/* A mark worker or a stopper visiting keeps its account (no clock is
	 * read for the goroutines it visits); a mutator visiting its own stack
	 * at a safepoint is assisting. */
	bool open = sched_account_open() == 0;
	if (open)
		sched_account_swap(GC_ACCT_ASSIST);
	struct gc_marker tmp, *m = marker_here(&tmp);
	gc_scan_conservative(m, lo, hi);
	done_here(m, &tmp);
	if (open)
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

/* The layer's other hooks run as it installed them (any may be NULL). */
static void hook_exit(struct sched_g *g)
{
	if (gc_layer && gc_layer->hooks.exit)
		gc_layer->hooks.exit(g);
}

static void hook_park(struct sched_g *g)
{
	if (gc_layer && gc_layer->hooks.park)
		gc_layer->hooks.park(g);
}

static void hook_resume(struct sched_g *g)
{
	if (gc_layer && gc_layer->hooks.resume)
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

const struct sched_hooks *gc_sched_hooks(bool layer)
{
	static const struct sched_hooks hooks = {.spawn = hook_spawn, .send = hook_send};
	static const struct sched_hooks layer_hooks = {
		.spawn = hook_spawn, .exit = hook_exit, .park = hook_park, .resume = hook_resume, .send = hook_send};
	return layer ? &layer_hooks : &hooks;
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

/* One cycle's figures, passed from phase to phase (the controller's). */
struct cycle {
	bool forced, cms;
	int procs;
	uint64_t number, goal;
	uint64_t heap_start, heap_end, marked, inuse_end;
	int64_t t_begin, t_mark, t_term;
	uint64_t proc0, assist0, bg0, pausecpu0;   /* account readings at sweep termination */
	uint64_t pause1, pause1_cpu, pause2, pause2_cpu, mark_wall;
	uint64_t assist, bg;                      /* CPU during the mark */
	double cons_mark;
};

/* The one place the phase changes, with the legal order checked:
 * OFF -> MARK (sweep termination, world stopped), MARK -> MARKTERM (world
 * stopped: the barrier and allocate-black go off with it), MARKTERM -> OFF
 * (world stopped, after the flip). The barrier and allocate-black go on in
 * mark_barriers_on, once the world runs again. */
static void phase_to(enum gc_phase to)
{
	int from = atomic_load(&gc_st.phase);
	bool legal = (from == GC_PHASE_OFF && to == GC_PHASE_MARK) ||
		     (from == GC_PHASE_MARK && to == GC_PHASE_MARKTERM) ||
		     (from == GC_PHASE_MARKTERM && to == GC_PHASE_OFF);
	if (!legal)
		gc_fatal("illegal phase change %s -> %s", gc_phase_names[from], gc_phase_names[to]);
	if (to == GC_PHASE_MARK && ((__atomic_load_n(&gc_barrier_on, __ATOMIC_RELAXED) & GC_BARRIER_MARK) ||
				    atomic_load(&gc_st.alloc_black)))
		gc_fatal("phase change to mark with the barrier or allocate-black already on");
	atomic_store(&gc_st.phase, to);
	if (to == GC_PHASE_MARKTERM) {
		/* seq_cst: ordered before the workers' restart (the stop's
		 * release), so no goroutine runs a barrier of this mark after. */
		__atomic_and_fetch(&gc_barrier_on, ~GC_BARRIER_MARK, __ATOMIC_SEQ_CST);
		atomic_store(&gc_st.alloc_black, 0);
	}
}

/* The barrier and allocate-black for a cms mark, in the one order that is
 * safe: the barrier first, everywhere (a ragged barrier: every worker
 * passed a safepoint after it); only then allocate black. The other order
 * would let a goroutine that does not yet see the barrier store a white
 * object into a black one unshaded. A second ragged barrier: no stack is
 * scanned before every goroutine allocates black. */
static void mark_barriers_on(void)
{
	if (atomic_load(&gc_st.phase) != GC_PHASE_MARK)
		gc_fatal("the mark barriers go on in the mark phase only");
	__atomic_or_fetch(&gc_barrier_on, GC_BARRIER_MARK, __ATOMIC_SEQ_CST);
	sched_ragged_barrier();
	atomic_store(&gc_st.alloc_black, 1);
	sched_ragged_barrier();
}

/* 1. Sweep termination: the last cycle's sweep finished, the world stopped,
 * this cycle's counters reset, the phase MARK. Returns with the world
 * stopped. */
static void sweep_termination(struct cycle *c)
{
	gc_sweep_all();
	gc_scavenge_after_sweep();   /* the sweep is complete: fragmentation is known */
	gc_stw_begin();
	gc_central_check_swept();
	c->number = atomic_fetch_add(&gc_st.cycle, 1) + 1;
	c->heap_start = atomic_load(&gc_st.heap_live);
	c->goal = atomic_load(&gc_st.goal);
	atomic_store(&gc_st.triggered, c->heap_start);
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
	gc_assist_ratio_update();
	phase_to(GC_PHASE_MARK);
	c->proc0 = process_cpu_ns();
	c->assist0 = sched_account_ns(GC_ACCT_ASSIST);
	c->bg0 = sched_account_ns(GC_ACCT_MARK);
	c->pausecpu0 = sched_account_ns(GC_ACCT_PAUSE);
}

/* The running mark's start and end, for the statistics: its wall time goes
 * into mark_ns as it ends, and until then gc_read_stats adds what it has
 * taken so far (mark_began), so a reader's mark_ns never waits for a
 * cycle's end. */
static void mark_begins(struct cycle *c)
{
	c->t_mark = sched_nanotime();
	atomic_store(&gc_st.mark_began, c->t_mark);
}

static void mark_ends(struct cycle *c)
{
	c->mark_wall = (uint64_t)(sched_nanotime() - c->t_mark);
	atomic_store(&gc_st.mark_began, 0);
	gc_stat_add(&gc_counters.mark_ns, c->mark_wall);
}

/* 2. The concurrent mark (cms): roots and stacks scanned once, background
 * workers and assists drain. Returns with the world stopped for mark
 * termination. */
static void mark_concurrent(struct cycle *c)
{
	c->pause1 = gc_stw_end();
	c->pause1_cpu = sched_account_ns(GC_ACCT_PAUSE) - c->pausecpu0;
	mark_begins(c);
	mark_barriers_on();
	gc_bg_start(c->procs, c->t_mark);
	int prev = sched_account_swap(GC_ACCT_MARK);
	struct gc_marker m;
	gc_marker_init(&m, false);
	gc_roots_scan_all(&m);
	gc_marker_flush(&m);
	sched_visit_stacks(stack_visitor, NULL);
	atomic_store(&gc_st.roots_done, 1);
	sched_account_swap(prev);
	gc_bg_mark_loop(true);   /* returns with the world stopped */
	mark_ends(c);
}

/* 2'. The whole mark inside the sweep termination's stop (stw mode). */
static void mark_stopped(struct cycle *c)
{
	c->pause1 = (uint64_t)(sched_nanotime() - stw_t0);
	mark_begins(c);
	struct gc_marker m;
	gc_marker_init(&m, false);
	gc_roots_scan_all(&m);
	sched_visit_stacks_stopped(stack_visitor, NULL);
	gc_flush_barrier_buffers();
	gc_drain(&m, 0, false);
	gc_marker_flush(&m);
	mark_ends(c);
}

/* 3. Mark termination, world stopped: verify, record the marked bytes and
 * the pacer's sample, flip sweepgen, empty the caches, let the layer
 * detach its windows, set the next goal; then start the world and wake the
 * sweeper. */
static void mark_termination(struct cycle *c)
{
	c->t_term = sched_nanotime();
	phase_to(GC_PHASE_MARKTERM);
	if (gc_st.cfg.verify)
		gc_verify_heap();
	int n = gc_ncaches();
	uint64_t marked = atomic_load(&gc_st.marked_bytes);
	for (int w = 0; w < n; w++)
		marked += gc_caches[w].black_bytes;
	c->marked = marked;
	c->heap_end = atomic_load(&gc_st.heap_live);
	c->inuse_end = (uint64_t)__atomic_load_n(&gc_heap.pages_inuse, __ATOMIC_RELAXED) * GC_PAGE_SIZE;
	uint64_t scan_heap = atomic_load(&gc_st.mark_scan_work);
	uint64_t stack_scan = atomic_load(&stack_bytes_cycle);
	c->assist = sched_account_ns(GC_ACCT_ASSIST) - c->assist0;
	c->bg = sched_account_ns(GC_ACCT_MARK) - c->bg0;
	c->cons_mark = c->cms ? cons_mark_update(c->heap_start, c->heap_end, scan_heap + stack_scan + gc_roots_bytes(),
						 c->assist + c->bg, process_cpu_ns() - c->proc0)
			      : 0;
	atomic_store(&gc_st.heap_marked, marked);
	atomic_store(&gc_st.heap_scan_last, scan_heap);
	atomic_store(&gc_st.stack_bytes, stack_scan);
	atomic_fetch_add(&gc_heap.sweepgen, 2);   /* the flip */
	gc_sweep_reset();
	for (int w = 0; w < n; w++)
		gc_cache_release_all(&gc_caches[w]);
	if (gc_layer)
		gc_layer->flip();   /* the layer decides what the flip means for its windows */
	atomic_store(&gc_st.heap_live, marked);
	gc_pacer_recompute();
	phase_to(GC_PHASE_OFF);
	atomic_fetch_add(&gc_st.cycles_done, 1);
	gc_stat_add(&gc_counters.cycles, 1);
	if (c->forced)
		gc_stat_add(&gc_counters.forced_cycles, 1);
	uint64_t pause2_start = (uint64_t)(c->t_term - stw_t0);
	uint64_t pausecpu2 = sched_account_ns(GC_ACCT_PAUSE);
	c->pause2 = gc_stw_end();
	c->pause2_cpu = sched_account_ns(GC_ACCT_PAUSE) - pausecpu2;
	if (!c->cms)   /* one stop covered all three phases; stw_end recorded it whole */
		c->pause2 = c->pause2 > pause2_start ? c->pause2 - pause2_start : 0;
	gc_wake_sweeper();
}

/* After the cycle: the CPU limiter, the cycle's record, gctrace. */
static void cycle_report(const struct cycle *c)
{
	/* GC CPU limiter: the collector's CPU against the CPU the process used
	 * since the last cycle, plus the other workers' share of each pause
	 * on both sides (held stopped, they ran no mutator). Go divides by
	 * wall time x GOMAXPROCS less idle time; the process's CPU is that
	 * figure measured, and goroutines waiting for the collector are idle. */
	int64_t now = sched_nanotime();
	struct gc_stats st;
	gc_read_stats(&st);
	uint64_t held = st.stw_total_ns * (uint64_t)(c->procs - 1);
	uint64_t limiter_gc = st.gc_cpu_ns + held;
	uint64_t limiter_total = process_cpu_ns() + held;
	if (gc_st.limiter_last_total_ns)
		gc_limiter_update((int64_t)(limiter_gc - gc_st.limiter_last_gc_ns),
				  (int64_t)(limiter_total - gc_st.limiter_last_total_ns), c->procs);
	gc_st.limiter_last_total_ns = limiter_total;
	gc_st.limiter_last_gc_ns = limiter_gc;

	struct gc_cycle_record rec = {
		.cycle = c->number,
		.start_ns = c->t_begin,
		.mark_wall_ns = c->cms ? c->mark_wall : 0,
		.heap_trigger = c->heap_start,
		.heap_end = c->heap_end,
		.heap_inuse_end = c->inuse_end,
		.marked = c->marked,
		.goal = c->goal,
		.next_goal = atomic_load(&gc_st.goal),
		.next_trigger = atomic_load(&gc_st.trigger),
		.assist_ns = c->assist,
		.bg_mark_ns = c->bg,
		.cons_mark = c->cons_mark,
		.forced = c->forced,
		.limiter_on = atomic_load(&gc_st.limiter_on),
	};
	gc_record_cycle(&rec);

	if (gc_st.cfg.gctrace) {
		char layer[256] = "";
		if (gc_layer)
			gc_layer->trace(layer, sizeof layer);
		double since = (double)(now - gc_start_ns) / 1e9;
		double pct = since > 0 ? 100.0 * (double)st.gc_cpu_ns / 1e9 / (since * c->procs) : 0;
		uint64_t term = c->cms ? c->pause2 : c->pause2 + c->mark_wall;
		fprintf(stderr,
			"gc %" PRIu64 " @%.3fs %.0f%%: %.3f+%.3f+%.3f ms clock, "
			"%.3f+%.3f/%.3f/%.3f+%.3f ms cpu, %.0f->%.0f->%.0f MB, %.0f MB goal, "
			"%.0f MB stacks, %.0f MB globals, %d P%s%s%s\n",
			c->number, (double)(c->t_begin - gc_start_ns) / 1e9, pct, c->pause1 / 1e6,
			c->cms ? c->mark_wall / 1e6 : 0.0, term / 1e6, c->pause1_cpu / 1e6, c->assist / 1e6,
			c->bg / 1e6, 0.0, c->pause2_cpu / 1e6, mb(c->heap_start), mb(c->heap_end), mb(c->marked),
			c->goal == UINT64_MAX ? 0.0 : mb(c->goal), mb(atomic_load(&gc_st.stack_bytes)),
			mb(gc_roots_bytes()), c->procs, c->cms ? "" : " (stw)", c->forced ? " (forced)" : "", layer);
	}
}

void gc_run_cycle(bool forced)
{
	struct cycle c = {
		.forced = forced,
		.cms = gc_st.cfg.mode == GC_MODE_CMS,
		.procs = sched_procs(),
		.t_begin = sched_nanotime(),
	};
	sweep_termination(&c);
	if (c.cms)
		mark_concurrent(&c);
	else
		mark_stopped(&c);
	mark_termination(&c);
	cycle_report(&c);
}
