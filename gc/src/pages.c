/*
 * pages.c — the page heap: runs of free pages, spans over them, and giving
 * free pages back to the OS.
 *
 * Each arena keeps two bitmaps over its 8,192 pages: free (1 = not in any
 * span) and released (1 = free and returned with MADV_DONTNEED, so it reads
 * as zero). A free run is a run of set bits, so freeing a span coalesces
 * with its neighbours by construction; allocation is first fit over the
 * arenas, newest first, found with word-at-a-time bit scans. Everything here
 * runs under gc_heap.lock (Go's mheap lock); the lock is held for a bitmap
 * scan, never for a system call other than madvise of released pages.
 *
 * A request larger than an arena gets fresh contiguous arenas of its own;
 * their pages return to the ordinary free bitmaps when freed.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

struct gc_heap gc_heap;

void gc_lock(int *l)
{
	for (unsigned spins = 0; __atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE); spins++) {
		while (__atomic_load_n(l, __ATOMIC_RELAXED)) {
			if (spins++ < 64)
				__builtin_ia32_pause();
			else
				sched_yield();
		}
	}
}

/* --- span structs: a pool, returned to malloc only by gc_pages_reset -------------- */

/* A chunk's first struct links the chunks (it never leaves the pool's list of
 * chunks, and is never handed out). */
enum { SPAN_CHUNK = 128 };
static struct gc_span *span_pool;   /* heap lock */
static struct gc_span *span_chunks; /* heap lock; linked through chunk[0].next */

struct gc_span *gc_span_struct_alloc(void)
{
	if (!span_pool) {
		struct gc_span *chunk = aligned_alloc(_Alignof(struct gc_span), SPAN_CHUNK * sizeof *chunk);
		if (!chunk)
			return NULL;
		memset(chunk, 0, SPAN_CHUNK * sizeof *chunk);
		atomic_fetch_add(&gc_heap.metadata_bytes, SPAN_CHUNK * sizeof *chunk);
		chunk[0].next = span_chunks;
		span_chunks = chunk;
		for (int i = 1; i < SPAN_CHUNK; i++) {
			chunk[i].next = span_pool;
			span_pool = &chunk[i];
		}
	}
	struct gc_span *s = span_pool;
	span_pool = s->next;
	s->next = NULL;
	s->layer = (struct gc_span_layer){0};   /* a reused struct keeps no window */
	return s;
}

void gc_span_struct_free(struct gc_span *s)
{
	s->next = span_pool;
	span_pool = s;
}

void gc_pages_reset(void)
{
	while (span_chunks) {
		struct gc_span *next = span_chunks[0].next;
		free(span_chunks);
		span_chunks = next;
	}
	span_pool = NULL;
}

/* --- bit runs ------------------------------------------------------------------------ */

static bool test_bit(const uint64_t *b, size_t i)
{
	return (b[i >> 6] >> (i & 63)) & 1;
}

static void set_range(uint64_t *b, size_t i, size_t n, bool v)
{
	while (n) {
		size_t bit = i & 63;
		size_t take = 64 - bit < n ? 64 - bit : n;
		uint64_t m = take == 64 ? ~0ull : (((uint64_t)1 << take) - 1) << bit;
		if (v)
			b[i >> 6] |= m;
		else
			b[i >> 6] &= ~m;
		i += take;
		n -= take;
	}
}

/* First run of n set bits in b (len bits); returns its start or len. */
static size_t find_run(const uint64_t *b, size_t len, size_t n)
{
	size_t i = 0;
	while (i < len) {
		uint64_t w = b[i >> 6] >> (i & 63);
		if (!w) {
			i = (i | 63) + 1;
			continue;
		}
		i += (size_t)__builtin_ctzll(w);
		size_t start = i;
		/* Length of the run of ones from start. */
		while (i < len) {
			uint64_t z = ~b[i >> 6] >> (i & 63);
			if (z) {
				i += (size_t)__builtin_ctzll(z);
				break;
			}
			i = (i | 63) + 1;
		}
		if (i > len)
			i = len;
		if (i - start >= n)
			return start;
	}
	return len;
}

/* Takes [first, first+n) of arena a: returns whether all of it was released (zero). */
static bool take_pages(struct gc_arena *a, size_t first, size_t n)
{
	bool zero = true;
	size_t released = 0;
	for (size_t i = first; i < first + n; i++) {
		if (test_bit(a->released, i))
			released++;
		else
			zero = false;
	}
	set_range(a->free_pages, first, n, false);
	set_range(a->released, first, n, false);
	a->nfree -= (uint32_t)n;
	gc_heap.pages_free -= n;
	gc_heap.pages_released -= released;
	gc_heap.pages_inuse += n;
	gc_stat_max(&gc_counters.heap_inuse_max, (uint64_t)gc_heap.pages_inuse * GC_PAGE_SIZE);
	return zero;
}

