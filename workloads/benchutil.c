/* benchutil.c — see benchutil.h. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

const char *bench_prog = "bench";

_Noreturn void bench_fatal(int status, const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fprintf(stderr, "%s: ", bench_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	_exit(status);
}

void bench_progress(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", bench_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int bench_lookup(const char *flag, const char *value, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (names[i] && strcmp(value, names[i]) == 0)
			return i;
	fprintf(stderr, "%s: %s: unknown value \"%s\" (expected:", bench_prog, flag, value);
	for (int i = 0; i < n; i++)
		if (names[i])
			fprintf(stderr, " %s", names[i]);
	fprintf(stderr, ")\n");
	exit(2);
}

int64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

double bench_peak_rss_mb(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru))
		return NAN;
	return (double)ru.ru_maxrss / 1024.0;  /* ru_maxrss is in KiB on Linux */
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

void bench_pause_figures(uint64_t *ns, size_t n, double *max_us, double *p99_us)
{
	*max_us = 0;
	*p99_us = 0;
	if (!n)
		return;
	qsort(ns, n, sizeof *ns, cmp_u64);
	size_t rank = (size_t)ceil(0.99 * (double)n);
	*max_us = (double)ns[n - 1] / 1e3;
	*p99_us = (double)ns[rank - 1] / 1e3;
}

double bench_seconds(const char *flag, const char *text)
{
	char *end;
	double d = strtod(text, &end);
	if (!*text || *end || !(d > 0) || d > 86400)
		bench_fatal(2, "%s=%s: expected seconds, more than 0 and at most 86400", flag, text);
	return d;
}

int bench_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : (int)n;
}
