/*
 * inproc.c — the in-process transport (inproc.h).
 *
 * A stream is a channel of chunks (one malloc'd chunk per write, so an
 * idle connection holds no buffer) with a bound of depth chunks: a write
 * into a full stream parks the writer, as a full socket buffer would. The
 * reader keeps the chunk it is part-way through.
 *
 * Closing. Stream d[s] is read by end s (0 server, 1 client) and written by
 * the other. Closing end s
 *   - closes the channel it writes (the peer's reads drain it, then see end
 *     of stream): only its own writer sends there, and it has stopped;
 *   - marks the stream it reads abandoned, so the peer's writes fail from
 *     then on, and empties it: a writer parked on a full stream moves on
 *     (what it then adds is freed with the pair); a NULL chunk wakes its
 *     own reader if that one is parked on the empty stream.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "toc/chan.h"
#include "toc/sched.h"
#include "inproc.h"

struct chunk {
	size_t len;
	char b[];
};

struct stream {
	struct sched_chan *ch;   /* struct chunk * values; NULL: wake the reader */
	struct chunk *cur;       /* the reader's chunk, read up to off */
	size_t off;
	_Atomic int abandoned;   /* its reader's end is closed: writes fail */
};

struct pair {
	struct stream d[2];      /* d[s] is read by end s */
	_Atomic int closed[2];
	_Atomic int open;        /* ends not yet closed */
};

static struct pair **pairs;
static int64_t npairs;
static size_t stream_depth;

int inproc_init(int64_t conns, size_t depth)
{
	pairs = calloc((size_t)conns, sizeof *pairs);
	npairs = conns;
	stream_depth = depth;
	return pairs ? 0 : -1;
}

int inproc_connect(int64_t i)
{
	struct pair *p = calloc(1, sizeof *p);
	if (!p)
		return -1;
	for (int s = 0; s < 2; s++)
		if (!(p->d[s].ch = sched_chan_new(sizeof(struct chunk *), stream_depth))) {
			sched_chan_free(p->d[0].ch);
			free(p);
			return -1;
		}
	atomic_store(&p->open, 2);
	pairs[i] = p;
	return 0;
}

static struct pair *pair_of(int64_t end)
{
	return end >= 0 && end / 2 < npairs ? pairs[end / 2] : NULL;
}

ssize_t inproc_read(int64_t end, void *buf, size_t n)
{
	struct pair *p = pair_of(end);
	int s = (int)(end & 1);
	if (!p || atomic_load(&p->closed[s])) {
		sched_set_errno(EBADF);
		return -1;
	}
	struct stream *st = &p->d[s];
	if (!st->cur) {
		struct chunk *c;
		if (!sched_chan_recv(st->ch, &c))
			return 0;   /* the writer closed and everything was read */
		if (!c || atomic_load(&p->closed[s])) {
			free(c);
			sched_set_errno(EBADF);
			return -1;
		}
		st->cur = c;
		st->off = 0;
	}
	size_t k = st->cur->len - st->off;
	if (k > n)
		k = n;
	memcpy(buf, st->cur->b + st->off, k);
	st->off += k;
	if (st->off == st->cur->len) {
		free(st->cur);
		st->cur = NULL;
	}
	return (ssize_t)k;
}

ssize_t inproc_write(int64_t end, const void *buf, size_t n)
{
	struct pair *p = pair_of(end);
	int s = (int)(end & 1);
	if (!p || atomic_load(&p->closed[s])) {
		sched_set_errno(EBADF);
		return -1;
	}
	struct stream *st = &p->d[1 - s];
	if (atomic_load(&st->abandoned)) {
		sched_set_errno(EPIPE);
		return -1;
	}
	struct chunk *c = malloc(sizeof *c + n);
	if (!c) {
		sched_set_errno(ENOMEM);
		return -1;
	}
	c->len = n;
	memcpy(c->b, buf, n);
	sched_chan_send(st->ch, &c);
	return (ssize_t)n;
}

static void drain(struct stream *st)
{
	struct chunk *c;
	while (sched_chan_tryrecv(st->ch, &c) == SCHED_CHAN_OK)
		free(c);
}

void inproc_close(int64_t end)
{
	struct pair *p = pair_of(end);
	int s = (int)(end & 1);
	if (!p || atomic_exchange(&p->closed[s], 1))
		return;
	sched_chan_close(p->d[1 - s].ch);
	struct stream *in = &p->d[s];
	atomic_store(&in->abandoned, 1);
	drain(in);
	struct chunk *wake = NULL;
	(void)sched_chan_trysend(in->ch, &wake);   /* CLOSED when the peer closed first: its reader woke then */
	if (atomic_fetch_sub(&p->open, 1) == 1) {
		pairs[end / 2] = NULL;
		for (int k = 0; k < 2; k++) {
			drain(&p->d[k]);
			free(p->d[k].cur);
			sched_chan_free(p->d[k].ch);
		}
		free(p);
	}
}
