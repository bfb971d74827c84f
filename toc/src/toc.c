/*
 * toc.c — windows, publication, rewind and the interplay with cycles.
 *
 * A region is a run of pages reserved from the page heap for one open
 * window; the spans the window allocates from are carved out of it, so
 * "is p in my window?" is one subtraction and one compare (the barrier's
 * fast path in gc.h). The region keeps one published bit per 8-byte granule
 * beside the spans' alloc bits: the alloc bit is what rewind and the
 * collector read, the region bit is what the inline barrier reads.
 *
 * An object is an unpublished window object when its span belongs to the
 * region, its slot lies in [win_start, freeindex) and its alloc bit is 0.
 * Rewind keeps the published prefix of each span, moves freeindex back to
 * the first unpublished slot, and lets allocation skip the published slots
 * after it through alloc_cache (DESIGN.md section 7).
 *
 * States of a region (atomic; the CAS out of ACTIVE or IDLE decides who
 * releases its spans):
 *
 *   ACTIVE ──window closed, rewound──► IDLE (in its worker's pool)
 *   IDLE ──taken for a new window──► ACTIVE
 *   ACTIVE/IDLE ──forfeit, pool full, or stale after a flip──► DEAD
 *
 * Spans of a region count as cached (sweepgen sg + 3) while it lives. Mark
 * termination flips sweepgen: every region then in existence is stale. The
 * running goroutines notice at their next allocation (the flip empties the
 * workers' gc_cache.local), parked ones when they resume, pooled ones when
 * taken; whichever comes first, the goroutine or the sweeper's claim pass
 * over the registry (never a pass over goroutines), releases the spans to
 * the unswept lists, and they are swept as any cached span is. The struct
 * itself is freed only by its owner (the goroutine or the pool), because
 * the owner's worker may still read its range.
 *
 * A window is rewound only if no mark phase overlapped it: it opened with
 * the collector off, the cycle count has not moved, the collector is off at
 * the end and no flip made the region stale. Otherwise it is forfeited: its
 * spans go to the central lists as they are and the collector decides.
 * What a goroutine allocates after a cycle goes to a fresh window, so only
 * the part before the cycle is lost.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"
#include "toc/toc.h"

enum { R_ACTIVE = 1, R_IDLE = 2, R_DEAD = 3 };
#define POOL_MAX 4

struct toc_region {
	struct gc_span *spans[GC_NUM_SPANCLASSES]; /* current span per class; gc_cache.local points here */
	uintptr_t lo, len;                          /* the reserved pages */
	uint64_t *pub;                              /* published bit per granule */
	_Atomic int state;
	uint32_t sg;                                /* sweepgen its spans are fresh for */
	uint64_t cycle;                             /* gc_st.cycle when the window opened */
	struct sched_g *owner;                      /* the goroutine whose window it is; NULL when idle */
	bool opened_marking;                        /* the collector was on when it opened */
	bool zeroed;                                /* uncarved pages read as zero */
	uint64_t pages_used;                        /* bit i: page i belongs to a carved span */
	uint64_t pages_dirty;                       /* bit i: page i was used and freed */
	struct gc_span *all, *all_tail;             /* carved spans in carve order, linked by next */
	struct gc_span *cls_head[GC_NUM_SPANCLASSES], *cls_tail[GC_NUM_SPANCLASSES]; /* per class, by win_next */
	int no_run;                                 /* no free run this long (or longer) until the next rewind */
	uint64_t carved_bytes;
	struct toc_region *reg_next, *reg_prev;     /* the registry; reg_lock */
	struct toc_region *pool_next;               /* the worker pool; its worker */
};

struct toc_counters {
#define TOC_STAT_FIELD(name, doc) uint64_t name;
	TOC_STATS(TOC_STAT_FIELD)
#undef TOC_STAT_FIELD
} __attribute__((aligned(64)));

static struct toc_counters *counters;        /* one per worker, plus one for other threads */
static _Atomic uint64_t owned_bytes, owned_max, reserved_bytes, open_windows, open_max;
static int region_pages;
static int reg_lock;
static struct toc_region *registry;
static _Atomic uint32_t claimed_sg;            /* the last sweepgen the claim pass finished */
static struct toc_region *pools[SCHED_MAX_PROCS];
static int pool_len[SCHED_MAX_PROCS];

/* --- statistics ------------------------------------------------------------------------- */

static struct toc_counters *my_counters(void)
{
	int w = sched_worker_index();
	return &counters[w >= 0 ? w : SCHED_MAX_PROCS];
}

#define COUNT(field, v)                                                                    \
	do {                                                                               \
		struct toc_counters *c_ = my_counters();                                   \
		__atomic_store_n(&c_->field, __atomic_load_n(&c_->field, __ATOMIC_RELAXED) + (v), \
				 __ATOMIC_RELAXED);                                        \
	} while (0)

/* Adds v to a gauge and raises its high-water mark (max NULL: none kept). */
static void gauge_add(_Atomic uint64_t *g, _Atomic uint64_t *max, int64_t v)
{
	uint64_t now = atomic_fetch_add(g, (uint64_t)v) + (uint64_t)v;
	if (!max)
		return;
	uint64_t m = atomic_load(max);
	while (v > 0 && now > m && !atomic_compare_exchange_weak(max, &m, now))
		;
}