/* Where a scavenge resumes: the arena and the page below which it has not
 * looked yet. Arenas are freed only at gc_fini, so the pointer stays good
 * while the heap lock is dropped between chunks. */
struct scavenge_cursor {
	struct gc_arena *a;
	size_t j;
};

static size_t scavenge_locked(size_t keep, size_t max_pages, struct scavenge_cursor *cur);

/* Bytes of free pages not returned to the OS. Heap lock. */
static size_t free_committed_locked(void)
{
	return (gc_heap.pages_free - gc_heap.pages_released) * GC_PAGE_SIZE;
}

/* Takes npages contiguous pages (heap lock held); returns their base or 0. */
static uintptr_t take_run_locked(size_t npages, bool *zeroed)
{
	uintptr_t base = 0;
	bool zero = true;
	/* Under a memory limit, free pages are returned to the OS before the
	 * committed total would pass it (Go scavenges synchronously too). */
	uint64_t limit = __atomic_load_n(&gc_heap.memlimit, __ATOMIC_RELAXED);
	if (limit) {
		size_t free_committed = free_committed_locked();
		uint64_t committed = (gc_heap.pages_inuse + npages) * GC_PAGE_SIZE + free_committed +
				     atomic_load(&gc_heap.metadata_bytes);
		if (committed > limit) {
			size_t over = committed - limit;
			scavenge_locked(free_committed > over ? free_committed - over : 0, SIZE_MAX, NULL);
		}
	}
	if (npages <= GC_ARENA_PAGES) {
		for (int round = 0; round < 2 && !base; round++) {
			for (struct gc_arena *a = gc_heap.arenas; a; a = a->next) {
				if (a->nfree < npages)
					continue;
				size_t at = find_run(a->free_pages, GC_ARENA_PAGES, npages);
				if (at == GC_ARENA_PAGES)
					continue;
				zero = take_pages(a, at, npages);
				base = a->base + at * GC_PAGE_SIZE;
				break;
			}
			if (!base && round == 0 && !gc_arena_grow_locked(1))
				break;
		}
	} else {
		size_t k = (npages + GC_ARENA_PAGES - 1) / GC_ARENA_PAGES;
		struct gc_arena *a = gc_arena_grow_locked(k);
		if (a) {
			base = a->base;
			size_t left = npages;
			for (uintptr_t p = base; left; p += GC_ARENA_SIZE) {
				size_t n = left < GC_ARENA_PAGES ? left : GC_ARENA_PAGES;
				zero &= take_pages(gc_arena_of(p), 0, n);
				left -= n;
			}
		}
	}
	*zeroed = zero;
	return base;
}

/* A span struct over pages already taken (heap lock held), state INUSE. */
static struct gc_span *span_at_locked(uintptr_t base, size_t npages)
{
	struct gc_span *s = gc_span_struct_alloc();
	if (!s)
		return NULL;
	memset(s, 0, sizeof *s);
	s->base = base;
	s->npages = npages;
	gc_arena_set_spans(s);
	gc_span_set_state(s, GC_SPAN_INUSE);
	return s;
}

/* Returns [base, base + npages pages) to the free bitmaps (heap lock held). */
static void free_run_locked(uintptr_t base, size_t npages)
{
	size_t left = npages;
	for (uintptr_t p = base; left;) {
		struct gc_arena *a = gc_arena_of(p);
		size_t first = (p - a->base) >> GC_PAGE_SHIFT;
		size_t n = GC_ARENA_PAGES - first < left ? GC_ARENA_PAGES - first : left;
		set_range(a->free_pages, first, n, true);
		a->nfree += (uint32_t)n;
		gc_heap.pages_free += n;
		gc_heap.pages_inuse -= n;
		left -= n;
		p += n * GC_PAGE_SIZE;
	}
}

struct gc_span *gc_pages_alloc(size_t npages, bool *zeroed)
{
	gc_lock(&gc_heap.lock);
	uintptr_t base = take_run_locked(npages, zeroed);
	struct gc_span *s = base ? span_at_locked(base, npages) : NULL;
	if (base && !s)
		free_run_locked(base, npages);
	gc_unlock(&gc_heap.lock);
	return s;
}

void gc_pages_free(struct gc_span *s)
{
	gc_lock(&gc_heap.lock);
	gc_arena_clear_spans(s);
	gc_span_set_state(s, GC_SPAN_FREE);
	free_run_locked(s->base, s->npages);
	gc_span_struct_free(s);
	gc_unlock(&gc_heap.lock);
}

uintptr_t gc_pages_alloc_run(size_t npages, bool *zeroed)
{
	gc_lock(&gc_heap.lock);
	uintptr_t base = take_run_locked(npages, zeroed);
	gc_unlock(&gc_heap.lock);
	return base;
}

