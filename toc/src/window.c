/*
 * window.c — a goroutine's window: opened at its first allocation, extended
 * span by span (refill, local large objects), and closed at the goroutine's
 * exit or at toc_begin/toc_end, where it is rewound.
 *
 * Windows live through the collector's cycles. A goroutine allocates in
 * its window whether or not a mark runs, and its end rewinds everything
 * unpublished, what it allocated before, during and after a cycle alike.
 * Why that is safe (docs/toc-algorithm.md, "Cycles"):
 *   - What escaped is what the region's published bits say, never the mark
 *     bits. Marks put on a window object (allocated black during a mark,
 *     shaded by the hybrid barrier, reached from the owner's stack or from
 *     another window object) make it live for the collector, not reachable
 *     by another goroutine: the publishing barrier alone decides that, and
 *     it runs whether or not the collector marks (both halves of
 *     gc_store_slow run, the shading first; gc_store_mark only shades,
 *     for a store the inline test found nothing to publish in).
 *   - The collector still traces window objects (they may hold the only
 *     pointer to a shared object), so its correctness is the hybrid
 *     barrier's, unchanged; the layer only has to keep it from freeing the
 *     owner's objects and from losing a publication.
 *   - At the flip the window's spans become stale and no worker has them
 *     attached. They are swept once, in place, by whoever comes first: the
 *     owner (toc_region_ready, at its next allocation, publication or end)
 *     or the background sweeper (toc_region_sweep_stale), under the
 *     region's lock; gc_layer_span_sweep keeps unpublished objects
 *     whatever their marks, drops dead published ones (the region's bit
 *     too), and clears the mark bits. Only a window whose owner was parked
 *     through a whole cycle, or one that outlived it full (region.c), is
 *     given up (claimed: its spans go to the collector, which keeps what
 *     is marked); its owner opens a new one, or, after a full one, goes
 *     windowless until its window would have ended (toc_windowless).
 *   - A slot the marker still holds gray when the owner rewinds and reuses
 *     it: the marker then scans whatever the slot holds (poison, zeros,
 *     the new object half written). That is safe because a scan validates
 *     every word it reads as it does a stack's: a value that is not an
 *     allocated slot of an in-use span is ignored, so the worst a stale
 *     gray slot does is keep some garbage one more cycle. Span structs,
 *     their bitmaps and their pages stay in place during a mark: a local
 *     large object is not dropped by a rewind while the collector marks
 *     (its pages would leave the span the marker may be reading); the
 *     first rewind after the mark drops it.
 */
#include <string.h>

#include "window.h"

TOC_KEEP_LAYER;

/* The barrier's view follows the window as long as it lives, swept or
 * not: after a flip the window's objects are still the goroutine's, and a
 * store of one into shared memory must still publish it (the slow path
 * sweeps the region first). Allocation is attached only to swept spans. */
struct toc_region toc_windowless;

void toc_attach(struct toc_region *r)
{
	if (r == &toc_windowless) {
		gc_tls_window = (struct gc_tls_window){0, 0, NULL};
		gc_layer_attach(toc_windowless.spans);
		return;
	}
	if (r && atomic_load_explicit(&r->state, memory_order_acquire) != TOC_REGION_DEAD)
		gc_tls_window = (struct gc_tls_window){r->lo, r->len, r->pub};
	else
		gc_tls_window = (struct gc_tls_window){0, 0, NULL};
	gc_layer_attach(r && toc_fresh(r) ? r->spans : NULL);
}

struct toc_region *toc_current(void)
{
	struct sched_g *g = sched_self();
	if (!g)
		return NULL;
	struct toc_region *r = toc_g_region(g);
	return r && toc_region_ready(r) ? r : NULL;
}

/* --- opening and extending -------------------------------------------------------------------- */

/* The window's region was claimed by the collector: the struct goes, the
 * objects stay the collector's. */
static void window_given_up(struct toc_region *r)
{
	TOC_COUNT(forfeits, 1);
	TOC_COUNT(windows, 1);
	toc_region_retire(r, false);   /* its forfeited bytes were counted by the claim */
	toc_gauge_add(&toc_open_windows, &toc_open_max, -1);
}

/* The running goroutine's window, opened if it has none; NULL when there
 * is no goroutine or it is windowless (then attached as such: its worker
 * allocates from the shared caches without asking again). */
static struct toc_region *window_of_running(void)
{
	struct sched_g *g = sched_self();
	if (!g)
		return NULL;
	struct toc_region **slot = toc_g_window(g);
	struct toc_region *r = *slot;
	if (r == &toc_windowless) {
		toc_attach(r);
		return NULL;
	}
	if (r) {
		/* Attached again after a flip detached every worker; swept
		 * first if the sweeper has not come to it yet. */
		if (toc_region_ready(r)) {
			atomic_store_explicit(&r->ran_cycle, gc_layer_cycle(), memory_order_relaxed);
			toc_attach(r);
			return r;
		}
		/* Claimed. A full window (outlived, or parked while full)
		 * would be full again: its goroutine goes without one. */
		bool full = atomic_load_explicit(&r->full, memory_order_relaxed);
		*slot = full ? &toc_windowless : NULL;
		window_given_up(r);
		if (full) {
			toc_attach(&toc_windowless);
			return NULL;
		}
	}
	r = toc_pool_take();
	if (!r)
		r = toc_region_new();
	atomic_store_explicit(&r->cycle, gc_layer_cycle(), memory_order_relaxed);
	r->opened_marking = gc_layer_marking();
	r->owner = g;
	*slot = r;
	toc_max_raise(&toc_open_recent, toc_gauge_add(&toc_open_windows, &toc_open_max, 1));
	toc_attach(r);
	return r;
}

