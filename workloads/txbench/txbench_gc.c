/*
 * txbench_gc.c — the toc, cms and stw modes: toc's runtime, requests on
 * goroutines.
 *
 * One binary, the mode chosen at run time: cms and stw are toc's collector
 * alone (concurrent or stop-the-world mark-sweep), toc is cms with the
 * transaction layer (cfg.toc). The store hangs from a registered root.
 *
 * Drivers:
 *   loop   --workers goroutines, each taking request after request; in toc
 *          mode each request is an explicit transaction (toc_begin/toc_end);
 *   spawn  a dispatcher goroutine starts a goroutine per request, at most
 *          --inflight at once (a buffered channel as the semaphore); in toc
 *          mode the goroutine's exit ends its transaction.
 * Latency is from the start of a request's handling to its end (the
 * dispatcher's queueing is not in it). Figures cover the timed part only:
 * counters are read before and after it, after the warm-up if one was asked
 * for (txbench_phases.c: the same driver over a run of its own).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toc/gc.h"
#include "toc/chan.h"
#include "toc/sched.h"
#include "toc/sync.h"
#include "toc/toc.h"
#include "txbench_gc.h"
#include "txbench_heap.h"

GC_TYPE(tx_kv_gct, struct tx_kv, k, v, next);
GC_TYPE(tx_map_gct, struct tx_map, b);
GC_TYPE(tx_jv_gct, struct tx_jv, s, items, keys);
GC_TYPE(tx_req_gct, struct tx_req, raw, method, path, key, query, headers, body);
GC_TYPE(tx_rec_gct, struct tx_rec, key, name, email, profile, tags);
GC_TYPE(tx_store_gct, struct tx_store, slots, ring);
GC_TYPE(tx_blob_gct, struct tx_blob, next, data);
GC_TYPE(tx_fortune_gct, struct tx_fortune, message);
GC_TYPE(tx_tfb_db_gct, struct tx_tfb_db, world, fortunes);

/* --- the heap the handler runs on (txbench_heap.h) ------------------------------------------ */

static const struct gc_type *const types[TXB_NKINDS] = {
	[TXB_KV] = &tx_kv_gct,   [TXB_MAP] = &tx_map_gct, [TXB_JV] = &tx_jv_gct,
	[TXB_REQ] = &tx_req_gct, [TXB_REC] = &tx_rec_gct, [TXB_STORE] = &tx_store_gct,
	[TXB_BLOB] = &tx_blob_gct,
	[TXB_FORTUNE] = &tx_fortune_gct, [TXB_TFB_DB] = &tx_tfb_db_gct,
};

static void *gc_heap_alloc(enum txb_kind k)
{
	return gc_alloc(types[k]);
}

static void *gc_heap_ptrs(size_t n)
{
	return gc_alloc_array(&gc_type_ptr, n);
}

/* Records and churn entries need neither a copy nor a deferred free: the
 * collector (or the transaction layer, at the store into the published slot
 * array) sees to them. */
const struct txb_heap txb_gc_heap = {
	.alloc = gc_heap_alloc,
	.ptrs = gc_heap_ptrs,
	.bytes = gc_alloc_raw,
	.barrier = true,
};

static const struct txb_options *opt;
static struct txb_result *res;
static struct tx_store *store_root;     /* a registered root */
static struct txb_run run;              /* the timed part's */
static struct txb_run *serving;          /* the run the driver serves: run, or the warm-up's */
static struct txb_worker *workers;      /* loop: one per request loop; spawn: one per scheduler worker */
static int nworkers;
static struct sched_waitgroup done;
static bool toc_mode;

/* The handler in a frame of its own. Inlined into the caller (txb_handle
 * is in another file: only a link-time optimizer could), its locals
 * (the response buffer's pointer among them) would sit in the caller's
 * frame, which is live at toc_end: the conservative scan of the own stack
 * would publish the response every request (8% of the window bytes). Once
 * this returns, its frame is below the stack pointer and not scanned. */
static __attribute__((noinline)) uint64_t handle_framed(const char *req, size_t n)
{
	return txb_handle(store_root, req, n);
}

/* One request of a loop driver: in toc mode a transaction of its own. */
static uint64_t serve_loop_request(const char *req, size_t n, void *unused)
{
	(void)unused;
	if (toc_mode)
		toc_begin();
	uint64_t h = handle_framed(req, n);
	if (toc_mode)
		toc_end();
	return h;
}

static void loop_main(void *arg)
{
	txb_serve_loop(opt, serving, arg, serve_loop_request, NULL);
	sched_wg_done(&done);
}

