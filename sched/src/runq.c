/*
 * runq.c — a worker's local run queue.
 *
 * A single-producer, multi-consumer ring (Go's runqput/runqget/runqsteal):
 *   - only the owner writes tail (store-release after filling the slot, so a
 *     consumer that acquires tail sees the slot's contents);
 *   - the owner and thieves consume by CAS on head; a consumer reads the slot
 *     before its CAS, and the CAS validates that the slot was not recycled;
 *   - the ring is never over-filled: the owner reads head (acquire) before
 *     writing a slot, so it never overwrites one a thief may still read.
 *
 * runnext is a one-goroutine fast lane: the goroutine the owner just readied
 * (the partner in a channel hand-off) runs next, before the ring, which keeps
 * a ping-pong pair on one worker and its caches warm. Thieves take runnext
 * only when asked (take_next), which the stealer does after a short wait.
 *
 * Which operations may run concurrently:
 *   push/pop/spill (owner)  ||  steal (any number of thieves)
 *   push || push, pop || pop: never (one owner).
 */
#include "internal.h"

static inline uint32_t load_acq(_Atomic uint32_t *p)
{
	return atomic_load_explicit(p, memory_order_acquire);
}

bool sched_runq_push(struct sched_runq *q, struct sched_g *g)
{
	uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
	uint32_t h = load_acq(&q->head); /* pairs with the consumers' CAS */
	if (t - h >= SCHED_RUNQ_SIZE)
		return false;
	atomic_store_explicit(&q->ring[t % SCHED_RUNQ_SIZE], g, memory_order_relaxed);
	/* Publishes the slot to consumers. */
	atomic_store_explicit(&q->tail, t + 1, memory_order_release);
	return true;
}

struct sched_g *sched_runq_pop(struct sched_runq *q)
{
	struct sched_g *g = atomic_load_explicit(&q->next, memory_order_relaxed);
	if (g && atomic_compare_exchange_strong_explicit(&q->next, &g, NULL, memory_order_acquire,
							 memory_order_relaxed))
		return g;
	for (;;) {
		uint32_t h = load_acq(&q->head);
		uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
		if (t == h)
			return NULL;
		g = atomic_load_explicit(&q->ring[h % SCHED_RUNQ_SIZE], memory_order_relaxed);
		/* Release: the owner's later push reads head with acquire. */
		if (atomic_compare_exchange_weak_explicit(&q->head, &h, h + 1, memory_order_acq_rel,
							  memory_order_relaxed))
			return g;
	}
}

uint32_t sched_runq_len(struct sched_runq *q)
{
	uint32_t h = load_acq(&q->head);
	uint32_t t = load_acq(&q->tail);
	return t - h + (atomic_load_explicit(&q->next, memory_order_relaxed) != NULL);
}

bool sched_runq_empty(struct sched_runq *q)
{
	return sched_runq_len(q) == 0;
}

uint32_t sched_runq_spill(struct sched_runq *q, struct sched_g *g, struct sched_g **batch)
{
	struct sched_g *taken[SCHED_RUNQ_SIZE / 2];
	uint32_t n;
	for (;;) {
		uint32_t h = load_acq(&q->head);
		uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
		n = (t - h) / 2;
		for (uint32_t i = 0; i < n; i++)
			taken[i] = atomic_load_explicit(&q->ring[(h + i) % SCHED_RUNQ_SIZE],
							memory_order_relaxed);
		/* Link only after the CAS: until then thieves may own them. */
		if (atomic_compare_exchange_strong_explicit(&q->head, &h, h + n, memory_order_acq_rel,
							    memory_order_relaxed))
			break;
	}
	g->next = NULL;
	for (uint32_t i = n; i-- > 0;) {
		taken[i]->next = g;
		g = taken[i];
	}
	*batch = g;
	return n + 1;
}

struct sched_g *sched_runq_steal(struct sched_runq *thief, struct sched_runq *victim, bool take_next)
{
	for (;;) {
		uint32_t h = load_acq(&victim->head);
		uint32_t t = load_acq(&victim->tail); /* pairs with the owner's release */
		uint32_t n = t - h;
		n -= n / 2;
		if (n == 0) {
			if (!take_next)
				return NULL;
			struct sched_g *g = atomic_load_explicit(&victim->next, memory_order_relaxed);
			if (g && atomic_compare_exchange_strong_explicit(&victim->next, &g, NULL,
									 memory_order_acquire,
									 memory_order_relaxed))
				return g;
			return NULL;
		}
		if (n > SCHED_RUNQ_SIZE / 2)
			continue; /* read an inconsistent head/tail pair; retry */
		/* Copy into the thief's ring (empty: only its owner steals into it). */
		uint32_t tt = atomic_load_explicit(&thief->tail, memory_order_relaxed);
		for (uint32_t i = 0; i < n; i++) {
			struct sched_g *x = atomic_load_explicit(&victim->ring[(h + i) % SCHED_RUNQ_SIZE],
								 memory_order_relaxed);
			atomic_store_explicit(&thief->ring[(tt + i) % SCHED_RUNQ_SIZE], x,
					      memory_order_relaxed);
		}
		if (!atomic_compare_exchange_strong_explicit(&victim->head, &h, h + n,
							     memory_order_acq_rel, memory_order_relaxed))
			continue;
		/* Keep the last one to run now; publish the rest. */
		n--;
		struct sched_g *g = atomic_load_explicit(&thief->ring[(tt + n) % SCHED_RUNQ_SIZE],
							 memory_order_relaxed);
		if (n)
			atomic_store_explicit(&thief->tail, tt + n, memory_order_release);
		return g;
	}
}