void toc_read_stats(struct toc_stats *out)
{
	memset(out, 0, sizeof *out);
	if (!counters)
		return;
	for (int w = 0; w <= SCHED_MAX_PROCS; w++) {
#define TOC_STAT_SUM(name, doc) out->name += __atomic_load_n(&counters[w].name, __ATOMIC_RELAXED);
		TOC_STATS(TOC_STAT_SUM)
#undef TOC_STAT_SUM
	}
	out->owned_bytes = atomic_load(&owned_bytes);
	out->owned_bytes_max = atomic_load(&owned_max);
	out->reserved_bytes = atomic_load(&reserved_bytes);
	out->windows_open = atomic_load(&open_windows);
	out->windows_open_max = atomic_load(&open_max);
}

void toc_stats_since(struct toc_stats *d, const struct toc_stats *after, const struct toc_stats *before)
{
#define TOC_STAT_SUB(name, doc) d->name = after->name - before->name;
	TOC_STATS(TOC_STAT_SUB)
#undef TOC_STAT_SUB
	d->owned_bytes = after->owned_bytes;
	d->owned_bytes_max = after->owned_bytes_max;
	d->reserved_bytes = after->reserved_bytes;
	d->windows_open = after->windows_open;
	d->windows_open_max = after->windows_open_max;
}

void toc_stats_json(FILE *out, const struct toc_stats *st)
{
	double local = (double)st->local_bytes;
	fprintf(out, "\"toc_reclaimed_fraction\": %.4f, \"published_fraction\": %.4f, \"forfeit_fraction\": %.4f",
		local > 0 ? (double)st->reclaimed_bytes / local : 0.0,
		local > 0 ? (double)st->published_bytes / local : 0.0,
		local > 0 ? (double)st->forfeited_bytes / local : 0.0);
#define TOC_STAT_JSON(name, doc) fprintf(out, ", \"toc_" #name "\": %llu", (unsigned long long)st->name);
	TOC_STATS(TOC_STAT_JSON)
#undef TOC_STAT_JSON
}

static void layer_trace(char *buf, size_t len)
{
	struct toc_stats st;
	toc_read_stats(&st);
	double local = (double)st.local_bytes;
	snprintf(buf, len, ", toc: %llu windows, %.0f MB local, %.1f%% rewound, %.1f%% published, %llu forfeits",
		 (unsigned long long)st.windows, local / 1048576.0,
		 local > 0 ? 100.0 * (double)st.reclaimed_bytes / local : 0.0,
		 local > 0 ? 100.0 * (double)st.published_bytes / local : 0.0, (unsigned long long)st.forfeits);
}

/* --- the running window -------------------------------------------------------------------- */

static struct toc_region **g_window(struct sched_g *g)
{
	return (struct toc_region **)sched_g_slot(g);
}

static struct toc_region *region_of_local(struct gc_span **local)
{
	return (struct toc_region *)((char *)local - offsetof(struct toc_region, spans));
}

static bool fresh(const struct toc_region *r)
{
	return r->sg == atomic_load_explicit(&gc_heap.sweepgen, memory_order_relaxed) &&
	       atomic_load_explicit(&r->state, memory_order_relaxed) == R_ACTIVE;
}

/* Points this worker's allocation cache and barrier at r (NULL: none). */
static void attach(struct toc_region *r)
{
	int w = sched_worker_index();
	if (r && fresh(r)) {
		gc_caches[w].local = r->spans;
		gc_tls_window = (struct gc_tls_window){r->lo, r->len, r->pub};
	} else {
		gc_caches[w].local = NULL;
		gc_tls_window = (struct gc_tls_window){0, 0, NULL};
	}
}

/* The running goroutine's window when it may be published into or rewound. */
static struct toc_region *current(void)
{
	struct sched_g *g = sched_self();
	if (!g)
		return NULL;
	struct toc_region *r = *g_window(g);
	return r && fresh(r) ? r : NULL;
}

static bool slot_pub(const struct gc_span *s, uint32_t i)
{
	return gc_bit(s->alloc_bits, i);
}

/* Is obj (a slot start in s) an unpublished object of r's window? */
static bool unpublished(const struct toc_region *r, const struct gc_span *s, uint32_t idx)
{
	return s->window == r && idx >= s->win_start && idx < s->freeindex && !slot_pub(s, idx);
}

/* --- regions --------------------------------------------------------------------------------- */

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

static struct toc_region *region_new(void)
{
	struct toc_region *r = calloc(1, sizeof *r);
	if (!r)
		gc_fatal("toc: out of memory for a region");
	bool zeroed;
	r->len = (uintptr_t)region_pages * GC_PAGE_SIZE;
	gc_sweep_reclaim((size_t)region_pages, false);   /* sweep before the heap grows, as grow() does */
	r->lo = gc_pages_alloc_run((size_t)region_pages, &zeroed);
	if (!r->lo)
		gc_out_of_memory(r->len);
	r->zeroed = zeroed;
	r->pages_dirty = zeroed ? 0 : ~(uint64_t)0;
	r->no_run = region_pages + 1;
	r->pub = calloc(r->len / 8 / 64, sizeof(uint64_t));
	if (!r->pub)
		gc_fatal("toc: out of memory for a region's published bits");
	for (int i = 0; i < GC_NUM_SPANCLASSES; i++)
		r->spans[i] = &gc_empty_span;
	r->sg = atomic_load(&gc_heap.sweepgen);
	atomic_store(&r->state, R_ACTIVE);
	registry_insert(r);
	gauge_add(&reserved_bytes, NULL, (int64_t)r->len);
	COUNT(regions_made, 1);
	return r;
}

