/*
 * idle.c — idle workers: sleeping, waking, the spinning protocol.
 *
 * Go's protocol: sched_wakep wakes an idle worker only when nobody is
 * spinning (looking for work); the woken worker spins; a worker that stops
 * spinning re-checks every queue after announcing itself idle, so a
 * goroutine readied while it was giving up is never stranded. One sleeping
 * worker (the poller) blocks in epoll_wait with the next timer as timeout;
 * the others block on a futex.
 *
 * The orders, and what pairs with what:
 *   - nidle: the sleeper's seq_cst increment before it looks for work,
 *     against a waker's seq_cst load after it made work visible (Dekker:
 *     one of the two sees the other);
 *   - wake: notify's release store against the sleeper's acquire load;
 *   - active: seq_cst stores against the stopper's seq_cst loads
 *     (safepoint.c documents that pair);
 *   - the idle list and each worker's sleeping flag: under idle_lock.
 */
#include <urcu-qsbr.h>

#include "internal.h"

#define POLLER_NAP_NS 100000000ll   /* the longest an idle poller sleeps: 100 ms */

/* Wakes w, which the caller has just taken off the idle list. */
static void notify(struct sched_worker *w, bool in_poll)
{
	atomic_store_explicit(&w->wake, 1, memory_order_release);
	if (in_poll)
		sched_netpoll_break();
	else
		sched_futex_wake(&w->wake, 1);
}

/* Wakes an idle worker to look for work, unless one is already looking. */
void sched_wakep(void)
{
	/* seq_cst: the caller made work visible (a run queue push) before
	 * this load; worker_sleep increments nidle (seq_cst) before it looks
	 * for work. Either this load sees the sleeper, or the sleeper sees the
	 * work (Dekker). */
	if (atomic_load_explicit(&sched_rt.nidle, memory_order_seq_cst) == 0)
		return;
	int zero = 0;
	/* The relaxed load only spares the CAS when someone spins already;
	 * the CAS (seq_cst) decides who wakes a helper. */
	if (atomic_load_explicit(&sched_rt.nspinning, memory_order_relaxed) != 0 ||
	    !atomic_compare_exchange_strong_explicit(&sched_rt.nspinning, &zero, 1, memory_order_seq_cst,
						     memory_order_relaxed))
		return;
	sched_spin_lock(&sched_rt.idle_lock);
	struct sched_worker *w = sched_rt.idle;
	bool in_poll = false;
	if (w) {
		sched_rt.idle = w->idle_next;
		atomic_fetch_sub_explicit(&sched_rt.nidle, 1, memory_order_seq_cst);
		atomic_store_explicit(&w->sleeping, 0, memory_order_relaxed);   /* idle_lock orders it */
		in_poll = w->in_poll;
		w->in_poll = false;
		/* The woken worker starts spinning; the count is already ours. */
		w->spinning = true;
	}
	sched_spin_unlock(&sched_rt.idle_lock);
	if (!w) {
		atomic_fetch_sub_explicit(&sched_rt.nspinning, 1, memory_order_seq_cst);
		return;
	}
	w->stats.wakeups++;
	notify(w, in_poll);
}

/* Takes w off the idle list if still there. Returns false when a waker
 * already took it (and set w->spinning and w->wake). */
static bool idle_remove(struct sched_worker *w)
{
	bool removed = false;
	sched_spin_lock(&sched_rt.idle_lock);
	if (atomic_load_explicit(&w->sleeping, memory_order_relaxed)) {   /* idle_lock orders it */
		struct sched_worker **p = &sched_rt.idle;
		while (*p != w)
			p = &(*p)->idle_next;
		*p = w->idle_next;
		atomic_fetch_sub_explicit(&sched_rt.nidle, 1, memory_order_seq_cst);
		atomic_store_explicit(&w->sleeping, 0, memory_order_relaxed);
		w->in_poll = false;
		removed = true;
	}
	sched_spin_unlock(&sched_rt.idle_lock);
	return removed;
}

static bool any_work(void)
{
	if (!sched_gq_empty())
		return true;
	for (int i = 0; i < sched_rt.cfg.procs; i++)
		if (!sched_runq_empty(&sched_rt.workers[i].runq))
			return true;
	return false;
}

void sched_inject(struct sched_worker *w, struct sched_g *batch, uint32_t n)
{
	if (!n)
		return;
	w->stats.netpolls++;
	sched_ready_batch(batch, n > 1 ? n - 1 : 0);
}

