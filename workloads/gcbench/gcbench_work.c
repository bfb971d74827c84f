/*
 * gcbench_work.c — the workload every mode of gcbench runs.
 *
 * Two programs on one tree node (struct gcb_node: two pointers, two ints),
 * written from their public descriptions:
 *
 * GCBench (Hans Boehm's collector benchmark, after Ellis and Kovac):
 *   1. a stretch tree of depth max+1, built bottom-up and dropped;
 *   2. a long-lived tree of depth --long-lived-depth, built top-down, and a
 *      long-lived array of 500,000 doubles (pointer-free), both kept to the end;
 *   3. for d = 4, 6, ..., max: n(d) = 2 * (size(max) / size(d)) trees of
 *      depth d built top-down (allocate the node, then store fresh children
 *      into it and recurse), then n(d) built bottom-up (children first, then
 *      the parent), each dropped at once; size(d) = 2^(d+1) - 1 nodes;
 *   4. the long-lived tree and array are checked.
 *
 * binary-trees (the Benchmarks Game's shape):
 *   1. a stretch tree of depth max+1, built bottom-up, counted, dropped;
 *   2. a long-lived tree of depth max;
 *   3. for d = 4, 6, ..., max: 2^(max - d + 4) trees of depth d, each built
 *      bottom-up, counted and dropped;
 *   4. the long-lived tree is counted.
 *
 * mutate (a store-heavy mutator, the barrier's worst case where TOC has
 * nothing to reclaim):
 *   1. each worker builds a tree of depth --long-lived-depth top-down and
 *      hangs it from its slot of gcb_shared (a root: in toc mode the tree is
 *      published then);
 *   2. --mutations steps, each walking a pseudo-random path to a node two
 *      levels above the leaves, then either swapping its two children (two
 *      stores of old objects into an old one) or giving it a fresh child of
 *      depth 1 (three allocations, two stores into the new node, one into
 *      the old: in toc mode that store publishes the new subtree), half and
 *      half; the tree keeps its size, the replaced subtrees are garbage;
 *   3. the tree is counted and let go.
 *
 * "Dropped" means forgotten in the collected modes and freed node by node in
 * malloc mode (which pays for its frees as a program without a collector
 * would). Pointer stores into heap objects go through STORE: toc's gc_store
 * (the write barrier) in the cms/stw modes, a plain store otherwise; the
 * test is on a flag fixed before the workers start, so it predicts perfectly.
 *
 * Each worker runs its own copy; the node counts it returns are checked
 * against gcb_expected_nodes by gcbench.c, so a collector that loses a live
 * node shows up as a wrong count (or a crash), not as a fast run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toc/gc.h"
#include "gcbench.h"

/* Set by gcb_use_heap before any worker starts; read-only afterwards. */
static const struct gcb_heap *heap;   /* the mode's allocator */
static bool barrier;                  /* heap->barrier, kept in its own word */

/* Stores val into the pointer field `field` of obj (obj NULL: a root). */
#define STORE(obj, field, val)                                                 \
	do {                                                                   \
		if (barrier)                                                   \
			gc_store((obj), &(field), (val));                      \
		else                                                           \
			(field) = (val);                                       \
	} while (0)

/* A safepoint poll in loops and recursions that do not allocate (allocation
 * polls): goroutines on this runtime are preempted only at polls, the
 * contract Go 1.13 kept with a check in every function prologue. Without it
 * a stop-the-world waits for a whole tree walk. The toc modes only. */
#define POLL()                                                                 \
	do {                                                                   \
		if (barrier)                                                   \
			sched_poll();                                          \
	} while (0)

void gcb_use_heap(const struct gcb_heap *h)
{
	heap = h;
	barrier = h->barrier;
}

static uint64_t tree_size(int depth)
{
	return ((uint64_t)1 << (depth + 1)) - 1;
}

/* --- trees -------------------------------------------------------------------- */