/* Window slots of s not published: [win_start, freeindex) less the alloc bits there. */
static uint32_t unpublished_count(const struct gc_span *s)
{
	uint32_t n = 0;
	for (uint32_t i = s->win_start; i < s->freeindex; i++)
		n += !slot_pub(s, i);
	return n;
}

/* Hands r's spans to the central lists (fresh ones swept, stale ones to be
 * swept) and its uncarved pages to the page heap. The caller won the CAS
 * to DEAD. */
static void region_release(struct toc_region *r, bool count_forfeit)
{
	uint64_t forfeited = 0;
	for (struct gc_span *s = r->all, *next; s; s = next) {
		next = s->next;
		s->next = NULL;
		if (count_forfeit)
			forfeited += (uint64_t)unpublished_count(s) * s->elemsize;
		s->window = NULL;
		gc_central_put(s);
	}
	r->all = r->all_tail = NULL;
	for (int i = 0; i < GC_NUM_SPANCLASSES; i++) {
		r->spans[i] = &gc_empty_span;
		r->cls_head[i] = r->cls_tail[i] = NULL;
	}
	r->no_run = region_pages + 1;
	for (int i = 0; i < region_pages;) {
		if (r->pages_used >> i & 1) {
			i++;
			continue;
		}
		int j = i;
		while (j < region_pages && !(r->pages_used >> j & 1))
			j++;
		gc_pages_free_run(r->lo + (uintptr_t)i * GC_PAGE_SIZE, (size_t)(j - i));
		i = j;
	}
	gauge_add(&owned_bytes, &owned_max, -(int64_t)r->carved_bytes);
	gauge_add(&reserved_bytes, NULL, -(int64_t)r->len);
	r->carved_bytes = 0;
	if (count_forfeit) {
		COUNT(forfeited_bytes, forfeited);
		COUNT(local_bytes, forfeited);
	}
}

/* Releases r if nobody did yet (its owner is the caller). */
static void region_retire(struct toc_region *r, bool count_forfeit)
{
	gc_lock(&reg_lock);
	int st = atomic_load(&r->state);
	if (st != R_DEAD && atomic_compare_exchange_strong(&r->state, &st, R_DEAD))
		region_release(r, count_forfeit);
	gc_unlock(&reg_lock);
	region_free(r);
}

/* The sweeper: every region a flip made stale is released (once per flip). */
static bool layer_claim(void)
{
	uint32_t sg = atomic_load(&gc_heap.sweepgen);
	if (atomic_load(&claimed_sg) == sg)
		return false;
	bool any = false;
	gc_lock(&reg_lock);
	for (struct toc_region *r = registry; r; r = r->reg_next) {
		if (r->sg == sg)
			continue;
		int st = atomic_load(&r->state);
		if (st == R_DEAD || !atomic_compare_exchange_strong(&r->state, &st, R_DEAD))
			continue;
		region_release(r, true);
		COUNT(regions_claimed, 1);
		any = true;
	}
	atomic_store(&claimed_sg, sg);
	gc_unlock(&reg_lock);
	return any;
}

static struct toc_region *pool_take(void)
{
	int w = sched_worker_index();
	while (pools[w]) {
		struct toc_region *r = pools[w];
		pools[w] = r->pool_next;
		pool_len[w]--;
		int st = R_IDLE;
		if (r->sg == atomic_load(&gc_heap.sweepgen) && atomic_compare_exchange_strong(&r->state, &st, R_ACTIVE))
			return r;
		region_retire(r, false);   /* stale; nothing unpublished is left in an idle region */
	}
	return NULL;
}

static void pool_put(struct toc_region *r)
{
	int w = sched_worker_index();
	if (pool_len[w] >= POOL_MAX) {
		region_retire(r, false);
		return;
	}
	atomic_store(&r->state, R_IDLE);
	r->pool_next = pools[w];
	pools[w] = r;
	pool_len[w]++;
}

/* --- windows ------------------------------------------------------------------------------------ */

static void window_open(struct sched_g *g)
{
	struct toc_region **slot = g_window(g);
	struct toc_region *r = *slot;
	if (r && !fresh(r)) {
		/* A flip overlapped the window: forfeited. */
		COUNT(forfeits, 1);
		COUNT(windows, 1);
		region_retire(r, true);
		gauge_add(&open_windows, &open_max, -1);
		r = NULL;
	}
	if (!r) {
		r = pool_take();
		if (!r)
			r = region_new();
		r->cycle = atomic_load(&gc_st.cycle);
		r->opened_marking = atomic_load(&gc_st.phase) != GC_PHASE_OFF;
		r->owner = g;
		*slot = r;
		gauge_add(&open_windows, &open_max, 1);
	}
	attach(r);
}

/* n free pages in a row, or -1. */
static int find_pages(uint64_t used, int n)
{
	for (int i = 0; i + n <= region_pages; i++) {
		uint64_t m = (n == 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1)) << i;
		if (!(used & m))
			return i;
	}
	return -1;
}

