/*
 * control.c — when cycles run, and the collector's life: the controller
 * goroutine and its wake-up channel, the heap trigger, gc_collect, the
 * pacer's inputs (gc_pacer_recompute feeds pacer.c's arithmetic from the
 * heap's state), the scavenger's target after a sweep, and gc_init,
 * gc_fini and gc_run.
 *
 * A trigger (an allocation that takes the paced heap past the trigger, or
 * gc_collect) sets want_cycle and sends a token to the controller, an
 * urgent goroutine that runs at the next poll of the goroutine on its
 * worker. The controller tests a heap trigger again before it starts the
 * cycle (Go's gcStart does): a request left over from the last cycle's
 * sweep must not start another one at once.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "toc/chan.h"
#include "toc/sync.h"

static struct sched_chan *ctl_wake;     /* token: want_cycle was set */
static struct sched_chan *sweep_wake;   /* token: a flip happened */
static _Atomic int services_started;    /* release: the channels exist */
static _Atomic int forced_pending;      /* gc_collect asked for the next cycle */
static struct sched_mutex services_lock;
int64_t gc_start_ns;                    /* gc_init time, for gctrace */

void gc_wake_sweeper(void)
{
	uint8_t token = 1;
	sched_chan_trysend(sweep_wake, &token);
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
			gc_run_cycle(forced);
			gc_bg_wait();
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
		.windows = gc_layer && gc_layer->window_bytes ? gc_layer->window_bytes() : 0,
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
	atomic_store(&gc_st.trigger, gc_pacer_trigger(in.marked + in.windows, goal, gc_st.runway));
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
		if (!gc_registered_layer) {
			fprintf(stderr, "gc: TOC_MODE=toc: the transaction layer (toc/) is not linked into this "
					"program; link the toc library and call into toc/toc.h\n");
			return -1;
		}
		if (gc_registered_layer->init(&gc_st.cfg))
			return -1;
		gc_layer = gc_registered_layer;
		gc_layer_detach_all();
		gc_barrier_on = GC_BARRIER_TOC;
	}
	services_started = 0;
	forced_pending = 0;
	gc_bg_reset();
	gc_start_ns = sched_nanotime();
	gc_pacer_recompute();
	sched_set_hooks(gc_sched_hooks(gc_layer != NULL));
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
