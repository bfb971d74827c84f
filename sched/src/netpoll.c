/*
 * netpoll.c — the epoll network poller and socket calls that park.
 *
 * Each descriptor gets a poll descriptor (pd), registered once with epoll,
 * edge-triggered for reading and writing. A pd has two wait slots, rg and wg,
 * each holding one of: PD_NIL, PD_READY (an edge arrived that nobody has
 * consumed), or the parked goroutine. The protocol (Go's netpoll.go):
 *
 *   waiter:  try the syscall; on EAGAIN, park with a commit that CASes the
 *            slot NIL -> g. If the slot was READY the commit consumes it and
 *            returns false, so the goroutine retries at once: an edge that
 *            arrived between EAGAIN and the park is never lost.
 *   poller:  for an event, CAS the slot g -> NIL and ready g, or NIL -> READY.
 *   deadline: a timer does what an event does and sets the pd's timed-out
 *            flag for that direction; the waiter returns ETIMEDOUT.
 *
 * Each slot has one waiter at most: readers (and acceptors) of a descriptor
 * take its rmu, writers (and dialers) its wmu, parking mutexes that queue
 * the others (Go's fdMutex), so several goroutines may accept on one socket.
 *
 * pds are kept in a table indexed by fd and never freed while the runtime
 * lives; a sequence number bumped at close lets a woken waiter or a stale
 * timer recognise that its descriptor was closed (and maybe reopened).
 *
 * errno: every function here may park and resume on another thread, so
 * errno is read and written through sched_errno()/sched_set_errno() only.
 *
 * One eventfd, registered with data.ptr NULL, breaks a blocked epoll_wait
 * (to wake the sleeping poller for new work or an earlier timer).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"
#include "toc/net.h"
#include "toc/sync.h"

#define PD_NIL ((uintptr_t)0)
#define PD_READY ((uintptr_t)1)

struct sched_pd {
	int fd;
	_Atomic uintptr_t rg;       /* PD_NIL, PD_READY or the parked reader */
	_Atomic uintptr_t wg;       /* same for a writer */
	_Atomic uint32_t seq;       /* bumped at close */
	_Atomic int closing;        /* waiters get EBADF */
	_Atomic int rd_timedout;    /* the reader's deadline passed */
	_Atomic int wr_timedout;
	bool registered;            /* in epoll; under table_lock */
	struct sched_mutex rmu;     /* one reader (or acceptor) at a time */
	struct sched_mutex wmu;     /* one writer (or dialer) at a time */
};

static struct {
	int epfd;
	int evfd;                   /* breaks epoll_wait */
	_Atomic int broken;         /* a break is pending in evfd */
	int table_lock;             /* spinlock over table growth */
	struct sched_pd **table;    /* by fd */
	int table_len;
	_Atomic int waiters;        /* goroutines parked on a pd */
} np = {.epfd = -1, .evfd = -1};

int sched_netpoll_init(void)
{
	np.epfd = epoll_create1(EPOLL_CLOEXEC);
	np.evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (np.epfd < 0 || np.evfd < 0)
		return -1;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	if (epoll_ctl(np.epfd, EPOLL_CTL_ADD, np.evfd, &ev))
		return -1;
	atomic_store(&np.waiters, 0);
	atomic_store(&np.broken, 0);
	return 0;
}

void sched_netpoll_fini(void)
{
	if (np.epfd >= 0)
		close(np.epfd);
	if (np.evfd >= 0)
		close(np.evfd);
	np.epfd = np.evfd = -1;
	for (int i = 0; i < np.table_len; i++)
		free(np.table[i]);
	free(np.table);
	np.table = NULL;
	np.table_len = 0;
}

bool sched_netpoll_waiting(void)
{
	return atomic_load_explicit(&np.waiters, memory_order_relaxed) > 0;
}

void sched_netpoll_break(void)
{
	if (np.evfd < 0 || atomic_exchange(&np.broken, 1))
		return;
	uint64_t one = 1;
	ssize_t r = write(np.evfd, &one, sizeof one);
	(void)r;
}

/* Readies the goroutine in *slot, or leaves PD_READY for the next waiter. */
static struct sched_g *unblock(_Atomic uintptr_t *slot)
{
	for (;;) {
		uintptr_t old = atomic_load(slot);
		if (old == PD_READY)
			return NULL;
		uintptr_t new = old == PD_NIL ? PD_READY : PD_NIL;
		if (atomic_compare_exchange_strong(slot, &old, new))
			return old > PD_READY ? (struct sched_g *)old : NULL;
	}
}

