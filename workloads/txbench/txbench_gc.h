/*
 * txbench_gc.h — what txbench's gc backend (txbench_gc.c) lends the servers
 * that run the same handler on toc's runtime (httpd): the heap, the store,
 * the handler's whole response, and the figures of a timed part in
 * txbench's JSON keys. Call from goroutines of a runtime started with gc_run.
 */
#ifndef TXBENCH_GC_H
#define TXBENCH_GC_H

#include "toc/gc.h"
#include "toc/toc.h"
#include "txbench.h"

/* The heap of the modes toc, cms and stw (txbench_heap.h): typed objects
 * from toc's collector, stores through its write barrier. */
struct txb_heap;
extern const struct txb_heap txb_gc_heap;

/* Builds the shared store of o->nkeys records under a registered root. */
void txb_gc_build_store(const struct txb_options *o);
void txb_gc_drop_store(void);

/* Runs the handler on one request; *resp points to the HTTP response in
 * the heap (len bytes returned), alive while the caller holds *resp. */
size_t txb_gc_respond(const char *text, size_t len, const char **resp);

/* The collector's and the layer's counters at a moment, and the figures of
 * the part between two such moments (seconds, procs, cycles, GC CPU,
 * pauses, allocation, RSS and, with the layer on, its fractions and
 * statistics) into r. */
struct txb_gc_snap {
	struct gc_stats gc;
	struct toc_stats toc;
	struct bench_rusage ru;
	int64_t ns;
};
/* Reads the counters; begin: the timed part starts here (the heap maxima
 * restart from the current heap). */
void txb_gc_snap(struct txb_gc_snap *s, bool begin);
void txb_gc_figures(struct txb_result *r, const struct txb_gc_snap *before, const struct txb_gc_snap *after);

#endif /* TXBENCH_GC_H */
