/*
 * boehmgc.c — bdwgc 8.2 (Debian libgc-dev) on pthreads, for the boehm modes
 * of gcbench and txbench.
 *
 * bdwgc is used the way a C program would use it, as the comparison baseline
 * (bdwgc, as Debian ships it): stop-the-world collection with parallel marking, one marker
 * per worker (GC_set_markers_count before GC_INIT), threads registered by
 * GC_pthread_create, pointerful objects from GC_MALLOC and pointer-free data
 * from GC_MALLOC_ATOMIC, mirroring toc's scan/noscan spans. bdwgc's malloc
 * replacement is not used: malloc stays the C library's.
 *
 * This file is compiled without toc's include directory (see gcbench.h and
 * txbench.h): bdwgc and toc's runtime never share a process run.
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
 * of mostly pointer-free data (half of gcbench's --live-mb) makes bdwgc collect sooner
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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"
#include "boehmgc.h"

/* bdwgc calls this, without its lock held, when an allocation fails: out of
 * memory is fatal, naming the request (in bytes as bdwgc counts them: a
 * small one rounded up to its 16-byte granules), so GC_MALLOC never returns
 * NULL and the callers check nothing. */
static void *GC_CALLBACK out_of_memory(size_t bytes)
{
	bench_fatal(1, "boehm: out of memory allocating %zu bytes (heap %zu bytes; --memlimit is a hard "
		       "limit in this mode)",
		    bytes, GC_get_heap_size());
}

/* --- collection events -------------------------------------------------------------- */

#define BOEHM_PAUSES_MAX 65536

/* Written by boehm_event with the allocation lock held (one writer at a
 * time); read by bgc_end after the workers joined. The pause ring is
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
	uint64_t all_cycles;                /* atomic: collections ended, recording or not */
	uint64_t all_ns;                    /* atomic: their wall time (bgc_read) */
} ev;

