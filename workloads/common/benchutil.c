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
	/* VmHWM, which bench_peak_rss_reset lowers (getrusage's maximum keeps
	 * that of threads that exited); getrusage's where /proc is missing. */
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long kib;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %llu kB", &kib) == 1) {
			fclose(f);
			return (double)kib / 1024.0;
		}
	if (f)
		fclose(f);
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru))
		return NAN;
	return (double)ru.ru_maxrss / 1024.0;  /* ru_maxrss is in KiB on Linux */
}

bool bench_peak_rss_reset(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	if (!f)
		return false;
	bool ok = fputs("5", f) >= 0;   /* 5: reset the peak RSS to the current RSS (Linux 4.0) */
	return fclose(f) == 0 && ok;
}

void bench_rusage_now(struct bench_rusage *r)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru)) {
		r->cpu_seconds = r->minor_faults = NAN;
		return;
	}
	r->cpu_seconds = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
			 ru.ru_stime.tv_usec / 1e6;
	r->minor_faults = (double)ru.ru_minflt;
}

void bench_cpu_figures_proc(struct bench_cpu_figures *f, const struct bench_rusage *before,
			    const struct bench_rusage *after)
{
	f->proc_cpu_seconds = after->cpu_seconds - before->cpu_seconds;
	f->minor_faults = after->minor_faults - before->minor_faults;
	f->gc_cpu_seconds = f->gc_mark_cpu_seconds = f->gc_assist_cpu_seconds = f->gc_sweep_cpu_seconds = NAN;
	f->gc_pause_cpu_seconds = f->gc_assist_wait_seconds = f->marking_fraction = NAN;
	f->heap_inuse_max_mb = f->heap_goal_max_mb = NAN;
}

void bench_cpu_figures_list(const struct bench_cpu_figures *f, const char *keys[BENCH_CPU_FIGURES],
			    double values[BENCH_CPU_FIGURES])
{
	static const char *const names[BENCH_CPU_FIGURES] = {
		"proc_cpu_seconds", "gc_mark_cpu_seconds", "gc_assist_cpu_seconds",
		"gc_sweep_cpu_seconds", "gc_pause_cpu_seconds", "gc_assist_wait_seconds", "marking_fraction",
		"heap_inuse_max_mb", "heap_goal_max_mb", "minor_faults",
	};
	const double v[BENCH_CPU_FIGURES] = {
		f->proc_cpu_seconds, f->gc_mark_cpu_seconds, f->gc_assist_cpu_seconds,
		f->gc_sweep_cpu_seconds, f->gc_pause_cpu_seconds, f->gc_assist_wait_seconds, f->marking_fraction,
		f->heap_inuse_max_mb, f->heap_goal_max_mb, f->minor_faults,
	};
	for (int i = 0; i < BENCH_CPU_FIGURES; i++) {
		keys[i] = names[i];
		values[i] = v[i];
	}
}

void bench_cpu_figures_json(char *buf, size_t len, const struct bench_cpu_figures *f)
{
	const char *keys[BENCH_CPU_FIGURES];
	double v[BENCH_CPU_FIGURES];
	bench_cpu_figures_list(f, keys, v);
	size_t at = 0;
	buf[0] = 0;
	for (size_t i = 0; i < BENCH_CPU_FIGURES && at < len; i++) {
		int n = isnan(v[i]) || isinf(v[i]) ? snprintf(buf + at, len - at, "%s\"%s\":null", i ? "," : "", keys[i])
						   : snprintf(buf + at, len - at, "%s\"%s\":%.4f", i ? "," : "", keys[i], v[i]);
		if (n < 0)
			break;
		at += (size_t)n;
	}
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
