/*
 * harness.h — what every CUnit suite shares.
 *
 * CUnit is not thread-safe and its _FATAL asserts longjmp, which must never
 * cross a goroutine stack. So tests run their goroutine bodies with
 * harness_run(), which records failures from any goroutine or worker in a
 * thread-safe log (TCHECK), and the test function itself asserts afterwards,
 * on the main thread, that the log is empty.
 */
#ifndef TOC_TESTS_HARNESS_H
#define TOC_TESTS_HARNESS_H

#include <CUnit/CUnit.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Records a failure (thread-safe) when cond is false; evaluates to cond. */
#define TCHECK(cond) harness_check((cond), #cond, __FILE__, __LINE__)
bool harness_check(bool ok, const char *expr, const char *file, int line);

/* Runs fn(arg) as the main goroutine of a fresh runtime with `procs`
 * workers (0: default) and asserts (CUnit, main thread) that it started and
 * that no TCHECK failed meanwhile. */
void harness_run(int procs, void (*fn)(void *), void *arg);
/* The same with a whole configuration (its non-zero fields override the
 * environment, as sched_run's do). */
struct sched_config;
void harness_run_cfg(const struct sched_config *cfg, void (*fn)(void *), void *arg);
/* Prints what the preemption signals did between two readings of the
 * scheduler's statistics (a NULL: since the runtime started). With
 * TOC_PREEMPT_CHAOS set, every harness_run prints it for its run. */
struct sched_stats;
void harness_print_signals(const struct sched_stats *a, const struct sched_stats *b);
/* Failures recorded since the last harness_run began. */
int harness_failures(void);

/* Runs fn(arg) in a forked child (which exits 0 if fn returns; with
 * alarm_s > 0 a hang ends as SIGALRM), collects the child's stderr into err
 * (NUL-terminated, errlen > 0) and returns its wait status (-1 when it could
 * not be started). For checking fatal reports. */
int harness_child(void (*fn)(void *), void *arg, unsigned alarm_s, char *err, size_t errlen);

/* A seed for randomized tests: TOC_TEST_SEED or a fixed default; printed so
 * a failing run can be repeated. */
uint64_t harness_seed(void);
uint64_t harness_rand(uint64_t *state);
/* The process's CPU so far, user + system (getrusage), seconds. */
double harness_process_cpu_seconds(void);

struct harness_test {
	const char *name;
	void (*fn)(void);
};
/* Registers one suite with the tests (NULL-terminated), runs it with the
 * basic interface, prints the run summary, and returns the exit status:
 * non-zero when any test failed (CU_basic_run_tests alone does not say).
 * TOC_TEST_ONLY=<text> registers only the tests whose name contains it. */
int harness_main(const char *suite, const struct harness_test *tests);

#endif
