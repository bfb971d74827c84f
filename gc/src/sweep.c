/*
 * sweep.c — sweeping: turning mark bits into alloc bits, span by span.
 *
 * After mark termination flips the heap's sweepgen, every span in use is
 * unswept (on an unswept central list, or held by nobody: caches were
 * emptied in the same stop). Spans are swept
 *   - lazily, by an allocator that takes an unswept span from its class's
 *     central list (central.c), and
 *   - in the background, by the sweeper goroutine, one span at a time with
 *     a yield every few spans, so it never holds a worker for long.
 * Whoever moves a span's sweepgen from sg-2 to sg-1 sweeps it. Sweeping
 * ends before the next cycle's mark begins (the cycle finishes it first).
 *
 * Sweeping a span: finalizers of unmarked objects are queued (and the
 * objects kept one more cycle), reclaimed slots are poisoned in poison
 * mode, the mark bits become the alloc bits, freeindex goes back to 0, and
 * a span with nothing left goes back to the page heap.
 */
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

static _Atomic int sweep_active;   /* sweeps in progress */

void gc_poison_slot(struct gc_span *s, uint32_t idx)
{
	uint64_t *p = (uint64_t *)(s->base + (uintptr_t)idx * s->elemsize);
	size_t n = (s->elemsize + 7) / 8;
	for (size_t i = 0; i < n; i++)
		p[i] = GC_POISON_WORD;
}

bool gc_sweep_span(struct gc_span *s, bool preserve)
{
	if (__atomic_load_n(&s->layer.window, __ATOMIC_RELAXED))
		gc_fatal("span %p swept as a shared span while window %p owns it", (void *)s->base, s->layer.window);
	atomic_fetch_add(&sweep_active, 1);
	uint32_t sg = atomic_load(&gc_heap.sweepgen);
	if (s->specials)
		gc_finalizer_sweep(s);
	/* A mark on a free slot means nothing: a marker may still have held a
	 * slot gray when a window rewound it (toc/src/window.c), and scanning
	 * whatever the slot held then may have shaded other free slots. Only
	 * allocated slots (alloc bit, or below freeindex) survive. */
	uint32_t fi = s->large ? 1 : s->freeindex;
	for (size_t w = 0; w < s->nbits_words; w++) {
		uint64_t below = fi >= (w + 1) * 64 ? ~(uint64_t)0 : fi > w * 64 ? ((uint64_t)1 << (fi - w * 64)) - 1 : 0;
		uint64_t allocated = s->alloc_bits[w] | below;
		uint64_t m = __atomic_load_n(&s->mark_bits[w], __ATOMIC_RELAXED);
		if (gc_st.cfg.poison)
			for (uint64_t b = allocated & ~m; b; b &= b - 1)
				gc_poison_slot(s, (uint32_t)(w * 64) + (uint32_t)__builtin_ctzll(b));
		__atomic_store_n(&s->mark_bits[w], m & allocated, __ATOMIC_RELAXED);
	}
	uint32_t live = gc_bits_count(s->mark_bits, s->nelems);
	uint32_t before = s->large ? 1 : s->nalloc;
	if (live < before)
		gc_stat_add(&gc_counters.freed_bytes, (uint64_t)(before - live) * s->elemsize);
	uint64_t *t = s->alloc_bits;
	s->alloc_bits = s->mark_bits;
	s->mark_bits = t;
	memset(s->mark_bits, 0, s->nbits_words * sizeof(uint64_t));
	if (s->check_bits)
		memset(s->check_bits, 0, s->nbits_words * sizeof(uint64_t));
	s->nalloc = live;
	if (!s->large) {
		s->freeindex = 0;
		gc_span_refill_cache(s);
		s->needzero = 1;
	}
	atomic_store_explicit(&s->sweepgen, sg, memory_order_release);
	bool freed = false;
	if (live == 0 && !(preserve && !s->large)) {
		if (s->on_special_list)
			gc_finalizer_forget_span(s);
		gc_span_free_meta(s);
		gc_pages_free(s);
		freed = true;
	} else if (!preserve) {
		gc_central_insert_swept(s);
	}
	atomic_fetch_sub(&sweep_active, 1);
	return freed;
}

/* --- spans a window owns ------------------------------------------------------------------- */

void gc_layer_sweep_begin(void)
{
	atomic_fetch_add(&sweep_active, 1);   /* gc_sweep_all waits for it */
}

void gc_layer_sweep_end(void)
{
	atomic_fetch_sub(&sweep_active, 1);
}

/* A window's span after a flip. The alloc bits of a window's span are its
 * published objects and the objects below the window (layer.h); they keep
 * what was marked, and a dead one leaves them: below the window or past
 * freeindex it becomes a free slot, inside the window it looks unpublished
 * and goes at the window's rewind. Unpublished window objects are the
 * owner's whatever their mark bits say (allocated black, shaded by the
 * barrier, reached from its stack): they keep their alloc bit 0, and
 * freeindex and win_start stay where the owner left them. A dead one inside
 * the window is the one kind of garbage that still counts as allocated
 * there: it is poisoned like any other, and it forgets its type, so a stale
 * stack word that reaches it before the rewind scans nothing. */
