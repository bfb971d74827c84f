/*
 * gcbench — GCBench and binary-trees over four heaps, one binary:
 *
 *   --mode=cms|stw   toc's collector (concurrent or stop-the-world mark-sweep),
 *                    one goroutine per worker              gcbench_toc.c
 *   --mode=boehm     bdwgc 8.2, one registered pthread per worker, as many
 *                    parallel markers as workers, the same heap budget
 *                                                          gcbench_boehm.c
 *   --mode=malloc    malloc/free, one pthread per worker   gcbench_malloc.c
 *   --mode=toc       as cms, with the transaction layer on: every worker is a
 *                    goroutine-long window and every pointer store runs the
 *                    publishing barrier too (the barrier tax where TOC has
 *                    nothing to reclaim)                   gcbench_toc.c
 *
 * The workload (gcbench_work.c) is the same code in every mode. Each worker
 * runs its own copy, so --workers=N does N times the work of one. One run per
 * process: a harness compares modes by running this once per mode,
 * interleaved (docs/measurement.md). This file parses the flags, runs the mode's
 * backend, checks the node counts and prints the figures: a table, or with
 * --json one object on stdout. Progress goes to stderr.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "toc/gc.h"
#include "toc/knob.h"
#include "toc/sched.h"
#include "gcbench.h"

/* toc's knob names for gc_config_set (its table's names for TOC_GOGC and
 * TOC_MEMLIMIT). */
#define GCB_KNOB_GOGC "gogc"
#define GCB_KNOB_MEMLIMIT "memlimit"

static const char *const mode_names[] = {
	[GCB_MODE_CMS] = "cms",
	[GCB_MODE_STW] = "stw",
	[GCB_MODE_BOEHM] = "boehm",
	[GCB_MODE_MALLOC] = "malloc",
	[GCB_MODE_TOC] = "toc",
};

static const char *const bench_names[] = {
	[GCB_BENCH_GCBENCH] = "gcbench",
	[GCB_BENCH_BINARYTREES] = "binarytrees",
	[GCB_BENCH_BOTH] = "both",
	[GCB_BENCH_MUTATE] = "mutate",
};

