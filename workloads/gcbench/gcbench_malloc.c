/*
 * gcbench_malloc.c — the malloc mode: the C library's allocator on pthreads,
 * every dropped tree freed node by node. No collector, so no cycles, no GC
 * CPU and no pauses (all reported as 0); the heap itself is not sampled
 * (peak_rss_mb is the figure to compare).
 */
#include <math.h>
#include <stdlib.h>

#include "gcbench.h"

static void *checked(void *p, size_t bytes)
{
	if (!p)
		gcb_fatal(1, "malloc: out of memory allocating %zu bytes", bytes);
	return p;
}

/* calloc, because every gcb_heap returns zeroed memory. */
static struct gcb_node *malloc_node(void)
{
	return checked(calloc(1, sizeof(struct gcb_node)), sizeof(struct gcb_node));
}

static struct gcb_live *malloc_live(void)
{
	return checked(calloc(1, sizeof(struct gcb_live)), sizeof(struct gcb_live));
}

static void **malloc_ptrs(size_t n)
{
	return checked(calloc(n, sizeof(void *)), n * sizeof(void *));
}

static void *malloc_noscan(size_t bytes)
{
	return checked(calloc(1, bytes), bytes);
}

static const struct gcb_heap malloc_heap = {
	.name = "malloc",
	.node = malloc_node,
	.live = malloc_live,
	.ptrs = malloc_ptrs,
	.noscan = malloc_noscan,
	.release = free,
	.barrier = false,
};

int gcb_malloc_run(const struct gcb_options *o, struct gcb_result *r)
{
	gcb_use_heap(&malloc_heap);
	if (o->live_mb) {
		gcb_progress("building a live heap of %lld MiB", (long long)o->live_mb);
		gcb_live_build((uint64_t)o->live_mb << 20);
	}
	uint64_t nodes = 0;
	struct bench_rusage ru0, ru1;
	bench_rusage_now(&ru0);
	r->seconds = gcb_threads_run(o, pthread_create, pthread_join, &nodes);
	bench_rusage_now(&ru1);
	bench_cpu_figures_proc(&r->cpu, &ru0, &ru1);
	r->cpu.gc_mark_cpu_seconds = r->cpu.gc_assist_cpu_seconds = r->cpu.gc_sweep_cpu_seconds = 0;
	r->cpu.gc_pause_cpu_seconds = r->cpu.gc_assist_wait_seconds = r->cpu.marking_fraction = 0;
	r->procs = o->workers;
	r->markers = 0;
	r->gc_cycles = 0;
	r->gc_cpu_seconds = 0;
	r->gc_cpu_fraction = 0;
	r->stw_count = 0;
	r->stw_max_us = 0;
	r->stw_p99_us = 0;
	r->stw_ttsp_max_us = NAN;
	r->peak_heap_mb = NAN;
	r->goal_mb = NAN;
	r->pacer_peak_over_goal = NAN;
	r->allocated_mb = NAN;
	r->nodes_checked = nodes;
	gcb_live_check((uint64_t)o->live_mb << 20);
	return 0;
}
