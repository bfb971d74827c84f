/*
 * verify.c — the layer's invariant, checked with the world stopped
 * (TOC_GCVERIFY): no object other than an unpublished object of the same
 * window points to an unpublished window object. A heap or root violation
 * is fatal and names both objects; a word of another goroutine's stack is
 * conservative and may be stale, so a stack hit is a suspect: reported,
 * counted (stack_suspects), not fatal.
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
	if (!toc_fresh(r) || !toc_unpublished(r, s, idx))
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
		 fs ? fs->layer.window : NULL, (void *)to, (void *)ts->base, ts->elemsize,
		 gc_span_index(ts, to), (void *)owner, (void *)owner->lo, (void *)(owner->lo + owner->len));
}

struct check {
	struct toc_region *only;   /* check pointers into this window alone, or every window */
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
	if (tr && tr != c->from_r && (!c->only || tr == c->only))
		report(c->from_r ? "window object" : "published object", c->from, c->from_s, v, ts, tr);
}

static void check_object(void *arg, struct gc_span *s, uint32_t idx, uintptr_t obj)
{
	struct check *c = arg;
	struct toc_region *w = s->layer.window;
	c->from_r = w && toc_fresh(w) && toc_unpublished(w, s, idx) ? w : NULL;
	c->from_s = s;
	c->from = obj;
	gc_layer_object_fields(s, idx, obj, check_field, c);
}

void toc_check_heap(struct toc_region *only)
{
	struct check c = {.only = only};
	gc_layer_walk_objects(check_object, &c);
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
	toc_check_heap(NULL);
	sched_visit_stacks_stopped(check_stack, NULL);
}