static void batch_add(struct sched_g **batch, uint32_t *n, struct sched_g *g)
{
	if (!g)
		return;
	while (!sched_g_cas(g, SCHED_G_WAITING, SCHED_G_RUNNABLE))
		sched_yield(); /* a stack visitor holds it */
	atomic_fetch_sub(&np.waiters, 1);
	g->next = *batch;
	*batch = g;
	(*n)++;
}

uint32_t sched_netpoll(int64_t timeout_ns, struct sched_g **batch)
{
	struct epoll_event evs[128];
	int timeout_ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
	uint32_t n = 0;
	*batch = NULL;
	int k;
	/* epoll_wait is never restarted after a signal handler, SA_RESTART
	 * or not (signal(7)): a preemption signal, or any other, makes it fail
	 * with EINTR. A poll that was not to block tries again; a blocking one
	 * returns no events, and its caller looks for work and timers again. */
	while ((k = epoll_wait(np.epfd, evs, 128, timeout_ms)) < 0) {
		if (errno != EINTR)
			sched_fatal("epoll_wait: %s", strerror(errno));
		if (timeout_ms != 0) {
			k = 0;
			break;
		}
	}
	atomic_store(&sched_rt.last_poll, sched_nanotime());
	for (int i = 0; i < k; i++) {
		struct sched_pd *pd = evs[i].data.ptr;
		if (!pd) {
			uint64_t v;
			ssize_t r = read(np.evfd, &v, sizeof v);
			(void)r;
			atomic_store(&np.broken, 0);
			continue;
		}
		uint32_t e = evs[i].events;
		if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			batch_add(batch, &n, unblock(&pd->rg));
		if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
			batch_add(batch, &n, unblock(&pd->wg));
	}
	return n;
}

/* --- poll descriptors ---------------------------------------------------------- */

static struct sched_pd *pd_get(int fd)
{
	if (fd < 0) {
		sched_set_errno(EBADF);
		return NULL;
	}
	sched_spin_lock(&np.table_lock);
	if (fd >= np.table_len) {
		int len = np.table_len ? np.table_len : 1024;
		while (len <= fd)
			len *= 2;
		struct sched_pd **t = realloc(np.table, (size_t)len * sizeof *t);
		if (!t) {
			sched_spin_unlock(&np.table_lock);
			sched_set_errno(ENOMEM);
			return NULL;
		}
		memset(t + np.table_len, 0, (size_t)(len - np.table_len) * sizeof *t);
		np.table = t;
		np.table_len = len;
	}
	struct sched_pd *pd = np.table[fd];
	if (!pd && (pd = calloc(1, sizeof *pd)))
		np.table[fd] = pd;
	if (pd && !pd->registered) {
		pd->fd = fd;
		atomic_store(&pd->rg, PD_NIL);
		atomic_store(&pd->wg, PD_NIL);
		atomic_store(&pd->closing, 0);
		atomic_store(&pd->rd_timedout, 0);
		atomic_store(&pd->wr_timedout, 0);
		int fl = fcntl(fd, F_GETFL);
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
					 .data.ptr = pd};
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
		    epoll_ctl(np.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			sched_spin_unlock(&np.table_lock);
			return NULL;
		}
		pd->registered = true;
	}
	sched_spin_unlock(&np.table_lock);
	if (!pd)
		sched_set_errno(ENOMEM);
	return pd;
}

int sched_net_adopt(int fd)
{
	return pd_get(fd) ? 0 : -1;
}

struct pd_wait {
	_Atomic uintptr_t *slot;
};

static bool pd_commit(struct sched_g *g, void *arg)
{
	struct pd_wait *pw = arg;
	uintptr_t old = PD_NIL;
	atomic_fetch_add(&np.waiters, 1);
	if (atomic_compare_exchange_strong(pw->slot, &old, (uintptr_t)g))
		return true;
	atomic_fetch_sub(&np.waiters, 1);
	if (old != PD_READY)
		sched_fatal("two goroutines wait on one descriptor direction (the fd mutex failed)");
	/* READY: consume the edge and run again. */
	atomic_store(pw->slot, PD_NIL);
	return false;
}