void gc_layer_span_sweep(struct gc_span *s, void (*dead)(void *arg, struct gc_span *s, uint32_t idx), void *arg,
			 bool cached)
{
	uint32_t sg = atomic_load(&gc_heap.sweepgen);
	uint32_t have = atomic_load(&s->sweepgen);
	if (have != sg + 1)
		gc_fatal("span %p of a window swept with sweepgen %u (heap %u): a window's span is swept once, "
			 "after the flip that made it stale", (void *)s->base, have, sg);
	if (s->specials)
		gc_finalizer_sweep(s);   /* marks the finalizable ones: kept until their finalizer ran */
	uint32_t marked = gc_bits_count(s->mark_bits, s->nelems);
	uint32_t lo = s->layer.win_start, hi = s->freeindex, outside = 0, ndead = 0;
	for (size_t w = 0; w < s->nbits_words; w++) {
		uint64_t m = __atomic_load_n(&s->mark_bits[w], __ATOMIC_RELAXED);
		uint64_t gone = s->alloc_bits[w] & ~m;
		for (uint64_t b = gone; b; b &= b - 1) {
			uint32_t i = (uint32_t)(w * 64) + (uint32_t)__builtin_ctzll(b);
			if (gc_st.cfg.poison)
				gc_poison_slot(s, i);
			if (i < lo || i >= hi)
				outside++;
			else
				gc_span_forget_type(s, i);   /* looks unpublished until the rewind frees it */
			ndead++;
			if (dead)
				dead(arg, s, i);
		}
		__atomic_store_n(&s->alloc_bits[w], s->alloc_bits[w] & m, __ATOMIC_RELAXED);
	}
	memset(s->mark_bits, 0, s->nbits_words * sizeof(uint64_t));
	if (s->check_bits)
		memset(s->check_bits, 0, s->nbits_words * sizeof(uint64_t));
	if (ndead) {
		gc_stat_add(&gc_counters.freed_bytes, (uint64_t)ndead * s->elemsize);
		s->needzero = 1;
	}
	if (!s->large) {
		s->nalloc -= outside;
		gc_span_refill_cache(s);
		/* The paced heap counts a cached span whole; the flip reset it to
		 * the marked bytes, which hold this span's marked slots. */
		if (cached)
			atomic_fetch_add(&gc_st.heap_live, (uint64_t)(s->nelems - marked) * s->elemsize);
	} else if (!marked && cached) {
		atomic_fetch_add(&gc_st.heap_live, s->npages * GC_PAGE_SIZE);
	}
	/* Swept, still cached (the window's). */
	atomic_store_explicit(&s->sweepgen, sg + 3, memory_order_release);
}

static int sweep_cursor;   /* the background sweeper's position; reset at each flip */

void gc_sweep_reset(void)
{
	sweep_cursor = 0;
}

/* The next unswept span, claimed, from the shared cursor; or NULL. */
static struct gc_span *take_unswept(void)
{
	int cursor = __atomic_load_n(&sweep_cursor, __ATOMIC_RELAXED);
	struct gc_span *s = gc_central_take_unswept(&cursor);
	__atomic_store_n(&sweep_cursor, cursor, __ATOMIC_RELAXED);
	if (s || !gc_layer)
		return s;
	/* The lists looked swept: windows the flip made stale hold the rest,
	 * owned by goroutines that may be parked for minutes. Claim them (an
	 * atomic state change per region). The claim pass runs once per flip
	 * and puts every stale region's spans on the unswept lists before it
	 * is marked done, so once claim() returns, by us or by another
	 * sweeper, one more pass from the first class finds whatever is left.
	 * The shared cursor alone would not: it may have passed a class while
	 * the claim was filling it, and a sweeper that stopped there would end
	 * the sweep with spans unswept (the next cycle then sweeps them during
	 * its mark, throwing its mark bits away). */
	gc_layer->claim();
	cursor = 0;
	s = gc_central_take_unswept(&cursor);
	if (s)
		__atomic_store_n(&sweep_cursor, 0, __ATOMIC_RELAXED);
	return s;
}

bool gc_sweep_one(void)
{
	struct gc_span *s = take_unswept();
	if (!s)
		return false;
	gc_sweep_span(s, false);
	return true;
}

size_t gc_sweep_reclaim(size_t npages, bool may_poll)
{
	size_t freed = 0;
	unsigned swept = 0;
	int prev = -1;
	while (freed < npages) {
		struct gc_span *s = take_unswept();
		if (!s)
			break;
		if (prev < 0)
			prev = sched_account_swap(GC_ACCT_SWEEP);   /* only when there is a span to sweep */
		size_t n = s->npages;
		if (gc_sweep_span(s, false))
			freed += n;
		if (may_poll && (++swept & 15) == 0)
			sched_poll();
	}
	if (prev >= 0)
		sched_account_swap(prev);
	return freed;
}

/* Sweeps until nothing is unswept and no other sweep is in progress. */
void gc_sweep_all(void)
{
	int prev = sched_account_swap(GC_ACCT_SWEEP);
	unsigned n = 0;
	while (gc_sweep_one())
		if ((++n & 15) == 0)
			sched_poll();
	while (atomic_load(&sweep_active))
		sched_gosched();
	sched_account_swap(prev);
}

/* The background sweeper: woken after each mark termination. */
void gc_sweeper_main(void *arg)
{
	struct sched_chan *wake = arg;
	uint8_t token;
	while (sched_chan_recv(wake, &token)) {
		uint64_t cycle = atomic_load(&gc_st.cycles_done);
		sched_account_swap(GC_ACCT_SWEEP);   /* open while it sweeps: yields stop the clock */
		unsigned n = 0;
		while (gc_sweep_one()) {
			if ((++n & 7) == 0)
				sched_gosched();
		}
		while (atomic_load(&sweep_active))
			sched_gosched();
		sched_account_swap(0);
		if (atomic_load(&gc_st.cycles_done) == cycle)
			gc_scavenge_after_sweep();
		gc_finalizer_wake();
	}
}
