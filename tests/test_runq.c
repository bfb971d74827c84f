/*
 * test_runq.c — the local run queue on its own, driven from plain threads
 * with dummy goroutine records: FIFO order, runnext priority, the capacity
 * bound, spilling half to a batch, stealing half, and a seeded concurrent
 * test in which an owner pushes and pops while thieves steal, checking that
 * every record is taken exactly once.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "internal.h"

static struct sched_g gs[4096];

static struct sched_runq *new_runq(void)
{
	return calloc(1, sizeof(struct sched_runq));
}

static void test_fifo_and_next(void)
{
	struct sched_runq *q = new_runq();
	CU_ASSERT_PTR_NULL(sched_runq_pop(q));
	for (int i = 0; i < 10; i++)
		CU_ASSERT(sched_runq_push(q, &gs[i]));
	atomic_store(&q->next, &gs[100]);
	CU_ASSERT_EQUAL(sched_runq_len(q), 11);
	CU_ASSERT_PTR_EQUAL(sched_runq_pop(q), &gs[100]); /* runnext first */
	for (int i = 0; i < 10; i++)
		CU_ASSERT_PTR_EQUAL(sched_runq_pop(q), &gs[i]);
	CU_ASSERT(sched_runq_empty(q));
	free(q);
}

static void test_capacity_and_wrap(void)
{
	struct sched_runq *q = new_runq();
	/* Wrap the indices several times. */
	for (int round = 0; round < 5; round++) {
		for (unsigned i = 0; i < SCHED_RUNQ_SIZE; i++)
			CU_ASSERT(sched_runq_push(q, &gs[i]));
		CU_ASSERT_FALSE(sched_runq_push(q, &gs[999])); /* full */
		for (unsigned i = 0; i < SCHED_RUNQ_SIZE; i++)
			CU_ASSERT_PTR_EQUAL(sched_runq_pop(q), &gs[i]);
		CU_ASSERT_PTR_NULL(sched_runq_pop(q));
	}
	free(q);
}

static void test_spill(void)
{
	struct sched_runq *q = new_runq();
	for (unsigned i = 0; i < SCHED_RUNQ_SIZE; i++)
		sched_runq_push(q, &gs[i]);
	struct sched_g *batch;
	uint32_t n = sched_runq_spill(q, &gs[500], &batch);
	CU_ASSERT_EQUAL(n, SCHED_RUNQ_SIZE / 2 + 1);
	/* The batch holds the oldest half in order, then the extra one. */
	for (unsigned i = 0; i < SCHED_RUNQ_SIZE / 2; i++) {
		CU_ASSERT_PTR_EQUAL(batch, &gs[i]);
		batch = batch->next;
	}
	CU_ASSERT_PTR_EQUAL(batch, &gs[500]);
	CU_ASSERT_PTR_NULL(batch->next);
	CU_ASSERT_EQUAL(sched_runq_len(q), SCHED_RUNQ_SIZE / 2);
	free(q);
}

static void test_steal_half(void)
{
	struct sched_runq *victim = new_runq(), *thief = new_runq();
	for (int i = 0; i < 10; i++)
		sched_runq_push(victim, &gs[i]);
	struct sched_g *g = sched_runq_steal(thief, victim, false);
	/* Takes 5: runs the last one taken, queues the other 4. */
	CU_ASSERT_PTR_EQUAL(g, &gs[4]);
	CU_ASSERT_EQUAL(sched_runq_len(thief), 4);
	CU_ASSERT_EQUAL(sched_runq_len(victim), 5);
	for (int i = 0; i < 4; i++)
		CU_ASSERT_PTR_EQUAL(sched_runq_pop(thief), &gs[i]);
	/* runnext is stolen only when allowed. */
	struct sched_runq *v2 = new_runq();
	atomic_store(&v2->next, &gs[7]);
	CU_ASSERT_PTR_NULL(sched_runq_steal(thief, v2, false));
	CU_ASSERT_PTR_EQUAL(sched_runq_steal(thief, v2, true), &gs[7]);
	free(victim);
	free(thief);
	free(v2);
}

/* --- concurrent: one owner, two thieves ---------------------------------------- */

#define CONC_ITEMS 200000
static _Atomic uint8_t taken[CONC_ITEMS];
static struct sched_g *items;
static struct sched_runq *shared_q;
static _Atomic int owner_done;
static _Atomic long total_taken;

static void take(struct sched_g *g)
{
	size_t i = (size_t)(g - items);
	if (!TCHECK(i < CONC_ITEMS))
		return;
	uint8_t before = atomic_fetch_add(&taken[i], 1);
	TCHECK(before == 0);
	atomic_fetch_add(&total_taken, 1);
}

static void *thief_main(void *unused)
{
	(void)unused;
	struct sched_runq *mine = new_runq();
	while (!atomic_load(&owner_done) || !sched_runq_empty(shared_q)) {
		struct sched_g *g = sched_runq_steal(mine, shared_q, true);
		if (g)
			take(g);
		while ((g = sched_runq_pop(mine)))
			take(g);
	}
	free(mine);
	return NULL;
}

static void test_concurrent_steal(void)
{
	uint64_t rng = harness_seed();
	items = calloc(CONC_ITEMS, sizeof *items);
	shared_q = new_runq();
	memset(taken, 0, sizeof taken);
	atomic_store(&owner_done, 0);
	atomic_store(&total_taken, 0);
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, thief_main, NULL);
	int next = 0;
	while (next < CONC_ITEMS) {
		uint64_t r = harness_rand(&rng);
		int burst = (int)(r % 64);
		for (int k = 0; k < burst && next < CONC_ITEMS; k++) {
			struct sched_g *g = &items[next];
			if (r & 0x100) {
				/* The owner's runnext path, as runq_put(next=true) does. */
				g = atomic_exchange(&shared_q->next, g);
				next++;
				if (!g)
					continue;
			} else {
				next++;
			}
			if (!sched_runq_push(shared_q, g)) {
				struct sched_g *batch;
				uint32_t n = sched_runq_spill(shared_q, g, &batch);
				while (n--) {
					take(batch);
					batch = batch->next;
				}
			}
		}
		int pops = (int)((r >> 16) % 48);
		for (int k = 0; k < pops; k++) {
			struct sched_g *g = sched_runq_pop(shared_q);
			if (!g)
				break;
			take(g);
		}
	}
	atomic_store(&owner_done, 1);
	struct sched_g *g;
	while ((g = sched_runq_pop(shared_q)))
		take(g);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CU_ASSERT_EQUAL(atomic_load(&total_taken), CONC_ITEMS);
	CU_ASSERT_EQUAL(harness_failures(), 0);
	free(items);
	free(shared_q);
}

int main(void)
{
	static const struct harness_test tests[] = {
		{"FIFO order, runnext first", test_fifo_and_next},
		{"capacity bound and index wrap-around", test_capacity_and_wrap},
		{"spill moves the oldest half", test_spill},
		{"steal takes half; runnext only when allowed", test_steal_half},
		{"owner vs two thieves: each taken once (seeded)", test_concurrent_steal},
		{NULL, NULL},
	};
	return harness_main("runq", tests);
}