static void GC_CALLBACK boehm_event(GC_EventType e)
{
	int64_t now = bench_now_ns();
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
		/* Relaxed: bgc_read wants the counts, not what they order. */
		__atomic_store_n(&ev.all_ns, ev.all_ns + (uint64_t)(now - ev.gc_began), __ATOMIC_RELAXED);
		__atomic_store_n(&ev.all_cycles, ev.all_cycles + 1, __ATOMIC_RELAXED);
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

static uint64_t heap_inuse(void)
{
	struct GC_prof_stats_s s;
	GC_get_prof_stats(&s, sizeof s);
	return (uint64_t)(s.heapsize_full - s.free_bytes_full);
}

void bgc_read(uint64_t *cycles, uint64_t *gc_ns, uint64_t *inuse)
{
	*cycles = __atomic_load_n(&ev.all_cycles, __ATOMIC_RELAXED);
	*gc_ns = __atomic_load_n(&ev.all_ns, __ATOMIC_RELAXED);
	if (inuse)
		*inuse = heap_inuse();
}

static int sampler_stop;         /* atomic: set by bgc_end */
static uint64_t sampled_peak;    /* largest heap in use seen; read after join */

static void *sampler_main(void *unused)
{
	(void)unused;
	const struct timespec period = {0, 1000000};
	for (;;) {
		uint64_t inuse = heap_inuse();
		if (inuse > sampled_peak)
			sampled_peak = inuse;
		if (__atomic_load_n(&sampler_stop, __ATOMIC_ACQUIRE))
			return NULL;
		nanosleep(&period, NULL);
	}
}

/* --- the run ------------------------------------------------------------------------- */

static void budget(int gogc, uint64_t memlimit, int markers)
{
	if (gogc == BGC_GOGC_OFF && !memlimit) {
		GC_disable();
		bench_progress("boehm: GOGC=off: collection disabled");
		return;
	}
	unsigned long divisor = 1;
	if (gogc != BGC_GOGC_OFF && gogc > 0)
		divisor = (200ul + (unsigned long)gogc / 2) / (unsigned long)gogc;
	if (divisor < 1)
		divisor = 1;
	GC_set_free_space_divisor(divisor);
	if (memlimit)
		GC_set_max_heap_size((GC_word)memlimit);
	char name[16] = "off";
	if (gogc != BGC_GOGC_OFF)
		snprintf(name, sizeof name, "%d", gogc);
	bench_progress("boehm: free space divisor %lu for GOGC %s%s, %d markers", divisor, name,
		       memlimit ? ", memory limit as max heap size" : "", markers);
}

void bgc_init(int markers, int gogc, uint64_t memlimit)
{
	ev.pauses = malloc(BOEHM_PAUSES_MAX * sizeof *ev.pauses);
	if (!ev.pauses)
		bench_fatal(1, "out of memory for the pause list");
	GC_set_markers_count((unsigned)markers);
	GC_INIT();
	GC_set_oom_fn(out_of_memory);
	GC_start_performance_measurement();
	budget(gogc, memlimit, markers);
	GC_set_on_collection_event(boehm_event);
}

static pthread_t sampler;
static unsigned long full_ms0;
static size_t total0;

void bgc_begin(void)
{
	__atomic_store_n(&sampler_stop, 0, __ATOMIC_RELEASE);
	int err = GC_pthread_create(&sampler, NULL, sampler_main, NULL);
	if (err)
		bench_fatal(1, "boehm: cannot start the sampler thread: %s", strerror(err));
	full_ms0 = GC_get_full_gc_total_time();
	total0 = GC_get_total_bytes();
	__atomic_store_n(&ev.recording, 1, __ATOMIC_RELAXED);
}

void bgc_end(double seconds, struct bgc_figures *f)
{
	/* The caller's threads are joined: no collection runs until it allocates. */
	__atomic_store_n(&ev.recording, 0, __ATOMIC_RELAXED);
	size_t total1 = GC_get_total_bytes();
	unsigned long full_ms1 = GC_get_full_gc_total_time();
	__atomic_store_n(&sampler_stop, 1, __ATOMIC_RELEASE);
	GC_pthread_join(sampler, NULL);

	f->markers = GC_get_parallel() + 1;
	f->cycles = ev.cycles;
	f->gc_cpu_seconds = (double)ev.gc_ns / 1e9 * (double)f->markers;
	f->gc_cpu_fraction = (double)ev.gc_ns / 1e9 / seconds;
	f->pauses = ev.npauses;
	size_t kept = ev.npauses < BOEHM_PAUSES_MAX ? (size_t)ev.npauses : BOEHM_PAUSES_MAX;
	double stopped_ms = 0;
	for (size_t i = 0; i < kept; i++)
		stopped_ms += (double)ev.pauses[i] / 1e6;
	bench_pause_figures(ev.pauses, kept, &f->stw_max_us, &f->stw_p99_us);
	f->stw_max_us = (double)ev.max_ns / 1e3;   /* exact even when the ring wrapped */
	f->peak_heap_bytes = sampled_peak;
	f->allocated_bytes = (uint64_t)(total1 - total0);
	bench_progress("boehm: %llu collections, %.1f ms by the event callbacks (world stopped %.1f ms), "
		       "%lu ms by GC_get_full_gc_total_time",
		       (unsigned long long)ev.cycles, (double)ev.gc_ns / 1e6, stopped_ms, full_ms1 - full_ms0);
	free(ev.pauses);
	ev.pauses = NULL;
}

void bgc_cpu_figures(struct bench_cpu_figures *out, const struct bgc_figures *f, const struct bench_rusage *before,
		     const struct bench_rusage *after)
{
	bench_cpu_figures_proc(out, before, after);
	out->gc_cpu_seconds = out->gc_pause_cpu_seconds = f->gc_cpu_seconds;
	out->heap_inuse_max_mb = (double)f->peak_heap_bytes / 1048576.0;
}