/* Bottom-up: both subtrees first, then the node that holds them. */
static struct gcb_node *make_tree(int depth)
{
	if (depth <= 0)
		return heap->node();
	struct gcb_node *left = make_tree(depth - 1);
	struct gcb_node *right = make_tree(depth - 1);
	struct gcb_node *n = heap->node();
	STORE(n, n->left, left);
	STORE(n, n->right, right);
	return n;
}

/* Top-down: n exists already; give it two fresh children, then fill them. */
static void populate(int depth, struct gcb_node *n)
{
	if (depth <= 0)
		return;
	struct gcb_node *left = heap->node();
	STORE(n, n->left, left);
	struct gcb_node *right = heap->node();
	STORE(n, n->right, right);
	populate(depth - 1, left);
	populate(depth - 1, right);
}

static uint64_t count(const struct gcb_node *n)
{
	if (!n)
		return 0;
	POLL();
	return 1 + count(n->left) + count(n->right);
}

static void free_tree(struct gcb_node *n)
{
	while (n) {
		struct gcb_node *right = n->right;
		free_tree(n->left);
		heap->release(n);
		n = right;
	}
}

static void drop(struct gcb_node *n)
{
	if (heap->release)
		free_tree(n);
}

/* --- the two programs ----------------------------------------------------- */

static uint64_t gcbench_trees(int max_depth, int depth)
{
	return 2 * (tree_size(max_depth) / tree_size(depth));
}

static uint64_t binarytrees_trees(int max_depth, int depth)
{
	return (uint64_t)1 << (max_depth - depth + 4);
}

static uint64_t run_gcbench(const struct gcb_options *o, bool report)
{
	int max = o->max_depth;
	int64_t t0 = gcb_now_ns();

	drop(make_tree(max + 1));

	struct gcb_node *long_lived = heap->node();
	populate(o->long_lived_depth, long_lived);
	double *array = heap->noscan(GCB_ARRAY_DOUBLES * sizeof(double));
	for (int i = 1; i < GCB_ARRAY_DOUBLES / 2; i++) {
		array[i] = 1.0 / i;
		if ((i & 4095) == 0)
			POLL();
	}
	if (report)
		gcb_progress("GCBench: stretch tree and long-lived data built (%.3f s)",
			     (double)(gcb_now_ns() - t0) / 1e9);

	for (int d = GCB_MIN_DEPTH; d <= max; d += 2) {
		int64_t td = gcb_now_ns();
		uint64_t n = gcbench_trees(max, d);
		for (uint64_t i = 0; i < n; i++) {
			struct gcb_node *t = heap->node();
			populate(d, t);
			drop(t);
		}
		for (uint64_t i = 0; i < n; i++)
			drop(make_tree(d));
		if (report)
			gcb_progress("GCBench: depth %2d: %llu trees top-down, %llu bottom-up (%.3f s)", d,
				     (unsigned long long)n, (unsigned long long)n,
				     (double)(gcb_now_ns() - td) / 1e9);
	}

	uint64_t nodes = count(long_lived);
	if (array[1000] != 1.0 / 1000 || array[GCB_ARRAY_DOUBLES / 2 - 1] != 1.0 / (GCB_ARRAY_DOUBLES / 2 - 1))
		gcb_fatal(1, "gcbench: the long-lived array was damaged");
	drop(long_lived);
	if (heap->release)
		heap->release(array);
	return nodes;
}

static uint64_t run_binarytrees(const struct gcb_options *o, bool report)
{
	int max = o->max_depth;
	int64_t t0 = gcb_now_ns();

	struct gcb_node *t = make_tree(max + 1);
	uint64_t nodes = count(t);
	drop(t);

	struct gcb_node *long_lived = make_tree(max);
	if (report)
		gcb_progress("binary-trees: stretch and long-lived trees built (%.3f s)",
			     (double)(gcb_now_ns() - t0) / 1e9);

	for (int d = GCB_MIN_DEPTH; d <= max; d += 2) {
		int64_t td = gcb_now_ns();
		uint64_t n = binarytrees_trees(max, d);
		for (uint64_t i = 0; i < n; i++) {
			t = make_tree(d);
			nodes += count(t);
			drop(t);
		}
		if (report)
			gcb_progress("binary-trees: depth %2d: %llu trees (%.3f s)", d, (unsigned long long)n,
				     (double)(gcb_now_ns() - td) / 1e9);
	}

	nodes += count(long_lived);
	drop(long_lived);
	return nodes;
}

