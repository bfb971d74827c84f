/*
 * alloc.c — gc_alloc and friends: the allocation fast path, refills from
 * the central lists, large objects, and the out-of-memory report.
 *
 * Fast path (Go's mallocgc for small objects): poll for safepoints, pick
 * the span class, take the worker's cached span for it, find the next free
 * slot through alloc_cache (count trailing zeros), zero the slot if the
 * span may hold garbage, record where the object's pointers are, and, while
 * the collector marks, allocate black and charge the assist debt. Nothing
 * between the poll and the return is a safepoint, so the worker's cache
 * cannot change under us.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

const struct gc_type gc_type_ptr = {"void *", sizeof(void *), 1, 1, (const uint32_t[]){0}};

_Noreturn void gc_out_of_memory(size_t request)
{
	struct gc_stats st;
	gc_read_stats(&st);
	gc_fatal("out of memory: allocating %zu bytes with %.1f MiB of heap in use, %.1f MiB mapped "
		 "(TOC_MAXHEAP=%.1f MiB%s%s)",
		 request, st.heap_inuse / 1048576.0, st.heap_mapped / 1048576.0,
		 gc_st.cfg.maxheap / 1048576.0, gc_st.cfg.memlimit ? ", TOC_MEMLIMIT=" : "",
		 gc_st.cfg.memlimit ? "set" : "");
}

static struct gc_cache *cache_self(void)
{
	int w = sched_worker_index();
	if (w < 0)
		gc_fatal("gc_alloc: called outside a goroutine");
	return &gc_caches[w];
}

/* The cached span for spc is full: hand it back and take another. */
static struct gc_span *refill(struct gc_cache *c, int spc, size_t size)
{
	gc_central_put(c->alloc[spc]);
	c->alloc[spc] = &gc_empty_span;
	struct gc_span *s = gc_central_get(spc);
	if (!s)
		gc_out_of_memory(size);
	c->alloc[spc] = s;
	return s;
}

/* no-tree-loop-distribute-patterns: the zeroing loop below stays word
 * stores; as a memset (rep stos) its start-up cost is most of a small slot's. */
