/*
 * txbench_downstream.c — --downstream: a request that waits on a backend
 * mid-way, as a service that asks a database or another service does.
 *
 * The handler (txbench_handler.c) calls txb_downstream_call once it has
 * parsed its request and found (or replaced) its record, before it builds
 * the response: every object it allocated so far is live across the wait,
 * and in toc mode its window stays open while its goroutine is parked. The
 * query is a hash of the record's key; the answer echoes it (checked), so
 * the responses, and the checksum, are those of --downstream=none.
 *
 *   chan    one backend goroutine receives each query (a pointer to a
 *           malloc'd struct ds_query) on a buffered channel and answers it
 *           --downstream-us after it arrived: as the delay is the same for
 *           all, the pending queries wait in arrival order in a FIFO and the
 *           backend sleeps (a select with a deadline) until the oldest is
 *           due, so a million queries never queue behind one sleep. It
 *           answers by writing the echo into the struct and closing the
 *           request's own signal channel (no buffered values to scan).
 *   socket  a pool of socketpair connections on the runtime's poller
 *           (sched_net_*): a request takes a connection from the pool,
 *           writes its 8-byte query and parks in a read until the echo
 *           comes back; the other end's goroutine reads it, sleeps
 *           --downstream-us and writes it back. The pool holds at most
 *           TXB_DS_CONNS connections (descriptors are limited), so past that
 *           many requests in flight the rest park on the pool's channel,
 *           mid-request all the same.
 *
 * Requests are in flight together only as long as they wait: with R
 * requests a second and a delay of D, about R x D wait at once, however
 * large --inflight is (Little's law). parked_max in the JSON is the most
 * that waited at once; --inflight is only reached when D is long enough.
 *
 * The backend runs in the modes on toc's runtime (toc, cms, stw) and never
 * allocates from the collected heap, so it owns no window.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "toc/chan.h"
#include "toc/net.h"
#include "toc/sched.h"
#include "toc/sync.h"
#include "txbench.h"

#define TXB_DS_CONNS 4096       /* --downstream=socket: most connections in the pool */
#define TXB_DS_QUEUE 4096       /* --downstream=chan: the query channel's buffer */

const char *const txb_downstream_names[TXB_NDOWNSTREAMS] = {
	[TXB_DS_NONE] = "none", [TXB_DS_CHAN] = "chan", [TXB_DS_SOCKET] = "socket",
};

void (*txb_downstream_call)(const char *key, size_t n);

/* A query in flight (chan): malloc'd by the request, freed by it after the answer. */
struct ds_query {
	uint64_t query;              /* written by the request before the send */
	uint64_t answer;             /* written by the backend before it closes done */
	int64_t due;                 /* the backend's: sched_nanotime() at which to answer */
	struct sched_chan *done;     /* signal-only; closed by the backend to answer */
};

static struct {
	int64_t delay_ns;            /* --downstream-us, ns */
	struct sched_chan *queries;  /* chan: struct ds_query * to the backend */
	struct sched_chan *pool;     /* socket: idle connections (the request's end's fd) */
	int *fds;                    /* socket: 2 * nconns descriptors, request end first */
	int nconns;
	struct sched_waitgroup exited; /* the backend's goroutines */
	void (*ask)(const char *key, size_t n); /* chan_ask or socket_ask */
	_Atomic int64_t parked;      /* requests in ask now; updated by the requests */
	_Atomic int64_t parked_max;  /* the most at once */
} ds;

static void answer_check(uint64_t query, uint64_t answer)
{
	if (answer != query)
		bench_fatal(1, "--downstream: the backend answered %016llx to the query %016llx",
			    (unsigned long long)answer, (unsigned long long)query);
}

/* --- chan ------------------------------------------------------------------------------------------ */

static void chan_ask(const char *key, size_t n)
{
	struct ds_query *q = malloc(sizeof *q);
	if (!q || !(q->done = sched_chan_new(0, 0)))
		bench_fatal(1, "--downstream=chan: out of memory for a query");
	q->query = txb_fnv(TXB_FNV_INIT, key, n);
	sched_chan_send(ds.queries, &q);
	sched_chan_recv(q->done, NULL);   /* parks until the backend closes it */
	answer_check(q->query, q->answer);
	sched_chan_free(q->done);
	free(q);
}

/* The pending queries in arrival order, so in order of their due time: a ring that doubles. */
struct ds_fifo {
	struct ds_query **q;
	size_t head, n, cap;         /* cap a power of two */
};

