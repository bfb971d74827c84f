/*
 * gcbench_toc.c — the cms and stw modes: toc's collector, workers on goroutines.
 *
 * gc_run starts the runtime with cfg.mode = GC_MODE_CMS or GC_MODE_STW and
 * runs toc_main as the first goroutine, which
 *   1. registers gcb_live_root as a root and parks --parked goroutines, each
 *      holding three fresh objects in three stack frames (so every cycle has
 *      that many stacks to scan);
 *   2. builds the --live-mb heap and runs one full cycle (gc_collect), so every
 *      mode starts the timed part with its live data marked once;
 *   3. starts a sampler thread and the workers (one goroutine each), and
 *      times them;
 *   4. reads the statistics, stops the sampler, releases the parked
 *      goroutines and checks what they and the live heap hold.
 *
 * Figures over the timed part only: counters are read before and after it
 * and subtracted; the pauses are the last (stw_count after - before)
 * entries of gc_read_pauses.
 *
 * Pacer accuracy: a sampler thread reads gc_read_stats every GCB_SAMPLE_NS.
 * pacer_peak_over_goal is the largest heap_paced / heap_goal over all
 * samples: heap_paced is the heap the pacer holds to the goal (Go's
 * heapLive: what the last cycle marked plus the spans handed to allocation
 * since); above 1 means a cycle finished late. heap_inuse is not used for
 * it: it also counts spans not yet swept, which right after a cycle still
 * hold the last interval's garbage.
 * peak_heap_mb is the largest sampled heap_inuse (spans in use), the figure
 * comparable with bdwgc's heap in use; goal_mb the goal read with it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "toc/gc.h"
#include "toc/chan.h"
#include "toc/sched.h"
#include "toc/sync.h"
#include "toc/toc.h"
#include "gcbench.h"

GC_TYPE(gcb_node_type, struct gcb_node, left, right);
GC_TYPE(gcb_live_type, struct gcb_live, next, buf);

static struct gcb_node *toc_node(void)
{
	return gc_alloc(&gcb_node_type);
}

static struct gcb_live *toc_live(void)
{
	return gc_alloc(&gcb_live_type);
}

static void **toc_ptrs(size_t n)
{
	return gc_alloc_array(&gc_type_ptr, n);
}

static void *toc_noscan(size_t bytes)
{
	return gc_alloc_bytes(bytes);
}

static const struct gcb_heap toc_heap = {
	.name = "toc",
	.node = toc_node,
	.live = toc_live,
	.ptrs = toc_ptrs,
	.noscan = toc_noscan,
	.release = NULL,
	.barrier = true,
};

#define GCB_SAMPLE_NS 1000000          /* pacer sampling period: 1 ms */
#define MIB (1024.0 * 1024.0)

/* The run in progress: set by gcb_toc_run before gc_run, read by goroutines. */
static const struct gcb_options *opt;
static struct gcb_result *res;

/* --- the pacer sampler ----------------------------------------------------------- */

/* Written only by the sampler thread; read by toc_main after joining it. */
struct pacer {
	double worst;            /* max heap_paced / goal; NAN before a sample with a goal */
	uint64_t peak_inuse;     /* largest heap_inuse seen */
	uint64_t goal_at_peak;   /* heap_goal read with it */
};

static struct pacer pacer;
static int sampler_stop;     /* atomic: set by toc_main to end the sampler */

static bool has_goal(uint64_t goal)
{
	return goal != 0 && goal != UINT64_MAX;  /* GOGC=off without a limit: none */
}

static void pacer_sample(struct pacer *p)
{
	struct gc_stats st;
	gc_read_stats(&st);
	if (has_goal(st.heap_goal)) {
		double ratio = (double)st.heap_paced / (double)st.heap_goal;
		if (isnan(p->worst) || ratio > p->worst)
			p->worst = ratio;
	}
	if (st.heap_inuse > p->peak_inuse) {
		p->peak_inuse = st.heap_inuse;
		p->goal_at_peak = st.heap_goal;
	}
}