__attribute__((optimize("no-tree-loop-distribute-patterns"))) static inline void *
alloc_small(const struct gc_type *t, size_t count, size_t size, bool noscan, bool zero)
{
	sched_poll();
	int spc = gc_spanclass(gc_size_class(size), noscan);
	struct gc_cache *c = cache_self();
	struct gc_span *s = NULL;
	uint32_t idx = 0;
	bool refilled = false;
	struct gc_span **local = c->local;   /* NULL without the layer */
	if (local && size <= GC_LOCAL_MAX_SIZE) {
		/* The running transaction's window (toc/). NULL: the window has
		 * no room for this class until its next rewind or sweep, or the
		 * goroutine is windowless, so the shared cache serves it without
		 * asking the layer each time. */
		s = local[spc];
		if (!s)
			goto shared;
		if (TOC_CHECK_LEVEL >= 2 && s != &gc_empty_span && s->base - gc_tls_window.lo >= gc_tls_window.len)
			gc_fatal("worker %d allocates from span %p (window %p) outside the running window [%p, +%zu)",
				 sched_worker_index(), (void *)s->base, s->layer.window, (void *)gc_tls_window.lo,
				 (size_t)gc_tls_window.len);
		idx = gc_span_next_free(s);
		if (__builtin_expect(idx >= s->nelems, 0)) {
			s = gc_layer->refill(spc);
			if (s) {
				idx = gc_span_next_free(s);
				refilled = true;
			}
		}
	}
shared:
	if (!s) {
		s = c->alloc[spc];
		idx = gc_span_next_free(s);
		if (__builtin_expect(idx >= s->nelems, 0)) {
			s = refill(c, spc, size);
			idx = gc_span_next_free(s);
			refilled = true;
		}
	}
	s->nalloc++;
	char *obj = (char *)(s->base + (uintptr_t)idx * s->elemsize);
	if (s->needzero && zero) {
		if (__builtin_expect(gc_st.cfg.poison, 0) && *(uint64_t *)obj != GC_POISON_WORD &&
		    *(uint64_t *)obj != 0)
			gc_fatal("poison: free slot %p (span %p, %zu B, slot %u, window %p [%u, %u), alloc bit %d) was "
				 "written after it was reclaimed: %#llx %#llx %#llx %#llx",
				 (void *)obj, (void *)s->base, s->elemsize, idx, s->layer.window, s->layer.win_start,
				 s->freeindex, gc_bit(s->alloc_bits, idx), (unsigned long long)((uint64_t *)obj)[0],
				 (unsigned long long)((uint64_t *)obj)[s->elemsize >= 16],
				 (unsigned long long)((uint64_t *)obj)[s->elemsize >= 24 ? 2 : 0],
				 (unsigned long long)((uint64_t *)obj)[s->elemsize >= 32 ? 3 : 0]);
		size_t words = s->elemsize / 8;   /* a local: the stores below may alias *s */
		if (words <= 8) {
			/* Small slots: a few word stores beat a call to memset. */
			uint64_t *o = (uint64_t *)obj;
			for (size_t w = 0; w < words; w++)
				o[w] = 0;
		} else {
			memset(obj, 0, s->elemsize);
		}
	}
	if (!noscan)
		gc_span_record_type(s, idx, t, count);
	c->alloc_bytes += s->elemsize;
	c->alloc_objects++;
	if (atomic_load_explicit(&gc_st.alloc_black, memory_order_relaxed)) {
		gc_bit_test_and_set(s->mark_bits, idx);
		c->black_bytes += s->elemsize;
		c->assist_debt += s->elemsize;
		if (c->assist_debt >= 64 * 1024)
			gc_assist(c);
	}
	if (refilled) {
		if (atomic_load_explicit(&gc_st.phase, memory_order_relaxed) == GC_PHASE_MARK &&
		    atomic_load(&gc_st.heap_live) >= atomic_load(&gc_st.goal))
			gc_assist(c);
		else
			gc_trigger_check();
	}
	return obj;
}

/* Sets up s (pages of the running transaction's region when local, else of
 * the page heap) for one large object and returns the object. */
static void *large_object(struct gc_span *s, bool local, bool zeroed, const struct gc_type *t, size_t count,
			  size_t size)
{
	size_t npages = s->npages;
	gc_span_init_large(s, t, count, size);
	/* The object's address must sit in this frame across the assist and
	 * the trigger below (both may switch): the span struct is not a heap
	 * pointer, so holding only s would hide the object from the stack scan. */
	void *obj = (void *)s->base;
	if (!zeroed)
		memset(obj, 0, size);
	/* Large spans live on their class's full list (swept), where the
	 * sweeper finds them; a local one stays with its window, counted as
	 * cached, until the window ends. Published before the object is
	 * returned; marked first when the collector is marking. */
	if (!local)
		atomic_store(&s->sweepgen, atomic_load(&gc_heap.sweepgen));
	struct gc_cache *c = cache_self();
	bool black = atomic_load(&gc_st.alloc_black);
	if (black) {
		gc_bit_test_and_set(s->mark_bits, 0);
		c->black_bytes += npages * GC_PAGE_SIZE;
	}
	if (!local)
		gc_central_insert_swept(s);
	c->alloc_bytes += npages * GC_PAGE_SIZE;
	c->alloc_objects++;
	gc_stat_add(&gc_counters.large_allocs, 1);
	atomic_fetch_add(&gc_st.heap_live, npages * GC_PAGE_SIZE);
	if (black) {
		c->assist_debt += npages * GC_PAGE_SIZE;
		gc_assist(c);
	}
	gc_trigger_check();
	gc_keep_alive(obj);
	return obj;
}

