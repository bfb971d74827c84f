/*
 * gcbench_boehm.c — the boehm mode: bdwgc 8.2 (Debian libgc-dev) on pthreads.
 *
 * bdwgc is used the way a C program would use it, as the comparison baseline
 * (DESIGN.md §9): stop-the-world collection with parallel marking, one marker
 * per worker (GC_set_markers_count before GC_INIT), threads registered by
 * GC_pthread_create, pointerful objects from GC_MALLOC and pointer-free data
 * from GC_MALLOC_ATOMIC, mirroring toc's scan/noscan spans. bdwgc's malloc
 * replacement is not used: malloc stays the C library's.
 *
 * This file is compiled without toc's include directory (see gcbench.h), and
 * runs before, not inside, toc's runtime: the two never share a process run.
 *
 * Heap budget. Go's GOGC lets a program allocate live * GOGC/100 bytes
 * between cycles. bdwgc starts a collection once the bytes allocated since
 * the last one reach
 *     (2 * composite + atomic / 4 + 2 * stacks + roots) / free_space_divisor
 * (min_bytes_allocd in bdwgc 8.2's alloc.c), where composite and atomic are
 * the pointerful and pointer-free bytes found live by the last collection.
 * For a live heap of pointerful objects (these trees) that is
 * 2 * live / divisor, so the budget of GOGC needs
 *     divisor = 200 / GOGC, rounded, at least 1:
 *     GOGC 25 -> 8, 50 -> 4, 100 -> 2, 150 -> 1 (1.33), >= 200 -> 1.
 * bdwgc cannot leave more than about 2 x live between collections, so GOGC
 * above 200 is capped; its default divisor, 3, is about GOGC 67. A live heap
 * of mostly pointer-free data (half of --live-mb) makes bdwgc collect sooner
 * than Go would at the same GOGC; the divisor chosen is printed on stderr.
 * GOGC=off: GC_disable() without a memory limit (bdwgc then never collects);
 * with one, divisor 1 and the limit, the nearest bdwgc has to "collect only
 * near the limit". A memory limit becomes GC_set_max_heap_size, which is a
 * hard limit (allocation past it fails, and gcbench stops with a message),
 * where toc's and Go's are soft.
 *
 * Pauses: GC_set_on_collection_event delivers, on the collecting thread with
 * the allocation lock held, GC_EVENT_PRE_STOP_WORLD ... GC_EVENT_POST_START_WORLD
 * around each stop-the-world (a pause) and GC_EVENT_START ... GC_EVENT_END
 * around each collection. Threads that allocate during the rest of a
 * collection wait for the allocation lock; that wait is not in the pause
 * figures but is in the collection time.
 *
 * GC CPU: during a collection the world is stopped and the markers (one per
 * worker) mark in parallel, and after the world restarts the collector
 * holds the allocation lock the workers need, so a collection costs about
 * its wall time on every worker: gc_cpu_seconds = collection wall time x
 * markers, gc_cpu_fraction = collection wall time / seconds. This is timed
 * by the event callbacks (ns) rather than GC_get_full_gc_total_time (ms
 * resolution; printed on stderr as a cross-check). Sweeping done lazily
 * inside GC_MALLOC is mutator time here, as toc's allocator-side sweeping
 * is in toc's sweep_ns but not in its gc_cpu_ns.
 */
#define GC_THREADS
#include <gc.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gcbench.h"

#define MIB (1024.0 * 1024.0)

/* --- allocation ------------------------------------------------------------------ */

static void *checked(void *p, size_t bytes)
{
	if (!p)
		gcb_fatal(1, "boehm: out of memory allocating %zu bytes (heap %zu bytes; --memlimit is a hard "
			     "limit in this mode)",
			  bytes, GC_get_heap_size());
	return p;
}

static struct gcb_node *boehm_node(void)
{
	return checked(GC_MALLOC(sizeof(struct gcb_node)), sizeof(struct gcb_node));
}

static struct gcb_live *boehm_live(void)
{
	return checked(GC_MALLOC(sizeof(struct gcb_live)), sizeof(struct gcb_live));
}

static void **boehm_ptrs(size_t n)
{
	return checked(GC_MALLOC(n * sizeof(void *)), n * sizeof(void *));
}

