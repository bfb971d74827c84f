/*
 * barrierbench — the cost of one pointer store through gc_store, with the
 * transaction layer on and off, and of publishing.
 *
 *   cms_store_ns               TOC_MODE=cms, collector not marking: the store
 *                              a program pays with the layer off
 *   toc_fast_local_ns          TOC_MODE=toc: a window object into a window object
 *   toc_fast_public_ns         TOC_MODE=toc: a published object (of the window)
 *                              into a published object
 *   toc_fast_shared_ns         TOC_MODE=toc: an object outside the window into
 *                              an object outside it (the shared store's case)
 *   toc_publish_per_object_ns  the slow path: storing the head of a chain of
 *                              --chain window objects into a root publishes
 *                              the chain; time / objects published
 *
 * The store loops write --stores stores over 64 objects (each store into
 * the next object's field, so no two consecutive stores hit one line), in
 * one goroutine; each figure is the median of --runs. The runtime is
 * started once per mode in this process (cms first, then toc).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toc/gc.h"
#include "toc/knob.h"
#include "toc/sched.h"
#include "toc/toc.h"

struct node {
	struct node *next, *other;
	long pad;
};
GC_TYPE(node_type, struct node, next, other);

struct options {
	int64_t stores, chain, runs;
	bool json;
};
static struct options opt = {.stores = 100000000, .chain = 1000, .runs = 5, .json = false};

enum fig { CMS_STORE, TOC_LOCAL, TOC_PUBLIC, TOC_SHARED, TOC_PUBLISH, NFIG };
static const char *const fig_names[NFIG] = {"cms_store_ns", "toc_fast_local_ns", "toc_fast_public_ns",
					    "toc_fast_shared_ns", "toc_publish_per_object_ns"};
static double figs[NFIG][64];
static void *root;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: barrierbench [options]\n"
		"Nanoseconds per pointer store through the write barrier, with the transaction\n"
		"layer on (toc) and off (cms), and per object published by the slow path.\n\n"
		"  --json          print one JSON object on stdout\n"
		"  --stores=N      stores per timed loop (default 100000000)\n"
		"  --chain=N       window objects per publish (default 1000)\n"
		"  --runs=N        timed runs per figure; the median is reported (default 5)\n"
		"  --help          this text\n\n"
		"Figures: cms_store_ns, toc_fast_local_ns, toc_fast_public_ns, toc_fast_shared_ns,\n"
		"toc_publish_per_object_ns, and the ratios toc_local_over_cms, toc_public_over_cms.\n"
		"Collector knobs (TOC_GOGC, ...) apply; TOC_MODE is set by the program per figure.\n");
}

static double median(double *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Stores into objs[i].other the object after it; ns per store. */
static __attribute__((noinline)) double store_loop(struct node **objs)
{
	int64_t t0 = sched_nanotime();
	for (int64_t i = 0; i < opt.stores; i++) {
		struct node *o = objs[i & 63];
		gc_store(o, &o->other, objs[(i + 1) & 63]);
		if ((i & 0xffff) == 0)
			sched_poll();
	}
	return (double)(sched_nanotime() - t0) / (double)opt.stores;
}

static void make(struct node **objs)
{
	for (int i = 0; i < 64; i++)
		objs[i] = gc_alloc(&node_type);
}

static void cms_main(void *arg)
{
	(void)arg;
	struct node *objs[64];
	make(objs);
	for (int r = 0; r < opt.runs; r++)
		figs[CMS_STORE][r] = store_loop(objs);
}

