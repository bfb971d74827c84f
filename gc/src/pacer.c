/*
 * pacer.c — when to collect and how hard the mutator helps: the heap goal,
 * the trigger, the assist ratio, the memory limit and the GC CPU limiter.
 * The arithmetic only, as pure functions of the figures cycle.c measures,
 * so tests can check it without a heap.
 *
 * What Go does (mgcpacer.go, the 1.18 redesign, and mgclimit.go):
 *   - Goal: heapMarked + (heapMarked + stacks + globals) * GOGC / 100
 *     (here + the windows' bytes, below).
 *     heapMarked includes what was allocated during the mark (allocated
 *     black): that floating garbage is part of the next cycle's base.
 *   - Trigger: the mark should end at the goal with the background workers
 *     at 25% of the CPU and no assists. From the last cycles' cons/mark
 *     ratio (bytes the mutator allocates per mutator CPU second, over scan
 *     bytes the collector does per GC CPU second; the maximum of the last
 *     four, so a noisy low sample does not start a cycle late), the runway
 *     is the bytes the mutator allocates while the collector scans the
 *     expected work at 25%: consMark * (1 - 0.25) / 0.25 * expected scan
 *     work. The trigger is goal - runway, kept between 70% and 95% of the
 *     way from heapMarked to the goal (or goal - 4 MiB if that is later).
 *   - Assists: each allocated byte during a mark owes
 *     (expected work - work done) / (goal - heap now) scan bytes. When the
 *     work done passes the expected work the heap is growing: the goal is
 *     extended in proportion to the worst case (every live byte scannable),
 *     up to a hard goal.
 *   - The limiter: a leaky bucket of GC CPU (assists, mark workers, pauses
 *     at full width) against the workers' total; while it is full, assists
 *     stop, so a program that cannot meet its memory limit slows down
 *     instead of thrashing.
 *
 * What this does: the same, with these differences.
 *   - The hard goal is 1.1x the goal (Go: (1 + GOGC/100) x the goal), and an
 *     allocator past the effective goal drains until the mark ends or waits
 *     for it (cycle.c): the heap at mark end stays within 10% of the goal.
 *   - No idle mark workers: the utilization in the cons/mark sample is the
 *     assists' and the background workers' CPU over the mark's wall time.
 *   - The limiter is fed once per cycle, at mark termination, with the
 *     collector's CPU (sweep included) over the process's CPU, each plus
 *     the stopped workers' share of the pauses: idle time, such as
 *     goroutines waiting for the mark, is in neither.
 *   - With the transaction layer, the windows' spans count whole in the
 *     heap (as a worker's cached spans do, in Go and here), and there may
 *     be one window per goroutine in a transaction. Their free room is
 *     reused by rewinds, never by a cycle, so the goal adds their bytes
 *     at the flip to GOGC's goal, and the trigger's base moves up with
 *     it: GOGC's budget is what the collector can free. Without it, 1,000
 *     requests parked mid-transaction held 115 MiB of window spans
 *     against a 43 MiB goal, and the heap stayed past its goal: cycles
 *     back to back, and allocators waiting in assists (txbench
 *     --downstream, docs/log/2026-12-parked.md).
 *
 * Invariant (tested): given correct CPU figures, trigger <= goal; the
 * trigger lies in [base + 0.7 (goal - base), goal], base = marked +
 * windows; the assist ratio
 * is finite and non-negative.
 */
#include "internal.h"

#define GC_HEAP_MIN ((uint64_t)4 << 20)

