/*
 * region.c — regions: the registry every live region is in (the sweeper's
 * claim walks it, never the goroutines), the per-worker pools of rewound
 * regions, the page allocator inside a region, and the release of a
 * region's spans and pages to the heap.
 *
 * A rewound region that mostly holds published objects goes to the full
 * list (one for all workers) instead of the pool: only a cycle frees published
 * objects, and a window in it would soon run out of room. Once a flip has
 * come since it was put there, the pool takes it back: swept in place like
 * any stale region (the published objects that died are freed there, the
 * live ones stay), its spans restarted, and handed to a window if at least
 * half of it is free. If not (it holds long-lived published objects, or was
 * put there during a mark, whose allocations survive that mark), it gets
 * one more cycle, then its spans go to the shared caches (DEAD), where the
 * live objects stay and the free slots serve shared allocation. Retiring a
 * full region at once instead left the churn of published objects to the
 * shared caches: windows never reuse slots there, so a workload that
 * publishes a fifth of its bytes kept 2-4x its marked heap in spans.
 *
 * Spans of a region count as cached (sweepgen sg + 3) while it lives. Mark
 * termination flips sweepgen: every region then in existence is stale.
 * Whichever comes first, the owner (at its next allocation, at its resume,
 * or when the pool hands the region out) or the sweeper's claim pass,
 * wins the CAS to DEAD and releases the spans to the unswept lists, where
 * they are swept as any cached span is. The struct itself is freed only by
 * its owner (the goroutine or the pool), because the owner's worker may
 * still read its range.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "window.h"

#define POOL_MAX 4       /* idle regions a worker keeps for its next windows */
#define SHARED_POOL_MIN 64   /* and all workers beyond that, at least (32 MiB of 512K regions) */
#define FULL_ROUNDS 2   /* cycles a region may wait in the full list before it is retired */
#define FULL_MAX 1024   /* regions the full list holds at most per worker (512 MiB of 512K regions each) */

const char *const toc_region_state_names[] = {"none", "active", "idle", "dead"};

int toc_region_pages;
bool toc_rewind;
bool toc_full_list;
static int reg_lock;
static struct toc_region *registry;           /* reg_lock */
static _Atomic uint32_t claimed_sg;            /* the last sweepgen the claim pass finished */
static struct toc_region *pools[SCHED_MAX_PROCS];
static int pool_len[SCHED_MAX_PROCS];
/* Idle regions beyond the workers' pools, for any worker: a goroutine
 * that parks mid-transaction often ends its window on another worker than
 * the one where new windows open, and per-worker pools alone then retired
 * regions on one worker while the other reserved new ones (a region made
 * for every other window with 10,000 requests parked). */
static int shared_pool_lock;
static struct toc_region *shared_pool;    /* shared_pool_lock */
static int shared_pool_len;               /* shared_pool_lock */
/* The full list: one FIFO for every worker, by pool_next, under full_lock.
 * Shared, because a goroutine may close windows on another worker than
 * the one it opened them on: per-worker lists then grew on one worker
 * while the other made new regions. */
static int full_lock;
static struct toc_region *full_head, *full_tail;   /* full_lock */
static int full_len;                                /* full_lock */
static _Atomic uint64_t full_carved;                /* the carved bytes of the regions in it */

/* The one way a region changes state: a CAS from `from` to `to`, checked
 * against the legal transitions in window.h. Returns whether it won. */
static bool region_cas(struct toc_region *r, int from, int to)
{
	bool legal = (from == TOC_REGION_ACTIVE && (to == TOC_REGION_IDLE || to == TOC_REGION_DEAD)) ||
		     (from == TOC_REGION_IDLE && (to == TOC_REGION_ACTIVE || to == TOC_REGION_DEAD));
	if (!legal)
		gc_fatal("toc: region %p: illegal state change %s -> %s", (void *)r,
			 toc_region_state_names[from & 3], toc_region_state_names[to & 3]);
	/* acq_rel: the winner's release of the spans follows the CAS; a loser
	 * sees the state the winner left. */
	return atomic_compare_exchange_strong_explicit(&r->state, &from, to, memory_order_acq_rel,
						       memory_order_acquire);
}

/* --- the registry --------------------------------------------------------------------------- */

static void registry_insert(struct toc_region *r)
{
	gc_lock(&reg_lock);
	r->reg_prev = NULL;
	r->reg_next = registry;
	if (registry)
		registry->reg_prev = r;
	registry = r;
	gc_unlock(&reg_lock);
}

