/*
 * test_timer.c — sched_sleep and one-shot timers (toc/sched.h).
 *
 * Covers: a sleep lasts at least what was asked (never checked against an
 * upper bound); many sleepers wake no earlier than their deadlines, and on
 * one worker in deadline order; a timer's callback may try-send on a channel
 * that a goroutine receives from; stop before firing returns true and the
 * callback never runs, stop after firing returns false; a fired timer can be
 * armed again; 1,000 timers armed at once, some stopped, each fire at most
 * once and exactly once unless stopped; a timer armed earlier than the one a
 * sleeping worker waits for fires first.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "internal.h" /* test-only: sched_rt.poller_busy, nidle */
#include "toc/chan.h"
#include "toc/sched.h"
#include "toc/sync.h"

#define MS(x) ((int64_t)(x) * 1000000)
#define US(x) ((int64_t)(x) * 1000)

/* --- sleep ---------------------------------------------------------------- */

static void sleep_durations_body(void *unused)
{
	(void)unused;
	static const int64_t durations[] = {1, US(1), US(50), US(500), MS(1), MS(3), MS(10)};
	for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
		int64_t t0 = sched_nanotime();
		sched_sleep(durations[i]);
		TCHECK(sched_nanotime() - t0 >= durations[i]);
	}
	/* Zero and negative durations only yield. */
	sched_sleep(0);
	sched_sleep(-MS(5));
}

static void test_sleep_at_least(void)
{
	harness_run(1, sleep_durations_body, NULL);
	harness_run(2, sleep_durations_body, NULL);
}

#define SLEEPERS 200

struct sleepers {
	struct sched_waitgroup wg;
	int64_t duration[SLEEPERS];
	atomic_int next;
	atomic_int early;  /* sleeps that ended before their time */
};

static void sleeper(void *p)
{
	struct sleepers *s = p;
	int i = atomic_fetch_add(&s->next, 1);
	int64_t t0 = sched_nanotime();
	sched_sleep(s->duration[i]);
	if (sched_nanotime() - t0 < s->duration[i])
		atomic_fetch_add(&s->early, 1);
	sched_wg_done(&s->wg);
}

/* Many concurrent sleepers with random durations (0..5 ms). */
static void many_sleepers_body(void *p)
{
	struct sleepers *s = p;
	uint64_t rng = harness_seed();
	for (int i = 0; i < SLEEPERS; i++)
		s->duration[i] = (int64_t)(harness_rand(&rng) % (uint64_t)MS(5));
	sched_wg_add(&s->wg, SLEEPERS);
	for (int i = 0; i < SLEEPERS; i++)
		TCHECK(sched_go(sleeper, s) != 0);
	sched_wg_wait(&s->wg);
}

static void test_many_sleepers(void)
{
	for (int procs = 1; procs <= 2; procs++) {
		struct sleepers s;
		memset(&s, 0, sizeof s);
		harness_run(procs, many_sleepers_body, &s);
		CU_ASSERT_EQUAL(atomic_load(&s.next), SLEEPERS);
		CU_ASSERT_EQUAL(atomic_load(&s.early), 0);
	}
}

/* Sleepers whose deadlines are 2 ms apart, started in a random order, on one
 * worker: they wake in deadline order. The deadlines are absolute (a common
 * base), so spawn latency cannot reorder them.
 *
 * "In order" is judged by what the runtime knew, not by the machine: when
 * the worker is stalled past two deadlines (a loaded host takes it away for
 * a time slice), both timers are due at once and ready their goroutines
 * last-in first-out (runnext, as in Go), so the later deadline may run first.
 * That inversion is legal only if the earlier deadline had passed when the
 * later one woke; a goroutine woken while an earlier deadline was still in
 * the future, or before its own, is a timer bug on any machine. (This test
 * used to demand the exact order and retry five times; the loaded tier,
 * tests/run --loaded, still saw all five fail.) The order in which the timer
 * heap fires is checked exactly, on any machine, by test_fire_order below. */
#define ORDERED 25
#define ORDER_SPACING MS(2)

struct ordered {
	struct sched_waitgroup wg;
	int64_t deadline[ORDERED];
	int64_t woke[ORDERED];
	int order[ORDERED];   /* goroutine index by wake rank */
	int slot[ORDERED];    /* which deadline each spawned goroutine takes */
	atomic_int spawned;
	atomic_int rank;
	atomic_int late_start; /* a goroutine found its deadline already past */
};