/* A thread, not a goroutine: with every worker busy a goroutine would be
 * run only when one is preempted, at irregular and long intervals. The
 * sampler needs only gc_read_stats, which reads counters. */
static void *sampler_main(void *unused)
{
	(void)unused;
	const struct timespec period = {0, GCB_SAMPLE_NS};
	for (;;) {
		pacer_sample(&pacer);
		if (__atomic_load_n(&sampler_stop, __ATOMIC_ACQUIRE))
			return NULL;
		nanosleep(&period, NULL);
	}
}

/* --- parked goroutines ----------------------------------------------------------- */

static struct sched_chan *park_release;      /* closed to wake every parked goroutine */
static struct sched_waitgroup park_ready;    /* parked goroutines about to block */
static struct sched_waitgroup park_exited;   /* parked goroutines gone */
static int park_damaged;                     /* atomic: some parked object was overwritten */

/* Three frames, each holding a pointer to an object no other object refers
 * to: only the conservative scan of this stack keeps them. noinline, and a
 * use after each call, so the frames and the pointers in them stay real. */
__attribute__((noinline)) static void park_frame3(struct gcb_node *a, struct gcb_live *b)
{
	unsigned char *c = gc_alloc_bytes(64);
	c[0] = 0xc3;
	sched_wg_done(&park_ready);
	sched_chan_recv(park_release, NULL);
	if (a->i != 0x0a || b->payload[0] != 0x0b || c[0] != 0xc3)
		__atomic_store_n(&park_damaged, 1, __ATOMIC_RELAXED);
	gc_keep_alive(c);
}

__attribute__((noinline)) static void park_frame2(struct gcb_node *a)
{
	struct gcb_live *b = gc_alloc(&gcb_live_type);
	b->payload[0] = 0x0b;
	park_frame3(a, b);
	gc_keep_alive(b);
}

__attribute__((noinline)) static void park_frame1(void)
{
	struct gcb_node *a = gc_alloc(&gcb_node_type);
	a->i = 0x0a;
	park_frame2(a);
	gc_keep_alive(a);
}

static void parked_main(void *unused)
{
	(void)unused;
	park_frame1();
	sched_wg_done(&park_exited);
}

static void parked_start(int64_t n)
{
	park_release = sched_chan_new(0, 0);
	if (!park_release)
		gcb_fatal(1, "out of memory for a channel");
	sched_wg_add(&park_ready, n);
	sched_wg_add(&park_exited, n);
	for (int64_t i = 0; i < n; i++) {
		if (!sched_go(parked_main, NULL))
			gcb_fatal(1, "could not start parked goroutine %lld: %s", (long long)i,
				  strerror(sched_errno()));
		if (i % 100000 == 99999)
			gcb_progress("%lld parked goroutines started", (long long)i + 1);
	}
	sched_wg_wait(&park_ready);
}

static void parked_stop(void)
{
	sched_chan_close(park_release);
	sched_wg_wait(&park_exited);
	sched_chan_free(park_release);
	if (__atomic_load_n(&park_damaged, __ATOMIC_RELAXED))
		gcb_fatal(1, "an object held only by a parked goroutine's stack was damaged");
}

/* --- workers -------------------------------------------------------------------- */

struct toc_worker {
	int index;        /* 0 reports progress */
	uint64_t nodes;   /* what gcb_work counted */
};

static struct sched_waitgroup work_done;

static void worker_main(void *arg)
{
	struct toc_worker *w = arg;
	w->nodes = gcb_work(opt, w->index);
	sched_wg_done(&work_done);
}

