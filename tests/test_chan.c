/*
 * test_chan.c — channels and select (toc/chan.h).
 *
 * Covers: unbuffered hand-off in both directions; buffered FIFO order across
 * ring wrap-around; a full buffer blocking its sender; close semantics
 * (receivers drain buffered values, then get ok=false and a zeroed element;
 * blocked receivers are woken; try-operations report CLOSED / WOULDBLOCK);
 * zero-size (signal) channels; every select path (ready receive, ready send,
 * default taken or not, blocking select woken by a send, a receive or a close,
 * deadlines, NULL cases, fairness, many selectors racing on shared channels);
 * and the program errors (send on a closed channel, close of a closed
 * channel), which abort a child process.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "toc/chan.h"
#include "toc/sched.h"
#include "toc/sync.h"

#define MS(x) ((int64_t)(x) * 1000000)
#define US(x) ((int64_t)(x) * 1000)

static struct sched_select_case recv_case(struct sched_chan *c, void *elem)
{
	return (struct sched_select_case){.dir = SCHED_SELECT_RECV, .chan = c, .elem = elem};
}

static struct sched_select_case send_case(struct sched_chan *c, void *elem)
{
	return (struct sched_select_case){.dir = SCHED_SELECT_SEND, .chan = c, .elem = elem};
}

static void start(struct sched_task *t, void (*fn)(void *), void *arg)
{
	TCHECK(sched_task_start(t, fn, arg) == 0);
}

/* Yields (sleeping briefly) until *flag >= want, at most ~1 s. */
static bool wait_for(atomic_int *flag, int want)
{
	for (int i = 0; i < 10000; i++) {
		if (atomic_load(flag) >= want)
			return true;
		sched_sleep(US(100));
	}
	return atomic_load(flag) >= want;
}

/* A goroutine that sleeps, then does one operation on a channel. */
enum delayed_op { DELAYED_SEND, DELAYED_RECV, DELAYED_CLOSE };
struct delayed {
	struct sched_chan *c;
	enum delayed_op op;
	int64_t delay;
	int64_t value;  /* sent, or received */
	bool ok;        /* receive result */
};

static void delayed_main(void *p)
{
	struct delayed *d = p;
	sched_sleep(d->delay);
	switch (d->op) {
	case DELAYED_SEND:
		sched_chan_send(d->c, &d->value);
		break;
	case DELAYED_RECV:
		d->ok = sched_chan_recv(d->c, &d->value);
		break;
	case DELAYED_CLOSE:
		sched_chan_close(d->c);
		break;
	}
}

/* --- unbuffered hand-off -------------------------------------------------- */

#define HANDOFF_N 2000

struct handoff {
	struct sched_chan *to_main, *to_g, *back;
};

static void handoff_producer(void *p)
{
	struct handoff *h = p;
	for (int64_t i = 0; i < HANDOFF_N; i++)
		sched_chan_send(h->to_main, &i);
}

static void handoff_echo(void *p)
{
	struct handoff *h = p;
	int64_t x;
	while (sched_chan_recv(h->to_g, &x)) {
		int64_t y = 3 * x + 1;
		sched_chan_send(h->back, &y);
	}
}

static void handoff_body(void *unused)
{
	(void)unused;
	struct handoff h = {
		.to_main = sched_chan_new(sizeof(int64_t), 0),
		.to_g = sched_chan_new(sizeof(int64_t), 0),
		.back = sched_chan_new(sizeof(int64_t), 0),
	};
	struct sched_task prod, echo;
	/* goroutine -> main: values arrive in order. */
	start(&prod, handoff_producer, &h);
	int bad = 0;
	for (int64_t i = 0; i < HANDOFF_N; i++) {
		int64_t v = -1;
		if (!sched_chan_recv(h.to_main, &v) || v != i)
			bad++;
	}
	TCHECK(bad == 0);
	sched_task_join(&prod);
	/* main -> goroutine -> main, one value at a time. */
	start(&echo, handoff_echo, &h);
	for (int64_t i = 0; i < HANDOFF_N; i++) {
		int64_t v = -1;
		sched_chan_send(h.to_g, &i);
		if (!sched_chan_recv(h.back, &v) || v != 3 * i + 1)
			bad++;
	}
	TCHECK(bad == 0);
	TCHECK(sched_chan_len(h.to_g) == 0 && sched_chan_cap(h.to_g) == 0);
	sched_chan_close(h.to_g);
	sched_task_join(&echo);
	sched_chan_free(h.to_main);
	sched_chan_free(h.to_g);
	sched_chan_free(h.back);
}

static void test_unbuffered_handoff(void)
{
	harness_run(1, handoff_body, NULL);
	harness_run(2, handoff_body, NULL);
}

/* --- buffered channels ---------------------------------------------------- */

/* A random mix of pushes and pops on a capacity-3 ring, mixing blocking and
 * try operations (the blocking ones never block here): thousands of values
 * pass, so sendx/recvx wrap around at every offset. */
