/*
 * test_netpoll.c — the epoll network poller (sched/src/netpoll.c).
 *
 * Covers: socketpairs adopted with sched_net_adopt (a blocked reader parks and
 * the worker keeps running other goroutines, even with one worker); an 8 MiB
 * transfer that parks the writer until the reader drains; a loopback TCP echo
 * server with 64 concurrent clients; read, write and accept deadlines
 * (ETIMEDOUT, past deadlines, the descriptor still usable afterwards);
 * sched_net_close waking a blocked reader with EBADF; connection refused;
 * end of stream; bad arguments. The last tests are regression tests for
 * scheduler bugs found while writing this suite (see their comments): errno
 * lost when a dial resumes on another worker, a closed descriptor's reader
 * reading the socket that reused its number, a second reader of one
 * descriptor never woken, and a goroutine readied by the poller starved by
 * one that keeps yielding.
 *
 * Goroutine bodies check with TCHECK only; CU_ASSERT runs on the main thread
 * after harness_run returned. Tests assert bytes, counts and errno; time is
 * used only as a lower bound for deadlines and as a bound on waiting loops.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "internal.h" /* g->status, sched_worker_self(), sched_rt: to arrange and explain */
#include "toc/net.h"
#include "toc/sched.h"
#include "toc/sync.h"

#define MS (INT64_C(1000000))
#define SEC (INT64_C(1000000000))
/* A deadline for reads that should succeed: turns a lost wake-up into a
 * failed check instead of a hung suite. */
#define SAFETY (5 * SEC)

/* errno is thread-local, and a goroutine may resume on another worker after
 * any call that parks, while the compiler may keep errno's address from
 * before that call (__errno_location is a const function). Goroutine code
 * here reads and clears errno only through these pointers, which the compiler
 * cannot see through, so each access finds the current thread's errno. */
static int get_errno_impl(void)
{
	return errno;
}
static void set_errno_impl(int e)
{
	errno = e;
}
static int (*volatile get_errno)(void) = get_errno_impl;
static void (*volatile set_errno)(int) = set_errno_impl;

static int64_t safety_deadline(void)
{
	return sched_nanotime() + SAFETY;
}

/* A connected AF_UNIX stream pair, both ends adopted by the poller. */
static void make_pair(int sv[2])
{
	sv[0] = sv[1] = -1;
	TCHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	TCHECK(sched_net_adopt(sv[0]) == 0);
	TCHECK(sched_net_adopt(sv[1]) == 0);
}

static void close_pair(int sv[2])
{
	for (int i = 0; i < 2; i++)
		if (sv[i] >= 0)
			TCHECK(sched_net_close(sv[i]) == 0);
	sv[0] = sv[1] = -1;
}

/* Reads exactly n bytes unless the stream ends or fails first. Returns the
 * bytes read, or -1 (errno from sched_net_read) when a read failed. */
static ssize_t read_full(int fd, void *buf, size_t n, int64_t deadline)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = sched_net_read(fd, (char *)buf + got, n - got, deadline);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Waits (sleeping, bounded) until g is parked. Returns whether it is. */
static bool wait_parked(struct sched_g *g)
{
	for (int i = 0; i < 2000; i++) {
		if ((atomic_load(&g->status) & 0xffu) == SCHED_G_WAITING)
			return true;
		sched_sleep(MS);
	}
	return false;
}

/* Waits (sleeping, at most about ms milliseconds) until *flag is set.
 * Returns whether it is. */
static bool wait_flag_ms(_Atomic int *flag, int ms)
{
	for (int i = 0; i < ms && !atomic_load(flag); i++)
		sched_sleep(MS);
	return atomic_load(flag) != 0;
}

static bool wait_flag(_Atomic int *flag)
{
	return wait_flag_ms(flag, 2000);
}

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}
#define FNV_INIT 0xcbf29ce484222325ull

/* --- 1. socketpair: a blocked reader parks -------------------------------- */

struct pair_ctx {
	int sv[2];
	_Atomic int reader_started;
	_Atomic int reader_done;
	_Atomic int ticks;          /* writer iterations while the reader was blocked */
	char got[64];
	ssize_t got_n;
};

static const char pair_msg[] = "first;second piece;third and last piece";

static void pair_reader(void *p)
{
	struct pair_ctx *c = p;
	atomic_store(&c->reader_started, 1);
	c->got_n = read_full(c->sv[0], c->got, sizeof pair_msg, safety_deadline());
	atomic_store(&c->reader_done, 1);
}

/* Writes the message in three pieces, sleeping before each. */
static void pair_slow_writer(void *p)
{
	struct pair_ctx *c = p;
	static const size_t cuts[] = {0, 6, 19, sizeof pair_msg};
	for (int i = 0; i < 3; i++) {
		sched_sleep(5 * MS);
		size_t n = cuts[i + 1] - cuts[i];
		TCHECK(sched_net_write(c->sv[1], pair_msg + cuts[i], n, 0) == (ssize_t)n);
	}
}