static void region_free(struct toc_region *r)
{
	gc_lock(&reg_lock);
	if (r->reg_prev)
		r->reg_prev->reg_next = r->reg_next;
	else
		registry = r->reg_next;
	if (r->reg_next)
		r->reg_next->reg_prev = r->reg_prev;
	gc_unlock(&reg_lock);
	free(r->pub);
	free(r);
}

struct toc_region *toc_region_new(void)
{
	struct toc_region *r = calloc(1, sizeof *r);
	if (!r)
		gc_fatal("toc: out of memory for a region");
	bool zeroed;
	r->len = (uintptr_t)toc_region_pages * GC_PAGE_SIZE;
	r->lo = gc_layer_pages_take((size_t)toc_region_pages, &zeroed);
	if (!r->lo)
		gc_out_of_memory(r->len);
	r->zeroed = zeroed;
	r->pages_dirty = zeroed ? 0 : ~(uint64_t)0;
	r->no_run = toc_region_pages + 1;
	r->pub = calloc(r->len / 8 / 64, sizeof(uint64_t));
	if (!r->pub)
		gc_fatal("toc: out of memory for a region's published bits");
	for (int i = 0; i < GC_NUM_SPANCLASSES; i++)
		r->spans[i] = &gc_empty_span;
	atomic_store_explicit(&r->sg, gc_layer_sweepgen(), memory_order_relaxed);   /* not yet shared */
	atomic_store_explicit(&r->ran_cycle, gc_layer_cycle(), memory_order_relaxed);
	atomic_store_explicit(&r->state, TOC_REGION_ACTIVE, memory_order_relaxed);
	registry_insert(r);
	toc_gauge_add(&toc_reserved_bytes, NULL, (int64_t)r->len);
	TOC_COUNT(regions_made, 1);
	return r;
}

/* Hands r's spans to the central lists (fresh ones swept, stale ones to be
 * swept) and its uncarved pages to the page heap. The caller won the CAS
 * to DEAD. */
static void region_release(struct toc_region *r, bool count_forfeit)
{
	uint64_t forfeited = 0;
	uint64_t freed = 0;
	for (struct gc_span *s = r->all, *next; s; s = next) {
		next = s->layer.all_next;
		if (count_forfeit)
			forfeited += (uint64_t)gc_layer_span_unpublished(s) * s->elemsize;
		/* A retired (rewound) region's empty spans go back to the
		 * page heap, where the next region finds their pages; a
		 * claimed one's hold the window's objects. */
		uint64_t bytes = (uint64_t)s->npages * GC_PAGE_SIZE;
		if (!count_forfeit && gc_layer_span_free_empty(s)) {
			freed += bytes;
			continue;
		}
		gc_layer_span_release(s);
	}
	if (freed)
		TOC_COUNT(retired_empty_bytes, freed);
	r->all = r->all_tail = NULL;
	for (int i = 0; i < GC_NUM_SPANCLASSES; i++) {
		r->spans[i] = &gc_empty_span;
		r->cls_head[i] = r->cls_tail[i] = NULL;
	}
	r->no_run = toc_region_pages + 1;
	for (int i = 0; i < toc_region_pages;) {
		if (r->pages_used >> i & 1) {
			i++;
			continue;
		}
		int j = i;
		while (j < toc_region_pages && !(r->pages_used >> j & 1))
			j++;
		gc_layer_pages_give(r->lo + (uintptr_t)i * GC_PAGE_SIZE, (size_t)(j - i));
		i = j;
	}
	toc_gauge_add(&toc_owned_bytes, &toc_owned_max, -(int64_t)r->carved_bytes);
	toc_gauge_add(&toc_reserved_bytes, NULL, -(int64_t)r->len);
	r->carved_bytes = 0;
	if (count_forfeit) {
		TOC_COUNT(forfeited_bytes, forfeited);
		TOC_COUNT(local_bytes, forfeited);
	}
}

void toc_region_retire(struct toc_region *r, bool count_forfeit)
{
	gc_lock(&reg_lock);
	int st = atomic_load_explicit(&r->state, memory_order_acquire);
	if (st != TOC_REGION_DEAD && region_cas(r, st, TOC_REGION_DEAD))
		region_release(r, count_forfeit);
	gc_unlock(&reg_lock);
	region_free(r);
}

/* --- after a flip ---------------------------------------------------------------------------- */

