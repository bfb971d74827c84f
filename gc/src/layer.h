/*
 * layer.h — the boundary between the heap and collector (gc/) and a
 * transaction layer (toc/): the only gc header the layer includes. Not
 * installed.
 *
 * The two sides:
 *   - gc calls the layer through struct gc_layer, a table toc registers at
 *     program start and gc uses when TOC_MODE=toc: allocation refills and
 *     large objects, the barrier's slow path, publication, the sweeper's
 *     claim, the flip, verification, trace, and the scheduler hooks;
 *   - the layer calls gc through the gc_layer_* operations below: pages
 *     taken from and given back to the page heap, spans made over its own
 *     pages, the few span changes a window needs (rewind, publish, release,
 *     drop), the objects' pointer fields, a walk over the heap, and the
 *     collector's state.
 * The layer may read a span's fields (span.h) but writes only its own
 * block (struct gc_span_layer); every other change goes through an
 * operation here, so the span invariants stay gc's to keep.
 *
 * Small classes up to GC_LOCAL_MAX_SIZE are allocated from the running
 * window's spans while the layer has attached them to the worker
 * (gc_layer_attach); larger ones up to gc_local_large_pages pages are local
 * large objects (alloc_large).
 */
#ifndef GC_LAYER_H
#define GC_LAYER_H

#include "toc/sched.h"
#include "span.h"

#define GC_LOCAL_MAX_SIZE 2048

/* nelems 0: stands for "no span" in every allocation slot. */
extern struct gc_span gc_empty_span;

struct gc_layer {
	const char *name;
	int (*init)(const struct gc_config *cfg);   /* before sched_run; -1 with a message */
	void (*fini)(void);                          /* after sched_run returned */
	/* The worker has no span for spc attached, or it is full: open or
	 * extend the running goroutine's window. Returns a span with a free
	 * slot for spc, or NULL: allocate from the shared cache. */
	struct gc_span *(*refill)(int spc);
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
	/* Mark termination, world stopped, sweepgen already moved: the layer
	 * decides what becomes of the windows (today: every worker is
	 * detached, gc_layer_detach_all, so each window's next allocation
	 * sees it stale). */
	void (*flip)(void);
	/* With the world stopped after mark: checks the layer's invariant. */
	void (*verify)(void);
	/* Bytes of the windows' spans the paced heap counts whole: memory
	 * their rewinds reuse, not the collector's cycles. The goal sits
	 * that much above GOGC's (pacer.c). NULL: none. */
	uint64_t (*window_bytes)(void);
	/* Appends the layer's figures to a gctrace line. */
	void (*trace)(char *buf, size_t len);
	struct sched_hooks hooks;                    /* chained after the collector's; any may be NULL */
};
void gc_register_layer(const struct gc_layer *layer);
extern const struct gc_layer *gc_layer;       /* non-NULL while TOC_MODE=toc */
extern size_t gc_local_large_pages;           /* the layer's bound for local large objects; set by its init */

/* --- the collector's state ------------------------------------------------------------------ */

uint32_t gc_layer_sweepgen(void);        /* the heap's sweepgen (+2 at every flip) */
uint64_t gc_layer_cycle(void);           /* cycles started */
bool gc_layer_marking(void);             /* a cycle is between sweep termination and the flip */
const struct gc_config *gc_layer_config(void);
_Noreturn void gc_out_of_memory(size_t request);

/* --- the running worker ------------------------------------------------------------------------ */

/* Points the calling worker's small-object allocation at spans (one per
 * span class: gc_empty_span, ask the layer's refill; NULL, the shared
 * cache), or, spans NULL, at none: each class's next allocation asks the
 * layer. */
void gc_layer_attach(struct gc_span **spans);
/* Every worker attached to none (the flip, and gc_init; world stopped). */
void gc_layer_detach_all(void);

/* --- pages ------------------------------------------------------------------------------------------ */

/* npages contiguous pages for the layer (unswept spans are swept first, as
 * before any growth of the heap); 0 when out of memory. */
uintptr_t gc_layer_pages_take(size_t npages, bool *zeroed);
/* Gives back pages of a run the layer took (no span over them). */
void gc_layer_pages_give(uintptr_t base, size_t npages);

/* --- spans over the layer's pages -------------------------------------------------------------- */