static void fifo_push(struct ds_fifo *f, struct ds_query *q)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 1024;
		struct ds_query **nq = malloc(cap * sizeof *nq);
		if (!nq)
			bench_fatal(1, "--downstream=chan: out of memory for %zu pending queries", cap);
		for (size_t i = 0; i < f->n; i++)
			nq[i] = f->q[(f->head + i) & (f->cap - 1)];
		free(f->q);
		f->q = nq;
		f->head = 0;
		f->cap = cap;
	}
	f->q[(f->head + f->n++) & (f->cap - 1)] = q;
}

static struct ds_query *fifo_pop(struct ds_fifo *f)
{
	struct ds_query *q = f->q[f->head];
	f->head = (f->head + 1) & (f->cap - 1);
	f->n--;
	return q;
}

static void arrived(struct ds_fifo *f, struct ds_query *q)
{
	q->due = sched_nanotime() + ds.delay_ns;
	fifo_push(f, q);
}

/* The backend: takes queries as they come, answers each once it is due;
 * returns when the query channel is closed and every query answered. */
static void chan_backend(void *unused)
{
	(void)unused;
	struct ds_fifo f = {0};
	bool open = true;
	struct ds_query *q;
	while (open || f.n) {
		if (open && !f.n) {
			if ((open = sched_chan_recv(ds.queries, &q)))
				arrived(&f, q);
		}
		enum sched_chan_result got = SCHED_CHAN_CLOSED;
		while (open && (got = sched_chan_tryrecv(ds.queries, &q)) == SCHED_CHAN_OK)
			arrived(&f, q);
		open = open && got != SCHED_CHAN_CLOSED;
		int64_t now = sched_nanotime();
		while (f.n && f.q[f.head]->due <= now) {
			q = fifo_pop(&f);
			q->answer = q->query;
			sched_chan_close(q->done);
		}
		if (!f.n)
			continue;
		if (!open) {
			sched_sleep(f.q[f.head]->due - now);
			continue;
		}
		/* Asleep until the oldest is due, or a new query comes. */
		struct sched_select_case c = {.dir = SCHED_SELECT_RECV, .chan = ds.queries, .elem = &q};
		if (sched_select_until(&c, 1, f.q[f.head]->due) == 0) {
			if (c.ok)
				arrived(&f, q);
			else
				open = false;
		}
	}
	free(f.q);
	sched_wg_done(&ds.exited);
}

/* --- socket ---------------------------------------------------------------------------------------- */

/* Reads exactly n bytes; false at the end of the stream. */
static bool read_full(int fd, void *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t k = sched_net_read(fd, (char *)buf + got, n - got, 0);
		if (k == 0 || (k < 0 && sched_errno() == EBADF))
			return false;
		if (k < 0)
			bench_fatal(1, "--downstream=socket: read: %s", strerror(sched_errno()));
		got += (size_t)k;
	}
	return true;
}

static void socket_ask(const char *key, size_t n)
{
	uint64_t query = txb_fnv(TXB_FNV_INIT, key, n), answer;
	int fd;
	sched_chan_recv(ds.pool, &fd);
	if (sched_net_write(fd, &query, sizeof query, 0) != (ssize_t)sizeof query)
		bench_fatal(1, "--downstream=socket: write: %s", strerror(sched_errno()));
	if (!read_full(fd, &answer, sizeof answer))
		bench_fatal(1, "--downstream=socket: the backend closed its connection");
	sched_chan_send(ds.pool, &fd);
	answer_check(query, answer);
}

/* The backend's end of one connection: echoes each query after the delay. */
static void socket_echo(void *arg)
{
	int fd = (int)(intptr_t)arg;
	uint64_t query;
	while (read_full(fd, &query, sizeof query)) {
		sched_sleep(ds.delay_ns);
		if (sched_net_write(fd, &query, sizeof query, 0) != (ssize_t)sizeof query)
			break;
	}
	sched_net_close(fd);
	sched_wg_done(&ds.exited);
}