static bool region_trylock(struct toc_region *r)
{
	int unlocked = 0;
	/* Acquire: the holder before us released its sweep with the unlock. */
	return atomic_compare_exchange_strong_explicit(&r->lock, &unlocked, 1, memory_order_acquire,
						       memory_order_relaxed);
}

static void region_unlock(struct toc_region *r)
{
	atomic_store_explicit(&r->lock, 0, memory_order_release);
}

/* gc_layer_span_sweep's report of a dead object: it is no longer
 * published, so the barrier's bitmap forgets it too (its slot is free or,
 * inside the window, goes at the rewind). */
static void forget_dead(void *arg, struct gc_span *s, uint32_t idx)
{
	struct toc_region *r = arg;
	uintptr_t off = s->base + (uintptr_t)idx * s->elemsize - r->lo;
	__atomic_fetch_and(&r->pub[off >> 9], ~((uint64_t)1 << ((off >> 3) & 63)), __ATOMIC_RELAXED);
}

/* The caller holds r's lock and r is stale and not DEAD. */
static void region_sweep_locked(struct toc_region *r)
{
	gc_layer_sweep_begin();
	/* A region waiting in the full list stops counting its free slots
	 * here: the flip reset the paced heap to the marked bytes, and what
	 * died in it is room no window uses until the region is taken back. */
	bool cached = !r->in_full;
	for (struct gc_span *s = r->all; s; s = s->layer.all_next)
		gc_layer_span_sweep(s, forget_dead, r, cached);
	for (int i = 0; i < GC_NUM_SPANCLASSES; i++)
		if (!r->spans[i])
			r->spans[i] = &gc_empty_span;   /* the sweep may have made room: ask again */
	if (!cached)
		r->uncached = true;
	/* Release: whoever acquires sg sees the swept spans. */
	atomic_store_explicit(&r->sg, gc_layer_sweepgen(), memory_order_release);
	gc_layer_sweep_end();
}

/* A window that lived through the whole cycle just ended (opened before it
 * started) with a class out of room: a long-lived goroutine's, whose
 * window is never rewound. Swept in place it would keep its dead
 * unpublished objects, and the paced heap would count its slack, at every
 * cycle until the goroutine ends (gcbench's binary-trees ran a quarter
 * more cycles in toc mode than in cms). It is claimed instead: the
 * collector frees what the mark did not reach, and the goroutine's next
 * allocation opens a new window. The mark is complete for window objects
 * as for any (the hybrid barrier shades every store during a mark), so the
 * objects its owner still holds are marked and stay. */
static bool region_outlived(struct toc_region *r, uint64_t cycle)
{
	return atomic_load_explicit(&r->full, memory_order_relaxed) &&
	       atomic_load_explicit(&r->cycle, memory_order_relaxed) < cycle;
}

/* Returns once r is swept for this sweepgen (by the caller, if nobody is
 * at it) or DEAD. */
static void region_settle(struct toc_region *r)
{
	bool claim_pass = false;
	for (unsigned spins = 0;; spins++) {
		if (atomic_load_explicit(&r->state, memory_order_acquire) == TOC_REGION_DEAD ||
		    atomic_load_explicit(&r->sg, memory_order_acquire) == gc_layer_sweepgen())
			return;
		/* An outlived window goes to the collector through the
		 * sweepers' claim pass, whose releases the sweepers look for
		 * (sweep.c's take_unswept), never through a claim of the
		 * owner's own: spans released stale after the pass could be
		 * left unswept. Once only: if the pass is over, whoever holds
		 * r's lock sweeps it, or the owner does below. */
		if (!claim_pass && atomic_load_explicit(&r->state, memory_order_relaxed) == TOC_REGION_ACTIVE &&
		    region_outlived(r, gc_layer_cycle())) {
			claim_pass = true;
			toc_region_sweep_stale();
			continue;
		}
		if (region_trylock(r)) {
			if (atomic_load_explicit(&r->sg, memory_order_relaxed) != gc_layer_sweepgen() &&
			    atomic_load_explicit(&r->state, memory_order_relaxed) != TOC_REGION_DEAD) {
				region_sweep_locked(r);
				TOC_COUNT(regions_swept, 1);
			}
			region_unlock(r);
			continue;
		}
		/* The sweeper holds it; it sweeps or claims without a safepoint.
		 * Not a goroutine yield: this may run inside an allocation. */
		if (spins < 64)
			__builtin_ia32_pause();
		else
			sched_yield();
	}
}