/* Sleeps until woken, a timer is due or the poller has events. */
void sched_worker_sleep(struct sched_worker *w)
{
	sched_spin_lock(&sched_rt.idle_lock);
	if (!sched_gq_empty() || atomic_load(&sched_rt.shutdown)) {
		sched_spin_unlock(&sched_rt.idle_lock);
		return;
	}
	w->idle_next = sched_rt.idle;
	sched_rt.idle = w;
	atomic_store_explicit(&w->sleeping, 1, memory_order_relaxed);   /* idle_lock orders it */
	/* seq_cst: before any_work() below looks at the queues; pairs with
	 * sched_wakep's load of nidle (Dekker). */
	atomic_fetch_add_explicit(&sched_rt.nidle, 1, memory_order_seq_cst);
	int zero = 0;
	bool poller = atomic_compare_exchange_strong_explicit(&sched_rt.poller_busy, &zero, 1, memory_order_seq_cst,
							      memory_order_relaxed);
	w->in_poll = poller;
	sched_spin_unlock(&sched_rt.idle_lock);

	/* Dropping the spinning state: re-check after announcing ourselves idle
	 * (seq_cst above), so that a wakep() that saw us spinning and did nothing
	 * cannot strand a goroutine (Go's findrunnable "delicate dance"). */
	if (w->spinning) {
		w->spinning = false;
		atomic_fetch_sub_explicit(&sched_rt.nspinning, 1, memory_order_seq_cst);
	}
	if (any_work() || atomic_load_explicit(&sched_rt.stw_pending, memory_order_seq_cst)) {
		if (!idle_remove(w))
			atomic_store_explicit(&w->wake, 0, memory_order_relaxed); /* a waker took us: we are spinning */
		if (poller)
			atomic_store_explicit(&sched_rt.poller_busy, 0, memory_order_release);
		return;
	}

	/* seq_cst: the stop-the-world Dekker pair (safepoint.c): a stopper
	 * that sets stw_pending then reads active == 0 may count us stopped. */
	atomic_store_explicit(&w->active, 0, memory_order_seq_cst);
	rcu_thread_offline();
	if (atomic_load(&sched_rt.nidle) == sched_rt.cfg.procs)
		atomic_store(&sched_monitor_sleeping, 1);
	if (poller) {
		/* At most POLLER_NAP_NS, never for ever: sched_run's break at
		 * shutdown is an eventfd write that another poll (the monitor's,
		 * a worker's) may drain before this one waits, and a poller
		 * asleep for good kept sched_run joining it (test_stw_stress hung
		 * once in a fresh-clone CI). Woken, it sees the shutdown. */
		int64_t timeout = POLLER_NAP_NS, next = sched_timers_next();
		if (next != INT64_MAX) {
			timeout = next - sched_nanotime();
			if (timeout < 0)
				timeout = 0;
			if (timeout > POLLER_NAP_NS)
				timeout = POLLER_NAP_NS;
		}
		if (atomic_load(&sched_rt.shutdown))
			timeout = 0;
		struct sched_g *batch = NULL;
		uint32_t n = sched_netpoll(timeout, &batch);
		atomic_store_explicit(&sched_rt.poller_busy, 0, memory_order_release);
		if (!idle_remove(w))
			atomic_store_explicit(&w->wake, 0, memory_order_relaxed);
		rcu_thread_online();
		/* seq_cst: before find_runnable's seq_cst load of the poll word
		 * (the stop-the-world Dekker pair). */
		atomic_store_explicit(&w->active, 1, memory_order_seq_cst);
		sched_inject(w, batch, n);
	} else {
		/* acquire: pairs with notify's release store of wake. */
		while (!atomic_load_explicit(&w->wake, memory_order_acquire) &&
		       !atomic_load_explicit(&sched_rt.shutdown, memory_order_acquire))
			sched_futex_wait(&w->wake, 0, -1);
		atomic_store_explicit(&w->wake, 0, memory_order_relaxed);
		idle_remove(w);
		rcu_thread_online();
		/* seq_cst: the stop-the-world Dekker pair, as above. */
		atomic_store_explicit(&w->active, 1, memory_order_seq_cst);
	}
	sched_chaos_point();
	if (atomic_exchange(&sched_monitor_sleeping, 0)) {
		atomic_fetch_add(&sched_rt.monitor_wake, 1);   /* a count: see monitor_main */
		sched_futex_wake(&sched_rt.monitor_wake, 1);
	}
}

