/*
 * test_switch.c — the context switch and the goroutine life cycle:
 * callee-saved registers survive switches (also across workers), yield order
 * on one worker is round-robin, ids are unique, the per-goroutine slot keeps
 * its value, goroutines may be spawned from plain threads, and a runtime can
 * be started again after it stopped.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "toc/sched.h"
#include "toc/sync.h"

static struct sched_waitgroup wg;

/* Values pinned in callee-saved registers across many yields: if the switch
 * lost one, the comparison after the yield fails. */
static void register_keeper(void *arg)
{
	uint64_t seed = (uint64_t)(uintptr_t)arg;
	for (int i = 0; i < 2000; i++) {
		register uint64_t rbx __asm__("rbx") = seed + 1;
		register uint64_t r12 __asm__("r12") = seed + 2;
		register uint64_t r13 __asm__("r13") = seed + 3;
		register uint64_t r14 __asm__("r14") = seed + 4;
		register uint64_t r15 __asm__("r15") = seed + 5;
		__asm__ volatile("" : "+r"(rbx), "+r"(r12), "+r"(r13), "+r"(r14), "+r"(r15));
		sched_gosched();
		__asm__ volatile("" : "+r"(rbx), "+r"(r12), "+r"(r13), "+r"(r14), "+r"(r15));
		TCHECK(rbx == seed + 1 && r12 == seed + 2 && r13 == seed + 3 && r14 == seed + 4 &&
		       r15 == seed + 5);
		seed += 16;
	}
	sched_wg_done(&wg);
}

static void registers_body(void *unused)
{
	(void)unused;
	sched_wg_add(&wg, 8);
	for (uintptr_t i = 0; i < 8; i++)
		sched_go(register_keeper, (void *)(i << 32));
	sched_wg_wait(&wg);
}

static void test_registers_one_worker(void)
{
	harness_run(1, registers_body, NULL);
}

static void test_registers_two_workers(void)
{
	harness_run(2, registers_body, NULL);
}

/* On one worker, goroutines that only yield run in strict rotation. */
#define ROT_G 4
#define ROT_ROUNDS 100
static int rot_log[ROT_G * ROT_ROUNDS];
static int rot_len;
static int rot_started;

static void rotator(void *arg)
{
	int me = (int)(intptr_t)arg;
	/* sched_go may yield while main spawns us: start logging together. */
	rot_started++;
	while (rot_started < ROT_G)
		sched_gosched();
	for (int i = 0; i < ROT_ROUNDS; i++) {
		rot_log[rot_len++] = me;
		sched_gosched();
	}
	sched_wg_done(&wg);
}

static void rotation_body(void *unused)
{
	(void)unused;
	rot_len = 0;
	rot_started = 0;
	sched_wg_add(&wg, ROT_G);
	for (intptr_t i = 0; i < ROT_G; i++)
		sched_go(rotator, (void *)i);
	sched_wg_wait(&wg);
}

static void test_rotation(void)
{
	harness_run(1, rotation_body, NULL);
	CU_ASSERT_EQUAL(rot_len, ROT_G * ROT_ROUNDS);
	/* After the first round, the pattern repeats with period ROT_G. */
	int bad = 0;
	for (int i = ROT_G; i < rot_len; i++)
		bad += rot_log[i] != rot_log[i - ROT_G];
	CU_ASSERT_EQUAL(bad, 0);
	int seen[ROT_G] = {0};
	for (int i = 0; i < rot_len; i++)
		seen[rot_log[i]]++;
	for (int i = 0; i < ROT_G; i++)
		CU_ASSERT_EQUAL(seen[i], ROT_ROUNDS);
}

/* Ids are unique and positive; sched_self and the slot belong to the g. */
#define IDS 2000
static uint64_t ids[IDS];

static void id_recorder(void *arg)
{
	intptr_t i = (intptr_t)arg;
	struct sched_g *g = sched_self();
	TCHECK(g != NULL);
	*sched_g_slot(g) = arg;
	sched_gosched();
	TCHECK(sched_self() == g);
	TCHECK(*sched_g_slot(g) == arg);
	ids[i] = sched_g_id(g);
	sched_wg_done(&wg);
}

