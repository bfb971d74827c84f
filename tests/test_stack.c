/*
 * test_stack.c — goroutine stacks and the knobs that size them: an overflow
 * hits the guard page and is reported as "goroutine N: stack overflow" (in a
 * child process), deep but legal stacks work, slots are reused, running out
 * of slots is an error and not a crash, and bad knob values are errors that
 * name the variable.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "internal.h"
#include "toc/knob.h"
#include "toc/sched.h"
#include "toc/sync.h"

static struct sched_waitgroup wg;

/* Uses about `depth` KiB of stack; the volatile array and the use of the
 * result keep the compiler from turning the recursion into a loop. */
static int __attribute__((noinline)) recurse(int depth)
{
	volatile char frame[1024];
	frame[0] = (char)depth;
	if (depth <= 0)
		return frame[0];
	return recurse(depth - 1) + frame[0];
}

static void overflow_body(void *unused)
{
	(void)unused;
	recurse(1 << 20); /* far beyond any stack size */
}

/* Runs body in a child process with a fresh runtime; returns the child's
 * wait status and what it wrote on stderr. */
struct child_run {
	void (*body)(void *);
	size_t stack_size;
};

static void child_runtime(void *arg)
{
	const struct child_run *c = arg;
	struct sched_config cfg = {.procs = 2, .stack_size = c->stack_size};
	sched_run(&cfg, c->body, NULL);
}

static int run_child(void (*body)(void *), size_t stack_size, char *out, size_t outlen)
{
	struct child_run c = {body, stack_size};
	return harness_child(child_runtime, &c, 0, out, outlen);
}

static void test_overflow_reported(void)
{
	char out[8192];
	int status = run_child(overflow_body, 0, out, sizeof out);
	CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, ": stack overflow"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "goroutine "));
}

static void test_overflow_small_stack(void)
{
	char out[8192];
	int status = run_child(overflow_body, 64 * 1024, out, sizeof out);
	CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, ": stack overflow"));
}

/* 160 KiB of frames fit in the default 256 KiB stack. */
static void deep(void *unused)
{
	(void)unused;
	TCHECK(recurse(160) >= 0);
	sched_wg_done(&wg);
}

static void deep_body(void *unused)
{
	(void)unused;
	sched_wg_add(&wg, 4);
	for (int i = 0; i < 4; i++)
		sched_go(deep, NULL);
	sched_wg_wait(&wg);
}

static void test_deep_stack(void)
{
	harness_run(2, deep_body, NULL);
}

/* Sequential spawn/exit reuses slots: the high-water mark stays small. */
static void nothing(void *unused)
{
	(void)unused;
	sched_wg_done(&wg);
}

static size_t reuse_high_water;

static void reuse_body(void *unused)
{
	(void)unused;
	for (int i = 0; i < 20000; i++) {
		sched_wg_add(&wg, 1);
		TCHECK(sched_go(nothing, NULL) != 0);
		sched_wg_wait(&wg);
	}
	reuse_high_water = sched_stack_high_water();
}

static void test_slot_reuse(void)
{
	harness_run(2, reuse_body, NULL);
	CU_ASSERT(reuse_high_water > 0 && reuse_high_water < 512);
}

/* With 64 slots, the 65th live goroutine cannot start: EAGAIN, no crash;
 * once some exit, spawning works again. */
static struct sched_waitgroup hold;
static int exhausted_errno, spawned_before_error;

static void holder(void *unused)
{
	(void)unused;
	sched_wg_wait(&hold);
	sched_wg_done(&wg);
}

static void exhaust_body(void *unused)
{
	(void)unused;
	sched_wg_add(&hold, 1);
	spawned_before_error = 0;
	for (;;) {
		sched_wg_add(&wg, 1);
		if (!sched_go(holder, NULL)) {
			exhausted_errno = errno;
			sched_wg_add(&wg, -1);
			break;
		}
		spawned_before_error++;
	}
	sched_wg_done(&hold); /* release them */
	sched_wg_wait(&wg);
	sched_wg_add(&wg, 1);
	TCHECK(sched_go(nothing, NULL) != 0);
	sched_wg_wait(&wg);
}

