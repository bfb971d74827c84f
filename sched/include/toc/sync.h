/*
 * sync.h — blocking primitives for goroutines: wait groups, join, mutexes.
 * They park the goroutine, never the worker thread. Zero-initialized structs
 * are ready to use.
 */
#ifndef SCHED_SYNC_H
#define SCHED_SYNC_H

#include <stdint.h>

struct sched_g;
struct sched_waiter;

/* A Go sync.WaitGroup. */
struct sched_waitgroup {
	int64_t count;                  /* atomic */
	int lock;                       /* spinlock over waiters */
	struct sched_waiter *waiters;   /* parked in sched_wg_wait */
};
void sched_wg_add(struct sched_waitgroup *wg, int64_t delta);
void sched_wg_done(struct sched_waitgroup *wg);
void sched_wg_wait(struct sched_waitgroup *wg);

/* Join: start fn(arg) on a goroutine whose end the caller can wait for. */
struct sched_task {
	struct sched_waitgroup wg;
	void (*fn)(void *);
	void *arg;
	uint64_t id;
};
/* Returns 0, or -1 with errno as sched_go. */
int sched_task_start(struct sched_task *t, void (*fn)(void *), void *arg);
void sched_task_join(struct sched_task *t);

/* A mutex that parks waiting goroutines (spins briefly first). */
struct sched_mutex {
	int state;                      /* atomic: 0 free, 1 held, 2 held with waiters */
	int lock;                       /* spinlock over waiters */
	struct sched_waiter *waiters;
	struct sched_waiter *tail;
};
void sched_mutex_lock(struct sched_mutex *m);
void sched_mutex_unlock(struct sched_mutex *m);

#endif /* SCHED_SYNC_H */
