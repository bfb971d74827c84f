/*
 * timer.c — one-shot timers and sleep.
 *
 * One binary min-heap ordered by deadline, under a spinlock; next_when caches
 * the earliest deadline (INT64_MAX when empty) so the scheduling loop checks
 * for due timers with one load and no clock read when none are armed.
 * Due timers are run by a worker in find_runnable, by the poller when its
 * epoll_wait times out, or by the monitor when every worker is busy. A timer
 * is removed from the heap before its callback runs, without the lock held,
 * so a callback may arm timers. Adding a timer earlier than every other one
 * breaks the poller's wait so its timeout is recomputed.
 */
#include <string.h>

#include "internal.h"

static struct {
	int lock;                     /* spinlock over the heap */
	struct sched_timer **heap;    /* heap[0] is the earliest */
	int32_t len;                  /* timers armed */
	int32_t cap;                  /* heap's allocated size */
	_Atomic int64_t next_when;    /* heap[0]->when, or INT64_MAX */
} tm;

void sched_timers_init(void)
{
	free(tm.heap);
	memset(&tm, 0, sizeof tm);
	atomic_store(&tm.next_when, INT64_MAX);
}

void sched_timers_fini(void)
{
	free(tm.heap);
	tm.heap = NULL;
	tm.len = tm.cap = 0;
	atomic_store(&tm.next_when, INT64_MAX);
}

int64_t sched_timers_next(void)
{
	return atomic_load(&tm.next_when);
}

static void place(int32_t i, struct sched_timer *t)
{
	tm.heap[i] = t;
	t->heap_index = i;
}

static void sift_up(int32_t i)
{
	struct sched_timer *t = tm.heap[i];
	while (i > 0) {
		int32_t p = (i - 1) / 2;
		if (tm.heap[p]->when <= t->when)
			break;
		place(i, tm.heap[p]);
		i = p;
	}
	place(i, t);
}

static void sift_down(int32_t i)
{
	struct sched_timer *t = tm.heap[i];
	for (;;) {
		int32_t c = 2 * i + 1;
		if (c >= tm.len)
			break;
		if (c + 1 < tm.len && tm.heap[c + 1]->when < tm.heap[c]->when)
			c++;
		if (t->when <= tm.heap[c]->when)
			break;
		place(i, tm.heap[c]);
		i = c;
	}
	place(i, t);
}

static void remove_at_locked(int32_t i)
{
	struct sched_timer *t = tm.heap[i];
	t->heap_index = -1;
	tm.len--;
	if (i != tm.len) {
		place(i, tm.heap[tm.len]);
		sift_down(i);
		sift_up(tm.heap[i]->heap_index);
	}
	atomic_store_explicit(&tm.next_when, tm.len ? tm.heap[0]->when : INT64_MAX,
			      memory_order_release);
}

void sched_timer_start(struct sched_timer *t, int64_t when)
{
	t->when = when;
	sched_spin_lock(&tm.lock);
	if (tm.len == tm.cap) {
		int32_t cap = tm.cap ? tm.cap * 2 : 64;
		struct sched_timer **h = realloc(tm.heap, (size_t)cap * sizeof *h);
		if (!h)
			sched_fatal("out of memory for %d timers", cap);
		tm.heap = h;
		tm.cap = cap;
	}
	place(tm.len++, t);
	sift_up(tm.len - 1);
	bool earliest = tm.heap[0] == t;
	/* seq_cst store, then load poller_busy: pairs with the poller's CAS of
	 * poller_busy before it reads next_when (Dekker), so either the poller
	 * sees the new deadline or we see it and break its wait. */
	if (earliest)
		atomic_store(&tm.next_when, when);
	sched_spin_unlock(&tm.lock);
	if (earliest && atomic_load(&sched_rt.poller_busy))
		sched_netpoll_break();
}

bool sched_timer_stop(struct sched_timer *t)
{
	bool armed = false;
	sched_spin_lock(&tm.lock);
	if (t->heap_index >= 0 && t->heap_index < tm.len && tm.heap[t->heap_index] == t) {
		remove_at_locked(t->heap_index);
		armed = true;
	}
	sched_spin_unlock(&tm.lock);
	return armed;
}

/* Runs every timer due at `now`. Returns true if any ran. */
bool sched_timers_run(int64_t now)
{
	bool ran = false;
	for (;;) {
		sched_spin_lock(&tm.lock);
		if (tm.len == 0 || tm.heap[0]->when > now) {
			sched_spin_unlock(&tm.lock);
			return ran;
		}
		struct sched_timer *t = tm.heap[0];
		remove_at_locked(0);
		sched_spin_unlock(&tm.lock);
		t->fire(t);
		ran = true;
	}
}

/* --- sleep ------------------------------------------------------------------------ */

static void sleep_fire(struct sched_timer *t)
{
	sched_ready(t->arg);
}

static bool sleep_commit(struct sched_g *g, void *arg)
{
	struct sched_timer *t = arg;
	t->arg = g;
	sched_timer_start(t, t->when);
	return true;
}

void sched_sleep(int64_t ns)
{
	if (ns <= 0) {
		sched_gosched();
		return;
	}
	struct sched_timer t = {.when = sched_nanotime() + ns, .fire = sleep_fire, .heap_index = -1};
	sched_park(sleep_commit, &t, "sleep");
}