struct pd_deadline {
	struct sched_timer t;
	struct sched_pd *pd;
	uint32_t seq;
	bool write;
	_Atomic int done;           /* the callback finished: the frame may go */
};

static void pd_deadline_fire(struct sched_timer *t)
{
	struct pd_deadline *d = (struct pd_deadline *)t;
	struct sched_pd *pd = d->pd;
	bool write = d->write;
	struct sched_g *g = NULL;
	if (atomic_load(&pd->seq) == d->seq) {
		atomic_store(write ? &pd->wr_timedout : &pd->rd_timedout, 1);
		g = unblock(write ? &pd->wg : &pd->rg);
	}
	/* Last touch of d: it lives on the waiter's stack. */
	atomic_store_explicit(&d->done, 1, memory_order_release);
	if (g) {
		struct sched_g *batch = NULL;
		uint32_t n = 0;
		batch_add(&batch, &n, g);
		sched_ready_batch(batch, n);
	}
}

/* Waits until the descriptor may be ready in one direction. The caller holds
 * that direction's mutex. Returns 0, or -1 with errno ETIMEDOUT / EBADF
 * (closed meanwhile, even if the number was reused). */
static int pd_wait(struct sched_pd *pd, bool write, int64_t deadline)
{
	_Atomic int *timedout = write ? &pd->wr_timedout : &pd->rd_timedout;
	struct pd_wait pw = {write ? &pd->wg : &pd->rg};
	uint32_t seq = atomic_load(&pd->seq);
	struct pd_deadline d = {.t = {.fire = pd_deadline_fire, .heap_index = -1},
				.pd = pd,
				.seq = seq,
				.write = write};
	if (atomic_load(&pd->closing)) {
		sched_set_errno(EBADF);
		return -1;
	}
	if (deadline) {
		if (deadline <= sched_nanotime()) {
			sched_set_errno(ETIMEDOUT);
			return -1;
		}
		atomic_store(timedout, 0);
		sched_timer_start(&d.t, deadline);
	}
	sched_park(pd_commit, &pw, write ? "net write" : "net read");
	/* If the timer fired, let its callback finish with our frame first. */
	bool fired = deadline && !sched_timer_stop(&d.t);
	if (fired)
		while (!atomic_load_explicit(&d.done, memory_order_acquire))
			__builtin_ia32_pause();
	if (atomic_load(&pd->seq) != seq || atomic_load(&pd->closing)) {
		sched_set_errno(EBADF);
		return -1;
	}
	if (fired && atomic_load(timedout)) {
		sched_set_errno(ETIMEDOUT);
		return -1;
	}
	return 0;
}

/* --- socket calls ------------------------------------------------------------------ */

static int fill_addr(const char *host, int port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (port < 0 || port > 65535 || inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
		sched_set_errno(EINVAL);
		return -1;
	}
	return 0;
}

/* Closes fd keeping the errno of the failure that made us give it up. */
static int fail_close(int fd)
{
	int e = sched_errno();
	sched_net_close(fd);
	sched_set_errno(e);
	return -1;
}

int sched_net_listen_tcp(const char *host, int port, int backlog)
{
	struct sockaddr_in sa;
	if (fill_addr(host, port, &sa))
		return -1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, backlog) || !pd_get(fd))
		return fail_close(fd);
	return fd;
}

int sched_net_local_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	if (getsockname(fd, (struct sockaddr *)&sa, &len))
		return -1;
	return ntohs(sa.sin_port);
}

/* Is the last call's failure "try again later"? */
static bool would_block(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK;
}

int sched_net_accept(int lfd, struct sockaddr *addr, socklen_t *len, int64_t deadline)
{
	sched_poll();   /* a safepoint even when the call does not block (Go: a syscall) */
	struct sched_pd *pd = pd_get(lfd);
	if (!pd)
		return -1;
	int fd = -1;
	sched_mutex_lock(&pd->rmu);
	for (;;) {
		fd = accept4(lfd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			if (!pd_get(fd))
				fd = fail_close(fd);
			break;
		}
		int e = sched_errno();
		if (e == EINTR || e == ECONNABORTED)
			continue;
		if (!would_block(e) || pd_wait(pd, false, deadline))
			break;
	}
	sched_mutex_unlock(&pd->rmu);
	return fd;
}

