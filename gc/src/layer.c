/*
 * layer.c — what the heap and collector offer a transaction layer
 * (layer.h): pages, spans over the layer's pages and the few changes a
 * window makes to them, objects' pointer fields, a walk over the heap, and
 * the collector's state. Every change to a span's own fields happens here,
 * next to the code that keeps the span invariants (span.c, central.c).
 */
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

/* --- the collector's state ------------------------------------------------------------------ */

uint32_t gc_layer_sweepgen(void)
{
	return atomic_load_explicit(&gc_heap.sweepgen, memory_order_relaxed);
}

uint64_t gc_layer_cycle(void)
{
	return atomic_load(&gc_st.cycle);
}

bool gc_layer_marking(void)
{
	return atomic_load_explicit(&gc_st.phase, memory_order_relaxed) != GC_PHASE_OFF;
}

const struct gc_config *gc_layer_config(void)
{
	return &gc_st.cfg;
}

/* --- the running worker ------------------------------------------------------------------------ */

/* What a worker attached to no window allocates from: the empty span for
 * every class, so each class's next allocation asks the layer. A cache's
 * local stays NULL only without the layer, which lets the allocation fast
 * path test one word for both (alloc.c). */
static struct gc_span *ask_spans[GC_NUM_SPANCLASSES];

void gc_layer_attach(struct gc_span **spans)
{
	gc_caches[sched_worker_index()].local = spans ? spans : ask_spans;
}

void gc_layer_detach_all(void)
{
	for (int i = 0; i < GC_NUM_SPANCLASSES; i++)
		ask_spans[i] = &gc_empty_span;
	int n = gc_ncaches();
	for (int w = 0; w < n; w++)
		gc_caches[w].local = ask_spans;
}

/* --- pages ------------------------------------------------------------------------------------------ */

uintptr_t gc_layer_pages_take(size_t npages, bool *zeroed)
{
	gc_sweep_reclaim(npages, false);   /* sweep before the heap grows, as a central refill does */
	return gc_pages_alloc_run(npages, zeroed);
}

void gc_layer_pages_give(uintptr_t base, size_t npages)
{
	gc_pages_free_run(base, npages);
}

/* --- spans --------------------------------------------------------------------------------------------- */

struct gc_span *gc_layer_span_at(uintptr_t base, size_t npages, void *window)
{
	struct gc_span *s = gc_pages_span_at(base, npages);
	if (!s)
		return NULL;
	s->layer = (struct gc_span_layer){.window = window};
	/* Cached and swept for this sweepgen: the sweeper leaves it alone
	 * until it is released (or a flip makes it sg + 1, "needs sweeping"). */
	atomic_store_explicit(&s->sweepgen, gc_layer_sweepgen() + 3, memory_order_relaxed);
	return s;
}

void gc_layer_span_small(struct gc_span *s, int spc, bool zeroed)
{
	gc_span_init_small(s, spc);
	s->needzero = !zeroed;
	/* Fresh pages: fault them in writable at once (see central.c's grow). */
	if (zeroed)
		(void)madvise((void *)s->base, s->npages * GC_PAGE_SIZE, MADV_POPULATE_WRITE);
	atomic_fetch_add(&gc_st.heap_live, (uint64_t)s->nelems * s->elemsize);
}

void gc_layer_span_cache(struct gc_span *s)
{
	if (!s->large)
		atomic_fetch_add(&gc_st.heap_live, (uint64_t)(s->nelems - s->nalloc) * s->elemsize);
}

void gc_layer_span_publish(struct gc_span *s, uint32_t idx)
{
	__atomic_fetch_or(&s->alloc_bits[idx >> 6], (uint64_t)1 << (idx & 63), __ATOMIC_RELAXED);
}

/* The first clear bit of b in [from, to), or to. */
static uint32_t first_clear(const uint64_t *b, uint32_t from, uint32_t to)
{
	while (from < to) {
		uint64_t w = ~b[from >> 6] >> (from & 63);
		if (w)
			return from + (uint32_t)__builtin_ctzll(w) < to ? from + (uint32_t)__builtin_ctzll(w) : to;
		from = (from | 63) + 1;
	}
	return to;
}

/* Set bits of b in [from, to). */
static uint32_t ones_in(const uint64_t *b, uint32_t from, uint32_t to)
{
	uint32_t n = 0;
	while (from < to) {
		uint32_t end = (from | 63) + 1 < to ? (from | 63) + 1 : to;
		uint64_t w = b[from >> 6] >> (from & 63);
		uint32_t k = end - from;
		if (k < 64)
			w &= ((uint64_t)1 << k) - 1;
		n += (uint32_t)__builtin_popcountll(w);
		from = end;
	}
	return n;
}

uint32_t gc_layer_span_unpublished(const struct gc_span *s)
{
	uint32_t fi = s->freeindex, st = s->layer.win_start;
	return fi > st ? fi - st - ones_in(s->alloc_bits, st, fi) : 0;
}

uint32_t gc_layer_span_rewind(struct gc_span *s)
{
	uint32_t fi = s->freeindex, ws = s->layer.win_start;
	uint32_t freed = fi > ws ? fi - ws - ones_in(s->alloc_bits, ws, fi) : 0;
	if (gc_st.cfg.poison)
		for (uint32_t i = ws; i < fi; i++)
			if (!gc_bit(s->alloc_bits, i))
				gc_poison_slot(s, i);
	/* The next window starts at the first free slot of the span: below
	 * ws only a sweep during the window can have freed one. */
	uint32_t st = first_clear(s->alloc_bits, 0, fi);
	if (freed) {
		s->nalloc -= freed;
		s->needzero = 1;
	}
	/* Relaxed: read racily by lookups, which also check the alloc bits;
	 * win_start first, so a lookup never sees a window below freeindex
	 * that would count a free slot as allocated. */
	__atomic_store_n(&s->layer.win_start, st, __ATOMIC_RELAXED);
	__atomic_store_n(&s->freeindex, st, __ATOMIC_RELAXED);
	gc_span_refill_cache(s);
	return freed;
}