static void fifo_body(void *unused)
{
	(void)unused;
	struct sched_chan *c = sched_chan_new(sizeof(uint32_t), 3);
	TCHECK(sched_chan_cap(c) == 3 && sched_chan_len(c) == 0);
	uint64_t rng = harness_seed();
	uint32_t next_in = 0, next_out = 0;
	int bad = 0;
	for (int op = 0; op < 6000; op++) {
		size_t len = next_in - next_out;
		if (sched_chan_len(c) != len)
			bad++;
		uint64_t r = harness_rand(&rng);
		if (len < 3 && (len == 0 || (r & 1))) {
			if (r & 2)
				sched_chan_send(c, &next_in);
			else if (sched_chan_trysend(c, &next_in) != SCHED_CHAN_OK)
				bad++;
			next_in++;
		} else {
			uint32_t v = UINT32_MAX;
			bool ok = (r & 2) ? sched_chan_recv(c, &v)
					  : sched_chan_tryrecv(c, &v) == SCHED_CHAN_OK;
			if (!ok || v != next_out)
				bad++;
			next_out++;
		}
		uint32_t junk = 0xdead;
		if (next_in - next_out == 3 && sched_chan_trysend(c, &junk) != SCHED_CHAN_WOULDBLOCK)
			bad++;
		if (next_in == next_out && sched_chan_tryrecv(c, &junk) != SCHED_CHAN_WOULDBLOCK)
			bad++;
	}
	TCHECK(bad == 0);
	TCHECK(next_out > 1000); /* many laps around the ring */
	while (next_out != next_in) {
		uint32_t v = UINT32_MAX;
		TCHECK(sched_chan_recv(c, &v) && v == next_out);
		next_out++;
	}
	TCHECK(sched_chan_len(c) == 0);
	sched_chan_free(c);
}

static void test_buffered_fifo_wraparound(void)
{
	harness_run(1, fifo_body, NULL);
}

struct full {
	struct sched_chan *c;
	atomic_int sent;  /* sends completed */
};

static void full_sender(void *p)
{
	struct full *f = p;
	for (int i = 0; i < 5; i++) {
		sched_chan_send(f->c, &i);
		atomic_store(&f->sent, i + 1);
	}
}

static void full_body(void *unused)
{
	(void)unused;
	struct full f = {.c = sched_chan_new(sizeof(int), 2)};
	struct sched_task t;
	start(&t, full_sender, &f);
	TCHECK(wait_for(&f.sent, 2));
	/* The third send must block while the buffer is full, however long we wait. */
	for (int i = 0; i < 20; i++)
		sched_sleep(US(250));
	TCHECK(atomic_load(&f.sent) == 2);
	TCHECK(sched_chan_len(f.c) == 2);
	int v = -1;
	TCHECK(sched_chan_recv(f.c, &v) && v == 0);
	/* Taking one lets exactly one more send through (the fourth blocks). */
	TCHECK(wait_for(&f.sent, 3));
	for (int i = 0; i < 10; i++)
		sched_sleep(US(250));
	TCHECK(atomic_load(&f.sent) == 3);
	TCHECK(sched_chan_len(f.c) == 2);
	for (int want = 1; want < 5; want++) {
		v = -1;
		TCHECK(sched_chan_recv(f.c, &v) && v == want);
	}
	sched_task_join(&t);
	TCHECK(atomic_load(&f.sent) == 5 && sched_chan_len(f.c) == 0);
	sched_chan_free(f.c);
}

static void test_buffered_full_blocks_sender(void)
{
	harness_run(1, full_body, NULL);
	harness_run(2, full_body, NULL);
}

/* --- close ---------------------------------------------------------------- */

#define DRAIN_RECEIVERS 6

struct drain {
	struct sched_chan *c;
	int64_t got[DRAIN_RECEIVERS];
	bool ok[DRAIN_RECEIVERS];
	atomic_int next;
};

static void drain_receiver(void *p)
{
	struct drain *d = p;
	int i = atomic_fetch_add(&d->next, 1);
	d->got[i] = -1;
	d->ok[i] = sched_chan_recv(d->c, &d->got[i]);
}

static void close_drain_body(void *unused)
{
	(void)unused;
	/* One goroutine: buffered values survive close, then ok=false and zero. */
	struct sched_chan *c = sched_chan_new(sizeof(int64_t), 4);
	for (int64_t i = 1; i <= 3; i++)
		sched_chan_send(c, &i);
	sched_chan_close(c);
	int64_t four = 4;
	TCHECK(sched_chan_trysend(c, &four) == SCHED_CHAN_CLOSED);
	TCHECK(sched_chan_len(c) == 3);
	int64_t v = -1;
	TCHECK(sched_chan_tryrecv(c, &v) == SCHED_CHAN_OK && v == 1);
	TCHECK(sched_chan_recv(c, &v) && v == 2);
	TCHECK(sched_chan_recv(c, &v) && v == 3);
	v = 0x5555;
	TCHECK(!sched_chan_recv(c, &v) && v == 0);
	v = 0x5555;
	TCHECK(sched_chan_tryrecv(c, &v) == SCHED_CHAN_CLOSED && v == 0);
	TCHECK(!sched_chan_recv(c, NULL));
	TCHECK(sched_chan_len(c) == 0);
	sched_chan_free(c);

	/* Several receivers on a closed channel holding 4 values: exactly four
	 * get the values 1..4, once each, the others get ok=false. */
	struct drain d = {.c = sched_chan_new(sizeof(int64_t), 4)};
	for (int64_t i = 1; i <= 4; i++)
		sched_chan_send(d.c, &i);
	sched_chan_close(d.c);
	struct sched_task t[DRAIN_RECEIVERS];
	for (int i = 0; i < DRAIN_RECEIVERS; i++)
		start(&t[i], drain_receiver, &d);
	for (int i = 0; i < DRAIN_RECEIVERS; i++)
		sched_task_join(&t[i]);
	int nok = 0, mask = 0;
	for (int i = 0; i < DRAIN_RECEIVERS; i++) {
		if (d.ok[i]) {
			nok++;
			if (d.got[i] >= 1 && d.got[i] <= 4)
				mask |= 1 << d.got[i];
		} else {
			TCHECK(d.got[i] == 0);
		}
	}
	TCHECK(nok == 4 && mask == 0x1e);
	sched_chan_free(d.c);
}