static void pair_body(void *p)
{
	struct pair_ctx *c = p;
	make_pair(c->sv);
	struct sched_task r, w;
	TCHECK(sched_task_start(&r, pair_reader, c) == 0);
	TCHECK(sched_task_start(&w, pair_slow_writer, c) == 0);
	sched_task_join(&r);
	sched_task_join(&w);
	close_pair(c->sv);
}

static void test_pair_reader_then_writer(void)
{
	for (int procs = 1; procs <= 2; procs++) {
		struct pair_ctx c = {0};
		harness_run(procs, pair_body, &c);
		CU_ASSERT_EQUAL(c.got_n, (ssize_t)sizeof pair_msg);
		CU_ASSERT_EQUAL(memcmp(c.got, pair_msg, sizeof pair_msg), 0);
	}
}

/* With one worker: once the reader is blocked, the writer goroutine must
 * still run (many times) before it writes what the reader waits for. */
static void progress_writer(void *p)
{
	struct pair_ctx *c = p;
	for (int i = 0; i < 1000 && !atomic_load(&c->reader_started); i++)
		sched_gosched();
	TCHECK(atomic_load(&c->reader_started));
	for (int i = 0; i < 100; i++) {
		TCHECK(!atomic_load(&c->reader_done));
		atomic_fetch_add(&c->ticks, 1);
		sched_gosched();
	}
	TCHECK(sched_net_write(c->sv[1], pair_msg, sizeof pair_msg, 0) == (ssize_t)sizeof pair_msg);
}

static void progress_body(void *p)
{
	struct pair_ctx *c = p;
	make_pair(c->sv);
	struct sched_task r, w;
	TCHECK(sched_task_start(&r, pair_reader, c) == 0);
	TCHECK(sched_task_start(&w, progress_writer, c) == 0);
	sched_task_join(&w);
	sched_task_join(&r);
	close_pair(c->sv);
}

static void test_blocked_reader_does_not_block_worker(void)
{
	struct pair_ctx c = {0};
	harness_run(1, progress_body, &c);
	CU_ASSERT_EQUAL(c.ticks, 100);
	CU_ASSERT_EQUAL(c.got_n, (ssize_t)sizeof pair_msg);
	CU_ASSERT_EQUAL(memcmp(c.got, pair_msg, sizeof pair_msg), 0);
}

/* --- 2. a transfer larger than the socket buffer ------------------------- */

#define BIG (8u << 20)

struct big_ctx {
	int sv[2];
	unsigned char *src;
	uint64_t src_sum;
	_Atomic int writer_returned;
	_Atomic int writer_returned_when_reader_began;
	size_t received;
	size_t mismatches;
	uint64_t dst_sum;
	ssize_t wrote;
};

static void big_writer(void *p)
{
	struct big_ctx *c = p;
	c->wrote = sched_net_write(c->sv[1], c->src, BIG, 0);
	atomic_store(&c->writer_returned, 1);
}

static void big_reader(void *p)
{
	struct big_ctx *c = p;
	static unsigned char buf[64 * 1024];
	sched_sleep(5 * MS); /* let the writer fill the socket buffer and park */
	atomic_store(&c->writer_returned_when_reader_began, atomic_load(&c->writer_returned));
	uint64_t h = FNV_INIT;
	for (;;) {
		ssize_t r = sched_net_read(c->sv[0], buf, sizeof buf, safety_deadline());
		if (!TCHECK(r >= 0) || r == 0)
			break;
		if (c->received + (size_t)r > BIG || memcmp(buf, c->src + c->received, (size_t)r))
			c->mismatches++;
		h = fnv1a(h, buf, (size_t)r);
		c->received += (size_t)r;
		if (c->received >= BIG)
			break;
	}
	c->dst_sum = h;
}

static void big_body(void *p)
{
	struct big_ctx *c = p;
	make_pair(c->sv);
	struct sched_task r, w;
	TCHECK(sched_task_start(&w, big_writer, c) == 0);
	TCHECK(sched_task_start(&r, big_reader, c) == 0);
	sched_task_join(&w);
	sched_task_join(&r);
	close_pair(c->sv);
}

static void test_large_transfer_parks_writer(void)
{
	unsigned char *src = malloc(BIG);
	CU_ASSERT_PTR_NOT_NULL_FATAL(src);
	uint64_t seed = harness_seed();
	for (size_t i = 0; i < BIG; i += 8) {
		uint64_t x = harness_rand(&seed);
		memcpy(src + i, &x, 8);
	}
	uint64_t sum = fnv1a(FNV_INIT, src, BIG);
	for (int procs = 1; procs <= 2; procs++) {
		struct big_ctx c = {.src = src, .src_sum = sum};
		harness_run(procs, big_body, &c);
		CU_ASSERT_EQUAL(c.wrote, (ssize_t)BIG);
		CU_ASSERT_EQUAL(c.received, (size_t)BIG);
		CU_ASSERT_EQUAL(c.mismatches, 0);
		CU_ASSERT_EQUAL(c.dst_sum, sum);
		/* 8 MiB cannot fit in a socket buffer: the writer was parked. */
		CU_ASSERT_EQUAL(c.writer_returned_when_reader_began, 0);
	}
	free(src);
}