/* GC_MALLOC_ATOMIC does not clear; every gcb_heap returns zeroed memory. */
static void *boehm_noscan(size_t bytes)
{
	void *p = checked(GC_MALLOC_ATOMIC(bytes), bytes);
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

/* --- collection events -------------------------------------------------------------- */

#define BOEHM_PAUSES_MAX 65536

/* Written by boehm_event with the allocation lock held (one writer at a
 * time); read by gcb_boehm_run after the workers joined. The pause ring is
 * malloc'd: bdwgc scans the program's static data as roots at every
 * collection, and would otherwise scan it too. */
static struct {
	int recording;                      /* atomic: inside the timed part */
	int64_t stop_began;                 /* PRE_STOP_WORLD of the open pause */
	int64_t gc_began;                   /* START of the open collection */
	uint64_t cycles;                    /* collections ended while recording */
	uint64_t gc_ns;                     /* their wall time */
	uint64_t npauses;                   /* pauses ended while recording */
	uint64_t max_ns;                    /* the longest of them */
	uint64_t *pauses;                   /* their lengths, ns; a ring of BOEHM_PAUSES_MAX */
} ev;

static void GC_CALLBACK boehm_event(GC_EventType e)
{
	int64_t now = gcb_now_ns();
	bool rec = __atomic_load_n(&ev.recording, __ATOMIC_RELAXED);
	switch (e) {
	case GC_EVENT_START:
		ev.gc_began = now;
		break;
	case GC_EVENT_END:
		if (rec) {
			ev.cycles++;
			ev.gc_ns += (uint64_t)(now - ev.gc_began);
		}
		break;
	case GC_EVENT_PRE_STOP_WORLD:
		ev.stop_began = now;
		break;
	case GC_EVENT_POST_START_WORLD:
		if (rec) {
			uint64_t ns = (uint64_t)(now - ev.stop_began);
			ev.pauses[ev.npauses++ % BOEHM_PAUSES_MAX] = ns;
			if (ns > ev.max_ns)
				ev.max_ns = ns;
		}
		break;
	default:
		break;
	}
}

/* --- heap sampler ------------------------------------------------------------------ */

static int sampler_stop;         /* atomic: set by gcb_boehm_run */
static uint64_t sampled_peak;    /* largest heap in use seen; read after join */

static void *sampler_main(void *unused)
{
	(void)unused;
	const struct timespec period = {0, 1000000};
	for (;;) {
		struct GC_prof_stats_s s;
		GC_get_prof_stats(&s, sizeof s);
		uint64_t inuse = (uint64_t)(s.heapsize_full - s.free_bytes_full);
		if (inuse > sampled_peak)
			sampled_peak = inuse;
		if (__atomic_load_n(&sampler_stop, __ATOMIC_ACQUIRE))
			return NULL;
		nanosleep(&period, NULL);
	}
}

/* --- the run ------------------------------------------------------------------------- */

static void boehm_budget(const struct gcb_options *o)
{
	if (o->gogc == GCB_GOGC_OFF && !o->memlimit) {
		GC_disable();
		gcb_progress("boehm: GOGC=off: collection disabled");
		return;
	}
	unsigned long divisor = 1;
	if (o->gogc != GCB_GOGC_OFF && o->gogc > 0)
		divisor = (200ul + (unsigned long)o->gogc / 2) / (unsigned long)o->gogc;
	if (divisor < 1)
		divisor = 1;
	GC_set_free_space_divisor(divisor);
	if (o->memlimit)
		GC_set_max_heap_size((GC_word)o->memlimit);
	char gogc[16] = "off";
	if (o->gogc != GCB_GOGC_OFF)
		snprintf(gogc, sizeof gogc, "%d", o->gogc);
	gcb_progress("boehm: free space divisor %lu for GOGC %s%s, %d markers", divisor, gogc,
		     o->memlimit ? ", memory limit as max heap size" : "", o->workers);
}

int gcb_boehm_run(const struct gcb_options *o, struct gcb_result *r)
{
	ev.pauses = malloc(BOEHM_PAUSES_MAX * sizeof *ev.pauses);
	if (!ev.pauses)
		gcb_fatal(1, "out of memory for the pause list");
	GC_set_markers_count((unsigned)o->workers);
	GC_INIT();
	GC_start_performance_measurement();
	boehm_budget(o);
	GC_set_on_collection_event(boehm_event);

	gcb_use_heap(&boehm_heap);
	if (o->live_mb) {
		gcb_progress("building a live heap of %lld MiB", (long long)o->live_mb);
		gcb_live_build((uint64_t)o->live_mb << 20);
	}
	GC_gcollect();

	pthread_t sampler;
	int err = GC_pthread_create(&sampler, NULL, sampler_main, NULL);
	if (err)
		gcb_fatal(1, "boehm: cannot start the sampler thread: %s", strerror(err));

	unsigned long full_ms0 = GC_get_full_gc_total_time();
	size_t total0 = GC_get_total_bytes();
	__atomic_store_n(&ev.recording, 1, __ATOMIC_RELAXED);
	uint64_t nodes = 0;
	r->seconds = gcb_threads_run(o, GC_pthread_create, GC_pthread_join, &nodes);
	/* The workers are joined: no collection runs until main allocates. */
	__atomic_store_n(&ev.recording, 0, __ATOMIC_RELAXED);
	size_t total1 = GC_get_total_bytes();
	unsigned long full_ms1 = GC_get_full_gc_total_time();

	__atomic_store_n(&sampler_stop, 1, __ATOMIC_RELEASE);
	GC_pthread_join(sampler, NULL);

	r->procs = o->workers;
	r->markers = GC_get_parallel() + 1;
	r->gc_cycles = ev.cycles;
	r->gc_cpu_seconds = (double)ev.gc_ns / 1e9 * (double)r->markers;
	r->gc_cpu_fraction = (double)ev.gc_ns / 1e9 / r->seconds;
	r->stw_count = ev.npauses;
	size_t kept = ev.npauses < BOEHM_PAUSES_MAX ? (size_t)ev.npauses : BOEHM_PAUSES_MAX;
	gcb_pause_figures(ev.pauses, kept, &r->stw_max_us, &r->stw_p99_us);
	r->stw_max_us = (double)ev.max_ns / 1e3;  /* exact even when the ring wrapped */
	r->stw_ttsp_max_us = NAN;                  /* bdwgc does not report it */
	r->peak_heap_mb = (double)sampled_peak / MIB;
	r->goal_mb = NAN;
	r->pacer_peak_over_goal = NAN;
	r->allocated_mb = (double)(total1 - total0) / MIB;
	r->nodes_checked = nodes;
	double stopped_ms = 0;
	for (size_t i = 0; i < kept; i++)
		stopped_ms += (double)ev.pauses[i] / 1e6;
	gcb_progress("boehm: %llu collections, %.1f ms by the event callbacks (world stopped %.1f ms), "
		     "%lu ms by GC_get_full_gc_total_time",
		     (unsigned long long)ev.cycles, (double)ev.gc_ns / 1e6, stopped_ms, full_ms1 - full_ms0);

	gcb_live_check((uint64_t)o->live_mb << 20);
	free(ev.pauses);
	return 0;
}