static void test_close_drains_buffer(void)
{
	harness_run(1, close_drain_body, NULL);
	harness_run(2, close_drain_body, NULL);
}

#define CLOSE_WAITERS 8

struct close_wake {
	struct sched_chan *c;
	atomic_int entered;
	atomic_int next;
	int64_t got[CLOSE_WAITERS];
	bool ok[CLOSE_WAITERS];
};

static void close_waiter(void *p)
{
	struct close_wake *w = p;
	int i = atomic_fetch_add(&w->next, 1);
	w->got[i] = 0x5555;
	atomic_fetch_add(&w->entered, 1);
	w->ok[i] = sched_chan_recv(w->c, &w->got[i]);
}

/* Receivers blocked on an empty channel (unbuffered and buffered) are all
 * woken by close, with ok=false and a zeroed element. */
static void close_wakes_body(void *unused)
{
	(void)unused;
	for (size_t cap = 0; cap <= 2; cap += 2) {
		struct close_wake w = {.c = sched_chan_new(sizeof(int64_t), cap)};
		struct sched_task t[CLOSE_WAITERS];
		for (int i = 0; i < CLOSE_WAITERS; i++)
			start(&t[i], close_waiter, &w);
		TCHECK(wait_for(&w.entered, CLOSE_WAITERS));
		sched_sleep(MS(2)); /* let them all reach the receive and park */
		sched_chan_close(w.c);
		for (int i = 0; i < CLOSE_WAITERS; i++)
			sched_task_join(&t[i]);
		for (int i = 0; i < CLOSE_WAITERS; i++)
			TCHECK(!w.ok[i] && w.got[i] == 0);
		sched_chan_free(w.c);
	}
}

static void test_close_wakes_blocked_receivers(void)
{
	harness_run(1, close_wakes_body, NULL);
	harness_run(2, close_wakes_body, NULL);
}

/* --- try operations ------------------------------------------------------- */

struct try_recv {
	struct sched_chan *c;
	atomic_int entered;
	int64_t got;
	bool ok;
};

static void try_receiver(void *p)
{
	struct try_recv *r = p;
	atomic_store(&r->entered, 1);
	r->ok = sched_chan_recv(r->c, &r->got);
}

static void try_body(void *unused)
{
	(void)unused;
	int64_t v = 7;
	struct sched_chan *u = sched_chan_new(sizeof(int64_t), 0);
	struct sched_chan *b = sched_chan_new(sizeof(int64_t), 1);
	TCHECK(sched_chan_tryrecv(u, &v) == SCHED_CHAN_WOULDBLOCK && v == 7);
	TCHECK(sched_chan_tryrecv(b, &v) == SCHED_CHAN_WOULDBLOCK && v == 7);
	TCHECK(sched_chan_trysend(u, &v) == SCHED_CHAN_WOULDBLOCK); /* nobody receiving */
	TCHECK(sched_chan_trysend(b, &v) == SCHED_CHAN_OK);
	TCHECK(sched_chan_trysend(b, &v) == SCHED_CHAN_WOULDBLOCK); /* full */
	TCHECK(sched_chan_trysend(NULL, &v) == SCHED_CHAN_WOULDBLOCK);
	TCHECK(sched_chan_tryrecv(NULL, &v) == SCHED_CHAN_WOULDBLOCK);

	/* trysend on an unbuffered channel succeeds when a receiver waits. */
	struct try_recv r = {.c = u, .got = -1};
	struct sched_task t;
	start(&t, try_receiver, &r);
	TCHECK(wait_for(&r.entered, 1));
	sched_sleep(MS(2));
	int64_t w = 42;
	enum sched_chan_result res = SCHED_CHAN_WOULDBLOCK;
	for (int i = 0; i < 1000 && res == SCHED_CHAN_WOULDBLOCK; i++) {
		res = sched_chan_trysend(u, &w);
		if (res == SCHED_CHAN_WOULDBLOCK)
			sched_sleep(US(100));
	}
	TCHECK(res == SCHED_CHAN_OK);
	sched_task_join(&t);
	TCHECK(r.ok && r.got == 42);

	sched_chan_close(u);
	sched_chan_close(b);
	TCHECK(sched_chan_trysend(u, &w) == SCHED_CHAN_CLOSED);
	TCHECK(sched_chan_trysend(b, &w) == SCHED_CHAN_CLOSED);
	v = -1;
	TCHECK(sched_chan_tryrecv(b, &v) == SCHED_CHAN_OK && v == 7); /* drains first */
	v = -1;
	TCHECK(sched_chan_tryrecv(b, &v) == SCHED_CHAN_CLOSED && v == 0);
	v = -1;
	TCHECK(sched_chan_tryrecv(u, &v) == SCHED_CHAN_CLOSED && v == 0);
	sched_chan_free(u);
	sched_chan_free(b);
}

static void test_try_operations(void)
{
	harness_run(1, try_body, NULL);
	harness_run(2, try_body, NULL);
}

