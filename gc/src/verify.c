/*
 * verify.c — the heap verifier (TOC_GCVERIFY=1, Go's gccheckmark).
 *
 * At mark termination, with the world stopped and the concurrent mark
 * finished, it marks the heap again from scratch into separate check bits:
 * registered roots, finalizer roots and queue, and every goroutine stack
 * (conservatively). Every object it reaches must already carry a mark bit;
 * one that does not is an object the concurrent mark missed and the sweep
 * would free while reachable. Every precise pointer it follows must lead to
 * an allocated slot: one that leads to a reclaimed (in poison mode,
 * poisoned) slot is a dangling pointer. Either aborts with a report naming
 * the object, its span and how it was reached.
 *
 * This is stop-the-world work proportional to the heap: a debugging mode,
 * never on in measurements.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void describe(FILE *f, const char *what, uintptr_t p)
{
	struct gc_span *s;
	uint32_t idx;
	uintptr_t obj = gc_find_object(p, &s, &idx);
	if (!obj) {
		fprintf(f, "  %s %p: not in a heap span\n", what, (void *)p);
		return;
	}
	const char *type = s->noscan ? "noscan" : s->large ? (s->large_type ? s->large_type->name : "?")
				  : s->types && s->types[idx] ? s->types[idx]->name : "scan (pointer bits)";
	fprintf(f, "  %s %p: object %p, slot %u of span %p (class %d, %zu B slots, %u slots, sweepgen %u, heap %u), "
		   "type %s, alloc bit %d, mark bit %d, freeindex %u\n",
		what, (void *)p, (void *)obj, idx, (void *)s->base, s->spanclass >> 1, s->elemsize, s->nelems,
		atomic_load(&s->sweepgen), atomic_load(&gc_heap.sweepgen), type, gc_bit(s->alloc_bits, idx),
		gc_bit(s->mark_bits, idx), s->freeindex);
}

static _Noreturn void report(const char *problem, uintptr_t p, uintptr_t from, const char *root)
{
	fprintf(stderr, "gc verify: %s (cycle %" PRIu64 ")\n", problem, atomic_load(&gc_st.cycle));
	describe(stderr, "target", p);
	if (from)
		describe(stderr, "reached from", from);
	else
		fprintf(stderr, "  reached from %s\n", root);
	struct gc_span *ts;
	uint32_t tidx;
	if (gc_st.cfg.poison && gc_find_object(p, &ts, &tidx) && *(uint64_t *)(p & ~(uintptr_t)7) == GC_POISON_WORD)
		fprintf(stderr, "  the target holds the poison pattern: it was reclaimed\n");
	gc_fatal("heap verification failed");
}

static const char *root_desc = "a registered root";

static void check_and_shade(struct gc_marker *m, uintptr_t p, uintptr_t from, bool conservative)
{
	if (!conservative && p == GC_POISON_WORD && gc_st.cfg.poison)
		report("a pointer field holds the poison pattern: its object was reclaimed while reachable, "
		       "or the value was loaded from a reclaimed slot", from, 0, root_desc);
	struct gc_span *s = gc_span_of(p);
	if (!s) {
		if (!conservative && gc_arena_of(p))
			report("pointer into free pages of the heap", p, from, root_desc);
		return;
	}
	uint32_t idx;
	uintptr_t obj = gc_find_object(p, &s, &idx);
	if (!obj)
		return; /* past the last slot: a tail pointer, not an object */
	if (!gc_span_allocated(s, idx)) {
		if (!conservative)
			report("pointer to a free slot", p, from, root_desc);
		return;
	}
	if (!gc_bit(s->mark_bits, idx)) {
		if (conservative)
			return; /* a stale stack word: nothing the mutator can load */
		report("reachable object was not marked by the concurrent mark", p, from, root_desc);
	}
	gc_shade_obj(m, s, idx, obj);
}

void gc_verify_field(struct gc_marker *m, uintptr_t p, uintptr_t from)
{
	check_and_shade(m, p, from, false);
}

void gc_verify_word(struct gc_marker *m, uintptr_t p)
{
	check_and_shade(m, p, 0, true);
}

static char stack_desc[96];

GC_NO_ASAN static void visit_stack(struct sched_g *g, const void *lo, const void *hi, void *arg)
{
	struct gc_marker *m = arg;
	snprintf(stack_desc, sizeof stack_desc, "the stack of goroutine %" PRIu64, sched_g_id(g));
	root_desc = stack_desc;
	gc_scan_conservative(m, lo, hi);   /* m->checkmark: gc_verify_word per word */
	root_desc = "a registered root";
}

/* Every span in use gets zeroed check bits. */
static void for_each_span(void (*fn)(struct gc_span *s))
{
	for (struct gc_arena *a = gc_heap.arenas; a; a = a->next) {
		for (size_t i = 0; i < GC_ARENA_PAGES; i++) {
			struct gc_span *s = atomic_load(&a->spans[i]);
			if (s && s->base == a->base + i * GC_PAGE_SIZE)
				fn(s);
		}
	}
}

static void alloc_check_bits(struct gc_span *s)
{
	if (!s->check_bits) {
		s->check_bits = calloc(s->nbits_words, sizeof(uint64_t));
		if (!s->check_bits)
			gc_fatal("verifier: out of memory");
	} else {
		memset(s->check_bits, 0, s->nbits_words * sizeof(uint64_t));
	}
	if (TOC_CHECK_LEVEL >= 1)
		gc_span_check(s);
}

static void free_check_bits(struct gc_span *s)
{
	free(s->check_bits);
	s->check_bits = NULL;
}

void gc_verify_heap(void)
{
	for_each_span(alloc_check_bits);
	struct gc_marker m;
	gc_marker_init(&m, true);
	root_desc = "a registered root, a finalizer root or the finalizer queue";
	gc_roots_scan_all(&m);
	root_desc = "a registered root";
	sched_visit_stacks_stopped(visit_stack, &m);
	gc_drain(&m, 0, false);
	gc_marker_flush(&m);
	for_each_span(free_check_bits);
	if (gc_layer)
		gc_layer->verify();
}
