/* benchgc.c — the benchmark helpers that read toc's collector (see benchutil.h). */
#include <math.h>
#include <stdlib.h>

#include "toc/gc.h"
#include "toc/toc.h"
#include "benchutil.h"

#define PAUSES_MAX ((size_t)1 << 16)   /* pauses read back from gc_read_pauses */

void bench_gc_pause_figures(uint64_t n, const struct gc_stats *after, double *max_us, double *p99_us)
{
	uint64_t *ns = malloc(PAUSES_MAX * sizeof *ns);
	if (!ns)
		bench_fatal(1, "out of memory for the pause list");
	size_t got = gc_read_pauses(ns, PAUSES_MAX);
	size_t k = n < got ? (size_t)n : got;
	bench_pause_figures(ns + (got - k), k, max_us, p99_us);
	/* More pauses than the ring kept: the cumulative maximum is the best
	 * bound left (it may include the setup's pauses). */
	if (k < n && (double)after->stw_max_ns / 1e3 > *max_us)
		*max_us = (double)after->stw_max_ns / 1e3;
	free(ns);
}

void bench_gc_flag(struct gc_config *cfg, const char *knob, const char *flag, const char *value)
{
	char err[256];
	if (gc_config_set(cfg, knob, flag, value, err, sizeof err))
		bench_fatal(2, "%s", err);
}

void bench_gc_cpu_figures(struct bench_cpu_figures *f, const struct gc_stats *b, const struct gc_stats *a,
			  const struct bench_rusage *ru_before, const struct bench_rusage *ru_after, double seconds)
{
	bench_cpu_figures_proc(f, ru_before, ru_after);
	f->gc_mark_cpu_seconds = (double)(a->bg_mark_ns - b->bg_mark_ns) / 1e9;
	f->gc_assist_cpu_seconds = (double)(a->assist_ns - b->assist_ns) / 1e9;
	f->gc_sweep_cpu_seconds = (double)(a->sweep_ns - b->sweep_ns) / 1e9;
	f->gc_pause_cpu_seconds = (double)(a->pause_cpu_ns - b->pause_cpu_ns) / 1e9;
	f->gc_cpu_seconds = f->gc_mark_cpu_seconds + f->gc_assist_cpu_seconds + f->gc_sweep_cpu_seconds +
			    f->gc_pause_cpu_seconds;
	f->gc_assist_wait_seconds = (double)(a->assist_wait_ns - b->assist_wait_ns) / 1e9;
	f->marking_fraction = seconds > 0 ? (double)(a->mark_ns - b->mark_ns) / 1e9 / seconds : NAN;
	f->heap_inuse_max_mb = (double)a->heap_inuse_max / 1048576.0;
	f->heap_goal_max_mb = (double)a->heap_goal_max / 1048576.0;
}

void bench_toc_stats_json(char *buf, size_t len, const struct toc_stats *d)
{
	FILE *f = fmemopen(buf, len, "w");
	if (!f)
		bench_fatal(1, "cannot format the toc statistics");
	toc_stats_json(f, d);
	fclose(f);
	buf[len - 1] = 0;
}
