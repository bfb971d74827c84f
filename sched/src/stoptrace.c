/*
 * stoptrace.c — TOC_STOPTRACE=<µs>: a stop-the-world that waits longer than
 * this for one worker says, on stderr, what that worker was doing.
 *
 * A long time to safepoint has three possible causes, and the line tells
 * them apart from the late worker's thread's own figures, taken when the
 * wait crossed the threshold and again when the worker stopped:
 *   - the OS did not run the thread (the kernel's schedstat: time runnable
 *     but waiting for a CPU). Nothing in the runtime can help that;
 *   - the thread ran but reached no safepoint (schedstat's time on a CPU):
 *     the refusals of its preemption signals say where it was (the program
 *     outside its .text, the runtime's own code, a callout), and a probe
 *     signal sent at the threshold records the interrupted instruction;
 *   - the thread neither ran nor waited for a CPU: it slept in the kernel
 *     (a call that does not go through sched_syscall, a page fault on I/O).
 * The probe also goes to a worker on g0 (in the scheduler), which plain
 * preemption never signals; its handler refuses it (idle) after noting the
 * PC. The line is formatted when the worker stops and printed once the
 * world runs again, so the trace adds nothing to the pause it reports
 * beyond two reads of /proc for a stop that is already late.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#define TRACE_LINES 8   /* late workers reported per stop (one line each) */

static char lines[TRACE_LINES][512];
static int nlines;

/* The thread's time on a CPU and time runnable but not running, ns, from
 * /proc/self/task/TID/schedstat; false when the kernel does not provide it. */
static bool schedstat(pid_t tid, uint64_t *run_ns, uint64_t *wait_ns)
{
	char path[64], buf[128];
	snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	unsigned long long r, w;
	if (sscanf(buf, "%llu %llu", &r, &w) != 2)
		return false;
	*run_ns = r;
	*wait_ns = w;
	return true;
}

static uint64_t refusals(const struct sched_stats *s)
{
	return s->preempt_idle + s->preempt_callout + s->preempt_stack + s->preempt_foreign +
	       s->preempt_runtime + s->preempt_barrier;
}

static void copy_stats(struct sched_stats *to, const struct sched_worker *w)
{
	/* Owner-written counters, read racily: a count may lag by one. */
#define COPY(name, doc) to->name = __atomic_load_n(&w->stats.name, __ATOMIC_RELAXED);
	SCHED_STATS(COPY)
#undef COPY
}

void sched_stoptrace_begin(struct sched_stoptrace *t, int64_t now)
{
	t->t0 = now;
	t->late = false;
}

void sched_stoptrace_check(struct sched_stoptrace *t, struct sched_worker *w, int64_t now)
{
	if (t->late || now - t->t0 < (int64_t)sched_rt.cfg.stoptrace_us * 1000)
		return;
	t->late = true;
	t->late_at = now;
	t->on_g0 = __atomic_load_n(&w->cur, __ATOMIC_RELAXED) == NULL;
	t->have_schedstat = schedstat(w->tid, &t->run0, &t->wait0);
	copy_stats(&t->st0, w);
	__atomic_store_n(&w->probe_pc, 0, __ATOMIC_RELAXED);
	sched_preempt_probe(w);
}

void sched_stoptrace_end(struct sched_stoptrace *t, struct sched_worker *w, int64_t now)
{
	if (!t->late || nlines == TRACE_LINES)
		return;
	uint64_t run1 = 0, wait1 = 0;
	bool ss = t->have_schedstat && schedstat(w->tid, &run1, &wait1);
	struct sched_stats st;
	copy_stats(&st, w);
	char where[96] = "no probe landed";
	uintptr_t pc = __atomic_load_n(&w->probe_pc, __ATOMIC_RELAXED);
	if (pc) {
		Dl_info di;
		if (dladdr((void *)pc, &di) && di.dli_fname)
			snprintf(where, sizeof where, "probe pc %s+0x%" PRIxPTR "%s%s",
				 strrchr(di.dli_fname, '/') ? strrchr(di.dli_fname, '/') + 1 : di.dli_fname,
				 pc - (uintptr_t)di.dli_fbase, di.dli_sname ? " " : "", di.dli_sname ? di.dli_sname : "");
		else
			snprintf(where, sizeof where, "probe pc 0x%" PRIxPTR, pc);
	}
	char os[96] = "schedstat unavailable";
	if (ss)
		snprintf(os, sizeof os, "after the threshold on a CPU %.0f us, waiting for one %.0f us",
			 (double)(run1 - t->run0) / 1e3, (double)(wait1 - t->wait0) / 1e3);
	snprintf(lines[nlines++], sizeof lines[0],
		 "sched: stoptrace: stop waited %.0f us for worker %d (%s at %.0f us); %s; signals %" PRIu64
		 ", refused %" PRIu64 " (runtime %" PRIu64 ", foreign %" PRIu64 ", callout %" PRIu64 "); %s",
		 (double)(now - t->t0) / 1e3, w->id, t->on_g0 ? "in the scheduler" : "running a goroutine",
		 (double)(t->late_at - t->t0) / 1e3, os, st.preempt_sent - t->st0.preempt_sent,
		 refusals(&st) - refusals(&t->st0), st.preempt_runtime - t->st0.preempt_runtime,
		 st.preempt_foreign - t->st0.preempt_foreign, st.preempt_callout - t->st0.preempt_callout, where);
}

void sched_stoptrace_flush(void)
{
	for (int i = 0; i < nlines; i++)
		fprintf(stderr, "%s\n", lines[i]);
	nlines = 0;
}
