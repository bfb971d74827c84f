/*
 * stats.c — statistics (GC_STATS, one X-macro list), pauses, CPU clocks.
 * Per-worker allocation counters live in the caches and are merged on read.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

struct gc_counters gc_counters;

#define PAUSE_RING 4096
static uint64_t pauses[PAUSE_RING];
static _Atomic uint64_t npauses;

_Noreturn void gc_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("gc: fatal: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

void gc_stat_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

/* Raises *c to v if v is larger. */
static void stat_max(_Atomic uint64_t *c, uint64_t v)
{
	uint64_t max = atomic_load(c);
	while (v > max && !atomic_compare_exchange_weak(c, &max, v))
		;
}

void gc_record_pause(uint64_t ns)
{
	uint64_t i = atomic_fetch_add(&npauses, 1);
	pauses[i % PAUSE_RING] = ns;
	gc_stat_add(&gc_counters.stw_count, 1);
	gc_stat_add(&gc_counters.stw_total_ns, ns);
	stat_max(&gc_counters.stw_max_ns, ns);
}

void gc_record_ttsp(uint64_t ns)
{
	stat_max(&gc_counters.stw_ttsp_max_ns, ns);
}

size_t gc_read_pauses(uint64_t *ns, size_t n_max)
{
	uint64_t n = atomic_load(&npauses);
	uint64_t first = n > PAUSE_RING ? n - PAUSE_RING : 0;
	size_t k = 0;
	for (uint64_t i = first; i < n && k < n_max; i++)
		ns[k++] = pauses[i % PAUSE_RING];
	return k;
}

void gc_stats_reset(void)
{
	memset(&gc_counters, 0, sizeof gc_counters);
	atomic_store(&npauses, 0);
}

uint64_t gc_thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void gc_read_stats(struct gc_stats *out)
{
#define GC_STAT_COPY(name, doc) out->name = atomic_load_explicit(&gc_counters.name, memory_order_relaxed);
	GC_STATS(GC_STAT_COPY)
#undef GC_STAT_COPY
	int n = gc_ncaches();
	for (int w = 0; w < n; w++) {
		out->alloc_bytes += __atomic_load_n(&gc_caches[w].alloc_bytes, __ATOMIC_RELAXED);
		out->alloc_objects += __atomic_load_n(&gc_caches[w].alloc_objects, __ATOMIC_RELAXED);
	}
	out->heap_live = atomic_load(&gc_st.heap_marked);
	out->heap_goal = atomic_load(&gc_st.goal);
	out->heap_paced = atomic_load(&gc_st.heap_live);
	size_t inuse = __atomic_load_n(&gc_heap.pages_inuse, __ATOMIC_RELAXED);
	size_t freep = __atomic_load_n(&gc_heap.pages_free, __ATOMIC_RELAXED);
	size_t rel = __atomic_load_n(&gc_heap.pages_released, __ATOMIC_RELAXED);
	out->heap_inuse = inuse * GC_PAGE_SIZE;
	out->heap_mapped = __atomic_load_n(&gc_heap.narenas, __ATOMIC_RELAXED) * GC_ARENA_SIZE;
	out->heap_released = rel * GC_PAGE_SIZE;
	out->heap_committed = (inuse + freep - rel) * GC_PAGE_SIZE;
	out->stack_bytes = atomic_load(&gc_st.stack_bytes);
}