static void toc_main(void *arg)
{
	(void)arg;
	struct node *objs[64];
	for (int r = 0; r < opt.runs; r++) {
		toc_end();
		make(objs);   /* window objects */
		figs[TOC_LOCAL][r] = store_loop(objs);
		for (int i = 0; i < 64; i++)
			toc_publish(objs[i]);
		figs[TOC_PUBLIC][r] = store_loop(objs);
	}
	/* Objects outside the window: allocated by a goroutine that exits
	 * after publishing them (its window rewinds; they stay). */
	gc_store(NULL, &root, NULL);
	void **shared = gc_alloc_array(&gc_type_ptr, 64);
	gc_store(NULL, &root, shared);
	for (int i = 0; i < 64; i++)
		gc_store(shared, &shared[i], gc_alloc(&node_type));
	toc_end();
	struct node *outside[64];
	for (int i = 0; i < 64; i++)
		outside[i] = shared[i];
	for (int r = 0; r < opt.runs; r++)
		figs[TOC_SHARED][r] = store_loop(outside);
	for (int r = 0; r < opt.runs; r++) {
		int64_t published = 0, ns = 0;
		for (int rep = 0; rep < 20; rep++) {
			toc_end();
			struct node *head = NULL;
			for (int64_t i = 0; i < opt.chain; i++) {
				struct node *n = gc_alloc(&node_type);
				gc_store(n, &n->next, head);
				head = n;
			}
			struct toc_stats s0, s1;
			toc_read_stats(&s0);
			int64_t t0 = sched_nanotime();
			gc_store(NULL, &root, head);
			ns += sched_nanotime() - t0;
			toc_read_stats(&s1);
			published += (int64_t)(s1.published_objects - s0.published_objects);
			gc_store(NULL, &root, NULL);
		}
		figs[TOC_PUBLISH][r] = published ? (double)ns / (double)published : -1;
	}
}

static void run(bool toc, void (*fn)(void *))
{
	struct gc_config cfg;
	char err[256];
	if (gc_config_from_env(&cfg, err, sizeof err)) {
		fprintf(stderr, "barrierbench: %s\n", err);
		exit(2);
	}
	if (gc_config_set(&cfg, "mode", "--mode", toc ? "toc" : "cms", err, sizeof err)) {
		fprintf(stderr, "barrierbench: %s\n", err);
		exit(2);
	}
	if (gc_init(&cfg))
		exit(2);
	gc_add_roots(&root, 1);
	struct sched_config scfg = {.procs = 1};
	if (sched_run(&scfg, fn, NULL)) {
		fprintf(stderr, "barrierbench: the runtime did not start\n");
		exit(2);
	}
	gc_fini();
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{"json", no_argument, NULL, 'j'},       {"stores", required_argument, NULL, 's'},
		{"chain", required_argument, NULL, 'c'}, {"runs", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
	};
	char err[256];
	int c;
	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		int64_t v;
		switch (c) {
		case 'j': opt.json = true; break;
		case 's':
		case 'c':
		case 'r': {
			const char *name = c == 's' ? "--stores" : c == 'c' ? "--chain" : "--runs";
			int64_t max = c == 'r' ? 64 : (int64_t)1 << 40;
			if (sched_knob_int(name, optarg, 1, max, &v, err, sizeof err)) {
				fprintf(stderr, "barrierbench: %s\n", err);
				return 2;
			}
			if (c == 's')
				opt.stores = v;
			else if (c == 'c')
				opt.chain = v;
			else
				opt.runs = v;
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "barrierbench: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	fprintf(stderr, "barrierbench: cms stores (%lld x %lld)\n", (long long)opt.runs, (long long)opt.stores);
	run(false, cms_main);
	fprintf(stderr, "barrierbench: toc stores and publishing\n");
	run(true, toc_main);
	double m[NFIG];
	for (int f = 0; f < NFIG; f++)
		m[f] = median(figs[f], (int)opt.runs);
	if (opt.json) {
		printf("{");
		for (int f = 0; f < NFIG; f++) {
			if (m[f] < 0)
				printf("\"%s\":null,", fig_names[f]);   /* nothing was published: no figure */
			else
				printf("\"%s\":%.3f,", fig_names[f], m[f]);
		}
		printf("\"toc_local_over_cms\":%.3f,\"toc_public_over_cms\":%.3f,\"stores\":%lld,\"runs\":%lld}\n",
		       m[TOC_LOCAL] / m[CMS_STORE], m[TOC_PUBLIC] / m[CMS_STORE], (long long)opt.stores,
		       (long long)opt.runs);
	} else {
		for (int f = 0; f < NFIG; f++)
			printf("%-28s %8.3f\n", fig_names[f], m[f]);
		printf("%-28s %8.3f\n%-28s %8.3f\n", "toc_local_over_cms", m[TOC_LOCAL] / m[CMS_STORE],
		       "toc_public_over_cms", m[TOC_PUBLIC] / m[CMS_STORE]);
	}
	return 0;
}