void *gcb_shared[GCB_MAX_WORKERS];

static struct gcb_node *pair_of_leaves(void)
{
	struct gcb_node *n = heap->node();
	struct gcb_node *l = heap->node();
	STORE(n, n->left, l);
	struct gcb_node *r = heap->node();
	STORE(n, n->right, r);
	return n;
}

static uint64_t run_mutate(const struct gcb_options *o, int worker, bool report)
{
	int depth = o->long_lived_depth;
	int64_t t0 = gcb_now_ns();
	struct gcb_node *root = heap->node();
	populate(depth, root);
	STORE(NULL, gcb_shared[worker], root);
	root = NULL;
	uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(worker + 1);
	int64_t step = o->mutations / 10 ? o->mutations / 10 : 1;
	for (int64_t m = 0; m < o->mutations; m++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		struct gcb_node *n = gcb_shared[worker];
		for (int d = 0; d < depth - 2; d++)
			n = (x >> d) & 1 ? n->right : n->left;
		if ((x >> 40) & 1) {
			struct gcb_node *l = n->left;
			STORE(n, n->left, n->right);
			STORE(n, n->right, l);
		} else {
			struct gcb_node *fresh = pair_of_leaves(), *old;
			if ((x >> 41) & 1) {
				old = n->left;
				STORE(n, n->left, fresh);
			} else {
				old = n->right;
				STORE(n, n->right, fresh);
			}
			drop(old);
		}
		if ((m & 1023) == 0)
			POLL();
		if (report && (m + 1) % step == 0)
			gcb_progress("mutate: %lld of %lld steps (%.3f s)", (long long)(m + 1),
				     (long long)o->mutations, (double)(gcb_now_ns() - t0) / 1e9);
	}
	struct gcb_node *t = gcb_shared[worker];
	uint64_t nodes = count(t);
	STORE(NULL, gcb_shared[worker], NULL);
	drop(t);
	return nodes;
}

uint64_t gcb_work(const struct gcb_options *o, int worker)
{
	uint64_t nodes = 0;
	if (o->bench & GCB_BENCH_MUTATE)
		nodes += run_mutate(o, worker, worker == 0);
	if (o->bench & GCB_BENCH_GCBENCH)
		nodes += run_gcbench(o, worker == 0);
	if (o->bench & GCB_BENCH_BINARYTREES)
		nodes += run_binarytrees(o, worker == 0);
	return nodes;
}

uint64_t gcb_expected_nodes(const struct gcb_options *o)
{
	uint64_t nodes = 0;
	int max = o->max_depth;
	if (o->bench & (GCB_BENCH_GCBENCH | GCB_BENCH_MUTATE))
		nodes += tree_size(o->long_lived_depth);
	if (o->bench & GCB_BENCH_BINARYTREES) {
		nodes += tree_size(max + 1) + tree_size(max);
		for (int d = GCB_MIN_DEPTH; d <= max; d += 2)
			nodes += binarytrees_trees(max, d) * tree_size(d);
	}
	return nodes;
}

/* --- the --live-mb heap ---------------------------------------------------------- */

/*
 * 64-byte nodes on GCB_LIVE_LISTS singly linked lists, whose heads sit in one
 * pointer array hung from gcb_live_root; every 16th node also points to a
 * 1 KiB pointer-free buffer. So half the bytes are scanned nodes (pointer
 * chasing, the expensive part of marking) and half are buffers the marker
 * only has to mark. Many short lists rather than one long one, so that
 * parallel markers are not serialized on a single chain.
 */