static void test_exhaustion(void)
{
	struct sched_config cfg = {.procs = 2, .max_goroutines = 64};
	wg = (struct sched_waitgroup){0};
	hold = (struct sched_waitgroup){0};
	CU_ASSERT_EQUAL(sched_run(&cfg, exhaust_body, NULL), 0);
	CU_ASSERT_EQUAL(exhausted_errno, EAGAIN);
	CU_ASSERT_EQUAL(spawned_before_error, 63); /* slot 0 holds the main goroutine */
}

/* --- knobs -------------------------------------------------------------------- */

static int env_error(const char *name, const char *value, char *err, size_t len)
{
	struct sched_config cfg;
	setenv(name, value, 1);
	int r = sched_config_from_env(&cfg, err, len);
	unsetenv(name);
	return r;
}

static void test_knob_errors(void)
{
	char err[256];
	CU_ASSERT_EQUAL(env_error("TOC_PROCS", "abc", err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "TOC_PROCS"));
	CU_ASSERT_EQUAL(env_error("TOC_PROCS", "0", err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "TOC_PROCS"));
	CU_ASSERT_EQUAL(env_error("GOMAXPROCS", "-3", err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "GOMAXPROCS"));
	CU_ASSERT_EQUAL(env_error("TOC_STACK_SIZE", "1K", err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "TOC_STACK_SIZE"));
	CU_ASSERT_EQUAL(env_error("TOC_STACK_SIZE", "12Q", err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "TOC_STACK_SIZE"));
	CU_ASSERT_EQUAL(env_error("TOC_MAX_GOROUTINES", "5", err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "TOC_MAX_GOROUTINES"));

	struct sched_config cfg;
	setenv("TOC_PROCS", "3", 1);
	setenv("TOC_STACK_SIZE", "512K", 1);
	CU_ASSERT_EQUAL(sched_config_from_env(&cfg, err, sizeof err), 0);
	CU_ASSERT_EQUAL(cfg.procs, 3);
	CU_ASSERT_EQUAL(cfg.stack_size, 512u * 1024u);
	unsetenv("TOC_PROCS");
	unsetenv("TOC_STACK_SIZE");

	/* sched_run refuses a bad environment instead of guessing. */
	setenv("TOC_PROCS", "many", 1);
	errno = 0;
	CU_ASSERT_EQUAL(sched_run(NULL, nothing, NULL), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	unsetenv("TOC_PROCS");
}

static void test_knob_sizes(void)
{
	char err[256];
	uint64_t v;
	CU_ASSERT_EQUAL(sched_knob_size("X", "64MiB", 0, UINT64_MAX, &v, err, sizeof err), 0);
	CU_ASSERT_EQUAL(v, 64u << 20);
	CU_ASSERT_EQUAL(sched_knob_size("X", "2g", 0, UINT64_MAX, &v, err, sizeof err), 0);
	CU_ASSERT_EQUAL(v, 2ull << 30);
	CU_ASSERT_EQUAL(sched_knob_size("X", "4096", 0, UINT64_MAX, &v, err, sizeof err), 0);
	CU_ASSERT_EQUAL(v, 4096);
	CU_ASSERT_EQUAL(sched_knob_size("X", "-1", 0, UINT64_MAX, &v, err, sizeof err), -1);
	CU_ASSERT_EQUAL(sched_knob_size("X", "", 0, UINT64_MAX, &v, err, sizeof err), -1);
	CU_ASSERT_EQUAL(sched_knob_size("X", "99999999999T", 0, UINT64_MAX, &v, err, sizeof err), -1);
	int64_t i;
	CU_ASSERT_EQUAL(sched_knob_int("Y", "42", 0, 100, &i, err, sizeof err), 0);
	CU_ASSERT_EQUAL(i, 42);
	CU_ASSERT_EQUAL(sched_knob_int("Y", "101", 0, 100, &i, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "Y"));
	CU_ASSERT_EQUAL(sched_knob_int("Y", "4x", 0, 100, &i, err, sizeof err), -1);
}

int main(void)
{
	static const struct harness_test tests[] = {
		{"overflow is reported (child process)", test_overflow_reported},
		{"overflow with TOC_STACK_SIZE=64K (child process)", test_overflow_small_stack},
		{"160 KiB of frames fit", test_deep_stack},
		{"slots are reused", test_slot_reuse},
		{"running out of slots is EAGAIN", test_exhaustion},
		{"bad knob values name the variable", test_knob_errors},
		{"size and integer parsing", test_knob_sizes},
		{NULL, NULL},
	};
	return harness_main("stack", tests);
}
