/*
 * benchutil.h — what the benchmark programs share: messages, clocks, the
 * process's peak RSS, pause percentiles. Includes neither toc's headers nor
 * bdwgc's, so the files compiled for bdwgc can use it too.
 */
#ifndef BENCHUTIL_H
#define BENCHUTIL_H

#include <stddef.h>
#include <stdint.h>

/* The program's name, the prefix of every message ("gcbench", "txbench"). */
extern const char *bench_prog;

/* Prints "<prog>: <message>" on stderr and _exits with status (1, or 2 for
 * usage): it may run on a goroutine or a worker thread while others run. */
_Noreturn void bench_fatal(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "<prog>: <message>" on stderr. */
void bench_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The index of value in names[0..n) (NULL entries skipped); otherwise
 * exits with status 2 after a message listing the accepted values. */
int bench_lookup(const char *flag, const char *value, const char *const *names, int n);
/* Monotonic clock, ns. */
int64_t bench_now_ns(void);
/* Peak resident set of the process, MiB (NAN if unknown). */
double bench_peak_rss_mb(void);
/* Sorts ns[0..n) and writes the maximum and the 99th percentile (nearest
 * rank) in µs; both 0 when n is 0. */
void bench_pause_figures(uint64_t *ns, size_t n, double *max_us, double *p99_us);

/* benchgc.c, for the programs linked with toc's collector: the maximum and
 * 99th percentile of the last n pauses (a timed part's, n = its stw_count),
 * from gc_read_pauses; after: the statistics read at its end. */
struct gc_stats;
void bench_gc_pause_figures(uint64_t n, const struct gc_stats *after, double *max_us, double *p99_us);
/* A pacer flag (--gogc, --memlimit) into cfg by the knob's name; fatal with
 * the knob's message when the value is bad (benchgc.c). */
struct gc_config;
void bench_gc_flag(struct gc_config *cfg, const char *knob, const char *flag, const char *value);
/* CPUs online, at least 1: the default worker count. */
int bench_cpus(void);
/* Seconds for flag: more than 0, at most a day; fatal otherwise. */
double bench_seconds(const char *flag, const char *text);

#endif /* BENCHUTIL_H */