static uint64_t page_mask(int at, int n)
{
	return (n == 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1)) << at;
}

/* A span over n free pages of r, owned by r's window and counted as
 * cached; NULL when r has no n free pages in a row. */
static struct gc_span *take_pages(struct toc_region *r, int n, bool *zeroed)
{
	if (n >= r->no_run)
		return NULL;
	int at = find_pages(r->pages_used, n);
	if (at < 0) {
		r->no_run = n;
		return NULL;
	}
	uintptr_t base = r->lo + (uintptr_t)at * GC_PAGE_SIZE;
	struct gc_span *s = gc_pages_span_at(base, (size_t)n);
	if (!s)
		return NULL;
	uint64_t m = page_mask(at, n);
	*zeroed = r->zeroed && (r->pages_dirty & m) == 0;
	r->pages_used |= m;
	s->window = r;
	s->win_start = 0;
	atomic_store_explicit(&s->sweepgen, r->sg + 3, memory_order_relaxed);
	uint64_t bytes = (uint64_t)n * GC_PAGE_SIZE;
	r->carved_bytes += bytes;
	gauge_add(&owned_bytes, &owned_max, (int64_t)bytes);
	if (r->all_tail)
		r->all_tail->next = s;
	else
		r->all = s;
	r->all_tail = s;
	return s;
}

static struct gc_span *carve(struct toc_region *r, int spc)
{
	int n = (int)gc_classes[spc >> 1].npages;
	bool zeroed;
	struct gc_span *s = take_pages(r, n, &zeroed);
	if (!s)
		return NULL;
	gc_span_init_small(s, spc);
	s->needzero = !zeroed;
	if (r->cls_tail[spc])
		r->cls_tail[spc]->win_next = s;
	else
		r->cls_head[spc] = s;
	r->cls_tail[spc] = s;
	if (zeroed)
		(void)madvise((void *)s->base, (size_t)n * GC_PAGE_SIZE, MADV_POPULATE_WRITE);
	atomic_fetch_add(&gc_st.heap_live, (uint64_t)s->nelems * s->elemsize);
	return s;
}

/* Does s have a free slot at or after freeindex? Leaves s as it was, so
 * the caller's gc_span_next_free takes that slot. */
static bool has_free(struct gc_span *s)
{
	uint32_t fi = s->freeindex;
	if (fi >= s->nelems)
		return false;
	bool found = gc_span_next_free(s) < s->nelems;
	s->freeindex = fi;
	gc_span_refill_cache(s);
	return found;
}

/* The running goroutine's window, opened if it has none (or a stale one);
 * NULL outside a goroutine. */
/* The running goroutine's window, opened if it has none; NULL (allocate
 * from the shared caches) when there is no goroutine or a mark phase runs.
 * A window opened during a mark would be forfeited at its end, and a
 * forfeit hands the region's carved spans (a page or more for every size
 * class the transaction used) to the central lists and takes a fresh
 * region for the next window: for as long as the mark lasted, every
 * transaction paid for a region and grew the heap by it, and at a 1 GiB
 * store a mark that spanned a whole run cut toc's throughput by an order
 * of magnitude. So a goroutine without a window allocates as under cms
 * until the cycle ends (the flip detaches every window), and its first
 * allocation after opens one. A window already open when the mark starts
 * keeps its region and is forfeited at its end as before. */
static struct toc_region *window_of_running(void)
{
	struct sched_g *g = sched_self();
	if (!g)
		return NULL;
	struct gc_cache *c = &gc_caches[sched_worker_index()];
	if (!c->local) {
		if (atomic_load_explicit(&gc_st.phase, memory_order_relaxed) != GC_PHASE_OFF)
			return NULL;
		window_open(g);
	}
	return region_of_local(c->local);
}

static struct gc_span *layer_refill(struct gc_cache *c, int spc)
{
	(void)c;   /* the running worker's: window_of_running finds it */
	struct toc_region *r = window_of_running();
	if (!r) {
		COUNT(marking_bytes, gc_classes[spc >> 1].size);
		return NULL;
	}
	struct gc_span *s = r->spans[spc];
	if (has_free(s))
		return s;
	/* A later span of the class with room (after a rewind), else a new
	 * one. The spans before s are full; when s is the empty span, all are. */
	if (s != &gc_empty_span)
		for (struct gc_span *t = s->win_next; t; t = t->win_next)
			if (t->nalloc < t->nelems && has_free(t)) {
				r->spans[spc] = t;
				return t;
			}
	s = carve(r, spc);
	if (!s) {
		COUNT(shared_bytes, gc_classes[spc >> 1].size);
		return NULL;
	}
	r->spans[spc] = s;
	return s;
}

/* Local large objects (classes over GC_LOCAL_MAX_SIZE and large objects up
 * to a quarter of a region): one-object spans over pages of the region, so
 * the barrier's range test covers them; rewind gives the pages of the
 * unpublished ones back to the region. */
static struct gc_span *layer_alloc_large(size_t npages, bool *zeroed)
{
	struct toc_region *r = window_of_running();
	if (!r) {
		COUNT(marking_bytes, npages * GC_PAGE_SIZE);
		return NULL;
	}
	struct gc_span *s = take_pages(r, (int)npages, zeroed);
	if (!s) {
		COUNT(shared_bytes, npages * GC_PAGE_SIZE);
		return NULL;
	}
	COUNT(large_objects, 1);
	return s;
}

