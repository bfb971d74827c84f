/*
 * finalizer.c — finalizers: a record ("special") on the object's span,
 * found by the sweeper, run on a goroutine of their own.
 *
 * Life of a finalizer (Go's scheme):
 *   1. gc_set_finalizer adds a special to the span (sorted by offset) and
 *      puts the span on the heap's list of spans with specials.
 *   2. Each mark phase treats every object with a finalizer as a root for
 *      what it points to, but not for itself, concurrently with the
 *      program: no stop-the-world work grows with the number of
 *      finalizers.
 *   3. Sweeping a span finds unmarked objects with specials: it marks them
 *      (so they survive this sweep), moves the record to the finalizer
 *      queue and wakes the finalizer goroutine.
 *   4. Queued objects are roots until their finalizer has run; then the
 *      object is unreachable and a later cycle reclaims it.
 * None of this runs with the world stopped.
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

struct fin_entry {
	struct fin_entry *next;
	void *obj;
	void (*fn)(void *obj, void *arg);
	void *arg;
};

static int queue_lock;
static struct fin_entry *queue_head, *queue_tail; /* queue_lock */
static struct fin_entry *running;                 /* the entry being run: a root; queue_lock */
static struct sched_chan *fin_wake;

int gc_set_finalizer(void *obj, void (*fn)(void *obj, void *arg), void *arg)
{
	struct gc_span *s;
	uint32_t idx;
	uintptr_t base = gc_find_object((uintptr_t)obj, &s, &idx);
	if (!base || base != (uintptr_t)obj || !gc_span_allocated(s, idx)) {
		errno = EINVAL;
		return -1;
	}
	/* The finalizer goroutine will get obj and arg: a hand-over (and a
	 * rewound slot must never carry a finalizer). */
	if (gc_layer && fn) {
		gc_layer->publish(obj);
		gc_layer->publish(arg);
	}
	uint32_t off = (uint32_t)((uintptr_t)obj - s->base);
	gc_lock(&s->specials_lock);
	struct gc_special **pp = &s->specials;
	while (*pp && (*pp)->offset < off)
		pp = &(*pp)->next;
	if (*pp && (*pp)->offset == off) {
		if (fn) {
			(*pp)->fn = fn;
			(*pp)->arg = arg;
		} else {
			struct gc_special *dead = *pp;
			*pp = dead->next;
			free(dead);
		}
		gc_unlock(&s->specials_lock);
		return 0;
	}
	if (!fn) {
		gc_unlock(&s->specials_lock);
		return 0;
	}
	struct gc_special *sp = malloc(sizeof *sp);
	if (!sp)
		gc_fatal("gc_set_finalizer: out of memory");
	sp->offset = off;
	sp->fn = fn;
	sp->arg = arg;
	sp->next = *pp;
	*pp = sp;
	gc_unlock(&s->specials_lock);
	/* While marking, the new root's referents must not be missed even if
	 * the caller drops obj before the mark ends: shade them now. */
	if (atomic_load(&gc_st.phase) == GC_PHASE_MARK) {
		int w = sched_worker_index();
		if (w >= 0)
			gc_scan_object(gc_caches[w].barrier, s, idx, (uintptr_t)obj);
	}
	gc_lock(&gc_heap.special_lock);
	if (!s->on_special_list) {
		s->on_special_list = true;
		s->special_next = gc_heap.special_spans;
		gc_heap.special_spans = s;
	}
	gc_unlock(&gc_heap.special_lock);
	return 0;
}

void gc_finalizer_mark_roots(struct gc_marker *m)
{
	gc_lock(&gc_heap.special_lock);
	struct gc_span **pp = &gc_heap.special_spans;
	while (*pp) {
		struct gc_span *s = *pp;
		gc_lock(&s->specials_lock);
		bool empty = s->specials == NULL;
		for (struct gc_special *sp = s->specials; sp; sp = sp->next) {
			uintptr_t obj = s->base + sp->offset;
			gc_scan_object(m, s, s->large ? 0 : gc_span_index(s, obj), obj);
		}
		gc_unlock(&s->specials_lock);
		if (empty) {
			/* Dropped from the list; set_finalizer adds it again. */
			*pp = s->special_next;
			s->on_special_list = false;
		} else {
			pp = &s->special_next;
		}
	}
	gc_unlock(&gc_heap.special_lock);
}

void gc_finalizer_forget_span(struct gc_span *s)
{
	gc_lock(&gc_heap.special_lock);
	if (s->on_special_list) {
		struct gc_span **pp = &gc_heap.special_spans;
		while (*pp && *pp != s)
			pp = &(*pp)->special_next;
		if (*pp)
			*pp = s->special_next;
		s->on_special_list = false;
	}
	gc_unlock(&gc_heap.special_lock);
}

void gc_finalizer_mark_queue(struct gc_marker *m)
{
	gc_lock(&queue_lock);
	for (struct fin_entry *e = queue_head; e; e = e->next)
		gc_shade(m, (uintptr_t)e->obj);
	if (running)
		gc_shade(m, (uintptr_t)running->obj);
	gc_unlock(&queue_lock);
}

void gc_finalizer_sweep(struct gc_span *s)
{
	gc_lock(&s->specials_lock);
	struct gc_special **pp = &s->specials;
	while (*pp) {
		struct gc_special *sp = *pp;
		uint32_t idx = s->large ? 0 : gc_span_index(s, s->base + sp->offset);
		if (gc_bit(s->mark_bits, idx)) {
			pp = &sp->next;
			continue;
		}
		*pp = sp->next;
		gc_bit_test_and_set(s->mark_bits, idx);  /* kept until its finalizer ran */
		struct fin_entry *e = malloc(sizeof *e);
		if (!e)
			gc_fatal("finalizer queue: out of memory");
		e->next = NULL;
		e->obj = (void *)(s->base + sp->offset);
		e->fn = sp->fn;
		e->arg = sp->arg;
		free(sp);
		gc_lock(&queue_lock);
		if (queue_tail)
			queue_tail->next = e;
		else
			queue_head = e;
		queue_tail = e;
		gc_unlock(&queue_lock);
	}
	gc_unlock(&s->specials_lock);
}

static void finalizer_main(void *arg)
{
	(void)arg;
	uint8_t token;
	while (sched_chan_recv(fin_wake, &token)) {
		for (;;) {
			gc_lock(&queue_lock);
			struct fin_entry *e = queue_head;
			if (e) {
				queue_head = e->next;
				if (!queue_head)
					queue_tail = NULL;
			}
			running = e;
			gc_unlock(&queue_lock);
			if (!e)
				break;
			e->fn(e->obj, e->arg);
			gc_lock(&queue_lock);
			running = NULL;
			gc_unlock(&queue_lock);
			free(e);
			gc_stat_add(&gc_counters.finalizers_run, 1);
		}
	}
}

void gc_finalizer_start(void)
{
	fin_wake = sched_chan_new(1, 1);
	if (!fin_wake || !sched_go(finalizer_main, NULL))
		gc_fatal("cannot start the finalizer goroutine");
}

void gc_finalizer_wake(void)
{
	uint8_t token = 1;
	if (fin_wake && __atomic_load_n(&queue_head, __ATOMIC_RELAXED))
		sched_chan_trysend(fin_wake, &token);
}

void gc_finalizer_fini(void)
{
	struct fin_entry *e = queue_head;
	while (e) {
		struct fin_entry *n = e->next;
		free(e);
		e = n;
	}
	queue_head = queue_tail = running = NULL;
	sched_chan_free(fin_wake);  /* its goroutine was discarded: see gc_fini */
	fin_wake = NULL;
}
