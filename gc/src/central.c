/*
 * central.c — central span lists (Go's mcentral) and per-worker caches
 * (Go's mcache).
 *
 * Each span class has four lists under one spin lock: partial and full,
 * each split into swept and unswept by the heap's sweepgen: index
 * (sweepgen / 2) & 1 is the swept set, the other is unswept, so the flip
 * at mark termination (sweepgen += 2) turns every swept list into an
 * unswept one without touching a span. A span is on at most one list, and
 * on none while a cache holds it or a sweeper owns it.
 *
 * Caches are per worker and touched only by the goroutine running on that
 * worker between two safepoints (allocation does not poll in the middle),
 * or by the collector with the world stopped.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

struct gc_central gc_centrals[GC_NUM_SPANCLASSES];
struct gc_cache *gc_caches;
struct gc_span gc_empty_span;   /* nelems 0: allocation from it always misses */
static int ncaches;

/* Spans on the lists of each index, every class together: the sweepers'
 * search for an unswept span (gc_central_take_unswept) ends at once when
 * its index holds none. With the transaction layer on, every sweep that
 * found the lists empty searched all the classes again (sweep.c's
 * take_unswept, for spans a claim put behind the cursor): a span refill
 * from the central lists cost ~1,800 instructions in gcbench. Written
 * under the class's lock; the flip turns one index's count into the other
 * role with the lists. */
static _Atomic int64_t listed[2];

static inline int swept_idx(uint32_t sg)
{
	return (int)((sg >> 1) & 1);
}

void gc_central_init(void)
{
	for (int i = 0; i < GC_NUM_SPANCLASSES; i++) {
		memset(&gc_centrals[i], 0, sizeof gc_centrals[i]);
		gc_centrals[i].spanclass = i;
	}
	memset(&gc_empty_span, 0, sizeof gc_empty_span);
	atomic_store(&listed[0], 0);
	atomic_store(&listed[1], 0);
}

static void push(struct gc_span **list, int i, struct gc_span *s, uint8_t which)
{
	s->next = *list;
	s->list = which;
	*list = s;
	atomic_fetch_add(&listed[i], 1);
}

static struct gc_span *pop(struct gc_span **list, int i)
{
	struct gc_span *s = *list;
	if (s) {
		*list = s->next;
		s->next = NULL;
		s->list = GC_LIST_NONE;
		atomic_fetch_sub(&listed[i], 1);
	}
	return s;
}

void gc_central_insert_swept(struct gc_span *s)
{
	struct gc_central *c = &gc_centrals[s->spanclass];
	gc_lock(&c->lock);
	int i = swept_idx(atomic_load(&gc_heap.sweepgen));
	if (s->nalloc == s->nelems)
		push(&c->full[i], i, s, GC_LIST_FULL);
	else
		push(&c->partial[i], i, s, GC_LIST_PARTIAL);
	gc_unlock(&c->lock);
}

/* Puts s, in need of sweeping, on its unswept list (world stopped; c->lock). */
static void insert_unswept(struct gc_span *s, uint32_t sg)
{
	struct gc_central *c = &gc_centrals[s->spanclass];
	int i = swept_idx(sg) ^ 1;
	atomic_store_explicit(&s->sweepgen, sg - 2, memory_order_relaxed);
	if (s->nalloc == s->nelems)
		push(&c->full[i], i, s, GC_LIST_FULL);
	else
		push(&c->partial[i], i, s, GC_LIST_PARTIAL);
}

/* Claims s for sweeping: sg-2 -> sg-1. */
static bool claim(struct gc_span *s, uint32_t sg)
{
	uint32_t want = sg - 2;
	return atomic_compare_exchange_strong(&s->sweepgen, &want, sg - 1);
}

static struct gc_span *grow(int spanclass)
{
	const struct gc_sizeclass *k = &gc_classes[spanclass >> 1];
	gc_sweep_reclaim(k->npages, false);
	bool zeroed;
	struct gc_span *s = gc_pages_alloc(k->npages, &zeroed);
	if (!s)
		return NULL;
	gc_span_init_small(s, spanclass);
	s->needzero = !zeroed;
	/* Fresh pages: fault them in writable now, in one call. Otherwise the
	 * first touch may be a read (the barrier loads the old field value),
	 * which maps the shared zero page, and the write after it costs a
	 * copy-on-write fault with a TLB shootdown of every other worker. */
	if (zeroed)
		(void)madvise((void *)s->base, k->npages * GC_PAGE_SIZE, MADV_POPULATE_WRITE);
	atomic_store(&s->sweepgen, atomic_load(&gc_heap.sweepgen));
	return s;
}