/* A span over npages of the layer's pages at base, owned by window and
 * counted as cached (swept for the current sweepgen) until released; its
 * kind is set by gc_layer_span_small or by the large-object path. NULL
 * when no span struct can be had. */
struct gc_span *gc_layer_span_at(uintptr_t base, size_t npages, void *window);
/* Makes s a span of span class spc; zeroed: its pages read as zero (they
 * are prefaulted writable). Its slots count in the paced heap. */
void gc_layer_span_small(struct gc_span *s, int spc, bool zeroed);
/* Is slot idx published (its alloc bit set)? */
static inline bool gc_layer_span_published(const struct gc_span *s, uint32_t idx)
{
	return gc_bit(s->alloc_bits, idx);
}
/* Publishes slot idx: its alloc bit is set, so rewind keeps it. */
void gc_layer_span_publish(struct gc_span *s, uint32_t idx);
/* Slots of the window in s not published: [layer.win_start, freeindex)
 * less the alloc bits there. */
uint32_t gc_layer_span_unpublished(const struct gc_span *s);
/* Rewinds s: the unpublished window slots (alloc bit 0 in
 * [layer.win_start, freeindex)) become free (poisoned in poison mode);
 * freeindex and layer.win_start move to the span's first free slot, and
 * allocation skips the allocated ones after it. Returns the slots freed. */
uint32_t gc_layer_span_rewind(struct gc_span *s);
/* After a flip, s (cached across it, sweepgen + 1) is swept for the owner:
 * marked objects keep their alloc bits, an unmarked allocated one loses it
 * (dead(arg, s, idx) is called for each: the layer forgets it was
 * published), unpublished window objects stay as they are, the mark bits
 * are cleared and s is cached and swept (sweepgen + 3). The caller
 * excludes every other user of s and brackets a run of these calls with
 * gc_layer_sweep_begin/end, which sweep termination waits for. cached: s
 * counts whole in the paced heap (a window may allocate from it), so its
 * free slots are counted again after the flip; else only what survives. */
void gc_layer_span_sweep(struct gc_span *s, void (*dead)(void *arg, struct gc_span *s, uint32_t idx), void *arg,
			 bool cached);
/* The paced heap counts a cached span whole. A window's small span that a
 * sweep left uncounted (cached false above: no window allocated from it)
 * counts its free slots again when a window takes it back. */
void gc_layer_span_cache(struct gc_span *s);
void gc_layer_sweep_begin(void);
void gc_layer_sweep_end(void);
/* Does s have a free slot at or after freeindex (s left as it was)? */
bool gc_layer_span_has_free(struct gc_span *s);
/* Hands s to the central lists as any cached span (its layer block cleared). */
void gc_layer_span_release(struct gc_span *s);
/* Frees s, pages and all, if it is a small span holding no object, swept
 * and cached, and the collector is not marking; returns whether it did.
 * An empty span released to the central lists waits there for shared
 * allocation, which toc mode rarely does, and only a cycle's sweep frees
 * it: retired regions' empty spans grew the heap with no cycle to come. */
bool gc_layer_span_free_empty(struct gc_span *s);
/* An unpublished local large object rewound while the collector marks:
 * its pages stay where they are (a marker may still hold it gray), but
 * nothing in it is scanned again (poisoned in poison mode). */
void gc_layer_span_kill_large(struct gc_span *s);
/* An unpublished local large object: its bytes leave the paced heap
 * (poisoned in poison mode) and the span is undone; the pages stay the
 * layer's. */
void gc_layer_span_drop_large(struct gc_span *s);

/* --- objects and the heap -------------------------------------------------------------------------- */

/* Calls visit(arg, value) for every pointer field of obj (slot idx of s),
 * by its type. */
void gc_layer_object_fields(const struct gc_span *s, uint32_t idx, uintptr_t obj,
			    void (*visit)(void *arg, uintptr_t value), void *arg);
/* World stopped: calls visit for every allocated object of every swept
 * span with pointers (unswept spans may hold garbage pointing anywhere). */
void gc_layer_walk_objects(void (*visit)(void *arg, struct gc_span *s, uint32_t idx, uintptr_t obj), void *arg);
/* Calls visit for every slot registered with gc_add_roots and the value
 * it holds (the verifier's way to the precise roots). */
void gc_layer_walk_roots(void (*visit)(void *arg, void **slot, uintptr_t value), void *arg);

#endif /* GC_LAYER_H */
