/*
 * verify.c — the layer's invariants, checked with the world stopped
 * (TOC_GCVERIFY):
 *   1. no object other than an unpublished object of the same window
 *      points to an unpublished window object (the heap and the registered
 *      roots; a violation is fatal and names both objects). A word of
 *      another goroutine's stack is conservative and may be stale, so a
 *      stack hit is a suspect: reported, counted (stack_suspects), not
 *      fatal;
 *   2. in every live region, what escaped is what the published bits say:
 *      a slot's alloc bit and the region's bit for the object's first
 *      granule agree, every span is the region's, and its window lies
 *      inside it (win_start <= freeindex <= nelems);
 *   3. at mark termination every live region was swept for the current
 *      sweepgen before the mark began (a stale region's mark bits would
 *      be this cycle's and its alloc bits the last one's).
 *
 * Invariant 1 is about pointers a program can follow. At mark termination
 * the collector's own verifier has just traced the heap again from every
 * root and found each object it reached marked, so an unmarked object is
 * one nothing reaches: a dead object, which a window keeps until its
 * rewind whatever the marks say. Its fields may hold anything a dead
 * object can (a pointer to an object of an earlier window, freed since,
 * whose slot another window now owns), and no program can load them, so
 * the heap walk reads marked objects only. At a window's end every
 * unpublished object of the closing region is garbage the rewind frees:
 * what it points to no longer matters, and the check reads the region's
 * published objects (which stay) and the roots.
 *
 * Where each is checked:
 *   - every cycle's mark termination (toc_verify): all three over the
 *     whole heap, the roots and the stacks;
 *   - every window's end with TOC_GCVERIFY=2, or =1 in checked builds
 *     (toc_check_window, before the rewind; toc_check_region after it):
 *     invariant 2 for the closing region, and invariant 1 for the published
 *     objects of its spans and for the roots. That is the part a rewind acts on:
 *     it frees the unpublished slots, so a published object or a root
 *     pointing to one, or a published bit that disagrees with the alloc
 *     bit, is the dangling pointer it would make. The cost is the
 *     region's and the roots', not the heap's: a window can close while a
 *     mark runs rather than wait behind a heap walk. A shared object or
 *     another window's object pointing into the region is left to the
 *     next mark termination (with cycles back to back, a few milliseconds
 *     later); by then the slot was freed, and the collector's verifier
 *     reports the pointer to a free slot, or invariant 1 the pointer to
 *     the unpublished object that took the slot.
 */
#include <stdio.h>

#include "window.h"

/* Is p inside an unpublished object of a live window? Returns its region. */
static struct toc_region *unpublished_anywhere(uintptr_t p, struct gc_span **sp, uint32_t *ip)
{
	struct gc_span *s;
	uint32_t idx;
	if (!gc_find_object(p, &s, &idx) || !s->layer.window)
		return NULL;
	struct toc_region *r = s->layer.window;
	if (atomic_load_explicit(&r->state, memory_order_acquire) == TOC_REGION_DEAD || !toc_unpublished(r, s, idx))
		return NULL;
	*sp = s;
	*ip = idx;
	return r;
}

/* from: an object (fs its span) or a root slot (fs NULL). */
static void report(const char *what, uintptr_t from, struct gc_span *fs, uintptr_t to, struct gc_span *ts,
		   struct toc_region *owner)
{
	char src[192] = "";
	if (fs) {
		uint32_t fi = gc_span_index(fs, from);
		snprintf(src, sizeof src, " (span %p, %zu B, slot %u, window %p, alloc %d mark %d ws %u fi %u sg %u)",
			 (void *)fs->base, fs->elemsize, fi, fs->layer.window, gc_bit(fs->alloc_bits, fi),
			 gc_bit(fs->mark_bits, fi), fs->layer.win_start, fs->freeindex, atomic_load(&fs->sweepgen));
	}
	uint32_t ti = gc_span_index(ts, to);
	gc_fatal("toc invariant: %s %p%s points to unpublished object %p (span %p, %zu B, slot %u, window %p [%p, %p), "
		 "mark %d ws %u fi %u sg %u; region sg %u state %d owner %llu; heap sg %u, marking %d, cycle %llu)",
		 what, (void *)from, src, (void *)to, (void *)ts->base, ts->elemsize, ti, (void *)owner,
		 (void *)owner->lo, (void *)(owner->lo + owner->len), gc_bit(ts->mark_bits, ti), ts->layer.win_start,
		 ts->freeindex, atomic_load(&ts->sweepgen), atomic_load(&owner->sg), atomic_load(&owner->state),
		 owner->owner ? (unsigned long long)sched_g_id(owner->owner) : 0ull, gc_layer_sweepgen(),
		 gc_layer_marking(), (unsigned long long)gc_layer_cycle());
}