bool toc_region_settle(struct toc_region *r)
{
	region_settle(r);
	return atomic_load_explicit(&r->state, memory_order_acquire) != TOC_REGION_DEAD;
}

bool toc_region_sweep_stale(void)
{
	uint32_t sg = gc_layer_sweepgen();
	if (atomic_load_explicit(&claimed_sg, memory_order_acquire) == sg)
		return false;
	uint64_t cycle = gc_layer_cycle();
	bool any = false;
	gc_lock(&reg_lock);
	for (struct toc_region *r = registry; r; r = r->reg_next) {
		if (atomic_load_explicit(&r->sg, memory_order_acquire) == sg)
			continue;
		/* A region its owner is sweeping now is the owner's to finish
		 * (sweep termination waits for it: gc_layer_sweep_begin). */
		if (!region_trylock(r))
			continue;
		int st = atomic_load_explicit(&r->state, memory_order_acquire);
		if (st != TOC_REGION_DEAD && atomic_load_explicit(&r->sg, memory_order_relaxed) != sg) {
			/* Parked through the whole cycle just ended: the window's
			 * memory goes back to the heap rather than wait for an
			 * owner that may sleep for minutes. Outlived: the
			 * collector reclaims it better than the window would. */
			bool parked = atomic_load_explicit(&r->ran_cycle, memory_order_relaxed) < cycle;
			bool outlived = region_outlived(r, cycle);   /* a parked full window too */
			if (st == TOC_REGION_ACTIVE && (parked || outlived) && region_cas(r, st, TOC_REGION_DEAD)) {
				region_release(r, true);
				TOC_COUNT(regions_claimed, 1);
				if (outlived)
					TOC_COUNT(regions_outlived, 1);
				any = true;
			} else {
				region_sweep_locked(r);
				TOC_COUNT(regions_swept_bg, 1);
			}
		}
		region_unlock(r);
	}
	/* Release: a sweeper that reads this sweepgen sees every release above. */
	atomic_store_explicit(&claimed_sg, sg, memory_order_release);
	gc_unlock(&reg_lock);
	return any;
}

uint64_t toc_window_bytes(void)
{
	/* The full list's regions wait for a cycle to free their objects:
	 * after the flip the paced heap counts only what survived in them
	 * (region_sweep_locked), so they are the collector's business. */
	uint64_t owned = atomic_load_explicit(&toc_owned_bytes, memory_order_relaxed);
	uint64_t full = atomic_load_explicit(&full_carved, memory_order_relaxed);
	return owned > full ? owned - full : 0;
}

/* --- pools --------------------------------------------------------------------------------------- */

/* The paced heap and a region of the full list. Put there, the region
 * still counts whole, as the window's cache it was: its slack is memory the
 * published objects took, and a cycle is what frees it. The flip's sweep
 * then counts only its survivors (region_sweep_locked), and a window
 * taking it back counts its free slots again (recache). Counting waiting
 * regions by their objects alone let toc's heap reach three times its live
 * data at GOGC=100; counting them whole after the flip too made the pacer
 * start a cycle after every few megabytes, the slack of regions nobody had
 * taken back yet standing in for live data. */
static void recache(struct toc_region *r)
{
	if (!r->uncached)
		return;
	for (struct gc_span *s = r->all; s; s = s->layer.all_next)
		gc_layer_span_cache(s);
	r->uncached = false;
}

/* Appends r (IDLE) to the full list; full_lock held. */
static void full_append(struct toc_region *r)
{
	r->in_full = true;
	r->pool_next = NULL;
	r->parked_sg = gc_layer_sweepgen();
	r->full_rounds++;
	if (full_tail)
		full_tail->pool_next = r;
	else
		full_head = r;
	full_tail = r;
	full_len++;
	atomic_fetch_add_explicit(&full_carved, r->carved_bytes, memory_order_relaxed);
}

/* The oldest region of the full list, out of it (IDLE), or NULL; when
 * ready_only, only one a flip has come for since it was put there.
 * full_lock held. */
static struct toc_region *full_pop(bool ready_only)
{
	struct toc_region *r = full_head;
	if (!r || (ready_only && r->parked_sg == gc_layer_sweepgen()))
		return NULL;
	full_head = r->pool_next;
	if (!full_head)
		full_tail = NULL;
	full_len--;
	atomic_fetch_sub_explicit(&full_carved, r->carved_bytes, memory_order_relaxed);
	return r;
}