struct gc_span *toc_refill(int spc)
{
	struct toc_region *r = window_of_running();
	if (!r) {
		struct sched_g *g = sched_self();
		if (gc_layer_marking() && !(g && *toc_g_window(g) == &toc_windowless))
			TOC_COUNT(marking_bytes, gc_classes[spc >> 1].size);
		return NULL;
	}
	struct gc_span *s = r->spans[spc];
	if (!s)
		s = &gc_empty_span;
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
		/* No room for the class: the allocator goes to the shared
		 * cache directly (r->spans[spc] NULL) until the rewind or an
		 * in-place sweep makes room. A long-lived goroutine's window
		 * asked here at every allocation once its region was carved:
		 * 28% of gcbench's instructions in toc mode. A window still
		 * full at a flip after a whole cycle is claimed (region.c). */
		TOC_COUNT(spills, 1);
		atomic_store_explicit(&r->full, true, memory_order_relaxed);
		r->spans[spc] = NULL;
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
	if (!r)
		return NULL;
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
/* Rewinds r's window, or with count false only restarts its spans (a
 * region back from the full list: its window range is empty, nothing is
 * freed, the sweep freed what died). */
static uint64_t rewind_spans(struct toc_region *r, bool count)
{
	uint64_t bytes = 0, objects = 0, free_bytes = 0;
	bool marking = gc_layer_marking();   /* local large objects wait for the mark's end */
	uint64_t seen[(GC_NUM_SPANCLASSES + 63) / 64] = {0};
	for (int i = 0; i < GC_NUM_SPANCLASSES; i++)
		r->spans[i] = &gc_empty_span;
	struct gc_span **link = &r->all, *last = NULL;
	for (struct gc_span *s; (s = *link);) {
		if (s->large) {
			if (gc_layer_span_published(s, 0) || marking) {
				if (marking && !gc_layer_span_published(s, 0) && !s->layer.dead) {
					s->layer.dead = true;
					gc_layer_span_kill_large(s);
				}
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
	atomic_store_explicit(&r->full, false, memory_order_relaxed);
	free_bytes += (uint64_t)(toc_region_pages - __builtin_popcountll(r->pages_used)) * GC_PAGE_SIZE;
	if (!count)
		return free_bytes;
	TOC_COUNT(rewinds, 1);
	if (r->opened_marking || marking || atomic_load_explicit(&r->cycle, memory_order_relaxed) != gc_layer_cycle()) {
		TOC_COUNT(mark_windows, 1);
		TOC_COUNT(mark_reclaimed_bytes, bytes);
	}
	TOC_COUNT(reclaimed_bytes, bytes);
	TOC_COUNT(reclaimed_objects, objects);
	TOC_COUNT(local_bytes, bytes);
	TOC_COUNT(local_objects, objects);
	return free_bytes;
}

static uint64_t window_rewind(struct toc_region *r)
{
	return rewind_spans(r, true);
}

uint64_t toc_region_restart(struct toc_region *r)
{
	return rewind_spans(r, false);
}

void toc_window_close(struct sched_g *g)
{
	struct toc_region **slot = toc_g_window(g);
	struct toc_region *r = *slot;
	if (!r)
		return;
	if (r == &toc_windowless) {
		/* The next window is a new chance: a transaction may fit. */
		*slot = NULL;
		toc_attach(NULL);
		return;
	}
	/* TOC_GCVERIFY=2, or =1 in checked builds, checks what the rewind acts
	 * on first (the region, its objects and the roots: verify.c), with the
	 * world stopped; the stop is a safepoint (a flip may come before it),
	 * so the window is judged and rewound inside it. */
	int verify = gc_layer_config()->verify;
	bool stopped = verify >= 2 || (verify >= 1 && TOC_CHECK_LEVEL >= 2);
	if (stopped)
		sched_stop_the_world();
	bool ready = toc_region_ready(r);
	*slot = NULL;
	r->owner = NULL;
	toc_attach(NULL);
	if (!ready) {
		if (stopped)
			sched_start_the_world();
		window_given_up(r);
		return;
	}
	toc_gauge_add(&toc_open_windows, &toc_open_max, -1);
	TOC_COUNT(windows, 1);
	if (stopped)
		toc_check_window(r);
	if (!toc_rewind) {
		/* TOC_REWIND=0: nothing is reclaimed here. The region goes to
		 * the collector as a claimed one does, every object below a
		 * span's freeindex allocated; the unpublished ones are counted
		 * as forfeited bytes, and the next window takes a new region. */
		if (stopped)
			sched_start_the_world();
		TOC_COUNT(unrewound, 1);
		toc_region_retire(r, true);
		return;
	}
	uint64_t free_bytes = window_rewind(r);
	if (stopped) {
		toc_check_region(r);
		sched_start_the_world();
	}
	if (free_bytes * 2 < r->len) {
		/* Mostly published objects, which only a cycle frees: a
		 * window here would soon spill to the shared caches. It
		 * waits for a cycle in the full list rather than leave its
		 * spans to the shared caches, where no window would reuse
		 * what dies in them. */
		TOC_COUNT(regions_full, 1);
		if (toc_full_list)
			toc_full_put(r);
		else
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
	if (r != &toc_windowless && toc_region_ready(r)) {
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
