/*
 * chan.h — Go channels: unbuffered, buffered, close, select.
 *
 * Semantics follow Go's: a receive from a closed, drained channel returns the
 * zero value and ok=false; a send on a closed channel or a close of a closed
 * channel is a program error (the runtime aborts with a message, as Go panics);
 * a NULL channel in a select case is never ready. Blocking operations must run
 * on a goroutine; the try variants may run anywhere (timers, threads).
 *
 * Values are copied by memcpy of elem_size bytes.
 */
#ifndef SCHED_CHAN_H
#define SCHED_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sched_chan;

/* elem_size may be 0 (a signal-only channel). Returns NULL with errno EINVAL
 * (elem_size > 64 KiB) or ENOMEM. */
struct sched_chan *sched_chan_new(size_t elem_size, size_t capacity);
/* Frees a channel no goroutine is blocked on (after sched_run returned, the
 * goroutines it discarded may still be queued: allowed). */
void sched_chan_free(struct sched_chan *c);

/* Sends elem_size bytes from elem, blocking until a receiver or a buffer
 * slot takes them; elem may be NULL when the channel's elem_size is 0.
 * Sending on a closed channel is fatal. */
void sched_chan_send(struct sched_chan *c, const void *elem);
/* Returns false (and zeroes *elem) when c is closed and drained. elem may be NULL. */
bool sched_chan_recv(struct sched_chan *c, void *elem);
void sched_chan_close(struct sched_chan *c);

enum sched_chan_result {
	SCHED_CHAN_OK = 0,          /* the value was transferred */
	SCHED_CHAN_WOULDBLOCK = 1,  /* nothing happened */
	SCHED_CHAN_CLOSED = 2,      /* c is closed (and drained, for a receive) */
};
enum sched_chan_result sched_chan_trysend(struct sched_chan *c, const void *elem);
enum sched_chan_result sched_chan_tryrecv(struct sched_chan *c, void *elem);

/* Calls fn on the values buffered in every channel with a buffer of
 * pointer-sized or larger elements ([lo, hi): one or two ranges per
 * channel, each channel's lock held meanwhile): a collector's roots, since
 * a value sent and not yet received lives only there. fn must not block. */
void sched_visit_chan_values(void (*fn)(const void *lo, const void *hi, void *arg), void *arg);

size_t sched_chan_len(struct sched_chan *c);
size_t sched_chan_cap(const struct sched_chan *c);

enum sched_select_dir {
	SCHED_SELECT_SEND,
	SCHED_SELECT_RECV,
};
struct sched_select_case {
	enum sched_select_dir dir;
	struct sched_chan *chan;  /* NULL: never ready */
	void *elem;               /* value to send / where to receive (may be NULL) */
	bool ok;                  /* out, receive: false when closed and drained */
};

#define SCHED_SELECT_DEFAULT (-1)
#define SCHED_SELECT_TIMEOUT (-2)
#define SCHED_SELECT_MAX_CASES 64

/* Waits until one case can proceed, performs it and returns its index. With
 * has_default, returns SCHED_SELECT_DEFAULT instead of blocking. Among ready
 * cases one is chosen uniformly at random. n must be <= SCHED_SELECT_MAX_CASES. */
int sched_select(struct sched_select_case *cases, int n, bool has_default);
/* As sched_select without default, but gives up at the sched_nanotime()
 * deadline and returns SCHED_SELECT_TIMEOUT. */
int sched_select_until(struct sched_select_case *cases, int n, int64_t deadline);

#endif /* SCHED_CHAN_H */