/* The try operations "may run anywhere": here on the test's own thread with
 * no runtime started at all. */
static void test_try_outside_runtime(void)
{
	struct sched_chan *c = sched_chan_new(sizeof(int), 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	int a = 1, b = 2, x = 0;
	CU_ASSERT_EQUAL(sched_chan_trysend(c, &a), SCHED_CHAN_OK);
	CU_ASSERT_EQUAL(sched_chan_trysend(c, &b), SCHED_CHAN_OK);
	CU_ASSERT_EQUAL(sched_chan_trysend(c, &a), SCHED_CHAN_WOULDBLOCK);
	CU_ASSERT_EQUAL(sched_chan_len(c), 2);
	CU_ASSERT(sched_chan_tryrecv(c, &x) == SCHED_CHAN_OK && x == 1);
	CU_ASSERT(sched_chan_tryrecv(c, &x) == SCHED_CHAN_OK && x == 2);
	CU_ASSERT_EQUAL(sched_chan_tryrecv(c, &x), SCHED_CHAN_WOULDBLOCK);
	sched_chan_free(c);
	errno = 0;
	CU_ASSERT_PTR_NULL(sched_chan_new(64 * 1024 + 1, 1));
	CU_ASSERT_EQUAL(errno, EINVAL);
}

/* --- zero-size elements --------------------------------------------------- */

#define SIGNALERS 50

static void signaler(void *p)
{
	sched_chan_send(p, NULL);
}

static void signal_body(void *unused)
{
	(void)unused;
	/* Unbuffered: one signal per goroutine. */
	struct sched_chan *u = sched_chan_new(0, 0);
	for (int i = 0; i < SIGNALERS; i++)
		TCHECK(sched_go(signaler, u) != 0);
	int n = 0;
	for (int i = 0; i < SIGNALERS; i++)
		n += sched_chan_recv(u, NULL);
	TCHECK(n == SIGNALERS);
	TCHECK(sched_chan_tryrecv(u, NULL) == SCHED_CHAN_WOULDBLOCK);
	sched_chan_close(u);
	TCHECK(!sched_chan_recv(u, NULL));

	/* Buffered: a counting semaphore. */
	struct sched_chan *b = sched_chan_new(0, 5);
	for (int i = 0; i < 5; i++)
		TCHECK(sched_chan_trysend(b, NULL) == SCHED_CHAN_OK);
	TCHECK(sched_chan_trysend(b, NULL) == SCHED_CHAN_WOULDBLOCK);
	TCHECK(sched_chan_len(b) == 5);
	char dummy = 'x';
	TCHECK(sched_chan_recv(b, &dummy) && dummy == 'x'); /* nothing copied */
	TCHECK(sched_chan_len(b) == 4);
	sched_chan_close(b);
	for (int i = 0; i < 4; i++)
		TCHECK(sched_chan_recv(b, NULL));
	TCHECK(!sched_chan_recv(b, NULL));
	TCHECK(sched_chan_tryrecv(b, NULL) == SCHED_CHAN_CLOSED);
	/* Go's idiom: wait on "done" channels with select. */
	struct sched_select_case cs[1] = {recv_case(u, NULL)};
	TCHECK(sched_select(cs, 1, false) == 0 && !cs[0].ok);
	sched_chan_free(u);
	sched_chan_free(b);
}

static void test_signal_channels(void)
{
	harness_run(1, signal_body, NULL);
	harness_run(2, signal_body, NULL);
}

/* --- select: non-blocking paths ------------------------------------------- */

static void select_ready_body(void *unused)
{
	(void)unused;
	struct sched_chan *a = sched_chan_new(sizeof(int64_t), 1);
	struct sched_chan *b = sched_chan_new(sizeof(int64_t), 1);
	struct sched_chan *u = sched_chan_new(sizeof(int64_t), 0);
	int64_t x = 10, ra = -1, rb = -1, ru = -1;

	/* A ready receive among unready cases. */
	TCHECK(sched_chan_trysend(b, &x) == SCHED_CHAN_OK);
	for (int blocking = 0; blocking < 2; blocking++) {
		for (int i = 0; i < 50; i++) {
			struct sched_select_case cs[3] = {recv_case(a, &ra), recv_case(b, &rb),
							  recv_case(u, &ru)};
			rb = -1;
			int r = sched_select(cs, 3, !blocking);
			TCHECK(r == 1 && cs[1].ok && rb == 10);
			TCHECK(sched_chan_trysend(b, &x) == SCHED_CHAN_OK);
		}
	}
	TCHECK(ra == -1 && ru == -1);
	TCHECK(sched_chan_tryrecv(b, &rb) == SCHED_CHAN_OK);

	/* A ready send (a has room) among unready cases. */
	int64_t y = 20;
	for (int blocking = 0; blocking < 2; blocking++) {
		for (int i = 0; i < 50; i++) {
			struct sched_select_case cs[3] = {recv_case(b, &rb), send_case(a, &y),
							  send_case(u, &y)};
			TCHECK(sched_select(cs, 3, !blocking) == 1);
			ra = -1;
			TCHECK(sched_chan_tryrecv(a, &ra) == SCHED_CHAN_OK && ra == 20);
		}
	}

	/* Nothing ready: default, and nothing moved. */
	TCHECK(sched_chan_trysend(a, &x) == SCHED_CHAN_OK); /* a is full now */
	struct sched_select_case cs[4] = {recv_case(b, &rb), recv_case(u, &ru), send_case(a, &y),
					  send_case(u, &y)};
	rb = ru = -1;
	TCHECK(sched_select(cs, 4, true) == SCHED_SELECT_DEFAULT);
	TCHECK(rb == -1 && ru == -1);
	TCHECK(sched_chan_len(a) == 1 && sched_chan_len(b) == 0);
	TCHECK(sched_select(NULL, 0, true) == SCHED_SELECT_DEFAULT);

	/* A closed channel's receive case is ready (ok=false), so no default. */
	sched_chan_close(b);
	rb = -1;
	TCHECK(sched_select(cs, 4, true) == 0 && !cs[0].ok && rb == 0);
	ra = -1;
	TCHECK(sched_chan_tryrecv(a, &ra) == SCHED_CHAN_OK && ra == 10);
	sched_chan_free(a);
	sched_chan_free(b);
	sched_chan_free(u);
}

static void test_select_ready_and_default(void)
{
	harness_run(1, select_ready_body, NULL);
}

/* --- select: blocking paths ----------------------------------------------- */

static void select_woken_body(void *unused)
{
	(void)unused;
	for (size_t cap = 0; cap <= 1; cap++) {
		struct sched_chan *a = sched_chan_new(sizeof(int64_t), cap);
		struct sched_chan *b = sched_chan_new(sizeof(int64_t), cap);
		struct sched_task t;

		/* Woken by a later send. */
		struct delayed d = {.c = b, .op = DELAYED_SEND, .delay = MS(2), .value = 77};
		int64_t ra = -1, rb = -1;
		start(&t, delayed_main, &d);
		struct sched_select_case rc[2] = {recv_case(a, &ra), recv_case(b, &rb)};
		TCHECK(sched_select(rc, 2, false) == 1 && rc[1].ok && rb == 77 && ra == -1);
		sched_task_join(&t);

		/* A send case woken by a later receive. On the buffered channel the
		 * buffer is full first: the receiver takes the old head (55) and
		 * the selected value (99) moves into the buffer behind it. */
		int64_t fill = 55, out = 99;
		if (cap)
			TCHECK(sched_chan_trysend(b, &fill) == SCHED_CHAN_OK);
		d = (struct delayed){.c = b, .op = DELAYED_RECV, .delay = MS(2), .value = -1};
		start(&t, delayed_main, &d);
		struct sched_select_case sc[2] = {recv_case(a, &ra), send_case(b, &out)};
		TCHECK(sched_select(sc, 2, false) == 1);
		sched_task_join(&t);
		TCHECK(d.ok && d.value == (cap ? 55 : 99));
		if (cap) {
			rb = -1;
			TCHECK(sched_chan_tryrecv(b, &rb) == SCHED_CHAN_OK && rb == 99);
		}
		TCHECK(sched_chan_len(b) == 0);

		/* Woken by close: ok=false and the element zeroed. */
		d = (struct delayed){.c = b, .op = DELAYED_CLOSE, .delay = MS(2)};
		start(&t, delayed_main, &d);
		rb = 0x1234;
		struct sched_select_case cc[2] = {recv_case(a, &ra), recv_case(b, &rb)};
		TCHECK(sched_select(cc, 2, false) == 1 && !cc[1].ok && rb == 0);
		sched_task_join(&t);

		/* The other channel is still usable: nothing stale on it. */
		TCHECK(sched_chan_tryrecv(a, &ra) == SCHED_CHAN_WOULDBLOCK);
		d = (struct delayed){.c = a, .op = DELAYED_SEND, .delay = 0, .value = 5};
		start(&t, delayed_main, &d);
		TCHECK(sched_chan_recv(a, &ra) && ra == 5);
		sched_task_join(&t);
		sched_chan_free(a);
		sched_chan_free(b);
	}
}

static void test_select_blocking_wakeups(void)
{
	harness_run(1, select_woken_body, NULL);
	harness_run(2, select_woken_body, NULL);
}

/* --- select: deadlines ---------------------------------------------------- */

static void select_timeout_body(void *unused)
{
	(void)unused;
	struct sched_chan *a = sched_chan_new(sizeof(int64_t), 0);
	struct sched_chan *b = sched_chan_new(sizeof(int64_t), 0);
	int64_t ra = -1, out = 5;

	/* Nothing ever arrives: timeout, no earlier than the deadline. */
	int64_t deadline = sched_nanotime() + MS(3);
	struct sched_select_case cs[2] = {recv_case(a, &ra), send_case(b, &out)};
	TCHECK(sched_select_until(cs, 2, deadline) == SCHED_SELECT_TIMEOUT);
	TCHECK(sched_nanotime() >= deadline);
	TCHECK(ra == -1);

	/* Many short timeouts in a row, each leaving sudogs to clean up. */
	for (int i = 0; i < 200; i++)
		TCHECK(sched_select_until(cs, 2, sched_nanotime() + US(20)) == SCHED_SELECT_TIMEOUT);
	/* A deadline already past polls once. */
	TCHECK(sched_select_until(cs, 2, sched_nanotime() - MS(1)) == SCHED_SELECT_TIMEOUT);
	TCHECK(sched_select_until(cs, 2, 0) == SCHED_SELECT_TIMEOUT);

	/* The channels are consistent: no stale waiter answers a try, and real
	 * traffic flows both ways. */
	int64_t v = -1;
	TCHECK(sched_chan_tryrecv(b, &v) == SCHED_CHAN_WOULDBLOCK && v == -1);
	TCHECK(sched_chan_trysend(a, &v) == SCHED_CHAN_WOULDBLOCK);
	struct sched_task t;
	struct delayed d = {.c = a, .op = DELAYED_SEND, .delay = 0, .value = 11};
	start(&t, delayed_main, &d);
	TCHECK(sched_chan_recv(a, &ra) && ra == 11);
	sched_task_join(&t);
	d = (struct delayed){.c = b, .op = DELAYED_RECV, .delay = 0, .value = -1};
	start(&t, delayed_main, &d);
	int64_t twelve = 12;
	sched_chan_send(b, &twelve);
	sched_task_join(&t);
	TCHECK(d.ok && d.value == 12);

	/* A ready case wins over a past deadline. */
	struct sched_chan *r = sched_chan_new(sizeof(int64_t), 1);
	TCHECK(sched_chan_trysend(r, &twelve) == SCHED_CHAN_OK);
	struct sched_select_case rc[2] = {recv_case(a, &ra), recv_case(r, &v)};
	v = -1;
	TCHECK(sched_select_until(rc, 2, sched_nanotime() - MS(1)) == 1 && v == 12);

	/* A value arriving before the deadline wins. The deadline is far off;
	 * the test only checks which case won. */
	for (int i = 0; i < 20; i++) {
		d = (struct delayed){.c = a, .op = DELAYED_SEND, .delay = US(500), .value = 100 + i};
		start(&t, delayed_main, &d);
		ra = -1;
		int w = sched_select_until(cs, 2, sched_nanotime() + MS(500));
		TCHECK(w == 0 && cs[0].ok && ra == 100 + i);
		sched_task_join(&t);
	}
	sched_chan_free(a);
	sched_chan_free(b);
	sched_chan_free(r);
}

static void test_select_until(void)
{
	harness_run(1, select_timeout_body, NULL);
	harness_run(2, select_timeout_body, NULL);
}

/* --- select: NULL cases, fairness ----------------------------------------- */

static void select_null_body(void *unused)
{
	(void)unused;
	struct sched_chan *a = sched_chan_new(sizeof(int64_t), 1);
	int64_t x = 3, v = -1;
	for (int i = 0; i < 500; i++) {
		TCHECK(sched_chan_trysend(a, &x) == SCHED_CHAN_OK);
		struct sched_select_case cs[4] = {recv_case(NULL, &v), send_case(NULL, &x),
						  recv_case(a, &v), recv_case(NULL, &v)};
		v = -1;
		TCHECK(sched_select(cs, 4, i & 1) == 2 && v == 3);
	}
	struct sched_select_case nil[2] = {recv_case(NULL, &v), send_case(NULL, &x)};
	TCHECK(sched_select(nil, 2, true) == SCHED_SELECT_DEFAULT);
	int64_t deadline = sched_nanotime() + MS(1);
	TCHECK(sched_select_until(nil, 2, deadline) == SCHED_SELECT_TIMEOUT);
	TCHECK(sched_nanotime() >= deadline);
	sched_chan_free(a);
}

static void test_select_null_cases(void)
{
	harness_run(1, select_null_body, NULL);
}

#define FAIR_ROUNDS 10000

struct fair {
	int count[2];
};

/* Two always-ready receive cases: each must win about half the time. */
static void select_fair_body(void *p)
{
	struct fair *f = p;
	struct sched_chan *c[2] = {sched_chan_new(sizeof(int), 1), sched_chan_new(sizeof(int), 1)};
	int v[2] = {0, 1};
	for (int k = 0; k < 2; k++)
		TCHECK(sched_chan_trysend(c[k], &v[k]) == SCHED_CHAN_OK);
	for (int i = 0; i < FAIR_ROUNDS; i++) {
		int got = -1;
		struct sched_select_case cs[2] = {recv_case(c[0], &got), recv_case(c[1], &got)};
		int w = sched_select(cs, 2, false);
		if (!TCHECK(w == 0 || w == 1) || !TCHECK(got == w))
			break;
		f->count[w]++;
		TCHECK(sched_chan_trysend(c[w], &v[w]) == SCHED_CHAN_OK);
	}
	sched_chan_free(c[0]);
	sched_chan_free(c[1]);
}

static void test_select_fairness(void)
{
	struct fair f = {{0, 0}};
	harness_run(1, select_fair_body, &f);
	CU_ASSERT_EQUAL(f.count[0] + f.count[1], FAIR_ROUNDS);
	CU_ASSERT(f.count[0] >= FAIR_ROUNDS * 3 / 10);
	CU_ASSERT(f.count[1] >= FAIR_ROUNDS * 3 / 10);
}

/* --- select: many selectors on shared channels ---------------------------- */

/* Producers send distinct values on two channels (unbuffered a, buffered b),
 * some with a two-way send select, some with plain sends; consumers select
 * on both, some with short deadlines so timers race with wake-ups. Every
 * value must be received exactly once. */
#define MANY_PRODUCERS 4
#define MANY_CONSUMERS 6
#define MANY_PER_PRODUCER 1500
#define MANY_VALUES (MANY_PRODUCERS * MANY_PER_PRODUCER)

struct many {
	struct sched_chan *a, *b;
	atomic_int seen[MANY_VALUES];
	atomic_int received;
	atomic_int timeouts;
	atomic_int next_id;
	uint64_t seed;
};

static void many_producer(void *p)
{
	struct many *m = p;
	int id = atomic_fetch_add(&m->next_id, 1);
	for (int i = 0; i < MANY_PER_PRODUCER; i++) {
		int64_t v = (int64_t)id * MANY_PER_PRODUCER + i;
		if (id % 2 == 0) {
			struct sched_select_case cs[2] = {send_case(m->a, &v), send_case(m->b, &v)};
			int w = sched_select(cs, 2, false);
			TCHECK(w == 0 || w == 1);
		} else {
			sched_chan_send(i % 2 ? m->a : m->b, &v);
		}
	}
}

static void many_consumer(void *p)
{
	struct many *m = p;
	int id = atomic_fetch_add(&m->next_id, 1);
	uint64_t rng = m->seed + (uint64_t)id;
	bool timed = id % 2;
	struct sched_chan *chans[2] = {m->a, m->b};
	while (chans[0] || chans[1]) {
		int64_t v[2] = {-1, -1};
		struct sched_select_case cs[2] = {recv_case(chans[0], &v[0]), recv_case(chans[1], &v[1])};
		int w = timed ? sched_select_until(cs, 2,
						   sched_nanotime() + (int64_t)(harness_rand(&rng) % US(300)))
			      : sched_select(cs, 2, false);
		if (w == SCHED_SELECT_TIMEOUT) {
			atomic_fetch_add(&m->timeouts, 1);
			continue;
		}
		if (!TCHECK(w == 0 || w == 1))
			return;
		if (!cs[w].ok) {
			chans[w] = NULL; /* closed: never ready again */
			continue;
		}
		if (TCHECK(v[w] >= 0 && v[w] < MANY_VALUES))
			TCHECK(atomic_fetch_add(&m->seen[v[w]], 1) == 0);
		atomic_fetch_add(&m->received, 1);
	}
}

static void many_body(void *p)
{
	struct many *m = p;
	m->a = sched_chan_new(sizeof(int64_t), 0);
	m->b = sched_chan_new(sizeof(int64_t), 8);
	struct sched_task cons[MANY_CONSUMERS], prod[MANY_PRODUCERS];
	for (int i = 0; i < MANY_CONSUMERS; i++)
		start(&cons[i], many_consumer, m);
	/* Consumers take ids first so producer ids run 0..MANY_PRODUCERS-1. */
	while (atomic_load(&m->next_id) < MANY_CONSUMERS)
		sched_sleep(US(50));
	atomic_store(&m->next_id, 0);
	for (int i = 0; i < MANY_PRODUCERS; i++)
		start(&prod[i], many_producer, m);
	for (int i = 0; i < MANY_PRODUCERS; i++)
		sched_task_join(&prod[i]);
	sched_chan_close(m->a);
	sched_chan_close(m->b);
	for (int i = 0; i < MANY_CONSUMERS; i++)
		sched_task_join(&cons[i]);
	sched_chan_free(m->a);
	sched_chan_free(m->b);
}

static void test_select_many_concurrent(void)
{
	for (int procs = 1; procs <= 2; procs++) {
		struct many *m = calloc(1, sizeof *m);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m);
		m->seed = harness_seed();
		harness_run(procs, many_body, m);
		CU_ASSERT_EQUAL(atomic_load(&m->received), MANY_VALUES);
		int missing = 0;
		for (int v = 0; v < MANY_VALUES; v++)
			missing += atomic_load(&m->seen[v]) != 1;
		CU_ASSERT_EQUAL(missing, 0);
		free(m);
	}
}

