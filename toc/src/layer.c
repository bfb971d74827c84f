/*
 * layer.c — the transaction layer as gc sees it: the table of entry points
 * registered at program start (struct gc_layer, gc's layer.h), the
 * scheduler hooks not handled by publish.c, the flip, and set-up.
 */
#include <stdio.h>

#include "window.h"

/* A goroutine's exit ends its window. */
static void hook_exit(struct sched_g *g)
{
	toc_window_close(g);
}

/* A goroutine that runs again finds its window attached to its worker (or
 * none while a flip has left it unswept: its next allocation sweeps it).
 * It ran in this cycle: the sweeper does not claim its region. */
static void hook_resume(struct sched_g *g)
{
	struct toc_region *r = toc_g_region(g);
	if (r)
		atomic_store_explicit(&r->ran_cycle, gc_layer_cycle(), memory_order_relaxed);
	toc_attach(*toc_g_window(g));
}

/* Mark termination (world stopped, sweepgen moved): every window's spans
 * are stale now and must be swept before they are allocated from again.
 * Detaching every worker sends each running goroutine's next small
 * allocation through refill, which sweeps its region (toc_region_ready);
 * the sweeper sweeps the others (toc_region_sweep_stale). */
static void flip(void)
{
	gc_layer_detach_all();
	atomic_store(&toc_open_recent, atomic_load(&toc_open_windows));
}

static bool claim(void)
{
	return toc_region_sweep_stale();
}

static int init(const struct gc_config *cfg)
{
	toc_region_pages = cfg->region_pages ? cfg->region_pages : 64;
	if (toc_region_pages < 8 || toc_region_pages > 64) {
		fprintf(stderr, "toc: TOC_REGION=%d pages: must be 8..64\n", toc_region_pages);
		return -1;
	}
	gc_local_large_pages = (size_t)toc_region_pages / 4;
	toc_rewind = cfg->rewind != 0;
	toc_full_list = cfg->fulllist != 0;
	toc_stats_reset();
	toc_regions_init();
	return 0;
}

/* After sched_run: the heap goes away with the arenas; only the structs
 * remain. The counters stay readable (the programs print them). */
static void fini(void)
{
	toc_regions_fini();
}

const struct gc_layer toc_layer = {
	.name = "toc",
	.init = init,
	.fini = fini,
	.refill = toc_refill,
	.alloc_large = toc_alloc_large,
	.store = toc_store,
	.publish = toc_publish_api,
	.claim = claim,
	.flip = flip,
	.verify = toc_verify,
	.window_bytes = toc_window_bytes,
	.trace = toc_trace,
	.hooks = {.spawn = toc_hook_spawn, .exit = hook_exit, .park = NULL, .resume = hook_resume,
		  .send = toc_hook_send},
};

__attribute__((constructor)) static void toc_register(void)
{
	gc_register_layer(&toc_layer);
}
