/*
 * gcbench.h — what the parts of gcbench share.
 *
 * gcbench runs one workload (GCBench and/or binary-trees, see gcbench_work.c)
 * over one of four heaps, chosen by --mode:
 *
 *   cms, stw   toc's collector (toc/gc.h) on goroutines    gcbench_toc.c
 *   boehm      bdwgc 8.2 on pthreads                      gcbench_boehm.c
 *   malloc     malloc/free on pthreads                    gcbench_malloc.c
 *
 * The workload reaches its heap only through struct gcb_heap (allocation)
 * and gcb_store (pointer stores, in gcbench_work.c), so every mode runs the
 * same code. bdwgc must not see goroutine stacks it cannot scan, hence
 * pthreads for the two modes that are not toc's.
 *
 * This header includes neither toc's toc/gc.h nor bdwgc's <gc.h>: the two
 * cannot share a translation unit (bdwgc's <gc.h> includes <gc/gc.h>, which
 * toc's include directory shadows), so gcbench_boehm.c is compiled without
 * toc's headers and sees only this file.
 */
#ifndef GCBENCH_H
#define GCBENCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "benchutil.h"

struct gc_config;

/* --- options and results --------------------------------------------------- */

enum gcb_mode {
	GCB_MODE_CMS,     /* toc, concurrent mark-sweep */
	GCB_MODE_STW,     /* toc, stop-the-world mark-sweep */
	GCB_MODE_BOEHM,   /* bdwgc, parallel-marking stop-the-world */
	GCB_MODE_MALLOC,  /* malloc/free, explicit frees */
	GCB_MODE_TOC,     /* toc, concurrent mark-sweep with the transaction layer on */
};

/* Which programs a worker runs (bits; both by default). */
enum gcb_bench {
	GCB_BENCH_GCBENCH = 1,
	GCB_BENCH_BINARYTREES = 2,
	GCB_BENCH_BOTH = 3,
	GCB_BENCH_MUTATE = 4,   /* a shared long-lived tree mutated in place (gcbench_work.c) */
};

#define GCB_GOGC_OFF (-1)   /* same value as toc's GC_GOGC_OFF */
#define GCB_MIN_DEPTH 4     /* shallowest trees of the iterated phases */
#define GCB_ARRAY_DOUBLES 500000  /* GCBench's long-lived pointer-free array */
#define GCB_MAX_WORKERS 65536

struct gcb_options {
	enum gcb_mode mode;
	unsigned bench;                   /* GCB_BENCH_* bits */
	int workers;                      /* independent copies of the workload */
	int procs;                        /* scheduler worker threads (cms/stw) */
	int max_depth;                    /* deepest iterated tree; stretch tree is one deeper */
	int long_lived_depth;             /* GCBench's long-lived tree; mutate: each worker's tree */
	int64_t mutations;                /* mutate: steps per worker */
	int64_t parked;                   /* parked goroutines holding heap pointers (cms/stw) */
	int64_t live_mb;                  /* extra live heap kept to the end, MiB */
	int gogc;                         /* percent, or GCB_GOGC_OFF */
	uint64_t memlimit;                /* soft limit in bytes (hard for boehm); 0 none */
	bool json;                        /* one JSON object on stdout */
	const struct gc_config *gc_cfg;   /* toc's knobs, parsed by gcbench.c */
};

/* What a backend measured. NAN in a double means "not measured in this
 * mode" and prints as null. */
struct gcb_result {
	double seconds;                   /* wall time of the timed workload */
	uint64_t gc_cycles;               /* collections during it */
	double gc_cpu_fraction;           /* collector CPU / (seconds * procs) */
	double gc_cpu_seconds;            /* collector CPU during it */
	uint64_t stw_count;               /* stop-the-world pauses during it */
	double stw_max_us;                /* longest of them */
	double stw_p99_us;                /* 99th percentile of them */
	double stw_ttsp_max_us;           /* longest wait for workers to stop (whole process); NAN: none */
	double peak_heap_mb;              /* largest sampled heap in use */
	double goal_mb;                   /* heap goal in force at that sample */
	double pacer_peak_over_goal;      /* max of the sampled paced heap / goal */
	double allocated_mb;              /* bytes allocated during it */
	int procs;                        /* threads the workload ran on */
	int markers;                      /* boehm: parallel marker threads; else 0 */
	uint64_t nodes_checked;           /* sum of the workers' checksums */
	struct bench_cpu_figures cpu;     /* the process's CPU and the collector's split */
	char toc_stats[4096];             /* toc mode: the layer's statistics as JSON members; else "" */
};