static void ordered_sleeper(void *p)
{
	struct ordered *o = p;
	int k = o->slot[atomic_fetch_add(&o->spawned, 1)];
	int64_t ns = o->deadline[k] - sched_nanotime();
	if (ns <= 0)
		atomic_fetch_add(&o->late_start, 1);
	sched_sleep(ns);
	o->woke[k] = sched_nanotime();
	o->order[atomic_fetch_add(&o->rank, 1)] = k;
	sched_wg_done(&o->wg);
}

static void ordered_body(void *p)
{
	struct ordered *o = p;
	uint64_t rng = harness_seed();
	for (int i = 0; i < ORDERED; i++)
		o->slot[i] = i;
	for (int i = ORDERED - 1; i > 0; i--) {
		int j = (int)(harness_rand(&rng) % (uint64_t)(i + 1));
		int t = o->slot[i];
		o->slot[i] = o->slot[j];
		o->slot[j] = t;
	}
	int64_t base = sched_nanotime() + MS(20);
	for (int k = 0; k < ORDERED; k++)
		o->deadline[k] = base + k * ORDER_SPACING;
	sched_wg_add(&o->wg, ORDERED);
	for (int i = 0; i < ORDERED; i++)
		TCHECK(sched_go(ordered_sleeper, o) != 0);
	sched_wg_wait(&o->wg);
	for (int k = 0; k < ORDERED; k++)
		TCHECK(o->woke[k] >= o->deadline[k]);
	/* Every deadline ranked after a later one had passed when that one woke. */
	for (int r = 0; r < ORDERED; r++)
		for (int q = r + 1; q < ORDERED; q++) {
			int later = o->order[r], earlier = o->order[q];
			if (earlier < later && !TCHECK(o->woke[later] >= o->deadline[earlier]))
				fprintf(stderr, "  deadline %d woke at +%.3f ms, before deadline %d (+%.3f ms) had passed\n",
					later, (double)(o->woke[later] - o->deadline[0]) / 1e6, earlier,
					(double)(o->deadline[earlier] - o->deadline[0]) / 1e6);
		}
}

