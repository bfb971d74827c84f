/*
 * publish.c — publication: an object of the running window, and every
 * unpublished window object it reaches, becomes published (its alloc bit
 * and its region bit set) when a pointer to it leaves the goroutine: a
 * store into a published object or a root (the barrier's slow path), a
 * channel send, a goroutine's argument, toc_publish and finalizers, and
 * toc_end's scan of the goroutine's own stack (window.c).
 *
 * The walk keeps an explicit work list (no recursion: a published list of
 * a million nodes is one walk) and looks only at pointers into the window's
 * range; what it finds outside is already shared.
 */
#include <stdlib.h>
#include <string.h>

#include "window.h"

TOC_KEEP_LAYER;

struct worklist {
	uintptr_t *v;
	size_t n, cap;
	uintptr_t inline_buf[64];
	const struct toc_region *r;   /* only pointers into its range are pushed */
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

/* gc_layer_object_fields' visitor: a field into the window is pushed. */
static void push_local(void *arg, uintptr_t p)
{
	struct worklist *w = arg;
	if (p - w->r->lo < w->r->len)
		wl_push(w, p);
}

void toc_publish_in(struct toc_region *r, uintptr_t p, enum toc_pub_point why)
{
	if (p - r->lo >= r->len)
		return;
	struct worklist w = {.v = NULL, .n = 0, .cap = 64, .r = r};
	w.v = w.inline_buf;
	wl_push(&w, p);
	uint64_t objects = 0, bytes = 0, walked = 0;
	while (w.n) {
		uintptr_t x = w.v[--w.n];
		walked++;
		struct gc_span *s = gc_span_of(x);
		if (!s || s->layer.window != r)
			continue;
		uint32_t idx = gc_span_index(s, x);
		if (idx >= s->nelems || !toc_unpublished(r, s, idx))
			continue;
		uintptr_t obj = s->base + (uintptr_t)idx * s->elemsize;
		gc_layer_span_publish(s, idx);
		uintptr_t off = obj - r->lo;
		__atomic_fetch_or(&r->pub[off >> 9], (uint64_t)1 << ((off >> 3) & 63), __ATOMIC_RELAXED);
		objects++;
		bytes += s->elemsize;
		gc_layer_object_fields(s, idx, obj, push_local, &w);
	}
	if (w.v != w.inline_buf)
		free(w.v);
	TOC_COUNT(walked_objects, walked);
	if (!objects)
		return;
	TOC_COUNT(publish_walks, 1);
	TOC_COUNT(published_objects, objects);
	TOC_COUNT(published_bytes, bytes);
	TOC_COUNT(local_bytes, bytes);
	TOC_COUNT(local_objects, objects);
	switch (why) {
	case TOC_PUB_STORE: TOC_COUNT(pub_store, objects); break;
	case TOC_PUB_SEND: TOC_COUNT(pub_send, objects); break;
	case TOC_PUB_SPAWN: TOC_COUNT(pub_spawn, objects); break;
	case TOC_PUB_STACK: TOC_COUNT(pub_stack, objects); break;
	case TOC_PUB_API: TOC_COUNT(pub_api, objects); break;
	}
}

/* The barrier's slow path: the inline test found val unpublished in the
 * window (or could not tell: interior pointers, marking on). */
void toc_store(void *obj, void *val)
{
	struct toc_region *r = toc_current();
	if (!r || (uintptr_t)val - r->lo >= r->len)
		return;
	TOC_COUNT(slow_stores, 1);
	uintptr_t o = (uintptr_t)obj;
	if (o - r->lo < r->len) {
		struct gc_span *s = gc_span_of(o);
		if (s && s->layer.window == r) {
			uint32_t idx = gc_span_index(s, o);
			if (idx < s->nelems && toc_unpublished(r, s, idx)) {
				if (TOC_CHECK_LEVEL >= 1 && s->base + (uintptr_t)idx * s->elemsize != o)
					gc_fatal("gc_store: obj %p is not the start of its object (%p, %zu B); "
						 "the transaction layer needs the object's start",
						 obj, (void *)(s->base + (uintptr_t)idx * s->elemsize), s->elemsize);
				return;   /* into an unpublished object of the window */
			}
		}
	}
	toc_publish_in(r, (uintptr_t)val, TOC_PUB_STORE);
}

void toc_publish_api(const void *p)
{
	struct toc_region *r = toc_current();
	if (r)
		toc_publish_in(r, (uintptr_t)p, TOC_PUB_API);
}

void toc_publish(const void *p)
{
	if (gc_layer)
		toc_publish_api(p);
}

bool toc_enabled(void)
{
	return gc_layer != NULL;
}

/* A goroutine's argument is handed to it: published by the parent. */
void toc_hook_spawn(struct sched_g *parent, struct sched_g *child)
{
	if (!parent)
		return;
	struct toc_region *r = toc_g_region(parent);
	if (r && parent == sched_self() && toc_region_ready(r))
		toc_publish_in(r, (uintptr_t)sched_g_arg(child), TOC_PUB_SPAWN);
}

/* A channel send: every word of the value that points into the window. */
void toc_hook_send(const void *elem, size_t size)
{
	struct toc_region *r = toc_current();
	if (!r)
		return;
	uintptr_t a = ((uintptr_t)elem + 7) & ~(uintptr_t)7;
	for (; a + 8 <= (uintptr_t)elem + size; a += 8) {
		uintptr_t v;
		memcpy(&v, (const void *)a, sizeof v);
		if (v - r->lo < r->len)
			toc_publish_in(r, v, TOC_PUB_SEND);
	}
}
