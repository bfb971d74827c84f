/*
 * gcbench_boehm.c — the boehm mode: bdwgc 8.2 (Debian libgc-dev) on pthreads.
 *
 * Heap budget, collection events, pauses, GC CPU and the heap sampler are
 * boehmgc.c's (shared with txbench); this file is gcbench's heap over
 * GC_MALLOC (pointerful) and GC_MALLOC_ATOMIC (pointer-free) and the run.
 */
#define GC_THREADS
#include <gc.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "boehmgc.h"
#include "gcbench.h"

#define MIB (1024.0 * 1024.0)

/* --- allocation ------------------------------------------------------------------ */

static struct gcb_node *boehm_node(void)
{
	return GC_MALLOC(sizeof(struct gcb_node));
}

static struct gcb_live *boehm_live(void)
{
	return GC_MALLOC(sizeof(struct gcb_live));
}

static void **boehm_ptrs(size_t n)
{
	return GC_MALLOC(n * sizeof(void *));
}

/* GC_MALLOC_ATOMIC does not clear; every gcb_heap returns zeroed memory. */
static void *boehm_noscan(size_t bytes)
{
	void *p = GC_MALLOC_ATOMIC(bytes);
	memset(p, 0, bytes);
	return p;
}

static const struct gcb_heap boehm_heap = {
	.name = "boehm",
	.node = boehm_node,
	.live = boehm_live,
	.ptrs = boehm_ptrs,
	.noscan = boehm_noscan,
	.release = NULL,
	.barrier = false,
};

/* --- the run ------------------------------------------------------------------------- */

int gcb_boehm_run(const struct gcb_options *o, struct gcb_result *r)
{
	bgc_init(o->workers, o->gogc == GCB_GOGC_OFF ? BGC_GOGC_OFF : o->gogc, o->memlimit);
	gcb_use_heap(&boehm_heap);
	if (o->live_mb) {
		gcb_progress("building a live heap of %lld MiB", (long long)o->live_mb);
		gcb_live_build((uint64_t)o->live_mb << 20);
	}
	GC_gcollect();

	bgc_begin();
	uint64_t nodes = 0;
	struct bench_rusage ru0, ru1;
	bench_rusage_now(&ru0);
	r->seconds = gcb_threads_run(o, GC_pthread_create, GC_pthread_join, &nodes);
	bench_rusage_now(&ru1);
	struct bgc_figures f;
	bgc_end(r->seconds, &f);

	r->procs = o->workers;
	r->markers = f.markers;
	r->gc_cycles = f.cycles;
	r->gc_cpu_seconds = f.gc_cpu_seconds;
	r->gc_cpu_fraction = f.gc_cpu_fraction;
	r->stw_count = f.pauses;
	bgc_cpu_figures(&r->cpu, &f, &ru0, &ru1);
	r->stw_max_us = f.stw_max_us;
	r->stw_p99_us = f.stw_p99_us;
	r->stw_ttsp_max_us = NAN;                  /* bdwgc does not report it */
	r->peak_heap_mb = (double)f.peak_heap_bytes / MIB;
	r->goal_mb = NAN;
	r->pacer_peak_over_goal = NAN;
	r->allocated_mb = (double)f.allocated_bytes / MIB;
	r->nodes_checked = nodes;
	gcb_live_check((uint64_t)o->live_mb << 20);
	return 0;
}