static void ids_body(void *unused)
{
	(void)unused;
	sched_wg_add(&wg, IDS);
	for (intptr_t i = 0; i < IDS; i++)
		TCHECK(sched_go(id_recorder, (void *)i) != 0);
	sched_wg_wait(&wg);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void test_ids_and_slots(void)
{
	memset(ids, 0, sizeof ids);
	harness_run(2, ids_body, NULL);
	qsort(ids, IDS, sizeof ids[0], cmp_u64);
	CU_ASSERT(ids[0] > 0);
	int dups = 0;
	for (int i = 1; i < IDS; i++)
		dups += ids[i] == ids[i - 1];
	CU_ASSERT_EQUAL(dups, 0);
}

/* sched_go from a thread that is not a worker. */
static _Atomic int thread_spawned_ran;

static void count_run(void *unused)
{
	(void)unused;
	atomic_fetch_add(&thread_spawned_ran, 1);
	sched_wg_done(&wg);
}

static void *spawner_thread(void *unused)
{
	(void)unused;
	for (int i = 0; i < 100; i++)
		TCHECK(sched_go(count_run, NULL) != 0);
	TCHECK(sched_self() == NULL);
	return NULL;
}

static void thread_spawn_body(void *unused)
{
	(void)unused;
	pthread_t t;
	sched_wg_add(&wg, 100);
	TCHECK(pthread_create(&t, NULL, spawner_thread, NULL) == 0);
	sched_wg_wait(&wg);
	pthread_join(t, NULL);
}

/* A goroutine that spawns very short goroutines one after another, as a
 * request dispatcher does: after the first few, every spawn finds the
 * worker's stack cache empty and yields to let the goroutines before it
 * exit. The goroutines must still spread over both workers: the yield
 * leaves the spawner stealable and wakes the idle worker. (The rule that
 * wakes a helper only for work in the ring let one worker run every
 * goroutine, one after another, while the other slept: every one here,
 * and in 14 of 20 runs of txbench's spawn driver every request.) */
#define SPREAD_BATCH 20000
#define SPREAD_SPAWNER_WORK 1000
#define SPREAD_BATCHES_MAX 50   /* 1,000,000 goroutines: seconds, even beside CPU hogs */
static _Atomic uint64_t spread_ran[2];
static int spread_batches;
static struct sched_waitgroup spread_wg;

static void spread_child(void *arg)
{
	(void)arg;
	volatile uint64_t x = 0;
	for (int i = 0; i < 200; i++)   /* short: the spawner yields at every spawn */
		x += (uint64_t)i;
	atomic_fetch_add(&spread_ran[sched_worker_index()], 1);
	sched_wg_done(&spread_wg);
}

static bool spread_enough(void)
{
	uint64_t a = atomic_load(&spread_ran[0]), b = atomic_load(&spread_ran[1]);
	return a * 100 >= a + b && b * 100 >= a + b;
}

/* Batches of spawns until one batch ran at least 1% on each worker, or the
 * bound: on a loaded machine the woken worker may get a CPU too late for a
 * batch, so the test tries again instead of timing it. Without the fix
 * it took 5 and 40 batches in two runs here: the collapse onto one worker
 * is a matter of timing, and this test catches only its gross form (every
 * batch on one worker). The evidence for the fix is txbench's spawn
 * driver, 14 of 20 runs on one worker before and 0 of 20 after
 * (docs/log/servers.md). */
static void spread_body(void *arg)
{
	(void)arg;
	spread_batches = 0;
	do {
		atomic_store(&spread_ran[0], 0);
		atomic_store(&spread_ran[1], 0);
		for (int i = 0; i < SPREAD_BATCH; i++) {
			/* The dispatcher's own work for a request (txbench's
			 * draws it and sends a token): a spawner this slow
			 * is what lets each child exit before the next spawn. */
			volatile uint64_t x = 0;
			for (int j = 0; j < SPREAD_SPAWNER_WORK; j++)
				x += (uint64_t)j;
			sched_wg_add(&spread_wg, 1);
			TCHECK(sched_go(spread_child, NULL) != 0);
		}
		sched_wg_wait(&spread_wg);
		spread_batches++;
	} while (spread_batches < SPREAD_BATCHES_MAX && !spread_enough());
}

static void test_spawner_spreads(void)
{
	harness_run(2, spread_body, NULL);
	uint64_t a = atomic_load(&spread_ran[0]), b = atomic_load(&spread_ran[1]);
	printf("\n    batch %d of %d spawns: run per worker %llu, %llu", spread_batches, SPREAD_BATCH,
	       (unsigned long long)a, (unsigned long long)b);
	CU_ASSERT_EQUAL(a + b, SPREAD_BATCH);
	/* Not a balance check (the machine may be loaded): each worker ran
	 * some of one batch. One worker running every batch is the failure. */
	CU_ASSERT(spread_enough());
}

static void test_spawn_from_thread(void)
{
	atomic_store(&thread_spawned_ran, 0);
	harness_run(2, thread_spawn_body, NULL);
	CU_ASSERT_EQUAL(atomic_load(&thread_spawned_ran), 100);
}

/* A runtime stops with goroutines still parked, and starts again cleanly. */
static struct sched_waitgroup never;

static void parked_forever(void *unused)
{
	(void)unused;
	sched_wg_wait(&never);
}

static void leave_parked_body(void *unused)
{
	(void)unused;
	sched_wg_add(&never, 1);
	for (int i = 0; i < 100; i++)
		sched_go(parked_forever, NULL);
	sched_gosched();
}

static void test_restart(void)
{
	for (int i = 0; i < 3; i++) {
		never = (struct sched_waitgroup){0};
		harness_run(2, leave_parked_body, NULL);
	}
	CU_ASSERT_EQUAL(sched_go(count_run, NULL), 0); /* no runtime: refused */
}

int main(void)
{
	static const struct harness_test tests[] = {
		{"callee-saved registers survive yields (1 worker)", test_registers_one_worker},
		{"callee-saved registers survive yields (2 workers)", test_registers_two_workers},
		{"yield is round-robin on one worker", test_rotation},
		{"ids unique, self and slot stable", test_ids_and_slots},
		{"spawn from a non-worker thread", test_spawn_from_thread},
		{"a spawner's goroutines spread over both workers", test_spawner_spreads},
		{"runtime restarts with goroutines left parked", test_restart},
		{NULL, NULL},
	};
	return harness_main("switch", tests);
}
