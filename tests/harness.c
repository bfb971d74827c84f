/*
 * harness.c — the shared CUnit driver for the test suites.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "harness.h"
#include "toc/sched.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int failures;

bool harness_check(bool ok, const char *expr, const char *file, int line)
{
	if (ok)
		return true;
	pthread_mutex_lock(&log_lock);
	if (failures++ < 20)
		fprintf(stderr, "  TCHECK failed: %s (%s:%d)\n", expr, file, line);
	pthread_mutex_unlock(&log_lock);
	return false;
}

int harness_failures(void)
{
	pthread_mutex_lock(&log_lock);
	int n = failures;
	pthread_mutex_unlock(&log_lock);
	return n;
}

void harness_print_signals(const struct sched_stats *a, const struct sched_stats *b)
{
	static const struct sched_stats zero;
	if (!a)
		a = &zero;
#define D(f) (unsigned long long)(b->f - a->f)
	printf("\n    preemption signals: sent %llu, safe %llu (stopped %llu, visited %llu); refused: idle %llu, "
	       "callout %llu, stack %llu, foreign %llu, runtime %llu, barrier %llu\n    ",
	       D(preempt_sent), D(preempt_safe), D(preempt_stopped), D(preempt_visited), D(preempt_idle),
	       D(preempt_callout), D(preempt_stack), D(preempt_foreign), D(preempt_runtime), D(preempt_barrier));
#undef D
	fflush(stdout);
}

/* With TOC_PREEMPT_CHAOS set, each run says what the signals did. */
void harness_run_cfg(const struct sched_config *cfg, void (*fn)(void *), void *arg)
{
	pthread_mutex_lock(&log_lock);
	failures = 0;
	pthread_mutex_unlock(&log_lock);
	int r = sched_run(cfg, fn, arg);
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT_EQUAL(harness_failures(), 0);
	if (getenv("TOC_PREEMPT_CHAOS")) {
		struct sched_stats s;
		sched_read_stats(&s);
		harness_print_signals(NULL, &s);
	}
}

void harness_run(int procs, void (*fn)(void *), void *arg)
{
	struct sched_config cfg = {.procs = procs};
	harness_run_cfg(&cfg, fn, arg);
}

uint64_t harness_seed(void)
{
	static uint64_t seed;
	if (!seed) {
		const char *s = getenv("TOC_TEST_SEED");
		seed = s ? strtoull(s, NULL, 0) : 0x5eed1234abcdull;
		if (!seed)
			seed = 1;
		fprintf(stderr, "  (TOC_TEST_SEED=%#llx)\n", (unsigned long long)seed);
	}
	return seed;
}

double harness_process_cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

uint64_t harness_rand(uint64_t *state)
{
	/* splitmix64 */
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

int harness_main(const char *suite_name, const struct harness_test *tests)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite suite = CU_add_suite(suite_name, NULL, NULL);
	if (!suite)
		return 2;
	/* TOC_TEST_ONLY=text: only the tests whose name contains it. */
	const char *only = getenv("TOC_TEST_ONLY");
	for (const struct harness_test *t = tests; t->name; t++)
		if ((!only || strstr(t->name, only)) && !CU_add_test(suite, t->name, t->fn))
			return 2;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_tests_failed();
	unsigned asserts_failed = CU_get_number_of_failures();
	unsigned run = CU_get_number_of_tests_run();
	CU_cleanup_registry();
	if (run == 0) {
		fprintf(stderr, "%s: no test ran\n", suite_name);
		return 1;
	}
	return failed || asserts_failed ? 1 : 0;
}

int harness_child(void (*fn)(void *), void *arg, unsigned alarm_s, char *err, size_t errlen)
{
	int fds[2];
	err[0] = '\0';
	if (pipe(fds))
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], STDERR_FILENO);
		close(fds[1]);
		if (alarm_s)
			alarm(alarm_s);
		fn(arg);
		_exit(0);
	}
	close(fds[1]);
	size_t n = 0;
	ssize_t k;
	while (n + 1 < errlen && (k = read(fds[0], err + n, errlen - 1 - n)) > 0)
		n += (size_t)k;
	err[n] = '\0';
	close(fds[0]);
	int status = -1;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}