/* --- select_until: a won case must not wait for the deadline -------------- */

/* A receiver does select_until(recv c, now + 2 s) in a loop while a sender
 * keeps c supplied, so every select wins case 0 within microseconds. None
 * may return only once its deadline has passed: that would mean the winner
 * waited out its own deadline timer. (The deadline is long so that a loaded
 * host's stalls, ~100 ms at worst seen, are not mistaken for that.)
 *
 * Regression test: select_commit once armed the deadline timer after
 * dropping the channel locks, so a waker on another worker could resume the
 * selector before the timer was in the heap; sched_timer_stop then returned
 * false and the selector spun until the timer fired at the deadline. Two
 * goroutines hammering the timer heap, and more workers than cores, widen
 * that window. A genuine timeout (a very slow host, valgrind) is legal and
 * only skips a round. */
#define UNTIL_ROUNDS 600000
#define UNTIL_DEADLINE MS(2000)

struct until_race {
	struct sched_chan *c;
	atomic_int stop;
	atomic_int sender_done;
	struct sched_waitgroup hammers;
	int rounds;
	int late;
};

static void until_sender(void *p)
{
	struct until_race *u = p;
	for (int64_t i = 0; !atomic_load(&u->stop); i++)
		sched_chan_send(u->c, &i);
	atomic_store(&u->sender_done, 1);
}

