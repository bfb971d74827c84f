/*
 * test_account.c — sched/account.c and urgent goroutines: a goroutine's CPU
 * is charged to its open account only while it runs (never while parked,
 * never another thread's), nested accounts take their own time, the totals
 * never pass the process's CPU; an urgent goroutine readied by a running one
 * runs at that one's next poll.
 */
#include <stdatomic.h>

#include "harness.h"
#include "toc/chan.h"
#include "toc/sched.h"
#include "toc/sync.h"

#define ACCT_A 1
#define ACCT_B 2
#define SPINNERS 4
#define ROUNDS 40

/* Burns about ns of this thread's CPU without a safepoint: the interval is
 * on one thread, so all of it must be in the account. Returns what it burnt. */
static uint64_t burn(uint64_t ns)
{
	uint64_t t0 = sched_thread_cpu_ns(), t;
	do
		t = sched_thread_cpu_ns();
	while (t - t0 < ns);
	return t - t0;
}

static _Atomic uint64_t burnt_a, burnt_b;
static struct sched_waitgroup spin_done;

/* Opens A, and between bursts sleeps, yields and moves between workers:
 * the account must hold the bursts and not the sleeps. */
static void spinner(void *arg)
{
	uint64_t seed = harness_seed() + (uint64_t)(uintptr_t)arg;
	TCHECK(sched_account_swap(ACCT_A) == 0);
	uint64_t own0 = sched_account_own_ns();
	for (int i = 0; i < ROUNDS; i++) {
		atomic_fetch_add(&burnt_a, burn(100000 + harness_rand(&seed) % 100000));
		if (i % 3 == 0)
			sched_sleep(2000000);
		else
			sched_gosched();
		if (i % 8 == 0) {
			/* Nested: B takes its own time; A resumes after it. */
			int prev = sched_account_swap(ACCT_B);
			TCHECK(prev == ACCT_A);
			atomic_fetch_add(&burnt_b, burn(50000));
			sched_gosched();
			TCHECK(sched_account_swap(prev) == ACCT_B);
		}
	}
	TCHECK(sched_account_swap(0) == ACCT_A);
	TCHECK(sched_account_own_ns() >= own0);
	sched_wg_done(&spin_done);
}

static uint64_t a_ns, b_ns, a_per_worker_sum;
static double proc_seconds, wall_seconds;

static void account_body(void *arg)
{
	(void)arg;
	uint64_t a0 = sched_account_ns(ACCT_A), b0 = sched_account_ns(ACCT_B);
	double p0 = harness_process_cpu_seconds();
	int64_t t0 = sched_nanotime();
	sched_wg_add(&spin_done, SPINNERS);
	for (int i = 0; i < SPINNERS; i++)
		TCHECK(sched_go(spinner, (void *)(uintptr_t)i) != 0);
	sched_wg_wait(&spin_done);
	wall_seconds = (double)(sched_nanotime() - t0) / 1e9;
	proc_seconds = harness_process_cpu_seconds() - p0;
	a_ns = sched_account_ns(ACCT_A) - a0;
	b_ns = sched_account_ns(ACCT_B) - b0;
	uint64_t per[64];
	int n = sched_account_per_worker(ACCT_A, per, 64);
	TCHECK(n == sched_procs());
	a_per_worker_sum = 0;
	for (int i = 0; i < n; i++)
		a_per_worker_sum += per[i];
}

static void test_account_charges_running_time_only(void)
{
	atomic_store(&burnt_a, 0);
	atomic_store(&burnt_b, 0);
	harness_run(2, account_body, NULL);
	double a = a_ns / 1e9, b = b_ns / 1e9;
	fprintf(stderr, "  A %.4f s (bursts %.4f s), B %.4f s (bursts %.4f s); process CPU %.4f s, wall %.4f s\n", a,
		atomic_load(&burnt_a) / 1e9, b, atomic_load(&burnt_b) / 1e9, proc_seconds, wall_seconds);
	/* Every burst is inside the account it ran under. */
	CU_ASSERT(a_ns >= atomic_load(&burnt_a));
	CU_ASSERT(b_ns >= atomic_load(&burnt_b));
	/* Nothing beyond the process's CPU (getrusage may lag a running
	 * thread's clock by a scheduler tick), so none of the ~80 ms each
	 * spinner sleeps is charged. */
	CU_ASSERT(a + b <= proc_seconds + 0.02);
	/* The totals were read after the runtime ended: the workers' figures
	 * were kept. The per-worker figures are of the live runtime only. */
	CU_ASSERT_EQUAL(a_per_worker_sum, a_ns);
}

/* Off the workers nothing is charged. */
static void test_account_off_workers(void)
{
	CU_ASSERT_EQUAL(sched_account_swap(ACCT_A), 0);
	CU_ASSERT_EQUAL(sched_account_swap(0), 0);
	CU_ASSERT_EQUAL(sched_account_own_ns(), 0);
}

/* --- urgent goroutines ------------------------------------------------------------------------------ */

static struct sched_chan *wake_ch;
static _Atomic int urgent_ran;
static long polls_before_run;
static struct sched_waitgroup urgent_done;

static void waker(void *arg)
{
	bool urgent = arg != NULL;
	sched_set_urgent(urgent);
	uint8_t token;
	TCHECK(sched_chan_recv(wake_ch, &token));
	atomic_store(&urgent_ran, 1);
	sched_wg_done(&urgent_done);
}

/* On one worker: a spinner readies the waiting goroutine, then polls. An
 * urgent one runs at the first poll; a plain one waits for the monitor's
 * time slice (millions of polls). Counted in polls, not time. */
static void urgent_body(void *arg)
{
	wake_ch = sched_chan_new(1, 1);
	atomic_store(&urgent_ran, 0);
	sched_wg_add(&urgent_done, 1);
	TCHECK(sched_go(waker, arg) != 0);
	sched_sleep(5000000);   /* the waker is parked on the channel */
	uint8_t token = 1;
	TCHECK(sched_chan_trysend(wake_ch, &token) == SCHED_CHAN_OK);
	long polls = 0;
	while (!atomic_load(&urgent_ran) && polls < 100000000) {
		sched_poll();
		polls++;
	}
	polls_before_run = polls;
	sched_wg_wait(&urgent_done);
	sched_chan_free(wake_ch);
}

static void test_urgent_runs_at_next_poll(void)
{
	harness_run(1, urgent_body, (void *)1);
	fprintf(stderr, "  urgent: ran after %ld polls of the goroutine that readied it\n", polls_before_run);
	CU_ASSERT(polls_before_run <= 2);
	harness_run(1, urgent_body, NULL);
	fprintf(stderr, "  plain: ran after %ld polls\n", polls_before_run);
	CU_ASSERT(polls_before_run > 2);
}

int main(void)
{
	static const struct harness_test tests[] = {
		{"an account holds its goroutine's running time only", test_account_charges_running_time_only},
		{"off the workers nothing is charged", test_account_off_workers},
		{"an urgent goroutine runs at the readier's next poll", test_urgent_runs_at_next_poll},
		{NULL, NULL},
	};
	return harness_main("account", tests);
}
