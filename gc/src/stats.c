/*
 * stats.c — statistics (GC_STATS, one X-macro list), pauses, cycle records.
 * Per-worker allocation counters live in the caches and are merged on read.
 *
 * CPU figures. The collector's CPU is not timed here: the scheduler charges
 * a goroutine's thread CPU to the account it has open (sched_account_swap,
 * GC_ACCT_* in internal.h) and stops the clock whenever the goroutine is
 * switched out, so no figure spans a switch, a park or a migration. The
 * figures are read from the scheduler's accounts, and gc_cpu_ns is their sum
 * by construction: it can never exceed the process's CPU time, nor go
 * negative, nor wrap. (An earlier design timed a drain by two readings of
 * the thread clock around it; a drain polls, and a goroutine resumed on
 * another thread then reported another thread's history.)
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

struct gc_counters gc_counters;

#define CYCLE_RING 1024
static struct gc_cycle_record cycles[CYCLE_RING];
static _Atomic uint64_t ncycles;

/* Only the controller records cycles, so the ring needs no lock beyond the
 * release that publishes the count. */
void gc_record_cycle(const struct gc_cycle_record *r)
{
	uint64_t i = atomic_load_explicit(&ncycles, memory_order_relaxed);
	cycles[i % CYCLE_RING] = *r;
	atomic_store_explicit(&ncycles, i + 1, memory_order_release);   /* pairs with gc_read_cycles' acquire */
}

size_t gc_read_cycles(struct gc_cycle_record *out, size_t n_max)
{
	uint64_t n = atomic_load_explicit(&ncycles, memory_order_acquire);
	uint64_t kept = n < CYCLE_RING ? n : CYCLE_RING;
	uint64_t k = kept < n_max ? kept : n_max;
	for (uint64_t i = n - k; i < n; i++)
		*out++ = cycles[i % CYCLE_RING];
	return (size_t)k;
}


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
	stat_max(&gc_counters.stw_max_interval_ns, ns);
}

void gc_record_ttsp(uint64_t ns)
{
	stat_max(&gc_counters.stw_ttsp_max_ns, ns);
}

size_t gc_read_pauses(uint64_t *ns, size_t n_max)
{
	return gc_read_pauses_since(0, ns, n_max);
}

size_t gc_read_pauses_since(uint64_t since, uint64_t *ns, size_t n_max)
{
	uint64_t n = atomic_load(&npauses);
	if (since >= n)
		return 0;
	uint64_t first = n > PAUSE_RING ? n - PAUSE_RING : 0;
	if (first < since)
		first = since;
	if (n - first > n_max)
		first = n - n_max;
	size_t k = 0;
	for (uint64_t i = first; i < n; i++)
		ns[k++] = pauses[i % PAUSE_RING];
	return k;
}

void gc_stats_reset(void)
{
	memset(&gc_counters, 0, sizeof gc_counters);
	atomic_store(&npauses, 0);
	atomic_store(&ncycles, 0);
}

void gc_reset_peaks(void)
{
	atomic_store(&gc_counters.stw_max_interval_ns, 0);
	uint64_t inuse = __atomic_load_n(&gc_heap.pages_inuse, __ATOMIC_RELAXED) * GC_PAGE_SIZE;
	atomic_store(&gc_counters.heap_inuse_max, inuse);
	uint64_t goal = atomic_load(&gc_st.goal);
	atomic_store(&gc_counters.heap_goal_max, goal == UINT64_MAX ? 0 : goal);
}

void gc_stat_max(_Atomic uint64_t *c, uint64_t v)
{
	stat_max(c, v);
}

void gc_read_stats(struct gc_stats *out)
{
#define GC_STAT_COPY(name, doc) out->name = atomic_load_explicit(&gc_counters.name, memory_order_relaxed);
	GC_STATS(GC_STAT_COPY)
#undef GC_STAT_COPY
	out->assist_ns = sched_account_ns(GC_ACCT_ASSIST);
	out->bg_mark_ns = sched_account_ns(GC_ACCT_MARK);
	out->sweep_ns = sched_account_ns(GC_ACCT_SWEEP);
	out->pause_cpu_ns = sched_account_ns(GC_ACCT_PAUSE);
	out->idle_mark_ns = 0;
	out->gc_cpu_ns = out->assist_ns + out->bg_mark_ns + out->sweep_ns + out->pause_cpu_ns;
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
	int64_t began = atomic_load(&gc_st.mark_began);
	if (began)   /* the running mark, so far */
		out->mark_ns += (uint64_t)(sched_nanotime() - began);
}