void toc_full_put(struct toc_region *r)
{
	/* ACTIVE -> IDLE, as for the pool: the sweeper may race to DEAD. */
	if (!region_cas(r, TOC_REGION_ACTIVE, TOC_REGION_IDLE)) {
		toc_region_retire(r, false);
		return;
	}
	gc_lock(&full_lock);
	full_append(r);
	/* A bound, so that a workload whose windows fill regions faster
	 * than cycles come holds no more than this: the oldest goes to the
	 * shared caches, as every full region once did. */
	struct toc_region *old = full_len > FULL_MAX * sched_procs() ? full_pop(false) : NULL;
	gc_unlock(&full_lock);
	if (old) {
		region_settle(old);
		old->in_full = false;
		/* Counted whole again before its spans leave as a cached
		 * region's do (the release uncounts their free slots). */
		if (region_cas(old, TOC_REGION_IDLE, TOC_REGION_ACTIVE))
			recache(old);
		TOC_COUNT(regions_full_retired, 1);
		toc_region_retire(old, false);
	}
}

/* The oldest region of the full list that a flip has swept since it was
 * put there and that is at least half free, ACTIVE; or NULL. Regions still
 * mostly live go round once more, then to the shared caches. */
static struct toc_region *full_take(void)
{
	for (;;) {
		if (!__atomic_load_n(&full_head, __ATOMIC_RELAXED))
			return NULL;   /* the common case, without the lock */
		gc_lock(&full_lock);
		struct toc_region *r = full_pop(true);
		gc_unlock(&full_lock);
		if (!r)
			return NULL;
		region_settle(r);
		r->in_full = false;
		if (!region_cas(r, TOC_REGION_IDLE, TOC_REGION_ACTIVE)) {
			toc_region_retire(r, false);
			continue;
		}
		recache(r);   /* a window's again, put back, or released as a cached region is */
		uint64_t free_bytes = toc_region_restart(r);
		if (free_bytes * 2 >= r->len) {
			r->full_rounds = 0;
			atomic_store_explicit(&r->ran_cycle, gc_layer_cycle(), memory_order_relaxed);
			TOC_COUNT(regions_recycled, 1);
			return r;
		}
		if (r->full_rounds < FULL_ROUNDS && region_cas(r, TOC_REGION_ACTIVE, TOC_REGION_IDLE)) {
			gc_lock(&full_lock);
			full_append(r);
			gc_unlock(&full_lock);
			continue;
		}
		toc_region_retire(r, false);
	}
}

/* r (IDLE), settled, made ACTIVE for a window; false when the sweeper
 * claimed it meanwhile (then retired). */
static bool pool_hand_out(struct toc_region *r)
{
	region_settle(r);   /* swept (by the sweeper's pass or here) before it is handed out */
	if (region_cas(r, TOC_REGION_IDLE, TOC_REGION_ACTIVE)) {
		atomic_store_explicit(&r->ran_cycle, gc_layer_cycle(), memory_order_relaxed);
		return true;
	}
	toc_region_retire(r, false);
	return false;
}

struct toc_region *toc_pool_take(void)
{
	int w = sched_worker_index();
	while (pools[w]) {
		struct toc_region *r = pools[w];
		pools[w] = r->pool_next;
		pool_len[w]--;
		if (pool_hand_out(r))
			return r;
	}
	while (__atomic_load_n(&shared_pool, __ATOMIC_RELAXED)) {
		gc_lock(&shared_pool_lock);
		struct toc_region *r = shared_pool;
		if (r) {
			shared_pool = r->pool_next;
			shared_pool_len--;
		}
		gc_unlock(&shared_pool_lock);
		if (r && pool_hand_out(r))
			return r;
	}
	return full_take();
}

void toc_pool_put(struct toc_region *r)
{
	/* ACTIVE -> IDLE: only its owner holds it, but the sweeper may race to DEAD. */
	if (!region_cas(r, TOC_REGION_ACTIVE, TOC_REGION_IDLE)) {
		toc_region_retire(r, false);
		return;
	}
	int w = sched_worker_index();
	if (pool_len[w] < POOL_MAX) {
		r->pool_next = pools[w];
		pools[w] = r;
		pool_len[w]++;
		return;
	}
	gc_lock(&shared_pool_lock);
	/* As many as windows were open at once lately: in a steady state
	 * every window that ends is followed by one that opens. A region
	 * retired instead gives its empty spans back, but its pages stay
	 * the heap's all the same, and the next region is made and its
	 * spans carved and faulted in again. */
	uint64_t recent = atomic_load_explicit(&toc_open_recent, memory_order_relaxed);
	bool kept = (uint64_t)shared_pool_len < (recent > SHARED_POOL_MIN ? recent : SHARED_POOL_MIN);
	if (kept) {
		r->pool_next = shared_pool;
		shared_pool = r;
		shared_pool_len++;
	}
	gc_unlock(&shared_pool_lock);
	if (!kept) {
		TOC_COUNT(regions_retired, 1);
		toc_region_retire(r, false);
	}
}