static void timer_hammer(void *p)
{
	struct until_race *u = p;
	struct sched_timer t = {.heap_index = -1};
	for (unsigned k = 1; !atomic_load(&u->stop); k++) {
		sched_timer_start(&t, sched_nanotime() + MS(1000000)); /* never due */
		sched_timer_stop(&t);
		if (k % 64 == 0)
			sched_poll();
	}
	sched_wg_done(&u->hammers);
}

static void until_race_body(void *p)
{
	struct until_race *u = p;
	u->c = sched_chan_new(sizeof(int64_t), 0);
	sched_wg_add(&u->hammers, 2);
	for (int i = 0; i < 2; i++)
		TCHECK(sched_go(timer_hammer, u) != 0);
	TCHECK(sched_go(until_sender, u) != 0);
	int64_t expect = 0;
	for (; u->rounds < UNTIL_ROUNDS; u->rounds++) {
		int64_t v = -1;
		struct sched_select_case cs[1] = {recv_case(u->c, &v)};
		int64_t deadline = sched_nanotime() + UNTIL_DEADLINE;
		int w = sched_select_until(cs, 1, deadline);
		if (w == SCHED_SELECT_TIMEOUT)
			continue;
		if (!TCHECK(w == 0 && v == expect++))
			break;
		if (sched_nanotime() >= deadline) {
			u->late++;
			break;
		}
	}
	atomic_store(&u->stop, 1);
	while (!atomic_load(&u->sender_done)) {
		int64_t v;
		if (sched_chan_tryrecv(u->c, &v) != SCHED_CHAN_OK)
			sched_gosched();
	}
	sched_wg_wait(&u->hammers);
	sched_chan_free(u->c);
}

