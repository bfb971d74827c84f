/*
 * txbench_boehm.c — the boehm mode: the handler over bdwgc 8.2.
 *
 * Structs and pointer arrays come from GC_MALLOC (cleared, scanned), byte
 * buffers from GC_MALLOC_ATOMIC (not cleared, not scanned: the handler's
 * bytes contract), stores are plain (bdwgc stops the world to mark; no
 * barrier), and a put swaps the store slot atomically, as the arena mode
 * does. The store hangs off a static pointer, which bdwgc scans as a root.
 * Heap budget, events, GC CPU and pauses: boehmgc.c.
 *
 * Runs on plain threads registered with bdwgc (GC_pthread_create), one
 * request loop each (--procs): bdwgc has no goroutines, so the spawn driver
 * is refused (txbench.c).
 */
#define GC_THREADS
#include <gc.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boehmgc.h"
#include "txbench_heap.h"

static void *boehm_alloc(enum txb_kind k)
{
	return GC_MALLOC(txb_kind_size[k]);
}

static void *boehm_ptrs(size_t n)
{
	return GC_MALLOC(n * sizeof(void *));
}

/* The heap the handler runs on (txbench_heap.h): no barrier, no copy. An
 * allocation that fails is fatal in bdwgc (bgc_init), so bytes is
 * GC_malloc_atomic itself, with no wrapper between it and the handler. */
static const struct txb_heap heap = {
	.alloc = boehm_alloc,
	.ptrs = boehm_ptrs,
	.bytes = GC_malloc_atomic,
};

static const struct txb_options *opt;
static struct tx_store *store;   /* in the data segment: a bdwgc root */
static struct txb_run run;       /* the timed part's */
static struct txb_run *serving;   /* the run the threads serve: run, or the warm-up's */
static struct txb_worker *ws;
static pthread_t *tids;

static uint64_t serve_request(const char *req, size_t len, void *unused)
{
	(void)unused;
	return txb_handle(store, req, len);
}

static void *thread_main(void *arg)
{
	txb_serve_loop(opt, serving, arg, serve_request, NULL);
	return NULL;
}

/* The driver over r (struct txb_backend's drive): a request loop per thread. */
static void drive(struct txb_run *r)
{
	serving = r;
	for (int i = 0; i < opt->procs; i++) {
		int err = GC_pthread_create(&tids[i], NULL, thread_main, &ws[i]);
		if (err)
			bench_fatal(1, "could not start thread %d: %s", i, strerror(err));
	}
	for (int i = 0; i < opt->procs; i++)
		GC_pthread_join(tids[i], NULL);
}

static void read_counters(struct txb_counters *c)
{
	uint64_t ns, inuse;
	bgc_read(&c->cycles, &ns, &inuse);
	c->heap_mb = (double)inuse / 1048576.0;
	c->mark_seconds = (double)ns / 1e9;   /* a collection marks with the world stopped, throughout */
	c->has_toc = false;
}

static uint64_t read_cycles(void)
{
	uint64_t cycles, ns;
	bgc_read(&cycles, &ns, NULL);
	return cycles;
}

static const struct txb_backend backend = {read_counters, read_cycles, drive};

int txb_boehm_run(const struct txb_options *o, struct txb_result *r)
{
	opt = o;
	bgc_init(o->procs, o->gogc == TXB_GOGC_OFF ? BGC_GOGC_OFF : o->gogc, o->memlimit);
	bench_progress("building the store: %llu records", (unsigned long long)o->nkeys);
	txb_use_heap(&heap);
	txb_store_build(o, &store);
	GC_gcollect();
	ws = calloc((size_t)o->procs, sizeof *ws);
	tids = calloc((size_t)o->procs, sizeof *tids);
	if (!ws || !tids)
		bench_fatal(1, "out of memory for %d threads", o->procs);
	bench_progress("store built");
	txb_warmup(o, &backend);
	memset(ws, 0, (size_t)o->procs * sizeof *ws);
	bench_progress("running requests");
	bgc_begin();
	txb_run_start(&run, o);
	struct bench_rusage ru0, ru1;
	bench_rusage_now(&ru0);
	int64_t t0 = bench_now_ns();
	drive(&run);
	r->seconds = (double)(bench_now_ns() - t0) / 1e9;
	bench_rusage_now(&ru1);
	txb_phases_end(r);
	struct bgc_figures f;
	bgc_end(r->seconds, &f);
	r->driver_note = "plain threads registered with bdwgc, one request loop each";
	r->procs = o->procs;
	r->gc_cycles = f.cycles;
	r->gc_cpu_seconds = f.gc_cpu_seconds;
	r->gc_cpu_fraction = f.gc_cpu_fraction;
	r->stw_max_us = f.stw_max_us;
	r->stw_p99_us = f.stw_p99_us;
	r->peak_rss_mb = bench_peak_rss_mb();
	r->allocated_mb = (double)f.allocated_bytes / 1048576.0;
	bgc_cpu_figures(&r->cpu, &f, &ru0, &ru1);
	txb_collect_workers(r, ws, o->procs);
	free(ws);
	free(tids);
	return 0;
}
