/*
 * sync.c — wait groups, join and a parking mutex.
 *
 * Waiters are struct sched_waiter records on the parked goroutine's stack,
 * linked under the primitive's spinlock. The park commit releases that
 * spinlock only once the goroutine is off its stack, so the waker may ready
 * it as soon as it sees the record.
 */
#include <errno.h>

#include "internal.h"
#include "toc/sync.h"

struct sched_waiter {
	struct sched_g *g;
	struct sched_waiter *next;
};

static bool unlock_commit(struct sched_g *g, void *lock)
{
	(void)g;
	sched_spin_unlock(lock);
	return true;
}

/* --- wait groups ------------------------------------------------------------ */

void sched_wg_add(struct sched_waitgroup *wg, int64_t delta)
{
	int64_t v = __atomic_add_fetch(&wg->count, delta, __ATOMIC_ACQ_REL);
	if (v < 0)
		sched_fatal("sched_wg_add: negative wait group counter");
	if (v > 0)
		return;
	sched_spin_lock(&wg->lock);
	struct sched_waiter *list = wg->waiters;
	wg->waiters = NULL;
	sched_spin_unlock(&wg->lock);
	while (list) {
		struct sched_waiter *x = list;
		list = x->next; /* read before ready: x lives on the waiter's stack */
		sched_ready(x->g);
	}
}

void sched_wg_done(struct sched_waitgroup *wg)
{
	sched_wg_add(wg, -1);
}

void sched_wg_wait(struct sched_waitgroup *wg)
{
	if (__atomic_load_n(&wg->count, __ATOMIC_ACQUIRE) == 0)
		return;
	struct sched_g *self = sched_self();
	if (!self) {
		/* A plain thread: poll (used by programs that drive the runtime). */
		while (__atomic_load_n(&wg->count, __ATOMIC_ACQUIRE) != 0)
			sched_yield(); /* the OS's */
		return;
	}
	sched_spin_lock(&wg->lock);
	/* Checked under the lock: the last sched_wg_done takes the lock after
	 * its decrement, so it sees our record. */
	if (__atomic_load_n(&wg->count, __ATOMIC_ACQUIRE) == 0) {
		sched_spin_unlock(&wg->lock);
		return;
	}
	struct sched_waiter me = {.g = self, .next = wg->waiters};
	wg->waiters = &me;
	sched_park(unlock_commit, &wg->lock, "wait group");
}

/* --- join ----------------------------------------------------------------------- */

static void task_main(void *p)
{
	struct sched_task *t = p;
	t->fn(t->arg);
	sched_wg_done(&t->wg);
}

int sched_task_start(struct sched_task *t, void (*fn)(void *), void *arg)
{
	*t = (struct sched_task){.fn = fn, .arg = arg};
	sched_wg_add(&t->wg, 1);
	t->id = sched_go(task_main, t);
	if (t->id == 0) {
		int e = errno;
		sched_wg_add(&t->wg, -1);
		errno = e;
		return -1;
	}
	return 0;
}

void sched_task_join(struct sched_task *t)
{
	sched_wg_wait(&t->wg);
}

/* --- mutex ------------------------------------------------------------------------ */

void sched_mutex_lock(struct sched_mutex *m)
{
	for (int spins = 0; spins < 100; spins++) {
		int free = 0;
		if (__atomic_compare_exchange_n(&m->state, &free, 1, false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return;
		__builtin_ia32_pause();
	}
	for (;;) {
		sched_spin_lock(&m->lock);
		/* Announce a waiter, then try once more. */
		if (__atomic_exchange_n(&m->state, 2, __ATOMIC_ACQUIRE) == 0) {
			/* Got it; other waiters may remain, so state stays 2 if any. */
			if (!m->waiters)
				__atomic_store_n(&m->state, 1, __ATOMIC_RELAXED);
			sched_spin_unlock(&m->lock);
			return;
		}
		struct sched_g *self = sched_self();
		if (!self) {
			sched_spin_unlock(&m->lock);
			sched_yield();
			continue;
		}
		struct sched_waiter me = {.g = self};
		if (m->tail)
			m->tail->next = &me;
		else
			m->waiters = &me;
		m->tail = &me;
		sched_park(unlock_commit, &m->lock, "mutex");
		/* Woken by unlock, which set state to 0 and dequeued us: retry. */
	}
}

void sched_mutex_unlock(struct sched_mutex *m)
{
	if (__atomic_exchange_n(&m->state, 0, __ATOMIC_RELEASE) == 1)
		return;
	sched_spin_lock(&m->lock);
	struct sched_waiter *x = m->waiters;
	if (x) {
		m->waiters = x->next;
		if (!m->waiters)
			m->tail = NULL;
	}
	sched_spin_unlock(&m->lock);
	if (x)
		sched_ready(x->g);
}