/* --- 3. loopback TCP echo, 64 clients ------------------------------------ */

#define CLIENTS 64
#define MSGS 4

struct echo_ctx {
	int lfd;
	int port;
	struct sched_waitgroup clients;
	struct sched_waitgroup echoes;
	_Atomic int accepted;
	_Atomic int verified;       /* messages echoed back intact */
	_Atomic int connected;
	_Atomic long echoed_bytes;
	struct echo_client {
		struct echo_ctx *c;
		int id;
	} cl[CLIENTS];
};

static size_t msg_len(int id, int m)
{
	static const size_t lens[MSGS] = {1, 100, 3000, 20000};
	return lens[m] + (size_t)id;
}

static void msg_fill(unsigned char *buf, int id, int m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)(id * 31 + m * 7 + i);
}

struct echo_conn {
	struct echo_ctx *c;
	int fd;
};

static void echo_conn(void *p)
{
	struct echo_conn *e = p;
	unsigned char buf[4096];
	for (;;) {
		ssize_t r = sched_net_read(e->fd, buf, sizeof buf, safety_deadline());
		if (!TCHECK(r >= 0) || r == 0)
			break;
		TCHECK(sched_net_write(e->fd, buf, (size_t)r, safety_deadline()) == r);
		atomic_fetch_add(&e->c->echoed_bytes, r);
	}
	TCHECK(sched_net_close(e->fd) == 0);
	struct sched_waitgroup *wg = &e->c->echoes;
	free(e);
	sched_wg_done(wg);
}