bool gc_layer_span_has_free(struct gc_span *s)
{
	uint32_t fi = s->freeindex;
	if (fi >= s->nelems)
		return false;
	bool found = gc_span_next_free(s) < s->nelems;
	s->freeindex = fi;
	gc_span_refill_cache(s);
	return found;
}

void gc_layer_span_release(struct gc_span *s)
{
	/* Slots a sweep freed below the window are free only while the window
	 * owns the span; without it every slot below freeindex counts as
	 * allocated, so they become allocated garbage until the next sweep,
	 * typeless: their words are poison or stale. */
	for (uint32_t i = 0; i < s->layer.win_start; i++)
		if (!gc_bit(s->alloc_bits, i)) {
			gc_span_forget_type(s, i);
			gc_layer_span_publish(s, i);
			s->nalloc++;
		}
	s->layer = (struct gc_span_layer){0};
	gc_central_put(s);
}

/* Takes bytes off the paced heap, saturating at 0: a flip set it to the
 * marked bytes, which counted a marked large object by its size, not its
 * pages, and a span cached across it by its marked slots only. */
static void heap_live_sub(uint64_t bytes)
{
	uint64_t live = atomic_load(&gc_st.heap_live);
	while (!atomic_compare_exchange_weak(&gc_st.heap_live, &live, live > bytes ? live - bytes : 0))
		;
}

bool gc_layer_span_free_empty(struct gc_span *s)
{
	/* During a mark a marker may still hold a rewound slot gray: span
	 * structs and pages stay in place until it ends (window.c). */
	if (s->large || s->nalloc != 0 || s->specials || gc_layer_marking() ||
	    atomic_load(&s->sweepgen) != gc_layer_sweepgen() + 3)
		return false;
	heap_live_sub((uint64_t)s->nelems * s->elemsize);   /* counted whole while cached (gc_layer_span_small) */
	gc_span_free_meta(s);
	gc_pages_free(s);
	return true;
}

void gc_layer_span_kill_large(struct gc_span *s)
{
	/* A marker that read the type before this store scans the old
	 * contents or the poison, both harmless; one that reads it after
	 * scans nothing. */
	__atomic_store_n(&s->large_type, NULL, __ATOMIC_RELAXED);
	if (gc_st.cfg.poison) {
		uint64_t *p = (uint64_t *)s->base;
		for (size_t i = 0; i < s->elemsize / 8; i++)
			__atomic_store_n(&p[i], GC_POISON_WORD, __ATOMIC_RELAXED);
	}
}

void gc_layer_span_drop_large(struct gc_span *s)
{
	uint64_t bytes = (uint64_t)s->npages * GC_PAGE_SIZE;
	if (gc_st.cfg.poison) {
		uint64_t *p = (uint64_t *)s->base;
		for (size_t i = 0; i < bytes / 8; i++)
			p[i] = GC_POISON_WORD;
	}
	heap_live_sub(bytes);
	gc_span_free_meta(s);
	gc_pages_span_drop(s);
}

/* --- objects and the heap -------------------------------------------------------------------------- */

void gc_layer_object_fields(const struct gc_span *s, uint32_t idx, uintptr_t obj,
			    void (*visit)(void *arg, uintptr_t value), void *arg)
{
	if (s->noscan)
		return;
	if (s->large) {
		const struct gc_type *t = s->large_type;
		for (size_t e = 0; t && e < s->large_count; e++)
			for (uint32_t f = 0; f < t->nptrs; f++)
				visit(arg, __atomic_load_n((uintptr_t *)(obj + e * t->size + t->offsets[f]),
							   __ATOMIC_RELAXED));
		return;
	}
	if (s->ptr_bits) {
		size_t ew = s->elemsize / GC_WORD;
		size_t bit = (size_t)idx * ew;
		for (size_t i = 0; i < ew; i++) {
			size_t b = bit + i;
			if ((atomic_load_explicit(&s->ptr_bits[b >> 6], memory_order_relaxed) >> (b & 63)) & 1)
				visit(arg, __atomic_load_n((uintptr_t *)obj + i, __ATOMIC_RELAXED));
		}
		return;
	}
	const struct gc_type *t = s->types ? s->types[idx] : NULL;
	if (!t)
		return;
	for (size_t e = 0; e + t->size <= s->elemsize; e += t->size)
		for (uint32_t f = 0; f < t->nptrs; f++)
			visit(arg, __atomic_load_n((uintptr_t *)(obj + e + t->offsets[f]), __ATOMIC_RELAXED));
}

void gc_layer_walk_objects(void (*visit)(void *arg, struct gc_span *s, uint32_t idx, uintptr_t obj), void *arg)
{
	uint32_t sg = atomic_load(&gc_heap.sweepgen);
	for (struct gc_arena *a = gc_heap.arenas; a; a = a->next) {
		for (size_t pg = 0; pg < GC_ARENA_PAGES; pg++) {
			struct gc_span *s = atomic_load(&a->spans[pg]);
			if (!s || s->base != a->base + pg * GC_PAGE_SIZE || s->noscan ||
			    atomic_load(&s->state) != GC_SPAN_INUSE)
				continue;
			uint32_t have = atomic_load(&s->sweepgen);
			if (have != sg && have != sg + 3)
				continue;
			for (uint32_t i = 0; i < s->nelems; i++)
				if (gc_span_allocated(s, i))
					visit(arg, s, i, s->base + (uintptr_t)i * s->elemsize);
		}
	}
}
