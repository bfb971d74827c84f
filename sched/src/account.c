/*
 * account.c — CPU accounts: the thread CPU time a goroutine spends on a
 * task, charged to a numbered account, by the scheduler.
 *
 * Why the scheduler does it. A layer that brackets a task with two readings
 * of CLOCK_THREAD_CPUTIME_ID measures the task only if the goroutine stays
 * on one thread between them. A task that polls, yields, parks or is
 * preempted may resume on another worker: the two readings then come from
 * two threads' clocks, and their difference is another thread's history —
 * too large, negative, or an unsigned wrap. The scheduler is the one party
 * that sees every switch, so it stops the clock when a goroutine with an
 * open account leaves its worker and restarts it, on whatever worker, when
 * the goroutine runs again. Time parked, runnable or running elsewhere is
 * never charged, and every interval is read from one thread's clock.
 *
 * Invariant: the time charged to all accounts over any interval is at most
 * the CPU the workers' threads used in it (each nanosecond of a thread's
 * clock is charged at most once: one account is open per context, and
 * sched_account_swap charges the elapsed time before it switches).
 *
 * Where the state lives: on a goroutine, in its struct (it travels with the
 * goroutine); in a worker's scheduler context (g0, e.g. a stack visit run
 * before a goroutine resumes), in the worker. Charges go to the worker the
 * time was spent on, owner-written and merged on read; the totals of a
 * runtime that ended are kept until the next sched_run.
 */
#include <string.h>
#include <time.h>

#include "internal.h"

static uint64_t retired[SCHED_ACCOUNTS];   /* totals of the workers of the last runtime */

uint64_t sched_thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Adds the time since t0 on this thread to account a of worker w and to
 * the context's own total. */
static void charge(struct sched_worker *w, int a, uint64_t t0, uint64_t now, uint64_t *own)
{
	if (now < t0)
		sched_fatal("CPU account %d: the thread clock went back (%llu -> %llu)", a,
			    (unsigned long long)t0, (unsigned long long)now);
	/* Owner-written; readers merge with relaxed loads. */
	__atomic_store_n(&w->account_ns[a], w->account_ns[a] + (now - t0), __ATOMIC_RELAXED);
	*own += now - t0;
}

void sched_account_stop(struct sched_worker *w, struct sched_g *g)
{
	charge(w, g->account, g->account_t0, sched_thread_cpu_ns(), &g->account_own);
}

void sched_account_restart(struct sched_g *g)
{
	g->account_t0 = sched_thread_cpu_ns();
}

int sched_account_open(void)
{
	struct sched_worker *w = sched_worker_self();
	if (!w)
		return 0;
	return w->cur ? w->cur->account : w->g0_account;
}

int sched_account_swap(int account)
{
	if (account < 0 || account >= SCHED_ACCOUNTS)
		sched_fatal("sched_account_swap: account %d out of 0..%d", account, SCHED_ACCOUNTS - 1);
	struct sched_worker *w = sched_worker_self();
	if (!w)
		return 0;   /* off the workers: nothing is charged */
	uint8_t *cur;
	uint64_t *t0, *own;
	if (w->cur) {
		cur = &w->cur->account;
		t0 = &w->cur->account_t0;
		own = &w->cur->account_own;
	} else {
		cur = &w->g0_account;
		t0 = &w->g0_account_t0;
		own = &w->g0_account_own;
	}
	int prev = *cur;
	if (prev == account && !prev)
		return prev;
	uint64_t now = sched_thread_cpu_ns();
	if (prev)
		charge(w, prev, *t0, now, own);
	*cur = (uint8_t)account;
	*t0 = now;
	return prev;
}

uint64_t sched_account_own_ns(void)
{
	struct sched_worker *w = sched_worker_self();
	if (!w)
		return 0;
	return w->cur ? w->cur->account_own : w->g0_account_own;
}

uint64_t sched_account_ns(int account)
{
	if (account <= 0 || account >= SCHED_ACCOUNTS)
		return 0;
	uint64_t sum = retired[account];
	for (int i = 0; sched_rt.workers && i < sched_rt.cfg.procs; i++)
		sum += __atomic_load_n(&sched_rt.workers[i].account_ns[account], __ATOMIC_RELAXED);
	return sum;
}

int sched_account_per_worker(int account, uint64_t *out, int n)
{
	int k = 0;
	for (int i = 0; sched_rt.workers && i < sched_rt.cfg.procs && k < n; i++)
		out[k++] = account > 0 && account < SCHED_ACCOUNTS
				   ? __atomic_load_n(&sched_rt.workers[i].account_ns[account], __ATOMIC_RELAXED)
				   : 0;
	return k;
}

void sched_accounts_retire(void)
{
	for (int i = 0; sched_rt.workers && i < sched_rt.cfg.procs; i++)
		for (int a = 1; a < SCHED_ACCOUNTS; a++)
			retired[a] += sched_rt.workers[i].account_ns[a];
}

void sched_accounts_reset(void)
{
	memset(retired, 0, sizeof retired);
}