static void echo_accept_loop(void *p)
{
	struct echo_ctx *c = p;
	for (int i = 0; i < CLIENTS; i++) {
		struct sockaddr_in sa;
		socklen_t len = sizeof sa;
		int fd = sched_net_accept(c->lfd, (struct sockaddr *)&sa, &len, safety_deadline());
		if (!TCHECK(fd >= 0))
			break;
		TCHECK(len == sizeof sa && sa.sin_family == AF_INET &&
		       sa.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
		atomic_fetch_add(&c->accepted, 1);
		struct echo_conn *e = malloc(sizeof *e);
		TCHECK(e != NULL);
		e->c = c;
		e->fd = fd;
		sched_wg_add(&c->echoes, 1);
		TCHECK(sched_go(echo_conn, e) != 0);
	}
}

static void echo_client(void *p)
{
	struct echo_client *cl = p;
	struct echo_ctx *c = cl->c;
	unsigned char *out = malloc(32 * 1024), *in = malloc(32 * 1024);
	int fd = TCHECK(out && in) ? sched_net_dial_tcp("127.0.0.1", c->port, safety_deadline()) : -1;
	if (TCHECK(fd >= 0)) {
		atomic_fetch_add(&c->connected, 1);
		for (int m = 0; m < MSGS; m++) {
			size_t n = msg_len(cl->id, m);
			msg_fill(out, cl->id, m, n);
			if (!TCHECK(sched_net_write(fd, out, n, safety_deadline()) == (ssize_t)n))
				break;
			ssize_t r = read_full(fd, in, n, safety_deadline());
			if (!TCHECK(r == (ssize_t)n))
				break;
			if (TCHECK(memcmp(in, out, n) == 0))
				atomic_fetch_add(&c->verified, 1);
		}
		TCHECK(sched_net_close(fd) == 0);
	}
	free(out);
	free(in);
	sched_wg_done(&c->clients);
}

static void echo_body(void *p)
{
	struct echo_ctx *c = p;
	c->lfd = sched_net_listen_tcp("127.0.0.1", 0, 128);
	if (!TCHECK(c->lfd >= 0))
		return;
	c->port = sched_net_local_port(c->lfd);
	TCHECK(c->port > 0 && c->port <= 65535);
	struct sched_task acc;
	TCHECK(sched_task_start(&acc, echo_accept_loop, c) == 0);
	sched_wg_add(&c->clients, CLIENTS);
	for (int i = 0; i < CLIENTS; i++) {
		c->cl[i] = (struct echo_client){c, i};
		TCHECK(sched_go(echo_client, &c->cl[i]) != 0);
	}
	sched_wg_wait(&c->clients);
	sched_task_join(&acc);
	sched_wg_wait(&c->echoes);
	TCHECK(sched_net_close(c->lfd) == 0);
}

static void test_tcp_echo_64_clients(void)
{
	static struct echo_ctx c;
	memset(&c, 0, sizeof c);
	harness_run(2, echo_body, &c);
	long bytes = 0;
	for (int i = 0; i < CLIENTS; i++)
		for (int m = 0; m < MSGS; m++)
			bytes += (long)msg_len(i, m);
	CU_ASSERT_EQUAL(c.connected, CLIENTS);
	CU_ASSERT_EQUAL(c.accepted, CLIENTS);
	CU_ASSERT_EQUAL(c.verified, CLIENTS * MSGS);
	CU_ASSERT_EQUAL(c.echoed_bytes, bytes);
}

/* --- 4. deadlines ----------------------------------------------------------- */

struct deadline_ctx {
	int sv[2];
	int64_t read_elapsed;
	int read_errno;
	ssize_t read_r;
	int past_errno;
	ssize_t past_r;
	uint64_t past_parks;        /* parks during the past-deadline reads */
	ssize_t after_r;
	char after[8];
	ssize_t after2_r;
	char after2[8];
	ssize_t write_r;
	int write_errno;
	int64_t write_elapsed;
};

static void late_writer(void *p)
{
	struct deadline_ctx *c = p;
	sched_sleep(10 * MS);
	TCHECK(sched_net_write(c->sv[1], "later", 5, 0) == 5);
}

static void deadline_body(void *p)
{
	struct deadline_ctx *c = p;
	char buf[16];
	make_pair(c->sv);

	/* A silent socket: the read times out, no earlier than the deadline. */
	int64_t t0 = sched_nanotime();
	set_errno(0);
	c->read_r = sched_net_read(c->sv[0], buf, sizeof buf, t0 + 20 * MS);
	c->read_errno = get_errno();
	c->read_elapsed = sched_nanotime() - t0;

	/* A deadline in the past fails at once, without parking (no other
	 * goroutine exists yet to park meanwhile). */
	struct sched_stats s0, s1;
	sched_read_stats(&s0);
	set_errno(0);
	c->past_r = sched_net_read(c->sv[0], buf, sizeof buf, sched_nanotime() - MS);
	c->past_errno = get_errno();
	TCHECK(sched_net_read(c->sv[0], buf, sizeof buf, 1) == -1 && get_errno() == ETIMEDOUT);
	sched_read_stats(&s1);
	c->past_parks = s1.parks - s0.parks;

	/* The descriptor still works: data written later arrives, with and
	 * without a deadline. */
	struct sched_task w;
	TCHECK(sched_task_start(&w, late_writer, c) == 0);
	c->after_r = read_full(c->sv[0], c->after, 5, safety_deadline());
	sched_task_join(&w);
	TCHECK(sched_task_start(&w, late_writer, c) == 0);
	c->after2_r = read_full(c->sv[0], c->after2, 5, 0);
	sched_task_join(&w);

	/* Writes time out too, once the socket buffer is full. */
	size_t n = 4u << 20;
	char *big = calloc(1, n);
	TCHECK(big != NULL);
	t0 = sched_nanotime();
	set_errno(0);
	c->write_r = sched_net_write(c->sv[1], big, n, t0 + 20 * MS);
	c->write_errno = get_errno();
	c->write_elapsed = sched_nanotime() - t0;
	free(big);
	close_pair(c->sv);
}

static void test_read_write_deadlines(void)
{
	for (int procs = 1; procs <= 2; procs++) {
		struct deadline_ctx c = {0};
		harness_run(procs, deadline_body, &c);
		CU_ASSERT_EQUAL(c.read_r, -1);
		CU_ASSERT_EQUAL(c.read_errno, ETIMEDOUT);
		CU_ASSERT(c.read_elapsed >= 20 * MS);
		CU_ASSERT_EQUAL(c.past_r, -1);
		CU_ASSERT_EQUAL(c.past_errno, ETIMEDOUT);
		CU_ASSERT_EQUAL(c.past_parks, 0);
		CU_ASSERT_EQUAL(c.after_r, 5);
		CU_ASSERT_EQUAL(memcmp(c.after, "later", 5), 0);
		CU_ASSERT_EQUAL(c.after2_r, 5);
		CU_ASSERT_EQUAL(memcmp(c.after2, "later", 5), 0);
		CU_ASSERT_EQUAL(c.write_r, -1);
		CU_ASSERT_EQUAL(c.write_errno, ETIMEDOUT);
		CU_ASSERT(c.write_elapsed >= 20 * MS);
	}
}

struct accept_ctx {
	int lfd;
	int port;
	int accept_r;
	int accept_errno;
	int64_t accept_elapsed;
	int past_r;
	int past_errno;
	int late_fd;
	int dial_fd;
};

static void late_dialer(void *p)
{
	struct accept_ctx *c = p;
	sched_sleep(10 * MS);
	c->dial_fd = sched_net_dial_tcp("127.0.0.1", c->port, safety_deadline());
}

static void accept_body(void *p)
{
	struct accept_ctx *c = p;
	c->lfd = sched_net_listen_tcp("127.0.0.1", 0, 16);
	if (!TCHECK(c->lfd >= 0))
		return;
	c->port = sched_net_local_port(c->lfd);
	int64_t t0 = sched_nanotime();
	set_errno(0);
	c->accept_r = sched_net_accept(c->lfd, NULL, NULL, t0 + 20 * MS);
	c->accept_errno = get_errno();
	c->accept_elapsed = sched_nanotime() - t0;
	set_errno(0);
	c->past_r = sched_net_accept(c->lfd, NULL, NULL, sched_nanotime() - MS);
	c->past_errno = get_errno();
	/* The listener still accepts after its timeouts. */
	struct sched_task d;
	TCHECK(sched_task_start(&d, late_dialer, c) == 0);
	c->late_fd = sched_net_accept(c->lfd, NULL, NULL, safety_deadline());
	sched_task_join(&d);
	if (c->late_fd >= 0 && c->dial_fd >= 0) {
		char b[4];
		TCHECK(sched_net_write(c->dial_fd, "ping", 4, 0) == 4);
		TCHECK(read_full(c->late_fd, b, 4, safety_deadline()) == 4 && !memcmp(b, "ping", 4));
	}
	if (c->late_fd >= 0)
		TCHECK(sched_net_close(c->late_fd) == 0);
	if (c->dial_fd >= 0)
		TCHECK(sched_net_close(c->dial_fd) == 0);
	TCHECK(sched_net_close(c->lfd) == 0);
}

static void test_accept_deadline(void)
{
	for (int procs = 1; procs <= 2; procs++) {
		struct accept_ctx c = {.late_fd = -1, .dial_fd = -1};
		harness_run(procs, accept_body, &c);
		CU_ASSERT_EQUAL(c.accept_r, -1);
		CU_ASSERT_EQUAL(c.accept_errno, ETIMEDOUT);
		CU_ASSERT(c.accept_elapsed >= 20 * MS);
		CU_ASSERT_EQUAL(c.past_r, -1);
		CU_ASSERT_EQUAL(c.past_errno, ETIMEDOUT);
		CU_ASSERT(c.late_fd >= 0);
		CU_ASSERT(c.dial_fd >= 0);
	}
}

/* --- 5. close wakes a blocked reader ---------------------------------------- */

struct close_ctx {
	int sv[2];
	struct sched_g *reader;     /* set by the reader before it blocks */
	_Atomic int started;
	_Atomic int done;
	ssize_t r;
	int err;
	char buf[16];
};

static void close_reader(void *p)
{
	struct close_ctx *c = p;
	c->reader = sched_self();
	atomic_store(&c->started, 1);
	set_errno(0);
	c->r = sched_net_read(c->sv[0], c->buf, sizeof c->buf, safety_deadline());
	c->err = get_errno();
	atomic_store(&c->done, 1);
}

static void close_body(void *p)
{
	struct close_ctx *c = p;
	make_pair(c->sv);
	struct sched_task r;
	TCHECK(sched_task_start(&r, close_reader, c) == 0);
	if (TCHECK(wait_flag(&c->started)))
		TCHECK(wait_parked(c->reader));
	TCHECK(!atomic_load(&c->done));
	TCHECK(sched_net_close(c->sv[0]) == 0);
	sched_task_join(&r);
	TCHECK(sched_net_close(c->sv[1]) == 0);
}

static void test_close_wakes_reader(void)
{
	for (int procs = 1; procs <= 2; procs++) {
		struct close_ctx c = {0};
		harness_run(procs, close_body, &c);
		CU_ASSERT_EQUAL(c.r, -1);
		CU_ASSERT_EQUAL(c.err, EBADF);
	}
}

/* --- 6. connection refused ----------------------------------------------- */

/* A port bound to a socket that never listens: SYNs to it get a reset. The
 * socket stays bound while the test runs, so no other process can start
 * listening on that port meanwhile. Returns the socket; *port gets its port. */
static int refusing_port(int *port)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sa;
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof sa) ||
	    getsockname(s, (struct sockaddr *)&sa, &len)) {
		if (s >= 0)
			close(s);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return s;
}