static void test_sleep_wake_order(void)
{
	struct ordered *o = calloc(1, sizeof *o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	harness_run(1, ordered_body, o);   /* the order checks are ordered_body's TCHECKs */
	CU_ASSERT_EQUAL(atomic_load(&o->rank), ORDERED);
	int inversions = 0;
	for (int r = 1; r < ORDERED; r++)
		inversions += o->order[r] < o->order[r - 1];
	fprintf(stderr, "  %d adjacent inversions (stalls past two deadlines), %d late starts\n", inversions,
		atomic_load(&o->late_start));
	free(o);
}

/* --- timers --------------------------------------------------------------- */

/* Timers armed in a random order fire in deadline order: spaced out, and all
 * due at once (one timer run fires them all; a stalled worker's case). The
 * callbacks record the order, so no run-queue order is involved. */
struct fire_order {
	struct sched_timer timers[ORDERED];
	int order[ORDERED];
	atomic_int n;
	struct sched_chan *done;
};

static void fire_record(struct sched_timer *t)
{
	struct fire_order *f = t->arg;
	int r = atomic_fetch_add(&f->n, 1);
	f->order[r] = (int)(t - f->timers);
	if (r == ORDERED - 1) {
		int one = 1;
		TCHECK(sched_chan_trysend(f->done, &one) == SCHED_CHAN_OK);
	}
}

static void fire_order_body(void *unused)
{
	(void)unused;
	uint64_t rng = harness_seed();
	for (int round = 0; round < 2; round++) {
		struct fire_order *f = calloc(1, sizeof *f);
		TCHECK(f != NULL);
		if (!f)
			return;
		f->done = sched_chan_new(sizeof(int), 1);
		int perm[ORDERED];
		for (int i = 0; i < ORDERED; i++)
			perm[i] = i;
		for (int i = ORDERED - 1; i > 0; i--) {
			int j = (int)(harness_rand(&rng) % (uint64_t)(i + 1));
			int t = perm[i];
			perm[i] = perm[j];
			perm[j] = t;
		}
		/* Round 0: 1 ms apart from 5 ms on; round 1: all already due. */
		int64_t base = round == 0 ? sched_nanotime() + MS(5) : sched_nanotime() - MS(40);
		for (int i = 0; i < ORDERED; i++) {
			struct sched_timer *t = &f->timers[perm[i]];
			t->fire = fire_record;
			t->arg = f;
			t->heap_index = -1;
			sched_timer_start(t, base + perm[i] * MS(1));
		}
		int one;
		TCHECK(sched_chan_recv(f->done, &one));
		for (int r = 0; r < ORDERED; r++)
			TCHECK(f->order[r] == r);
		sched_chan_free(f->done);
		free(f);
	}
}

static void test_fire_order(void)
{
	harness_run(1, fire_order_body, NULL);
}

struct fire_ctx {
	struct sched_chan *c;
	atomic_int fired;
	atomic_int early;  /* callbacks that ran before their deadline */
};

/* Timer callback: scheduler context, so only non-blocking operations. */
static void fire_trysend(struct sched_timer *t)
{
	struct fire_ctx *f = t->arg;
	if (sched_nanotime() < t->when)
		atomic_fetch_add(&f->early, 1);
	atomic_fetch_add(&f->fired, 1);
	int64_t when = t->when;
	TCHECK(sched_chan_trysend(f->c, &when) == SCHED_CHAN_OK);
}

static void fire_body(void *unused)
{
	(void)unused;
	struct fire_ctx f = {.c = sched_chan_new(sizeof(int64_t), 4)};
	struct sched_timer t = {.fire = fire_trysend, .arg = &f, .heap_index = -1};
	for (int round = 0; round < 3; round++) {
		/* Armed, fired, received; then the same struct is armed again. */
		int64_t when = sched_nanotime() + MS(2);
		sched_timer_start(&t, when);
		int64_t got = -1;
		TCHECK(sched_chan_recv(f.c, &got) && got == when);
		TCHECK(sched_nanotime() >= when);
		TCHECK(atomic_load(&f.fired) == round + 1);
		/* After it fired, stop reports it was not armed. */
		TCHECK(!sched_timer_stop(&t));
	}
	/* A deadline in the past fires promptly. */
	sched_timer_start(&t, sched_nanotime() - MS(1));
	int64_t got = 0;
	TCHECK(sched_chan_recv(f.c, &got) && got == t.when);
	TCHECK(atomic_load(&f.fired) == 4 && atomic_load(&f.early) == 0);
	sched_chan_free(f.c);
}

static void test_timer_fire_trysend(void)
{
	harness_run(1, fire_body, NULL);
	harness_run(2, fire_body, NULL);
}

static void stop_body(void *unused)
{
	(void)unused;
	struct fire_ctx f = {.c = sched_chan_new(sizeof(int64_t), 4)};
	struct sched_timer t = {.fire = fire_trysend, .arg = &f, .heap_index = -1};
	struct sched_timer later = t;
	int64_t when = sched_nanotime() + MS(10);
	sched_timer_start(&t, when);
	sched_timer_start(&later, when + MS(5));
	TCHECK(t.heap_index >= 0);
	TCHECK(sched_timer_stop(&t));
	TCHECK(t.heap_index == -1);
	TCHECK(!sched_timer_stop(&t)); /* already disarmed */
	/* Wait past both deadlines: only `later` fires. */
	int64_t got = -1;
	TCHECK(sched_chan_recv(f.c, &got) && got == when + MS(5));
	sched_sleep(MS(5));
	TCHECK(atomic_load(&f.fired) == 1);
	TCHECK(sched_chan_tryrecv(f.c, &got) == SCHED_CHAN_WOULDBLOCK);
	TCHECK(!sched_timer_stop(&later));
	/* A never-armed timer: stop says so. */
	struct sched_timer idle = {.fire = fire_trysend, .arg = &f, .heap_index = -1};
	TCHECK(!sched_timer_stop(&idle));
	sched_chan_free(f.c);
}

static void test_timer_stop(void)
{
	harness_run(1, stop_body, NULL);
	harness_run(2, stop_body, NULL);
}

/* --- many timers ---------------------------------------------------------- */

#define NTIMERS 1000

struct many_timers {
	struct sched_chan *c;
	struct sched_timer t[NTIMERS];
	atomic_int count[NTIMERS];
	bool stopped[NTIMERS];
	atomic_int early;
};

static void fire_count(struct sched_timer *t)
{
	struct many_timers *m = t->arg;
	int i = (int)(t - m->t);
	if (sched_nanotime() < t->when)
		atomic_fetch_add(&m->early, 1);
	atomic_fetch_add(&m->count[i], 1);
	TCHECK(sched_chan_trysend(m->c, &i) == SCHED_CHAN_OK);
}

/* 1,000 timers with random deadlines within 20 ms, armed at once; every
 * fourth is stopped right away (stop may lose to an early deadline). Each
 * timer must fire exactly once unless its stop returned true. */
static void many_timers_body(void *p)
{
	struct many_timers *m = p;
	m->c = sched_chan_new(sizeof(int), NTIMERS);
	uint64_t rng = harness_seed();
	int64_t now = sched_nanotime(), last = now;
	for (int i = 0; i < NTIMERS; i++) {
		m->t[i] = (struct sched_timer){.fire = fire_count, .arg = m, .heap_index = -1};
		int64_t when = now + (int64_t)(harness_rand(&rng) % (uint64_t)MS(20));
		if (when > last)
			last = when;
		sched_timer_start(&m->t[i], when);
	}
	int expect = NTIMERS;
	for (int i = 0; i < NTIMERS; i += 4) {
		m->stopped[i] = sched_timer_stop(&m->t[i]);
		expect -= m->stopped[i];
	}
	for (int n = 0; n < expect; n++) {
		int i = -1;
		TCHECK(sched_chan_recv(m->c, &i) && i >= 0 && i < NTIMERS);
	}
	/* Past every deadline: no late or duplicate firing. */
	int64_t wait = last + MS(5) - sched_nanotime();
	if (wait > 0)
		sched_sleep(wait);
	int i;
	TCHECK(sched_chan_tryrecv(m->c, &i) == SCHED_CHAN_WOULDBLOCK);
	for (i = 0; i < NTIMERS; i++)
		TCHECK(!sched_timer_stop(&m->t[i]));
	sched_chan_free(m->c);
}

static void test_many_timers(void)
{
	for (int procs = 1; procs <= 2; procs++) {
		struct many_timers *m = calloc(1, sizeof *m);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m);
		harness_run(procs, many_timers_body, m);
		int wrong = 0, stopped = 0;
		for (int i = 0; i < NTIMERS; i++) {
			wrong += atomic_load(&m->count[i]) != (m->stopped[i] ? 0 : 1);
			stopped += m->stopped[i];
		}
		CU_ASSERT_EQUAL(wrong, 0);
		CU_ASSERT(stopped > 0); /* the stops really raced with armed timers */
		CU_ASSERT_EQUAL(atomic_load(&m->early), 0);
		free(m);
	}
}

