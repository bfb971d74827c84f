/*
 * window.h — the transaction layer's private structures: regions, the
 * windows they hold, the statistics, and what the layer's files call in
 * each other. Not installed. The layer sees gc only through gc's layer.h.
 *
 * A region is a run of pages reserved from the page heap for one open
 * window; the spans the window allocates from are carved out of it, so
 * "is p in my window?" is one subtraction and one compare (the barrier's
 * fast path in gc.h). The region keeps one published bit per 8-byte
 * granule beside the spans' alloc bits: the alloc bit is what rewind and
 * the collector read, the region bit is what the inline barrier reads.
 *
 * An object is an unpublished window object when its span belongs to the
 * region, its slot lies in [layer.win_start, freeindex) and its alloc bit
 * is 0. Rewind frees the unpublished slots, moves freeindex back to the
 * span's first free slot, and lets allocation skip the allocated slots
 * after it (docs/toc-algorithm.md).
 *
 * Region states (atomic; the CAS out of ACTIVE or IDLE decides who releases
 * its spans), and their legal transitions (region_cas checks them):
 *
 *   ACTIVE ──window closed, rewound──► IDLE (in its worker's pool, or,
 *            mostly published, in the full list until a cycle)
 *   IDLE ──taken for a new window──► ACTIVE
 *   ACTIVE/IDLE ──pool full, still mostly published after its cycles in
 *                 the full list, or claimed after a flip (owner parked
 *                 through the whole cycle, or its window full and open
 *                 through the whole cycle)──► DEAD
 *
 * Orthogonal to the state, the sweep: a flip makes every region stale
 * (sg behind the heap's sweepgen); its owner or the sweeper, whoever takes
 * `lock` first, sweeps it in place once (region.c). Nobody touches a stale
 * region's spans without that lock; the owner's worker is detached from
 * them until they are swept.
 *
 * Files: stats.c (counters, JSON, trace), region.c (registry, pools, the
 * page allocator inside a region, release), window.c (open, refill, rewind,
 * close, toc_begin/toc_end), publish.c (the publish walk, the barrier's
 * slow path, send and spawn), verify.c (the invariant), layer.c (the table
 * gc calls, the other hooks, set-up).
 */
#ifndef TOC_WINDOW_H
#define TOC_WINDOW_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "layer.h"
#include "toc/toc.h"

enum toc_region_state {
	TOC_REGION_ACTIVE = 1,   /* a goroutine's open window */
	TOC_REGION_IDLE = 2,     /* rewound, in its worker's pool */
	TOC_REGION_DEAD = 3,     /* its spans released; the struct waits for its owner to free it */
};
extern const char *const toc_region_state_names[];

struct toc_region {
	struct gc_span *spans[GC_NUM_SPANCLASSES]; /* current span per class; attached as the worker's local spans */
	uintptr_t lo, len;                          /* the reserved pages */
	uint64_t *pub;                              /* published bit per granule; the barrier reads it */
	_Atomic int state;                          /* enum toc_region_state; CAS under reg_lock out of ACTIVE/IDLE */
	_Atomic uint32_t sg;                        /* sweepgen its spans are swept for; written under `lock` */
	_Atomic int lock;                           /* held by whoever sweeps or claims the region after a flip */
	_Atomic uint64_t ran_cycle;                 /* cycles started when its owner last ran with it; owner-written */
	_Atomic uint64_t cycle;                     /* cycles started when the window opened; owner-written */
	_Atomic bool full;                          /* a class found no room since the window opened (toc_refill);
	                                               owner-written, cleared by the rewind; read by claims after a flip */
	struct sched_g *owner;                      /* the goroutine whose window it is; NULL when idle */
	bool opened_marking;                        /* the collector was marking when it opened */
	bool zeroed;                                /* uncarved pages read as zero */
	uint64_t pages_used;                        /* bit i: page i belongs to a carved span */
	uint64_t pages_dirty;                       /* bit i: page i was used and freed */
	struct gc_span *all, *all_tail;             /* carved spans in carve order, by layer.all_next */
	struct gc_span *cls_head[GC_NUM_SPANCLASSES], *cls_tail[GC_NUM_SPANCLASSES]; /* per class, by layer.cls_next */
	int no_run;                                 /* no free run this long (or longer) until the next rewind */
	uint64_t carved_bytes;                      /* bytes of its carved spans */
	struct toc_region *reg_next, *reg_prev;     /* the registry; reg_lock */
	struct toc_region *pool_next;               /* the worker's pool, or the full list */
	uint32_t parked_sg;                         /* full list: the sweepgen when it was put there */
	int full_rounds;                            /* full list: times put there since a window last used it */
	bool in_full;                               /* in the full list */
	bool uncached;                              /* swept there: its free slots are not in the paced heap */
};