#define DIALS 8

struct refused_ctx {
	int port;
	int fds[DIALS];
	int errs[DIALS];
};

static void refused_body(void *p)
{
	struct refused_ctx *c = p;
	for (int i = 0; i < DIALS; i++) {
		set_errno(0);
		c->fds[i] = sched_net_dial_tcp("127.0.0.1", c->port, safety_deadline());
		c->errs[i] = get_errno();
	}
}

static void test_dial_refused(void)
{
	struct refused_ctx c = {0};
	int s = refusing_port(&c.port);
	CU_ASSERT_FATAL(s >= 0);
	harness_run(1, refused_body, &c);
	for (int i = 0; i < DIALS; i++) {
		CU_ASSERT_EQUAL(c.fds[i], -1);
		CU_ASSERT_EQUAL(c.errs[i], ECONNREFUSED);
	}
	close(s);
}

/* The same with procs=2, arranged so that the dialer parks on one worker and
 * resumes on the other (where a plain dial does so only now and then):
 *   - a spinner is started and main waits, without yielding, until it runs
 *     on the other worker;
 *   - main queues a blocker on its own worker and dials; when the dial
 *     parks, the blocker holds this worker until the dial returns;
 *   - the spinner, seeing main parked, ends, and its worker polls and
 *     resumes main.
 * errno is cleared on both workers first, so a value left over from an
 * earlier dial cannot stand in for the right one. */
