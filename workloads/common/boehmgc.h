/*
 * boehmgc.h — bdwgc as the programs' boehm mode uses it: set-up from GOGC
 * and a memory limit, collection events timed into cycles, GC CPU and
 * pauses, and a sampler of the heap in use. Shared by gcbench and txbench;
 * the file that includes bdwgc's header is boehmgc.c (see its comment for
 * how GOGC maps to bdwgc's free space divisor and how GC CPU is counted).
 */
#ifndef BOEHMGC_H
#define BOEHMGC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BGC_GOGC_OFF (-1)

/* GC_INIT with one marker per worker and the heap budget of gogc (percent
 * or BGC_GOGC_OFF) and memlimit (bytes, 0 none). Prints the divisor chosen.
 * From then on an allocation that fails is fatal, with a message naming
 * it: GC_MALLOC and GC_MALLOC_ATOMIC never return NULL. */
void bgc_init(int markers, int gogc, uint64_t memlimit);

/* The timed part: begin starts recording collections and the heap sampler,
 * end stops both and fills f; seconds is the timed part's wall time. */
struct bgc_figures {
	uint64_t cycles;
	double gc_cpu_seconds;      /* collection wall time x markers */
	double gc_cpu_fraction;     /* collection wall time / seconds */
	uint64_t pauses;
	double stw_max_us, stw_p99_us;
	int markers;
	uint64_t peak_heap_bytes;   /* sampled every millisecond */
	uint64_t allocated_bytes;   /* GC_get_total_bytes over the timed part */
};
void bgc_begin(void);
void bgc_end(double seconds, struct bgc_figures *f);
/* Since bgc_init: the collections completed and their wall time (the
 * event callbacks'), and unless inuse is NULL the heap in use now (bdwgc's
 * statistics, under its lock). From any thread, registered with bdwgc or
 * not. */
void bgc_read(uint64_t *cycles, uint64_t *gc_ns, uint64_t *inuse);
/* The CPU figures of a timed part (benchutil.h) from its getrusage readings
 * and bdwgc's figures: bdwgc collects with the world stopped, so its
 * estimate is pause CPU; its lazy sweep and the split are not measured
 * (null). */
struct bench_cpu_figures;
struct bench_rusage;
void bgc_cpu_figures(struct bench_cpu_figures *out, const struct bgc_figures *f, const struct bench_rusage *before,
		     const struct bench_rusage *after);

#endif /* BOEHMGC_H */