static void test_select_until_won_case_returns_promptly(void)
{
	struct until_race u;
	memset(&u, 0, sizeof u);
	harness_run(4, until_race_body, &u);
	CU_ASSERT_EQUAL(u.late, 0);
	if (u.late)
		fprintf(stderr, "  select_until won its case but returned after its deadline "
				"(round %d of %d)\n", u.rounds + 1, UNTIL_ROUNDS);
}

/* --- program errors (child processes) ------------------------------------- */

struct child_result {
	int status;
	char err[4096];
};

struct child_body {
	void (*fn)(void *);
};

/* The child's runtime: body as its main goroutine. */
static void child_runtime(void *arg)
{
	const struct child_body *b = arg;
	struct sched_config cfg = {.procs = 2};
	sched_run(&cfg, b->fn, NULL);
}

/* Forks; the child starts its own runtime running body and exits 0 if it
 * returns (a hang shows up as SIGALRM, not as a stuck suite). The parent
 * collects the child's stderr and wait status. */
static void run_child(void (*body)(void *), struct child_result *r)
{
	struct child_body b = {body};
	r->status = harness_child(child_runtime, &b, 20, r->err, sizeof r->err);
	CU_ASSERT_FATAL(r->status != -1);
}

static void expect_abort(void (*body)(void *), const char *message)
{
	struct child_result r;
	run_child(body, &r);
	CU_ASSERT(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, message));
}