struct move_ctx {
	int port;
	struct sched_g *main_g;
	_Atomic int phase;          /* 1: spinner runs; 2: clear errno; 3: dial returned */
	_Atomic int spinner_worker;
	_Atomic int cleared;
	_Atomic int dialing;        /* main is about to dial */
	int w_before, w_after;
	int fd, err;
	struct sched_waitgroup wg;
};

static int worker_id(void)
{
	return sched_worker_self()->id;
}

static bool spin_until(_Atomic int *v, int want)
{
	int64_t t0 = sched_nanotime();
	while (atomic_load(v) < want && sched_nanotime() - t0 < SEC)
		__builtin_ia32_pause();
	return atomic_load(v) >= want;
}

static void move_spinner(void *p)
{
	struct move_ctx *c = p;
	atomic_store(&c->spinner_worker, worker_id());
	atomic_store(&c->phase, 1);
	TCHECK(spin_until(&c->phase, 2));
	set_errno(0);
	atomic_fetch_add(&c->cleared, 1);
	/* Hold this worker until main has left its worker inside the dial:
	 * parked, or runnable again if the refusal arrived before its park
	 * committed (then it waits in its worker's runnext, which this worker
	 * steals once we end). Its WAITING state alone can be too brief to see. */
	int64_t t0 = sched_nanotime();
	while (!(atomic_load(&c->dialing) &&
		 (atomic_load(&c->main_g->status) & 0xffu) != SCHED_G_RUNNING) &&
	       atomic_load(&c->phase) < 3 && sched_nanotime() - t0 < SEC)
		__builtin_ia32_pause();
	sched_wg_done(&c->wg);
}

static void move_blocker(void *p)
{
	struct move_ctx *c = p;
	TCHECK(spin_until(&c->phase, 3));
	sched_wg_done(&c->wg);
}

static void move_body(void *p)
{
	struct move_ctx *c = p;
	c->main_g = sched_self();
	sched_wg_add(&c->wg, 2);
	TCHECK(sched_go(move_spinner, c) != 0);
	/* No yield: the spinner can only run on the other worker. */
	TCHECK(spin_until(&c->phase, 1));
	c->w_before = worker_id();
	TCHECK(atomic_load(&c->spinner_worker) != c->w_before);
	set_errno(0);
	atomic_store(&c->phase, 2);
	TCHECK(spin_until(&c->cleared, 1));
	TCHECK(sched_go(move_blocker, c) != 0);
	atomic_store(&c->dialing, 1);
	c->fd = sched_net_dial_tcp("127.0.0.1", c->port, safety_deadline());
	c->err = get_errno();
	c->w_after = worker_id();
	atomic_store(&c->phase, 3);
	sched_wg_wait(&c->wg);
}

static void test_dial_refused_on_another_worker(void)
{
	for (int i = 0; i < 4; i++) {
		struct move_ctx c = {.fd = 0};
		int s = refusing_port(&c.port);
		CU_ASSERT_FATAL(s >= 0);
		harness_run(2, move_body, &c);
		close(s);
		CU_ASSERT_EQUAL(c.fd, -1);
		CU_ASSERT_EQUAL(c.err, ECONNREFUSED);
		if (c.err != ECONNREFUSED)
			fprintf(stderr, "\n    dial parked on worker %d, resumed on %d: errno %d ",
				c.w_before, c.w_after, c.err);
	}
}

/* --- 7. end of stream ------------------------------------------------------- */

struct eof_ctx {
	int sv[2];
	struct close_ctx rd;        /* reader blocked when the peer closes */
	ssize_t first, second, third;
	char buf[8];
};

static void eof_body(void *p)
{
	struct eof_ctx *c = p;

	/* Data then close, read afterwards: the data, then 0, and 0 again. */
	make_pair(c->sv);
	TCHECK(sched_net_write(c->sv[1], "bye", 3, 0) == 3);
	TCHECK(sched_net_close(c->sv[1]) == 0);
	c->first = read_full(c->sv[0], c->buf, 3, safety_deadline());
	c->second = sched_net_read(c->sv[0], c->buf + 3, 1, safety_deadline());
	c->third = sched_net_read(c->sv[0], c->buf + 3, 1, safety_deadline());
	TCHECK(sched_net_close(c->sv[0]) == 0);

	/* A reader parked when the peer closes wakes with 0. */
	make_pair(c->rd.sv);
	struct sched_task r;
	TCHECK(sched_task_start(&r, close_reader, &c->rd) == 0);
	if (TCHECK(wait_flag(&c->rd.started)))
		TCHECK(wait_parked(c->rd.reader));
	TCHECK(sched_net_close(c->rd.sv[1]) == 0);
	sched_task_join(&r);
	TCHECK(sched_net_close(c->rd.sv[0]) == 0);
}