uint64_t gc_pacer_goal(const struct gc_pacer_in *in, bool *limited)
{
	*limited = false;
	uint64_t goal = UINT64_MAX;
	if (in->gogc != GC_GOGC_OFF) {
		uint64_t base = in->marked + in->stacks + in->globals;
		goal = in->marked + base / 100 * (uint64_t)in->gogc + base % 100 * (uint64_t)in->gogc / 100 +
		       in->windows;
		uint64_t floor = GC_HEAP_MIN * (uint64_t)in->gogc / 100;
		if (goal < floor)
			goal = floor;
	}
	if (in->memlimit) {
		uint64_t cap = in->memlimit > in->overhead ? in->memlimit - in->overhead : 0;
		uint64_t least = in->marked + in->marked / 16;
		if (cap < least)
			cap = least;
		if (cap < goal) {
			goal = cap;
			*limited = true;
		}
	}
	return goal;
}

double gc_pacer_cons_mark(uint64_t alloc_during_mark, uint64_t scan_work, double utilization)
{
	if (scan_work == 0)
		return 0;
	if (utilization < 0.01)
		utilization = 0.01;
	if (utilization > 0.95)
		utilization = 0.95;
	return (double)alloc_during_mark * utilization / ((double)scan_work * (1.0 - utilization));
}

uint64_t gc_pacer_runway(double cons_mark, uint64_t scan_expected)
{
	double r = cons_mark * (1.0 - GC_GOAL_UTILIZATION) / GC_GOAL_UTILIZATION * (double)scan_expected;
	return r >= 1.8e19 ? UINT64_MAX : (uint64_t)r;
}

uint64_t gc_pacer_trigger(uint64_t marked, uint64_t goal, uint64_t runway)
{
	if (goal == UINT64_MAX)
		return UINT64_MAX;
	if (goal <= marked)
		return goal;
	uint64_t span = goal - marked;
	uint64_t lo = marked + span / 100 * 70 + span % 100 * 70 / 100;
	uint64_t hi = marked + span / 100 * 95 + span % 100 * 95 / 100;
	if (goal > GC_HEAP_MIN && goal - GC_HEAP_MIN > hi)
		hi = goal - GC_HEAP_MIN;
	uint64_t t = runway >= goal ? lo : goal - runway;
	if (t < lo)
		t = lo;
	if (t > hi)
		t = hi;
	return t;
}

double gc_pacer_assist_ratio(const struct gc_assist_in *in, uint64_t *eff_goal)
{
	uint64_t goal = in->goal;
	uint64_t expected = in->scan_expected;
	if (in->scan_done > expected && expected > 0 && goal > in->triggered) {
		/* More work than the last cycle's: the heap grew. Extend the goal
		 * in proportion to the worst case, up to the hard goal. */
		uint64_t worst = in->scan_worst > in->scan_done ? in->scan_worst : in->scan_done;
		double ext = (double)(goal - in->triggered) / (double)expected * (double)worst + (double)in->triggered;
		double hard = (double)goal * GC_HARD_GOAL_FACTOR;
		goal = (uint64_t)(ext < hard ? ext : hard);
		if (goal < in->goal)
			goal = in->goal;
		expected = worst;
	}
	*eff_goal = goal;
	uint64_t left = expected > in->scan_done ? expected - in->scan_done : 0;
	if (left < 1000)
		left = 1000;
	uint64_t room = goal > in->live ? goal - in->live : 1;
	return (double)left / (double)room;
}

bool gc_limiter_update(int64_t gc_ns, int64_t total_ns, int procs)
{
	/* The bucket fills with GC CPU and drains with mutator CPU; capacity
	 * one second of all workers. Full: assists are off until it drains. */
	int64_t cap = (int64_t)procs * 1000000000;
	if (gc_ns < 0)
		gc_ns = 0;
	int64_t mut = total_ns - gc_ns;
	if (mut < 0)
		mut = 0;
	int64_t fill = atomic_load(&gc_st.limiter_fill) + gc_ns - mut;
	if (fill < 0)
		fill = 0;
	if (fill > cap)
		fill = cap;
	atomic_store(&gc_st.limiter_fill, fill);
	bool on = fill >= cap;
	int was = atomic_exchange(&gc_st.limiter_on, on);
	if (on && !was)
		gc_stat_add(&gc_counters.limiter_engaged, 1);
	return on;
}