/* --- flags ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: gcbench [options]\n"
		"Runs GCBench and binary-trees over one heap: toc's collector (cms, stw, toc), Boehm GC,\n"
		"or malloc/free. One run per process; compare modes by running it once per mode.\n\n"
		"  --mode=MODE           cms | stw: toc's collector, workers on goroutines;\n"
		"                        toc: cms with the transaction layer on (its barrier);\n"
		"                        boehm: bdwgc, workers on pthreads, one marker per worker;\n"
		"                        malloc: malloc/free, workers on pthreads\n"
		"                        (default: TOC_MODE, else cms)\n"
		"  --bench=NAME          gcbench | binarytrees | both (default both), or mutate:\n"
		"                        each worker's tree of --long-lived-depth, hung from a shared\n"
		"                        root, mutated in place --mutations times (swap two subtrees,\n"
		"                        or replace one by a fresh one: a store-heavy mutator)\n"
		"  --mutations=N         mutate: steps per worker (default 2000000)\n"
		"  --workers=N           copies of the workload run at once, each independent\n"
		"                        (default: TOC_PROCS, else CPUs online)\n"
		"  --procs=N             scheduler worker threads, cms/stw only (default: --workers)\n"
		"  --max-depth=N         deepest iterated trees, %d..24; the stretch tree is one\n"
		"                        deeper (default 16)\n"
		"  --long-lived-depth=N  GCBench's long-lived tree, 0..24 (default 16)\n"
		"  --gogc=N|off          heap growth between cycles, percent (default: TOC_GOGC or\n"
		"                        GOGC, else 100); boehm: mapped to its free-space divisor;\n"
		"                        malloc: ignored\n"
		"  --memlimit=SIZE       soft memory limit, e.g. 512M, 2G (default: TOC_MEMLIMIT or\n"
		"                        GOMEMLIMIT, else none); boehm: its maximum heap size (hard);\n"
		"                        malloc: ignored\n"
		"  --parked=N            goroutines parked for the whole run, each holding three heap\n"
		"                        objects in three stack frames (cms/stw only; default 0)\n"
		"  --live-mb=M           extra live heap of about M MiB, kept to the end: 64-byte nodes\n"
		"                        on lists, every 16th with a 1 KiB pointer-free buffer (default 0)\n"
		"  --json                print one JSON object on stdout\n"
		"  --help                this text\n\n"
		"Figures (JSON keys; null where a mode does not measure one): mode, bench, workers,\n"
		"procs, max_depth, long_lived_depth, seconds (wall time of the workload, setup\n"
		"excluded), gc_cycles, gc_cpu_fraction (collector CPU / (seconds x procs)),\n"
		"gc_cpu_seconds, stw_count, stw_max_us, stw_p99_us, stw_ttsp_max_us (longest wait for\n"
		"the workers to stop, part of a pause; whole process, cms/stw), peak_rss_mb, peak_heap_mb,\n"
		"goal_mb (heap goal when the heap peaked), pacer_peak_over_goal (max of the sampled\n"
		"paced heap / goal), allocated_mb, parked, live_mb, gogc (-1: off),\n"
		"memlimit_mb, markers (boehm), nodes_checked, and the CPU split:\n\n" BENCH_CPU_FIGURES_HELP "\n"
		"--mode=cms|stw, --gogc and --memlimit override the knobs below.\n",
		GCB_MIN_DEPTH);
	gc_config_help(f);
	sched_config_help(f);
}

static struct gc_config gc_cfg;

static void parse(int argc, char **argv, struct gcb_options *o)
{
	enum { F_MODE = 256, F_BENCH, F_WORKERS, F_PROCS, F_MAXD, F_LLD, F_GOGC, F_MEMLIMIT,
	       F_PARKED, F_LIVE, F_JSON, F_HELP, F_MUTATIONS };
	static const struct option longopts[] = {
		{"mode", required_argument, NULL, F_MODE},
		{"bench", required_argument, NULL, F_BENCH},
		{"workers", required_argument, NULL, F_WORKERS},
		{"procs", required_argument, NULL, F_PROCS},
		{"max-depth", required_argument, NULL, F_MAXD},
		{"long-lived-depth", required_argument, NULL, F_LLD},
		{"gogc", required_argument, NULL, F_GOGC},
		{"memlimit", required_argument, NULL, F_MEMLIMIT},
		{"parked", required_argument, NULL, F_PARKED},
		{"live-mb", required_argument, NULL, F_LIVE},
		{"json", no_argument, NULL, F_JSON},
		{"help", no_argument, NULL, F_HELP},
		{"mutations", required_argument, NULL, F_MUTATIONS},
		{NULL, 0, NULL, 0},
	};
	char err[256];
	struct sched_config scfg = {0};
	if (gc_config_from_env(&gc_cfg, err, sizeof err) || sched_config_from_env(&scfg, err, sizeof err))
		gcb_fatal(2, "%s", err);
	*o = (struct gcb_options){
		.mode = gc_cfg.mode == GC_MODE_STW ? GCB_MODE_STW : GCB_MODE_CMS,
		.bench = GCB_BENCH_BOTH,
		.max_depth = 16,
		.long_lived_depth = 16,
		.mutations = 2000000,
		.gc_cfg = &gc_cfg,
	};
	int64_t workers = scfg.procs, procs = 0, v = 0;
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		const char *flag = NULL;
		int64_t min = 1, max = 0, *dst = &v;
		switch (c) {
		case F_MODE: o->mode = (enum gcb_mode)bench_lookup("--mode", optarg, mode_names, 5); continue;
		case F_BENCH: o->bench = (unsigned)bench_lookup("--bench", optarg, bench_names, 5); continue;
		case F_JSON: o->json = true; continue;
		case F_HELP: usage(stdout); exit(0);
		case F_GOGC:
			if (gc_config_set(&gc_cfg, GCB_KNOB_GOGC, "--gogc", optarg, err, sizeof err))
				gcb_fatal(2, "%s", err);
			continue;
		case F_MEMLIMIT:
			if (gc_config_set(&gc_cfg, GCB_KNOB_MEMLIMIT, "--memlimit", optarg, err, sizeof err))
				gcb_fatal(2, "%s", err);
			continue;
		case F_WORKERS: flag = "--workers"; dst = &workers; max = GCB_MAX_WORKERS; break;
		case F_PROCS: flag = "--procs"; dst = &procs; max = SCHED_MAX_PROCS; break;
		case F_MAXD: flag = "--max-depth"; min = GCB_MIN_DEPTH; max = 24; break;
		case F_LLD: flag = "--long-lived-depth"; min = 0; max = 24; break;
		case F_PARKED: flag = "--parked"; dst = &o->parked; min = 0; max = 16000000; break;
		case F_LIVE: flag = "--live-mb"; dst = &o->live_mb; min = 0; max = (int64_t)1 << 20; break;
		case F_MUTATIONS: flag = "--mutations"; dst = &o->mutations; min = 0; max = INT64_MAX / 2; break;
		default: usage(stderr); exit(2);
		}
		if (sched_knob_int(flag, optarg, min, max, dst, err, sizeof err))
			gcb_fatal(2, "%s", err);
		if (c == F_MAXD)
			o->max_depth = (int)v;
		else if (c == F_LLD)
			o->long_lived_depth = (int)v;
	}
	if (optind < argc)
		gcb_fatal(2, "unexpected argument \"%s\" (flags are --name=value; --help lists them)",
			  argv[optind]);

	bool toc = o->mode == GCB_MODE_CMS || o->mode == GCB_MODE_STW || o->mode == GCB_MODE_TOC;
	if (o->bench == GCB_BENCH_MUTATE && o->long_lived_depth < 2)
		gcb_fatal(2, "--bench=mutate needs --long-lived-depth of 2 or more");
	if (!toc && o->parked)
		gcb_fatal(2, "--parked applies to cms/stw/toc only");
	if (!toc && procs)
		gcb_fatal(2, "--procs applies to cms/stw/toc only (boehm and malloc run one thread per worker)");
	if (!workers)
		workers = bench_cpus();
	o->workers = (int)workers;
	o->procs = procs ? (int)procs : (int)(workers < SCHED_MAX_PROCS ? workers : SCHED_MAX_PROCS);
	o->gogc = gc_cfg.gogc;
	o->memlimit = gc_cfg.memlimit;
}

/* --- output ------------------------------------------------------------------------ */