/* Rewind's part for an unpublished local large object: its pages go back
 * to r, dirty. */
static void drop_large(struct toc_region *r, struct gc_span *s)
{
	int at = (int)((s->base - r->lo) / GC_PAGE_SIZE), n = (int)s->npages;
	uint64_t bytes = (uint64_t)n * GC_PAGE_SIZE;
	if (gc_st.cfg.poison) {
		uint64_t *p = (uint64_t *)s->base;
		for (size_t i = 0; i < bytes / 8; i++)
			p[i] = GC_POISON_WORD;
	}
	r->pages_used &= ~page_mask(at, n);
	r->pages_dirty |= page_mask(at, n);
	r->carved_bytes -= bytes;
	gauge_add(&owned_bytes, &owned_max, -(int64_t)bytes);
	atomic_fetch_sub(&gc_st.heap_live, bytes);
	gc_span_free_meta(s);
	gc_pages_span_drop(s);
}

/* --- publication ------------------------------------------------------------------------------ */

struct worklist {
	uintptr_t *v;
	size_t n, cap;
	uintptr_t inline_buf[64];
};

static void wl_push(struct worklist *w, uintptr_t p)
{
	if (w->n == w->cap) {
		size_t cap = w->cap * 2;
		uintptr_t *v = malloc(cap * sizeof *v);
		if (!v)
			gc_fatal("toc: out of memory for a publish work list of %zu entries", cap);
		memcpy(v, w->v, w->n * sizeof *v);
		if (w->v != w->inline_buf)
			free(w->v);
		w->v = v;
		w->cap = cap;
	}
	w->v[w->n++] = p;
}

static void wl_push_local(struct worklist *w, const struct toc_region *r, uintptr_t p)
{
	if (p - r->lo < r->len)
		wl_push(w, p);
}

/* Pushes every pointer field of obj (slot idx of s) that points into r. */
static void push_fields(struct worklist *w, const struct toc_region *r, const struct gc_span *s, uint32_t idx,
			uintptr_t obj)
{
	if (s->noscan)
		return;
	if (s->large) {
		const struct gc_type *t = s->large_type;
		for (size_t e = 0; t && e < s->large_count; e++)
			for (uint32_t f = 0; f < t->nptrs; f++)
				wl_push_local(w, r, __atomic_load_n((uintptr_t *)(obj + e * t->size + t->offsets[f]),
								     __ATOMIC_RELAXED));
		return;
	}
	if (s->ptr_bits) {
		size_t ew = s->elemsize / GC_WORD;
		size_t bit = (size_t)idx * ew;
		for (size_t i = 0; i < ew; i++) {
			size_t b = bit + i;
			if ((atomic_load_explicit(&s->ptr_bits[b >> 6], memory_order_relaxed) >> (b & 63)) & 1)
				wl_push_local(w, r, __atomic_load_n((uintptr_t *)obj + i, __ATOMIC_RELAXED));
		}
		return;
	}
	const struct gc_type *t = s->types ? s->types[idx] : NULL;
	if (!t)
		return;
	for (size_t e = 0; e + t->size <= s->elemsize; e += t->size)
		for (uint32_t f = 0; f < t->nptrs; f++)
			wl_push_local(w, r, __atomic_load_n((uintptr_t *)(obj + e + t->offsets[f]), __ATOMIC_RELAXED));
}

enum pub_point { PUB_STORE, PUB_SEND, PUB_SPAWN, PUB_STACK, PUB_API };

/* Publishes the window object containing p and its unpublished closure. */
static void publish(struct toc_region *r, uintptr_t p, enum pub_point why)
{
	if (p - r->lo >= r->len)
		return;
	struct worklist w = {.v = NULL, .n = 0, .cap = 64};
	w.v = w.inline_buf;
	wl_push(&w, p);
	uint64_t objects = 0, bytes = 0, walked = 0;
	while (w.n) {
		uintptr_t x = w.v[--w.n];
		walked++;
		struct gc_span *s = gc_span_of(x);
		if (!s || s->window != r)
			continue;
		uint32_t idx = gc_span_index(s, x);
		if (idx >= s->nelems || !unpublished(r, s, idx))
			continue;
		uintptr_t obj = s->base + (uintptr_t)idx * s->elemsize;
		__atomic_fetch_or(&s->alloc_bits[idx >> 6], (uint64_t)1 << (idx & 63), __ATOMIC_RELAXED);
		uintptr_t off = obj - r->lo;
		__atomic_fetch_or(&r->pub[off >> 9], (uint64_t)1 << ((off >> 3) & 63), __ATOMIC_RELAXED);
		objects++;
		bytes += s->elemsize;
		push_fields(&w, r, s, idx, obj);
	}
	if (w.v != w.inline_buf)
		free(w.v);
	COUNT(walked_objects, walked);
	if (!objects)
		return;
	COUNT(publish_walks, 1);
	COUNT(published_objects, objects);
	COUNT(published_bytes, bytes);
	COUNT(local_bytes, bytes);
	COUNT(local_objects, objects);
	switch (why) {
	case PUB_STORE: COUNT(pub_store, objects); break;
	case PUB_SEND: COUNT(pub_send, objects); break;
	case PUB_SPAWN: COUNT(pub_spawn, objects); break;
	case PUB_STACK: COUNT(pub_stack, objects); break;
	case PUB_API: COUNT(pub_api, objects); break;
	}
}

