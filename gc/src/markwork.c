/*
 * markwork.c — who does the mark work during a cms mark: allocating
 * goroutines, by assists in proportion to what they allocate (Go's
 * gcAssistAlloc), and background workers at their CPU share (Go's
 * dedicated and fractional workers: the controller plus
 * ceil(procs x 25%) - 1 more goroutines).
 *
 * Assists. Each 64 KiB a goroutine allocates during a mark owes scan work
 * at the pacer's assist ratio (pacer.c), computed afresh from the heap at
 * each assist; background credit pays first. Past the effective goal an
 * allocator drains until the mark ends, waiting (assist wait, no CPU) when
 * no gray work is in sight: the heap stops growing while the mark lags.
 *
 * Background workers are urgent goroutines: readied, they run at the next
 * poll of the goroutine on their worker; each drains while its CPU (its
 * own account, sched_account_own_ns) is under its share of the mark's wall
 * time and sleeps the excess off. The controller's loop also ends the mark:
 * with no work left anywhere it stops the world and returns with it
 * stopped (mark termination, cycle.c).
 */
#include <math.h>

#include "internal.h"

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

void gc_assist_ratio_update(void)
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

static int64_t mark_start_ns;  /* the controller's; read by the workers after they start */
static double bg_fraction;     /* CPU share of each background worker; set before they start */
static _Atomic int bg_alive;   /* workers other than the controller still marking */

/* Stops the world if marking is complete; returns true with it stopped. */
static bool mark_done(void)
{
	if (!atomic_load(&gc_st.roots_done) || atomic_load(&gc_st.nbusy) != 0 || gc_work_available())
		return false;
	gc_stw_begin();
	bool more = gc_flush_barrier_buffers();
	if (more || gc_work_available() || atomic_load(&gc_st.nbusy) != 0) {
		gc_stw_end();
		return false;
	}
	return true;
}

/* Drains at the worker's CPU share until marking ends. The controller
 * returns with the world stopped for mark termination. */
void gc_bg_mark_loop(bool controller)
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
			gc_assist_ratio_update();
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
	gc_bg_mark_loop(false);
	atomic_fetch_sub(&bg_alive, 1);
}


void gc_bg_start(int procs, int64_t mark_start)
{
	mark_start_ns = mark_start;
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
}

void gc_bg_wait(void)
{
	while (atomic_load(&bg_alive))
		sched_sleep(10000);
}

void gc_bg_reset(void)
{
	atomic_store(&bg_alive, 0);
}