/* --- an earlier timer while a worker waits for a later one ---------------- */

struct early_ctx {
	struct fire_ctx f;
	atomic_int long_woke;
};

static void long_sleeper(void *p)
{
	struct early_ctx *e = p;
	sched_sleep(MS(1500));
	atomic_store(&e->long_woke, 1);
}

/* A goroutine sleeps 1.5 s, so an idle worker waits in epoll_wait for that
 * deadline. Then a timer 1 ms away is armed and the main goroutine blocks on
 * its channel: the worker's wait must be cut short (the poller is woken), so
 * the short timer fires, and main runs, before the long sleeper wakes. Only
 * the order is checked; main returns without waiting for the sleeper. */
static void early_timer_body(void *p)
{
	struct early_ctx *e = p;
	e->f.c = sched_chan_new(sizeof(int64_t), 1);
	TCHECK(sched_go(long_sleeper, e) != 0);
	sched_sleep(MS(2));
	/* With 2 workers, wait until the other one sleeps in epoll_wait. */
	for (int i = 0; i < 100000 && sched_rt.cfg.procs > 1; i++) {
		if (atomic_load(&sched_rt.poller_busy) && atomic_load(&sched_rt.nidle) == 1)
			break;
		sched_gosched();
	}
	struct sched_timer t = {.fire = fire_trysend, .arg = &e->f, .heap_index = -1};
	int64_t when = sched_nanotime() + MS(1);
	sched_timer_start(&t, when);
	int64_t got = -1;
	TCHECK(sched_chan_recv(e->f.c, &got) && got == when);
	TCHECK(atomic_load(&e->long_woke) == 0);
	sched_chan_free(e->f.c);
}

static void test_earlier_timer_breaks_wait(void)
{
	for (int procs = 1; procs <= 2; procs++) {
		struct early_ctx e;
		memset(&e, 0, sizeof e);
		harness_run(procs, early_timer_body, &e);
		CU_ASSERT_EQUAL(atomic_load(&e.f.fired), 1);
	}
}

int main(void)
{
	static const struct harness_test tests[] = {
		{"sleep lasts at least the duration", test_sleep_at_least},
		{"many sleepers, random durations", test_many_sleepers},
		{"sleepers wake in deadline order, or due together (1 worker)", test_sleep_wake_order},
		{"timers fire in deadline order, spaced out and all due at once", test_fire_order},
		{"timer callback try-sends to a goroutine", test_timer_fire_trysend},
		{"timer stop before and after firing", test_timer_stop},
		{"1,000 timers fire exactly once", test_many_timers},
		{"earlier timer cuts a worker's wait short", test_earlier_timer_breaks_wait},
		{NULL, NULL},
	};
	return harness_main("sleep and timers", tests);
}