/* The barrier's slow path: the inline test found val unpublished in the
 * window (or could not tell: interior pointers, marking on). */
static void layer_store(void *obj, void *val)
{
	struct toc_region *r = current();
	if (!r || (uintptr_t)val - r->lo >= r->len)
		return;
	COUNT(slow_stores, 1);
	uintptr_t o = (uintptr_t)obj;
	if (o - r->lo < r->len) {
		struct gc_span *s = gc_span_of(o);
		if (s && s->window == r) {
			uint32_t idx = gc_span_index(s, o);
			if (idx < s->nelems && unpublished(r, s, idx)) {
				if (TOC_CHECK_LEVEL >= 1 && s->base + (uintptr_t)idx * s->elemsize != o)
					gc_fatal("gc_store: obj %p is not the start of its object (%p, %zu B); "
						 "the transaction layer needs the object's start",
						 obj, (void *)(s->base + (uintptr_t)idx * s->elemsize), s->elemsize);
				return;   /* into an unpublished object of the window */
			}
		}
	}
	publish(r, (uintptr_t)val, PUB_STORE);
}

static void layer_publish(const void *p)
{
	struct toc_region *r = current();
	if (r)
		publish(r, (uintptr_t)p, PUB_API);
}

void toc_publish(const void *p)
{
	if (gc_layer)
		layer_publish(p);
}

bool toc_enabled(void)
{
	return gc_layer != NULL;
}

/* --- closing a window -------------------------------------------------------------------------- */

/* The first clear bit of b in [from, to), or to. */
static uint32_t first_clear(const uint64_t *b, uint32_t from, uint32_t to)
{
	while (from < to) {
		uint64_t w = ~b[from >> 6] >> (from & 63);
		if (w)
			return from + (uint32_t)__builtin_ctzll(w) < to ? from + (uint32_t)__builtin_ctzll(w) : to;
		from = (from | 63) + 1;
	}
	return to;
}

/* Set bits of b in [from, to). */
static uint32_t ones_in(const uint64_t *b, uint32_t from, uint32_t to)
{
	uint32_t n = 0;
	while (from < to) {
		uint32_t end = (from | 63) + 1 < to ? (from | 63) + 1 : to;
		uint64_t w = b[from >> 6] >> (from & 63);
		uint32_t k = end - from;
		if (k < 64)
			w &= ((uint64_t)1 << k) - 1;
		n += (uint32_t)__builtin_popcountll(w);
		from = end;
	}
	return n;
}

/* Rewinds every span of r to its first unpublished window slot. Returns
 * the bytes free in r after it: free slots and uncarved pages. */
static uint64_t window_rewind(struct toc_region *r)
{
	uint64_t bytes = 0, objects = 0, free_bytes = 0;
	uint64_t seen[(GC_NUM_SPANCLASSES + 63) / 64] = {0};
	for (int i = 0; i < GC_NUM_SPANCLASSES; i++)
		r->spans[i] = &gc_empty_span;
	struct gc_span **link = &r->all, *last = NULL;
	for (struct gc_span *s; (s = *link);) {
		if (s->large) {
			if (slot_pub(s, 0)) {
				last = s;
				link = &s->next;
				continue;
			}
			*link = s->next;
			bytes += s->elemsize;
			objects++;
			drop_large(r, s);
			continue;
		}
		uint32_t fi = s->freeindex, st = first_clear(s->alloc_bits, s->win_start, fi);
		uint32_t freed = fi - st - ones_in(s->alloc_bits, st, fi);
		if (gc_st.cfg.poison)
			for (uint32_t i = st; i < fi; i++)
				if (!slot_pub(s, i))
					gc_poison_slot(s, i);
		if (freed) {
			s->nalloc -= freed;
			s->needzero = 1;
			bytes += (uint64_t)freed * s->elemsize;
			objects += freed;
		}
		__atomic_store_n(&s->freeindex, st, __ATOMIC_RELAXED);
		s->win_start = st;
		free_bytes += (uint64_t)(s->nelems - s->nalloc) * s->elemsize;
		gc_span_refill_cache(s);
		int spc = s->spanclass;
		if (!(seen[spc >> 6] >> (spc & 63) & 1) && s->nalloc < s->nelems) {
			seen[spc >> 6] |= (uint64_t)1 << (spc & 63);
			r->spans[spc] = s;
		}
		last = s;
		link = &s->next;
	}
	r->all_tail = last;
	r->no_run = region_pages + 1;
	free_bytes += (uint64_t)(region_pages - __builtin_popcountll(r->pages_used)) * GC_PAGE_SIZE;
	COUNT(rewinds, 1);
	COUNT(reclaimed_bytes, bytes);
	COUNT(reclaimed_objects, objects);
	COUNT(local_bytes, bytes);
	COUNT(local_objects, objects);
	return free_bytes;
}

static void check_heap(struct toc_region *only);