struct check {
	bool marked_only;          /* mark termination: skip what the trace did not reach */
	bool published_only;       /* a window's end: skip what the rewind frees */
	struct toc_region *from_r; /* the object's own window when it is unpublished there */
	struct gc_span *from_s;
	uintptr_t from;
};

static void check_field(void *arg, uintptr_t v)
{
	struct check *c = arg;
	struct gc_span *ts;
	uint32_t ti;
	struct toc_region *tr = unpublished_anywhere(v, &ts, &ti);
	if (tr && tr != c->from_r)
		report(c->from_r ? "window object" : "published object", c->from, c->from_s, v, ts, tr);
}

static void check_object(void *arg, struct gc_span *s, uint32_t idx, uintptr_t obj)
{
	struct check *c = arg;
	if (c->marked_only && !gc_bit(s->mark_bits, idx))
		return;
	struct toc_region *w = s->layer.window;
	c->from_r = w && atomic_load_explicit(&w->state, memory_order_acquire) != TOC_REGION_DEAD &&
			    toc_unpublished(w, s, idx) ? w : NULL;
	if (c->published_only && c->from_r)
		return;
	c->from_s = s;
	c->from = obj;
	gc_layer_object_fields(s, idx, obj, check_field, c);
}

static void check_root(void *arg, void **slot, uintptr_t v)
{
	(void)arg;
	struct gc_span *ts;
	uint32_t ti;
	struct toc_region *tr = v >= 4096 ? unpublished_anywhere(v, &ts, &ti) : NULL;
	if (tr)
		report("root slot", (uintptr_t)slot, NULL, v, ts, tr);
}

static void check_heap(void)
{
	struct check c = {.marked_only = true};
	gc_layer_walk_objects(check_object, &c);
	gc_layer_walk_roots(check_root, NULL);
}

static bool region_published(const struct toc_region *r, uintptr_t obj)
{
	uintptr_t off = obj - r->lo;
	return (__atomic_load_n(&r->pub[off >> 9], __ATOMIC_RELAXED) >> ((off >> 3) & 63)) & 1;
}

void toc_check_region(const struct toc_region *r)
{
	for (const struct gc_span *s = r->all; s; s = s->layer.all_next) {
		if (s->layer.window != r || s->base < r->lo || s->base - r->lo >= r->len)
			gc_fatal("toc invariant: span %p in the list of region %p [%p, %p) belongs to window %p",
				 (void *)s->base, (void *)r, (void *)r->lo, (void *)(r->lo + r->len), s->layer.window);
		if (s->layer.win_start > s->freeindex || s->freeindex > s->nelems)
			gc_fatal("toc invariant: span %p of region %p: window [%u, %u) outside its %u slots",
				 (void *)s->base, (void *)r, s->layer.win_start, s->freeindex, s->nelems);
		for (uint32_t i = 0; i < s->nelems; i++) {
			uintptr_t obj = s->base + (uintptr_t)i * s->elemsize;
			if (gc_layer_span_published(s, i) != region_published(r, obj))
				gc_fatal("toc invariant: object %p (span %p, slot %u, %zu B) of region %p: alloc bit %d "
					 "but published bit %d",
					 (void *)obj, (void *)s->base, i, s->elemsize, (void *)r,
					 gc_layer_span_published(s, i), region_published(r, obj));
		}
	}
}

void toc_check_window(struct toc_region *r)
{
	toc_check_region(r);
	struct check c = {.published_only = true};
	for (struct gc_span *s = r->all; s; s = s->layer.all_next)
		for (uint32_t i = 0; !s->noscan && i < s->nelems; i++)
			if (gc_span_allocated(s, i))
				check_object(&c, s, i, s->base + (uintptr_t)i * s->elemsize);
	gc_layer_walk_roots(check_root, NULL);
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
		TOC_COUNT(stack_suspects, 1);
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

void toc_verify(void)
{
	toc_regions_check();
	check_heap();
	sched_visit_stacks_stopped(check_stack, NULL);
}
