/*
 * stats.c — the layer's statistics (TOC_STATS, one X-macro list):
 * per-worker counters merged on read, gauges of owned and reserved bytes
 * and open windows, the JSON members and the gctrace suffix.
 */
#include <stdlib.h>
#include <string.h>

#include "window.h"

TOC_KEEP_LAYER;

struct toc_counters *toc_counters;
_Atomic uint64_t toc_owned_bytes, toc_owned_max, toc_reserved_bytes, toc_open_windows, toc_open_max;
_Atomic uint64_t toc_open_recent;

/* --- statistics ------------------------------------------------------------------------- */

struct toc_counters *toc_my_counters(void)
{
	int w = sched_worker_index();
	return &toc_counters[w >= 0 ? w : SCHED_MAX_PROCS];
}

void toc_max_raise(_Atomic uint64_t *max, uint64_t now)
{
	uint64_t m = atomic_load(max);
	while (now > m && !atomic_compare_exchange_weak(max, &m, now))
		;
}

/* Adds v to a gauge and raises its high-water mark (max NULL: none kept). */
uint64_t toc_gauge_add(_Atomic uint64_t *g, _Atomic uint64_t *max, int64_t v)
{
	uint64_t now = atomic_fetch_add(g, (uint64_t)v) + (uint64_t)v;
	if (max && v > 0)
		toc_max_raise(max, now);
	return now;
}

void toc_read_stats(struct toc_stats *out)
{
	memset(out, 0, sizeof *out);
	if (!toc_counters)
		return;
	for (int w = 0; w <= SCHED_MAX_PROCS; w++) {
#define TOC_STAT_SUM(name, doc) out->name += __atomic_load_n(&toc_counters[w].name, __ATOMIC_RELAXED);
		TOC_STATS(TOC_STAT_SUM)
#undef TOC_STAT_SUM
	}
	out->owned_bytes = atomic_load(&toc_owned_bytes);
	out->owned_bytes_max = atomic_load(&toc_owned_max);
	out->reserved_bytes = atomic_load(&toc_reserved_bytes);
	out->windows_open = atomic_load(&toc_open_windows);
	out->windows_open_max = atomic_load(&toc_open_max);
}

void toc_stats_since(struct toc_stats *d, const struct toc_stats *after, const struct toc_stats *before)
{
#define TOC_STAT_SUB(name, doc) d->name = after->name - before->name;
	TOC_STATS(TOC_STAT_SUB)
#undef TOC_STAT_SUB
	d->owned_bytes = after->owned_bytes;
	d->owned_bytes_max = after->owned_bytes_max;
	d->reserved_bytes = after->reserved_bytes;
	d->windows_open = after->windows_open;
	d->windows_open_max = after->windows_open_max;
}

void toc_stats_json(FILE *out, const struct toc_stats *st)
{
	double local = (double)st->local_bytes;
	fprintf(out, "\"toc_reclaimed_fraction\": %.4f, \"toc_published_fraction\": %.4f, \"toc_forfeit_fraction\": %.4f",
		local > 0 ? (double)st->reclaimed_bytes / local : 0.0,
		local > 0 ? (double)st->published_bytes / local : 0.0,
		local > 0 ? (double)st->forfeited_bytes / local : 0.0);
#define TOC_STAT_JSON(name, doc) fprintf(out, ", \"toc_" #name "\": %llu", (unsigned long long)st->name);
	TOC_STATS(TOC_STAT_JSON)
#undef TOC_STAT_JSON
}

void toc_trace(char *buf, size_t len)
{
	struct toc_stats st;
	toc_read_stats(&st);
	double local = (double)st.local_bytes;
	snprintf(buf, len, ", toc: %llu windows, %.0f MB local, %.1f%% rewound, %.1f%% published, %llu forfeits",
		 (unsigned long long)st.windows, local / 1048576.0,
		 local > 0 ? 100.0 * (double)st.reclaimed_bytes / local : 0.0,
		 local > 0 ? 100.0 * (double)st.published_bytes / local : 0.0, (unsigned long long)st.forfeits);
}


void toc_stats_reset(void)
{
	/* Kept from one gc_init to the next: the programs read them after the run. */
	if (!toc_counters)
		toc_counters = aligned_alloc(64, sizeof(struct toc_counters) * (SCHED_MAX_PROCS + 1));
	if (!toc_counters)
		gc_fatal("toc: out of memory for counters");
	memset(toc_counters, 0, sizeof(struct toc_counters) * (SCHED_MAX_PROCS + 1));
	atomic_store(&toc_owned_bytes, 0);
	atomic_store(&toc_owned_max, 0);
	atomic_store(&toc_reserved_bytes, 0);
	atomic_store(&toc_open_windows, 0);
	atomic_store(&toc_open_max, 0);
	atomic_store(&toc_open_recent, 0);
}
