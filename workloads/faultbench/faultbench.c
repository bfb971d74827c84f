/*
 * faultbench — the CPU cost of a minor page fault on this machine, the
 * conversion factor workloads/attribute turns a run's minor_faults into
 * microseconds with (docs/measurement.md, "Attribution").
 *
 * Each trial maps --mib MiB of fresh anonymous memory, as the heap maps its
 * arenas (private, MADV_NOHUGEPAGE: one 4 KiB page per fault), faults every
 * page in, and unmaps it. Two ways, as the programs measured fault:
 *   touch     one write per page: malloc'd memory, stacks, a region's bitmaps
 *   populate  MADV_POPULATE_WRITE over each 8 KiB span, as the heap does for
 *             a span of fresh pages (gc/src/central.c)
 * The figure is the process's CPU (user + system, getrusage) over the
 * trial divided by the minor faults getrusage counted in it, so the page's
 * zeroing by the kernel and the fault's entry and exit are both in it; a
 * second pass over the pages already mapped, which faults nothing, is
 * subtracted as the loop's own cost. The median of --trials trials.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "benchutil.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define FB_SPAN (8u << 10)   /* the heap's page: what one populate call covers */

enum fb_way { FB_TOUCH, FB_POPULATE, FB_NWAYS };
static const char *const fb_way_names[FB_NWAYS] = {"touch", "populate"};

struct fb_sample {
	double cpu_ns;   /* process CPU, ns */
	double faults;   /* minor faults */
};

static void fb_now(struct fb_sample *s)
{
	struct bench_rusage r;
	bench_rusage_now(&r);
	s->cpu_ns = r.cpu_seconds * 1e9;
	s->faults = r.minor_faults;
}

/* Faults in (or, the second time, only walks) every page of [p, p+len). */
static int fb_pass(enum fb_way way, volatile char *p, size_t len, size_t page)
{
	if (way == FB_TOUCH) {
		for (size_t off = 0; off < len; off += page)
			p[off] = 1;
		return 0;
	}
	for (size_t off = 0; off < len; off += FB_SPAN)
		if (madvise((char *)p + off, FB_SPAN, MADV_POPULATE_WRITE))
			return -1;
	return 0;
}

/* One trial: ns per fault, or a negative value when nothing faulted. */
static double fb_trial(enum fb_way way, size_t len, size_t page)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		bench_fatal(1, "mmap of %zu bytes failed: %s", len, strerror(errno));
	(void)madvise(p, len, MADV_NOHUGEPAGE);
	struct fb_sample a, b, c;
	fb_now(&a);
	if (fb_pass(way, p, len, page))
		bench_fatal(1, "madvise(MADV_POPULATE_WRITE) failed: %s (kernel before 5.14?)", strerror(errno));
	fb_now(&b);
	(void)fb_pass(way, p, len, page);   /* mapped now: the loop alone */
	fb_now(&c);
	munmap(p, len);
	double faults = b.faults - a.faults;
	if (faults <= 0)
		return -1;
	double loop = c.cpu_ns - b.cpu_ns;
	return (b.cpu_ns - a.cpu_ns - loop) / faults;
}

static int fb_cmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: faultbench [--mib=N] [--trials=N] [--json]\n"
		"The CPU cost of a minor page fault: maps N MiB of fresh anonymous memory\n"
		"(MADV_NOHUGEPAGE, as the heap's arenas), faults every 4 KiB page in, unmaps it;\n"
		"process CPU (getrusage) over minor faults, the walk over mapped pages subtracted.\n"
		"  touch     one write per page (malloc'd memory, stacks)\n"
		"  populate  MADV_POPULATE_WRITE per 8 KiB span (the heap's fresh spans)\n\n"
		"  --mib=N      memory per trial (default 256)\n"
		"  --trials=N   trials per way; the median is printed (default 5)\n"
		"  --json       one JSON object: touch_ns_per_fault, populate_ns_per_fault\n"
		"               (null where it could not be measured), page_bytes, mib, trials\n");
}

int main(int argc, char **argv)
{
	bench_prog = "faultbench";
	static const struct option opts[] = {
		{"mib", required_argument, NULL, 'm'},
		{"trials", required_argument, NULL, 't'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	long mib = 256, trials = 5;
	int json = 0, c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'm':
			mib = strtol(optarg, &end, 10);
			if (*end || mib < 1 || mib > 16384)
				bench_fatal(2, "--mib=%s: expected 1..16384", optarg);
			break;
		case 't':
			trials = strtol(optarg, &end, 10);
			if (*end || trials < 1 || trials > 1000)
				bench_fatal(2, "--trials=%s: expected 1..1000", optarg);
			break;
		case 'j': json = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc)
		bench_fatal(2, "unexpected argument \"%s\" (see --help)", argv[optind]);
	size_t page = (size_t)sysconf(_SC_PAGESIZE), len = (size_t)mib << 20;
	double med[FB_NWAYS];
	double *v = malloc((size_t)trials * sizeof *v);
	if (!v)
		bench_fatal(1, "out of memory");
	for (int w = 0; w < FB_NWAYS; w++) {
		for (long i = 0; i < trials; i++)
			v[i] = fb_trial((enum fb_way)w, len, page);
		qsort(v, (size_t)trials, sizeof *v, fb_cmp);
		med[w] = v[trials / 2];
	}
	free(v);
	if (json) {
		printf("{");
		for (int w = 0; w < FB_NWAYS; w++) {
			if (med[w] > 0)
				printf("\"%s_ns_per_fault\":%.1f,", fb_way_names[w], med[w]);
			else
				printf("\"%s_ns_per_fault\":null,", fb_way_names[w]);
		}
		printf("\"page_bytes\":%zu,\"mib\":%ld,\"trials\":%ld}\n", page, mib, trials);
	} else {
		for (int w = 0; w < FB_NWAYS; w++)
			printf("%-9s %.1f ns per minor fault\n", fb_way_names[w], med[w]);
	}
	return 0;
}