#define GCB_LIVE_LISTS 1024
#define GCB_LIVE_BUF 1024
#define GCB_LIVE_BUF_EVERY 16
#define GCB_LIVE_BYTES_PER_NODE (sizeof(struct gcb_live) + GCB_LIVE_BUF / GCB_LIVE_BUF_EVERY)

void *gcb_live_root;

static uint64_t live_nodes(uint64_t bytes, size_t *lists)
{
	uint64_t n = bytes / GCB_LIVE_BYTES_PER_NODE;
	*lists = n < GCB_LIVE_LISTS ? (size_t)n : GCB_LIVE_LISTS;
	return n;
}

void gcb_live_build(uint64_t bytes)
{
	size_t lists;
	uint64_t n = live_nodes(bytes, &lists);
	if (!n)
		return;
	void **heads = heap->ptrs(lists);
	STORE(NULL, gcb_live_root, heads);
	for (uint64_t k = 0; k < n; k++) {
		struct gcb_live *x = heap->live();
		x->payload[0] = k;
		if (k % GCB_LIVE_BUF_EVERY == 0) {
			char *buf = heap->noscan(GCB_LIVE_BUF);
			memcpy(buf, &k, sizeof k);
			STORE(x, x->buf, buf);
		}
		size_t l = (size_t)(k % lists);
		STORE(x, x->next, (struct gcb_live *)heads[l]);
		STORE(heads, heads[l], x);
	}
}

void gcb_live_check(uint64_t bytes)
{
	size_t lists;
	uint64_t n = live_nodes(bytes, &lists), seen = 0;
	if (!n)
		return;
	void **heads = gcb_live_root;
	for (size_t l = 0; l < lists; l++)
		for (const struct gcb_live *x = heads[l]; x; x = x->next) {
			uint64_t k = x->payload[0], mark = 0;
			POLL();
			if (k >= n || k % lists != l)
				gcb_fatal(1, "live heap: list %zu holds a damaged node (payload %llu)", l,
					  (unsigned long long)k);
			if (k % GCB_LIVE_BUF_EVERY == 0) {
				if (!x->buf)
					gcb_fatal(1, "live heap: node %llu lost its buffer", (unsigned long long)k);
				memcpy(&mark, x->buf, sizeof mark);
				if (mark != k)
					gcb_fatal(1, "live heap: the buffer of node %llu was damaged",
						  (unsigned long long)k);
			}
			seen++;
		}
	if (seen != n)
		gcb_fatal(1, "live heap: %llu nodes reachable, %llu built", (unsigned long long)seen,
			  (unsigned long long)n);
}

/* --- pthread workers (boehm and malloc modes) ------------------------------------ */

struct gcb_thread {
	const struct gcb_options *o;
	int index;
	uint64_t nodes;
};

static void *thread_main(void *arg)
{
	struct gcb_thread *t = arg;
	t->nodes = gcb_work(t->o, t->index);
	return NULL;
}

double gcb_threads_run(const struct gcb_options *o, gcb_thread_create_fn create,
		       gcb_thread_join_fn join, uint64_t *nodes)
{
	struct gcb_thread *args = calloc((size_t)o->workers, sizeof *args);
	pthread_t *threads = calloc((size_t)o->workers, sizeof *threads);
	if (!args || !threads)
		gcb_fatal(1, "out of memory for %d workers", o->workers);
	int64_t t0 = gcb_now_ns();
	for (int i = 0; i < o->workers; i++) {
		args[i] = (struct gcb_thread){o, i, 0};
		int err = create(&threads[i], NULL, thread_main, &args[i]);
		if (err)
			gcb_fatal(1, "cannot start worker thread %d: %s", i, strerror(err));
	}
	*nodes = 0;
	for (int i = 0; i < o->workers; i++) {
		join(threads[i], NULL);
		*nodes += args[i].nodes;
	}
	double seconds = (double)(gcb_now_ns() - t0) / 1e9;
	free(args);
	free(threads);
	return seconds;
}