int sched_net_dial_tcp(const char *host, int port, int64_t deadline)
{
	struct sockaddr_in sa;
	if (port == 0 || fill_addr(host, port, &sa))
		return port == 0 ? (sched_set_errno(EINVAL), -1) : -1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sched_pd *pd = pd_get(fd);
	if (!pd)
		return fail_close(fd);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
		return fd;
	if (sched_errno() != EINPROGRESS)
		return fail_close(fd);
	int result = -1;
	sched_mutex_lock(&pd->wmu);
	for (;;) {
		if (pd_wait(pd, true, deadline))
			break;
		int err = 0;
		socklen_t el = sizeof err;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el))
			break;
		if (err == 0) {
			result = fd;
			break;
		}
		if (err != EINPROGRESS && err != EALREADY) {
			sched_set_errno(err);
			break;
		}
	}
	sched_mutex_unlock(&pd->wmu);
	return result >= 0 ? result : fail_close(fd);
}

/* The read and write system calls run through sched_syscall: a kernel
 * that takes its time over one (a descheduled thread, a long copy) does not
 * hold up a stop-the-world. */
struct io_call {
	int fd;
	void *buf;
	size_t n;
};

static long read_call(void *p)
{
	struct io_call *c = p;
	return (long)read(c->fd, c->buf, c->n);
}

ssize_t sched_net_read(int fd, void *buf, size_t n, int64_t deadline)
{
	sched_poll();   /* a safepoint even when the call does not block (Go: a syscall) */
	struct sched_pd *pd = pd_get(fd);
	if (!pd)
		return -1;
	ssize_t r;
	sched_mutex_lock(&pd->rmu);
	for (;;) {
		struct io_call c = {fd, buf, n};
		r = (ssize_t)sched_syscall(read_call, &c);
		if (r >= 0)
			break;
		int e = sched_errno();
		if (e == EINTR)
			continue;
		if (!would_block(e) || pd_wait(pd, false, deadline))
			break;
	}
	sched_mutex_unlock(&pd->rmu);
	return r;
}

/* send() with MSG_NOSIGNAL, so a peer that went away is EPIPE, not SIGPIPE;
 * write() for descriptors that are not sockets. */
static long write_call(void *p)
{
	struct io_call *c = p;
	ssize_t r = send(c->fd, c->buf, c->n, MSG_NOSIGNAL);
	if (r < 0 && errno == ENOTSOCK)
		r = write(c->fd, c->buf, c->n);
	return (long)r;
}

static ssize_t write_nosignal(int fd, const void *buf, size_t n)
{
	struct io_call c = {fd, (void *)buf, n};
	return (ssize_t)sched_syscall(write_call, &c);
}

ssize_t sched_net_write(int fd, const void *buf, size_t n, int64_t deadline)
{
	sched_poll();   /* a safepoint even when the call does not block (Go: a syscall) */
	struct sched_pd *pd = pd_get(fd);
	if (!pd)
		return -1;
	size_t done = 0;
	ssize_t result = (ssize_t)n;
	sched_mutex_lock(&pd->wmu);
	while (done < n) {
		ssize_t r = write_nosignal(fd, (const char *)buf + done, n - done);
		if (r >= 0) {
			done += (size_t)r;
			continue;
		}
		int e = sched_errno();
		if (e == EINTR)
			continue;
		if (!would_block(e) || pd_wait(pd, true, deadline)) {
			result = -1;
			break;
		}
	}
	sched_mutex_unlock(&pd->wmu);
	return result;
}

int sched_net_close(int fd)
{
	struct sched_pd *pd = NULL;
	sched_spin_lock(&np.table_lock);
	if (fd >= 0 && fd < np.table_len)
		pd = np.table[fd];
	if (pd && pd->registered) {
		atomic_store(&pd->closing, 1);
		atomic_fetch_add(&pd->seq, 1);
		epoll_ctl(np.epfd, EPOLL_CTL_DEL, fd, NULL);
		pd->registered = false;
	}
	sched_spin_unlock(&np.table_lock);
	if (pd) {
		struct sched_g *batch = NULL;
		uint32_t n = 0;
		batch_add(&batch, &n, unblock(&pd->rg));
		batch_add(&batch, &n, unblock(&pd->wg));
		if (n)
			sched_ready_batch(batch, n);
	}
	return close(fd);
}