static void test_end_of_stream(void)
{
	for (int procs = 1; procs <= 2; procs++) {
		struct eof_ctx c = {0};
		harness_run(procs, eof_body, &c);
		CU_ASSERT_EQUAL(c.first, 3);
		CU_ASSERT_EQUAL(memcmp(c.buf, "bye", 3), 0);
		CU_ASSERT_EQUAL(c.second, 0);
		CU_ASSERT_EQUAL(c.third, 0);
		CU_ASSERT_EQUAL(c.rd.r, 0);
	}
}

/* --- 8. bad input ------------------------------------------------------------- */

struct bad_ctx {
	int r_host, e_host;
	int r_port, r_negport;
	int r_dial_host, e_dial_host;
	int r_dial_port;
	ssize_t r_read;
	int e_read;
};

static void bad_body(void *p)
{
	struct bad_ctx *c = p;
	set_errno(0);
	c->r_host = sched_net_listen_tcp("not-an-ip", 0, 16);
	c->e_host = get_errno();
	c->r_port = sched_net_listen_tcp("127.0.0.1", 70000, 16);
	c->r_negport = sched_net_listen_tcp("127.0.0.1", -1, 16);
	set_errno(0);
	c->r_dial_host = sched_net_dial_tcp("not-an-ip", 80, 0);
	c->e_dial_host = get_errno();
	c->r_dial_port = sched_net_dial_tcp("127.0.0.1", 70000, 0);
	char b;
	set_errno(0);
	c->r_read = sched_net_read(-1, &b, 1, 0);
	c->e_read = get_errno();
}

static void test_bad_input(void)
{
	struct bad_ctx c = {0};
	harness_run(1, bad_body, &c);
	CU_ASSERT_EQUAL(c.r_host, -1);
	CU_ASSERT_EQUAL(c.e_host, EINVAL);
	CU_ASSERT_EQUAL(c.r_port, -1);
	CU_ASSERT_EQUAL(c.r_negport, -1);
	CU_ASSERT_EQUAL(c.r_dial_host, -1);
	CU_ASSERT_EQUAL(c.e_dial_host, EINVAL);
	CU_ASSERT_EQUAL(c.r_dial_port, -1);
	CU_ASSERT_EQUAL(c.r_read, -1);
	CU_ASSERT_EQUAL(c.e_read, EBADF);
}

/* --- regression tests for scheduler bugs found by this suite -------------- */

/* sched_net_close wakes the reader, then closes the descriptor at once. If
 * the number is reused (lowest free fd) and adopted before the woken reader
 * runs, pd_get resets the pd's closing flag; the reader must still get EBADF
 * (pd_wait compares the pd's close sequence), not read the unrelated new
 * socket. One worker makes the order deterministic. */
struct reuse_ctx {
	struct close_ctx rd;
	int old_fd;
	int nw[2];
};

static void reuse_body(void *p)
{
	struct reuse_ctx *c = p;
	make_pair(c->rd.sv);
	c->old_fd = c->rd.sv[0];
	struct sched_task r;
	TCHECK(sched_task_start(&r, close_reader, &c->rd) == 0);
	if (TCHECK(wait_flag(&c->rd.started)))
		TCHECK(wait_parked(c->rd.reader));
	/* No yield from here to the join: the woken reader cannot run yet. */
	TCHECK(sched_net_close(c->rd.sv[0]) == 0);
	make_pair(c->nw);
	TCHECK(c->nw[0] == c->old_fd || c->nw[1] == c->old_fd);
	/* Data on both ends of the new pair, whichever took the old number. */
	TCHECK(sched_net_write(c->nw[0], "INTRUDER", 8, 0) == 8);
	TCHECK(sched_net_write(c->nw[1], "INTRUDER", 8, 0) == 8);
	sched_task_join(&r);
	close_pair(c->nw);
	TCHECK(sched_net_close(c->rd.sv[1]) == 0);
}

static void test_close_then_fd_reuse(void)
{
	struct reuse_ctx c = {0};
	harness_run(1, reuse_body, &c);
	CU_ASSERT_EQUAL(c.rd.r, -1);
	CU_ASSERT_EQUAL(c.rd.err, EBADF);
	if (c.rd.r > 0)
		fprintf(stderr, "\n    the closed reader read %zd bytes of the new socket: \"%.*s\" ",
			c.rd.r, (int)c.rd.r, c.rd.buf);
}

