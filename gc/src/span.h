/*
 * span.h — spans, size classes, arenas and the lookup from an address to
 * its object: the heap's metadata, read by every part of gc/ and, through
 * layer.h, by the transaction layer. Not installed.
 *
 * Glossary (docs/glossary.md): page (8 KiB heap unit), span (pages of one
 * size class, or one large object), size class, slot, alloc bits, mark
 * bits, freeindex.
 *
 * Who writes what: the heap (span.c, pages.c, central.c, alloc.c, sweep.c)
 * writes every field but `layer`; the transaction layer reads the fields
 * and changes a span only through the operations of layer.h, and writes
 * its own `layer` block.
 */
#ifndef GC_SPAN_H
#define GC_SPAN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "toc/gc.h"

#ifndef TOC_CHECK_LEVEL
#define TOC_CHECK_LEVEL 0
#endif

_Noreturn void gc_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define GC_CHECK(cond)                                                         \
	do {                                                                   \
		if (TOC_CHECK_LEVEL >= 1 && !(cond))                           \
			gc_fatal("check failed: %s (%s:%d)", #cond, __FILE__, __LINE__); \
	} while (0)

#define GC_NO_ASAN __attribute__((no_sanitize("address")))

/* --- geometry ------------------------------------------------------------------ */

#define GC_PAGE_SHIFT 13
#define GC_PAGE_SIZE ((size_t)1 << GC_PAGE_SHIFT)           /* 8 KiB */
#define GC_ARENA_SHIFT 26
#define GC_ARENA_SIZE ((size_t)1 << GC_ARENA_SHIFT)         /* 64 MiB */
#define GC_ARENA_PAGES (GC_ARENA_SIZE / GC_PAGE_SIZE)       /* 8192 */
#define GC_ADDR_BITS 47
#define GC_ARENA_MAP_LEN ((size_t)1 << (GC_ADDR_BITS - GC_ARENA_SHIFT))
#define GC_MAX_SMALL 32768                                  /* larger is "large" */
#define GC_SMALL_MASK_MAX 512   /* scan objects up to this size keep pointer bits per word */
#define GC_MAX_CLASSES 80
#define GC_WORD 8

/* --- size classes (sizeclass.c) -------------------------------------------------- */

/* Class 0 is "large". For the others: objects of `size` bytes in spans of
 * `npages` pages; at most 12.5% of a span is lost to the tail. */
struct gc_sizeclass {
	uint32_t size;     /* object (slot) size in bytes */
	uint32_t npages;   /* pages per span */
	uint32_t nelems;   /* slots per span */
	uint32_t divmul;   /* (offset * divmul) >> 32 == offset / size within a span */
};
extern struct gc_sizeclass gc_classes[GC_MAX_CLASSES];
extern int gc_nclasses;                       /* including class 0 */
void gc_sizeclass_init(void);
/* The class for a small request (1..GC_MAX_SMALL bytes). */
extern uint8_t gc_size_to_class8[GC_MAX_SMALL / 8 + 1];
static inline int gc_size_class(size_t size)
{
	return gc_size_to_class8[(size + 7) >> 3];
}

/* Span class: size class * 2 + noscan. */
#define GC_NUM_SPANCLASSES (GC_MAX_CLASSES * 2)
static inline int gc_spanclass(int sizeclass, bool noscan)
{
	return sizeclass * 2 + (noscan ? 1 : 0);
}

/* --- spans (span.c) ------------------------------------------------------------------ */

/*
 * Span states and legal transitions (gc_span_set_state asserts them):
 *
 *   FREE ──alloc──► INUSE ──sweep frees it──► FREE
 *
 * A span struct is never given back to malloc: lookups racing with a free
 * read a FREE state, never freed memory.
 *
 * sweepgen, relative to the heap's sweepgen sg (Go's scheme; sg += 2 at
 * each mark termination):
 *   sg - 2   needs sweeping          sg - 1  being swept
 *   sg       swept, ready to use     sg + 1  in a cache since before the flip: needs sweeping
 *   sg + 3   swept, then cached
 */
enum gc_span_state {
	GC_SPAN_FREE = 0,
	GC_SPAN_INUSE = 1,
};
extern const char *const gc_span_state_names[];

struct gc_special; /* finalizer records, finalizer.c */

/* A span's fields that belong to the transaction layer (toc/): gc writes
 * them only to clear them when the span is set up or released, and reads
 * `window` and `win_start` only to tell which slots are allocated
 * (gc_span_allocated). The layer writes them only while its window owns
 * the span. */
struct gc_span_layer {
	void *window;                     /* the region whose window owns the span, or NULL */
	uint32_t win_start;               /* the window's first slot in the span */
	struct gc_span *cls_next;         /* the next span of the same class in the region */
	struct gc_span *all_next;         /* the next span carved from the region */
	bool dead;                        /* a local large object rewound while the collector marked */
};

struct gc_span {
	/* First line: read by every lookup and marker, written only when the
	 * span changes hands (state) or is set up. */
	uintptr_t base;                   /* first byte */
	size_t npages;                    /* length in pages */
	_Atomic uint8_t state;            /* enum gc_span_state; written under the heap lock, read racily by lookups */
	uint8_t spanclass;                /* size class * 2 + noscan; 0/1 for large */
	uint8_t noscan;                   /* no pointers in any slot */
	uint8_t large;                    /* one large object */
	uint32_t nelems;                  /* slots */
	size_t elemsize;                  /* slot size; for large: the object's bytes */
	uint32_t divmul;                  /* slot index from offset, see gc_sizeclass */
	_Atomic uint32_t sweepgen;        /* see above */
	uint64_t *alloc_bits;             /* survivors of the last sweep */
	uint64_t *mark_bits;              /* written by markers (atomic or) */
	_Atomic uint64_t *ptr_bits;       /* small scan spans: 1 bit per word, pointer or not */
	/* Second line: the allocating cache's cursor, written on every
	 * allocation; kept off the first line so markers reading it do not
	 * pull the line away from the allocating core. */
	_Alignas(64) uint32_t freeindex;  /* next candidate slot; owner cache only */
	uint32_t nalloc;                  /* slots allocated (after last sweep + since) */
	uint64_t alloc_cache;             /* inverted alloc bits from freeindex (1 = free); owner only */
	uint8_t needzero;                 /* free slots may hold garbage */
	uint8_t list;                     /* which central list holds it (GC_LIST_*) */
	bool on_special_list;             /* heap.special_lock */
	struct gc_span *next;             /* list link: central list or span pool; its lock */
	uint64_t *check_bits;             /* the verifier's marks, allocated on demand */
	const struct gc_type **types;     /* scan spans with slots > 512 B: type of each slot */
	const struct gc_type *large_type; /* large scan object: element type */
	size_t large_count;               /* its element count */
	struct gc_span_layer layer;       /* the transaction layer's own fields (layer.h) */
	/* Cold. */
	int specials_lock;                /* spin lock for specials */
	struct gc_special *specials;      /* finalizers, sorted by offset; specials_lock */
	struct gc_span *special_next;     /* in the heap's list of spans with specials; heap.special_lock */
	size_t nbits_words;               /* 64-bit words in each bitmap */
	size_t meta_bytes;                /* bytes of the metadata block */
	void *meta;                       /* the block (alloc and mark bits swap inside it) */
};
_Static_assert(offsetof(struct gc_span, freeindex) == 64, "the span's first line holds the read-mostly fields");

/* Allocates and frees span structs (a pool; returned to malloc by gc_pages_reset). */
struct gc_span *gc_span_struct_alloc(void);
void gc_span_struct_free(struct gc_span *s);
/* Sets up s for class/large use over [base, base + npages pages). */
void gc_span_init_small(struct gc_span *s, int spanclass);
void gc_span_init_large(struct gc_span *s, const struct gc_type *t, size_t count, size_t size);
void gc_span_set_state(struct gc_span *s, enum gc_span_state to);
/* Where slot idx's pointer words are, for the scanner: t's (count
 * elements), or none when t is NULL. Small scan spans only. */
static inline void gc_span_record_type(struct gc_span *s, uint32_t idx, const struct gc_type *t, size_t count)
{
	if (s->ptr_bits) {
		size_t ew = s->elemsize / GC_WORD;
		uint64_t m = 0;
		if (t) {
			size_t tw = t->size / GC_WORD;
			m = t->small_mask;
			for (size_t i = 1; i < count && i * tw < ew; i++)
				m |= t->small_mask << (i * tw);
		}
		if (ew < 64)
			m &= ((uint64_t)1 << ew) - 1;
		size_t bit = (size_t)idx * ew;
		size_t w = bit >> 6, off = bit & 63;
		/* Clear the slot's old bits and write the new ones, over at most two words. */
		uint64_t clear = ew >= 64 ? ~0ull : (((uint64_t)1 << ew) - 1);
		uint64_t lo = atomic_load_explicit(&s->ptr_bits[w], memory_order_relaxed);
		lo = (lo & ~(clear << off)) | (m << off);
		atomic_store_explicit(&s->ptr_bits[w], lo, memory_order_relaxed);
		if (off + ew > 64) {
			uint64_t hi = atomic_load_explicit(&s->ptr_bits[w + 1], memory_order_relaxed);
			hi = (hi & ~(clear >> (64 - off))) | (m >> (64 - off));
			atomic_store_explicit(&s->ptr_bits[w + 1], hi, memory_order_relaxed);
		}
	} else if (s->types) {
		s->types[idx] = t;
	}
}
/* Slot idx holds garbage that still counts as allocated (a dead object
 * left inside a window, or a freed slot a released span takes back):
 * it scans as holding no pointers, so a stale stack word that reaches
 * it never leads a scan into its poisoned or stale words. The next
 * allocation of the slot records its type again. */
void gc_span_forget_type(struct gc_span *s, uint32_t idx);
void gc_span_free_meta(struct gc_span *s);
/* Reloads alloc_cache from alloc_bits at freeindex (64-aligned window). */
void gc_span_refill_cache(struct gc_span *s);
/* The next free slot at or after freeindex, or nelems; advances freeindex. */
static inline uint32_t gc_span_next_free(struct gc_span *s)
{
	for (;;) {
		if (s->freeindex >= s->nelems)
			return s->nelems;
		if (s->alloc_cache) {
			uint32_t bit = (uint32_t)__builtin_ctzll(s->alloc_cache);
			uint32_t idx = (s->freeindex & ~63u) + bit;
			if (idx >= s->nelems) {
				s->freeindex = s->nelems;
				return s->nelems;
			}
			s->alloc_cache &= s->alloc_cache - 1;
			s->freeindex = idx + 1;
			if ((s->freeindex & 63) == 0 && s->freeindex < s->nelems)
				gc_span_refill_cache(s);
			return idx;
		}
		s->freeindex = (s->freeindex + 64) & ~63u;
		if (s->freeindex >= s->nelems) {
			s->freeindex = s->nelems;
			return s->nelems;
		}
		gc_span_refill_cache(s);
	}
}
static inline uint32_t gc_span_index(const struct gc_span *s, uintptr_t p)
{
	return (uint32_t)(((uint64_t)(p - s->base) * s->divmul) >> 32);
}
static inline bool gc_bit(const uint64_t *bits, uint32_t i)
{
	return (__atomic_load_n(&bits[i >> 6], __ATOMIC_RELAXED) >> (i & 63)) & 1;
}
/* Is slot i allocated (survived the last sweep, or allocated since)?
 * Below freeindex a slot was allocated since the last sweep, except in a
 * span a window owns: a sweep while the window lived may have freed slots
 * below the window's first slot (layer.win_start), and they stay free, not
 * reusable, until the window ends (gc_layer_span_sweep). gc reads these two
 * fields of the layer's block for this alone. */
static inline bool gc_span_allocated(const struct gc_span *s, uint32_t i)
{
	if (gc_bit(s->alloc_bits, i))
		return true;
	if (i >= __atomic_load_n(&s->freeindex, __ATOMIC_RELAXED))
		return false;
	return !__atomic_load_n(&s->layer.window, __ATOMIC_RELAXED) ||
	       i >= __atomic_load_n(&s->layer.win_start, __ATOMIC_RELAXED);
}
/* Count of set bits in the first n bits. */
uint32_t gc_bits_count(const uint64_t *bits, uint32_t n);
/* Checks s's invariants (counts, bitmap tails, freeindex bound); fatal on failure. */
void gc_span_check(const struct gc_span *s);

/* --- arenas and lookup (arena.c) -------------------------------------------------------- */

struct gc_arena {
	uintptr_t base;                            /* GC_ARENA_SIZE aligned */
	int node;                                  /* NUMA node, -1 when not placed */
	_Atomic(struct gc_span *) spans[GC_ARENA_PAGES]; /* page → span, for every page of an in-use span */
	uint64_t free_pages[GC_ARENA_PAGES / 64];  /* 1 = free; heap lock */
	uint64_t released[GC_ARENA_PAGES / 64];    /* 1 = free and returned to the OS (reads as zero); heap lock */
	uint32_t nfree;                            /* free pages; heap lock */
	struct gc_arena *next, *prev;              /* all arenas, newest first; heap lock */
};
extern _Atomic(struct gc_arena *) *gc_arena_map; /* GC_ARENA_MAP_LEN entries, MAP_NORESERVE */

static inline struct gc_span *gc_span_of(uintptr_t p)
{
	if (p >> GC_ADDR_BITS)
		return NULL;
	struct gc_arena *a = atomic_load_explicit(&gc_arena_map[p >> GC_ARENA_SHIFT], memory_order_acquire);
	if (!a)
		return NULL;
	return atomic_load_explicit(&a->spans[(p - a->base) >> GC_PAGE_SHIFT], memory_order_acquire);
}
/* The object containing p (interior pointers count), or 0. Sets *sp, *idx. */
static inline uintptr_t gc_find_object(uintptr_t p, struct gc_span **sp, uint32_t *idx)
{
	struct gc_span *s = gc_span_of(p);
	if (!s || atomic_load_explicit(&s->state, memory_order_acquire) != GC_SPAN_INUSE)
		return 0;
	if (p < s->base || p >= s->base + (uintptr_t)s->nelems * s->elemsize)
		return 0;
	uint32_t i = gc_span_index(s, p);
	*sp = s;
	*idx = i;
	return s->base + (uintptr_t)i * s->elemsize;
}

int gc_arena_init(int numa);
void gc_arena_fini(void);
/* Reserves k fresh contiguous arenas (heap lock held); returns the lowest.
 * NULL when the reservation fails or would pass TOC_MAXHEAP. */
struct gc_arena *gc_arena_grow_locked(size_t k);
struct gc_arena *gc_arena_of(uintptr_t p);
void gc_arena_set_spans(struct gc_span *s);  /* map every page of s to s */
void gc_arena_clear_spans(struct gc_span *s);

/* A spin lock (heap, central lists, registries). */
void gc_lock(int *l);
static inline void gc_unlock(int *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);   /* pairs with gc_lock's acquiring exchange */
}

#endif /* GC_SPAN_H */
