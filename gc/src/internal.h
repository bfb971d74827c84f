/*
 * internal.h — the heap's and the collector's private structures. Not
 * installed; tests include it (the module's test-only header).
 *
 * Glossary (docs/glossary.md): page (8 KiB heap unit), span (pages of one size
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

#include "toc/gc.h"
#include "toc/chan.h"
#include "toc/sched.h"

#include "layer.h"   /* spans, their lookup, and the transaction layer's interface */

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
	struct gc_span **local;                    /* the running transaction's spans per class (toc); NULL without the layer */
} __attribute__((aligned(64)));
extern struct gc_cache *gc_caches;        /* one per worker */

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
	_Atomic int64_t mark_began;          /* sched_nanotime() at the running mark's start, 0: none;
	                                        the controller's, read by gc_read_stats */
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

/* cycle.c */
void gc_run_cycle(bool forced);
void gc_stw_begin(void);          /* stops the world, the caller's CPU charged as pause */
uint64_t gc_stw_end(void);        /* starts it; returns the pause */
const struct sched_hooks *gc_sched_hooks(bool layer);
/* control.c */
extern const struct gc_layer *gc_registered_layer;   /* what toc/ registered, used when TOC_MODE=toc */
extern int64_t gc_start_ns;
void gc_wake_sweeper(void);
/* markwork.c */
void gc_assist_ratio_update(void);
void gc_bg_start(int procs, int64_t mark_start);   /* the extra background workers */
void gc_bg_mark_loop(bool controller);             /* the controller returns with the world stopped */
void gc_bg_wait(void);                             /* until the extra workers ended */
void gc_bg_reset(void);
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
	uint64_t windows;       /* the transaction layer's window spans, counted whole in the heap */
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