struct gc_span *gc_central_get(int spanclass)
{
	struct gc_central *c = &gc_centrals[spanclass];
	uint32_t sg = atomic_load(&gc_heap.sweepgen);
	struct gc_span *s = NULL;
	gc_lock(&c->lock);
	s = pop(&c->partial[swept_idx(sg)], swept_idx(sg));
	if (s) {
		gc_unlock(&c->lock);
		goto have;
	}
	/* Sweep what we take (lazy sweeping): partial unswept spans first,
	 * then full unswept ones that may have freed slots. The sweep is
	 * charged to the sweep account, opened only when there is one. */
	int prev = -1;
	for (int budget = 100; budget > 0; budget--) {
		s = pop(&c->partial[swept_idx(sg) ^ 1], swept_idx(sg) ^ 1);
		if (!s)
			s = pop(&c->full[swept_idx(sg) ^ 1], swept_idx(sg) ^ 1);
		if (!s)
			break;
		if (!claim(s, sg))
			gc_fatal("span %p on an unswept list has sweepgen %u (heap %u)", (void *)s->base,
				 atomic_load(&s->sweepgen), sg);
		gc_unlock(&c->lock);
		if (prev < 0)
			prev = sched_account_swap(GC_ACCT_SWEEP);
		gc_sweep_span(s, true);
		if (s->nalloc < s->nelems) {
			sched_account_swap(prev);
			goto have;
		}
		gc_central_insert_swept(s);
		gc_lock(&c->lock);
	}
	gc_unlock(&c->lock);
	if (prev >= 0)
		sched_account_swap(prev);
	s = grow(spanclass);
	if (!s)
		return NULL;
have:
	/* Cached and swept: sg + 3 until the next flip makes it sg + 1. */
	atomic_store_explicit(&s->sweepgen, sg + 3, memory_order_relaxed);
	atomic_fetch_add(&gc_st.heap_live, (uint64_t)(s->nelems - s->nalloc) * s->elemsize);
	return s;
}

void gc_central_put(struct gc_span *s)
{
	if (s == &gc_empty_span)
		return;
	uint32_t sg = atomic_load(&gc_heap.sweepgen);
	uint32_t have = atomic_load(&s->sweepgen);
	if (have == sg + 1) {
		/* Cached across a flip (only with the world stopped). */
		struct gc_central *c = &gc_centrals[s->spanclass];
		gc_lock(&c->lock);
		insert_unswept(s, sg);
		gc_unlock(&c->lock);
		return;
	}
	if (have != sg + 3)
		gc_fatal("span %p leaves a cache with sweepgen %u (heap %u)", (void *)s->base, have, sg);
	/* Slots the cache did not use were counted as live when it took the span. */
	uint64_t unused = (uint64_t)(s->nelems - s->nalloc) * s->elemsize;
	atomic_fetch_sub(&gc_st.heap_live, unused);
	atomic_store_explicit(&s->sweepgen, sg, memory_order_relaxed);
	gc_central_insert_swept(s);
}

void gc_cache_release_all(struct gc_cache *c)
{
	for (int i = 0; i < GC_NUM_SPANCLASSES; i++) {
		struct gc_span *s = c->alloc[i];
		c->alloc[i] = &gc_empty_span;
		gc_central_put(s);
	}
}

struct gc_span *gc_central_take_unswept(int *cursor)
{
	uint32_t sg = atomic_load(&gc_heap.sweepgen);
	int u = swept_idx(sg) ^ 1;
	if (atomic_load(&listed[u]) == 0)
		return NULL;
	for (; *cursor < GC_NUM_SPANCLASSES; (*cursor)++) {
		struct gc_central *c = &gc_centrals[*cursor];
		if (!c->partial[u] && !c->full[u])
			continue;
		gc_lock(&c->lock);
		struct gc_span *s = pop(&c->partial[u], u);
		if (!s)
			s = pop(&c->full[u], u);
		gc_unlock(&c->lock);
		if (!s)
			continue;
		if (!claim(s, sg))
			gc_fatal("span %p on an unswept list has sweepgen %u (heap %u)", (void *)s->base,
				 atomic_load(&s->sweepgen), sg);
		return s;
	}
	return NULL;
}

void gc_central_check_swept(void)
{
	uint32_t sg = atomic_load(&gc_heap.sweepgen);
	int u = swept_idx(sg) ^ 1;
	for (int i = 0; i < GC_NUM_SPANCLASSES; i++) {
		struct gc_central *c = &gc_centrals[i];
		struct gc_span *s = c->partial[u] ? c->partial[u] : c->full[u];
		if (s)
			gc_fatal("sweep termination: span %p (class %d) is still unswept, sweepgen %u (heap %u)",
				 (void *)s->base, i, atomic_load(&s->sweepgen), sg);
	}
}

void gc_caches_init(int procs)
{
	ncaches = procs;
	gc_caches = aligned_alloc(64, sizeof(struct gc_cache) * (size_t)procs);
	if (!gc_caches)
		gc_fatal("out of memory for %d allocation caches", procs);
	memset(gc_caches, 0, sizeof(struct gc_cache) * (size_t)procs);
	for (int w = 0; w < procs; w++) {
		for (int i = 0; i < GC_NUM_SPANCLASSES; i++)
			gc_caches[w].alloc[i] = &gc_empty_span;
		gc_caches[w].barrier = calloc(1, sizeof(struct gc_marker));
		if (!gc_caches[w].barrier)
			gc_fatal("out of memory for barrier buffers");
		gc_marker_init(gc_caches[w].barrier, false);
	}
}

int gc_ncaches(void)
{
	return ncaches;
}

void gc_caches_fini(void)
{
	for (int w = 0; w < ncaches; w++)
		free(gc_caches[w].barrier);
	free(gc_caches);
	gc_caches = NULL;
	ncaches = 0;
}