struct field {
	const char *key;
	char text[48];   /* the value as JSON: a number, null, or a quoted string */
};

static void num(struct field *f, const char *key, const char *fmt, double v)
{
	f->key = key;
	if (isnan(v))
		snprintf(f->text, sizeof f->text, "null");
	else
		snprintf(f->text, sizeof f->text, fmt, v);
}

static void print_result(const struct gcb_options *o, const struct gcb_result *r)
{
	struct field fs[48];
	int n = 0;
	fs[n].key = "mode";
	snprintf(fs[n++].text, sizeof fs[0].text, "\"%s\"", mode_names[o->mode]);
	fs[n].key = "bench";
	snprintf(fs[n++].text, sizeof fs[0].text, "\"%s\"", bench_names[o->bench]);
	num(&fs[n++], "workers", "%.0f", o->workers);
	num(&fs[n++], "procs", "%.0f", r->procs);
	num(&fs[n++], "max_depth", "%.0f", o->max_depth);
	num(&fs[n++], "long_lived_depth", "%.0f", o->long_lived_depth);
	num(&fs[n++], "seconds", "%.4f", r->seconds);
	num(&fs[n++], "gc_cycles", "%.0f", (double)r->gc_cycles);
	num(&fs[n++], "gc_cpu_fraction", "%.4f", r->gc_cpu_fraction);
	num(&fs[n++], "gc_cpu_seconds", "%.4f", r->gc_cpu_seconds);
	num(&fs[n++], "stw_count", "%.0f", (double)r->stw_count);
	num(&fs[n++], "stw_max_us", "%.1f", r->stw_max_us);
	num(&fs[n++], "stw_p99_us", "%.1f", r->stw_p99_us);
	num(&fs[n++], "stw_ttsp_max_us", "%.1f", r->stw_ttsp_max_us);
	num(&fs[n++], "peak_rss_mb", "%.1f", gcb_peak_rss_mb());
	num(&fs[n++], "peak_heap_mb", "%.1f", r->peak_heap_mb);
	num(&fs[n++], "goal_mb", "%.1f", r->goal_mb);
	num(&fs[n++], "pacer_peak_over_goal", "%.3f", r->pacer_peak_over_goal);
	num(&fs[n++], "allocated_mb", "%.1f", r->allocated_mb);
	num(&fs[n++], "parked", "%.0f", (double)o->parked);
	num(&fs[n++], "live_mb", "%.0f", (double)o->live_mb);
	num(&fs[n++], "gogc", "%.0f", o->gogc);
	num(&fs[n++], "memlimit_mb", "%.1f", (double)o->memlimit / (1024.0 * 1024.0));
	num(&fs[n++], "markers", "%.0f", r->markers);
	num(&fs[n++], "nodes_checked", "%.0f", (double)r->nodes_checked);
	num(&fs[n++], "mutations", "%.0f", o->bench & GCB_BENCH_MUTATE ? (double)o->mutations : NAN);
	const char *cpu_keys[BENCH_CPU_FIGURES];
	double cpu_values[BENCH_CPU_FIGURES];
	bench_cpu_figures_list(&r->cpu, cpu_keys, cpu_values);
	for (int i = 0; i < BENCH_CPU_FIGURES; i++)
		num(&fs[n++], cpu_keys[i], "%.4f", cpu_values[i]);

	if (o->json) {
		putchar('{');
		for (int i = 0; i < n; i++)
			printf("%s\"%s\":%s", i ? "," : "", fs[i].key, fs[i].text);
		if (r->toc_stats[0])
			printf(",\"toc\":{%s}", r->toc_stats);
		printf("}\n");
	} else {
		for (int i = 0; i < n; i++) {
			const char *t = fs[i].text;
			size_t len = strlen(t);
			if (t[0] == '"')  /* strings without their quotes */
				printf("%-22s %.*s\n", fs[i].key, (int)(len - 2), t + 1);
			else
				printf("%-22s %s\n", fs[i].key, t);
		}
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	bench_prog = "gcbench";
	struct gcb_options o;
	parse(argc, argv, &o);
	struct gcb_result r = {0};
	gcb_progress("mode %s, bench %s, %d workers, max depth %d, long-lived depth %d", mode_names[o.mode],
		     bench_names[o.bench], o.workers, o.max_depth, o.long_lived_depth);

	int rc;
	switch (o.mode) {
	case GCB_MODE_CMS:
	case GCB_MODE_STW:
	case GCB_MODE_TOC: rc = gcb_toc_run(&o, &r); break;
	case GCB_MODE_BOEHM: rc = gcb_boehm_run(&o, &r); break;
	default: rc = gcb_malloc_run(&o, &r); break;
	}
	if (rc)
		gcb_fatal(1, "the %s run did not complete", mode_names[o.mode]);

	uint64_t want = gcb_expected_nodes(&o) * (uint64_t)o.workers;
	if (r.nodes_checked != want)
		gcb_fatal(1, "the workers counted %llu tree nodes, %llu expected: a live node was lost",
			  (unsigned long long)r.nodes_checked, (unsigned long long)want);
	print_result(&o, &r);
	return 0;
}