static void socket_start(const struct txb_options *o)
{
	int64_t want = o->driver == TXB_SPAWN ? o->inflight : o->workers;
	ds.nconns = want < TXB_DS_CONNS ? (int)want : TXB_DS_CONNS;
	ds.fds = malloc(2 * (size_t)ds.nconns * sizeof *ds.fds);
	ds.pool = sched_chan_new(sizeof(int), (size_t)ds.nconns);
	if (!ds.fds || !ds.pool)
		bench_fatal(1, "--downstream=socket: out of memory for %d connections", ds.nconns);
	for (int i = 0; i < ds.nconns; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
			bench_fatal(1, "--downstream=socket: socketpair for connection %d of %d: %s (ulimit -n?)", i,
				    ds.nconns, strerror(errno));
		if (sched_net_adopt(sv[0]) || sched_net_adopt(sv[1]))
			bench_fatal(1, "--downstream=socket: cannot poll a socketpair: %s", strerror(sched_errno()));
		ds.fds[2 * i] = sv[0];
		ds.fds[2 * i + 1] = sv[1];
		sched_chan_send(ds.pool, &sv[0]);
		sched_wg_add(&ds.exited, 1);
		if (!sched_go(socket_echo, (void *)(intptr_t)sv[1]))
			bench_fatal(1, "--downstream=socket: could not start a backend goroutine: %s",
				    strerror(sched_errno()));
	}
}

/* txb_downstream_call: ask, counting the requests inside it. Relaxed: the
 * counts order nothing. */
static void counted_ask(const char *key, size_t n)
{
	int64_t now = atomic_fetch_add_explicit(&ds.parked, 1, memory_order_relaxed) + 1;
	int64_t max = atomic_load_explicit(&ds.parked_max, memory_order_relaxed);
	while (now > max &&
	       !atomic_compare_exchange_weak_explicit(&ds.parked_max, &max, now, memory_order_relaxed,
						      memory_order_relaxed))
		;
	ds.ask(key, n);
	atomic_fetch_sub_explicit(&ds.parked, 1, memory_order_relaxed);
}

/* --- the run ----------------------------------------------------------------------------------------- */

void txb_downstream_start(const struct txb_options *o)
{
	ds.delay_ns = o->downstream_us * 1000;
	if (o->downstream == TXB_DS_CHAN) {
		if (!(ds.queries = sched_chan_new(sizeof(struct ds_query *), TXB_DS_QUEUE)))
			bench_fatal(1, "--downstream=chan: out of memory for the query channel");
		sched_wg_add(&ds.exited, 1);
		if (!sched_go(chan_backend, NULL))
			bench_fatal(1, "--downstream=chan: could not start the backend: %s", strerror(sched_errno()));
		ds.ask = chan_ask;
	} else if (o->downstream == TXB_DS_SOCKET) {
		socket_start(o);
		ds.ask = socket_ask;
	}
	if (ds.ask)
		txb_downstream_call = counted_ask;
}

void txb_downstream_stop(void)
{
	if (!txb_downstream_call)
		return;
	txb_downstream_call = NULL;
	if (ds.queries) {
		sched_chan_close(ds.queries);
		sched_wg_wait(&ds.exited);
		sched_chan_free(ds.queries);
		ds.queries = NULL;
	}
	if (ds.pool) {
		for (int i = 0; i < ds.nconns; i++)
			sched_net_close(ds.fds[2 * i]);   /* its echo goroutine reads the end and closes its own */
		sched_wg_wait(&ds.exited);
		sched_chan_free(ds.pool);
		free(ds.fds);
		ds.pool = NULL;
	}
}

/* --- figures ------------------------------------------------------------------------------------------- */

/* v with two decimals, or null when it is not a number. */
static void fixed2(char *buf, size_t n, double v)
{
	if (isfinite(v))
		snprintf(buf, n, "%.2f", v);
	else
		snprintf(buf, n, "null");
}

void txb_downstream_json(char *buf, size_t n, const struct txb_options *o, const struct txb_result *r)
{
	double inflight = o->driver == TXB_SPAWN ? o->inflight : NAN;
	char us[32], parked[32], rss[32], owned[32];
	if (o->downstream == TXB_DS_NONE) {
		snprintf(us, sizeof us, "null");
		snprintf(parked, sizeof parked, "null");
	} else {
		snprintf(us, sizeof us, "%lld", (long long)o->downstream_us);
		snprintf(parked, sizeof parked, "%lld", (long long)atomic_load(&ds.parked_max));
	}
	fixed2(rss, sizeof rss, r->peak_rss_mb * 1024 / inflight);
	fixed2(owned, sizeof owned, r->owned_max_mb * 1024 / inflight);
	snprintf(buf, n, "\"downstream\":\"%s\",\"downstream_us\":%s,\"parked_max\":%s,"
			 "\"rss_per_inflight_kb\":%s,\"owned_per_inflight_kb\":%s",
		 txb_downstream_names[o->downstream], us, parked, rss, owned);
}