static void child_send_on_closed(void *unused)
{
	(void)unused;
	struct sched_chan *c = sched_chan_new(sizeof(int), 1);
	int v = 1;
	sched_chan_close(c);
	sched_chan_send(c, &v);
}

static void blocked_sender(void *c)
{
	int v = 1;
	sched_chan_send(c, &v);
}

/* A sender parked on the channel when it is closed. */
static void child_close_with_blocked_sender(void *unused)
{
	(void)unused;
	struct sched_chan *c = sched_chan_new(sizeof(int), 0);
	sched_go(blocked_sender, c);
	sched_sleep(MS(5));
	sched_chan_close(c);
	sched_sleep(MS(1000));
}

static void child_select_send_on_closed(void *unused)
{
	(void)unused;
	struct sched_chan *a = sched_chan_new(sizeof(int), 0);
	struct sched_chan *c = sched_chan_new(sizeof(int), 1);
	int v = 1, x;
	sched_chan_close(c);
	struct sched_select_case cs[2] = {recv_case(a, &x), send_case(c, &v)};
	sched_select(cs, 2, false);
}

static void child_close_of_closed(void *unused)
{
	(void)unused;
	struct sched_chan *c = sched_chan_new(0, 0);
	sched_chan_close(c);
	sched_chan_close(c);
}

static void test_program_errors(void)
{
	expect_abort(child_send_on_closed, "send on closed channel");
	expect_abort(child_close_with_blocked_sender, "send on closed channel");
	expect_abort(child_select_send_on_closed, "send on closed channel");
	expect_abort(child_close_of_closed, "close of closed channel");
}

int main(void)
{
	static const struct harness_test tests[] = {
		{"unbuffered hand-off, both directions", test_unbuffered_handoff},
		{"buffered FIFO order and wrap-around", test_buffered_fifo_wraparound},
		{"full buffer blocks the sender", test_buffered_full_blocks_sender},
		{"close: receivers drain the buffer", test_close_drains_buffer},
		{"close wakes blocked receivers", test_close_wakes_blocked_receivers},
		{"trysend / tryrecv results", test_try_operations},
		{"try operations outside the runtime", test_try_outside_runtime},
		{"zero-size signal channels", test_signal_channels},
		{"select: ready cases and default", test_select_ready_and_default},
		{"select: blocked, woken by send/recv/close", test_select_blocking_wakeups},
		{"select_until: timeout and value first", test_select_until},
		{"select: NULL channel cases", test_select_null_cases},
		{"select: fairness between ready cases", test_select_fairness},
		{"select: many selectors, values once", test_select_many_concurrent},
		{"select_until: won case returns promptly", test_select_until_won_case_returns_promptly},
		{"program errors abort", test_program_errors},
		{NULL, NULL},
	};
	return harness_main("channels and select", tests);
}