/* A local large object (toc/): pages of the running transaction's region,
 * freed by its rewind unless published. NULL when the layer is off, the
 * object is too big for a region or the region has no room. */
static void *local_large(const struct gc_type *t, size_t count, size_t size, bool zero)
{
	size_t npages = (size + GC_PAGE_SIZE - 1) / GC_PAGE_SIZE;
	if (!gc_layer || npages > gc_local_large_pages)
		return NULL;
	sched_poll();
	bool zeroed;
	struct gc_span *s = gc_layer->alloc_large(npages, &zeroed);
	return s ? large_object(s, true, zeroed || !zero, t, count, size) : NULL;
}

static void *alloc_large(const struct gc_type *t, size_t count, size_t size, bool zero)
{
	void *obj = local_large(t, count, size, zero);
	if (obj)
		return obj;
	sched_poll();
	size_t npages = (size + GC_PAGE_SIZE - 1) / GC_PAGE_SIZE;
	if (npages > (SIZE_MAX >> GC_PAGE_SHIFT) - 1)
		gc_out_of_memory(size);
	gc_sweep_reclaim(npages, true);
	bool zeroed;
	struct gc_span *s = gc_pages_alloc(npages, &zeroed);
	if (!s)
		gc_out_of_memory(size);
	return large_object(s, false, zeroed || !zero, t, count, size);
}

void *gc_alloc_large(const struct gc_type *t, size_t count, size_t size)
{
	return alloc_large(t, count, size, true);
}

/* Small classes over GC_LOCAL_MAX_SIZE: a local large object while the
 * layer can place one, else the shared class. */
static void *alloc_mid(const struct gc_type *t, size_t count, size_t size, bool noscan, bool zero)
{
	if (size > GC_LOCAL_MAX_SIZE && gc_layer) {
		void *obj = local_large(noscan ? NULL : t, count, size, zero);
		if (obj)
			return obj;
	}
	return alloc_small(t, count, size, noscan, zero);
}

void *gc_alloc_array(const struct gc_type *t, size_t n)
{
	size_t size;
	if (__builtin_mul_overflow(t->size, n, &size))
		gc_out_of_memory(SIZE_MAX);
	if (size == 0)
		size = GC_WORD;
	bool noscan = t->nptrs == 0;
	if (size > GC_MAX_SMALL)
		return gc_alloc_large(noscan ? NULL : t, n, size);
	return alloc_mid(t, n, size, noscan, true);
}

void *gc_alloc(const struct gc_type *t)
{
	bool noscan = t->nptrs == 0;
	if (t->size > GC_MAX_SMALL)
		return gc_alloc_large(noscan ? NULL : t, 1, t->size);
	return alloc_mid(t, 1, t->size, noscan, true);
}

void *gc_alloc_bytes(size_t n)
{
	if (n == 0)
		n = GC_WORD;
	if (n > GC_MAX_SMALL)
		return gc_alloc_large(NULL, 0, n);
	return alloc_mid(NULL, 0, n, true, true);
}

void *gc_alloc_raw(size_t n)
{
	if (n == 0)
		n = GC_WORD;
	if (n > GC_MAX_SMALL)
		return alloc_large(NULL, 0, n, false);
	return alloc_mid(NULL, 0, n, true, false);
}

void *gc_base(const void *p)
{
	for (;;) {
		struct gc_span *s;
		uint32_t idx;
		uintptr_t obj = gc_find_object((uintptr_t)p, &s, &idx);
		if (!obj)
			return NULL;
		uint32_t g1 = atomic_load_explicit(&s->sweepgen, memory_order_acquire);
		if (g1 == atomic_load(&gc_heap.sweepgen) - 1) {
			sched_yield();
			continue;
		}
		bool a = gc_span_allocated(s, idx);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load(&s->sweepgen) != g1)
			continue;
		return a ? (void *)obj : NULL;
	}
}