static struct sched_chan *sem;   /* spawn: a token per request goroutine running */
static char **scratch;           /* spawn: a generation buffer per scheduler worker */

static void request_main(void *arg)
{
	uint64_t idx = (uint64_t)(uintptr_t)arg;
	/* Generated into this worker's scratch and copied out before any
	 * safepoint: another request may run on this worker after one. */
	char *s = scratch[sched_worker_index()];
	size_t n = txb_request(opt, idx, s);
	char *text = malloc(n);
	if (!text)
		bench_fatal(1, "out of memory for a request's bytes");
	memcpy(text, s, n);
	int64_t t0 = bench_now_ns();
	uint64_t h = txb_handle(store_root, text, n);
	int64_t t1 = bench_now_ns();
	free(text);
	struct txb_worker *w = &workers[sched_worker_index()];
	w->checksum += h;
	w->transactions++;
	txb_hist_add(&w->hist, (uint64_t)(t1 - t0));
	int token;
	sched_chan_recv(sem, &token);
	sched_wg_done(&done);
}

static void dispatch(void)
{
	sem = sched_chan_new(sizeof(int), (size_t)opt->inflight);
	scratch = calloc((size_t)opt->procs, sizeof *scratch);
	if (!sem || !scratch)
		bench_fatal(1, "out of memory for the dispatcher");
	for (int i = 0; i < opt->procs; i++)
		if (!(scratch[i] = malloc(TXB_REQ_MAX)))
			bench_fatal(1, "out of memory for a request buffer");
	uint64_t idx;
	while (txb_run_take(serving, &idx)) {
		int token = 1;
		sched_chan_send(sem, &token);
		sched_wg_add(&done, 1);
		if (!sched_go(request_main, (void *)(uintptr_t)idx))
			bench_fatal(1, "could not start a request goroutine: %s", strerror(sched_errno()));
	}
	sched_wg_wait(&done);
	for (int i = 0; i < opt->procs; i++)
		free(scratch[i]);
	free(scratch);
	sched_chan_free(sem);
}

static void toc_figures(struct txb_result *r, const struct toc_stats *before, const struct toc_stats *after,
			uint64_t allocated)
{
	struct toc_stats d;
	toc_stats_since(&d, after, before);
	double local = (double)d.local_bytes;
	r->has_toc = true;
	r->toc_reclaimed_fraction = local > 0 ? (double)d.reclaimed_bytes / local : 0;
	r->published_fraction = local > 0 ? (double)d.published_bytes / local : 0;
	r->forfeit_fraction = local > 0 ? (double)d.forfeited_bytes / local : 0;
	r->marking_bytes_fraction = allocated ? (double)d.marking_bytes / (double)allocated : 0;
	bench_toc_stats_json(r->toc_stats, sizeof r->toc_stats, &d);
}

void txb_gc_snap(struct txb_gc_snap *s, bool begin)
{
	if (begin)
		gc_reset_peaks();
	bench_rusage_now(&s->ru);
	gc_read_stats(&s->gc);
	toc_read_stats(&s->toc);
	s->ns = sched_nanotime();
}

void txb_gc_figures(struct txb_result *r, const struct txb_gc_snap *before, const struct txb_gc_snap *after)
{
	struct sched_stats ss;
	sched_read_stats(&ss);
	r->seconds = (double)(after->ns - before->ns) / 1e9;
	r->procs = ss.procs;
	r->gc_cycles = after->gc.cycles - before->gc.cycles;
	bench_gc_cpu_figures(&r->cpu, &before->gc, &after->gc, &before->ru, &after->ru, r->seconds);
	r->gc_cpu_seconds = r->cpu.gc_cpu_seconds;
	r->gc_cpu_fraction = r->gc_cpu_seconds / (r->seconds * (double)r->procs);
	bench_gc_pause_figures(after->gc.stw_count - before->gc.stw_count, &after->gc, &r->stw_max_us,
			       &r->stw_p99_us);
	uint64_t allocated = after->gc.alloc_bytes - before->gc.alloc_bytes;
	r->allocated_mb = (double)allocated / 1048576.0;
	r->peak_rss_mb = bench_peak_rss_mb();
	/* The pacer over the timed part's cycles (not forced ones). */
	static struct gc_cycle_record rec[1024];
	size_t n = gc_read_cycles(rec, 1024), steady = 0, within = 0;
	double worst = 0;
	for (size_t i = 0; i < n; i++) {
		if (rec[i].cycle <= before->gc.cycles || rec[i].forced || rec[i].goal == UINT64_MAX)
			continue;
		double over = (double)rec[i].heap_end / (double)rec[i].goal;
		steady++;
		within += over <= 1.10;
		if (over > worst)
			worst = over;
	}
	r->has_pacer = true;
	r->pacer_cycles = steady;
	r->pacer_end_over_goal_max = steady ? worst : NAN;
	r->pacer_within_fraction = steady ? (double)within / (double)steady : NAN;
	r->owned_max_mb = toc_enabled() ? (double)after->toc.owned_bytes_max / 1048576.0 : NAN;
	if (toc_enabled())
		toc_figures(r, &before->toc, &after->toc, allocated);
}