static void window_close(struct sched_g *g)
{
	struct toc_region **slot = g_window(g);
	struct toc_region *r = *slot;
	if (!r)
		return;
	*slot = NULL;
	r->owner = NULL;
	attach(NULL);
	gauge_add(&open_windows, &open_max, -1);
	COUNT(windows, 1);
	/* TOC_GCVERIFY=2, or =1 in checked builds, checks the invariant first,
	 * with the world stopped; the stop is a safepoint, so the window is
	 * judged inside it. */
	bool stopped = gc_st.cfg.verify >= 2 || (gc_st.cfg.verify >= 1 && TOC_CHECK_LEVEL >= 2);
	if (stopped)
		sched_stop_the_world();
	bool clean = fresh(r) && !r->opened_marking && atomic_load(&gc_st.phase) == GC_PHASE_OFF &&
		     atomic_load(&gc_st.cycle) == r->cycle;
	if (!clean) {
		if (stopped)
			sched_start_the_world();
		COUNT(forfeits, 1);
		region_retire(r, true);
		return;
	}
	if (stopped)
		check_heap(r);
	uint64_t free_bytes = window_rewind(r);
	if (stopped)
		sched_start_the_world();
	if (free_bytes * 2 < r->len) {
		/* Mostly published objects, which only a cycle frees: a
		 * window here would soon spill to the shared caches. */
		COUNT(regions_full, 1);
		region_retire(r, false);
		return;
	}
	pool_put(r);
}

/* Publishes what the live stack [sp, top) and the spilled callee-saved
 * registers point to in the window. noinline: its frame is below every
 * frame of the caller's, and __builtin_unwind_init spills the registers
 * into it. */
GC_NO_ASAN __attribute__((noinline)) static void publish_own_stack(struct toc_region *r)
{
	__builtin_unwind_init();
	uintptr_t sp;
	__asm__ volatile("movq %%rsp, %0" : "=r"(sp));
	const uintptr_t *top = sched_g_stack_top(sched_self());
	for (const uintptr_t *p = (const uintptr_t *)(sp & ~(uintptr_t)7); p < top; p++) {
		uintptr_t v = *p;
		if (v - r->lo < r->len)
			publish(r, v, PUB_STACK);
	}
	__asm__ volatile("" ::: "memory");
}

static void boundary(void)
{
	struct sched_g *g = sched_self();
	if (!gc_layer || !g)
		return;
	struct toc_region *r = *g_window(g);
	if (!r)
		return;
	if (fresh(r))
		publish_own_stack(r);
	window_close(g);
}

void toc_begin(void)
{
	boundary();
}

void toc_end(void)
{
	boundary();
}

/* --- hooks ------------------------------------------------------------------------------------- */

static void hook_spawn(struct sched_g *parent, struct sched_g *child)
{
	if (!parent)
		return;
	struct toc_region *r = *g_window(parent);
	if (r && fresh(r) && parent == sched_self())
		publish(r, (uintptr_t)sched_g_arg(child), PUB_SPAWN);
}

static void hook_exit(struct sched_g *g)
{
	window_close(g);
}

static void hook_park(struct sched_g *g)
{
	(void)g;
}

static void hook_resume(struct sched_g *g)
{
	attach(*g_window(g));
}

static void hook_send(const void *elem, size_t size)
{
	struct toc_region *r = current();
	if (!r)
		return;
	uintptr_t a = ((uintptr_t)elem + 7) & ~(uintptr_t)7;
	for (; a + 8 <= (uintptr_t)elem + size; a += 8) {
		uintptr_t v;
		memcpy(&v, (const void *)a, sizeof v);
		if (v - r->lo < r->len)
			publish(r, v, PUB_SEND);
	}
}

/* --- the invariant -------------------------------------------------------------------------------- */

/* Is p inside an unpublished object of a live window? Returns its region. */
static struct toc_region *unpublished_anywhere(uintptr_t p, struct gc_span **sp, uint32_t *ip)
{
	struct gc_span *s;
	uint32_t idx;
	if (!gc_find_object(p, &s, &idx) || !s->window)
		return NULL;
	struct toc_region *r = s->window;
	if (!fresh(r) || !unpublished(r, s, idx))
		return NULL;
	*sp = s;
	*ip = idx;
	return r;
}

static void report(const char *what, uintptr_t from, struct gc_span *fs, uintptr_t to, struct gc_span *ts,
		   struct toc_region *owner)
{
	gc_fatal("toc invariant: %s %p (span %p, %zu B, window %p) points to unpublished object %p "
		 "(span %p, %zu B, slot %u, window %p [%p, %p))",
		 what, (void *)from, fs ? (void *)fs->base : NULL, fs ? fs->elemsize : 0,
		 fs ? fs->window : NULL, (void *)to, (void *)ts->base, ts->elemsize,
		 gc_span_index(ts, to), (void *)owner, (void *)owner->lo, (void *)(owner->lo + owner->len));
}

/* Checks every pointer field of every allocated object that is not an
 * unpublished object of the same window (world stopped). only: when not
 * NULL, only pointers into that window are checked. */
