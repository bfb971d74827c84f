/*
 * internal.h — the heap's and the collector's private structures. Not
 * installed; tests include it (the module's test-only header).
 *
 * Glossary (DESIGN.md §3): page (8 KiB heap unit), span (pages of one size
 * class, or one large object), size class, slot, alloc bits, mark bits,
 * freeindex, cycle.
 *
 * Layering inside the module: heap files (sizeclass.c, arena.c, pages.c,
 * span.c, central.c, alloc.c) own memory and metadata and never decide when
 * to collect; collector files (mark.c, cycle.c, sweep.c, pacer.c,
 * finalizer.c, verify.c, stats.c) decide and never call mmap.
 */
#ifndef GC_INTERNAL_H
#define GC_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <urcu/lfstack.h>

#include "gc/gc.h"
#include "sched/chan.h"
#include "sched/sched.h"

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
	/* The transaction layer (toc/): the region whose window owns this span
	 * (NULL when none), the first slot of the window, and the next span of
	 * the same class in that region. */
	void *window;
	uint32_t win_start;
	struct gc_span *win_next;
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
/* Is slot i allocated (survived the last sweep, or allocated since)? */
static inline bool gc_span_allocated(const struct gc_span *s, uint32_t i)
{
	return gc_bit(s->alloc_bits, i) || i < __atomic_load_n(&s->freeindex, __ATOMIC_RELAXED);
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

/* --- the page heap (pages.c) --------------------------------------------------------------- */

struct gc_heap {
	int lock;                          /* spin lock: pages, arenas, span pool */
	struct gc_arena *arenas;           /* lock; allocation walks from here */
	struct gc_arena *arenas_tail;      /* lock; the scavenger walks back from here */
	size_t narenas;                    /* lock */
	size_t pages_inuse;                /* lock */
	size_t pages_free;                 /* lock: free, committed or released */
	size_t pages_released;             /* lock */
	uint64_t maxheap;                  /* hard limit on arena bytes */
	uint64_t memlimit;                 /* soft limit: scavenge before committing past it; set by the collector */
	_Atomic uint32_t sweepgen;         /* += 2 at mark termination */
	int numa;                          /* place arenas per node */
	int nnodes;                        /* nodes in use (1 without NUMA) */
	int special_lock;                  /* spans with specials */
	struct gc_span *special_spans;     /* special_lock */
	_Atomic uint64_t metadata_bytes;   /* bitmaps and tables malloc'd for spans */
};
extern struct gc_heap gc_heap;

void gc_lock(int *l);
static inline void gc_unlock(int *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

/* Allocates npages contiguous pages and a span over them; state INUSE.
 * *zeroed tells whether every page reads as zero. NULL when out of memory. */
struct gc_span *gc_pages_alloc(size_t npages, bool *zeroed);
/* Frees s's pages (coalescing is implicit: free pages are bits). */
void gc_pages_free(struct gc_span *s);
/* The transaction layer's regions: a run of pages with no span over it,
 * spans made over parts of it, and the run (or what is left) given back. */
uintptr_t gc_pages_alloc_run(size_t npages, bool *zeroed);
struct gc_span *gc_pages_span_at(uintptr_t base, size_t npages);
/* Undoes gc_pages_span_at: the pages stay taken (the region keeps them). */
void gc_pages_span_drop(struct gc_span *s);
void gc_pages_free_run(uintptr_t base, size_t npages);
/* Returns free pages to the OS until at most `keep` free committed bytes
 * remain. Returns bytes released. */
size_t gc_pages_scavenge(size_t keep);

/* --- central lists and per-worker caches (central.c) ------------------------------------- */

enum gc_list {
	GC_LIST_NONE = 0,
	GC_LIST_PARTIAL = 1,
	GC_LIST_FULL = 2,
};

/* Go's mcentral: spans of one span class, split by swept/unswept (index
 * (sweepgen / 2) & 1 is the swept set) and partial/full. */
struct gc_central {
	int lock;
	struct gc_span *partial[2];
	struct gc_span *full[2];
	int spanclass;
} __attribute__((aligned(64)));
extern struct gc_central gc_centrals[GC_NUM_SPANCLASSES];

/* Go's mcache: the span each span class allocates from on one worker. */
struct gc_cache {
	struct gc_span *alloc[GC_NUM_SPANCLASSES]; /* never NULL: the empty span stands in */
	uint64_t assist_debt;                      /* bytes allocated during mark not yet paid for */
	uint64_t black_bytes;                      /* bytes allocated black this cycle */
	uint64_t alloc_bytes;                      /* counters merged on read */
	uint64_t alloc_objects;
	struct gc_marker *barrier;                 /* gray buffer of the barrier and stack visits here */
	struct gc_span **local;                    /* the running transaction's spans per class (toc), or NULL */
} __attribute__((aligned(64)));
extern struct gc_cache *gc_caches;        /* one per worker */
extern struct gc_span gc_empty_span;      /* nelems 0: every cache starts with it */

void gc_central_init(void);
/* A span with a free slot for spanclass, swept; or NULL when out of memory. */
struct gc_span *gc_central_get(int spanclass);
/* Gives back a span from a cache (sweeping it if its cache held it across a flip). */
void gc_central_put(struct gc_span *s);
/* Puts a swept span on its list (after sweeping, growing). */
void gc_central_insert_swept(struct gc_span *s);
/* Releases every span of c (world stopped, or c's worker is the caller). */
void gc_cache_release_all(struct gc_cache *c);
/* Takes an unswept span of any class for the background sweeper, or NULL. */
struct gc_span *gc_central_take_unswept(int *cursor);
/* With the world stopped at sweep termination: fatal if an unswept list is not empty. */
void gc_central_check_swept(void);
void gc_caches_init(int procs);
void gc_caches_fini(void);
int gc_ncaches(void);

/* --- the transaction layer's entry points (toc/ provides them) -------------------------------
 *
 * The heap and collector call the layer through this table, so they never
 * include a toc header (DESIGN.md section 2). It is registered by toc/ at
 * program start and used when TOC_MODE=toc. Small classes up to
 * GC_LOCAL_MAX_SIZE are allocated from the running transaction's spans
 * (gc_cache.local) while it has them.
 */
#define GC_LOCAL_MAX_SIZE 2048
struct gc_layer {
	const char *name;
	int (*init)(const struct gc_config *cfg);   /* before sched_run; -1 with a message */
	void (*fini)(void);                          /* after sched_run returned */
	/* c->local is NULL (or its span for spc is full): open or extend the
	 * running goroutine's window. Returns a span with a free slot for spc,
	 * or NULL: allocate from the shared cache. */
	struct gc_span *(*refill)(struct gc_cache *c, int spc);
	/* npages (at most gc_local_large_pages) for a local large object: a
	 * span over pages of the running goroutine's window, owned by it and
	 * counted as cached, or NULL (allocate it shared). *zeroed: the pages
	 * read as zero. */
	struct gc_span *(*alloc_large)(size_t npages, bool *zeroed);
	/* The barrier's slow path with the layer on: publish val if obj is not
	 * an unpublished object of the running window. */
	void (*store)(void *obj, void *val);
	/* Memory handed to another goroutine by the collector's API (finalizers). */
	void (*publish)(const void *p);
	/* The sweeper: releases the spans of windows a mark termination made
	 * stale to the unswept lists. Returns whether it released any. */
	bool (*claim)(void);
	/* With the world stopped after mark: checks the layer's invariant. */
	void (*verify)(void);
	/* Appends the layer's figures to a gctrace line. */
	void (*trace)(char *buf, size_t len);
	struct sched_hooks hooks;                    /* chained after the collector's */
};
void gc_register_layer(const struct gc_layer *layer);
extern const struct gc_layer *gc_layer;       /* non-NULL while TOC_MODE=toc */
extern size_t gc_local_large_pages;           /* the layer's bound for local large objects */

/* --- allocation (alloc.c) ----------------------------------------------------------------- */

void *gc_alloc_small_slow(struct gc_cache *c, int spc, const struct gc_type *t, size_t count, size_t size);
void *gc_alloc_large(const struct gc_type *t, size_t count, size_t size);
_Noreturn void gc_out_of_memory(size_t request);

/* --- marking (mark.c) ------------------------------------------------------------------------ */

#define GC_WORK_CAP 509
/* A buffer of gray objects (object start addresses). Buffers move between
 * markers through liburcu lock-free stacks: full buffers, empty buffers. */
struct gc_work {
	struct cds_lfs_node node;      /* link in the full or empty stack */
	struct gc_work *all_next;      /* every buffer ever made, for gc_mark_fini */
	uint32_t n;                    /* entries in obj */
	uint32_t pad;
	uintptr_t obj[GC_WORK_CAP];
};

/* A marker's private state: two buffers (Go's gcWork). */
struct gc_marker {
	struct gc_work *cur;
	struct gc_work *spare;
	uint64_t scanned;     /* heap bytes scanned */
	uint64_t marked;      /* objects marked */
	uint64_t marked_bytes;
	bool checkmark;       /* the verifier's pass: check_bits instead of mark_bits */
};

void gc_mark_init(void);
void gc_mark_fini(void);
void gc_marker_init(struct gc_marker *m, bool checkmark);
/* Flushes the marker's buffers to the global lists. */
void gc_marker_flush(struct gc_marker *m);
/* Marks the object containing p (interior ok) if it is allocated; grays it. */
void gc_shade(struct gc_marker *m, uintptr_t p);
/* Marks an object start known to be allocated (precise pointers). */
void gc_shade_obj(struct gc_marker *m, struct gc_span *s, uint32_t idx, uintptr_t obj);
/* Scans [lo, hi) word by word, shading every heap pointer (conservative). */
void gc_scan_conservative(struct gc_marker *m, const void *lo, const void *hi);
/* Scans obj's pointer fields. */
void gc_scan_object(struct gc_marker *m, struct gc_span *s, uint32_t idx, uintptr_t obj);
/* Drains gray objects until none is left or budget scan bytes were scanned
 * (budget 0: no limit). Returns bytes scanned. Polls sched every so often
 * when poll is set (the caller holds no per-worker state then). */
uint64_t gc_drain(struct gc_marker *m, uint64_t budget, bool poll);
bool gc_marker_empty(const struct gc_marker *m);
/* Is there gray work in the global lists? */
bool gc_work_available(void);
/* Pushes obj on the current worker's barrier buffer (the barrier, root visits). */
void gc_shade_barrier(uintptr_t p);
/* Moves every cache's barrier buffer to the global list (world stopped).
 * Returns whether any held work. */
bool gc_flush_barrier_buffers(void);
/* Atomically sets bit i; returns whether it was already set. */
static inline bool gc_bit_test_and_set(uint64_t *bits, uint32_t i)
{
	uint64_t m = (uint64_t)1 << (i & 63);
	if (__atomic_load_n(&bits[i >> 6], __ATOMIC_RELAXED) & m)
		return true;
	return __atomic_fetch_or(&bits[i >> 6], m, __ATOMIC_RELAXED) & m;
}

/* --- the cycle (cycle.c) ------------------------------------------------------------------------ */

enum gc_phase {
	GC_PHASE_OFF = 0,     /* not marking; sweeping may run */
	GC_PHASE_MARK = 1,    /* barrier on, allocate black */
	GC_PHASE_MARKTERM = 2,
};
extern const char *const gc_phase_names[];

#define GC_GOAL_HISTORY 8
#define GC_GOAL_UTILIZATION 0.25   /* the background workers' CPU share the trigger plans for */
#define GC_HARD_GOAL_FACTOR 1.1    /* how far a growing heap may push the goal within a cycle */
#define GC_CONS_MARK_HISTORY 4     /* cons/mark samples the trigger takes the maximum of */
struct gc_state {
	struct gc_config cfg;
	_Atomic int phase;                   /* enum gc_phase */
	_Atomic int alloc_black;             /* mark new objects */
	_Atomic uint64_t cycle;              /* cycles started */
	_Atomic uint64_t heap_live;          /* bytes in spans handed to caches + large, since last mark */
	_Atomic uint64_t heap_marked;        /* live after the last cycle */
	_Atomic uint64_t heap_scan_last;     /* heap scan work of the last cycle */
	_Atomic uint64_t triggered;          /* heap_live when this cycle's mark began */
	_Atomic uint64_t eff_goal;           /* the goal assists aim at now (>= goal; see pacer.c) */
	double cons_mark_hist[GC_CONS_MARK_HISTORY]; /* the controller's; last cycles' cons/mark */
	double cons_mark;                    /* their maximum */
	uint64_t runway;                     /* bytes planned between trigger and goal */
	_Atomic uint64_t trigger;            /* heap_live that starts a cycle */
	_Atomic uint64_t goal;               /* heap goal of this cycle */
	_Atomic int64_t bg_credit;           /* scan bytes done by background workers, for assists */
	_Atomic uint64_t mark_scan_work;     /* scan bytes this cycle */
	_Atomic uint64_t marked_bytes;       /* bytes marked by markers this cycle */
	_Atomic double assist_ratio;         /* scan bytes owed per allocated byte */
	_Atomic int nbusy;                   /* markers draining */
	_Atomic int roots_done;              /* roots scanned this cycle */
	_Atomic int want_cycle;              /* a trigger fired */
	_Atomic uint64_t cycles_done;        /* completed cycles (wakes gc_collect) */
	_Atomic uint64_t stack_bytes;        /* scanned in the last cycle */
	_Atomic uint64_t frag_bytes;         /* span bytes beyond marked after the last full sweep */
	uint64_t goal_history[GC_GOAL_HISTORY]; /* the scavenger's last goals; its goroutine only */
	unsigned ngoals;
	/* limiter (leaky bucket, ns) */
	_Atomic int64_t limiter_fill;
	_Atomic int limiter_on;
	uint64_t limiter_last_total_ns;      /* the controller's: process CPU (+ held workers) at the last update */
	uint64_t limiter_last_gc_ns;         /* and GC CPU */
};
extern struct gc_state gc_st;

void gc_pacer_recompute(void);
void gc_stats_reset(void);
/* Frees the span structs of the last heap (gc_init and gc_fini). */
void gc_pages_reset(void);
/* Called by allocation when heap_live crosses the trigger. */
void gc_trigger_check(void);
/* Allocation during mark: pay scan work for c's assist debt. */
void gc_assist(struct gc_cache *c);

/* --- sweeping (sweep.c) ----------------------------------------------------------------------- */

/* Sweeps s (its sweepgen is sg-2 and the caller won the CAS to sg-1, or the
 * caller owns it from a cache). Returns true when the span was freed. */
bool gc_sweep_span(struct gc_span *s, bool from_cache);
/* Sweeps one unswept span; returns false when none is left. */
bool gc_sweep_one(void);
void gc_sweep_all(void);
/* Before the heap takes fresh pages: sweeps unswept spans until npages
 * were freed or none is left (Go's reclaim). Returns pages freed. may_poll:
 * the caller holds nothing a safepoint could invalidate (not the
 * small-object path, which holds its worker's cache). */
size_t gc_sweep_reclaim(size_t npages, bool may_poll);
void gc_sweeper_main(void *arg);
void gc_sweep_reset(void);
void gc_scavenge_after_sweep(void);

/* --- pacer (pacer.c) ------------------------------------------------------------------------- */

struct gc_pacer_in {
	uint64_t marked;        /* live heap after the cycle */
	uint64_t stacks;        /* stack bytes scanned */
	uint64_t globals;       /* root bytes */
	int gogc;               /* percent or GC_GOGC_OFF */
	uint64_t memlimit;      /* 0: none */
	uint64_t overhead;      /* non-heap memory counted against the limit */
};
/* The heap goal (UINT64_MAX when GOGC=off and no limit). Sets *limited when
 * the memory limit lowered it. */
uint64_t gc_pacer_goal(const struct gc_pacer_in *in, bool *limited);
/* A finished mark's cons/mark ratio: bytes allocated per mutator CPU
 * second over bytes scanned per collector CPU second, where utilization is
 * the collector's share of the CPU during the mark. */
double gc_pacer_cons_mark(uint64_t alloc_during_mark, uint64_t scan_work, double utilization);
/* Bytes the mutator allocates while the collector does scan_expected at
 * GC_GOAL_UTILIZATION of the CPU. */
uint64_t gc_pacer_runway(double cons_mark, uint64_t scan_expected);
/* The trigger: goal - runway, kept within [70%, 95%] of the way from
 * marked to goal (the upper bound raised to goal - 4 MiB for large heaps). */
uint64_t gc_pacer_trigger(uint64_t marked, uint64_t goal, uint64_t runway);
struct gc_assist_in {
	uint64_t goal;           /* this cycle's goal */
	uint64_t triggered;      /* heap when the mark began */
	uint64_t live;           /* heap now */
	uint64_t scan_expected;  /* last cycle's heap scan + stacks + globals */
	uint64_t scan_worst;     /* every live byte scannable + stacks + globals */
	uint64_t scan_done;      /* scan work done so far */
};
/* Scan bytes owed per allocated byte; *eff_goal: the goal the ratio aims
 * at (extended up to GC_HARD_GOAL_FACTOR x goal when the work done passed
 * the expected work). */
double gc_pacer_assist_ratio(const struct gc_assist_in *in, uint64_t *eff_goal);
/* Leaky-bucket GC CPU limiter: feeds gc and total CPU ns; returns whether assists are capped. */
bool gc_limiter_update(int64_t gc_ns, int64_t total_ns, int procs);

/* --- finalizers (finalizer.c) ------------------------------------------------------------------ */

struct gc_special {
	struct gc_special *next;
	uint32_t offset;                     /* object offset in its span */
	void (*fn)(void *obj, void *arg);
	void *arg;
};
/* Marks everything reachable from objects with finalizers, but not the objects. */
void gc_finalizer_mark_roots(struct gc_marker *m);
/* Shades objects queued for finalization (they stay alive until run). */
void gc_finalizer_mark_queue(struct gc_marker *m);
/* During sweep of s: queues finalizers of unmarked objects, marking them. */
void gc_finalizer_sweep(struct gc_span *s);
void gc_finalizer_start(void);
void gc_finalizer_forget_span(struct gc_span *s);
void gc_finalizer_wake(void);
void gc_finalizer_fini(void);

/* --- roots (roots.c) ------------------------------------------------------------------------------ */

void gc_roots_scan(struct gc_marker *m);
/* Every root but the stacks: registered roots, finalizer roots and queue. */
void gc_roots_scan_all(struct gc_marker *m);
uint64_t gc_roots_bytes(void);
void gc_roots_fini(void);

/* --- verifier (verify.c) ---------------------------------------------------------------------------- */

/* With the world stopped after mark: re-marks from the roots into check bits
 * and aborts with a report if a reachable object is not marked. */
void gc_verify_heap(void);
/* The verifier follows a precise pointer p found in object `from` (0: a
 * root slot): aborts if it leads to a free slot or an unmarked object. */
void gc_verify_field(struct gc_marker *m, uintptr_t p, uintptr_t from);
/* The same for a word that may not be a pointer (stacks, channel buffers). */
void gc_verify_word(struct gc_marker *m, uintptr_t p);
#define GC_POISON_WORD 0xdeadbeefdeadbeefull
void gc_poison_slot(struct gc_span *s, uint32_t idx);

/* --- statistics (stats.c) --------------------------------------------------------------------------- */

struct gc_counters {
#define GC_STAT_FIELD(name, doc) _Atomic uint64_t name;
	GC_STATS(GC_STAT_FIELD)
#undef GC_STAT_FIELD
};
extern struct gc_counters gc_counters;
void gc_stat_add(_Atomic uint64_t *c, uint64_t v);
void gc_stat_max(_Atomic uint64_t *c, uint64_t v);   /* raises *c to v */
void gc_record_pause(uint64_t ns);
/* Time-to-safepoint of a stop: request until every worker stopped. */
void gc_record_ttsp(uint64_t ns);
/* The collector's CPU accounts (sched_account_swap): the scheduler charges
 * a goroutine's CPU to the account it has open, and stops the clock while it
 * is switched out, so a figure never spans a switch or a migration. */
enum gc_account {
	GC_ACCT_ASSIST = 1,     /* mark assists, and a mutator scanning its own stack */
	GC_ACCT_MARK = 2,       /* background mark workers, root scans of the controller */
	GC_ACCT_SWEEP = 3,      /* lazy sweeping by allocators, the background sweeper */
	GC_ACCT_PAUSE = 4,      /* the stopper's work while the world is stopped */
};
/* Records one cycle in the ring gc_read_cycles reads. */
void gc_record_cycle(const struct gc_cycle_record *r);

#endif /* GC_INTERNAL_H */
