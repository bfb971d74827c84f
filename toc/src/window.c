/*
 * window.c — a goroutine's window: opened at its first allocation, extended
 * span by span (refill, local large objects), and closed at the goroutine's
 * exit or at toc_begin/toc_end: rewound when no mark phase overlapped it,
 * forfeited otherwise.
 *
 * A window is rewound only if no mark phase overlapped it: it opened with
 * the collector off, the cycle count has not moved, the collector is off at
 * the end and no flip made the region stale. Otherwise it is forfeited: its
 * spans go to the central lists as they are and the collector decides.
 * What a goroutine allocates after a cycle goes to a fresh window, so only
 * the part before the cycle is lost.
 */
#include <string.h>

#include "window.h"

TOC_KEEP_LAYER;

void toc_attach(struct toc_region *r)
{
	if (r && toc_fresh(r)) {
		gc_layer_attach(r->spans);
		gc_tls_window = (struct gc_tls_window){r->lo, r->len, r->pub};
	} else {
		gc_layer_attach(NULL);
		gc_tls_window = (struct gc_tls_window){0, 0, NULL};
	}
}

struct toc_region *toc_current(void)
{
	struct sched_g *g = sched_self();
	if (!g)
		return NULL;
	struct toc_region *r = *toc_g_window(g);
	return r && toc_fresh(r) ? r : NULL;
}

/* --- opening and extending -------------------------------------------------------------------- */

static void window_open(struct sched_g *g)
{
	struct toc_region **slot = toc_g_window(g);
	struct toc_region *r = *slot;
	if (r && !toc_fresh(r)) {
		/* A flip overlapped the window: forfeited. */
		TOC_COUNT(forfeits, 1);
		TOC_COUNT(windows, 1);
		toc_region_retire(r, true);
		toc_gauge_add(&toc_open_windows, &toc_open_max, -1);
		r = NULL;
	}
	if (!r) {
		r = toc_pool_take();
		if (!r)
			r = toc_region_new();
		r->cycle = gc_layer_cycle();
		r->opened_marking = gc_layer_marking();
		r->owner = g;
		*slot = r;
		toc_gauge_add(&toc_open_windows, &toc_open_max, 1);
	}
	toc_attach(r);
}

/* The running goroutine's window, opened if it has none; NULL (allocate
 * from the shared caches) when there is no goroutine or a mark phase runs.
 * A window opened during a mark would be forfeited at its end, and a
 * forfeit hands the region's carved spans (a page or more for every size
 * class the transaction used) to the central lists and takes a fresh
 * region for the next window: for as long as the mark lasted, every
 * transaction paid for a region and grew the heap by it, and at a 1 GiB
 * store a mark that spanned a whole run cut toc's throughput by an order
 * of magnitude. So a goroutine without a window allocates as under cms
 * until the cycle ends (the flip detaches every window), and its first
 * allocation after opens one. A window already open when the mark starts
 * keeps its region and is forfeited at its end as before. */
static struct toc_region *window_of_running(void)
{
	struct sched_g *g = sched_self();
	if (!g)
		return NULL;
	struct toc_region *r = *toc_g_window(g);
	if (!r || !toc_fresh(r)) {
		if (gc_layer_marking())
			return NULL;
		window_open(g);
		r = *toc_g_window(g);
	}
	return r;
}

struct gc_span *toc_refill(int spc)
{
	struct toc_region *r = window_of_running();
	if (!r) {
		TOC_COUNT(marking_bytes, gc_classes[spc >> 1].size);
		return NULL;
	}
	struct gc_span *s = r->spans[spc];
	if (gc_layer_span_has_free(s))
		return s;
	/* A later span of the class with room (after a rewind), else a new
	 * one. The spans before s are full; when s is the empty span, all are. */
	if (s != &gc_empty_span)
		for (struct gc_span *t = s->layer.cls_next; t; t = t->layer.cls_next)
			if (t->nalloc < t->nelems && gc_layer_span_has_free(t)) {
				r->spans[spc] = t;
				return t;
			}
	s = toc_carve(r, spc);
	if (!s) {
		TOC_COUNT(shared_bytes, gc_classes[spc >> 1].size);
		return NULL;
	}
	r->spans[spc] = s;
	return s;
}

/* Local large objects (classes over GC_LOCAL_MAX_SIZE and large objects up
 * to a quarter of a region): one-object spans over pages of the region, so
 * the barrier's range test covers them; rewind gives the pages of the
 * unpublished ones back to the region. */
struct gc_span *toc_alloc_large(size_t npages, bool *zeroed)
{
	struct toc_region *r = window_of_running();
	if (!r) {
		TOC_COUNT(marking_bytes, npages * GC_PAGE_SIZE);
		return NULL;
	}
	struct gc_span *s = toc_take_pages(r, (int)npages, zeroed);
	if (!s) {
		TOC_COUNT(shared_bytes, npages * GC_PAGE_SIZE);
		return NULL;
	}
	TOC_COUNT(large_objects, 1);
	return s;
}

/* --- closing ------------------------------------------------------------------------------------------ */