/* The table gc calls (layer.c). A program that calls any public function
 * of the layer links the file that holds it; each such file names the
 * table (TOC_KEEP_LAYER) so the static library's layer.o, whose
 * constructor registers the table, is linked too. */
extern const struct gc_layer toc_layer;
#define TOC_KEEP_LAYER __attribute__((used)) static const void *const toc_keep_layer = &toc_layer

/* --- statistics (stats.c) ----------------------------------------------------------------- */

struct toc_counters {
#define TOC_STAT_FIELD(name, doc) uint64_t name;
	TOC_STATS(TOC_STAT_FIELD)
#undef TOC_STAT_FIELD
} __attribute__((aligned(64)));

extern struct toc_counters *toc_counters;   /* one per worker, plus one for other threads */
extern _Atomic uint64_t toc_owned_bytes, toc_owned_max, toc_reserved_bytes, toc_open_windows, toc_open_max;
/* The most windows open at once since the last flip (which resets it to
 * the windows open then): how many idle regions are worth keeping. */
extern _Atomic uint64_t toc_open_recent;
struct toc_counters *toc_my_counters(void);
#define TOC_COUNT(field, v)                                                                \
	do {                                                                               \
		struct toc_counters *c_ = toc_my_counters();                               \
		/* Owner-written; readers merge with relaxed loads. */                     \
		__atomic_store_n(&c_->field, __atomic_load_n(&c_->field, __ATOMIC_RELAXED) + (v), \
				 __ATOMIC_RELAXED);                                        \
	} while (0)
/* Adds v to a gauge and raises its high-water mark (max NULL: none kept). */
uint64_t toc_gauge_add(_Atomic uint64_t *g, _Atomic uint64_t *max, int64_t v);   /* returns the new value */
/* Raises a high-water mark to now. */
void toc_max_raise(_Atomic uint64_t *max, uint64_t now);
void toc_stats_reset(void);
void toc_trace(char *buf, size_t len);

/* --- regions (region.c) -------------------------------------------------------------------- */

extern int toc_region_pages;                 /* pages per region (TOC_REGION) */
extern bool toc_rewind;                      /* windows are rewound at their end (TOC_REWIND, default on) */
extern bool toc_full_list;                   /* TOC_FULLLIST: mostly published regions wait for a cycle (default on) */
/* A fresh region, ACTIVE, in the registry; fatal when out of memory. */
struct toc_region *toc_region_new(void);
/* Releases r if nobody did yet and frees the struct (its owner is the caller). */
void toc_region_retire(struct toc_region *r, bool count_forfeit);
/* The sweeper's pass after a flip: every stale region is swept in place,
 * or, when its owner was parked through the whole cycle, claimed (its
 * spans released to the collector). Returns whether it released any. */
bool toc_region_sweep_stale(void);
/* The calling worker's pool: a fresh idle region made ACTIVE, or NULL. */
struct toc_region *toc_pool_take(void);
void toc_pool_put(struct toc_region *r);
/* A rewound region mostly holding published objects: kept IDLE in the
 * full list (one for all workers) until a cycle has swept it, when the
 * objects that died leave room for windows again (toc_pool_take). */
void toc_full_put(struct toc_region *r);
/* Bytes of the regions windows use or will use (open, in a pool), for the
 * pacer's goal (gc_layer.window_bytes): not the full list's. */
uint64_t toc_window_bytes(void);
/* Window.c's part of taking a region back from the full list: every span
 * restarted at its first free slot (the sweep freed slots below where the
 * last window stopped), the current span per class chosen, the pages of
 * dead local large objects given back. Returns the region's free bytes. */
uint64_t toc_region_restart(struct toc_region *r);
/* A span over n free pages of r owned by r's window, or NULL. */
struct gc_span *toc_take_pages(struct toc_region *r, int n, bool *zeroed);
/* A new span of class spc carved from r, or NULL when r has no room. */
struct gc_span *toc_carve(struct toc_region *r, int spc);
/* Rewind's part for an unpublished local large object: its pages back to r. */
void toc_drop_large(struct toc_region *r, struct gc_span *s);
/* Frees every region struct (after the runtime ended). */
void toc_regions_fini(void);
void toc_regions_init(void);

