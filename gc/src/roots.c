/*
 * roots.c — registered roots: pointer slots outside the heap (globals,
 * malloc'd tables) the program names with gc_add_roots. Scanned once per
 * cycle, concurrently; writes to them go through gc_store(NULL, ...), whose
 * barrier covers the rest of the cycle. The values waiting in channel
 * buffers are roots too, scanned the same way; a send during the mark
 * shades what it sends (the send hook in cycle.c).
 */
#include <stdlib.h>

#include "internal.h"
#include "toc/chan.h"

struct root_range {
	void **slots;
	size_t n;
};

static int roots_lock;
static struct root_range *roots;  /* roots_lock */
static size_t nroots, roots_cap;  /* roots_lock */
static uint64_t root_bytes;       /* roots_lock */

void gc_add_roots(void **slots, size_t n)
{
	gc_lock(&roots_lock);
	if (nroots == roots_cap) {
		size_t cap = roots_cap ? roots_cap * 2 : 16;
		struct root_range *r = realloc(roots, cap * sizeof *r);
		if (!r)
			gc_fatal("gc_add_roots: out of memory");
		roots = r;
		roots_cap = cap;
	}
	roots[nroots].slots = slots;
	roots[nroots].n = n;
	nroots++;
	root_bytes += n * sizeof(void *);
	gc_unlock(&roots_lock);
}

void gc_remove_roots(void **slots)
{
	gc_lock(&roots_lock);
	for (size_t i = 0; i < nroots; i++) {
		if (roots[i].slots == slots) {
			root_bytes -= roots[i].n * sizeof(void *);
			roots[i] = roots[--nroots];
			break;
		}
	}
	gc_unlock(&roots_lock);
}

void gc_roots_scan(struct gc_marker *m)
{
	gc_lock(&roots_lock);
	for (size_t i = 0; i < nroots; i++)
		for (size_t k = 0; k < roots[i].n; k++) {
			uintptr_t v = (uintptr_t)__atomic_load_n(&roots[i].slots[k], __ATOMIC_RELAXED);
			if (v < 4096)
				continue;
			if (m->checkmark)
				gc_verify_field(m, v, 0);
			else
				gc_shade(m, v);
		}
	gc_unlock(&roots_lock);
}

void gc_layer_walk_roots(void (*visit)(void *arg, void **slot, uintptr_t value), void *arg)
{
	gc_lock(&roots_lock);
	for (size_t i = 0; i < nroots; i++)
		for (size_t k = 0; k < roots[i].n; k++)
			visit(arg, &roots[i].slots[k], (uintptr_t)__atomic_load_n(&roots[i].slots[k], __ATOMIC_RELAXED));
	gc_unlock(&roots_lock);
}

/* Values waiting in channel buffers: words, conservatively (an element may
 * be a struct with pointers among other data). */
static void chan_values(const void *lo, const void *hi, void *arg)
{
	gc_scan_conservative(arg, lo, hi);
}

void gc_roots_scan_all(struct gc_marker *m)
{
	gc_roots_scan(m);
	sched_visit_chan_values(chan_values, m);
	gc_finalizer_mark_roots(m);
	gc_finalizer_mark_queue(m);
}

uint64_t gc_roots_bytes(void)
{
	return __atomic_load_n(&root_bytes, __ATOMIC_RELAXED);
}

void gc_roots_fini(void)
{
	free(roots);
	roots = NULL;
	nroots = roots_cap = 0;
	root_bytes = 0;
}
