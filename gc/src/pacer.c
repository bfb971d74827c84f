/*
 * pacer.c — when to collect: the heap goal, the trigger, the memory limit
 * and the GC CPU limiter (Go's mgcpacer.go and mgclimit.go, simplified).
 *
 * Goal (Go 1.18+): marked + (marked + stacks + globals) * GOGC / 100, at
 * least 4 MiB * GOGC / 100. GOGC=off: no goal (only the memory limit).
 * Soft memory limit: the goal is lowered to memlimit - overhead (memory the
 * runtime holds that is not heap in use: stacks, metadata, free pages not
 * yet returned), but never below marked + 1/16 (the cycle would be
 * pointless). When the limit cannot be met, cycles run back to back;
 * the limiter then stops assists once the collector has used more than
 * half the CPU (a leaky bucket), so the program slows down instead of
 * thrashing: background marking keeps its 25%, the mutator the rest.
 *
 * Trigger: a cycle starts when heap_live reaches marked + f * (goal -
 * marked), f between 0.7 and 0.95, from the last cycle's runway: the bytes
 * allocated while it marked, as a fraction of its goal's headroom.
 */
#include "internal.h"

#define GC_HEAP_MIN ((uint64_t)4 << 20)

uint64_t gc_pacer_goal(const struct gc_pacer_in *in, bool *limited)
{
	*limited = false;
	uint64_t goal = UINT64_MAX;
	if (in->gogc != GC_GOGC_OFF) {
		uint64_t base = in->marked + in->stacks + in->globals;
		goal = in->marked + base / 100 * (uint64_t)in->gogc + base % 100 * (uint64_t)in->gogc / 100;
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

uint64_t gc_pacer_trigger(uint64_t marked, uint64_t goal, double runway_fraction)
{
	if (goal == UINT64_MAX)
		return UINT64_MAX;
	if (goal <= marked)
		return marked;
	double f = 1.0 - runway_fraction;
	if (f < 0.7)
		f = 0.7;
	if (f > 0.95)
		f = 0.95;
	return marked + (uint64_t)((double)(goal - marked) * f);
}

bool gc_limiter_update(int64_t gc_ns, int64_t total_ns, int procs)
{
	/* The bucket fills with GC CPU and drains with mutator CPU; capacity
	 * one second of all workers. Full: assists are off until it drains. */
	int64_t cap = (int64_t)procs * 1000000000;
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
