/*
 * test_stress.c — a seeded torture test of the scheduler and channels.
 *
 * 100,000 producer goroutines (started in waves by a spawner, so at most a
 * few thousand live at once) each send MSGS messages with unique ids to
 * randomly chosen channels of random capacity (0, 1, 4, 16), by a blocking
 * send, a select over several send cases, or a try-send loop, with random
 * yields in between. A pool of consumers receives through selects over
 * random subsets of the channels, with a default case or a short deadline
 * (so that a try-sender on a channel nobody selects is eventually served by a
 * consumer that picks a new subset). Every id
 * is checked off in a bitmap: a duplicate or a missing message fails the
 * test. Run with TOC_TEST_SEED=N to repeat a schedule's random choices.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "toc/chan.h"
#include "toc/sched.h"
#include "toc/sync.h"

#define PRODUCERS 100000
#define WAVE 5000
#define MSGS 2
#define TOTAL ((long)PRODUCERS * MSGS)
#define NCHAN 16
#define CONSUMERS 32
#define SELECT_WIDTH 4

static struct sched_chan *chans[NCHAN];
static struct sched_chan *done_ch;
static _Atomic uint64_t *seen;      /* one bit per message id */
static _Atomic long received;
static _Atomic long duplicates;
static struct sched_waitgroup producers_wg, consumers_wg;
static uint64_t seed;

static uint64_t rng_for(uint64_t index)
{
	uint64_t s = seed ^ (index * 0x9e3779b97f4a7c15ull);
	return harness_rand(&s);
}

static void check_off(uint64_t id)
{
	uint64_t bit = 1ull << (id % 64);
	if (!TCHECK(id < (uint64_t)TOTAL))
		return;
	if (atomic_fetch_or(&seen[id / 64], bit) & bit)
		atomic_fetch_add(&duplicates, 1);
	atomic_fetch_add(&received, 1);
}

static void producer(void *arg)
{
	uint64_t index = (uint64_t)(uintptr_t)arg;
	uint64_t r = rng_for(index);
	for (int k = 0; k < MSGS; k++) {
		uint64_t id = index * MSGS + (uint64_t)k;
		r = harness_rand(&r);
		if (r & 1)
			sched_gosched();
		switch ((r >> 1) % 3) {
		case 0:
			sched_chan_send(chans[(r >> 8) % NCHAN], &id);
			break;
		case 1: {
			struct sched_select_case cs[SELECT_WIDTH];
			for (int i = 0; i < SELECT_WIDTH; i++)
				cs[i] = (struct sched_select_case){
					.dir = SCHED_SELECT_SEND,
					.chan = chans[(r >> (8 + 4 * i)) % NCHAN],
					.elem = &id};
			int w = sched_select(cs, SELECT_WIDTH, false);
			TCHECK(w >= 0 && w < SELECT_WIDTH);
			break;
		}
		default: {
			struct sched_chan *c = chans[(r >> 8) % NCHAN];
			while (sched_chan_trysend(c, &id) != SCHED_CHAN_OK)
				sched_gosched();
			break;
		}
		}
	}
	sched_wg_done(&producers_wg);
}

static void consumer(void *arg)
{
	uint64_t r = rng_for((uint64_t)(uintptr_t)arg + PRODUCERS);
	for (;;) {
		struct sched_select_case cs[SELECT_WIDTH + 1];
		uint64_t ids[SELECT_WIDTH];
		r = harness_rand(&r);
		for (int i = 0; i < SELECT_WIDTH; i++)
			cs[i] = (struct sched_select_case){.dir = SCHED_SELECT_RECV,
							   .chan = chans[(r >> (4 * i)) % NCHAN],
							   .elem = &ids[i]};
		cs[SELECT_WIDTH] = (struct sched_select_case){.dir = SCHED_SELECT_RECV, .chan = done_ch};
		int w;
		if ((r >> 40) % 4 == 0)
			w = sched_select(cs, SELECT_WIDTH + 1, true);
		else
			w = sched_select_until(cs, SELECT_WIDTH + 1, sched_nanotime() + 2000000);
		if (w == SCHED_SELECT_DEFAULT || w == SCHED_SELECT_TIMEOUT) {
			sched_gosched();
			continue;
		}
		if (w == SELECT_WIDTH) {
			TCHECK(!cs[w].ok); /* done_ch only ever closes */
			break;
		}
		TCHECK(cs[w].ok);
		check_off(ids[w]);
		if ((r >> 50) % 8 == 0)
			sched_gosched();
	}
	sched_wg_done(&consumers_wg);
}

static void stress_body(void *unused)
{
	(void)unused;
	static const size_t caps[] = {0, 1, 4, 16};
	for (int i = 0; i < NCHAN; i++)
		chans[i] = sched_chan_new(sizeof(uint64_t), caps[i % 4]);
	done_ch = sched_chan_new(0, 0);
	sched_wg_add(&consumers_wg, CONSUMERS);
	for (uintptr_t i = 0; i < CONSUMERS; i++)
		TCHECK(sched_go(consumer, (void *)i) != 0);
	for (uintptr_t base = 0; base < PRODUCERS; base += WAVE) {
		sched_wg_add(&producers_wg, WAVE);
		for (uintptr_t i = base; i < base + WAVE; i++)
			TCHECK(sched_go(producer, (void *)i) != 0);
		sched_wg_wait(&producers_wg);
	}
	/* Every producer returned, so every message sits in a buffer or was
	 * taken: wait for the consumers to drain, then stop them. */
	while (atomic_load(&received) < TOTAL)
		sched_sleep(1000 * 1000);
	sched_chan_close(done_ch);
	sched_wg_wait(&consumers_wg);
	for (int i = 0; i < NCHAN; i++) {
		TCHECK(sched_chan_len(chans[i]) == 0);
		sched_chan_free(chans[i]);
	}
	sched_chan_free(done_ch);
}

static void run_stress(int procs)
{
	seed = harness_seed() + (uint64_t)procs;
	seen = calloc((TOTAL + 63) / 64, sizeof *seen);
	atomic_store(&received, 0);
	atomic_store(&duplicates, 0);
	producers_wg = (struct sched_waitgroup){0};
	consumers_wg = (struct sched_waitgroup){0};
	harness_run(procs, stress_body, NULL);
	CU_ASSERT_EQUAL(atomic_load(&received), TOTAL);
	CU_ASSERT_EQUAL(atomic_load(&duplicates), 0);
	long missing = 0;
	for (long id = 0; id < TOTAL; id++)
		missing += !(atomic_load(&seen[id / 64]) & (1ull << (id % 64)));
	CU_ASSERT_EQUAL(missing, 0);
	free(seen);
}

static void test_stress_two_workers(void)
{
	run_stress(2);
}

static void test_stress_one_worker(void)
{
	run_stress(1);
}

int main(void)
{
	static const struct harness_test tests[] = {
		{"100k goroutines, random channel ops: each message once (2 workers)", test_stress_two_workers},
		{"100k goroutines, random channel ops: each message once (1 worker)", test_stress_one_worker},
		{NULL, NULL},
	};
	return harness_main("stress", tests);
}