/* --- windows (window.c) ------------------------------------------------------------------------- */

/* Is r's window usable as it is: its spans swept for this sweepgen and r
 * ACTIVE? The acquire pairs with the sweeper's release of sg. */
static inline bool toc_fresh(const struct toc_region *r)
{
	return atomic_load_explicit(&r->sg, memory_order_acquire) == gc_layer_sweepgen() &&
	       atomic_load_explicit(&r->state, memory_order_relaxed) == TOC_REGION_ACTIVE;
}
/* toc_region_ready's slow path (region.c): sweeps r or waits for the
 * sweeper that holds it, then says whether r is still alive. */
bool toc_region_settle(struct toc_region *r);
/* The owner's way in after a flip: r swept for this sweepgen, by the
 * caller if nobody did yet (spins while the sweeper holds it). Returns
 * false when the collector claimed r (its owner was parked through a whole
 * cycle): the window is gone, its objects the collector's. Never a
 * safepoint. */
static inline bool toc_region_ready(struct toc_region *r)
{
	return toc_fresh(r) || toc_region_settle(r);
}
/* The goroutine's window slot (its sched_g slot): NULL (no window yet),
 * its window's region, or &toc_windowless. */
static inline struct toc_region **toc_g_window(struct sched_g *g)
{
	return (struct toc_region **)sched_g_slot(g);
}
/* The slot of a goroutine whose window outlived a cycle with a class out of
 * room and was claimed (region.c): a long-lived goroutine the layer cannot
 * help. It allocates from the shared caches, as without the layer, until
 * its window would have ended (toc_begin, toc_end, exit), and publishes
 * nothing, having no window objects. Never in the registry; its spans are
 * all NULL (no class has room) and its range is empty. */
extern struct toc_region toc_windowless;
/* g's window's region; NULL when it has none or is windowless. */
static inline struct toc_region *toc_g_region(struct sched_g *g)
{
	struct toc_region *r = *toc_g_window(g);
	return r == &toc_windowless ? NULL : r;
}
/* Points this worker's allocation and barrier at r (NULL, or stale: none). */
void toc_attach(struct toc_region *r);
/* The running goroutine's window when it may be published into or rewound. */
struct toc_region *toc_current(void);
/* Closes g's window: rewound, or with TOC_REWIND=0 its region handed to
 * the collector whole; given up if the collector claimed it. */
void toc_window_close(struct sched_g *g);
struct gc_span *toc_refill(int spc);
struct gc_span *toc_alloc_large(size_t npages, bool *zeroed);

/* Is obj (slot idx of s) an unpublished object of r's window? */
static inline bool toc_unpublished(const struct toc_region *r, const struct gc_span *s, uint32_t idx)
{
	return s->layer.window == r && idx >= s->layer.win_start && idx < s->freeindex &&
	       !gc_layer_span_published(s, idx);
}

/* --- publication (publish.c) ------------------------------------------------------------------- */

enum toc_pub_point { TOC_PUB_STORE, TOC_PUB_SEND, TOC_PUB_SPAWN, TOC_PUB_STACK, TOC_PUB_API };
/* Publishes the window object containing p and its unpublished closure. */
void toc_publish_in(struct toc_region *r, uintptr_t p, enum toc_pub_point why);
void toc_store(void *obj, void *val);
void toc_publish_api(const void *p);
void toc_hook_spawn(struct sched_g *parent, struct sched_g *child);
void toc_hook_send(const void *elem, size_t size);

/* --- the invariant (verify.c) -------------------------------------------------------------------- */

/* World stopped: r's spans and published bits (invariant 2 of verify.c). */
void toc_check_region(const struct toc_region *r);
/* World stopped, at r's window's end before its rewind: invariant 2 for r,
 * and invariant 1 for the objects of r's spans and the registered roots
 * (a pointer from one of them into an unpublished window object is fatal). */
void toc_check_window(struct toc_region *r);
/* World stopped, at mark termination: every live region swept for this
 * sweepgen and consistent (region.c; invariants 2 and 3). */
void toc_regions_check(void);
/* World stopped: the heap, then other goroutines' stacks (suspects). */
void toc_verify(void);

#endif /* TOC_WINDOW_H */