static void check_heap(struct toc_region *only)
{
	for (struct gc_arena *a = gc_heap.arenas; a; a = a->next) {
		for (size_t pg = 0; pg < GC_ARENA_PAGES; pg++) {
			struct gc_span *s = atomic_load(&a->spans[pg]);
			if (!s || s->base != a->base + pg * GC_PAGE_SIZE || s->noscan ||
			    atomic_load(&s->state) != GC_SPAN_INUSE)
				continue;
			/* Unswept spans may hold garbage that points at slots
			 * sweeping freed and windows reuse: swept ones only. */
			uint32_t sg = atomic_load(&gc_heap.sweepgen), have = atomic_load(&s->sweepgen);
			if (have != sg && have != sg + 3)
				continue;
			for (uint32_t i = 0; i < s->nelems; i++) {
				if (!gc_span_allocated(s, i))
					continue;
				struct toc_region *fr = s->window && fresh(s->window) && unpublished(s->window, s, i)
								? s->window : NULL;
				uintptr_t obj = s->base + (uintptr_t)i * s->elemsize;
				struct worklist w = {.v = NULL, .n = 0, .cap = 64};
				w.v = w.inline_buf;
				/* Every field, not only those into one region: push_fields filters by range. */
				struct toc_region all = {.lo = 0, .len = UINTPTR_MAX};
				push_fields(&w, &all, s, i, obj);
				for (size_t k = 0; k < w.n; k++) {
					struct gc_span *ts;
					uint32_t ti;
					struct toc_region *tr = unpublished_anywhere(w.v[k], &ts, &ti);
					if (tr && tr != fr && (!only || tr == only))
						report(fr ? "window object" : "published object", obj, s, w.v[k], ts, tr);
				}
				if (w.v != w.inline_buf)
					free(w.v);
			}
		}
	}
}

/* Other goroutines' stacks. A stack word is conservative and may be stale
 * (a dead local of an earlier transaction whose region another goroutine
 * now owns), so a hit is not proof: it is reported, with both sides, and
 * counted (stack_suspects), not fatal. */
static unsigned suspects_reported;

GC_NO_ASAN static void check_stack(struct sched_g *g, const void *lo, const void *hi, void *arg)
{
	(void)arg;
	uintptr_t a = ((uintptr_t)lo + 7) & ~(uintptr_t)7;
	for (; a + 8 <= (uintptr_t)hi; a += 8) {
		uintptr_t v = *(const uintptr_t *)a;
		struct gc_span *ts;
		uint32_t ti;
		struct toc_region *tr = v >= 4096 ? unpublished_anywhere(v, &ts, &ti) : NULL;
		if (!tr || tr->owner == g)
			continue;
		COUNT(stack_suspects, 1);
		if (suspects_reported++ < 8)
			fprintf(stderr,
				"toc verify: the stack of goroutine %llu (word at %p) points to unpublished object "
				"%p (span %p, %zu B, slot %u) of goroutine %llu's window %p [%p, %p) (a stack word "
				"may be stale: a suspect, not proof)\n",
				(unsigned long long)sched_g_id(g), (void *)a, (void *)v, (void *)ts->base, ts->elemsize,
				ti, tr->owner ? (unsigned long long)sched_g_id(tr->owner) : 0ull, (void *)tr,
				(void *)tr->lo, (void *)(tr->lo + tr->len));
	}
}

static void layer_verify(void)
{
	check_heap(NULL);
	sched_visit_stacks_stopped(check_stack, NULL);
}

/* --- set-up ---------------------------------------------------------------------------------------- */

static int layer_init(const struct gc_config *cfg)
{
	region_pages = cfg->region_pages ? cfg->region_pages : 64;
	if (region_pages < 8 || region_pages > 64) {
		fprintf(stderr, "toc: TOC_REGION=%d pages: must be 8..64\n", region_pages);
		return -1;
	}
	gc_local_large_pages = (size_t)region_pages / 4;
	/* Kept from one gc_init to the next: the programs read them after the run. */
	if (!counters)
		counters = aligned_alloc(64, sizeof(struct toc_counters) * (SCHED_MAX_PROCS + 1));
	if (!counters)
		gc_fatal("toc: out of memory for counters");
	memset(counters, 0, sizeof(struct toc_counters) * (SCHED_MAX_PROCS + 1));
	atomic_store(&owned_bytes, 0);
	atomic_store(&owned_max, 0);
	atomic_store(&reserved_bytes, 0);
	atomic_store(&open_windows, 0);
	atomic_store(&open_max, 0);
	atomic_store(&claimed_sg, 0);
	registry = NULL;
	memset(pools, 0, sizeof pools);
	memset(pool_len, 0, sizeof pool_len);
	return 0;
}

/* After sched_run: the heap goes away with the arenas; only the structs remain. */
static void layer_fini(void)
{
	while (registry) {
		struct toc_region *r = registry;
		registry = r->reg_next;
		free(r->pub);
		free(r);
	}
	/* The counters stay readable after the run (the programs print them). */
}

static const struct gc_layer toc_layer = {
	.name = "toc",
	.init = layer_init,
	.fini = layer_fini,
	.refill = layer_refill,
	.alloc_large = layer_alloc_large,
	.store = layer_store,
	.publish = layer_publish,
	.claim = layer_claim,
	.verify = layer_verify,
	.trace = layer_trace,
	.hooks = {.spawn = hook_spawn, .exit = hook_exit, .park = hook_park, .resume = hook_resume, .send = hook_send},
};

__attribute__((constructor)) static void toc_register(void)
{
	gc_register_layer(&toc_layer);
}