/* --- pages inside a region ---------------------------------------------------------------------- */

static uint64_t page_mask(int at, int n)
{
	return (n == 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1)) << at;
}

/* n free pages in a row, or -1. */
static int find_pages(uint64_t used, int n)
{
	for (int i = 0; i + n <= toc_region_pages; i++)
		if (!(used & page_mask(i, n)))
			return i;
	return -1;
}

struct gc_span *toc_take_pages(struct toc_region *r, int n, bool *zeroed)
{
	if (n >= r->no_run)
		return NULL;
	int at = find_pages(r->pages_used, n);
	if (at < 0) {
		r->no_run = n;
		return NULL;
	}
	uintptr_t base = r->lo + (uintptr_t)at * GC_PAGE_SIZE;
	struct gc_span *s = gc_layer_span_at(base, (size_t)n, r);
	if (!s)
		return NULL;
	uint64_t m = page_mask(at, n);
	*zeroed = r->zeroed && (r->pages_dirty & m) == 0;
	r->pages_used |= m;
	uint64_t bytes = (uint64_t)n * GC_PAGE_SIZE;
	r->carved_bytes += bytes;
	toc_gauge_add(&toc_owned_bytes, &toc_owned_max, (int64_t)bytes);
	if (r->all_tail)
		r->all_tail->layer.all_next = s;
	else
		r->all = s;
	r->all_tail = s;
	return s;
}

struct gc_span *toc_carve(struct toc_region *r, int spc)
{
	int n = (int)gc_classes[spc >> 1].npages;
	bool zeroed;
	struct gc_span *s = toc_take_pages(r, n, &zeroed);
	if (!s)
		return NULL;
	gc_layer_span_small(s, spc, zeroed);
	if (r->cls_tail[spc])
		r->cls_tail[spc]->layer.cls_next = s;
	else
		r->cls_head[spc] = s;
	r->cls_tail[spc] = s;
	return s;
}

void toc_drop_large(struct toc_region *r, struct gc_span *s)
{
	int at = (int)((s->base - r->lo) / GC_PAGE_SIZE), n = (int)s->npages;
	uint64_t bytes = (uint64_t)n * GC_PAGE_SIZE;
	r->pages_used &= ~page_mask(at, n);
	r->pages_dirty |= page_mask(at, n);
	r->carved_bytes -= bytes;
	toc_gauge_add(&toc_owned_bytes, &toc_owned_max, -(int64_t)bytes);
	gc_layer_span_drop_large(s);
}

void toc_regions_check(void)
{
	uint32_t sg = gc_layer_sweepgen();
	gc_lock(&reg_lock);
	for (struct toc_region *r = registry; r; r = r->reg_next) {
		if (atomic_load_explicit(&r->state, memory_order_acquire) == TOC_REGION_DEAD)
			continue;
		if (atomic_load_explicit(&r->sg, memory_order_acquire) != sg)
			gc_fatal("toc invariant: region %p (%s) is swept for sweepgen %u, the heap is at %u: "
				 "a region missed the sweep before this mark",
				 (void *)r, toc_region_state_names[atomic_load(&r->state) & 3], atomic_load(&r->sg), sg);
		toc_check_region(r);
	}
	gc_unlock(&reg_lock);
}

/* --- set-up --------------------------------------------------------------------------------------- */

void toc_regions_init(void)
{
	atomic_store(&claimed_sg, 0);
	registry = NULL;
	memset(pools, 0, sizeof pools);
	memset(pool_len, 0, sizeof pool_len);
	shared_pool = NULL;
	shared_pool_len = 0;
	shared_pool_lock = 0;
	full_head = full_tail = NULL;
	full_len = 0;
	atomic_store(&full_carved, 0);
	full_lock = 0;
}

void toc_regions_fini(void)
{
	while (registry) {
		struct toc_region *r = registry;
		registry = r->reg_next;
		free(r->pub);
		free(r);
	}
}