/* Two goroutines blocked reading one descriptor: both must be woken (by data
 * or close). The poll descriptor's wait slot holds one goroutine, so readers
 * queue on the descriptor's read mutex; without it the second reader's park
 * once overwrote the first, which was then never woken. */
struct two_ctx {
	struct close_ctx a, b;
};

static void two_body(void *p)
{
	struct two_ctx *c = p;
	make_pair(c->a.sv);
	memcpy(c->b.sv, c->a.sv, sizeof c->a.sv);
	struct sched_task ra, rb;
	TCHECK(sched_task_start(&ra, close_reader, &c->a) == 0);
	if (TCHECK(wait_flag(&c->a.started)))
		TCHECK(wait_parked(c->a.reader));
	TCHECK(sched_task_start(&rb, close_reader, &c->b) == 0);
	if (TCHECK(wait_flag(&c->b.started)))
		TCHECK(wait_parked(c->b.reader));
	TCHECK(sched_net_close(c->a.sv[0]) == 0);
	/* Bounded wait: a forgotten reader is freed when the runtime ends. */
	TCHECK(wait_flag(&c->b.done));
	TCHECK(wait_flag_ms(&c->a.done, 200));
	if (atomic_load(&c->a.done))
		sched_task_join(&ra);
	if (atomic_load(&c->b.done))
		sched_task_join(&rb);
	TCHECK(sched_net_close(c->a.sv[1]) == 0);
}

static void test_close_wakes_two_readers(void)
{
	struct two_ctx c = {0};
	harness_run(1, two_body, &c);
	CU_ASSERT_EQUAL(c.a.done, 1);
	CU_ASSERT_EQUAL(c.b.done, 1);
	CU_ASSERT_EQUAL(c.a.err, EBADF);
	CU_ASSERT_EQUAL(c.b.err, EBADF);
}

/* One worker: after the reader's data arrived, a goroutine that keeps
 * yielding must not keep the reader from running ("the goroutine goes to
 * the back of the run queue"). */
struct yield_ctx {
	struct close_ctx rd;
	long yields;
	int done_while_yielding;
	uint64_t global_queue;      /* sched_rt.gq_len when the loop gave up */
};

static void yield_body(void *p)
{
	struct yield_ctx *c = p;
	make_pair(c->rd.sv);
	struct sched_task r;
	TCHECK(sched_task_start(&r, close_reader, &c->rd) == 0);
	if (TCHECK(wait_flag(&c->rd.started)))
		TCHECK(wait_parked(c->rd.reader));
	TCHECK(sched_net_write(c->rd.sv[1], "x", 1, 0) == 1);
	int64_t t0 = sched_nanotime();
	while (!atomic_load(&c->rd.done) && sched_nanotime() - t0 < SEC) {
		sched_gosched();
		c->yields++;
	}
	c->done_while_yielding = atomic_load(&c->rd.done);
	c->global_queue = atomic_load(&sched_rt.gq_len);
	sched_task_join(&r); /* parks: the reader gets its turn now */
	close_pair(c->rd.sv);
}

static void test_yielding_goroutine_does_not_starve_reader(void)
{
	struct yield_ctx c = {0};
	harness_run(1, yield_body, &c);
	CU_ASSERT_EQUAL(c.done_while_yielding, 1);
	CU_ASSERT_EQUAL(c.rd.r, 1);
	if (!c.done_while_yielding)
		fprintf(stderr, "\n    reader still runnable after %ld yields (global queue: %llu) ",
			c.yields, (unsigned long long)c.global_queue);
}

int main(void)
{
	static const struct harness_test tests[] = {
		{"socketpair: reader blocks, writer writes later", test_pair_reader_then_writer},
		{"socketpair: blocked reader leaves the worker free (procs=1)",
		 test_blocked_reader_does_not_block_worker},
		{"8 MiB transfer parks the writer until the reader drains",
		 test_large_transfer_parks_writer},
		{"loopback TCP echo, 64 clients (procs=2)", test_tcp_echo_64_clients},
		{"read and write deadlines", test_read_write_deadlines},
		{"accept deadline", test_accept_deadline},
		{"close wakes a blocked reader with EBADF", test_close_wakes_reader},
		{"dial to a closed port: ECONNREFUSED", test_dial_refused},
		{"dial to a closed port, resumed on another worker: ECONNREFUSED",
		 test_dial_refused_on_another_worker},
		{"end of stream: read returns 0", test_end_of_stream},
		{"bad input", test_bad_input},
		{"close, then the fd number is reused: the reader still gets EBADF",
		 test_close_then_fd_reuse},
		{"close wakes two readers of one fd", test_close_wakes_two_readers},
		{"a yielding goroutine does not starve a readied reader (procs=1)",
		 test_yielding_goroutine_does_not_starve_reader},
		{NULL, NULL},
	};
	return harness_main("netpoll", tests);
}
