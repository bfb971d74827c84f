/*
 * benchutil.h — what the benchmark programs share: messages, clocks, the
 * process's peak RSS, pause percentiles. Includes neither toc's headers nor
 * bdwgc's, so the files compiled for bdwgc can use it too.
 */
#ifndef BENCHUTIL_H
#define BENCHUTIL_H

#include <stdbool.h>
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
/* Peak resident set of the process, MiB (NAN if unknown), since it began
 * or since bench_peak_rss_reset. */
double bench_peak_rss_mb(void);
/* The peak restarts from the current resident set (/proc/self/clear_refs);
 * false where the kernel refuses. */
bool bench_peak_rss_reset(void);
/* Sorts ns[0..n) and writes the maximum and the 99th percentile (nearest
 * rank) in µs; both 0 when n is 0. */
void bench_pause_figures(uint64_t *ns, size_t n, double *max_us, double *p99_us);

/* The process's CPU (user + system) and minor page faults at a moment
 * (getrusage), for a timed part's proc_cpu_seconds and minor_faults. */
struct bench_rusage {
	double cpu_seconds;
	double minor_faults;
};
void bench_rusage_now(struct bench_rusage *r);

/* The CPU figures every workload's JSON carries (null: the mode has no
 * such figure). gc_cpu_seconds is the sum of the four gc_*_cpu_seconds. */
struct bench_cpu_figures {
	double proc_cpu_seconds;        /* the process, user + system */
	double gc_cpu_seconds;          /* mark + assist + sweep + pause */
	double gc_mark_cpu_seconds;     /* background mark workers and root scans */
	double gc_assist_cpu_seconds;   /* mark assists */
	double gc_sweep_cpu_seconds;    /* lazy and background sweeping */
	double gc_pause_cpu_seconds;    /* the stopper's CPU with the world stopped */
	double gc_assist_wait_seconds;  /* goroutines' wall time stalled for the collector */
	double marking_fraction;        /* wall time with marking on / seconds */
	double heap_inuse_max_mb;       /* largest heap in use (spans) in the timed part */
	double heap_goal_max_mb;        /* largest heap goal in the timed part */
	double minor_faults;            /* minor page faults of the process */
};
/* The figures' keys as --help lists them. */
#define BENCH_CPU_FIGURES_HELP                                                                      \
	"CPU figures of the timed part (null where a mode has no such figure):\n"                   \
	"  proc_cpu_seconds        the process's CPU, user + system (getrusage)\n"                 \
	"  gc_cpu_seconds          the collector's CPU: the sum of the next four\n"                \
	"  gc_mark_cpu_seconds     background mark workers and root scans\n"                       \
	"  gc_assist_cpu_seconds   mark assists by allocating goroutines\n"                        \
	"  gc_sweep_cpu_seconds    lazy sweeping by allocators and the background sweeper\n"       \
	"  gc_pause_cpu_seconds    the stopping goroutine's CPU while the world was stopped\n"     \
	"  gc_assist_wait_seconds  wall time goroutines waited for the collector\n"                \
	"  marking_fraction        wall time with marking on / seconds\n"                          \
	"  heap_inuse_max_mb       largest heap in use (spans)\n"                                  \
	"  heap_goal_max_mb        largest heap goal\n"                                            \
	"  minor_faults            minor page faults of the process\n"
/* Every figure NAN but the process's, from two getrusage readings. */
void bench_cpu_figures_proc(struct bench_cpu_figures *f, const struct bench_rusage *before,
			    const struct bench_rusage *after);
/* The figures but gc_cpu_seconds as (key, value) pairs, in output order. */
#define BENCH_CPU_FIGURES 10
void bench_cpu_figures_list(const struct bench_cpu_figures *f, const char *keys[BENCH_CPU_FIGURES],
			    double values[BENCH_CPU_FIGURES]);
/* Writes the figures but gc_cpu_seconds (the programs print it among their
 * own) as JSON members ("key":value,... with no leading comma; NAN as
 * null) into buf. */
void bench_cpu_figures_json(char *buf, size_t len, const struct bench_cpu_figures *f);

/* benchgc.c, for the programs linked with toc's collector: the maximum and
 * 99th percentile of the last n pauses (a timed part's, n = its stw_count),
 * from gc_read_pauses; after: the statistics read at its end. */
struct gc_stats;
void bench_gc_pause_figures(uint64_t n, const struct gc_stats *after, double *max_us, double *p99_us);
/* A pacer flag (--gogc, --memlimit) into cfg by the knob's name; fatal with
 * the knob's message when the value is bad (benchgc.c). */
struct gc_config;
void bench_gc_flag(struct gc_config *cfg, const char *knob, const char *flag, const char *value);
/* The collector's CPU figures between two readings of gc_read_stats (the
 * process's from the two getrusage readings); call gc_reset_peaks when
 * the timed part begins so the heap maxima are its own. */
struct gc_stats;
void bench_gc_cpu_figures(struct bench_cpu_figures *f, const struct gc_stats *before, const struct gc_stats *after,
			  const struct bench_rusage *ru_before, const struct bench_rusage *ru_after, double seconds);
/* toc's statistics d (a difference of two toc_read_stats) as JSON members
 * into buf, NUL-terminated; fatal when they cannot be formatted (benchgc.c,
 * for the programs linked with the transaction layer). */
struct toc_stats;
void bench_toc_stats_json(char *buf, size_t len, const struct toc_stats *d);
/* CPUs online, at least 1: the default worker count. */
int bench_cpus(void);
/* Seconds for flag: more than 0, at most a day; fatal otherwise. */
double bench_seconds(const char *flag, const char *text);

#endif /* BENCHUTIL_H */