/* --- the heap interface ------------------------------------------------------ */

/* A tree node of GCBench and binary-trees: two pointers and two ints. */
struct gcb_node {
	struct gcb_node *left;   /* NULL in a leaf */
	struct gcb_node *right;  /* NULL in a leaf */
	int i;                   /* payload, unused (as in GCBench) */
	int j;                   /* payload, unused */
};

/* A 64-byte node of the --live-mb heap: a list link, an optional pointer to
 * a 1 KiB pointer-free buffer, and payload words that are not pointers. */
struct gcb_live {
	struct gcb_live *next;   /* next node of the same list */
	void *buf;               /* every 16th node: a 1 KiB buffer; else NULL */
	uint64_t payload[6];     /* small integers */
};

/* One mode's allocator. Every function returns zeroed memory (toc and Go
 * zero every object; malloc mode pays for calloc, boehm for a memset of
 * atomic objects) and never returns NULL (out of memory is fatal). */
struct gcb_heap {
	const char *name;
	struct gcb_node *(*node)(void);     /* a tree node (pointerful) */
	struct gcb_live *(*live)(void);     /* a live-heap node (pointerful) */
	void **(*ptrs)(size_t n);           /* n pointer slots, n > 0 */
	void *(*noscan)(size_t bytes);      /* pointer-free bytes, never scanned */
	void (*release)(void *p);           /* free(); NULL where a collector reclaims */
	bool barrier;                       /* pointer stores go through gc_store */
};

/* --- the workload (gcbench_work.c) ------------------------------------------- */

/* Selects the heap for every later call; before any worker starts. */
void gcb_use_heap(const struct gcb_heap *h);
/* Runs one worker's copy of the workload; returns the number of nodes it
 * counted, which gcb_expected_nodes predicts. Worker 0 reports progress. */
uint64_t gcb_work(const struct gcb_options *o, int worker);
uint64_t gcb_expected_nodes(const struct gcb_options *o);

/* The --live-mb heap hangs from this slot (a registered root in toc modes;
 * in bdwgc's modes a static it scans with the data segment). */
extern void *gcb_live_root;
/* mutate: worker w's tree hangs from gcb_shared[w] (registered roots in toc
 * modes; a static bdwgc scans with the data segment). */
extern void *gcb_shared[GCB_MAX_WORKERS];
void gcb_live_build(uint64_t bytes);
/* Counts the live heap's nodes and buffers; exits with a message if any
 * node is missing or damaged. */
void gcb_live_check(uint64_t bytes);

/* Runs o->workers copies of gcb_work on threads made by create and waited
 * for by join (pthread_create/pthread_join, or bdwgc's GC_pthread_create/
 * GC_pthread_join, which register the threads with it). Returns the wall
 * time in seconds; the sum of the node counts goes to *nodes. */
typedef int (*gcb_thread_create_fn)(pthread_t *t, const pthread_attr_t *attr,
				    void *(*fn)(void *), void *arg);
typedef int (*gcb_thread_join_fn)(pthread_t t, void **ret);
double gcb_threads_run(const struct gcb_options *o, gcb_thread_create_fn create,
		       gcb_thread_join_fn join, uint64_t *nodes);

/* The shared helpers (benchutil.h) under gcbench's names. */
#define gcb_now_ns bench_now_ns
#define gcb_peak_rss_mb bench_peak_rss_mb
#define gcb_pause_figures bench_pause_figures
#define gcb_fatal bench_fatal
#define gcb_progress bench_progress

/* --- the backends ---------------------------------------------------------- */

/* Each sets up its heap, builds the --live-mb heap, runs the workers, and
 * fills *r. Returns 0, or -1 after a message on stderr. */
int gcb_toc_run(const struct gcb_options *o, struct gcb_result *r);
int gcb_boehm_run(const struct gcb_options *o, struct gcb_result *r);
int gcb_malloc_run(const struct gcb_options *o, struct gcb_result *r);

#endif /* GCBENCH_H */
