/*
 * span.c — spans: set-up, states, and the bitmap operations allocation
 * and sweeping use.
 *
 * A small span's metadata is one calloc'd block: alloc bits, mark bits,
 * and for scan spans either one pointer bit per heap word (slots up to
 * 512 B: 1/64 of the span) or one type pointer per slot (bigger slots: at
 * most 1/64 too). Sweeping swaps alloc and mark bits and clears the new
 * mark bits: no free lists (docs/architecture.md).
 *
 * alloc_cache holds the inverse of alloc bits for the 64-slot group that
 * contains freeindex, shifted so bit 0 is that group's first slot; slots
 * below freeindex in the group are cleared as they are taken.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *const gc_span_state_names[] = {"free", "inuse"};

void gc_span_set_state(struct gc_span *s, enum gc_span_state to)
{
	uint8_t from = atomic_load_explicit(&s->state, memory_order_relaxed);
	bool legal = (from == GC_SPAN_FREE && to == GC_SPAN_INUSE) ||
		     (from == GC_SPAN_INUSE && to == GC_SPAN_FREE);
	if (!legal)
		gc_fatal("span %p: illegal state change %s -> %s", (void *)s->base,
			 gc_span_state_names[from], gc_span_state_names[to]);
	atomic_store_explicit(&s->state, (uint8_t)to, memory_order_release);
}

uint32_t gc_bits_count(const uint64_t *bits, uint32_t n)
{
	uint32_t c = 0;
	uint32_t i = 0;
	for (; i + 64 <= n; i += 64)
		c += (uint32_t)__builtin_popcountll(__atomic_load_n(&bits[i >> 6], __ATOMIC_RELAXED));
	if (i < n) {
		uint64_t w = __atomic_load_n(&bits[i >> 6], __ATOMIC_RELAXED);
		c += (uint32_t)__builtin_popcountll(w & (((uint64_t)1 << (n - i)) - 1));
	}
	return c;
}

void gc_span_refill_cache(struct gc_span *s)
{
	uint32_t group = s->freeindex & ~63u;
	if (group >= s->nelems) {
		s->alloc_cache = 0;
		return;
	}
	uint64_t free = ~s->alloc_bits[group >> 6];
	free &= ~(uint64_t)0 << (s->freeindex & 63);   /* slots before freeindex are taken */
	uint32_t left = s->nelems - group;
	if (left < 64)
		free &= ((uint64_t)1 << left) - 1;
	s->alloc_cache = free;
}

/* One block for all of a span's bitmaps; freed with gc_span_free_meta. */
static void *meta_alloc(size_t bytes)
{
	void *p = calloc(1, bytes);
	if (!p)
		gc_fatal("out of memory for span metadata (%zu bytes)", bytes);
	atomic_fetch_add(&gc_heap.metadata_bytes, bytes);
	return p;
}

void gc_span_free_meta(struct gc_span *s)
{
	if (s->meta) {
		atomic_fetch_sub(&gc_heap.metadata_bytes, s->meta_bytes);
		free(s->meta);
	}
	s->meta = NULL;
	free(s->check_bits);
	s->alloc_bits = s->mark_bits = s->check_bits = NULL;
	s->ptr_bits = NULL;
	s->types = NULL;
}

void gc_span_init_small(struct gc_span *s, int spanclass)
{
	int cls = spanclass >> 1;
	const struct gc_sizeclass *k = &gc_classes[cls];
	s->spanclass = (uint8_t)spanclass;
	s->noscan = spanclass & 1;
	s->large = 0;
	s->elemsize = k->size;
	s->nelems = k->nelems;
	s->divmul = k->divmul;
	s->freeindex = 0;
	s->nalloc = 0;
	s->nbits_words = (k->nelems + 63) / 64;
	size_t words = 2 * s->nbits_words;
	size_t ptr_words = 0, type_slots = 0;
	if (!s->noscan) {
		if (k->size <= GC_SMALL_MASK_MAX)
			ptr_words = (s->npages * GC_PAGE_SIZE / GC_WORD + 63) / 64;
		else
			type_slots = k->nelems;
	}
	s->meta_bytes = (words + ptr_words + type_slots) * sizeof(uint64_t);
	uint64_t *block = meta_alloc(s->meta_bytes);
	s->meta = block;
	s->alloc_bits = block;
	s->mark_bits = block + s->nbits_words;
	s->ptr_bits = ptr_words ? (_Atomic uint64_t *)(block + words) : NULL;
	s->types = type_slots ? (const struct gc_type **)(block + words) : NULL;
	s->large_type = NULL;
	s->large_count = 0;
	gc_span_refill_cache(s);
}

void gc_span_init_large(struct gc_span *s, const struct gc_type *t, size_t count, size_t size)
{
	s->spanclass = (uint8_t)gc_spanclass(0, t == NULL);
	s->noscan = t == NULL;
	s->large = 1;
	s->elemsize = size;
	s->nelems = 1;
	s->divmul = 0;
	s->freeindex = 1;   /* the one slot is allocated */
	s->nalloc = 1;
	s->nbits_words = 1;
	s->meta_bytes = 2 * sizeof(uint64_t);
	uint64_t *block = meta_alloc(s->meta_bytes);
	s->meta = block;
	s->alloc_bits = block;
	s->mark_bits = block + 1;
	s->ptr_bits = NULL;
	s->types = NULL;
	s->large_type = t;
	s->large_count = count;
	s->alloc_cache = 0;
}

void gc_span_forget_type(struct gc_span *s, uint32_t idx)
{
	if (s->noscan)
		return;
	if (s->large)
		__atomic_store_n(&s->large_type, NULL, __ATOMIC_RELAXED);
	else
		gc_span_record_type(s, idx, NULL, 0);
}

void gc_span_check(const struct gc_span *s)
{
	if (atomic_load(&s->state) != GC_SPAN_INUSE)
		gc_fatal("span %p: state %s, expected inuse", (void *)s->base,
			 gc_span_state_names[atomic_load(&s->state)]);
	if (s->freeindex > s->nelems)
		gc_fatal("span %p: freeindex %u > nelems %u", (void *)s->base, s->freeindex, s->nelems);
	if (!s->large && (size_t)s->nelems * s->elemsize > s->npages * GC_PAGE_SIZE)
		gc_fatal("span %p: %u slots of %zu B overflow %zu pages", (void *)s->base, s->nelems,
			 s->elemsize, s->npages);
	/* Bits past nelems are never set. */
	uint32_t tail = s->nelems & 63;
	if (tail) {
		uint64_t beyond = ~(((uint64_t)1 << tail) - 1);
		if (s->alloc_bits[s->nbits_words - 1] & beyond)
			gc_fatal("span %p: alloc bits set past nelems", (void *)s->base);
		if (__atomic_load_n(&s->mark_bits[s->nbits_words - 1], __ATOMIC_RELAXED) & beyond)
			gc_fatal("span %p: mark bits set past nelems", (void *)s->base);
	}
	uint32_t counted = 0;
	for (uint32_t i = 0; i < s->nelems; i++)
		counted += gc_span_allocated(s, i);
	if (!s->large && counted != s->nalloc)
		gc_fatal("span %p: nalloc %u but %u slots allocated", (void *)s->base, s->nalloc, counted);
}