static void toc_main(void *unused)
{
	(void)unused;
	gcb_use_heap(&toc_heap);
	gc_add_roots(&gcb_live_root, 1);
	gc_add_roots(gcb_shared, (size_t)opt->workers);
	if (opt->parked) {
		gcb_progress("parking %lld goroutines", (long long)opt->parked);
		parked_start(opt->parked);
	}
	if (opt->live_mb) {
		gcb_progress("building a live heap of %lld MiB", (long long)opt->live_mb);
		gcb_live_build((uint64_t)opt->live_mb << 20);
	}
	gc_collect();

	struct toc_worker *workers = calloc((size_t)opt->workers, sizeof *workers);
	if (!workers)
		gcb_fatal(1, "out of memory for %d workers", opt->workers);
	pacer = (struct pacer){.worst = NAN};
	pthread_t sampler;
	int err = pthread_create(&sampler, NULL, sampler_main, NULL);
	if (err)
		gcb_fatal(1, "could not start the sampler thread: %s", strerror(err));

	struct gc_stats before, after;
	struct toc_stats toc0, toc1;
	struct bench_rusage ru0, ru1;
	gc_reset_peaks();
	bench_rusage_now(&ru0);
	gc_read_stats(&before);
	toc_read_stats(&toc0);
	int64_t t0 = sched_nanotime();
	sched_wg_add(&work_done, opt->workers);
	for (int i = 0; i < opt->workers; i++) {
		workers[i].index = i;
		if (!sched_go(worker_main, &workers[i]))
			gcb_fatal(1, "could not start worker %d: %s", i, strerror(sched_errno()));
	}
	sched_wg_wait(&work_done);
	int64_t t1 = sched_nanotime();
	gc_read_stats(&after);
	toc_read_stats(&toc1);
	if (toc_enabled()) {
		struct toc_stats d;
		toc_stats_since(&d, &toc1, &toc0);
		bench_toc_stats_json(res->toc_stats, sizeof res->toc_stats, &d);
	}
	bench_rusage_now(&ru1);

	__atomic_store_n(&sampler_stop, 1, __ATOMIC_RELEASE);
	pthread_join(sampler, NULL);

	struct sched_stats ss;
	sched_read_stats(&ss);
	res->seconds = (double)(t1 - t0) / 1e9;
	res->procs = ss.procs;
	res->gc_cycles = after.cycles - before.cycles;
	bench_gc_cpu_figures(&res->cpu, &before, &after, &ru0, &ru1, res->seconds);
	res->gc_cpu_seconds = res->cpu.gc_cpu_seconds;
	res->gc_cpu_fraction = res->gc_cpu_seconds / (res->seconds * (double)res->procs);
	res->stw_count = after.stw_count - before.stw_count;
	bench_gc_pause_figures(res->stw_count, &after, &res->stw_max_us, &res->stw_p99_us);
	res->stw_ttsp_max_us = (double)after.stw_ttsp_max_ns / 1e3;
	res->peak_heap_mb = (double)pacer.peak_inuse / MIB;
	res->goal_mb = has_goal(pacer.goal_at_peak) ? (double)pacer.goal_at_peak / MIB : NAN;
	res->pacer_peak_over_goal = pacer.worst;
	res->allocated_mb = (double)(after.alloc_bytes - before.alloc_bytes) / MIB;
	res->markers = 0;
	res->nodes_checked = 0;
	for (int i = 0; i < opt->workers; i++)
		res->nodes_checked += workers[i].nodes;
	free(workers);

	if (opt->parked)
		parked_stop();
	gcb_live_check((uint64_t)opt->live_mb << 20);
	gc_remove_roots(&gcb_live_root);
	gc_remove_roots(gcb_shared);
}

int gcb_toc_run(const struct gcb_options *o, struct gcb_result *r)
{
	struct gc_config cfg = *o->gc_cfg;
	cfg.mode = o->mode == GCB_MODE_STW ? GC_MODE_STW : GC_MODE_CMS;
	/* cms and stw measure the collector alone; toc adds the transaction
	 * layer, which has nothing to reclaim here (no transaction ends before
	 * its worker): what it costs is its barrier and its windows. */
	cfg.toc = o->mode == GCB_MODE_TOC;
	struct sched_config scfg = {.procs = o->procs};
	/* Room for the parked goroutines, the workers and the runtime's own. */
	size_t need = (size_t)o->parked + (size_t)o->workers + 1024;
	if (need > SCHED_DEFAULT_MAX_GOROUTINES)
		scfg.max_goroutines = need;
	opt = o;
	res = r;
	return gc_run(&cfg, &scfg, toc_main, NULL);
}