/* Rewinds every span of r to its first unpublished window slot. Returns
 * the bytes free in r after it: free slots and uncarved pages. */
static uint64_t window_rewind(struct toc_region *r)
{
	uint64_t bytes = 0, objects = 0, free_bytes = 0;
	uint64_t seen[(GC_NUM_SPANCLASSES + 63) / 64] = {0};
	for (int i = 0; i < GC_NUM_SPANCLASSES; i++)
		r->spans[i] = &gc_empty_span;
	struct gc_span **link = &r->all, *last = NULL;
	for (struct gc_span *s; (s = *link);) {
		if (s->large) {
			if (gc_layer_span_published(s, 0)) {
				last = s;
				link = &s->layer.all_next;
				continue;
			}
			*link = s->layer.all_next;
			bytes += s->elemsize;
			objects++;
			toc_drop_large(r, s);
			continue;
		}
		uint32_t freed = gc_layer_span_rewind(s);
		bytes += (uint64_t)freed * s->elemsize;
		objects += freed;
		free_bytes += (uint64_t)(s->nelems - s->nalloc) * s->elemsize;
		int spc = s->spanclass;
		if (!(seen[spc >> 6] >> (spc & 63) & 1) && s->nalloc < s->nelems) {
			seen[spc >> 6] |= (uint64_t)1 << (spc & 63);
			r->spans[spc] = s;
		}
		last = s;
		link = &s->layer.all_next;
	}
	r->all_tail = last;
	r->no_run = toc_region_pages + 1;
	free_bytes += (uint64_t)(toc_region_pages - __builtin_popcountll(r->pages_used)) * GC_PAGE_SIZE;
	TOC_COUNT(rewinds, 1);
	TOC_COUNT(reclaimed_bytes, bytes);
	TOC_COUNT(reclaimed_objects, objects);
	TOC_COUNT(local_bytes, bytes);
	TOC_COUNT(local_objects, objects);
	return free_bytes;
}

void toc_window_close(struct sched_g *g)
{
	struct toc_region **slot = toc_g_window(g);
	struct toc_region *r = *slot;
	if (!r)
		return;
	*slot = NULL;
	r->owner = NULL;
	toc_attach(NULL);
	toc_gauge_add(&toc_open_windows, &toc_open_max, -1);
	TOC_COUNT(windows, 1);
	/* TOC_GCVERIFY=2, or =1 in checked builds, checks the invariant first,
	 * with the world stopped; the stop is a safepoint, so the window is
	 * judged inside it. */
	int verify = gc_layer_config()->verify;
	bool stopped = verify >= 2 || (verify >= 1 && TOC_CHECK_LEVEL >= 2);
	if (stopped)
		sched_stop_the_world();
	bool clean = toc_fresh(r) && !r->opened_marking && !gc_layer_marking() && gc_layer_cycle() == r->cycle;
	if (!clean) {
		if (stopped)
			sched_start_the_world();
		TOC_COUNT(forfeits, 1);
		toc_region_retire(r, true);
		return;
	}
	if (stopped)
		toc_check_heap(r);
	uint64_t free_bytes = window_rewind(r);
	if (stopped)
		sched_start_the_world();
	if (free_bytes * 2 < r->len) {
		/* Mostly published objects, which only a cycle frees: a
		 * window here would soon spill to the shared caches. */
		TOC_COUNT(regions_full, 1);
		toc_region_retire(r, false);
		return;
	}
	toc_pool_put(r);
}

/* --- boundaries inside a goroutine -------------------------------------------------------------------- */

/* A window boundary, called through sched_spill_call: the caller's
 * callee-saved registers are spilled at sp, and between sp and the caller
 * of toc_begin/toc_end lie only fully written words (the spill, return
 * addresses, saved frame pointers). The window objects those words and the
 * caller's frames point to are published, the rest rewound. Scanning from
 * a frame of this file instead would read its unwritten slots, which hold
 * whatever a deeper call (the caller's handler) left there: at one build's
 * frame layout that published every request's response. */
GC_NO_ASAN static void boundary_spilled(void *sp, void *arg)
{
	(void)arg;
	struct sched_g *g = sched_self();
	struct toc_region *r = *toc_g_window(g);
	if (!r)
		return;
	if (toc_fresh(r)) {
		const uintptr_t *top = sched_g_stack_top(g);
		for (const uintptr_t *p = sp; p < top; p++) {
			uintptr_t v = *p;
			if (v - r->lo < r->len)
				toc_publish_in(r, v, TOC_PUB_STACK);
		}
	}
	toc_window_close(g);
}

static void boundary(void)
{
	if (gc_layer && sched_self())
		sched_spill_call(boundary_spilled, NULL);
}

__attribute__((noinline)) void toc_begin(void)
{
	boundary();
}

__attribute__((noinline)) void toc_end(void)
{
	boundary();
}

/* noinline: fn's frames lie below this one and are gone when toc_end scans;
 * this frame holds only fn and arg, both from before the transaction. */
__attribute__((noinline)) void toc_run(void (*fn)(void *arg), void *arg)
{
	toc_begin();
	fn(arg);
	toc_end();
}