struct gc_span *gc_pages_span_at(uintptr_t base, size_t npages)
{
	for (size_t i = 0; TOC_CHECK_LEVEL >= 2 && i < npages; i++) {
		struct gc_span *o = gc_span_of(base + i * GC_PAGE_SIZE);
		if (o && atomic_load(&o->state) == GC_SPAN_INUSE)
			gc_fatal("span at %p over %zu pages: page %zu is span %p's (window %p, %zu pages)", (void *)base,
				 npages, i, (void *)o->base, o->layer.window, o->npages);
	}
	gc_lock(&gc_heap.lock);
	struct gc_span *s = span_at_locked(base, npages);
	gc_unlock(&gc_heap.lock);
	return s;
}

void gc_pages_span_drop(struct gc_span *s)
{
	gc_lock(&gc_heap.lock);
	gc_arena_clear_spans(s);
	gc_span_set_state(s, GC_SPAN_FREE);
	gc_span_struct_free(s);
	gc_unlock(&gc_heap.lock);
}

void gc_pages_free_run(uintptr_t base, size_t npages)
{
	gc_lock(&gc_heap.lock);
	free_run_locked(base, npages);
	gc_unlock(&gc_heap.lock);
}

/* Pages released per hold of the heap lock by gc_pages_scavenge: madvise
 * of a large range takes milliseconds, and neither the goroutines waiting
 * for the lock nor a stop-the-world should wait that long. */
#define SCAVENGE_CHUNK 64

size_t gc_pages_scavenge(size_t keep)
{
	size_t total = 0;
	struct scavenge_cursor cur = {NULL, 0};   /* each chunk goes on below the last */
	for (;;) {
		gc_lock(&gc_heap.lock);
		size_t released = scavenge_locked(keep, SCAVENGE_CHUNK, &cur);
		gc_unlock(&gc_heap.lock);
		total += released;
		if (released < SCAVENGE_CHUNK * GC_PAGE_SIZE)
			return total;
		if (sched_self())
			sched_poll();
	}
}

/* The highest page below j (0 < j <= GC_ARENA_PAGES) of arena a that is
 * free and not released, plus one; 0 when there is none. A word of the
 * two bitmaps at a time. */
static size_t candidate_below(const struct gc_arena *a, size_t j)
{
	while (j > 0) {
		size_t w = (j - 1) >> 6;
		uint64_t cand = a->free_pages[w] & ~a->released[w];
		size_t top = (j - 1) & 63;
		if (top < 63)
			cand &= ((uint64_t)1 << (top + 1)) - 1;
		if (cand)
			return w * 64 + (63 - (size_t)__builtin_clzll(cand)) + 1;
		j = w * 64;
	}
	return 0;
}

/* Releases free committed pages until at most keep bytes of them remain,
 * or max_pages pages were released; from cur where one is given (and
 * moved on), else from the top.
 * Allocation takes the first fit from the head of the arena list and the
 * low end of each arena; the scavenger works from the other end (the tail,
 * high pages first), so the pages it returns are the last ones allocation
 * reaches, and a steady heap does not fault its memory back in every cycle.
 * A chunked scavenge resumes where its last chunk stopped: started again
 * from the top, each chunk re-read every page already released, a walk of
 * the whole heap per 64 pages (17% of the CPU, and the heap lock held,
 * with thousands of toc windows open). */
static size_t scavenge_locked(size_t keep, size_t max_pages, struct scavenge_cursor *cur)
{
	size_t released = 0;
	size_t committed_free = free_committed_locked();
	struct gc_arena *a = cur && cur->a ? cur->a : gc_heap.arenas_tail;
	size_t j = cur && cur->a ? cur->j : GC_ARENA_PAGES;
	for (; a && committed_free > keep && max_pages; a = a->prev, j = GC_ARENA_PAGES) {
		while (committed_free > keep && max_pages && (j = candidate_below(a, j)) > 0) {
			/* The run [i, j) of free committed pages, no longer than needed. */
			size_t want = (committed_free - keep + GC_PAGE_SIZE - 1) / GC_PAGE_SIZE;
			if (want > max_pages)
				want = max_pages;
			size_t i = j - 1;
			while (i > 0 && j - i < want && test_bit(a->free_pages, i - 1) && !test_bit(a->released, i - 1))
				i--;
			madvise((void *)(a->base + i * GC_PAGE_SIZE), (j - i) * GC_PAGE_SIZE, MADV_DONTNEED);
			set_range(a->released, i, j - i, true);
			gc_heap.pages_released += j - i;
			released += (j - i) * GC_PAGE_SIZE;
			committed_free -= (j - i) * GC_PAGE_SIZE;
			max_pages -= j - i;
			j = i;
		}
		if (committed_free <= keep || !max_pages)
			break;
	}
	if (cur) {
		cur->a = a;
		cur->j = a ? j : 0;
	}
	return released;
}