void txb_gc_build_store(const struct txb_options *o)
{
	opt = o;
	gc_add_roots((void **)&store_root, 1);
	bench_progress("building the store: %llu records", (unsigned long long)o->nkeys);
	txb_use_heap(&txb_gc_heap);
	txb_store_build(o, &store_root);
	if (toc_enabled())
		toc_end();   /* the store's records were published as they were linked in */
	gc_collect();
	bench_progress("store built");
}

void txb_gc_drop_store(void)
{
	gc_remove_roots((void **)&store_root);
}

size_t txb_gc_respond(const char *text, size_t len, const char **resp)
{
	struct tx_sb out;
	txb_respond(store_root, text, len, &out);
	*resp = out.b;
	return out.len;
}

/* The driver over r (struct txb_backend's drive). */
static void drive(struct txb_run *r)
{
	serving = r;
	if (opt->driver == TXB_LOOP) {
		sched_wg_add(&done, nworkers);
		for (int i = 0; i < nworkers; i++)
			if (!sched_go(loop_main, &workers[i]))
				bench_fatal(1, "could not start worker %d: %s", i, strerror(sched_errno()));
		sched_wg_wait(&done);
	} else {
		dispatch();
	}
}

static uint64_t own_cycles(const struct gc_stats *g)
{
	return g->cycles - g->forced_cycles;
}

static uint64_t read_cycles(void)
{
	struct gc_stats g;
	gc_read_stats(&g);
	return own_cycles(&g);
}

static void read_counters(struct txb_counters *c)
{
	struct gc_stats g;
	gc_read_stats(&g);
	c->cycles = own_cycles(&g);
	c->heap_mb = (double)g.heap_inuse / 1048576.0;
	c->mark_seconds = (double)g.mark_ns / 1e9;
	c->has_toc = toc_enabled();
	if (c->has_toc) {
		struct toc_stats t;
		toc_read_stats(&t);
		c->toc_windows = t.windows;
		c->toc_reclaimed_bytes = t.reclaimed_bytes;
	}
}

static const struct txb_backend backend = {read_counters, read_cycles, drive};

static void gc_main(void *unused)
{
	(void)unused;
	txb_gc_build_store(opt);
	nworkers = opt->driver == TXB_LOOP ? opt->workers : opt->procs;
	workers = calloc((size_t)nworkers, sizeof *workers);
	if (!workers)
		bench_fatal(1, "out of memory for %d workers", nworkers);
	txb_downstream_start(opt);
	txb_warmup(opt, &backend);
	memset(workers, 0, (size_t)nworkers * sizeof *workers);
	bench_progress("running requests");
	struct txb_gc_snap before, after;
	txb_gc_snap(&before, true);
	txb_run_start(&run, opt);
	drive(&run);
	txb_gc_snap(&after, false);
	txb_downstream_stop();
	txb_phases_end(res);
	res->driver_note = opt->driver == TXB_LOOP ? (toc_mode ? "goroutines, a transaction per request"
								: "goroutines, one request after another")
						   : "a goroutine per request";
	txb_gc_figures(res, &before, &after);
	txb_collect_workers(res, workers, nworkers);
	free(workers);
	txb_gc_drop_store();
}

int txb_gc_run(const struct txb_options *o, struct txb_result *r)
{
	struct gc_config cfg = *o->gc_cfg;
	cfg.mode = o->mode == TXB_STW ? GC_MODE_STW : GC_MODE_CMS;
	cfg.toc = o->mode == TXB_TOC;
	toc_mode = cfg.toc;
	struct sched_config scfg = {.procs = o->procs};
	size_t need = (size_t)(o->driver == TXB_SPAWN ? o->inflight : o->workers) + 1024;
	if (need > SCHED_DEFAULT_MAX_GOROUTINES)
		scfg.max_goroutines = need;
	opt = o;
	res = r;
	return gc_run(&cfg, &scfg, gc_main, NULL);
}
